/*
 * test_sync — goro_mutex (with starvation mode), goro_rwmutex, goro_once,
 * goro_cond.
 */
#include "check.h"

#include <goro.h>
#include <stdatomic.h>
#include <stdbool.h>

#define MS 1000000ll
/* A woken waiter sits in the runnext of a P whose hammering goroutine
 * yields only when sysmon preempts it (10-20 ms), so each wake-up can cost
 * a time slice: bounded, not short (measured 120-190 ms at GOMAXPROCS=2). */
#ifdef GORO_TEST_SANITIZER
#define WAIT_LIMIT (2000 * MS)
#else
#define WAIT_LIMIT (500 * MS)
#endif

/* ---- mutual exclusion */
static goro_mutex mu = GORO_MUTEX_INIT;
static long counter;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void incr(void *arg)
{
    long n = (long)arg;
    for (long i = 0; i < n; i++) {
        goro_mutex_lock(&mu);
        long c = counter; /* a lost update shows if two are inside */
        if (i % 64 == 0)
            goro_yield();
        counter = c + 1;
        goro_mutex_unlock(&mu);
    }
    goro_waitgroup_done(&wg);
}

/* ---- starvation: one waiter against hammering lockers */
static goro_mutex hot = GORO_MUTEX_INIT;
static atomic_int hammer_stop;
static int64_t victim_max_wait;

static void hammer(void *arg)
{
    (void)arg;
    while (!atomic_load(&hammer_stop)) {
        goro_mutex_lock(&hot);
        for (volatile int i = 0; i < 200; i++) {
        }
        goro_mutex_unlock(&hot);
    }
    goro_waitgroup_done(&wg);
}

static void victim(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        int64_t t0 = check_now_ns();
        goro_mutex_lock(&hot);
        int64_t w = check_now_ns() - t0;
        if (w > victim_max_wait)
            victim_max_wait = w;
        goro_mutex_unlock(&hot);
        goro_sleep(1 * MS);
    }
    atomic_store(&hammer_stop, 1);
    goro_waitgroup_done(&wg);
}

/* ---- starvation mode, step by step: a waiter that was woken after more
 * than 1 ms and lost the race to a barging locker switches the mutex to
 * starvation mode; the next unlock hands the mutex straight to it. */
static goro_mutex sm = GORO_MUTEX_INIT;
static atomic_int starver_has_it;

static void starver(void *arg)
{
    (void)arg;
    goro_mutex_lock(&sm);
    atomic_store(&starver_has_it, 1);
    goro_mutex_unlock(&sm);
    goro_waitgroup_done(&wg);
}

/* One attempt; true if starvation mode was seen and the waiter then got
 * the mutex by hand-off. */
static bool starvation_round(void)
{
    atomic_store(&starver_has_it, 0);
    goro_mutex_lock(&sm);
    goro_waitgroup_add(&wg, 1);
    goro_go(starver, NULL);
    while ((__atomic_load_n(&sm.state, __ATOMIC_SEQ_CST) >> 3) == 0)
        goro_yield(); /* until it waits */
    goro_sleep(2 * MS); /* it waits over the 1 ms threshold */
    goro_mutex_unlock(&sm); /* wakes it ... */
    goro_mutex_lock(&sm);   /* ... and barges in before it runs */
    bool seen = false;
    for (int i = 0; i < 1000 && !seen; i++) {
        goro_yield(); /* it wakes, loses, and asks for starvation mode */
        seen = __atomic_load_n(&sm.state, __ATOMIC_SEQ_CST) & 4;
    }
    goro_mutex_unlock(&sm); /* starving: handed to the waiter */
    goro_waitgroup_wait(&wg);
    return seen && atomic_load(&starver_has_it);
}

/* ---- rwmutex */
static goro_rwmutex rw = GORO_RWMUTEX_INIT;
static atomic_int readers_in, max_readers_in, writer_in, rw_violations, rw_stop;
static int64_t writer_max_wait;

static void reader(void *arg)
{
    (void)arg;
    while (!atomic_load(&rw_stop)) {
        goro_rwmutex_rlock(&rw);
        int n = atomic_fetch_add(&readers_in, 1) + 1;
        if (atomic_load(&writer_in))
            atomic_fetch_add(&rw_violations, 1);
        int m = atomic_load(&max_readers_in);
        while (n > m && !atomic_compare_exchange_weak(&max_readers_in, &m, n)) {
        }
        goro_yield(); /* hold it across a switch so readers overlap */
        atomic_fetch_sub(&readers_in, 1);
        goro_rwmutex_runlock(&rw);
    }
    goro_waitgroup_done(&wg);
}

static void writer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        int64_t t0 = check_now_ns();
        goro_rwmutex_lock(&rw);
        int64_t w = check_now_ns() - t0;
        if (w > writer_max_wait)
            writer_max_wait = w;
        atomic_store(&writer_in, 1);
        if (atomic_load(&readers_in) != 0)
            atomic_fetch_add(&rw_violations, 1);
        goro_yield();
        atomic_store(&writer_in, 0);
        goro_rwmutex_unlock(&rw);
        goro_sleep(MS / 2);
    }
    atomic_store(&rw_stop, 1);
    goro_waitgroup_done(&wg);
}

/* ---- once */
static goro_once once = GORO_ONCE_INIT;
static atomic_int once_runs;
static int once_value;

static void init_once(void *arg)
{
    goro_yield(); /* others arrive while it runs */
    once_value = *(int *)arg;
    atomic_fetch_add(&once_runs, 1);
}

static void call_once(void *arg)
{
    int v = 42;
    goro_once_do(&once, init_once, &v);
    if (once_value != 42)
        atomic_fetch_add((atomic_int *)arg, 1);
    goro_waitgroup_done(&wg);
}

/* ---- cond */
static goro_mutex cmu = GORO_MUTEX_INIT;
static goro_cond cv = GORO_COND_INIT;
static int items, consumed, go_flag, woken;

static void consumer(void *arg)
{
    long n = (long)arg;
    for (long i = 0; i < n; i++) {
        goro_mutex_lock(&cmu);
        while (items == 0)
            goro_cond_wait(&cv, &cmu);
        items--;
        consumed++;
        goro_mutex_unlock(&cmu);
    }
    goro_waitgroup_done(&wg);
}

static void waiter(void *arg)
{
    (void)arg;
    goro_mutex_lock(&cmu);
    while (!go_flag)
        goro_cond_wait(&cv, &cmu);
    woken++;
    goro_mutex_unlock(&cmu);
    goro_waitgroup_done(&wg);
}

static int main_fn(int argc, char **argv)
{
    (void)argc, (void)argv;
    tap_plan(6);

    long per = SCALE(20000);
    goro_waitgroup_add(&wg, 8);
    for (int i = 0; i < 8; i++)
        goro_go(incr, (void *)per);
    goro_waitgroup_wait(&wg);
    CHECK(counter == 8 * per, "counter %ld, want %ld: mutual exclusion broken", counter, 8 * per);
    CHECK(goro_mutex_trylock(&mu) == 1, "trylock of a free mutex");
    CHECK(goro_mutex_trylock(&mu) == 0, "trylock of a held mutex");
    goro_mutex_unlock(&mu);
    tap_ok("8 goroutines x %ld increments under goro_mutex: %ld; trylock works", per, counter);

    goro_waitgroup_add(&wg, 5);
    for (int i = 0; i < 4; i++)
        goro_go(hammer, NULL);
    goro_go(victim, NULL);
    goro_waitgroup_wait(&wg);
    tap_diag("victim's longest wait against 4 hammering lockers: %.2f ms", (double)victim_max_wait / MS);
    CHECK(victim_max_wait < WAIT_LIMIT, "a waiter waited %.1f ms for a hammered mutex", (double)victim_max_wait / MS);
    tap_ok("a waiter got a hammered mutex within %.2f ms", (double)victim_max_wait / MS);

    /* The waiter may win the race on another P now and then: retry. */
    int rounds = 0;
    bool starved = false;
    while (!starved && rounds < 50) {
        starved = starvation_round();
        rounds++;
    }
    CHECK(starved, "starvation mode never seen in %d rounds", rounds);
    tap_ok("starvation mode entered by a waiter that lost after 2 ms, then hand-off (%d round(s))", rounds);

    goro_waitgroup_add(&wg, 5);
    for (int i = 0; i < 4; i++)
        goro_go(reader, NULL);
    goro_go(writer, NULL);
    goro_waitgroup_wait(&wg);
    tap_diag("rwmutex: up to %d readers inside at once; writer's longest wait %.2f ms", atomic_load(&max_readers_in),
             (double)writer_max_wait / MS);
    CHECK(atomic_load(&rw_violations) == 0, "%d reader/writer overlaps", atomic_load(&rw_violations));
    CHECK(atomic_load(&max_readers_in) > 1, "readers never shared the rwmutex");
    CHECK(writer_max_wait < 2 * WAIT_LIMIT, "the writer waited %.1f ms behind readers", (double)writer_max_wait / MS);
    tap_ok("rwmutex: readers share, the writer is exclusive and not starved");

    atomic_int bad = 0;
    goro_waitgroup_add(&wg, 16);
    for (int i = 0; i < 16; i++)
        goro_go(call_once, &bad);
    goro_waitgroup_wait(&wg);
    CHECK(atomic_load(&once_runs) == 1, "once ran %d times", atomic_load(&once_runs));
    CHECK(atomic_load(&bad) == 0, "%d callers returned before the once function finished", atomic_load(&bad));
    tap_ok("goro_once_do: one run, every caller saw its effect");

    long n = SCALE(10000);
    goro_waitgroup_add(&wg, 4);
    for (int i = 0; i < 4; i++)
        goro_go(consumer, (void *)n);
    for (long i = 0; i < 4 * n; i++) {
        goro_mutex_lock(&cmu);
        items++;
        goro_cond_signal(&cv);
        goro_mutex_unlock(&cmu);
        if (i % 16 == 0)
            goro_yield();
    }
    goro_waitgroup_wait(&wg);
    CHECK(consumed == 4 * n && items == 0, "consumed %d of %ld", consumed, 4 * n);
    goro_waitgroup_add(&wg, 10);
    for (int i = 0; i < 10; i++)
        goro_go(waiter, NULL);
    for (int i = 0; i < 20; i++)
        goro_yield();
    goro_mutex_lock(&cmu);
    go_flag = 1;
    goro_cond_broadcast(&cv);
    goro_mutex_unlock(&cmu);
    goro_waitgroup_wait(&wg);
    CHECK(woken == 10, "broadcast woke %d of 10", woken);
    tap_ok("goro_cond: %ld items through signal, broadcast woke all 10", 4 * n);
    return 0;
}

GORO_MAIN(main_fn)
