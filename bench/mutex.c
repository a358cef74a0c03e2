/*
 * mutex: 4 goroutines each locking and unlocking one goro_mutex 1e6 times
 * around a shared counter, which must end at 4e6. Reports ns per lock+unlock
 * pair (wall time over all 4e6). Twin: go/mutex.go, with sync.Mutex.
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>

enum { WORKERS = 4, PER = 1000000 };

static goro_mutex mu = GORO_MUTEX_INIT;
static int64_t counter;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER; i++) {
        goro_mutex_lock(&mu);
        counter++;
        goro_mutex_unlock(&mu);
    }
    goro_waitgroup_done(&wg);
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int64_t start = goro_now();
    goro_waitgroup_add(&wg, WORKERS);
    for (int i = 0; i < WORKERS; i++)
        if (goro_go(worker, NULL) < 0)
            return 1;
    goro_waitgroup_wait(&wg);
    int64_t elapsed = goro_now() - start;
    if (counter != (int64_t)WORKERS * PER) {
        fprintf(stderr, "mutex: counter %lld (want %d)\n", (long long)counter, WORKERS * PER);
        return 1;
    }
    printf("RESULT mutex %.1f ns/op\n", (double)elapsed / ((double)WORKERS * PER));
    return 0;
}

GORO_MAIN(bench_main)
