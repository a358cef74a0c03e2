/*
 * chan_buffered: ns per item through a buffered channel (cap 128), with 1
 * producer and 1 consumer, then 4 and 4; 4e6 items each. Consumers sum what
 * they receive and the total is checked. Twin: go/chan_buffered.go.
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>

enum { ITEMS = 4000000, CAP = 128 };

typedef struct {
    goro_chan *c;
    int64_t from, to;     /* producer: sends from..to-1 */
    int64_t sum, count;   /* consumer: what it received */
    goro_waitgroup *wg;
} worker;

static void producer(void *arg)
{
    worker *w = arg;
    for (int64_t v = w->from; v < w->to; v++)
        if (goro_chan_send(w->c, &v) != 0)
            abort();
    goro_waitgroup_done(w->wg);
}

static void consumer(void *arg)
{
    worker *w = arg;
    int64_t v, sum = 0, count = 0;
    while (goro_chan_recv(w->c, &v) == 1) {
        sum += v;
        count++;
    }
    w->sum = sum;
    w->count = count;
    goro_waitgroup_done(w->wg);
}

static int run(const char *name, int np, int nc)
{
    goro_chan *c = goro_chan_make(sizeof(int64_t), CAP);
    goro_waitgroup pwg = GORO_WAITGROUP_INIT, cwg = GORO_WAITGROUP_INIT;
    worker p[8], q[8];
    if (!c)
        return 1;
    int64_t start = goro_now();
    goro_waitgroup_add(&cwg, nc);
    for (int i = 0; i < nc; i++) {
        q[i] = (worker){ .c = c, .wg = &cwg };
        if (goro_go(consumer, &q[i]) < 0)
            return 1;
    }
    goro_waitgroup_add(&pwg, np);
    for (int i = 0; i < np; i++) {
        p[i] = (worker){ .c = c, .from = (int64_t)ITEMS / np * i,
                         .to = (int64_t)ITEMS / np * (i + 1), .wg = &pwg };
        if (goro_go(producer, &p[i]) < 0)
            return 1;
    }
    goro_waitgroup_wait(&pwg);
    goro_chan_close(c);
    goro_waitgroup_wait(&cwg);
    int64_t elapsed = goro_now() - start;
    goro_chan_free(c);
    int64_t sum = 0, count = 0;
    for (int i = 0; i < nc; i++) {
        sum += q[i].sum;
        count += q[i].count;
    }
    int64_t want = (int64_t)ITEMS * (ITEMS - 1) / 2;
    if (count != ITEMS || sum != want) {
        fprintf(stderr, "%s: received %lld items summing %lld (want %d, %lld)\n", name,
                (long long)count, (long long)sum, ITEMS, (long long)want);
        return 1;
    }
    printf("RESULT %s %.1f ns/op\n", name, (double)elapsed / ITEMS);
    return 0;
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (run("chan_buffered_1x1", 1, 1) || run("chan_buffered_4x4", 4, 4))
        return 1;
    return 0;
}

GORO_MAIN(bench_main)
