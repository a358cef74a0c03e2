/*
 * spawn_exit: ns per goroutine for 10^6 goroutines started by the main
 * goroutine, each calling Done on one waitgroup, joined by one Wait.
 * An untimed warm-up round of the same size comes first so that the timed
 * round reuses dead Gs and their stacks, as Go's does. Twin: go/spawn_exit.go
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 1000000 };

static goro_waitgroup wg = GORO_WAITGROUP_INIT;
/* Each goroutine bumps its own slot: after round r every slot must read r.
 * A shared counter would make the Ps fight over one cache line. */
static uint8_t stamp[N];

static void worker(void *arg)
{
    uint8_t *slot = arg;
    (*slot)++;
    goro_waitgroup_done(&wg);
}

static int64_t round_ns(uint8_t r)
{
    int64_t start = goro_now();
    goro_waitgroup_add(&wg, N);
    for (int i = 0; i < N; i++) {
        int64_t id = goro_go(worker, &stamp[i]);
        if (id < 0) {
            fprintf(stderr, "spawn_exit: goro_go #%d: %s\n", i, strerror((int)-id));
            exit(1);
        }
    }
    goro_waitgroup_wait(&wg);
    int64_t elapsed = goro_now() - start;
    for (int i = 0; i < N; i++) {
        if (stamp[i] != r) {
            fprintf(stderr, "spawn_exit: round %d: goroutine %d ran %d times in all\n",
                    r, i, stamp[i]);
            exit(1);
        }
    }
    return elapsed;
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    round_ns(1);
    printf("RESULT spawn_exit %.1f ns/op\n", (double)round_ns(2) / N);
    return 0;
}

GORO_MAIN(bench_main)
