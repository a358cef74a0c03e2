/*
 * chan_pingpong: round-trip ns of two goroutines passing a ball over two
 * unbuffered channels. Twin: go/chan_pingpong.go.
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 1000000 }; /* round trips */

static goro_chan *ping, *pong;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void partner(void *arg)
{
    (void)arg;
    int64_t ball;
    while (goro_chan_recv(ping, &ball) == 1) {
        ball++;
        if (goro_chan_send(pong, &ball) != 0)
            abort();
    }
    goro_waitgroup_done(&wg);
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ping = goro_chan_make(sizeof(int64_t), 0);
    pong = goro_chan_make(sizeof(int64_t), 0);
    if (!ping || !pong) {
        fprintf(stderr, "chan_pingpong: goro_chan_make failed\n");
        return 1;
    }
    goro_waitgroup_add(&wg, 1);
    if (goro_go(partner, NULL) < 0) {
        fprintf(stderr, "chan_pingpong: goro_go failed\n");
        return 1;
    }
    int64_t ball = 0;
    int64_t start = goro_now();
    for (int i = 0; i < N; i++) {
        ball++;
        if (goro_chan_send(ping, &ball) != 0 || goro_chan_recv(pong, &ball) != 1) {
            fprintf(stderr, "chan_pingpong: channel op failed at %d\n", i);
            return 1;
        }
    }
    int64_t elapsed = goro_now() - start;
    goro_chan_close(ping);
    goro_waitgroup_wait(&wg);
    goro_chan_free(ping);
    goro_chan_free(pong);
    if (ball != 2 * (int64_t)N) {
        fprintf(stderr, "chan_pingpong: ball %lld (want %lld)\n", (long long)ball, 2 * (long long)N);
        return 1;
    }
    printf("RESULT chan_pingpong %.1f ns/op\n", (double)elapsed / N);
    return 0;
}

GORO_MAIN(bench_main)
