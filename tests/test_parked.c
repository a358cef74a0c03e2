/*
 * test_parked — 1,000,000 goroutines parked at once on one waitgroup
 * (SCALE_LIVE: 100,000 under ASan, 2,000 under TSan).
 *
 * Every goroutine counts itself in, then waits on a "gate" waitgroup whose
 * counter stays 1 until the main goroutine opens it. While they are all
 * parked, goro_numgoroutine() and goro_stats.goroutines must count each
 * of them; the stack footprint (reserved, committed, RSS delta per
 * goroutine) is printed. Then the gate opens and all of them must finish.
 */
#include "check.h"

#include <goro.h>
#include <stdatomic.h>

static goro_waitgroup gate = GORO_WAITGROUP_INIT;
static goro_waitgroup done = GORO_WAITGROUP_INIT;
static atomic_long arrived, left;

static void parked(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&arrived, 1, memory_order_relaxed);
    goro_waitgroup_wait(&gate);
    atomic_fetch_add_explicit(&left, 1, memory_order_relaxed);
    goro_waitgroup_done(&done);
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f != NULL, "open /proc/self/statm");
    long size = 0, res = 0;
    CHECK(fscanf(f, "%ld %ld", &size, &res) == 2, "parse /proc/self/statm");
    fclose(f);
    return res * sysconf(_SC_PAGESIZE);
}

static int main_fn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(5);
    long n = SCALE_LIVE(1000000L);

    long rss0 = rss_bytes();
    goro_stats st0;
    goro_read_stats(&st0);
    int64_t t0 = check_now_ns();
    CHECK(goro_waitgroup_add(&gate, 1) == 0, "waitgroup_add(gate)");
    CHECK(goro_waitgroup_add(&done, n) == 0, "waitgroup_add(done)");
    for (long i = 0; i < n; i++) {
        int64_t id = goro_go(parked, NULL);
        CHECK(id > 0, "goro_go #%ld of %ld returned %lld", i, n, (long long)id);
    }
    int64_t t1 = check_now_ns();
    /* Let all of them run up to the gate. */
    while (atomic_load(&arrived) < n) {
        CHECK(check_now_ns() - t1 < 60 * 1000000000ll,
              "only %ld of %ld goroutines started within 60 s", atomic_load(&arrived), n);
        goro_yield();
    }
    int64_t t2 = check_now_ns();
    tap_diag("spawned %ld in %.2f s (%.0f ns each); all started after %.2f s", n,
             (double)(t1 - t0) / 1e9, (double)(t1 - t0) / (double)n, (double)(t2 - t0) / 1e9);
    CHECK(atomic_load(&left) == 0, "%ld goroutines passed a closed gate", atomic_load(&left));
    tap_ok("%ld goroutines reached the gate; none passed it", n);

    int ng = goro_numgoroutine();
    CHECK(ng == n + 1, "goro_numgoroutine() = %d, want %ld", ng, n + 1);
    goro_stats st;
    goro_read_stats(&st);
    CHECK(st.goroutines == n + 1, "goro_stats.goroutines = %lld, want %ld",
          (long long)st.goroutines, n + 1);
    tap_ok("goro_numgoroutine() and goro_stats.goroutines count all %ld", n + 1);

    long rss1 = rss_bytes();
    double per_rss = (double)(rss1 - rss0) / (double)n;
    double per_res = (double)(st.stack_bytes_reserved - st0.stack_bytes_reserved) / (double)n;
    double per_com = (double)(st.stack_bytes_committed - st0.stack_bytes_committed) / (double)n;
    tap_diag("per parked goroutine: RSS delta %.0f B, stack reserved %.0f B, stack committed %.0f B",
             per_rss, per_res, per_com);
    tap_diag("totals: RSS %ld MiB -> %ld MiB; stacks reserved %lld MiB, committed %lld MiB; "
             "threads %lld",
             rss0 >> 20, rss1 >> 20, (long long)st.stack_bytes_reserved >> 20,
             (long long)st.stack_bytes_committed >> 20, (long long)st.threads);
    CHECK(st.stack_bytes_reserved >= n * 16384L,
          "stack_bytes_reserved %lld is less than 16 KiB per goroutine",
          (long long)st.stack_bytes_reserved);
    CHECK(st.stack_bytes_committed >= n * 4096L,
          "stack_bytes_committed %lld is less than one page per parked goroutine",
          (long long)st.stack_bytes_committed);
    CHECK(st.stack_bytes_committed <= st.stack_bytes_reserved, "committed %lld > reserved %lld",
          (long long)st.stack_bytes_committed, (long long)st.stack_bytes_reserved);
    /* A parked goroutine should cost about a page of stack plus its G; a
     * whole default stack (256 KiB) committed would be a bug. Sanitizers
     * add shadow memory and fake stacks, so they get a wider bound. */
#if defined(__SANITIZE_THREAD__)
    const double max_rss = 4 * 1024 * 1024; /* TSan's own state is ~900 KB per fiber */
#elif defined(GORO_TEST_SANITIZER)
    const double max_rss = 256 * 1024;
#else
    const double max_rss = 32 * 1024;
#endif
    CHECK(per_rss < max_rss, "RSS per parked goroutine %.0f B exceeds %.0f B", per_rss, max_rss);
    tap_ok("stack footprint: %.0f B RSS, %.0f B committed per parked goroutine", per_rss,
           per_com);

    int64_t t3 = check_now_ns();
    goro_waitgroup_done(&gate);
    goro_waitgroup_wait(&done);
    int64_t t4 = check_now_ns();
    CHECK(atomic_load(&left) == n, "%ld of %ld goroutines passed the gate", atomic_load(&left), n);
    tap_diag("released and joined %ld in %.2f s", n, (double)(t4 - t3) / 1e9);
    tap_ok("all %ld released and joined", n);

    while (goro_numgoroutine() != 1) {
        CHECK(check_now_ns() - t4 < 30 * 1000000000ll, "goro_numgoroutine() still %d after 30 s",
              goro_numgoroutine());
        goro_yield();
    }
    goro_read_stats(&st);
    CHECK(st.goroutines == 1, "goro_stats.goroutines %lld after join", (long long)st.goroutines);
    tap_diag("after exit: RSS %ld MiB, stacks committed %lld MiB", rss_bytes() >> 20,
             (long long)st.stack_bytes_committed >> 20);
    tap_ok("all goroutines exited");
    return 0;
}

int main(int argc, char **argv)
{
    int rc = goro_run(main_fn, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);
    return 0;
}
