/*
 * Runtime-internal locks and notes on Linux futexes (Go's lock_futex.go).
 *
 * mutex.key: 0 unlocked, 1 locked, 2 locked and a thread may sleep on it.
 * Acquire orderings on the successful exchange/CAS and release on unlock
 * make everything done under the lock visible to the next owner.
 */
#include "runtime.h"

#ifdef GORO_LOCKRANK
#include <stdio.h>
#endif

enum { MUTEX_UNLOCKED = 0, MUTEX_LOCKED = 1, MUTEX_SLEEPING = 2, ACTIVE_SPIN = 4, ACTIVE_SPIN_CNT = 30, SPIN_BACKOFF_MAX = 256, SPIN_TRIES = 16 };

#ifdef GORO_LOCKRANK
/* ------------------------------------------------------------ lock ranks
 * The sanitizer builds' check of lockrank.h's order. Each thread (an M,
 * whichever G it runs, or a plain thread) keeps the locks it holds, in
 * the order taken; since each was checked against those before it, their
 * ranks never decrease, and the last is the highest. A new lock must rank
 * above it, or have its rank and a higher address where the rank allows
 * several (lockrank_several). Checked before the lock is taken, so an
 * inversion is reported rather than deadlocked on. No signal handler
 * takes a lock with the checks on (SIGQUIT's dump turns them off first),
 * so the list needs no protection from them. */
enum { LOCKRANK_MAX_HELD = 64 };

typedef struct heldlock {
    const void *l;
    uint32_t rank;
    uint32_t n; /* > 1: this entry stands for n locks of its rank (only past LOCKRANK_MAX_HELD) */
} heldlock;

typedef struct heldlocks {
    uint32_t n;
    bool off; /* this thread is throwing: no more checks */
    heldlock h[LOCKRANK_MAX_HELD];
} heldlocks;

static __thread heldlocks held;

static const char *rank_name(uint32_t rank)
{
    return rank < LOCKRANK_COUNT ? lockrank_names[rank] : "lock of a bad rank";
}

static void lockrank_acquire(const void *l, uint32_t rank)
{
    heldlocks *t = &held;
    if (t->off)
        return;
    if (rank == LOCKRANK_NONE || rank >= LOCKRANK_COUNT)
        throwf("lock order: acquiring a lock without a rank (%u) at %p: rank it where it is made (lockrank.h)",
               rank, l);
    if (t->n > 0) {
        heldlock *top = &t->h[t->n - 1];
        if (rank < top->rank)
            throwf("lock order: acquiring %s (rank %u) while holding %s (rank %u)", rank_name(rank), rank,
                   rank_name(top->rank), top->rank);
        if (rank == top->rank && (!lockrank_several(rank) || (uintptr_t)l <= (uintptr_t)top->l))
            throwf("lock order: acquiring %s (rank %u) while holding %s (rank %u): %s", rank_name(rank), rank,
                   rank_name(top->rank), top->rank,
                   l == top->l               ? "the same lock again"
                   : lockrank_several(rank) ? "locks of one rank are taken in increasing address order"
                                            : "never two locks of this rank at once");
        if (t->n == LOCKRANK_MAX_HELD) {
            /* A select over that many channels: one entry counts the rest. */
            if (rank != top->rank)
                throwf("lock order: acquiring %s (rank %u) while holding %d locks", rank_name(rank), rank,
                       LOCKRANK_MAX_HELD);
            top->n++;
            top->l = l;
            return;
        }
    }
    t->h[t->n++] = (heldlock){ l, rank, 1 };
}

static void lockrank_release(const void *l, uint32_t rank)
{
    heldlocks *t = &held;
    if (t->off)
        return;
    for (uint32_t i = t->n; i-- > 0;) {
        if (t->h[i].l != l)
            continue;
        if (t->h[i].n > 1) {
            t->h[i].n--;
            return;
        }
        for (uint32_t j = i + 1; j < t->n; j++)
            t->h[j - 1] = t->h[j];
        t->n--;
        return;
    }
    for (uint32_t i = t->n; i-- > 0;) {
        if (t->h[i].n > 1 && t->h[i].rank == rank) {
            t->h[i].n--;
            return;
        }
    }
    throwf("lock order: releasing %s (rank %u) at %p, which this thread does not hold", rank_name(rank), rank, l);
}

void lockrank_switch(const char *what, bool allow_park)
{
    heldlocks *t = &held;
    if (t->off || t->n == 0 || allow_park)
        return;
    heldlock *top = &t->h[t->n - 1];
    throwf("lock order: %s while holding %s (rank %u)", what, rank_name(top->rank), top->rank);
}

void lockrank_off(void)
{
    held.off = true;
}

bool lockrank_holds(enum lockrank r)
{
    for (uint32_t i = 0; i < held.n; i++)
        if (held.h[i].rank == (uint32_t)r)
            return true;
    return false;
}

/* For fatal errors: what this thread holds, first taken first. */
void lockrank_print_held(int fd)
{
    if (held.n == 0)
        return;
    dprintf(fd, "locks held by this thread, in the order taken:\n");
    for (uint32_t i = 0; i < held.n; i++)
        dprintf(fd, "\t%s (rank %u) at %p%s\n", rank_name(held.h[i].rank), held.h[i].rank, held.h[i].l,
                held.h[i].n > 1 ? " and more of its rank" : "");
    dprintf(fd, "\n");
}
#endif

void lock(mutex *l)
{
#ifdef GORO_LOCKRANK
    lockrank_acquire(l, l->rank);
#endif
    uint32_t v = __atomic_exchange_n(&l->key, MUTEX_LOCKED, __ATOMIC_ACQUIRE);
    if (v == MUTEX_UNLOCKED)
        return;
    /* Remember whether someone may be sleeping: if so we must leave the
     * key at MUTEX_SLEEPING when we take it, so unlock wakes them. */
    uint32_t wait = v;
    for (;;) {
        for (int i = 0; i < ACTIVE_SPIN; i++) {
            while (load_relaxed(&l->key) == MUTEX_UNLOCKED)
                if (cas_acqrel(&l->key, MUTEX_UNLOCKED, wait))
                    return;
            for (int j = 0; j < ACTIVE_SPIN_CNT; j++)
                cpu_relax();
        }
        while (load_relaxed(&l->key) == MUTEX_UNLOCKED)
            if (cas_acqrel(&l->key, MUTEX_UNLOCKED, wait))
                return;
        osyield();
        v = __atomic_exchange_n(&l->key, MUTEX_SLEEPING, __ATOMIC_ACQUIRE);
        if (v == MUTEX_UNLOCKED)
            return;
        wait = MUTEX_SLEEPING;
        futexsleep(&l->key, MUTEX_SLEEPING, -1);
    }
}

void unlock(mutex *l)
{
#ifdef GORO_LOCKRANK
    lockrank_release(l, l->rank);
#endif
    uint32_t v = __atomic_exchange_n(&l->key, MUTEX_UNLOCKED, __ATOMIC_RELEASE);
    if (v == MUTEX_UNLOCKED)
        throw("unlock of unlocked lock");
    if (v == MUTEX_SLEEPING)
        futexwakeup(&l->key, 1);
}

/* A spin lock for critical sections of a few dozen instructions that never
 * block (the semaphore roots). Its unlock is a plain release store, where
 * the futex mutex needs a locked exchange to learn about sleepers: on the
 * ping-pong path that is two locked instructions saved per switch. A waiter
 * spins on a plain load with exponential back-off (measured: 4 producers
 * and 4 consumers on one channel at GOMAXPROCS=2 went from ~220 to ~55 ns
 * per item), and yields the CPU after a while so that a holder descheduled
 * by the kernel can finish. */
static inline void spinlock_acquire(spinmutex *l);

void spinlock(spinmutex *l)
{
#ifdef GORO_LOCKRANK
    lockrank_acquire(l, l->rank);
#endif
    spinlock_acquire(l);
}

#ifdef GORO_LOCKRANK
void spinlock_ranked(spinmutex *l, enum lockrank r)
{
    lockrank_acquire(l, r);
    spinlock_acquire(l);
}
#endif

static inline void spinlock_acquire(spinmutex *l)
{
    /* Exponential back-off: under contention the holder runs several
     * critical sections in a row instead of bouncing the line each time. */
    int backoff = 1;
    for (int spins = 0;; spins++) {
        /* The first try exchanges at once: a load first would fetch the
         * line shared and then again exclusive, two transfers where the
         * lock is free but was last held on another core. Retries test
         * with a plain load so that waiters do not steal the line. */
        if ((spins == 0 || load_relaxed(&l->key) == 0) && __atomic_exchange_n(&l->key, 1, __ATOMIC_ACQUIRE) == 0)
            return;
        if (spins < SPIN_TRIES) { /* about 2,300 pauses in all, then yield */
            for (int i = 0; i < backoff; i++)
                cpu_relax();
            if (backoff < SPIN_BACKOFF_MAX)
                backoff <<= 1;
        } else {
            osyield();
        }
    }
}

void spinunlock(spinmutex *l)
{
#ifdef GORO_LOCKRANK
    lockrank_release(l, l->rank);
#endif
    store_release(&l->key, 0);
}

/* note.key: 0 not yet woken, 1 woken. The release store in notewakeup pairs
 * with the acquire loads in notesleep: the sleeper sees what the waker did. */
void noteclear(note *n)
{
    store_relaxed(&n->key, 0);
}

void notewakeup(note *n)
{
    uint32_t old = __atomic_exchange_n(&n->key, 1, __ATOMIC_RELEASE);
    if (old != 0)
        throw("notewakeup - double wakeup");
    futexwakeup(&n->key, 1);
}

void notesleep(note *n)
{
    while (load_acquire(&n->key) == 0)
        futexsleep(&n->key, 0, -1);
}

/* Sleeps until woken or ns have passed; false on timeout. ns <= 0 only
 * looks: a timeout computed from a deadline that has just passed must not
 * read as "forever" (an idle M then slept with every timer pending). */
bool notetsleep(note *n, int64_t ns)
{
    if (ns <= 0)
        return load_acquire(&n->key) != 0;
    int64_t deadline = nanotime_after(ns);
    while (load_acquire(&n->key) == 0) {
        futexsleep(&n->key, 0, ns);
        if (load_acquire(&n->key) != 0)
            break;
        ns = deadline - nanotime();
        if (ns <= 0)
            return false;
    }
    return true;
}
