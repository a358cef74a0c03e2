/*
 * Channels (chan.go) and select (select.go): the structures chan.c and
 * select.c share. Nothing here is visible outside those two files.
 *
 * A blocked sender or receiver waits as a sudog on its own stack, queued in
 * the channel's sendq or recvq under the channel's lock; the stack stays put
 * while the goroutine is parked. A select queues one sudog per case, all
 * pointing at one selstate; whoever claims the select first (a CAS on its
 * done word, Go's g.selectDone) wins it, every other waker skips it.
 */
#ifndef GORO_CHAN_H
#define GORO_CHAN_H

#include "runtime.h"

/* Wait reasons shown in dumps. The runtime's enum does not name channel
 * waits yet; until it does they show as a plain wait. */
#define WAIT_CHAN_RECV waitReasonZero
#define WAIT_CHAN_SEND waitReasonZero
#define WAIT_SELECT waitReasonZero
#define WAIT_SELECT_NO_CASES waitReasonZero

typedef struct selstate selstate;

typedef struct sudog {
    g *g;
    struct sudog *next, *prev; /* in the channel's sendq or recvq */
    void *elem;                /* send: the value; receive: where it goes (may be NULL) */
    goro_chan *c;
    selstate *sel;             /* NULL for a plain send or receive */
    uint32_t caseidx;          /* select: which case this sudog stands for */
    bool is_send;
    bool success;              /* set by the waker: true value moved, false closed */
} sudog;

struct selstate {
    uint32_t done;   /* atomic: 0 until a waker claims the select */
    sudog *winner;   /* written by the claimer, read by the selector once woken */
    sudog *sgs;      /* the select's sudogs, one per case */
    size_t n;
};

typedef struct waitq {
    sudog *first, *last;
} waitq;

struct goro_chan {
    spinmutex lock;
    uint32_t closed;   /* under lock */
    size_t qcount;     /* under lock; goro_chan_len reads it with a relaxed load */
    size_t dataqsiz;   /* capacity, immutable */
    size_t elemsize;   /* immutable */
    size_t sendx, recvx;
    waitq recvq, sendq;
    unsigned char buf[]; /* dataqsiz * elemsize bytes */
};

/* A goroutine may block; a plain thread or an M's g0 may not. */
static inline bool chan_may_block(void)
{
    g *gp = getg();
    return gp && gp->goid > 0;
}

/* Queue operations; all under the channel's lock. */
void waitq_enqueue(waitq *q, sudog *sg);
void waitq_remove(waitq *q, sudog *sg);
sudog *waitq_dequeue(waitq *q);

/* The steps of a send or receive that proceeds at once; under the lock.
 * send_to and recv_from return the goroutine to ready once the lock is
 * released. */
g *send_to(goro_chan *c, sudog *sg, const void *ep);
g *recv_from(goro_chan *c, sudog *sg, void *ep);
void buf_send(goro_chan *c, const void *ep);
void buf_recv(goro_chan *c, void *ep);
void elem_clear(goro_chan *c, void *ep);

#endif /* GORO_CHAN_H */
