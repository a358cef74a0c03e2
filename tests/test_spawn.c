/*
 * test_spawn — mass spawn and a spawn tree.
 *
 * 1. 200,000 goroutines spawned from the main goroutine, each incrementing
 *    an atomic counter, joined with a goro_waitgroup.
 * 2. Spawning from many goroutines at once (fan-out of spawners).
 * 3. A binary spawn tree of depth 16 (65,536 leaves): each node spawns two
 *    children and waits for them on its own waitgroup.
 * After each part every goroutine must have exited (goro_numgoroutine()
 * back to 1).
 */
#include "check.h"

#include <errno.h>
#include <goro.h>
#include <stdatomic.h>

static atomic_long counter;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void incr(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
    goro_waitgroup_done(&wg);
}

/* Waits (yielding) until only the main goroutine is left. */
static void wait_numgoroutine_1(const char *what)
{
    int64_t t0 = check_now_ns();
    int n;
    while ((n = goro_numgoroutine()) != 1) {
        CHECK(check_now_ns() - t0 < 10 * 1000000000ll,
              "%s: goro_numgoroutine() still %d after 10 s (goroutines did not exit)", what, n);
        goro_yield();
    }
}

/* ---- fan-out ---- */
#define SPAWNERS 16
static long per_spawner;

static void spawner(void *arg)
{
    (void)arg;
    for (long i = 0; i < per_spawner; i++) {
        int64_t id = goro_go(incr, NULL);
        CHECK(id > 0, "goro_go from a goroutine: %lld", (long long)id);
    }
    goro_waitgroup_done(&wg);
}

/* ---- tree ---- */
static atomic_long leaves, nodes;

typedef struct treearg {
    int depth;
    goro_waitgroup *parent;
} treearg;

static void tree(void *arg)
{
    treearg *ta = arg;
    int depth = ta->depth;
    goro_waitgroup *parent = ta->parent;
    atomic_fetch_add_explicit(&nodes, 1, memory_order_relaxed);
    if (depth == 0) {
        atomic_fetch_add_explicit(&leaves, 1, memory_order_relaxed);
    } else {
        goro_waitgroup mywg = GORO_WAITGROUP_INIT;
        treearg kids[2] = {{depth - 1, &mywg}, {depth - 1, &mywg}};
        CHECK(goro_waitgroup_add(&mywg, 2) == 0, "waitgroup_add");
        for (int i = 0; i < 2; i++) {
            int64_t id = goro_go(tree, &kids[i]);
            CHECK(id > 0, "goro_go in tree: %lld", (long long)id);
        }
        goro_waitgroup_wait(&mywg);
    }
    goro_waitgroup_done(parent);
}

static int main_fn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(4);
    int procs = goro_maxprocs(0);
    tap_diag("GOMAXPROCS=%d numcpu=%d", procs, goro_numcpu());

    /* 1. 200k from one goroutine. */
#if defined(__SANITIZE_THREAD__)
    long n = SCALE(200000L) / 4; /* a TSan fiber costs ~350 us to create */
#else
    long n = SCALE(200000L);
#endif
    int64_t t0 = check_now_ns();
    CHECK(goro_waitgroup_add(&wg, n) == 0, "waitgroup_add(%ld)", n);
    int64_t last = 0;
    for (long i = 0; i < n; i++) {
        int64_t id = goro_go(incr, NULL);
        CHECK(id > 0, "goro_go #%ld returned %lld", i, (long long)id);
        CHECK(id != last, "goro_go returned the same goid twice (%lld)", (long long)id);
        last = id;
    }
    int64_t t1 = check_now_ns();
    goro_waitgroup_wait(&wg);
    int64_t t2 = check_now_ns();
    CHECK(atomic_load(&counter) == n, "counter %ld, want %ld", atomic_load(&counter), n);
    tap_diag("spawn %.0f ns/goroutine, spawn+run+join %.0f ns/goroutine (%ld goroutines)",
             (double)(t1 - t0) / (double)n, (double)(t2 - t0) / (double)n, n);
    wait_numgoroutine_1("mass spawn");
    tap_ok("%ld goroutines spawned and joined, counter exact", n);

    /* 2. Fan-out: SPAWNERS goroutines each spawning n/SPAWNERS. */
    atomic_store(&counter, 0);
    per_spawner = n / SPAWNERS;
    long total = per_spawner * SPAWNERS;
    t0 = check_now_ns();
    CHECK(goro_waitgroup_add(&wg, SPAWNERS + total) == 0, "waitgroup_add");
    for (int i = 0; i < SPAWNERS; i++)
        CHECK(goro_go(spawner, NULL) > 0, "goro_go(spawner)");
    goro_waitgroup_wait(&wg);
    t1 = check_now_ns();
    CHECK(atomic_load(&counter) == total, "fan-out counter %ld, want %ld", atomic_load(&counter),
          total);
    tap_diag("fan-out from %d spawners: %.0f ns/goroutine", SPAWNERS,
             (double)(t1 - t0) / (double)total);
    wait_numgoroutine_1("fan-out");
    tap_ok("%d goroutines each spawning %ld: counter exact", SPAWNERS, per_spawner);

    /* 3. Spawn tree. */
    int depth = 0; /* 2^depth leaves; all 2^(depth+1)-1 nodes may be alive at once */
    while ((4L << depth) - 1 <= SCALE_LIVE(1L << 17))
        depth++;
    goro_waitgroup root = GORO_WAITGROUP_INIT;
    treearg ta = {depth, &root};
    t0 = check_now_ns();
    CHECK(goro_waitgroup_add(&root, 1) == 0, "waitgroup_add");
    CHECK(goro_go(tree, &ta) > 0, "goro_go(tree)");
    goro_waitgroup_wait(&root);
    t1 = check_now_ns();
    CHECK(atomic_load(&leaves) == 1L << depth, "tree of depth %d: %ld leaves, want %ld", depth,
          atomic_load(&leaves), 1L << depth);
    CHECK(atomic_load(&nodes) == (2L << depth) - 1, "tree: %ld nodes, want %ld",
          atomic_load(&nodes), (2L << depth) - 1);
    tap_diag("tree depth %d: %ld goroutines in %.1f ms", depth, atomic_load(&nodes),
             (double)(t1 - t0) / 1e6);
    tap_ok("spawn tree of depth %d: %ld leaves", depth, 1L << depth);

    wait_numgoroutine_1("tree");
    goro_stats st;
    goro_read_stats(&st);
    CHECK(st.goroutines == 1, "goro_stats.goroutines %lld, want 1", (long long)st.goroutines);
    tap_diag("threads=%lld context_switches=%lld steals=%lld stack reserved=%lld KiB "
             "committed=%lld KiB",
             (long long)st.threads, (long long)st.context_switches, (long long)st.steals,
             (long long)st.stack_bytes_reserved / 1024, (long long)st.stack_bytes_committed / 1024);
    tap_ok("all goroutines exited: goro_numgoroutine() and goro_stats.goroutines are 1");
    return 0;
}

int main(int argc, char **argv)
{
    int rc = goro_run(main_fn, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);
    return 0;
}
