/*
 * pingpong: round-trip ns of two goroutines waking each other through the
 * runtime's Go-style semaphores (runtime_Semacquire/Semrelease). The main
 * goroutine serves, a partner returns the ball. Twin: go/pingpong.go, with an
 * unbuffered channel each way.
 */
#include "runtime.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 1000000 }; /* round trips */

static uint32_t ping, pong;  /* semaphores: main -> partner, partner -> main */
static int64_t ball;         /* bumped by both sides; the semaphores order the accesses */
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void partner(void *arg)
{
    (void)arg;
    for (int i = 0; i < N; i++) {
        semacquire(&ping);
        ball++;
        semrelease(&pong);
    }
    goro_waitgroup_done(&wg);
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    goro_waitgroup_add(&wg, 1);
    int64_t id = goro_go(partner, NULL);
    if (id < 0) {
        fprintf(stderr, "pingpong: goro_go: %s\n", strerror((int)-id));
        return 1;
    }
    int64_t start = goro_now();
    for (int i = 0; i < N; i++) {
        ball++;
        semrelease(&ping);
        semacquire(&pong);
    }
    int64_t elapsed = goro_now() - start;
    goro_waitgroup_wait(&wg);
    if (ball != 2 * (int64_t)N || ping != 0 || pong != 0) {
        fprintf(stderr, "pingpong: ball %lld (want %lld), semaphores %u %u (want 0 0)\n",
                (long long)ball, 2 * (long long)N, ping, pong);
        return 1;
    }
    printf("RESULT pingpong %.1f ns/op\n", (double)elapsed / N);
    return 0;
}

GORO_MAIN(bench_main)
