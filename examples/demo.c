/*
 * goro's flagship demo: a million goroutines, two ways.
 *
 *  1. A spawn tree: every node starts two children and waits for them with
 *     a waitgroup, down to 2^20 leaves. Goroutines are created and joined on
 *     every P; idle Ps steal work from busy ones.
 *  2. A million goroutines parked at once on one waitgroup, then released.
 *     Each costs one 4 KiB stack page plus its G.
 *
 * Run it with `make demo` (GODEBUG=schedtrace=200 shows the Ps at work).
 */
#include <goro.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TREE_DEPTH 20
#define PARKED 1000000

static atomic_long leaves;

typedef struct node {
    int depth;
    goro_waitgroup *parent_done;
} node;

static void tree_node(void *arg)
{
    node *self = arg;
    if (self->depth == 0) {
        atomic_fetch_add_explicit(&leaves, 1, memory_order_relaxed);
    } else {
        goro_waitgroup wg = GORO_WAITGROUP_INIT;
        node kids[2] = { { self->depth - 1, &wg }, { self->depth - 1, &wg } };
        goro_waitgroup_add(&wg, 2);
        goro_go(tree_node, &kids[0]);
        goro_go(tree_node, &kids[1]);
        goro_waitgroup_wait(&wg);
    }
    goro_waitgroup_done(self->parent_done);
}

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

static goro_waitgroup gate = GORO_WAITGROUP_INIT;
static goro_waitgroup parked_done = GORO_WAITGROUP_INIT;

static void parked(void *arg)
{
    (void)arg;
    goro_waitgroup_wait(&gate);
    goro_waitgroup_done(&parked_done);
}

static int demo(int argc, char **argv)
{
    (void)argc, (void)argv;
    printf("goro demo: GOMAXPROCS=%d on %d CPUs\n", goro_maxprocs(0), goro_numcpu());

    int64_t t0 = goro_now();
    goro_waitgroup root_done = GORO_WAITGROUP_INIT;
    node root = { TREE_DEPTH, &root_done };
    goro_waitgroup_add(&root_done, 1);
    goro_go(tree_node, &root);
    goro_waitgroup_wait(&root_done);
    double ms = (double)(goro_now() - t0) / 1e6;
    long spawned = (1L << (TREE_DEPTH + 1)) - 1;
    printf("spawn tree: %ld goroutines (%ld leaves) in %.1f ms, %.0f ns per goroutine\n", spawned,
           atomic_load(&leaves), ms, ms * 1e6 / (double)spawned);
    if (atomic_load(&leaves) != 1L << TREE_DEPTH)
        return 1;
    goro_stats st;
    goro_read_stats(&st);
    printf("            at most %lld goroutines alive at once (%.0f MiB of stacks committed now)\n",
           (long long)(st.stack_bytes_reserved / (256 * 1024)), (double)st.stack_bytes_committed / (1 << 20));

    long rss0 = rss_bytes();
    t0 = goro_now();
    goro_waitgroup_add(&gate, 1);
    goro_waitgroup_add(&parked_done, PARKED);
    for (int i = 0; i < PARKED; i++)
        goro_go(parked, NULL);
    /* Every goroutine is parked once the gate has PARKED waiters. */
    while ((uint32_t)__atomic_load_n(&gate.state, __ATOMIC_ACQUIRE) < PARKED)
        goro_yield();
    ms = (double)(goro_now() - t0) / 1e6;
    goro_read_stats(&st);
    long rss1 = rss_bytes();
    printf("parked: %d goroutines in %.1f ms; live %lld; RSS +%.1f MiB (%.0f B per goroutine); "
           "stacks %.1f GiB reserved, %.1f MiB committed\n",
           PARKED, ms, (long long)st.goroutines, (double)(rss1 - rss0) / (1 << 20),
           (double)(rss1 - rss0) / PARKED, (double)st.stack_bytes_reserved / (1 << 30),
           (double)st.stack_bytes_committed / (1 << 20));
    t0 = goro_now();
    goro_waitgroup_done(&gate);
    goro_waitgroup_wait(&parked_done);
    printf("released and joined in %.1f ms\n", (double)(goro_now() - t0) / 1e6);

    goro_read_stats(&st);
    printf("stats: threads=%lld context_switches=%lld steals=%lld preemptions=%lld\n", (long long)st.threads,
           (long long)st.context_switches, (long long)st.steals, (long long)st.preemptions);
    return 0;
}

GORO_MAIN(demo)
