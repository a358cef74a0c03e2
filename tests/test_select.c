/*
 * test_select — goro_select: argument checks, default (timeout 0), timeout,
 * NULL channels, SEND on a closed channel (ok = 0), fairness between ready
 * cases, blocking selects woken by a send, a receive and a close (and
 * leaving no sudog behind), a partner freeing the channel right after its
 * operation, select against select, and two randomized tests mixing every
 * channel operation:
 *  - a model test: goroutines take turns under a token and check each
 *    non-blocking outcome against a sequential model of the channels;
 *  - a conservation test: blocking operations at random, then every value
 *    received must have been sent exactly once, every sent value received,
 *    per-sender FIFO order held, and receives of 0 only after a close.
 *
 * White-box: waiters() counts the sudogs queued on a channel.
 */
#include "chanwait.h"

#include <errno.h>
#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static goro_case rcase(goro_chan *c, void *elem)
{
    return (goro_case){ c, GORO_RECV, elem, -1 };
}

static goro_case scase(goro_chan *c, void *elem)
{
    return (goro_case){ c, GORO_SEND, elem, -1 };
}

/* ------------------------------------------------------------ basics */

static void *plain_select(void *arg)
{
    goro_case cs[1] = { rcase(arg, NULL) };
    long bad = goro_select(cs, 1, -1) != -EPERM;
    bad |= (long)(goro_select(cs, 1, 0) != -EAGAIN) << 1;
    return (void *)bad;
}

static void test_basics(void)
{
    goro_chan *a = goro_chan_make(sizeof(int), 1), *b = goro_chan_make(sizeof(int), 1);
    int x = 0, y = 0;
    goro_case cs[3] = { rcase(a, &x), rcase(b, &y), rcase(NULL, NULL) };
    CHECK(goro_select(NULL, 1, 0) == -EINVAL, "NULL cases");
    cs[2].dir = 3;
    CHECK(goro_select(cs, 3, 0) == -EINVAL, "bad direction");
    cs[2].dir = GORO_SEND;
    CHECK(goro_select(NULL, 0, 0) == -EAGAIN, "no cases, default");
    CHECK(goro_select(cs, 3, 0) == -EAGAIN, "nothing ready, default");
    int v = 11;
    CHECK(goro_chan_send(b, &v) == 0, "send");
    CHECK(goro_select(cs, 3, 0) == 1 && cs[1].ok == 1 && y == 11, "ready case: y %d", y);
    CHECK(goro_select(cs, 3, 0) == -EAGAIN, "drained");
    /* A SEND case: b has room again. */
    goro_case snd[2] = { scase(NULL, &v), scase(b, &v) };
    CHECK(goro_select(snd, 2, 0) == 1 && snd[1].ok == 1 && goro_chan_len(b) == 1, "send case");
    CHECK(goro_select(snd, 2, 0) == -EAGAIN, "send case on a full channel");
    goro_case nulls[2] = { rcase(NULL, &x), scase(NULL, &v) };
    CHECK(goro_select(nulls, 2, 0) == -EAGAIN, "NULL channels are never ready");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, plain_select, a) == 0, "pthread_create");
    void *res;
    pthread_join(t, &res);
    CHECK(res == NULL, "plain thread: bits %ld", (long)res);
    CHECK(goro_chan_free(a) == 0 && goro_chan_free(b) == 0, "free");
    tap_ok("argument checks, default, NULL channels, -EPERM on a plain thread");
}

static void test_closed(void)
{
    goro_chan *c = goro_chan_make(sizeof(int), 2);
    int v = 3, x = -1;
    CHECK(goro_chan_send(c, &v) == 0 && goro_chan_close(c) == 0, "send, close");
    goro_case snd[3] = { rcase(NULL, &x), scase(c, &v), rcase(NULL, NULL) };
    CHECK(goro_select(snd, 3, -1) == 1 && snd[1].ok == 0, "SEND on closed: ok %d", snd[1].ok);
    CHECK(goro_chan_len(c) == 1, "the closed SEND case sent something");
    goro_case rcv[1] = { rcase(c, &x) };
    CHECK(goro_select(rcv, 1, 0) == 0 && rcv[0].ok == 1 && x == 3, "drain: x %d", x);
    x = -1;
    CHECK(goro_select(rcv, 1, -1) == 0 && rcv[0].ok == 0 && x == 0, "RECV on drained: ok %d x %d", rcv[0].ok, x);
    CHECK(goro_chan_free(c) == 0, "free");
    tap_ok("SEND case on a closed channel chosen with ok = 0; RECV gets 0 after draining");
}

static void late_sender(void *arg)
{
    int v = 9;
    wait_for_waiters(arg, 1);
    CHECK(goro_chan_send(arg, &v) == 0, "send");
}

static void test_timeout(void)
{
    goro_chan *c = goro_chan_make(sizeof(int), 0);
    int x = 0;
    goro_case cs[2] = { rcase(c, &x), rcase(NULL, NULL) };
    int64_t t0 = check_now_ns();
    int r = goro_select(cs, 2, 20 * 1000000);
    int64_t dt = check_now_ns() - t0;
    CHECK(r == -ETIMEDOUT, "select with timeout returned %d", r);
    CHECK(dt >= 20 * 1000000, "timed out after %lld ns", (long long)dt);
    CHECK(waiters(c) == 0, "a sudog stayed queued after the timeout");
    /* A value that arrives before the timeout wins. */
    CHECK(goro_go(late_sender, c) > 0, "go");
    r = goro_select(cs, 2, 60 * 1000000000ll);
    CHECK(r == 0 && cs[0].ok == 1 && x == 9, "select with a long timeout returned %d, x %d", r, x);
    CHECK(goro_chan_free(c) == 0, "free");
    tap_ok("timeout: -ETIMEDOUT after %.1f ms (asked 20); a value before the timeout wins", (double)dt / 1e6);
}

/* ------------------------------------------------------------ fairness */

static void test_fairness(void)
{
    enum { N = 10000 };
    goro_chan *a = goro_chan_make(sizeof(int), 1), *b = goro_chan_make(sizeof(int), 1);
    int v = 1, x;
    int count[2] = { 0, 0 };
    goro_case cs[2] = { rcase(a, &x), rcase(b, &x) };
    for (int i = 0; i < N; i++) {
        goro_chan_trysend(a, &v);
        goro_chan_trysend(b, &v);
        int r = goro_select(cs, 2, 0);
        CHECK(r == 0 || r == 1, "select returned %d with both ready", r);
        count[r]++;
    }
    CHECK(count[0] >= N * 4 / 10 && count[1] >= N * 4 / 10, "case 0 chosen %d times, case 1 %d of %d", count[0],
          count[1], N);
    goro_chan_free(a);
    goro_chan_free(b);
    tap_ok("fairness: two ready cases chosen %d and %d times of %d", count[0], count[1], N);
}

/* ------------------------------------------------------------ blocking */

typedef struct blocked {
    goro_case cs[4];
    size_t n;
    int r;
    atomic_int done;
} blocked;

static void blocked_select(void *arg)
{
    blocked *b = arg;
    b->r = goro_select(b->cs, b->n, -1);
    atomic_store(&b->done, 1);
}

static void wait_done(blocked *b)
{
    while (!atomic_load(&b->done))
        goro_yield();
}

static void test_blocking(void)
{
    goro_chan *a = goro_chan_make(sizeof(int), 0), *b = goro_chan_make(sizeof(int), 2),
              *c = goro_chan_make(sizeof(int), 0);
    int x = -1, y = -1, out = 77, v;

    /* Woken by a send on b: the other sudogs must be gone afterwards. */
    blocked s1 = { .cs = { rcase(a, &x), rcase(b, &y), scase(c, &out), rcase(NULL, NULL) }, .n = 4 };
    CHECK(goro_go(blocked_select, &s1) > 0, "go");
    wait_for_waiters(b, 1);
    v = 5;
    CHECK(goro_chan_send(b, &v) == 0, "send");
    wait_done(&s1);
    CHECK(s1.r == 1 && s1.cs[1].ok == 1 && y == 5 && x == -1, "r %d ok %d y %d x %d", s1.r, s1.cs[1].ok, y, x);
    CHECK(waiters(a) == 0 && waiters(b) == 0 && waiters(c) == 0, "sudogs left queued");

    /* Woken by a receive: its SEND case hands the value over. */
    blocked s2 = { .cs = { rcase(a, &x), scase(c, &out) }, .n = 2 };
    CHECK(goro_go(blocked_select, &s2) > 0, "go");
    wait_for_waiters(c, 1);
    CHECK(goro_chan_recv(c, &v) == 1 && v == 77, "recv got %d", v);
    wait_done(&s2);
    CHECK(s2.r == 1 && s2.cs[1].ok == 1 && waiters(a) == 0, "r %d", s2.r);

    /* Woken by a close: ok = 0 and a zeroed element. */
    x = -1;
    blocked s3 = { .cs = { rcase(a, &x), scase(c, &out) }, .n = 2 };
    CHECK(goro_go(blocked_select, &s3) > 0, "go");
    wait_for_waiters(a, 1);
    CHECK(goro_chan_close(a) == 0, "close");
    wait_done(&s3);
    CHECK(s3.r == 0 && s3.cs[0].ok == 0 && x == 0 && waiters(c) == 0, "r %d ok %d x %d", s3.r, s3.cs[0].ok, x);
    CHECK(goro_chan_free(a) == 0 && goro_chan_free(b) == 0 && goro_chan_free(c) == 0, "free");
    tap_ok("blocking select woken by a send, a receive and a close; no sudog left behind");

    /* One channel in two cases; the partner frees it as soon as its receive
     * returns (ASan catches the selector touching it afterwards). */
    goro_chan *d = goro_chan_make(sizeof(int), 0), *e = goro_chan_make(sizeof(int), 0);
    blocked s4 = { .cs = { scase(d, &out), rcase(d, &x), rcase(e, &y) }, .n = 3 };
    CHECK(goro_go(blocked_select, &s4) > 0, "go");
    wait_for_waiters(d, 2);
    CHECK(goro_chan_recv(d, &v) == 1 && v == 77, "recv got %d", v);
    CHECK(goro_chan_free(d) == 0, "the partner could not free the channel at once");
    wait_done(&s4);
    CHECK(s4.r == 0 && s4.cs[0].ok == 1 && waiters(e) == 0, "r %d", s4.r);
    CHECK(goro_chan_free(e) == 0, "free");

    /* Zero cases and only NULL channels block: the goroutine stays parked. */
    blocked s5 = { .cs = { rcase(NULL, NULL) }, .n = 1 };
    CHECK(goro_go(blocked_select, &s5) > 0, "go");
    for (int i = 0; i < 100; i++)
        goro_yield();
    CHECK(!atomic_load(&s5.done), "a select on NULL channels returned");
    tap_ok("the channel of the winning case is free to go at once; NULL-only select blocks");
}

/* ------------------------------------------------------------ select vs select */

typedef struct svs {
    goro_chan *ch[2];
    int per_sender;
    atomic_uchar *seen;
    atomic_int dup;
    goro_waitgroup senders, receivers;
} svs;

typedef struct svs_arg {
    svs *s;
    int id;
} svs_arg;

static void svs_sender(void *arg)
{
    svs_arg *a = arg;
    for (int i = 0; i < a->s->per_sender; i++) {
        int v = a->id * a->s->per_sender + i;
        goro_case cs[2] = { scase(a->s->ch[0], &v), scase(a->s->ch[1], &v) };
        int r = goro_select(cs, 2, -1);
        CHECK(r >= 0 && cs[r].ok == 1, "select send: r %d", r);
    }
    goro_waitgroup_done(&a->s->senders);
}

/* A case whose channel is closed and drained becomes a NULL channel, as in
 * Go; the receiver stops when both are. */
static void svs_receiver(void *arg)
{
    svs *s = arg;
    int v;
    goro_case cs[2] = { rcase(s->ch[0], &v), rcase(s->ch[1], &v) };
    while (cs[0].chan || cs[1].chan) {
        int r = goro_select(cs, 2, -1);
        CHECK(r == 0 || r == 1, "select recv: r %d", r);
        if (!cs[r].ok) {
            cs[r].chan = NULL;
            continue;
        }
        if (atomic_fetch_add(&s->seen[v], 1) != 0)
            atomic_fetch_add(&s->dup, 1);
    }
    goro_waitgroup_done(&s->receivers);
}

static void test_select_vs_select(void)
{
    enum { NS = 6, NR = 6 };
    static svs s;
    s = (svs){ .ch = { goro_chan_make(sizeof(int), 0), goro_chan_make(sizeof(int), 3) },
               .per_sender = SCALE(10000) };
    int total = NS * s.per_sender;
    s.seen = calloc((size_t)total, sizeof *s.seen);
    goro_waitgroup_add(&s.senders, NS);
    goro_waitgroup_add(&s.receivers, NR);
    svs_arg args[NS];
    for (int i = 0; i < NR; i++)
        CHECK(goro_go(svs_receiver, &s) > 0, "go");
    for (int i = 0; i < NS; i++) {
        args[i] = (svs_arg){ &s, i };
        CHECK(goro_go(svs_sender, &args[i]) > 0, "go");
    }
    goro_waitgroup_wait(&s.senders);
    CHECK(goro_chan_close(s.ch[0]) == 0 && goro_chan_close(s.ch[1]) == 0, "close");
    goro_waitgroup_wait(&s.receivers);
    int missing = 0;
    for (int i = 0; i < total; i++)
        missing += atomic_load(&s.seen[i]) == 0;
    CHECK(missing == 0 && atomic_load(&s.dup) == 0, "%d lost, %d duplicated", missing, atomic_load(&s.dup));
    CHECK(goro_chan_free(s.ch[0]) == 0 && goro_chan_free(s.ch[1]) == 0, "free");
    free(s.seen);
    tap_ok("%d selecting senders x %d selecting receivers: %d values exactly once", NS, NR, total);
}

/* ------------------------------------------------------------ model test */

enum { MCH = 3, MCAP_MAX = 3, MW = 4 };

typedef struct model_chan {
    goro_chan *c;
    size_t cap;
    int64_t q[MCAP_MAX];
    size_t head, count;
    bool closed;
} model_chan;

static struct {
    goro_chan *token;
    model_chan ch[MCH];
    int64_t next_value;
    int ops;
    goro_waitgroup wg;
} M;

static void model_push(model_chan *m, int64_t v)
{
    m->q[(m->head + m->count) % m->cap] = v;
    m->count++;
}

static int64_t model_pop(model_chan *m)
{
    int64_t v = m->q[m->head];
    m->head = (m->head + 1) % m->cap;
    m->count--;
    return v;
}

static bool model_ready(model_chan *m, int dir)
{
    if (dir == GORO_SEND)
        return m->closed || m->count < m->cap;
    return m->count > 0 || m->closed;
}

/* Applies a send or receive the model says can proceed and checks what
 * the channel reported. */
static void model_apply(model_chan *m, int dir, int64_t sent, int ret_ok, int64_t got)
{
    if (dir == GORO_SEND) {
        CHECK(ret_ok == !m->closed, "send ok %d, closed %d", ret_ok, m->closed);
        if (!m->closed)
            model_push(m, sent);
    } else if (m->count > 0) {
        int64_t want = model_pop(m);
        CHECK(ret_ok == 1 && got == want, "recv ok %d got %lld want %lld", ret_ok, (long long)got, (long long)want);
    } else {
        CHECK(ret_ok == 0 && got == 0, "recv on closed: ok %d got %lld", ret_ok, (long long)got);
    }
}

static void model_trysend(model_chan *m, bool block)
{
    int64_t v = ++M.next_value;
    int want = m->closed ? -EPIPE : m->count < m->cap ? 0 : -EAGAIN;
    if (block && want == -EAGAIN)
        return; /* would block forever: nobody else runs while we hold the token */
    int r = block ? goro_chan_send(m->c, &v) : goro_chan_trysend(m->c, &v);
    CHECK(r == want, "send returned %d, model %d", r, want);
    if (r == 0)
        model_push(m, v);
}

static void model_tryrecv(model_chan *m, bool block)
{
    if (block && !model_ready(m, GORO_RECV))
        return;
    int64_t v = -1;
    int r = block ? goro_chan_recv(m->c, &v) : goro_chan_tryrecv(m->c, &v);
    if (!model_ready(m, GORO_RECV)) {
        CHECK(r == -EAGAIN, "tryrecv returned %d, model -EAGAIN", r);
        return;
    }
    model_apply(m, GORO_RECV, 0, r, v);
}

static void model_select(uint64_t *rng, bool block)
{
    goro_case cs[4];
    int64_t vals[4];
    int dirs[4];
    size_t n = 1 + xorshift(rng) % 4;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = xorshift(rng) % (MCH + 1);
        dirs[i] = xorshift(rng) & 1 ? GORO_SEND : GORO_RECV;
        vals[i] = dirs[i] == GORO_SEND ? ++M.next_value : -1;
        cs[i] = (goro_case){ k < MCH ? M.ch[k].c : NULL, dirs[i], &vals[i], -1 };
        any |= k < MCH && model_ready(&M.ch[k], dirs[i]);
    }
    if (block && !any)
        return;
    int r = goro_select(cs, n, block ? -1 : 0);
    if (!any) {
        CHECK(r == -EAGAIN, "select returned %d, model: nothing ready", r);
        return;
    }
    CHECK(r >= 0 && (size_t)r < n && cs[r].chan, "select returned %d", r);
    model_chan *m = NULL;
    for (int k = 0; k < MCH; k++)
        if (M.ch[k].c == cs[r].chan)
            m = &M.ch[k];
    CHECK(model_ready(m, dirs[r]), "select chose case %d, which the model says is not ready", r);
    model_apply(m, dirs[r], vals[r], cs[r].ok, vals[r]);
}

/* A closed and drained channel is replaced, so the test keeps going. */
static void model_close(model_chan *m)
{
    int r = goro_chan_close(m->c);
    CHECK(r == (m->closed ? -EPIPE : 0), "close returned %d, closed %d", r, m->closed);
    m->closed = true;
    if (m->count == 0) {
        CHECK(goro_chan_free(m->c) == 0, "free of a closed, drained channel");
        m->c = goro_chan_make(sizeof(int64_t), m->cap);
        m->closed = false;
    }
}

static void model_op(uint64_t *rng)
{
    model_chan *m = &M.ch[xorshift(rng) % MCH];
    switch (xorshift(rng) % 16) {
    case 0: case 1: case 2: model_trysend(m, false); break;
    case 3: case 4: case 5: model_tryrecv(m, false); break;
    case 6: model_trysend(m, true); break;
    case 7: model_tryrecv(m, true); break;
    case 8: case 9: case 10: model_select(rng, false); break;
    case 11: model_select(rng, true); break;
    case 12: model_close(m); break;
    default:
        CHECK(goro_chan_len(m->c) == m->count, "len %zu, model %zu", goro_chan_len(m->c), m->count);
        CHECK(goro_chan_cap(m->c) == m->cap, "cap");
    }
}

static void model_worker(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull | 1;
    int tok;
    for (int i = 0; i < M.ops; i++) {
        CHECK(goro_chan_recv(M.token, &tok) == 1, "take the token");
        model_op(&rng);
        CHECK(goro_chan_send(M.token, &tok) == 0, "give the token back");
    }
    goro_waitgroup_done(&M.wg);
}

static void test_model(void)
{
    M.token = goro_chan_make(sizeof(int), 1);
    int tok = 0;
    goro_chan_send(M.token, &tok);
    for (int k = 0; k < MCH; k++)
        M.ch[k] = (model_chan){ .c = goro_chan_make(sizeof(int64_t), (size_t)k), .cap = (size_t)k };
    M.ops = SCALE(20000);
    goro_waitgroup_add(&M.wg, MW);
    for (long w = 0; w < MW; w++)
        CHECK(goro_go(model_worker, (void *)(w + 1)) > 0, "go");
    goro_waitgroup_wait(&M.wg);
    for (int k = 0; k < MCH; k++)
        CHECK(goro_chan_free(M.ch[k].c) == 0, "free");
    goro_chan_free(M.token);
    tap_ok("model: %d random operations by %d goroutines each matched a sequential model", M.ops * MW, MW);
}

/* ------------------------------------------------------------ conservation */

/* Sender CW is the main goroutine: when the workers stall (all of them
 * parked, say all receiving), it unblocks them with try-operations. */
enum { CCH = 3, CW = 6, NSENDERS = CW + 1 };

typedef int64_t lastv[NSENDERS][CCH]; /* a receiver's last value per sender and channel */

static struct {
    goro_chan *ch[CCH];
    atomic_int closing[CCH];   /* set before close is called */
    atomic_int closed_ok[CCH]; /* closes that returned 0 */
    int ops;                   /* sequence numbers per worker */
    int main_ops;              /* and for the main goroutine */
    size_t nval;
    atomic_uchar *sent;        /* per value: 1 sent */
    atomic_uchar *recvd;       /* per value: times received */
    atomic_long progress;
    atomic_int finished;
    atomic_int bad;
    goro_waitgroup wg;
} C;

static int64_t cval(int sender, int seq)
{
    return (int64_t)sender * C.ops + seq + 1; /* 0 is the zero value */
}

static void c_close(int k)
{
    atomic_store(&C.closing[k], 1);
    if (goro_chan_close(C.ch[k]) == 0)
        atomic_fetch_add(&C.closed_ok[k], 1);
}

static void c_sent(int k, int r, int64_t v)
{
    if (r == 0)
        atomic_store(&C.sent[v - 1], 1);
    else if (r != -EAGAIN && (r != -EPIPE || !atomic_load(&C.closing[k])))
        atomic_fetch_add(&C.bad, 1);
}

/* A receive from k returned: check it against what was sent and against
 * this receiver's last value from the same sender on the same channel. */
static void c_received(int k, int ret_ok, int64_t v, lastv last)
{
    if (!ret_ok) {
        if (v != 0 || !atomic_load(&C.closing[k]))
            atomic_fetch_add(&C.bad, 1);
        return;
    }
    if (v <= 0 || v > (int64_t)C.nval) {
        atomic_fetch_add(&C.bad, 1);
        return;
    }
    atomic_fetch_add(&C.recvd[v - 1], 1);
    int sender = (int)((v - 1) / C.ops);
    if (sender > CW)
        sender = CW; /* the main goroutine's values go past CW * ops */
    if (v <= last[sender][k])
        atomic_fetch_add(&C.bad, 1);
    last[sender][k] = v;
}

static void c_select(uint64_t *rng, int w, int *seq, lastv last, bool block)
{
    goro_case cs[3];
    int64_t vals[3];
    int ks[3];
    size_t n = 1 + xorshift(rng) % 3;
    for (size_t i = 0; i < n; i++) {
        ks[i] = (int)(xorshift(rng) % CCH);
        bool snd = xorshift(rng) & 1;
        vals[i] = snd ? cval(w, (*seq)++) : -1;
        cs[i] = (goro_case){ C.ch[ks[i]], snd ? GORO_SEND : GORO_RECV, &vals[i], -1 };
    }
    int r = goro_select(cs, n, block ? -1 : 0);
    if (r == -EAGAIN && !block)
        return;
    CHECK(r >= 0 && (size_t)r < n, "select returned %d", r);
    if (cs[r].dir == GORO_SEND)
        c_sent(ks[r], cs[r].ok ? 0 : -EPIPE, vals[r]);
    else
        c_received(ks[r], cs[r].ok, vals[r], last);
}

static void c_op(uint64_t *rng, int w, int *seq, lastv last)
{
    int k = (int)(xorshift(rng) % CCH);
    int64_t v;
    switch (xorshift(rng) % 64) {
    case 0:
        /* Rarely, and late: most of the traffic runs on open channels. */
        if (*seq > C.ops * 9 / 10 && xorshift(rng) % 8 == 0)
            c_close(k);
        break;
    case 1 ... 12:
        v = cval(w, (*seq)++);
        c_sent(k, xorshift(rng) & 1 ? goro_chan_send(C.ch[k], &v) : goro_chan_trysend(C.ch[k], &v), v);
        break;
    case 13 ... 24: {
        v = -1;
        int r = goro_chan_recv(C.ch[k], &v); /* before reading v */
        c_received(k, r, v, last);
        break;
    }
    case 25 ... 36: {
        v = -1;
        int r = goro_chan_tryrecv(C.ch[k], &v);
        if (r != -EAGAIN)
            c_received(k, r, v, last);
        break;
    }
    case 37 ... 50: c_select(rng, w, seq, last, true); break;
    default: c_select(rng, w, seq, last, false); break;
    }
}

static void c_worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    uint64_t rng = (uint64_t)(w + 1) * 0xD1B54A32D192ED03ull | 1;
    lastv last = { { 0 } };
    /* A select may use up to 3 sequence numbers (its SEND cases). */
    for (int seq = 0; seq + 3 <= C.ops;) {
        c_op(&rng, w, &seq, last);
        atomic_fetch_add(&C.progress, 1);
    }
    atomic_fetch_add(&C.finished, 1);
    goro_waitgroup_done(&C.wg);
}

/* The main goroutine's turn while the workers stall: take what parked
 * senders offer and give parked receivers something. Past its budget of
 * values it closes the channels instead, which wakes everybody. */
static void c_unblock(int *seq, lastv last)
{
    for (int k = 0; k < CCH; k++) {
        int64_t v = -1;
        int r;
        while ((r = goro_chan_tryrecv(C.ch[k], &v)) == 1)
            c_received(k, r, v, last);
        if (*seq >= C.main_ops) {
            c_close(k);
            continue;
        }
        v = cval(CW, (*seq)++);
        c_sent(k, goro_chan_trysend(C.ch[k], &v), v);
    }
}

static void test_conservation(void)
{
    C.ops = SCALE(6000);
    C.main_ops = 4 * C.ops;
    size_t nval = C.nval = (size_t)CW * (size_t)C.ops + (size_t)C.main_ops;
    C.sent = calloc(nval, 1);
    C.recvd = calloc(nval, 1);
    for (int k = 0; k < CCH; k++)
        C.ch[k] = goro_chan_make(sizeof(int64_t), (size_t)(k == 0 ? 0 : 2 * k));
    goro_waitgroup_add(&C.wg, CW);
    for (long w = 0; w < CW; w++)
        CHECK(goro_go(c_worker, (void *)w) > 0, "go");
    int seq = 0;
    lastv last = { { 0 } };
    long seen = -1;
    int unblocks = 0;
    while (atomic_load(&C.finished) < CW) {
        goro_yield();
        long now = atomic_load(&C.progress);
        if (now == seen) {
            c_unblock(&seq, last);
            unblocks++;
        }
        seen = now;
    }
    goro_waitgroup_wait(&C.wg);
    int64_t v;
    for (int k = 0; k < CCH; k++) {
        c_close(k);
        while ((v = -1, goro_chan_recv(C.ch[k], &v)) == 1)
            c_received(k, 1, v, last);
        CHECK(v == 0 && goro_chan_tryrecv(C.ch[k], &v) == 0 && goro_chan_len(C.ch[k]) == 0, "drained %d", k);
        CHECK(atomic_load(&C.closed_ok[k]) == 1, "channel %d: %d closes returned 0", k,
              atomic_load(&C.closed_ok[k]));
        CHECK(goro_chan_free(C.ch[k]) == 0, "free");
    }
    CHECK(atomic_load(&C.bad) == 0, "%d inconsistent outcomes", atomic_load(&C.bad));
    long nsent = 0;
    for (size_t i = 0; i < nval; i++) {
        CHECK(atomic_load(&C.recvd[i]) == atomic_load(&C.sent[i]), "value %zu: sent %d, received %d times", i + 1,
              atomic_load(&C.sent[i]), atomic_load(&C.recvd[i]));
        nsent += C.sent[i];
    }
    free(C.sent);
    free(C.recvd);
    CHECK(nsent > (long)C.ops, "only %ld values sent: the test exercised little", nsent);
    tap_ok("conservation: %ld operations, %ld values sent (main unblocked %d stalls), each received exactly "
           "once, FIFO per sender", atomic_load(&C.progress), nsent, unblocks);
}

/* Go's TestPseudoRandomSend: a select blocked on several SEND cases of
 * one channel, completed by a receiver that comes later, picks a random
 * one (issue 7, bug 8: the first case always won, 100 ones and 0 zeros). */
enum { PR_N = 300, PR_MAXCASES = 3 };
static int64_t pr_got[PR_N];
static goro_waitgroup pr_wg = GORO_WAITGROUP_INIT;

static void pr_receiver(void *arg)
{
    for (int i = 0; i < PR_N; i++) {
        goro_yield();
        CHECK(goro_chan_recv(arg, &pr_got[i]) == 1, "recv");
    }
    goro_waitgroup_done(&pr_wg);
}

static void pseudo_random_send(size_t ncases, size_t cap)
{
    goro_chan *c = goro_chan_make(sizeof(int64_t), cap);
    int64_t vals[PR_MAXCASES] = { 0, 1, 2 };
    goro_case cs[PR_MAXCASES];
    for (size_t k = 0; k < ncases; k++)
        cs[k] = (goro_case){ .chan = c, .dir = GORO_SEND, .elem = &vals[k] };
    goro_waitgroup_add(&pr_wg, 1);
    goro_go(pr_receiver, c);
    for (int i = 0; i < PR_N; i++)
        CHECK(goro_select(cs, ncases, -1) >= 0, "select");
    goro_waitgroup_wait(&pr_wg);
    int count[PR_MAXCASES] = { 0 };
    for (int i = 0; i < PR_N; i++)
        count[pr_got[i]]++;
    for (size_t k = 0; k < ncases; k++)
        CHECK(count[k] > PR_N / (int)ncases / 3, "want pseudorandom sends, case %zu of %zu won %d of %d (cap %zu)", k,
              ncases, count[k], PR_N, cap);
    goro_chan_free(c);
}

static void test_pseudo_random_send(void)
{
    for (size_t ncases = 2; ncases <= PR_MAXCASES; ncases++) {
        pseudo_random_send(ncases, 0);
        pseudo_random_send(ncases, PR_N);
    }
    tap_ok("SEND cases on one channel: each of 2 or 3 wins its share, unbuffered and buffered");
}

static int main_fn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(10);
    test_basics();
    test_closed();
    test_timeout();
    test_fairness();
    test_blocking();
    test_select_vs_select();
    test_model();
    test_conservation();
    test_pseudo_random_send();
    return 0;
}

GORO_MAIN(main_fn)
