/*
 * gosched: ns per goro_yield (runtime.Gosched) with 2 and with 100
 * goroutines yielding in a loop: total yields / elapsed time, from the first
 * spawn to the join. Twin: go/gosched.go
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TOTAL = 4000000, MAXG = 100 }; /* yields per configuration */

static goro_waitgroup wg = GORO_WAITGROUP_INIT;

typedef struct yielder {
    int64_t todo;
    int64_t done; /* written once at the end: no line shared while yielding */
} yielder;

static void yield_loop(void *arg)
{
    yielder *y = arg;
    int64_t i;
    for (i = 0; i < y->todo; i++)
        goro_yield();
    y->done = i;
    goro_waitgroup_done(&wg);
}

static void run(int ngoroutines)
{
    static yielder ys[MAXG];
    int64_t start = goro_now();
    goro_waitgroup_add(&wg, ngoroutines);
    for (int i = 0; i < ngoroutines; i++) {
        ys[i] = (yielder){ .todo = TOTAL / ngoroutines };
        int64_t id = goro_go(yield_loop, &ys[i]);
        if (id < 0) {
            fprintf(stderr, "gosched: goro_go: %s\n", strerror((int)-id));
            exit(1);
        }
    }
    goro_waitgroup_wait(&wg);
    int64_t elapsed = goro_now() - start;
    int64_t yields = 0;
    for (int i = 0; i < ngoroutines; i++)
        yields += ys[i].done;
    if (yields != TOTAL) {
        fprintf(stderr, "gosched_%d: joined after %lld of %d yields\n", ngoroutines,
                (long long)yields, TOTAL);
        exit(1);
    }
    printf("RESULT gosched_%d %.1f ns/op\n", ngoroutines, (double)elapsed / TOTAL);
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    run(2);
    run(MAXG);
    return 0;
}

GORO_MAIN(bench_main)
