/*
 * test_fairness — a runnext chain must not starve the run queues
 * (GOMAXPROCS=1).
 *
 * Goroutines A and B ready each other through semrelease/semacquire for
 * about 1 s: each wake-up puts the other in runnext, which inherits the
 * time slice, so only sysmon's 10 ms time-slice preemption can break the
 * chain. While they run:
 *   - at ~300 ms A spawns C; A's next semrelease kicks C from runnext to the
 *     local run queue, where it must run within 100 ms;
 *   - at ~500 ms a plain pthread calls goro_go(D), which puts D on the global
 *     run queue; D must run within 100 ms as well.
 * Latencies are printed; above 100 ms the test fails.
 */
#include "check.h"
#include "runtime.h"

#include <pthread.h>
#include <stdatomic.h>

#define MS 1000000ll
#define LIMIT_NS (100 * MS)
#define CHAIN_NS (1000 * MS)

static uint32_t sa, sb;
static atomic_int stop;
static atomic_long rounds;
static int64_t t_start;
static atomic_llong c_spawned, c_ran, d_spawned, d_ran;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;
static pthread_t th;

static void gor_c(void *arg)
{
    (void)arg;
    atomic_store(&c_ran, check_now_ns());
    goro_waitgroup_done(&wg);
}

static void gor_d(void *arg)
{
    (void)arg;
    atomic_store(&d_ran, check_now_ns());
    goro_waitgroup_done(&wg);
}

static void gor_a(void *arg)
{
    (void)arg;
    for (long i = 0;; i++) {
        int64_t now = check_now_ns();
        if (now - t_start > CHAIN_NS) {
            atomic_store(&stop, 1);
            semrelease(&sb);
            break;
        }
        if (atomic_load_explicit(&c_spawned, memory_order_relaxed) == 0 &&
            now - t_start > 300 * MS) {
            atomic_store(&c_spawned, check_now_ns());
            CHECK(goro_go(gor_c, NULL) > 0, "goro_go(C)");
        }
        semrelease(&sb);
        semacquire(&sa);
        atomic_fetch_add_explicit(&rounds, 1, memory_order_relaxed);
    }
    goro_waitgroup_done(&wg);
}

static void gor_b(void *arg)
{
    (void)arg;
    for (;;) {
        semacquire(&sb);
        if (atomic_load(&stop))
            break;
        semrelease(&sa);
    }
    goro_waitgroup_done(&wg);
}

static void *plain_thread(void *arg)
{
    (void)arg;
    while (check_now_ns() - t_start < 500 * MS) {
        struct timespec ts = {0, 1 * MS};
        nanosleep(&ts, NULL);
    }
    CHECK(goro_self() == 0, "plain thread has goid %lld", (long long)goro_self());
    atomic_store(&d_spawned, check_now_ns());
    int64_t id = goro_go(gor_d, NULL);
    CHECK(id > 0, "goro_go from a plain thread returned %lld", (long long)id);
    return NULL;
}

static int main_fn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(3);
    goro_maxprocs(1);
    CHECK(goro_maxprocs(0) == 1, "goro_maxprocs(0) = %d after goro_maxprocs(1)", goro_maxprocs(0));

    goro_stats st0, st1;
    goro_read_stats(&st0);
    t_start = check_now_ns();
    CHECK(goro_waitgroup_add(&wg, 4) == 0, "waitgroup_add");
    CHECK(pthread_create(&th, NULL, plain_thread, NULL) == 0, "pthread_create");
    CHECK(goro_go(gor_b, NULL) > 0, "goro_go(B)");
    CHECK(goro_go(gor_a, NULL) > 0, "goro_go(A)");
    goro_waitgroup_wait(&wg);
    int64_t t_end = check_now_ns();
    goro_read_stats(&st1);
    pthread_join(th, NULL); /* it returned long ago: D has run */

    long r = atomic_load(&rounds);
    tap_diag("chain ran %.0f ms: %ld round trips (%.0f ns each), %lld preemptions, "
             "%lld context switches",
             (double)(t_end - t_start) / 1e6, r, (double)(t_end - t_start) / (double)(r ? r : 1),
             (long long)(st1.preemptions - st0.preemptions),
             (long long)(st1.context_switches - st0.context_switches));
    CHECK(r > 1000, "the chain made only %ld round trips", r);
    tap_ok("A and B readied each other %ld times", r);

    int64_t c_lat = atomic_load(&c_ran) - atomic_load(&c_spawned);
    int64_t d_lat = atomic_load(&d_ran) - atomic_load(&d_spawned);
    tap_diag("local run queue goroutine (C): spawned at %.1f ms, ran after %.2f ms",
             (double)(atomic_load(&c_spawned) - t_start) / 1e6, (double)c_lat / 1e6);
    tap_diag("global run queue goroutine (D): spawned at %.1f ms, ran after %.2f ms",
             (double)(atomic_load(&d_spawned) - t_start) / 1e6, (double)d_lat / 1e6);
    CHECK(atomic_load(&c_spawned) != 0 && atomic_load(&c_ran) != 0, "C never spawned or ran");
    CHECK(c_lat >= 0 && c_lat <= LIMIT_NS,
          "goroutine in the local run queue waited %.1f ms behind a runnext chain (limit 100)",
          (double)c_lat / 1e6);
    tap_ok("a goroutine in the local run queue ran %.2f ms after its spawn", (double)c_lat / 1e6);
    CHECK(atomic_load(&d_spawned) != 0 && atomic_load(&d_ran) != 0, "D never spawned or ran");
    CHECK(d_lat >= 0 && d_lat <= LIMIT_NS,
          "goroutine in the global run queue waited %.1f ms behind a runnext chain (limit 100)",
          (double)d_lat / 1e6);
    tap_ok("a goroutine in the global run queue ran %.2f ms after goro_go", (double)d_lat / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = goro_run(main_fn, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);
    return 0;
}
