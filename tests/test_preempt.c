/*
 * test_preempt — cooperative preemption at GOMAXPROCS=1.
 *
 * Goroutine L loops for 300 ms calling nothing but goro_preempt_point().
 * It spawns R first (R lands in runnext, but L keeps running). sysmon must
 * ask L to yield after ~10 ms, so R runs while L is still looping. Then two
 * such loopers share the one P for 300 ms each: the P must switch between
 * them repeatedly (every ~10 ms), and goro_stats.preemptions must grow.
 * goro_preempt_point() must also be cheap when nobody asked.
 */
#include "check.h"

#include <goro.h>
#include <stdatomic.h>

#define MS 1000000ll
#define LOOP_NS (300 * MS)

static goro_waitgroup wg = GORO_WAITGROUP_INIT;
static atomic_llong l_start, l_end, r_ran;
static atomic_long l_calls;

static void gor_r(void *arg)
{
    (void)arg;
    atomic_store(&r_ran, check_now_ns());
    goro_waitgroup_done(&wg);
}

static void gor_l(void *arg)
{
    (void)arg;
    int64_t t0 = check_now_ns();
    atomic_store(&l_start, t0);
    CHECK(goro_go(gor_r, NULL) > 0, "goro_go(R)");
    long calls = 0;
    while (check_now_ns() - t0 < LOOP_NS) {
        goro_preempt_point();
        calls++;
    }
    atomic_store(&l_calls, calls);
    atomic_store(&l_end, check_now_ns());
    goro_waitgroup_done(&wg);
}

/* Two loopers: log every change of the goroutine running on the P. */
#define MAXSW 100000
static atomic_int owner = -1;
static int64_t sw_at[MAXSW];
static atomic_int nsw;

static void looper(void *arg)
{
    int me = (int)(intptr_t)arg;
    int64_t t0 = check_now_ns();
    while (check_now_ns() - t0 < LOOP_NS) {
        if (atomic_load_explicit(&owner, memory_order_relaxed) != me) {
            atomic_store(&owner, me);
            int k = atomic_fetch_add(&nsw, 1);
            if (k < MAXSW)
                sw_at[k] = check_now_ns();
        }
        goro_preempt_point();
    }
    goro_waitgroup_done(&wg);
}

static int main_fn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(4);
    goro_maxprocs(1);
    CHECK(goro_maxprocs(0) == 1, "GOMAXPROCS is %d, want 1", goro_maxprocs(0));

    /* Cost of goro_preempt_point() when nobody asked (a run shorter than
     * sysmon's 10 ms, so it should not yield). */
    int64_t t0 = check_now_ns();
    long n = 1000000;
    for (long i = 0; i < n; i++)
        goro_preempt_point();
    double ns = (double)(check_now_ns() - t0) / (double)n;
    tap_diag("goro_preempt_point(): %.2f ns per call", ns);
    tap_ok("goro_preempt_point() is cheap: %.2f ns", ns);

    goro_stats st0, st1;
    goro_read_stats(&st0);
    CHECK(goro_waitgroup_add(&wg, 2) == 0, "waitgroup_add");
    CHECK(goro_go(gor_l, NULL) > 0, "goro_go(L)");
    goro_waitgroup_wait(&wg);
    goro_read_stats(&st1);
    int64_t lat = atomic_load(&r_ran) - atomic_load(&l_start);
    tap_diag("R ran %.2f ms after L started looping (L looped %.0f ms, %ld preempt points); "
             "preemptions +%lld",
             (double)lat / 1e6, (double)(atomic_load(&l_end) - atomic_load(&l_start)) / 1e6,
             atomic_load(&l_calls), (long long)(st1.preemptions - st0.preemptions));
    CHECK(atomic_load(&r_ran) != 0, "R never ran");
    CHECK(atomic_load(&r_ran) < atomic_load(&l_end),
          "R ran only after L's 300 ms loop ended: L was never preempted (%.1f ms)",
          (double)lat / 1e6);
    CHECK(lat <= 100 * MS, "R waited %.1f ms for L to be preempted (limit 100 ms)",
          (double)lat / 1e6);
    tap_ok("a goroutine calling only goro_preempt_point() let another run after %.2f ms",
           (double)lat / 1e6);
    CHECK(st1.preemptions > st0.preemptions, "goro_stats.preemptions did not increase (%lld)",
          (long long)st1.preemptions);
    tap_ok("goro_stats.preemptions increased by %lld",
           (long long)(st1.preemptions - st0.preemptions));

    /* Two loopers share the P. */
    CHECK(goro_waitgroup_add(&wg, 2) == 0, "waitgroup_add");
    goro_read_stats(&st0);
    CHECK(goro_go(looper, (void *)0) > 0, "goro_go(looper)");
    CHECK(goro_go(looper, (void *)1) > 0, "goro_go(looper)");
    goro_waitgroup_wait(&wg);
    goro_read_stats(&st1);
    int k = atomic_load(&nsw);
    if (k > MAXSW)
        k = MAXSW;
    int64_t maxgap = 0;
    for (int i = 1; i < k; i++)
        if (sw_at[i] - sw_at[i - 1] > maxgap)
            maxgap = sw_at[i] - sw_at[i - 1];
    tap_diag("two loopers: %d switches, longest slice %.2f ms, preemptions +%lld", k,
             (double)maxgap / 1e6, (long long)(st1.preemptions - st0.preemptions));
    /* Each needs 300 ms of its own clock; with 10 ms slices that is ~30
     * switches. Ask for a conservative 5. */
    CHECK(k >= 5, "only %d switches between two loopers in ~300 ms: not time-sliced", k);
    CHECK(maxgap <= 100 * MS, "a looper held the P for %.1f ms (limit 100 ms)",
          (double)maxgap / 1e6);
    tap_ok("two loopers time-sliced: %d switches, longest slice %.2f ms", k, (double)maxgap / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = goro_run(main_fn, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);
    return 0;
}
