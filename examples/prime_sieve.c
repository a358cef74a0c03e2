/*
 * The concurrent prime sieve from the Go tour, in goro: a generator
 * goroutine sends 2, 3, 4, ... down a channel; each prime found gets a
 * filter goroutine that passes on the numbers it does not divide.
 *
 *   build/examples/prime_sieve [N]     prints the first N primes (default 100)
 */
#include <goro.h>

#include <stdio.h>
#include <stdlib.h>

static void generate(void *arg)
{
    goro_chan *out = arg;
    for (long i = 2;; i++)
        goro_chan_send(out, &i);
}

typedef struct filter_args {
    goro_chan *in, *out;
    long prime;
} filter_args;

static void filter(void *arg)
{
    filter_args *f = arg;
    long v;
    while (goro_chan_recv(f->in, &v) == 1)
        if (v % f->prime != 0)
            goro_chan_send(f->out, &v);
}

static int sieve(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    goro_chan *ch = goro_chan_make(sizeof(long), 0);
    goro_go(generate, ch);
    for (int i = 0; i < n; i++) {
        long prime;
        goro_chan_recv(ch, &prime);
        printf("%ld\n", prime);
        filter_args *f = malloc(sizeof *f);
        *f = (filter_args){ ch, goro_chan_make(sizeof(long), 0), prime };
        goro_go(filter, f);
        ch = f->out;
    }
    return 0; /* the filters are abandoned with the runtime, as in Go */
}

GORO_MAIN(sieve)
