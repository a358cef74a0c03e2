/*
 * test_chan — channels: argument checks, len/cap, FIFO order (also through
 * a full buffer with parked senders), unbuffered rendezvous, close
 * semantics (draining, zero values, -EPIPE, waking parked senders and
 * receivers), try-variants (also from a plain thread, which may not block),
 * free refusing while goroutines wait, zero-size elements, and
 * exactly-once delivery with 8 producers and 8 consumers.
 *
 * White-box: waiters() counts the goroutines queued on a channel, so that
 * a test can wait until they are really parked before acting.
 */
#include "chanwait.h"

#include <errno.h>
#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* ------------------------------------------------------------ arguments */

static void test_args(void)
{
    errno = 0;
    CHECK(goro_chan_make(SIZE_MAX / 2, 3) == NULL && errno == EINVAL, "overflowing size accepted");
    int v = 0;
    CHECK(goro_chan_send(NULL, &v) == -EINVAL, "send on NULL");
    CHECK(goro_chan_recv(NULL, &v) == -EINVAL, "recv on NULL");
    CHECK(goro_chan_trysend(NULL, &v) == -EINVAL, "trysend on NULL");
    CHECK(goro_chan_tryrecv(NULL, &v) == -EINVAL, "tryrecv on NULL");
    CHECK(goro_chan_close(NULL) == -EINVAL, "close of NULL");
    CHECK(goro_chan_len(NULL) == 0 && goro_chan_cap(NULL) == 0, "len/cap of NULL");
    goro_chan *c = goro_chan_make(sizeof(int), 5);
    CHECK(c != NULL, "make");
    CHECK(goro_chan_cap(c) == 5 && goro_chan_len(c) == 0, "cap %zu len %zu", goro_chan_cap(c), goro_chan_len(c));
    for (int i = 0; i < 3; i++)
        CHECK(goro_chan_trysend(c, &i) == 0, "trysend %d", i);
    CHECK(goro_chan_len(c) == 3, "len %zu after 3 sends", goro_chan_len(c));
    CHECK(goro_chan_recv(c, &v) == 1 && v == 0, "recv");
    CHECK(goro_chan_len(c) == 2, "len %zu after a receive", goro_chan_len(c));
    CHECK(goro_chan_free(c) == 0, "free with values buffered");
    tap_ok("argument checks, len and cap");
}

/* ------------------------------------------------------------ FIFO */

typedef struct sender_arg {
    goro_chan *c;
    int from, to;
    goro_waitgroup *wg;
} sender_arg;

static void sender(void *arg)
{
    sender_arg *a = arg;
    for (int i = a->from; i < a->to; i++)
        CHECK(goro_chan_send(a->c, &i) == 0, "send %d", i);
    goro_waitgroup_done(a->wg);
}

static void test_fifo(void)
{
    enum { CAP = 7 };
    goro_chan *c = goro_chan_make(sizeof(int), CAP);
    /* The ring wraps many times. */
    int next_in = 0, next_out = 0, v;
    for (int round = 0; round < 100; round++) {
        int k = round % (CAP + 1);
        for (int i = 0; i < k; i++, next_in++)
            CHECK(goro_chan_trysend(c, &next_in) == 0, "trysend %d", next_in);
        if (k == CAP)
            CHECK(goro_chan_trysend(c, &v) == -EAGAIN, "trysend into a full buffer");
        for (int i = 0; i < k; i++, next_out++)
            CHECK(goro_chan_tryrecv(c, &v) == 1 && v == next_out, "got %d, want %d", v, next_out);
        CHECK(goro_chan_tryrecv(c, &v) == -EAGAIN, "tryrecv from an empty buffer");
    }
    /* A full buffer and parked senders: order is buffer first, then the
     * senders' values in send order. */
    for (int i = 0; i < CAP; i++)
        CHECK(goro_chan_send(c, &i) == 0, "send %d", i);
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_waitgroup_add(&wg, 1);
    sender_arg a = { c, CAP, 3 * CAP, &wg };
    CHECK(goro_go(sender, &a) > 0, "go");
    wait_for_waiters(c, 1);
    CHECK(goro_chan_len(c) == CAP, "len %zu with a parked sender", goro_chan_len(c));
    for (int i = 0; i < 3 * CAP; i++)
        CHECK(goro_chan_recv(c, &v) == 1 && v == i, "got %d, want %d", v, i);
    goro_waitgroup_wait(&wg);
    CHECK(goro_chan_len(c) == 0, "len %zu after draining", goro_chan_len(c));
    CHECK(goro_chan_free(c) == 0, "free");
    tap_ok("buffered channels are FIFO (ring wrap-around, full buffer with parked sender)");
}

/* ------------------------------------------------------------ rendezvous */

static atomic_int before_send, after_send;

static void rendezvous_sender(void *arg)
{
    int v = 42;
    atomic_store(&before_send, 1);
    CHECK(goro_chan_send(arg, &v) == 0, "send");
    atomic_store(&after_send, 1);
}

static void test_rendezvous(void)
{
    goro_chan *c = goro_chan_make(sizeof(int), 0);
    int v = 0;
    CHECK(goro_chan_trysend(c, &v) == -EAGAIN, "trysend without a receiver");
    CHECK(goro_chan_tryrecv(c, &v) == -EAGAIN, "tryrecv without a sender");
    CHECK(goro_go(rendezvous_sender, c) > 0, "go");
    wait_for_waiters(c, 1);
    for (int i = 0; i < 100; i++)
        goro_yield();
    CHECK(atomic_load(&after_send) == 0, "an unbuffered send returned with no receiver");
    CHECK(goro_chan_len(c) == 0, "len %zu of an unbuffered channel", goro_chan_len(c));
    CHECK(goro_chan_recv(c, &v) == 1 && v == 42, "recv got %d", v);
    while (!atomic_load(&after_send))
        goro_yield();
    CHECK(goro_chan_free(c) == 0, "free after the rendezvous");
    tap_ok("unbuffered send waits for its receiver and hands the value over");
}

/* ------------------------------------------------------------ close */

typedef struct closer_arg {
    goro_chan *c;
    goro_waitgroup *wg;
    atomic_int *bad;
} closer_arg;

static void parked_receiver(void *arg)
{
    closer_arg *a = arg;
    int v = 12345;
    if (goro_chan_recv(a->c, &v) != 0 || v != 0)
        atomic_fetch_add(a->bad, 1);
    goro_waitgroup_done(a->wg);
}

static void parked_sender(void *arg)
{
    closer_arg *a = arg;
    int v = 7;
    if (goro_chan_send(a->c, &v) != -EPIPE)
        atomic_fetch_add(a->bad, 1);
    goro_waitgroup_done(a->wg);
}

/* n goroutines park on c with fn; close must wake each with its result. */
static void close_wakes(goro_chan *c, goro_fn fn, int n)
{
    atomic_int bad = 0;
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_waitgroup_add(&wg, n);
    closer_arg a = { c, &wg, &bad };
    for (int i = 0; i < n; i++)
        CHECK(goro_go(fn, &a) > 0, "go");
    wait_for_waiters(c, (size_t)n);
    CHECK(goro_chan_free(c) == -EBUSY, "free while %d goroutines wait", n);
    CHECK(goro_chan_close(c) == 0, "close");
    goro_waitgroup_wait(&wg);
    CHECK(atomic_load(&bad) == 0, "%d of %d woken goroutines got a wrong result", atomic_load(&bad), n);
    CHECK(goro_chan_free(c) == 0, "free after close");
}

static void test_close(void)
{
    goro_chan *c = goro_chan_make(sizeof(int), 4);
    int v = 1;
    CHECK(goro_chan_send(c, &v) == 0, "send 1");
    v = 2;
    CHECK(goro_chan_send(c, &v) == 0, "send 2");
    CHECK(goro_chan_close(c) == 0, "close");
    CHECK(goro_chan_close(c) == -EPIPE, "double close");
    CHECK(goro_chan_send(c, &v) == -EPIPE, "send on closed");
    CHECK(goro_chan_trysend(c, &v) == -EPIPE, "trysend on closed");
    CHECK(goro_chan_recv(c, &v) == 1 && v == 1, "drain 1: %d", v);
    CHECK(goro_chan_tryrecv(c, &v) == 1 && v == 2, "drain 2: %d", v);
    v = -1;
    CHECK(goro_chan_recv(c, &v) == 0 && v == 0, "recv after drain: v %d", v);
    v = -1;
    CHECK(goro_chan_tryrecv(c, &v) == 0 && v == 0, "tryrecv after drain: v %d", v);
    CHECK(goro_chan_recv(c, NULL) == 0, "recv into NULL after drain");
    CHECK(goro_chan_free(c) == 0, "free");
    tap_ok("closed channel: drains, then 0 and zero values; sends and double close -EPIPE");

    close_wakes(goro_chan_make(sizeof(int), 0), parked_receiver, 8);
    close_wakes(goro_chan_make(sizeof(int), 2), parked_receiver, 8);
    tap_ok("close wakes parked receivers with 0 and a zeroed element; free says -EBUSY meanwhile");
    c = goro_chan_make(sizeof(int), 1);
    CHECK(goro_chan_trysend(c, &v) == 0, "fill");
    close_wakes(c, parked_sender, 8);
    close_wakes(goro_chan_make(sizeof(int), 0), parked_sender, 8);
    tap_ok("close wakes parked senders with -EPIPE");
}

/* ------------------------------------------------------------ plain thread */

static void *plain_thread(void *arg)
{
    goro_chan *c = arg;
    int v = 5;
    long bad = 0;
    bad |= goro_chan_send(c, &v) != -EPERM;
    bad |= goro_chan_recv(c, &v) != -EPERM;
    bad |= (long)(goro_chan_tryrecv(c, &v) != -EAGAIN) << 1;
    /* The parked receiver takes this one: a plain thread may wake it. */
    bad |= (long)(goro_chan_trysend(c, &v) != 0) << 2;
    return (void *)bad;
}

static atomic_int plain_got;

static void plain_receiver(void *arg)
{
    int v = 0;
    CHECK(goro_chan_recv(arg, &v) == 1, "recv");
    atomic_store(&plain_got, v);
}

static void test_plain_thread(void)
{
    goro_chan *c = goro_chan_make(sizeof(int), 0);
    CHECK(goro_go(plain_receiver, c) > 0, "go");
    wait_for_waiters(c, 1);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, plain_thread, c) == 0, "pthread_create");
    void *res;
    pthread_join(t, &res);
    CHECK(res == NULL, "plain thread: bad results (bits %ld)", (long)res);
    while (atomic_load(&plain_got) != 5)
        goro_yield();
    CHECK(goro_chan_free(c) == 0, "free");
    tap_ok("plain thread: blocking calls -EPERM, try-variants work and wake goroutines");
}

/* ------------------------------------------------------------ zero-size */

static void zero_size_sender(void *arg)
{
    sender_arg *a = arg;
    for (int i = a->from; i < a->to; i++)
        CHECK(goro_chan_send(a->c, NULL) == 0, "send");
    goro_waitgroup_done(a->wg);
}

static void test_zero_size(void)
{
    goro_chan *c = goro_chan_make(0, 3);
    CHECK(c != NULL, "make(0, 3)");
    for (int i = 0; i < 3; i++)
        CHECK(goro_chan_trysend(c, NULL) == 0, "trysend %d", i);
    CHECK(goro_chan_trysend(c, NULL) == -EAGAIN, "trysend into a full zero-size buffer");
    CHECK(goro_chan_len(c) == 3, "len %zu", goro_chan_len(c));
    int sentinel = 99;
    CHECK(goro_chan_recv(c, &sentinel) == 1 && sentinel == 99, "zero-size recv wrote into elem");
    CHECK(goro_chan_free(c) == 0, "free");

    goro_chan *huge = goro_chan_make(0, SIZE_MAX);
    CHECK(huge != NULL && goro_chan_cap(huge) == SIZE_MAX, "make(0, SIZE_MAX)");
    CHECK(goro_chan_free(huge) == 0, "free");

    c = goro_chan_make(0, 0);
    int n = SCALE(10000);
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_waitgroup_add(&wg, 1);
    sender_arg a = { c, 0, n, &wg };
    CHECK(goro_go(zero_size_sender, &a) > 0, "go");
    for (int i = 0; i < n; i++)
        CHECK(goro_chan_recv(c, NULL) == 1, "recv %d", i);
    goro_waitgroup_wait(&wg);
    CHECK(goro_chan_tryrecv(c, NULL) == -EAGAIN, "extra value");
    CHECK(goro_chan_free(c) == 0, "free");
    tap_ok("zero-size elements: buffered, unbuffered, cap SIZE_MAX");
}

/* ------------------------------------------------------------ exactly once */

enum { NPROD = 8, NCONS = 8 };

typedef struct mpmc {
    goro_chan *c;
    int per_producer;
    atomic_uchar *seen;       /* per value */
    atomic_int dup, order_bad;
    goro_waitgroup prod, cons;
} mpmc;

typedef struct worker_arg {
    mpmc *m;
    int id;
} worker_arg;

static void mpmc_producer(void *arg)
{
    worker_arg *w = arg;
    for (int i = 0; i < w->m->per_producer; i++) {
        int v = w->id * w->m->per_producer + i;
        CHECK(goro_chan_send(w->m->c, &v) == 0, "send");
    }
    goro_waitgroup_done(&w->m->prod);
}

/* Receives until close; each consumer sees every producer's values in
 * increasing order (FIFO from one sender to one receiver). */
static void mpmc_consumer(void *arg)
{
    worker_arg *w = arg;
    mpmc *m = w->m;
    int last[NPROD];
    for (int p = 0; p < NPROD; p++)
        last[p] = -1;
    int v;
    while (goro_chan_recv(m->c, &v) == 1) {
        if (atomic_fetch_add(&m->seen[v], 1) != 0)
            atomic_fetch_add(&m->dup, 1);
        int p = v / m->per_producer;
        if (v <= last[p])
            atomic_fetch_add(&m->order_bad, 1);
        last[p] = v;
    }
    goro_waitgroup_done(&m->cons);
}

static void run_mpmc(size_t cap)
{
    static mpmc m;
    m = (mpmc){ .c = goro_chan_make(sizeof(int), cap), .per_producer = SCALE(20000) };
    int total = NPROD * m.per_producer;
    m.seen = calloc((size_t)total, sizeof *m.seen);
    goro_waitgroup_add(&m.prod, NPROD);
    goro_waitgroup_add(&m.cons, NCONS);
    worker_arg args[NPROD + NCONS];
    for (int i = 0; i < NCONS; i++) {
        args[NPROD + i] = (worker_arg){ &m, i };
        CHECK(goro_go(mpmc_consumer, &args[NPROD + i]) > 0, "go");
    }
    for (int i = 0; i < NPROD; i++) {
        args[i] = (worker_arg){ &m, i };
        CHECK(goro_go(mpmc_producer, &args[i]) > 0, "go");
    }
    goro_waitgroup_wait(&m.prod);
    CHECK(goro_chan_close(m.c) == 0, "close");
    goro_waitgroup_wait(&m.cons);
    int missing = 0;
    for (int i = 0; i < total; i++)
        missing += atomic_load(&m.seen[i]) == 0;
    CHECK(missing == 0 && atomic_load(&m.dup) == 0, "cap %zu: %d values lost, %d duplicated", cap, missing,
          atomic_load(&m.dup));
    CHECK(atomic_load(&m.order_bad) == 0, "cap %zu: %d values out of per-producer order", cap,
          atomic_load(&m.order_bad));
    CHECK(goro_chan_free(m.c) == 0, "free");
    free(m.seen);
    tap_ok("%d producers x %d consumers, cap %zu: %d values each delivered exactly once, in order", NPROD, NCONS,
           cap, total);
}

static int main_fn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(10);
    test_args();
    test_fifo();
    test_rendezvous();
    test_close();
    test_plain_thread();
    test_zero_size();
    run_mpmc(0);
    run_mpmc(16);
    return 0;
}

GORO_MAIN(main_fn)
