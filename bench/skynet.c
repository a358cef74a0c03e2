/*
 * skynet: 1e6 leaf goroutines in a 10-ary tree (1,111,111 goroutines in all);
 * each node spawns its 10 children, which send their subtree's sum to it over
 * its unbuffered channel, and passes the total up. Reports ms for the whole
 * tree; the sum must be 499999500000. Twin: go/skynet.go.
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>

enum { LEAVES = 1000000, DIV = 10 };

typedef struct {
    goro_chan *parent;
    int64_t num, size;
} node;

static void skynet(void *arg)
{
    node *n = arg;
    int64_t sum = n->num;
    if (n->size > 1) {
        goro_chan *rc = goro_chan_make(sizeof(int64_t), 0);
        if (!rc)
            abort();
        int64_t sub = n->size / DIV;
        for (int i = 0; i < DIV; i++) {
            node *child = malloc(sizeof *child);
            if (!child)
                abort();
            *child = (node){ rc, n->num + i * sub, sub };
            if (goro_go(skynet, child) < 0)
                abort();
        }
        sum = 0;
        for (int i = 0; i < DIV; i++) {
            int64_t v;
            if (goro_chan_recv(rc, &v) != 1)
                abort();
            sum += v;
        }
        if (goro_chan_free(rc) != 0)
            abort();
    }
    goro_chan *parent = n->parent;
    free(n);
    if (goro_chan_send(parent, &sum) != 0)
        abort();
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    goro_chan *c = goro_chan_make(sizeof(int64_t), 0);
    node *root = malloc(sizeof *root);
    if (!c || !root)
        return 1;
    *root = (node){ c, 0, LEAVES };
    int64_t start = goro_now();
    if (goro_go(skynet, root) < 0)
        return 1;
    int64_t sum;
    if (goro_chan_recv(c, &sum) != 1)
        return 1;
    int64_t elapsed = goro_now() - start;
    if (sum != 499999500000LL) {
        fprintf(stderr, "skynet: sum %lld (want 499999500000)\n", (long long)sum);
        return 1;
    }
    printf("RESULT skynet %.1f ms\n", (double)elapsed / 1e6);
    return 0;
}

GORO_MAIN(bench_main)
