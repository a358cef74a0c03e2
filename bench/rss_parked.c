/*
 * rss_parked SIZE: resident bytes per parked goroutine, SIZE (e.g. 1e5) of
 * them parked in goro_waitgroup_wait on one waitgroup that main opens at the
 * end. RSS is read from /proc/self/statm before the first spawn and once all
 * SIZE are parked. One size per process, so that no size reuses the stacks
 * of another. Twin: go/rss_parked.go
 */
#include <goro.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static goro_waitgroup gate = GORO_WAITGROUP_INIT;     /* parks them all */
static goro_waitgroup finished = GORO_WAITGROUP_INIT; /* joins them after the gate opens */

static void parker(void *arg)
{
    (void)arg;
    goro_waitgroup_wait(&gate);
    goro_waitgroup_done(&finished);
}

static long rss_bytes(void)
{
    long size, resident;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2) {
        fprintf(stderr, "rss_parked: reading /proc/self/statm: %s\n", strerror(errno));
        exit(1);
    }
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static int bench_main(int argc, char **argv)
{
    char *end;
    double size = argc == 2 ? strtod(argv[1], &end) : 0;
    int64_t n = (int64_t)size;
    if (argc != 2 || *end || n < 1 || n != size || n > UINT32_MAX) {
        fprintf(stderr, "usage: rss_parked SIZE (a goroutine count such as 1e5)\n");
        return 2;
    }
    long before = rss_bytes();
    goro_waitgroup_add(&gate, 1);
    goro_waitgroup_add(&finished, n);
    for (int64_t i = 0; i < n; i++) {
        int64_t id = goro_go(parker, NULL);
        if (id < 0) {
            fprintf(stderr, "rss_parked: goro_go #%lld: %s\n", (long long)i, strerror((int)-id));
            return 1;
        }
    }
    /* The low 32 bits of a waitgroup's state count its waiters (goro.h):
     * once they reach n, every goroutine has parked, or is about to. */
    while ((__atomic_load_n(&gate.state, __ATOMIC_ACQUIRE) & UINT32_MAX) != (uint64_t)n)
        goro_yield();
    long after = rss_bytes();
    goro_waitgroup_done(&gate);
    goro_waitgroup_wait(&finished);
    printf("RESULT rss_parked_%s %.0f B/goroutine\n", argv[1], (double)(after - before) / n);
    return 0;
}

GORO_MAIN(bench_main)
