/*
 * select, after Go's select.go. The cases are polled in a random order
 * (fairness among ready cases), with every involved channel locked in
 * address order (each distinct channel once), so that two selects over the
 * same channels cannot deadlock. If no case is ready the goroutine queues a
 * sudog on every channel and parks; the first waker to claim its selstate
 * (chan.c's sel_claim) decides the case. Once woken the selector relocks
 * every channel but the winning one and unlinks its remaining sudogs.
 *
 * A timeout is one more receive case, on a one-shot timer's channel.
 */
#include "chan.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

enum { SELECT_SMALL = 8 }; /* cases whose scratch space lives on the stack */

typedef struct selctx {
    goro_case *cases;
    size_t n;            /* the caller's cases */
    goro_case extra;     /* case n when ncases > n: the timeout's timer channel */
    size_t ncases;
    uint32_t *pollorder; /* cases with a channel, in random order */
    uint32_t *lockorder; /* the same, sorted by channel address */
    size_t norder;
    selstate st;
} selctx;

static goro_case *case_at(selctx *s, uint32_t i)
{
    return i < s->n ? &s->cases[i] : &s->extra;
}

static uintptr_t chan_addr(selctx *s, uint32_t i)
{
    return (uintptr_t)case_at(s, i)->chan;
}

/* Inside-out Fisher-Yates over the cases that have a channel. */
static void build_pollorder(selctx *s)
{
    s->norder = 0;
    for (uint32_t i = 0; i < s->ncases; i++) {
        if (!case_at(s, i)->chan)
            continue;
        uint32_t j = cheaprandn((uint32_t)s->norder + 1);
        s->pollorder[s->norder] = s->pollorder[j];
        s->pollorder[j] = i;
        s->norder++;
    }
}

static void sift_down(selctx *s, uint32_t *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && chan_addr(s, a[child + 1]) > chan_addr(s, a[child]))
            child++;
        if (chan_addr(s, a[root]) >= chan_addr(s, a[child]))
            return;
        uint32_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* Heap sort, as Go: O(n log n) and no allocation. */
static void build_lockorder(selctx *s)
{
    uint32_t *a = s->lockorder;
    for (size_t i = 0; i < s->norder; i++)
        a[i] = s->pollorder[i];
    for (size_t i = s->norder / 2; i-- > 0;)
        sift_down(s, a, i, s->norder);
    for (size_t end = s->norder; end-- > 1;) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(s, a, 0, end);
    }
}

/* Locks every distinct channel but skip, in address order. */
static void sellock(selctx *s, goro_chan *skip)
{
    goro_chan *prev = NULL;
    for (size_t k = 0; k < s->norder; k++) {
        goro_chan *c = case_at(s, s->lockorder[k])->chan;
        if (c != prev && c != skip)
            spinlock(&c->lock);
        prev = c;
    }
}

/* Unlocks in reverse order. As soon as one lock is released a waker may
 * claim the select and the selector may run; it must take every other
 * lock before it can return, so s (on its stack) stays valid while we hold
 * one, and is not touched after the last unlock. */
static void selunlock(selctx *s, goro_chan *skip)
{
    for (size_t k = s->norder; k-- > 0;) {
        goro_chan *c = case_at(s, s->lockorder[k])->chan;
        bool first_of_run = k == 0 || case_at(s, s->lockorder[k - 1])->chan != c;
        if (first_of_run && c != skip)
            spinunlock(&c->lock);
    }
}

static bool selparkcommit(g *gp, void *s)
{
    (void)gp;
    selunlock(s, NULL);
    return true;
}

/* Pass 1, with every lock held: the first ready case in poll order
 * proceeds; returns its index, or -EAGAIN with the locks still held. */
static int poll_cases(selctx *s)
{
    for (size_t k = 0; k < s->norder; k++) {
        uint32_t i = s->pollorder[k];
        goro_case *cs = case_at(s, i);
        g *wake = NULL;
        int r = cs->dir == GORO_SEND ? send_locked(cs->chan, cs->elem, &wake)
                                     : recv_locked(cs->chan, cs->elem, &wake);
        if (r == -EAGAIN)
            continue;
        cs->ok = cs->dir == GORO_SEND ? r == 0 : r == 1;
        selunlock(s, NULL);
        if (wake)
            goready(wake);
        return (int)i;
    }
    return -EAGAIN;
}

/* Pass 2 and 3: queue a sudog on every channel, park, and once a waker has
 * claimed one, take the others back. */
static int wait_cases(selctx *s)
{
    g *gp = getg();
    s->st = (selstate){ .sgs = s->st.sgs, .n = s->ncases };
    for (uint32_t i = 0; i < s->ncases; i++) {
        goro_case *cs = case_at(s, i);
        s->st.sgs[i] = (sudog){ .g = gp, .elem = cs->elem, .c = cs->chan, .sel = &s->st,
                                .caseidx = i, .is_send = cs->dir == GORO_SEND };
    }
    /* Queued in lock order, as Go does: it comes from the random poll
     * order, so of several cases on one channel a later peer finds them in
     * a random order (in case order the first case always won). */
    for (size_t k = 0; k < s->norder; k++) {
        sudog *sg = &s->st.sgs[s->lockorder[k]];
        waitq_enqueue(sudog_queue(sg), sg);
    }
    gopark(selparkcommit, s, s->norder ? waitReasonSelect : waitReasonSelectNoCases);
    sudog *w = s->st.winner; /* published by the claimer's goready */
    sellock(s, w->c);
    for (uint32_t i = 0; i < s->ncases; i++) {
        sudog *sg = &s->st.sgs[i];
        if (sg->c && sg->c != w->c)
            waitq_remove(sudog_queue(sg), sg);
    }
    selunlock(s, w->c);
    case_at(s, w->caseidx)->ok = w->success;
    return (int)w->caseidx;
}

static int selectgo1(selctx *s, bool block)
{
    build_pollorder(s);
    build_lockorder(s);
    sellock(s, NULL);
    int r = poll_cases(s);
    if (r != -EAGAIN)
        return r;
    if (!block) {
        selunlock(s, NULL);
        return -EAGAIN;
    }
    return wait_cases(s);
}

/* tc: an extra receive case (index n) on a timer's channel, or NULL. */
static int selectgo(goro_case *cases, size_t n, goro_chan *tc, bool block)
{
    selctx s = { .cases = cases, .n = n, .extra = { tc, GORO_RECV, NULL, 0 }, .ncases = n + (tc != NULL) };
    uint32_t orders[2 * SELECT_SMALL];
    sudog sgs[SELECT_SMALL];
    void *heap = NULL;
    if (s.ncases <= SELECT_SMALL) {
        s.pollorder = orders;
        s.lockorder = orders + SELECT_SMALL;
        s.st.sgs = sgs;
    } else {
        heap = malloc(s.ncases * (sizeof(sudog) + 2 * sizeof(uint32_t)));
        if (!heap)
            return -ENOMEM;
        s.st.sgs = heap;
        s.pollorder = (uint32_t *)(s.st.sgs + s.ncases);
        s.lockorder = s.pollorder + s.ncases;
    }
    int r = selectgo1(&s, block);
    free(heap);
    return r;
}

static int select_timeout(goro_case *cases, size_t n, int64_t timeout_ns)
{
    int r = selectgo(cases, n, NULL, false);
    if (r != -EAGAIN)
        return r;
    goro_timer *t = goro_timer_new(timeout_ns, 0);
    if (!t)
        return -errno;
    r = selectgo(cases, n, goro_timer_chan(t), true);
    goro_timer_free(t);
    return r == (int)n ? -ETIMEDOUT : r;
}

static bool cases_valid(const goro_case *cases, size_t n)
{
    if (n > 0 && !cases)
        return false;
    if (n >= INT_MAX) /* the index, and the timeout's extra case, must fit in an int */
        return false;
    for (size_t i = 0; i < n; i++) {
        const goro_case *cs = &cases[i];
        if (cs->dir != GORO_RECV && cs->dir != GORO_SEND)
            return false;
        if (cs->dir == GORO_SEND && cs->chan && !send_elem_ok(cs->chan, cs->elem))
            return false;
    }
    return true;
}

int goro_select(goro_case *cases, size_t n, int64_t timeout_ns)
{
    if (!cases_valid(cases, n))
        return -EINVAL;
    if (timeout_ns == 0)
        return selectgo(cases, n, NULL, false);
    if (!chan_may_block())
        return -EPERM;
    check_preempt();
    if (timeout_ns < 0)
        return selectgo(cases, n, NULL, true);
    return select_timeout(cases, n, timeout_ns);
}
