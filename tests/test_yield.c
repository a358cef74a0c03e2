/*
 * test_yield — what goro_yield promises (API.md: "let other goroutines
 * run"), at GOMAXPROCS=1 where the order is deterministic:
 *   1. goroutines yielding in a loop take turns in FIFO order: with K of
 *      them, once all are queued, turn i + K goes to the goroutine of turn i;
 *   2. a goroutine on the global run queue (goro_go from a plain thread)
 *      runs within 100 ms while 4 goroutines do nothing but yield;
 *   3. a goroutine alone on its P, yielding in a loop, still lets a due
 *      timer fire (goro_after_func) within 100 ms.
 * Then at GOMAXPROCS=2, two goroutines that yield in a loop both finish
 * (a P with nothing else to run yields without a switch).
 */
#include "check.h"

#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>

#define MS 1000000ll
#define LIMIT_NS (100 * MS)

/* ---------------------------------------------------------------- 1 */

enum { K = 5, ROUNDS = 200, SETTLE = 2 * 61 + 2 * K };
static int turn_log[K * ROUNDS];
static int nturns; /* GOMAXPROCS=1: one goroutine runs at a time */
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void take_turns(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        turn_log[nturns++] = id;
        goro_yield();
    }
    goro_waitgroup_done(&wg);
}

static void test_round_robin(void)
{
    nturns = 0;
    goro_waitgroup_add(&wg, K);
    for (int i = 0; i < K; i++)
        CHECK(goro_go(take_turns, (void *)(intptr_t)i) > 0, "goro_go failed");
    goro_waitgroup_wait(&wg);
    CHECK(nturns == K * ROUNDS, "%d turns, want %d", nturns, K * ROUNDS);
    int seen[K] = { 0 };
    for (int i = 0; i < nturns; i++)
        seen[turn_log[i]]++;
    for (int i = 0; i < K; i++)
        CHECK(seen[i] == ROUNDS, "goroutine %d took %d turns, want %d", i, seen[i], ROUNDS);
    /* Until all K are queued the order depends on when the spawner was
     * preempted (sysmon's 10 ms slice, under a sanitizer on a busy
     * machine): a goroutine in the global queue joins at the 61st tick.
     * From then on the turns rotate. */
    /* ...until the first goroutine has had its last turn and exits (one
     * that joined late then has turns left after the others). */
    int last[K] = { 0 }, end = nturns;
    for (int i = 0; i < nturns; i++)
        last[turn_log[i]] = i;
    for (int k = 0; k < K; k++)
        if (last[k] < end)
            end = last[k];
    CHECK(end - SETTLE > 10 * K, "only turns %d to %d to check", SETTLE, end);
    for (int i = SETTLE; i + K <= end; i++)
        CHECK(turn_log[i + K] == turn_log[i], "turn %d went to goroutine %d, turn %d to %d: not FIFO",
              i, turn_log[i], i + K, turn_log[i + K]);
    tap_ok("%d goroutines yielding at GOMAXPROCS=1 take turns in FIFO order (turns %d to %d)", K, SETTLE, end);
}

/* ---------------------------------------------------------------- 2 */

static atomic_llong global_spawned, global_ran;

static void global_g(void *arg)
{
    (void)arg;
    atomic_store(&global_ran, check_now_ns());
    goro_waitgroup_done(&wg);
}

static void *plain_thread_spawn(void *arg)
{
    (void)arg;
    atomic_store(&global_spawned, check_now_ns());
    CHECK(goro_go(global_g, NULL) > 0, "goro_go from a plain thread failed");
    return NULL;
}

static void yield_until_global_ran(void *arg)
{
    (void)arg;
    int64_t deadline = check_now_ns() + 10000 * MS;
    while (atomic_load(&global_ran) == 0 && check_now_ns() < deadline)
        goro_yield();
    goro_waitgroup_done(&wg);
}

static void test_global_queue_runs(void)
{
    goro_waitgroup_add(&wg, 5);
    for (int i = 0; i < 4; i++)
        CHECK(goro_go(yield_until_global_ran, NULL) > 0, "goro_go failed");
    pthread_t th;
    CHECK(pthread_create(&th, NULL, plain_thread_spawn, NULL) == 0, "pthread_create failed");
    goro_waitgroup_wait(&wg);
    pthread_join(th, NULL);
    int64_t lat = atomic_load(&global_ran) - atomic_load(&global_spawned);
    tap_diag("global-queue goroutine ran %.3f ms after goro_go", lat / 1e6);
    CHECK(atomic_load(&global_ran) != 0, "the global-queue goroutine never ran");
    CHECK(lat < LIMIT_NS, "the global-queue goroutine waited %.1f ms behind yielding goroutines", lat / 1e6);
    tap_ok("a global-queue goroutine runs %.3f ms after goro_go while 4 goroutines yield", lat / 1e6);
}

/* ---------------------------------------------------------------- 3 */

static atomic_llong timer_fired;

static void on_timer(void *arg)
{
    (void)arg;
    atomic_store(&timer_fired, check_now_ns());
}

static void test_timer_fires_while_yielding(void)
{
    int64_t start = check_now_ns();
    goro_timer *t = goro_after_func(5 * MS, on_timer, NULL);
    CHECK(t != NULL, "goro_after_func failed");
    int64_t deadline = start + 10000 * MS;
    while (atomic_load(&timer_fired) == 0 && check_now_ns() < deadline)
        goro_yield();
    int64_t late = atomic_load(&timer_fired) - start - 5 * MS;
    CHECK(atomic_load(&timer_fired) != 0, "a 5 ms timer never fired while main yielded");
    CHECK(late >= 0, "the timer fired %.3f ms early", -late / 1e6);
    CHECK(late < LIMIT_NS, "the timer fired %.1f ms late", late / 1e6);
    CHECK(goro_timer_free(t) == 0, "goro_timer_free failed");
    tap_ok("a 5 ms timer fires %.3f ms late while the only goroutine yields", late / 1e6);
}

/* ---------------------------------------------------------------- 4 */

enum { PARALLEL_YIELDS = 200000 };

static void yield_many(void *arg)
{
    long *done = arg;
    for (long i = 0; i < PARALLEL_YIELDS; i++) {
        goro_yield();
        ++*done;
    }
    goro_waitgroup_done(&wg);
}

static void test_parallel_yielders(void)
{
    long done[2] = { 0, 0 };
    goro_waitgroup_add(&wg, 2);
    for (int i = 0; i < 2; i++)
        CHECK(goro_go(yield_many, &done[i]) > 0, "goro_go failed");
    goro_waitgroup_wait(&wg);
    CHECK(done[0] == PARALLEL_YIELDS && done[1] == PARALLEL_YIELDS, "yielders did %ld and %ld of %d",
          done[0], done[1], PARALLEL_YIELDS);
    tap_ok("2 goroutines yielding %d times each at GOMAXPROCS=2 both finish", PARALLEL_YIELDS);
}

static int main_fn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(4);
    int old = goro_maxprocs(1);
    CHECK(old > 0, "goro_maxprocs(1) returned %d", old);
    test_round_robin();
    test_global_queue_runs();
    test_timer_fires_while_yielding();
    CHECK(goro_maxprocs(2) == 1, "goro_maxprocs(2) did not report 1");
    test_parallel_yielders();
    goro_maxprocs(old);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = goro_run(main_fn, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);
    return 0;
}
