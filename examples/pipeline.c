/*
 * A pipeline with fan-out and fan-in, in idiomatic goro style:
 *
 *   numbers --> [square] x4 --> merge --> sum
 *
 * One goroutine emits 1..N on a channel; four workers square them in
 * parallel; a wait group closes the results channel once every worker is
 * done; main sums what arrives. Closing a channel is how a stage says
 * "no more", exactly as in Go.
 */
#include <goro.h>

#include <stdio.h>

#define N 100000
#define WORKERS 4

static goro_chan *numbers, *squares;
static goro_waitgroup workers = GORO_WAITGROUP_INIT;

static void emit(void *arg)
{
    (void)arg;
    for (long i = 1; i <= N; i++)
        goro_chan_send(numbers, &i);
    goro_chan_close(numbers);
}

static void square(void *arg)
{
    (void)arg;
    long v;
    while (goro_chan_recv(numbers, &v) == 1) {
        long sq = v * v;
        goro_chan_send(squares, &sq);
    }
    goro_waitgroup_done(&workers);
}

static void close_when_done(void *arg)
{
    (void)arg;
    goro_waitgroup_wait(&workers);
    goro_chan_close(squares);
}

static int app(int argc, char **argv)
{
    (void)argc, (void)argv;
    numbers = goro_chan_make(sizeof(long), 64);
    squares = goro_chan_make(sizeof(long), 64);
    goro_go(emit, NULL);
    goro_waitgroup_add(&workers, WORKERS);
    for (int i = 0; i < WORKERS; i++)
        goro_go(square, NULL);
    goro_go(close_when_done, NULL);

    long sum = 0, v;
    while (goro_chan_recv(squares, &v) == 1)
        sum += v;
    long want = (long)N * (N + 1) * (2L * N + 1) / 6;
    printf("sum of squares 1..%d = %ld (%s)\n", N, sum, sum == want ? "correct" : "WRONG");
    goro_chan_free(numbers);
    goro_chan_free(squares);
    return sum == want ? 0 : 1;
}

GORO_MAIN(app)
