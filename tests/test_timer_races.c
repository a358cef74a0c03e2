/*
 * test_timer_races — timers against the calls that race them.
 *
 * (a) notetsleep with a timeout that is already over (zero or negative)
 *     returns at once: an idle M computing its sleep from a deadline that
 *     had just passed slept forever (issue 7, bug 1).
 * (b) a periodic timer stopped, reset or freed by a plain thread the
 *     moment it delivers a tick: the re-arm of a stopped timer must not
 *     land (it ticked forever), reset must not insert it twice (SIGSEGV in
 *     the heap), free must not free a timer about to be pushed (bug 2).
 * (b2) goro_timer_stop from a plain thread at the moment a one-shot timer
 *     fires: when it returns 0 ("already fired") the tick is in the
 *     channel, as after Go's Stop (review of issue 7: stop returned while
 *     the firing M had not sent yet, and a drain after it found nothing).
 * (c) pending timers stopped by a plain thread while goro_maxprocs moves
 *     them to another P: every stop of a timer due in a minute reports
 *     that it was pending, and none fires (bug 5). White-box first: a
 *     thread watching a timer that moveTimers moves back and forth
 *     between two Ps never sees it in no heap (t->pp == NULL), which is
 *     what made deltimer answer "already fired".
 * (d) deadlines that overflow int64 saturate: goro_sleep, goro_timer_new,
 *     goro_after_func and goro_select with INT64_MAX do not return or
 *     fire at once, and a ticker with period INT64_MAX ticks once
 *     (bugs 7 and 11).
 *
 * GORO_TEST_ROUNDS multiplies the rounds of (b) and (c) (make stress).
 */
#include "check.h"
#include "runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define US 1000ll
#define MS 1000000ll

static long rounds(long n)
{
    const char *s = getenv("GORO_TEST_ROUNDS");
    long k = s ? atol(s) : 1;
    return SCALE(n) * (k > 0 ? k : 1);
}

/* ------------------------------------------------------------ (a) */

static void *sleep_past_deadline(void *arg)
{
    note *n = arg;
    bool woken = notetsleep(n, -1) || notetsleep(n, 0) || notetsleep(n, INT64_MIN);
    return (void *)(intptr_t)woken;
}

static void test_notetsleep_past(void)
{
    note n = { 0 };
    pthread_t th;
    CHECK(pthread_create(&th, NULL, sleep_past_deadline, &n) == 0, "pthread_create");
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    void *woken;
    int rc = pthread_timedjoin_np(th, &woken, &until);
    CHECK(rc == 0, "notetsleep with a past deadline still asleep after 2 s");
    CHECK(woken == NULL, "notetsleep reported a wake-up nobody sent");
    tap_ok("notetsleep with a zero or negative timeout returns at once, timed out");
}

/* ------------------------------------------------------------ (b) */

enum { STOP, RESET, FREE };
static const char *const op_names[] = { "stop", "reset", "free" };

typedef struct rearm_round {
    goro_timer *t;
    int op;
    atomic_int done; /* the plain thread's op returned */
    int result;
} rearm_round;

/* Spins until the first tick is in the channel, then races the re-arm
 * that follows it. */
static void *rearm_racer(void *arg)
{
    rearm_round *r = arg;
    goro_chan *c = goro_timer_chan(r->t);
    int64_t tick;
    while (goro_chan_tryrecv(c, &tick) != 1) {
    }
    switch (r->op) {
    case STOP: r->result = goro_timer_stop(r->t); break;
    case RESET: r->result = goro_timer_reset(r->t, 3600 * 1000 * MS); break;
    case FREE: r->result = goro_timer_free(r->t); break;
    }
    atomic_store(&r->done, 1);
    return NULL;
}

/* After the op, a stopped or reset timer must stay quiet for many of its
 * periods: returns the ticks seen. */
static int ticks_after(goro_timer *t, int64_t period)
{
    goro_chan *c = goro_timer_chan(t);
    goro_chan_tryrecv(c, NULL); /* one tick may have raced the op */
    goro_sleep(20 * period);
    int n = 0;
    while (goro_chan_tryrecv(c, NULL) == 1)
        n++;
    return n;
}

static void test_rearm_race(int op)
{
    const int64_t period = 50 * US;
    long n = rounds(300), rearmed = 0;
    for (long i = 0; i < n; i++) {
        rearm_round r = { .op = op };
        r.t = goro_timer_new(period, period);
        CHECK(r.t != NULL, "goro_timer_new");
        pthread_t th;
        CHECK(pthread_create(&th, NULL, rearm_racer, &r) == 0, "pthread_create");
        while (!atomic_load(&r.done))
            goro_sleep(10 * US);
        pthread_join(th, NULL);
        if (op == FREE) {
            CHECK(r.result == 0, "free returned %d", r.result);
            continue;
        }
        CHECK(r.result == 0 || r.result == 1, "%s returned %d", op_names[op], r.result);
        if (ticks_after(r.t, period) > 0)
            rearmed++;
        CHECK(goro_timer_free(r.t) == 0, "free");
    }
    CHECK(rearmed == 0, "%ld of %ld periodic timers ticked on after %s raced their re-arm", rearmed, n,
          op_names[op]);
    tap_ok("%s racing a periodic timer's re-arm: %ld rounds, no tick after it, no crash", op_names[op], n);
}

typedef struct drain_round {
    goro_timer *t;
    int64_t due;
    int stopped;
    int drained;
} drain_round;

/* Aims at the window: spins until the firing M has taken the timer out
 * of its heap (state RUNNING; a goro_timer begins with its timer). */
static void *stop_at_due(void *arg)
{
    drain_round *r = arg;
    const timer *t = (const timer *)r->t;
    while (load_acquire(&t->state) == TIMER_INHEAP && goro_now() < r->due + 100 * MS) {
    }
    r->stopped = goro_timer_stop(r->t);
    r->drained = goro_chan_tryrecv(goro_timer_chan(r->t), NULL);
    return NULL;
}

static void test_stop_drains(void)
{
    long n = rounds(1000), fired = 0, missed = 0;
    for (long i = 0; i < n; i++) {
        drain_round r = { .due = goro_now() };
        r.t = goro_timer_new(30 * US, 0);
        CHECK(r.t != NULL, "goro_timer_new");
        pthread_t th;
        CHECK(pthread_create(&th, NULL, stop_at_due, &r) == 0, "pthread_create");
        GORO_BLOCKING(pthread_join(th, NULL)); /* the P runs the timer meanwhile */
        CHECK(r.stopped == 0 || r.stopped == 1, "stop returned %d", r.stopped);
        if (r.stopped == 0) {
            fired++;
            missed += r.drained != 1;
        }
        CHECK(goro_timer_free(r.t) == 0, "free");
    }
    CHECK(missed == 0, "%ld of %ld stops that said \"already fired\" found no tick to drain", missed, fired);
    tap_ok("stop racing a firing: %ld of %ld rounds had fired, each with its tick in the channel", fired, n);
}

/* ------------------------------------------------------------ (c) */

enum { MOVE_TIMERS = 4000, MOVE_MAKERS = 8 };
static goro_timer *move_timers[MOVE_TIMERS];
static atomic_int move_fired;
static goro_waitgroup move_wg = GORO_WAITGROUP_INIT;

static void count_fired(void *arg)
{
    (void)arg;
    atomic_fetch_add(&move_fired, 1);
}

/* Each maker arms its share of the timers from whatever P it runs on. */
static void timer_maker(void *arg)
{
    long k = (long)arg, share = MOVE_TIMERS / MOVE_MAKERS;
    for (long i = k * share; i < (k + 1) * share; i++) {
        move_timers[i] = goro_after_func(60 * 1000 * MS, count_fired, NULL);
        if (i % 64 == 0)
            goro_yield(); /* let the others spread over the Ps */
    }
    goro_waitgroup_done(&move_wg);
}

static atomic_int stopper_go;
static atomic_long stop_missed;

static void *timer_stopper(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopper_go)) {
    }
    for (int i = MOVE_TIMERS; i-- > 0;) {
        if (goro_timer_stop(move_timers[i]) != 1)
            atomic_fetch_add(&stop_missed, 1);
        goro_timer_free(move_timers[i]);
    }
    return NULL;
}

static atomic_int watch_stop;

static void *watch_pp(void *arg)
{
    timer *t = arg;
    long nulls = 0;
    while (!atomic_load_explicit(&watch_stop, memory_order_relaxed))
        nulls += load_acquire(&t->pp) == NULL;
    return (void *)nulls;
}

static p *heap_p(void)
{
    p *pp = aligned_alloc(64, sizeof(p));
    CHECK(pp != NULL, "aligned_alloc");
    memset(pp, 0, sizeof(p));
    lockinit(&pp->timers.lock, LOCKRANK_TIMERS); /* as newp does */
    return pp;
}

static void test_move_keeps_pp(void)
{
    p *a = heap_p(), *b = heap_p();
    timer t = { .when = 1, .state = TIMER_INHEAP, .pp = a, .idx = 0 };
    a->timers.heap = malloc(sizeof(timer *));
    a->timers.heap[0] = &t;
    a->timers.n = a->timers.cap = 1;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, watch_pp, &t) == 0, "pthread_create");
    long n = rounds(1000000);
    for (long i = 0; i < n; i++) {
        p *from = i % 2 ? b : a, *to = i % 2 ? a : b;
        p *lo = from < to ? from : to, *hi = from < to ? to : from;
        lock(&lo->timers.lock); /* as procresize does: in address order */
        lock(&hi->timers.lock);
        moveTimers(from, to);
        unlock(&hi->timers.lock);
        unlock(&lo->timers.lock);
    }
    atomic_store(&watch_stop, 1);
    void *nulls;
    pthread_join(th, &nulls);
    CHECK(nulls == NULL, "a timer being moved was seen in no heap %ld times in %ld moves", (long)nulls, n);
    free(a->timers.heap);
    free(b->timers.heap);
    free(a);
    free(b);
    tap_ok("a timer moved %ld times between two Ps was always in a heap", n);
}

static void test_stop_during_move(void)
{
    long n = rounds(10);
    int procs = goro_maxprocs(0);
    for (long r = 0; r < n; r++) {
        goro_maxprocs(8);
        goro_waitgroup_add(&move_wg, MOVE_MAKERS);
        for (long k = 0; k < MOVE_MAKERS; k++)
            goro_go(timer_maker, (void *)k);
        goro_waitgroup_wait(&move_wg);
        for (int i = 0; i < MOVE_TIMERS; i++)
            CHECK(move_timers[i] != NULL, "goro_after_func");
        atomic_store(&stopper_go, 0);
        pthread_t th;
        CHECK(pthread_create(&th, NULL, timer_stopper, NULL) == 0, "pthread_create");
        atomic_store(&stopper_go, 1);
        goro_maxprocs(1); /* moves the timers of 7 Ps while the stopper runs */
        pthread_join(th, NULL);
    }
    goro_maxprocs(procs);
    CHECK(atomic_load(&stop_missed) == 0, "%ld of %ld stops of pending timers said \"already fired\" during a move",
          atomic_load(&stop_missed), n * MOVE_TIMERS);
    CHECK(atomic_load(&move_fired) == 0, "%d stopped timers fired", atomic_load(&move_fired));
    tap_ok("%ld pending timers stopped while goro_maxprocs moved them: every stop found them pending",
           n * MOVE_TIMERS);
}

/* ------------------------------------------------------------ (d) */

static atomic_int overflow_woke;

static void sleep_forever(void *arg)
{
    (void)arg;
    goro_sleep(INT64_MAX);
    atomic_store(&overflow_woke, 1);
}

static void select_forever(void *arg)
{
    goro_case cs = { .chan = arg, .dir = GORO_RECV };
    int r = goro_select(&cs, 1, INT64_MAX);
    atomic_store(&overflow_woke, 10 + r);
}

static void test_overflow(void)
{
    goro_chan *never = goro_chan_make(0, 0);
    goro_go(sleep_forever, NULL);
    goro_go(select_forever, never);
    goro_timer *tn = goro_timer_new(INT64_MAX, 0);
    goro_timer *ta = goro_after_func(INT64_MAX, count_fired, NULL);
    goro_timer *tp = goro_timer_new(0, INT64_MAX);
    CHECK(tn && ta && tp, "timers");
    int64_t tick;
    CHECK(goro_chan_recv(goro_timer_chan(tp), &tick) == 1, "the first tick of a ticker with period INT64_MAX");
    goro_sleep(50 * MS);
    CHECK(atomic_load(&overflow_woke) == 0, "a sleep or select of INT64_MAX ns returned at once (%d)",
          atomic_load(&overflow_woke));
    CHECK(goro_chan_tryrecv(goro_timer_chan(tn), NULL) == -EAGAIN, "goro_timer_new(INT64_MAX) fired");
    CHECK(atomic_load(&move_fired) == 0, "goro_after_func(INT64_MAX) fired");
    CHECK(goro_chan_tryrecv(goro_timer_chan(tp), NULL) == -EAGAIN, "a ticker with period INT64_MAX ticked again");
    CHECK(goro_timer_stop(tn) == 1 && goro_timer_stop(ta) == 1 && goro_timer_stop(tp) == 1,
          "timers due in 292 years are pending");
    CHECK(goro_timer_reset(tn, INT64_MAX) == 0, "reset");
    goro_sleep(10 * MS);
    CHECK(goro_chan_tryrecv(goro_timer_chan(tn), NULL) == -EAGAIN, "goro_timer_reset(INT64_MAX) fired");
    goro_timer_free(tn);
    goro_timer_free(ta);
    goro_timer_free(tp);
    goro_chan_close(never); /* the select returns case 0 and frees its timer */
    for (int i = 0; i < 2000 && atomic_load(&overflow_woke) != 10; i++)
        goro_sleep(1 * MS);
    CHECK(atomic_load(&overflow_woke) == 10, "the select did not return case 0 after the close");
    goro_chan_free(never);
    tap_ok("INT64_MAX deadlines saturate: sleep, select, timers and a ticker's period do not fire at once");
}

static int main_fn(int argc, char **argv)
{
    (void)argc, (void)argv;
    tap_plan(8);
    test_notetsleep_past();
    test_rearm_race(STOP);
    test_rearm_race(RESET);
    test_rearm_race(FREE);
    test_stop_drains();
    test_move_keeps_pp();
    test_stop_during_move();
    test_overflow();
    return 0;
}

GORO_MAIN(main_fn)
