/*
 * select2: one goroutine selecting over two unbuffered channels, each fed
 * 1e6 values by its own sender; 2e6 selects. The per-channel counts and sums
 * are checked. Reports ns per select. Twin: go/select2.go.
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>

enum { PER = 1000000 };

static void sender(void *arg)
{
    goro_chan *c = arg;
    for (int64_t v = 1; v <= PER; v++)
        if (goro_chan_send(c, &v) != 0)
            abort();
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    goro_chan *c[2] = { goro_chan_make(sizeof(int64_t), 0), goro_chan_make(sizeof(int64_t), 0) };
    if (!c[0] || !c[1])
        return 1;
    int64_t start = goro_now();
    for (int i = 0; i < 2; i++)
        if (goro_go(sender, c[i]) < 0)
            return 1;
    int64_t v[2], count[2] = { 0, 0 }, sum[2] = { 0, 0 };
    goro_case cases[2] = {
        { .chan = c[0], .dir = GORO_RECV, .elem = &v[0] },
        { .chan = c[1], .dir = GORO_RECV, .elem = &v[1] },
    };
    for (int i = 0; i < 2 * PER; i++) {
        int k = goro_select(cases, 2, -1);
        if (k < 0 || k > 1 || !cases[k].ok) {
            fprintf(stderr, "select2: goro_select returned %d\n", k);
            return 1;
        }
        count[k]++;
        sum[k] += v[k];
    }
    int64_t elapsed = goro_now() - start;
    int64_t want = (int64_t)PER * (PER + 1) / 2;
    if (count[0] != PER || count[1] != PER || sum[0] != want || sum[1] != want) {
        fprintf(stderr, "select2: counts %lld %lld sums %lld %lld (want %d, %lld)\n",
                (long long)count[0], (long long)count[1], (long long)sum[0],
                (long long)sum[1], PER, (long long)want);
        return 1;
    }
    goro_chan_free(c[0]);
    goro_chan_free(c[1]);
    printf("RESULT select2 %.1f ns/op\n", (double)elapsed / (2.0 * PER));
    return 0;
}

GORO_MAIN(bench_main)
