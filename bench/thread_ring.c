/*
 * thread_ring: 503 goroutines in a ring, each receiving a token on its
 * unbuffered channel and passing it, decremented, to the next; 1e7 hops.
 * The goroutine that receives 0 must be number 1e7 % 503 and the hop counts
 * must add up to 1e7. Reports ns per hop. Twin: go/thread_ring.go.
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>

enum { RING = 503, HOPS = 10000000 };

static goro_chan *chans[RING];
static goro_chan *done;
static int64_t hops[RING];
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void member(void *arg)
{
    int id = (int)(intptr_t)arg;
    goro_chan *in = chans[id], *out = chans[(id + 1) % RING];
    int64_t token, n = 0;
    while (goro_chan_recv(in, &token) == 1) {
        if (token == 0) {
            int64_t who = id;
            if (goro_chan_send(done, &who) != 0)
                abort();
            continue;
        }
        token--;
        n++;
        if (goro_chan_send(out, &token) != 0)
            abort();
    }
    hops[id] = n;
    goro_waitgroup_done(&wg);
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    done = goro_chan_make(sizeof(int64_t), 0);
    for (int i = 0; i < RING; i++)
        if (!(chans[i] = goro_chan_make(sizeof(int64_t), 0)))
            return 1;
    if (!done)
        return 1;
    goro_waitgroup_add(&wg, RING);
    for (int i = 0; i < RING; i++)
        if (goro_go(member, (void *)(intptr_t)i) < 0)
            return 1;
    int64_t token = HOPS, who;
    int64_t start = goro_now();
    if (goro_chan_send(chans[0], &token) != 0 || goro_chan_recv(done, &who) != 1)
        return 1;
    int64_t elapsed = goro_now() - start;
    for (int i = 0; i < RING; i++)
        goro_chan_close(chans[i]);
    goro_waitgroup_wait(&wg);
    int64_t total = 0;
    for (int i = 0; i < RING; i++) {
        total += hops[i];
        goro_chan_free(chans[i]);
    }
    goro_chan_free(done);
    if (total != HOPS || who != HOPS % RING) {
        fprintf(stderr, "thread_ring: %lld hops ending at %lld (want %d, %d)\n",
                (long long)total, (long long)who, HOPS, HOPS % RING);
        return 1;
    }
    printf("RESULT thread_ring %.1f ns/op\n", (double)elapsed / HOPS);
    return 0;
}

GORO_MAIN(bench_main)
