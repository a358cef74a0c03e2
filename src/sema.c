/*
 * Go's runtime semaphore (sema.go): a counting semaphore on a uint32 with
 * goroutines parked in a hashed table of wait roots (4093: see
 * docs/design.md; Go has 251). Each root holds,
 * under its lock, a treap (a binary search tree balanced by random
 * priorities) keyed by address, so that thousands of distinct addresses
 * hashing to one root stay O(log n); each tree node is the first waiter of
 * a FIFO list for its address. The waiters' sudogs live on their own
 * stacks, which stay put while they are parked.
 *
 * Lost wake-ups are excluded by a Dekker-style pair of seq-cst operations:
 * a waiter increments root.nwait and then re-tries the semaphore; a
 * releaser that saw no waiter increments the semaphore and then reads
 * root.nwait again. At least one of them sees the other's write. nwait is
 * only changed under the root's lock; decrements need no fence (a stale
 * high value only sends a releaser to the lock).
 */
#include "runtime.h"

#include <string.h>

#define SEMTABSZ 4093

typedef struct semawaiter {
    g *g;
    uint32_t *addr;
    struct semawaiter *waitlink;  /* next waiter on the same address */
    struct semawaiter *waittail;  /* last waiter (valid in the tree node) */
    struct semawaiter *left, *right;
    uint32_t prio;           /* treap priority: a max-heap on it */
    uint32_t ticket;         /* 1: the releaser handed a unit over */
} semawaiter;

typedef struct semaRoot {
    spinmutex lock;
    semawaiter *treap;
    uint32_t nwait;          /* atomic: waiters in this root */
} __attribute__((aligned(CACHE_LINE))) semaRoot;

static semaRoot semtable[SEMTABSZ] = { [0 ... SEMTABSZ - 1] = { .lock = SPINMUTEX_INIT(LOCKRANK_SEMA) } };

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

/* The link that points at addr's tree node, or at the NULL where it
 * would be inserted. */
static semawaiter **treap_find(semawaiter **pp, uint32_t *addr)
{
    while (*pp && (*pp)->addr != addr)
        pp = addr < (*pp)->addr ? &(*pp)->left : &(*pp)->right;
    return pp;
}

static void rotate_right(semawaiter **pp)
{
    semawaiter *x = *pp, *l = x->left;
    x->left = l->right;
    l->right = x;
    *pp = l;
}

static void rotate_left(semawaiter **pp)
{
    semawaiter *x = *pp, *r = x->right;
    x->right = r->left;
    r->left = x;
    *pp = r;
}

/* Inserts s (an address not yet in the tree) and restores the heap order
 * on the way back up. */
static void treap_insert(semawaiter **pp, semawaiter *s)
{
    if (!*pp) {
        *pp = s;
        return;
    }
    if (s->addr < (*pp)->addr) {
        treap_insert(&(*pp)->left, s);
        if ((*pp)->left->prio > (*pp)->prio)
            rotate_right(pp);
    } else {
        treap_insert(&(*pp)->right, s);
        if ((*pp)->right->prio > (*pp)->prio)
            rotate_left(pp);
    }
}

/* Rotates the node *pp down to a leaf and cuts it off. */
static void treap_remove(semawaiter **pp)
{
    semawaiter *n = *pp;
    while (n->left || n->right) {
        if (!n->right || (n->left && n->left->prio > n->right->prio)) {
            rotate_right(pp);
            pp = &(*pp)->right;
        } else {
            rotate_left(pp);
            pp = &(*pp)->left;
        }
    }
    *pp = NULL;
}

/* Puts s in the tree node's place (same links and priority). */
static void treap_replace(semawaiter **pp, semawaiter *s)
{
    semawaiter *h = *pp;
    s->left = h->left;
    s->right = h->right;
    s->prio = h->prio;
    *pp = s;
}

/* Adds s to addr's queue: at the tail, or at the head when lifo (a waiter
 * that was woken and lost the race goes back to the front). */
static void queue(semaRoot *root, uint32_t *addr, semawaiter *s, bool lifo)
{
    s->addr = addr;
    s->waitlink = NULL;
    s->left = s->right = NULL;
    semawaiter **pp = treap_find(&root->treap, addr);
    semawaiter *h = *pp;
    if (!h) {
        s->waittail = s;
        s->prio = cheaprand() | 1;
        treap_insert(&root->treap, s);
    } else if (lifo) {
        s->waitlink = h;
        s->waittail = h->waittail;
        treap_replace(pp, s);
    } else {
        h->waittail->waitlink = s;
        h->waittail = s;
    }
}

/* Removes and returns the first waiter on addr, or NULL. */
static semawaiter *dequeue(semaRoot *root, uint32_t *addr)
{
    semawaiter **pp = treap_find(&root->treap, addr);
    semawaiter *h = *pp;
    if (!h)
        return NULL;
    semawaiter *next = h->waitlink;
    if (next) {
        next->waittail = h->waittail;
        treap_replace(pp, next);
    } else {
        treap_remove(pp);
    }
    return h;
}

static bool unlock_root(g *gp, void *l)
{
    (void)gp;
    spinunlock(l);
    return true;
}

void semacquire1(uint32_t *addr, bool lifo, enum waitreason reason)
{
    if (cansemacquire(addr))
        return;
    g *self = getg();
    if (!on_goroutine()) {
        /* A plain thread cannot park: it polls, sleeping on the word
         * (semrelease does not futex-wake it, hence the 1 ms bound). */
        while (!cansemacquire(addr))
            futexsleep(addr, 0, 1000000);
        return;
    }
    semaRoot *root = semroot(addr);
    semawaiter s = { .g = self };
    for (;;) {
        spinlock(&root->lock);
        /* Seq-cst: the increment is ordered before the re-check below
         * (Dekker with semrelease's increment of *addr, then load of nwait). */
        __atomic_add_fetch(&root->nwait, 1, __ATOMIC_SEQ_CST);
        if (cansemacquire(addr)) {
            store_relaxed(&root->nwait, root->nwait - 1); /* under the lock */
            spinunlock(&root->lock);
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

/* Releases one unit. With a waiter on addr the unit goes straight to it
 * (its ticket), so the waiter needs no CAS on waking and a newcomer cannot
 * take it in between. handoff: also yield to the woken waiter, so that a
 * stream of arrivals cannot starve it (sync.Mutex's starvation mode). */
void semrelease1(uint32_t *addr, bool handoff)
{
    semaRoot *root = semroot(addr);
    bool counted = false;
    if (__atomic_load_n(&root->nwait, __ATOMIC_SEQ_CST) == 0) {
        /* Nobody waits: count the unit, then look again for a waiter that
         * queued meanwhile and may have missed it. */
        __atomic_add_fetch(addr, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&root->nwait, __ATOMIC_SEQ_CST) == 0)
            return;
        counted = true;
    }
    spinlock(&root->lock);
    semawaiter *s = dequeue(root, addr);
    if (!s) {
        /* The waiters are on other addresses of this root: count the unit
         * under the lock, so any later waiter on addr sees it. */
        if (!counted)
            __atomic_add_fetch(addr, 1, __ATOMIC_SEQ_CST);
        spinunlock(&root->lock);
        return;
    }
    store_relaxed(&root->nwait, root->nwait - 1); /* under the lock */
    /* If we counted the unit, take it back for the waiter; if somebody
     * took it first, the waiter wakes without a ticket and tries again. */
    bool granted = !counted || cansemacquire(addr);
    if (granted)
        store_relaxed(&s->ticket, 1); /* goready publishes it to the waiter */
    spinunlock(&root->lock);
    /* s lives on the waiter's stack: do not touch it once it is ready. */
    goready(s->g);
    if (handoff && granted && on_goroutine())
        gosched(); /* a plain thread or g0 has no G to yield: the unit is handed over all the same */
}

void semrelease(uint32_t *addr)
{
    semrelease1(addr, false);
}

/* After goro_run: forget the waiters of abandoned goroutines, whose
 * stacks are gone. */
void semafini(void)
{
    memset(semtable, 0, sizeof semtable);
    for (int i = 0; i < SEMTABSZ; i++)
        spinlockinit(&semtable[i].lock, LOCKRANK_SEMA);
}
