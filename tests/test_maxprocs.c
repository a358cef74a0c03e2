/*
 * test_maxprocs — GOMAXPROCS changed repeatedly under load.
 *
 * 64 goroutines loop doing a little work, goro_yield, and a counting
 * semaphore (3 permits, checked) while the main goroutine cycles
 * goro_maxprocs through 1, 4, 2, 8, 1, 3, ...: every change must return the
 * previous value, goro_maxprocs(0) and goro_stats.procs must report the new
 * one, and every goroutine must finish exactly once. A second phase has
 * four goroutines changing GOMAXPROCS concurrently with the workers.
 */
#include "check.h"
#include "runtime.h"

#include <stdatomic.h>

#define NWORKERS 64
#define PERMITS 3

static uint32_t permits;
static atomic_int inside, max_inside;
static atomic_int finished[NWORKERS];
static atomic_int nfinished;
static atomic_long work_done;
static long iters;
static atomic_int enough; /* set once enough GOMAXPROCS changes happened */
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    volatile unsigned x = (unsigned)id;
    /* At least iters iterations, and on until the changes are done, so
     * that every change happens under load. */
    for (long i = 0; i < iters || !atomic_load_explicit(&enough, memory_order_relaxed); i++) {
        for (int k = 0; k < 200; k++)
            x = x * 1103515245u + 12345u;
        goro_yield();
        if (i % 4 == 0) {
            semacquire(&permits);
            int in = atomic_fetch_add(&inside, 1) + 1;
            CHECK(in <= PERMITS, "%d goroutines inside a %d-permit semaphore", in, PERMITS);
            int m = atomic_load(&max_inside);
            while (in > m && !atomic_compare_exchange_weak(&max_inside, &m, in))
                ;
            goro_yield();
            atomic_fetch_sub(&inside, 1);
            semrelease(&permits);
        }
        atomic_fetch_add_explicit(&work_done, 1, memory_order_relaxed);
    }
    CHECK(atomic_fetch_add(&finished[id], 1) == 0, "worker %d finished twice", id);
    atomic_fetch_add(&nfinished, 1);
    goro_waitgroup_done(&wg);
}

/* Keeps the main goroutine busy for about ns without blocking its P. */
static void spin_yield(int64_t ns)
{
    int64_t t0 = check_now_ns();
    while (check_now_ns() - t0 < ns)
        goro_yield();
}

static atomic_int changers_stop;
static atomic_long changes2;

static void changer(void *arg)
{
    int id = (int)(intptr_t)arg;
    static const int seq[] = {2, 5, 1, 8, 3, 1, 4, 6};
    for (int i = 0; !atomic_load(&changers_stop); i++) {
        int v = seq[(i + id * 3) % 8];
        int prev = goro_maxprocs(v);
        CHECK(prev >= 1 && prev <= 8, "concurrent goro_maxprocs(%d) returned %d", v, prev);
        atomic_fetch_add(&changes2, 1);
        spin_yield(1000000);
    }
    goro_waitgroup_done(&wg);
}

static void start_workers(void)
{
    atomic_store(&enough, 0);
    atomic_store(&work_done, 0);
    atomic_store(&nfinished, 0);
    for (int i = 0; i < NWORKERS; i++)
        atomic_store(&finished[i], 0);
    CHECK(goro_waitgroup_add(&wg, NWORKERS) == 0, "waitgroup_add");
    for (int i = 0; i < NWORKERS; i++)
        CHECK(goro_go(worker, (void *)(intptr_t)i) > 0, "goro_go(worker %d)", i);
}

static void check_workers(const char *phase)
{
    for (int i = 0; i < NWORKERS; i++)
        CHECK(atomic_load(&finished[i]) == 1, "%s: worker %d finished %d times", phase, i,
              atomic_load(&finished[i]));
    CHECK(atomic_load(&inside) == 0, "%s: %d still inside the semaphore", phase,
          atomic_load(&inside));
}

static int main_fn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(5);

    int initial = goro_maxprocs(0);
    const char *env = getenv("GOMAXPROCS");
    tap_diag("initial GOMAXPROCS=%d (env %s), numcpu=%d", initial, env ? env : "unset",
             goro_numcpu());
    if (env && atoi(env) > 0)
        CHECK(initial == atoi(env), "goro_maxprocs(0) = %d but GOMAXPROCS=%s", initial, env);
    else
        CHECK(initial >= 1, "goro_maxprocs(0) = %d", initial);
    goro_stats st;
    goro_read_stats(&st);
    CHECK(st.procs == initial, "goro_stats.procs %lld, goro_maxprocs(0) %d", (long long)st.procs,
          initial);
    tap_ok("initial GOMAXPROCS %d matches the environment and goro_stats.procs", initial);

    for (int i = 0; i < PERMITS; i++)
        semrelease(&permits);
    iters = SCALE(4000L);
    static const int seq[] = {1, 4, 2, 8, 1, 3, 6, 2, 5, 1, 8, 4};
    const int nseq = sizeof seq / sizeof seq[0];
    int current = initial, changes = 0;
    int64_t t0 = check_now_ns();
    start_workers();
    /* 48 changes under load (the workers keep working until then), then
     * keep changing until every worker has finished. */
    for (int i = 0; i < 48 || atomic_load(&nfinished) < NWORKERS; i++) {
        if (i == 48)
            atomic_store(&enough, 1);
        CHECK(check_now_ns() - t0 < 120 * 1000000000ll,
              "workers not finished after 120 s (%d of %d; %ld iterations)",
              atomic_load(&nfinished), NWORKERS, atomic_load(&work_done));
        int v = seq[i % nseq];
        int prev = goro_maxprocs(v);
        CHECK(prev == current, "goro_maxprocs(%d) returned %d, previous value was %d", v, prev,
              current);
        current = v;
        changes++;
        int q = goro_maxprocs(0);
        CHECK(q == v, "goro_maxprocs(0) = %d right after goro_maxprocs(%d)", q, v);
        goro_read_stats(&st);
        CHECK(st.procs == v, "goro_stats.procs = %lld after goro_maxprocs(%d)",
              (long long)st.procs, v);
        CHECK(st.idle_procs >= 0 && st.idle_procs <= v, "idle_procs %lld with %d procs",
              (long long)st.idle_procs, v);
        spin_yield(2000000);
    }
    tap_ok("%d changes: each returned the previous value; goro_maxprocs(0) and stats.procs agree",
           changes);
    goro_waitgroup_wait(&wg);
    double secs = (double)(check_now_ns() - t0) / 1e9;
    check_workers("phase 1");
    CHECK(atomic_load(&work_done) >= NWORKERS * iters, "work done %ld, want at least %ld",
          atomic_load(&work_done), NWORKERS * iters);
    CHECK(atomic_load(&max_inside) >= 1, "nobody entered the semaphore");
    tap_diag("phase 1: %.2f s, %d changes, max %d inside the semaphore", secs, changes,
             atomic_load(&max_inside));
    tap_ok("all %d workers finished exactly once across GOMAXPROCS changes", NWORKERS);

    /* Phase 2: concurrent changers, 40 changes under load. */
    t0 = check_now_ns();
    start_workers();
    CHECK(goro_waitgroup_add(&wg, 4) == 0, "waitgroup_add");
    for (int i = 0; i < 4; i++)
        CHECK(goro_go(changer, (void *)(intptr_t)i) > 0, "goro_go(changer)");
    while (atomic_load(&changes2) < 40) {
        CHECK(check_now_ns() - t0 < 120 * 1000000000ll,
              "phase 2: only %ld GOMAXPROCS changes in 120 s", atomic_load(&changes2));
        spin_yield(1000000);
    }
    atomic_store(&enough, 1);
    while (atomic_load(&nfinished) < NWORKERS) {
        CHECK(check_now_ns() - t0 < 120 * 1000000000ll, "phase 2: workers not finished in 120 s");
        spin_yield(1000000);
    }
    atomic_store(&changers_stop, 1);
    goro_waitgroup_wait(&wg);
    check_workers("phase 2");
    CHECK(atomic_load(&work_done) >= NWORKERS * iters, "phase 2: work done %ld, want >= %ld",
          atomic_load(&work_done), NWORKERS * iters);
    tap_diag("phase 2: %.2f s, %ld concurrent changes", (double)(check_now_ns() - t0) / 1e9,
             atomic_load(&changes2));
    tap_ok("all %d workers finished exactly once with 4 goroutines changing GOMAXPROCS", NWORKERS);

    int q = goro_maxprocs(0);
    goro_read_stats(&st);
    CHECK(q >= 1 && q <= 8 && st.procs == q, "after phase 2: goro_maxprocs(0) %d, stats.procs %lld",
          q, (long long)st.procs);
    CHECK(goro_maxprocs(2) == q, "goro_maxprocs(2) did not return %d", q);
    CHECK(goro_maxprocs(0) == 2, "goro_maxprocs(0) is not 2");
    tap_ok("GOMAXPROCS consistent after concurrent changes (%d)", q);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = goro_run(main_fn, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);
    return 0;
}
