/*
 * Channels, after Go's chan.go: a ring buffer, a spin lock, and queues of
 * blocked senders and receivers (sudogs on their own stacks, see chan.h).
 *
 * Ordering: every field is read and written under c->lock except qcount,
 * which goro_chan_len reads racily. What a waker writes for a parked
 * goroutine (the element it copied, sudog.success, selstate.winner) is
 * published by goready: the run-queue insertion is a release that the M
 * running the goroutine acquires (runq.c). A waker readies only after
 * unlocking, because goready may yield (check_preempt) and a spin lock must
 * never be held across a yield.
 */
#include "chan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

goro_chan *goro_chan_make(size_t elem_size, size_t cap)
{
    if (elem_size != 0 && cap > (SIZE_MAX - sizeof(goro_chan)) / elem_size) {
        errno = EINVAL;
        return NULL;
    }
    goro_chan *c = calloc(1, sizeof *c + elem_size * cap);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    spinlockinit(&c->lock, LOCKRANK_CHAN);
    c->elemsize = elem_size;
    c->dataqsiz = cap;
    c->magic = CHAN_LIVE;
    return c;
}

static void chan_check_live(const goro_chan *c, const char *call)
{
    check_live(&c->magic, CHAN_LIVE, CHAN_FREED, call, "channel");
}

/* ------------------------------------------------------------ wait queues */

void waitq_enqueue(waitq *q, sudog *sg)
{
    sg->next = NULL;
    sg->prev = q->last;
    if (q->last)
        q->last->next = sg;
    else
        q->first = sg;
    q->last = sg;
}

void waitq_remove(waitq *q, sudog *sg)
{
    if (sg->prev)
        sg->prev->next = sg->next;
    else
        q->first = sg->next;
    if (sg->next)
        sg->next->prev = sg->prev;
    else
        q->last = sg->prev;
    sg->next = sg->prev = NULL;
}

/* Claims sg's select for the caller, which holds sg->c's lock. The
 * claimers of one select hold different channel locks, so the CAS alone
 * decides; the relaxed pre-check skips the locked instruction for a select
 * already won (a stale 0 only means the CAS fails). What the winner writes
 * next reaches the selector through goready. */
static bool sel_claim(sudog *sg)
{
    selstate *sel = sg->sel;
    if (load_relaxed(&sel->done) != 0 || !cas_acqrel(&sel->done, 0, 1))
        return false;
    sel->winner = sg;
    for (size_t i = 0; i < sel->n; i++)
        if (sel->sgs[i].c == sg->c)
            waitq_remove(sudog_queue(&sel->sgs[i]), &sel->sgs[i]);
    return true;
}

/* The first waiter in q that can still take part, unlinked; NULL if none.
 * Sudogs of selects already won stay queued until their selector unlinks
 * them (chan.h's lifetime rule). */
static sudog *waitq_dequeue(waitq *q)
{
    for (sudog *sg = q->first; sg; sg = sg->next) {
        if (!sg->sel) {
            waitq_remove(q, sg);
            return sg;
        }
        if (sel_claim(sg))
            return sg;
    }
    return NULL;
}

/* ------------------------------------------------------------ elements */

static unsigned char *chanbuf(goro_chan *c, size_t i)
{
    return c->buf + i * c->elemsize;
}

/* dst NULL: a receiver that discards the value. Word-sized elements, the
 * common case, are copied inline rather than through a call to memcpy. */
static void elem_copy(goro_chan *c, void *dst, const void *src)
{
    if (!dst)
        return;
    switch (c->elemsize) {
    case 0:
        return;
    case sizeof(uint32_t):
        memcpy(dst, src, sizeof(uint32_t));
        return;
    case sizeof(uint64_t):
        memcpy(dst, src, sizeof(uint64_t));
        return;
    default:
        memcpy(dst, src, c->elemsize);
    }
}

static void elem_clear(goro_chan *c, void *dst)
{
    if (dst && c->elemsize)
        memset(dst, 0, c->elemsize);
}

static size_t ring_next(goro_chan *c, size_t i)
{
    return i + 1 == c->dataqsiz ? 0 : i + 1;
}

/* Hands ep straight to a parked receiver. */
static g *send_to(goro_chan *c, sudog *sg, const void *ep)
{
    elem_copy(c, sg->elem, ep);
    sg->success = true;
    return sg->g;
}

/* Takes a parked sender's value: directly when unbuffered; otherwise the
 * buffer is full, so take its head and put the sender's value at the tail
 * (which is the slot just emptied), keeping FIFO order. */
static g *recv_from(goro_chan *c, sudog *sg, void *ep)
{
    if (c->dataqsiz == 0) {
        elem_copy(c, ep, sg->elem);
    } else {
        unsigned char *slot = chanbuf(c, c->recvx);
        elem_copy(c, ep, slot);
        elem_copy(c, slot, sg->elem);
        c->recvx = ring_next(c, c->recvx);
        c->sendx = c->recvx;
    }
    sg->success = true;
    return sg->g;
}

int send_locked(goro_chan *c, const void *ep, g **wake)
{
    if (c->closed)
        return -EPIPE;
    sudog *sg = waitq_dequeue(&c->recvq);
    if (sg) {
        *wake = send_to(c, sg, ep);
        return 0;
    }
    if (c->qcount == c->dataqsiz)
        return -EAGAIN;
    elem_copy(c, chanbuf(c, c->sendx), ep);
    c->sendx = ring_next(c, c->sendx);
    store_relaxed(&c->qcount, c->qcount + 1); /* goro_chan_len reads it racily */
    return 0;
}

int recv_locked(goro_chan *c, void *ep, g **wake)
{
    sudog *sg = waitq_dequeue(&c->sendq);
    if (sg) {
        *wake = recv_from(c, sg, ep);
        return 1;
    }
    if (c->qcount > 0) {
        elem_copy(c, ep, chanbuf(c, c->recvx));
        c->recvx = ring_next(c, c->recvx);
        store_relaxed(&c->qcount, c->qcount - 1); /* goro_chan_len reads it racily */
        return 1;
    }
    if (c->closed) {
        elem_clear(c, ep);
        return 0;
    }
    return -EAGAIN;
}

/* ------------------------------------------------------------ send, recv */

/* gopark's unlockf: runs once the goroutine is off its stack, so a waker,
 * which needs the lock to find the sudog, cannot ready it any earlier. */
static bool unlock_chan(g *gp, void *c)
{
    (void)gp;
    spinunlock(&((goro_chan *)c)->lock);
    return true;
}

static void unlock_and_ready(goro_chan *c, g *wake)
{
    spinunlock(&c->lock);
    if (wake)
        goready(wake);
}

/* Parks the caller, which holds c's lock, as a waiter on c until a partner
 * or close takes its sudog; returns what the waker set in success. */
static bool park_on(goro_chan *c, void *ep, bool is_send)
{
    sudog me = { .g = getg(), .elem = ep, .c = c, .is_send = is_send };
    waitq_enqueue(sudog_queue(&me), &me);
    gopark(unlock_chan, c, is_send ? waitReasonChanSend : waitReasonChanReceive);
    return me.success; /* published by goready */
}

static int chansend(goro_chan *c, const void *ep, bool block)
{
    g *wake = NULL;
    spinlock(&c->lock);
    int r = send_locked(c, ep, &wake);
    if (r != -EAGAIN || !block) {
        unlock_and_ready(c, wake);
        return r;
    }
    return park_on(c, (void *)ep, true) ? 0 : -EPIPE;
}

static int chanrecv(goro_chan *c, void *ep, bool block)
{
    g *wake = NULL;
    spinlock(&c->lock);
    int r = recv_locked(c, ep, &wake);
    if (r != -EAGAIN || !block) {
        unlock_and_ready(c, wake);
        return r;
    }
    return park_on(c, ep, false) ? 1 : 0; /* close zeroed ep */
}

int goro_chan_send(goro_chan *c, const void *elem)
{
    if (!c || !send_elem_ok(c, elem))
        return -EINVAL;
    if (!chan_may_block())
        return -EPERM;
    check_preempt();
    return chansend(c, elem, true);
}

int goro_chan_recv(goro_chan *c, void *elem)
{
    if (!c)
        return -EINVAL;
    if (!chan_may_block())
        return -EPERM;
    check_preempt();
    return chanrecv(c, elem, true);
}

int goro_chan_trysend(goro_chan *c, const void *elem)
{
    return c && send_elem_ok(c, elem) ? chansend(c, elem, false) : -EINVAL;
}

int goro_chan_tryrecv(goro_chan *c, void *elem)
{
    return c ? chanrecv(c, elem, false) : -EINVAL;
}

/* ------------------------------------------------------------ close, free */

/* Takes every waiter off q for close: receivers get a zero value, senders
 * learn that nothing was sent. Their goroutines are readied after the
 * lock is released (schedlink is free while a goroutine is parked). */
static void release_waiters(goro_chan *c, waitq *q, gList *woken)
{
    sudog *sg;
    while ((sg = waitq_dequeue(q))) {
        if (!sg->is_send)
            elem_clear(c, sg->elem);
        sg->success = false;
        glist_push(woken, sg->g);
    }
}

int goro_chan_close(goro_chan *c)
{
    if (!c)
        return -EINVAL;
    chan_check_live(c, "goro_chan_close");
    spinlock(&c->lock);
    if (c->closed) {
        spinunlock(&c->lock);
        return -EPIPE;
    }
    c->closed = 1;
    gList woken = { NULL };
    release_waiters(c, &c->recvq, &woken);
    release_waiters(c, &c->sendq, &woken);
    spinunlock(&c->lock);
    g *gp;
    while ((gp = glist_pop(&woken)))
        goready(gp);
    return 0;
}

size_t goro_chan_len(const goro_chan *c)
{
    return c ? load_relaxed(&c->qcount) : 0; /* a snapshot, as Go's len(ch) */
}

size_t goro_chan_cap(const goro_chan *c)
{
    return c ? c->dataqsiz : 0;
}

int goro_chan_free(goro_chan *c)
{
    if (!c)
        return -EINVAL;
    chan_check_live(c, "goro_chan_free");
    spinlock(&c->lock);
    bool busy = c->recvq.first || c->sendq.first;
    spinunlock(&c->lock);
    if (busy)
        return -EBUSY;
    mark_freed(&c->magic, CHAN_FREED);
    free(c);
    return 0;
}
