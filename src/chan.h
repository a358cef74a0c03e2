/*
 * Channels (chan.go) and select (select.go): the structures chan.c and
 * select.c share. Nothing here is visible outside those two files.
 *
 * A blocked sender or receiver waits as a sudog on its own stack, queued in
 * the channel's sendq or recvq under the channel's lock; the stack stays put
 * while the goroutine is parked. A select queues one sudog per case, all
 * pointing at one selstate; the first waker to claim it (a CAS on its done
 * word, Go's g.selectDone) wins the select, every other waker skips it.
 *
 * Lifetime rule: a sudog is unlinked only by the waker that claims it or by
 * its own goroutine. The claimer of a select also unlinks the select's
 * other sudogs on the same channel, so that once woken the selector never
 * touches the winning channel again: its partner may already have freed it.
 */
#ifndef GORO_CHAN_H
#define GORO_CHAN_H

#include "runtime.h"


typedef struct selstate selstate;

typedef struct sudog {
    g *g;
    struct sudog *next, *prev; /* in the channel's sendq or recvq */
    void *elem;                /* send: the value; receive: where it goes (may be NULL) */
    goro_chan *c;              /* NULL: a select case that waits on nothing */
    selstate *sel;             /* NULL for a plain send or receive */
    uint32_t caseidx;          /* select: the case this sudog stands for */
    bool is_send;
    bool success;              /* set by the waker: true value moved, false closed */
} sudog;

struct selstate {
    uint32_t done;   /* atomic: 0 until a waker claims the select */
    sudog *winner;   /* written by the claimer, read by the selector once woken */
    sudog *sgs;      /* one per case */
    size_t n;
};

typedef struct waitq {
    sudog *first, *last;
} waitq;

/* What an unbuffered send or receive touches comes first, in 64 bytes.
 * (Allocating channels cache-line aligned made skynet, which creates
 * 111,111 channels, 4 % slower and the thread ring no faster.) */
struct goro_chan {
    spinmutex lock;
    uint32_t closed;     /* under lock */
    waitq recvq, sendq;
    size_t dataqsiz;     /* capacity, immutable */
    size_t elemsize;     /* immutable */
    size_t qcount;       /* under lock; goro_chan_len reads it with a relaxed load */
    size_t sendx, recvx; /* ring indexes, under lock */
    /* CHAN_LIVE from make until free, which stores CHAN_FREED: close and
     * free check it on entry to catch a channel freed twice. Past the
     * first 16 bytes, which malloc's free lists overwrite. */
    uint64_t magic;
    unsigned char buf[]; /* dataqsiz * elemsize bytes */
};

#define CHAN_LIVE 0x676f726f6368616eull  /* "gorochan" */
#define CHAN_FREED 0x6672656564636861ull /* "freedcha" */

/* A goroutine may block; a plain thread or an M's g0 may not. */
static inline bool chan_may_block(void)
{
    g *gp = getg();
    return gp && gp->goid > 0;
}

static inline waitq *sudog_queue(sudog *sg)
{
    return sg->is_send ? &sg->c->sendq : &sg->c->recvq;
}

/* A send needs a value unless elements are empty (elem_size 0). */
static inline bool send_elem_ok(const goro_chan *c, const void *elem)
{
    return elem || c->elemsize == 0;
}

/* Both under the channel's lock. */
void waitq_enqueue(waitq *q, sudog *sg);
void waitq_remove(waitq *q, sudog *sg);

/* One send or receive that does not block, under c's lock. *wake gets the
 * goroutine it paired with (or stays NULL): goready it after unlocking.
 * send_locked: 0 sent, -EAGAIN would block, -EPIPE closed.
 * recv_locked: 1 received, 0 closed and drained (ep zeroed), -EAGAIN. */
int send_locked(goro_chan *c, const void *ep, g **wake);
int recv_locked(goro_chan *c, void *ep, g **wake);

#endif /* GORO_CHAN_H */
