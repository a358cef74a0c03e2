/*
 * prime_sieve: the classic concurrent prime sieve, a generator goroutine and
 * one filter goroutine per prime found, chained by unbuffered channels; takes
 * the first 5000 primes, the last of which must be 48611. Reports ms. The
 * goroutines are abandoned at the end, as in Go. Twin: go/prime_sieve.go.
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>

enum { PRIMES = 5000 };

typedef struct {
    goro_chan *in, *out;
    int64_t prime;
} filter_arg;

static void generate(void *arg)
{
    goro_chan *ch = arg;
    for (int64_t i = 2;; i++)
        if (goro_chan_send(ch, &i) != 0)
            return;
}

static void filter(void *arg)
{
    filter_arg *f = arg;
    int64_t v;
    while (goro_chan_recv(f->in, &v) == 1)
        if (v % f->prime != 0 && goro_chan_send(f->out, &v) != 0)
            return;
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    static filter_arg filters[PRIMES];
    int64_t start = goro_now();
    goro_chan *ch = goro_chan_make(sizeof(int64_t), 0);
    if (!ch || goro_go(generate, ch) < 0)
        return 1;
    int64_t prime = 0;
    for (int i = 0; i < PRIMES; i++) {
        if (goro_chan_recv(ch, &prime) != 1)
            return 1;
        goro_chan *next = goro_chan_make(sizeof(int64_t), 0);
        if (!next)
            return 1;
        filters[i] = (filter_arg){ ch, next, prime };
        if (goro_go(filter, &filters[i]) < 0)
            return 1;
        ch = next;
    }
    int64_t elapsed = goro_now() - start;
    if (prime != 48611) {
        fprintf(stderr, "prime_sieve: prime %d is %lld (want 48611)\n", PRIMES, (long long)prime);
        return 1;
    }
    printf("RESULT prime_sieve %.1f ms\n", (double)elapsed / 1e6);
    return 0;
}

GORO_MAIN(bench_main)
