/*
 * Go's runtime semaphore (sema.go): a counting semaphore on a uint32 with
 * goroutines parked in a hashed table of 251 wait roots. Each root keeps one
 * FIFO queue per address (a list of queue heads) under its lock; the
 * waiters' sudogs live on their own stacks, which stay put while parked.
 *
 * Lost wake-ups are excluded by a Dekker-style pair of seq-cst operations:
 * a waiter increments root.nwait and then re-tries the semaphore; a
 * releaser increments the semaphore and then reads root.nwait. At least one
 * of them sees the other's write.
 */
#include "runtime.h"

#define SEMTABSZ 251

typedef struct sudog {
    g *g;
    uint32_t *addr;
    struct sudog *waitlink;  /* next waiter on the same address */
    struct sudog *waittail;  /* last waiter (valid in the queue head) */
    struct sudog *nextaddr;  /* next queue head in this root */
    uint32_t ticket;         /* 1: the releaser handed the semaphore over */
} sudog;

typedef struct semaRoot {
    mutex lock;
    sudog *heads;
    uint32_t nwait;          /* atomic: waiters in this root */
} __attribute__((aligned(CACHE_LINE))) semaRoot;

static semaRoot semtable[SEMTABSZ];

static semaRoot *semroot(uint32_t *addr)
{
    return &semtable[((uintptr_t)addr >> 3) % SEMTABSZ];
}

static bool cansemacquire(uint32_t *addr)
{
    uint32_t v = __atomic_load_n(addr, __ATOMIC_SEQ_CST);
    while (v != 0)
        if (__atomic_compare_exchange_n(addr, &v, v - 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return true;
    return false;
}

/* Adds s to addr's queue: at the tail, or at the head when lifo (a waiter
 * that was woken and lost the race goes back to the front). */
static void queue(semaRoot *root, uint32_t *addr, sudog *s, bool lifo)
{
    s->addr = addr;
    s->waitlink = NULL;
    sudog **pp = &root->heads;
    while (*pp && (*pp)->addr != addr)
        pp = &(*pp)->nextaddr;
    sudog *h = *pp;
    if (!h) {
        s->waittail = s;
        s->nextaddr = root->heads;
        root->heads = s;
    } else if (lifo) {
        s->waitlink = h;
        s->waittail = h->waittail;
        s->nextaddr = h->nextaddr;
        *pp = s;
    } else {
        h->waittail->waitlink = s;
        h->waittail = s;
    }
}

/* Removes and returns the first waiter on addr, or NULL. */
static sudog *dequeue(semaRoot *root, uint32_t *addr)
{
    sudog **pp = &root->heads;
    while (*pp && (*pp)->addr != addr)
        pp = &(*pp)->nextaddr;
    sudog *h = *pp;
    if (!h)
        return NULL;
    sudog *next = h->waitlink;
    if (next) {
        next->waittail = h->waittail;
        next->nextaddr = h->nextaddr;
        *pp = next;
    } else {
        *pp = h->nextaddr;
    }
    return h;
}

static bool unlock_root(g *gp, void *l)
{
    (void)gp;
    unlock(l);
    return true;
}

void semacquire1(uint32_t *addr, bool lifo, enum waitreason reason)
{
    if (cansemacquire(addr))
        return;
    semaRoot *root = semroot(addr);
    sudog s = { .g = getg() };
    for (;;) {
        lock(&root->lock);
        __atomic_add_fetch(&root->nwait, 1, __ATOMIC_SEQ_CST);
        if (cansemacquire(addr)) {
            __atomic_sub_fetch(&root->nwait, 1, __ATOMIC_SEQ_CST);
            unlock(&root->lock);
            return;
        }
        queue(root, addr, &s, lifo);
        gopark(unlock_root, &root->lock, reason);
        if (load_acquire(&s.ticket) != 0 || cansemacquire(addr))
            return;
        lifo = true; /* woken but beaten to it: wait at the front */
    }
}

void semacquire(uint32_t *addr)
{
    semacquire1(addr, false, waitReasonSemacquire);
}

/* handoff: give the semaphore straight to the woken waiter and yield to
 * it, so that a stream of new arrivals cannot starve it (sync.Mutex's
 * starvation mode uses this). */
void semrelease1(uint32_t *addr, bool handoff)
{
    semaRoot *root = semroot(addr);
    __atomic_add_fetch(addr, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&root->nwait, __ATOMIC_SEQ_CST) == 0)
        return;
    lock(&root->lock);
    if (load_relaxed(&root->nwait) == 0) {
        unlock(&root->lock);
        return;
    }
    sudog *s = dequeue(root, addr);
    if (s)
        __atomic_sub_fetch(&root->nwait, 1, __ATOMIC_SEQ_CST);
    unlock(&root->lock);
    if (!s)
        return;
    bool handed = handoff && cansemacquire(addr);
    if (handed)
        store_release(&s->ticket, 1);
    /* s lives on the waiter's stack: do not touch it once it is ready. */
    goready(s->g);
    if (handed)
        gosched();
}

void semrelease(uint32_t *addr)
{
    semrelease1(addr, false);
}
