/*
 * Run queues (Go's runqput/runqget/runqgrab/runqsteal and the global queue).
 *
 * The local queue of a P is a 256-slot ring: only the owner P writes slots
 * and runqtail; the owner and stealers consume by advancing runqhead with a
 * CAS. The ordering argument, as in Go's proc.go:
 *  - A producer stores the slot (relaxed) and then publishes it with a
 *    store-release of runqtail. A consumer load-acquires runqtail (stealers)
 *    or is the producer itself (owner), so it reads the slot's new value.
 *  - A consumer reads slots (relaxed) and then claims them with a CAS on
 *    runqhead that has release semantics. The producer load-acquires
 *    runqhead before reusing slots, so it never overwrites a slot a
 *    consumer is still reading. A consumer that read a slot the producer
 *    overwrote after wrapping fails its CAS (head moved) and retries.
 *  - Slots are accessed with relaxed atomics: a stealer may read a slot
 *    while the owner rewrites it (the read is then discarded by the failed
 *    CAS); relaxed atomics make that benign race defined.
 * runnext is a single pointer swapped with CAS (acq_rel): whoever wins the
 * CAS owns the G it took.
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

static void end_time_slice(void);

static inline g *slot_load(p *pp, uint32_t i)
{
    return load_relaxed(&pp->runq[i % RUNQ_SIZE]);
}

static inline void slot_store(p *pp, uint32_t i, g *gp)
{
    store_relaxed(&pp->runq[i % RUNQ_SIZE], gp);
}

/* Moves half of the full local queue plus gp to the global queue in one
 * batch. Returns false if a consumer moved runqhead meanwhile. */
static bool runqputslow(p *pp, g *gp, uint32_t h, uint32_t t)
{
    g *batch[RUNQ_SIZE / 2 + 1];
    uint32_t n = (t - h) / 2;
    if (n != RUNQ_SIZE / 2)
        throw("runqputslow: queue is not full");
    for (uint32_t i = 0; i < n; i++)
        batch[i] = slot_load(pp, h + i);
    if (!cas_acqrel(&pp->runqhead, h, h + n))
        return false;
    batch[n] = gp;
    spinlock(&sched.runqlock);
    globrunqputbatch(batch, (int32_t)n + 1);
    spinunlock(&sched.runqlock);
    end_time_slice();
    return true;
}

/* A goroutine that overflows its P's queue has made more work than the P
 * can hold. Go lets it carry on until sysmon preempts it (10 ms: ~10^5
 * spawned goroutines whose stacks no longer fit any cache); goro ends its
 * time slice here so that the queued goroutines run while still hot. */
static void end_time_slice(void)
{
    g *self = getg();
    if (self && self->goid > 0)
        store_relaxed(&self->preempt, 1);
}

/* Puts gp on pp's local queue. next: put it in runnext, kicking the old
 * runnext G to the tail. Owner only. */
void runqput(p *pp, g *gp, bool next)
{
    if (next) {
        g *old = load_relaxed(&pp->runnext);
        if (!old) {
            /* Only the owner makes runnext non-NULL (stealers only CAS it
             * to NULL), so an empty runnext stays empty until we store:
             * no locked instruction needed. Release publishes gp. */
            store_release(&pp->runnext, gp);
            return;
        }
        while (!__atomic_compare_exchange_n(&pp->runnext, &old, gp, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        }
        if (!old)
            return;
        gp = old;
    }
    for (;;) {
        uint32_t h = load_acquire(&pp->runqhead); /* pairs with consumers' CAS-release */
        uint32_t t = pp->runqtail;                /* only the owner writes it */
        if (t - h < RUNQ_SIZE) {
            slot_store(pp, t, gp);
            store_release(&pp->runqtail, t + 1);  /* publishes the slot */
            return;
        }
        if (runqputslow(pp, gp, h, t))
            return;
    }
}

/* Owner only. *inheritTime is true when the G came from runnext: it shares
 * the time slice of the G that readied it. */
g *runqget(p *pp, bool *inheritTime)
{
    g *next = load_relaxed(&pp->runnext);
    if (next && cas_acqrel(&pp->runnext, next, NULL)) {
        *inheritTime = true;
        return next;
    }
    *inheritTime = false;
    for (;;) {
        uint32_t h = load_acquire(&pp->runqhead);
        uint32_t t = pp->runqtail;
        if (t == h)
            return NULL;
        g *gp = slot_load(pp, h);
        if (cas_acqrel(&pp->runqhead, h, h + 1))
            return gp;
    }
}

/* Moves every G of the local queue, runnext first, to q. Only while the
 * world is stopped (procresize), so nobody races with us. */
int32_t runqdrain(p *pp, g **out)
{
    bool inherit;
    int32_t n = 0;
    while ((out[n] = runqget(pp, &inherit)))
        n++;
    return n;
}

bool runqempty(p *pp)
{
    /* Re-read tail until head, tail and runnext form a consistent
     * snapshot: a G moving from runnext to the queue is never missed. */
    for (;;) {
        uint32_t h = load_acquire(&pp->runqhead);
        uint32_t t = load_acquire(&pp->runqtail);
        g *next = load_acquire(&pp->runnext);
        if (t == load_acquire(&pp->runqtail))
            return h == t && next == NULL;
    }
}

uint32_t runqlen(p *pp)
{
    uint32_t h = load_acquire(&pp->runqhead);
    uint32_t t = load_acquire(&pp->runqtail);
    return t - h;
}

/* Grabs half of pp's queue into batch (a ring starting at batchHead).
 * Any P may call it. With stealRunNextG, an otherwise empty P's runnext
 * may be taken too, after letting a running owner schedule it first. */
static uint32_t runqgrab(p *pp, g **batch, uint32_t batchHead, bool stealRunNextG)
{
    for (;;) {
        uint32_t h = load_acquire(&pp->runqhead); /* synchronize with other consumers */
        uint32_t t = load_acquire(&pp->runqtail); /* synchronize with the producer */
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (!stealRunNextG)
                return 0;
            g *next = load_acquire(&pp->runnext);
            if (!next)
                return 0;
            if (load_relaxed(&pp->status) == _Prunning) {
                /* The owner is probably about to run it: a sync chan
                 * send/recv takes ~50 ns, so 3 µs is ~50x overshoot. */
                usleep_ns(3000);
            }
            if (!cas_acqrel(&pp->runnext, next, NULL))
                continue;
            store_relaxed(&batch[batchHead % RUNQ_SIZE], next);
            return 1;
        }
        if (n > RUNQ_SIZE / 2)
            continue; /* inconsistent h and t: read again */
        for (uint32_t i = 0; i < n; i++)
            store_relaxed(&batch[(batchHead + i) % RUNQ_SIZE], slot_load(pp, h + i));
        if (cas_acqrel(&pp->runqhead, h, h + n)) /* commits the consume */
            return n;
    }
}

/* Steals half of p2's queue into pp's (pp's owner calls it) and returns
 * one of the stolen Gs, or NULL. */
g *runqsteal(p *pp, p *p2, bool stealRunNextG)
{
    uint32_t t = pp->runqtail;
    uint32_t n = runqgrab(p2, pp->runq, t, stealRunNextG);
    if (n == 0)
        return NULL;
    n--;
    g *gp = slot_load(pp, t + n);
    if (n == 0)
        return gp;
    uint32_t h = load_acquire(&pp->runqhead);
    if (t - h + n >= RUNQ_SIZE)
        throw("runqsteal: runq overflow");
    store_release(&pp->runqtail, t + n); /* publishes the stolen slots */
    return gp;
}

/* ------------------------------------------------------------ G lists */

void glist_push(gList *l, g *gp)
{
    gp->schedlink = l->head;
    l->head = gp;
}

g *glist_pop(gList *l)
{
    g *gp = l->head;
    if (gp)
        l->head = gp->schedlink;
    return gp;
}

/* ------------------------------------------------------- global queue
 * A ring of G pointers that doubles when full, where Go links the Gs
 * through schedlink: taking a batch then copies pointers from a few
 * contiguous lines instead of walking one G's line per element while the
 * lock is held (measured: with 100 goroutines yielding at GOMAXPROCS=2 the
 * walk held the lock for microseconds and the other P waited on it).
 * All of these run with sched.runqlock held. runqsize is also read without
 * the lock as a hint, so it is written with relaxed atomic stores. */

/* Room for every goroutine G there is: a G is in the queue at most once,
 * so with a slot reserved for each when it is made (globrunq_reserve,
 * where goro_go can still report -ENOMEM) a put never allocates. The
 * queue is filled from places that cannot report (goready from timers
 * and netpoll, runqputslow, procresize, a system call's return), and Go,
 * which links the Gs through schedlink, needs no memory there either. */
static bool globrunq_grow(void)
{
    globrunq *q = &sched.runq;
    uint32_t cap = q->cap ? 2 * q->cap : RUNQ_SIZE;
    g **buf = malloc(cap * sizeof *buf);
    if (!buf)
        return false;
    for (uint32_t i = 0; i < q->tail - q->head; i++)
        buf[i] = q->buf[(q->head + i) & (q->cap - 1)];
    free(q->buf);
    q->tail -= q->head;
    q->head = 0;
    q->buf = buf;
    q->cap = cap;
    return true;
}

/* A slot for one more goroutine G (malg, before the G exists). False
 * without memory: the G is not made. Takes runqlock. */
bool globrunq_reserve(void)
{
    globrunq *q = &sched.runq;
    spinlock(&sched.runqlock);
    bool ok = q->reserved < q->cap || globrunq_grow();
    if (ok)
        q->reserved++;
    spinunlock(&sched.runqlock);
    return ok;
}

void globrunqput(g *gp)
{
    globrunq *q = &sched.runq;
    if (q->tail - q->head == q->cap)
        throwf("globrunqput: queue full: %u Gs queued, %u reserved", q->cap, q->reserved);
    q->buf[q->tail++ & (q->cap - 1)] = gp;
    store_relaxed(&sched.runqsize, sched.runqsize + 1);
}

void globrunqputbatch(g **batch, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        globrunqput(batch[i]);
}

/* Takes a fair share of the global queue, min(size/GOMAXPROCS+1, max,
 * 128) Gs, into batch; returns how many. The caller runs batch[0] and,
 * after releasing the lock, puts the rest on its local queue. */
int32_t globrunqget(int32_t max, g **batch)
{
    globrunq *q = &sched.runq;
    int32_t size = sched.runqsize;
    if (size == 0)
        return 0;
    int32_t n = size / load_relaxed(&gomaxprocs) + 1;
    if (n > size)
        n = size;
    if (max > 0 && n > max)
        n = max;
    if (n > GLOBRUNQ_BATCH)
        n = GLOBRUNQ_BATCH;
    for (int32_t i = 0; i < n; i++)
        batch[i] = q->buf[q->head++ & (q->cap - 1)];
    store_relaxed(&sched.runqsize, size - n);
    return n;
}

/* After globrunqget, without the lock: batch[0] is returned to run now,
 * the others go to the tail of pp's local queue. */
g *globrunq_keep(p *pp, g **batch, int32_t n)
{
    for (int32_t i = 1; i < n; i++)
        runqput(pp, batch[i], false);
    return n > 0 ? batch[0] : NULL;
}

/* Takes up to max (0: no limit but the fair share) Gs from the global
 * queue: returns one to run, the others go to pp's local queue. */
g *globrunq_take(p *pp, int32_t max)
{
    g *batch[GLOBRUNQ_BATCH];
    spinlock(&sched.runqlock);
    int32_t n = globrunqget(max, batch);
    spinunlock(&sched.runqlock);
    return globrunq_keep(pp, batch, n);
}

void globrunqfini(void)
{
    free(sched.runq.buf);
    memset(&sched.runq, 0, sizeof sched.runq);
}
