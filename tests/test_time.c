/*
 * test_time — goro_sleep and timers: nothing fires early, lateness stays
 * small, stop/reset/free keep Go's meanings, periodic timers tick.
 */
#include "check.h"

#include <errno.h>
#include <goro.h>
#include <stdatomic.h>
#include <stdlib.h>

#define MS 1000000ll
#ifdef GORO_TEST_SANITIZER
#define LATE_LIMIT (500 * MS)
#else
#define LATE_LIMIT (100 * MS)
#endif

static goro_waitgroup wg = GORO_WAITGROUP_INIT;
static atomic_int early;
static int64_t *worst; /* per sleeper: its largest oversleep */

static void sleeper(void *arg)
{
    long i = (long)arg;
    for (int k = 0; k < 10; k++) {
        int64_t t0 = goro_now();
        CHECK(goro_sleep(1 * MS) == 0, "goro_sleep");
        int64_t late = goro_now() - t0 - 1 * MS;
        if (late < 0)
            atomic_fetch_add(&early, 1);
        if (late > worst[i])
            worst[i] = late;
    }
    goro_waitgroup_done(&wg);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static atomic_llong fired_at;

static void record(void *arg)
{
    (void)arg;
    atomic_store(&fired_at, goro_now());
    goro_waitgroup_done(&wg);
}

static atomic_int never_ran;

static void must_not_run(void *arg)
{
    (void)arg;
    atomic_store(&never_ran, 1);
}

static int main_fn(int argc, char **argv)
{
    (void)argc, (void)argv;
    tap_plan(5);

    long n = SCALE_LIVE(10000);
    worst = calloc((size_t)n, sizeof *worst);
    int64_t t0 = goro_now();
    goro_waitgroup_add(&wg, n);
    for (long i = 0; i < n; i++)
        goro_go(sleeper, (void *)i);
    goro_waitgroup_wait(&wg);
    qsort(worst, (size_t)n, sizeof *worst, cmp64);
    tap_diag("%ld goroutines x 10 sleeps of 1 ms in %.0f ms; worst oversleep per goroutine: median %.2f ms, "
             "p99 %.2f ms, max %.2f ms",
             n, (double)(goro_now() - t0) / MS, (double)worst[n / 2] / MS, (double)worst[n * 99 / 100] / MS,
             (double)worst[n - 1] / MS);
    CHECK(atomic_load(&early) == 0, "%d sleeps ended early", atomic_load(&early));
    CHECK(worst[n * 99 / 100] < LATE_LIMIT, "p99 oversleep %.1f ms", (double)worst[n * 99 / 100] / MS);
    tap_ok("%ld sleeping goroutines woke in time, none early", n);
    free(worst);

    /* after_func fires once, not before its time, in its own goroutine. */
    goro_waitgroup_add(&wg, 1);
    int64_t start = goro_now();
    goro_timer *t = goro_after_func(20 * MS, record, NULL);
    CHECK(t != NULL, "goro_after_func");
    goro_waitgroup_wait(&wg);
    int64_t d = atomic_load(&fired_at) - start;
    CHECK(d >= 20 * MS && d < 20 * MS + LATE_LIMIT, "after_func fired after %.2f ms", (double)d / MS);
    CHECK(goro_timer_stop(t) == 0, "stop after firing must return 0");
    CHECK(goro_timer_free(t) == 0, "free");
    tap_ok("goro_after_func fired after %.2f ms (asked 20 ms)", (double)d / MS);

    /* stop before firing: returns 1, never fires; reset re-arms. */
    t = goro_after_func(30 * MS, must_not_run, NULL);
    CHECK(goro_timer_stop(t) == 1, "stop of a pending timer must return 1");
    CHECK(goro_timer_stop(t) == 0, "second stop must return 0");
    goro_sleep(50 * MS);
    CHECK(atomic_load(&never_ran) == 0, "a stopped timer fired");
    CHECK(goro_timer_reset(t, 1000 * MS) == 0, "reset of a stopped timer returns 0");
    CHECK(goro_timer_reset(t, 1000 * MS) == 1, "reset of an active timer returns 1");
    CHECK(goro_timer_free(t) == 0, "free stops it");
    goro_sleep(20 * MS);
    CHECK(atomic_load(&never_ran) == 0, "a freed timer fired");
    tap_ok("stop before firing returns 1 and the timer never fires; reset reports whether it was active");

    /* A channel timer delivers goro_now() at firing. */
    start = goro_now(); /* before the timer starts: a delay after it would shorten the wait we see */
    t = goro_timer_new(10 * MS, 0);
    CHECK(t != NULL && goro_timer_chan(t) != NULL, "goro_timer_new");
    int64_t when = 0;
    CHECK(goro_chan_recv(goro_timer_chan(t), &when) == 1, "receive from the timer channel");
    CHECK(when - start >= 10 * MS && goro_now() >= when, "timer value %.2f ms after start", (double)(when - start) / MS);
    CHECK(goro_chan_cap(goro_timer_chan(t)) == 1, "timer channel cap");
    CHECK(goro_timer_free(t) == 0, "free");
    tap_ok("a timer channel received its firing time %.2f ms after start", (double)(when - start) / MS);

    /* A periodic timer ticks, and stops ticking when stopped. */
    t = goro_timer_new(5 * MS, 5 * MS);
    int64_t prev = goro_now(), tick;
    for (int i = 0; i < 5; i++) {
        CHECK(goro_chan_recv(goro_timer_chan(t), &tick) == 1, "tick %d", i);
        CHECK(tick >= prev, "ticks out of order");
        prev = tick;
    }
    goro_timer_stop(t);
    goro_chan_tryrecv(goro_timer_chan(t), NULL); /* a tick may have raced the stop */
    goro_sleep(20 * MS);
    CHECK(goro_chan_tryrecv(goro_timer_chan(t), NULL) == -EAGAIN, "a stopped periodic timer kept ticking");
    CHECK(goro_timer_free(t) == 0, "free");
    tap_ok("a periodic timer ticked 5 times and stopped");
    return 0;
}

GORO_MAIN(main_fn)
