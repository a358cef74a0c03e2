/*
 * goro_mutex, goro_rwmutex, goro_once and goro_cond: Go's sync package on
 * the runtime semaphore (sema.c) and notify lists.
 *
 * Mutex (Go's sync.Mutex): state = locked | woken | starving | waiters<<3.
 * Normal mode: a woken waiter competes with newcomers (who may spin a
 * little); a waiter that waited over 1 ms switches the mutex to starvation
 * mode, where unlock hands ownership straight to the first waiter and
 * newcomers queue at the tail. Woken waiters that lose re-queue at the head.
 * Every state change is a seq-cst CAS or add on the one word, so the state
 * is the single point of agreement between lockers and unlockers.
 */
#include "runtime.h"

#include <errno.h>

enum {
    MUTEX_LOCKED = 1,
    MUTEX_WOKEN = 2,
    MUTEX_STARVING = 4,
    MUTEX_WAITER_SHIFT = 3,
    STARVATION_THRESHOLD_NS = 1000000,
    ACTIVE_SPIN = 4,
    ACTIVE_SPIN_CNT = 30,
    RWMUTEX_MAX_READERS = 1 << 30,
};

/* The void calls cannot return -EINVAL: a NULL object (or once's NULL
 * function) is misuse they end the process for, naming the call, as Go
 * panics on a nil *sync.Mutex. */
static _Noreturn __attribute__((noinline, cold)) void null_argument(const char *call)
{
    throwf("%s: NULL argument", call);
}

static inline void require(const void *arg, const char *call)
{
    if (__builtin_expect(!arg, 0))
        null_argument(call);
}

/* The same for the two hottest calls, as a tail call: a call to a
 * _Noreturn function is never one, and it made the lock and unlock fast
 * paths set up a stack frame (+6 instructions per unlock). noipa: else
 * gcc infers that it does not return and calls it again. */
static __attribute__((noipa, cold)) void null_mutex(const char *call)
{
    null_argument(call);
}

static inline int32_t mutex_cas(int32_t *state, int32_t old, int32_t new)
{
    return __atomic_compare_exchange_n(state, &old, new, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Go's sync_runtime_canSpin: only briefly, only with more than one CPU and
 * P, another P running, and nothing else to run on ours. */
static bool can_spin(int iter)
{
    if (iter >= ACTIVE_SPIN || ncpu <= 1)
        return false;
    int32_t procs = load_relaxed(&gomaxprocs);
    if (procs <= (int32_t)(load_relaxed(&sched.npidle) + load_relaxed(&sched.nmspinning)) + 1)
        return false;
    return runqempty(getg()->m->p);
}

static void mutex_lock_slow(goro_mutex *m)
{
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    int32_t old = __atomic_load_n(&m->state, __ATOMIC_SEQ_CST);
    for (;;) {
        /* Spin only in normal mode while locked: in starvation mode the
         * lock goes to a waiter anyway. */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && can_spin(iter)) {
            /* Tell Unlock not to wake anybody: we are awake already. */
            if (!awoke && !(old & MUTEX_WOKEN) && (old >> MUTEX_WAITER_SHIFT) != 0 &&
                mutex_cas(&m->state, old, old | MUTEX_WOKEN))
                awoke = true;
            for (int i = 0; i < ACTIVE_SPIN_CNT; i++)
                cpu_relax();
            iter++;
            old = __atomic_load_n(&m->state, __ATOMIC_SEQ_CST);
            continue;
        }
        int32_t new = old;
        if (!(old & MUTEX_STARVING))
            new |= MUTEX_LOCKED; /* newcomers do not take a starving mutex */
        if (old & (MUTEX_LOCKED | MUTEX_STARVING))
            new += 1 << MUTEX_WAITER_SHIFT;
        if (starving && (old & MUTEX_LOCKED))
            new |= MUTEX_STARVING;
        if (awoke) {
            if (!(new & MUTEX_WOKEN))
                throw("sync: inconsistent mutex state");
            new &= ~MUTEX_WOKEN;
        }
        if (!mutex_cas(&m->state, old, new)) {
            old = __atomic_load_n(&m->state, __ATOMIC_SEQ_CST);
            continue;
        }
        if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)))
            return; /* locked with the CAS */
        bool lifo = wait_start != 0; /* waited before: back to the front */
        if (wait_start == 0)
            wait_start = nanotime();
        semacquire1((uint32_t *)&m->sema, lifo, waitReasonSyncMutexLock);
        starving = starving || nanotime() - wait_start > STARVATION_THRESHOLD_NS;
        old = __atomic_load_n(&m->state, __ATOMIC_SEQ_CST);
        if (old & MUTEX_STARVING) {
            /* Handed to us: the mutex is ours; fix the state up. */
            if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) || (old >> MUTEX_WAITER_SHIFT) == 0)
                throw("sync: inconsistent mutex state");
            int32_t delta = MUTEX_LOCKED - (1 << MUTEX_WAITER_SHIFT);
            if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1)
                delta -= MUTEX_STARVING; /* last waiter or a short wait: back to normal */
            __atomic_add_fetch(&m->state, delta, __ATOMIC_SEQ_CST);
            return;
        }
        awoke = true;
        iter = 0;
    }
}

void goro_mutex_lock(goro_mutex *m)
{
    if (__builtin_expect(!m, 0))
        return null_mutex(__func__);
    /* A runtime entry, like Go's Lock (a call with a preemption check in
     * its prologue): a loop of lock/unlock can be time-sliced. */
    check_preempt();
    if (mutex_cas(&m->state, 0, MUTEX_LOCKED))
        return;
    if (!on_goroutine()) {
        /* A plain thread cannot park: it waits for the fast path. */
        while (!mutex_cas(&m->state, 0, MUTEX_LOCKED))
            osyield();
        return;
    }
    mutex_lock_slow(m);
}

int goro_mutex_trylock(goro_mutex *m)
{
    if (!m)
        return -EINVAL;
    int32_t old = __atomic_load_n(&m->state, __ATOMIC_SEQ_CST);
    if (old & (MUTEX_LOCKED | MUTEX_STARVING))
        return 0;
    return mutex_cas(&m->state, old, old | MUTEX_LOCKED) ? 1 : 0;
}

static void mutex_unlock_slow(goro_mutex *m, int32_t new)
{
    if (!((new + MUTEX_LOCKED) & MUTEX_LOCKED))
        throw("sync: unlock of unlocked mutex");
    if (new & MUTEX_STARVING) {
        semrelease1((uint32_t *)&m->sema, true); /* hand off and yield to the waiter */
        return;
    }
    int32_t old = new;
    for (;;) {
        /* Nobody to wake, or somebody already woken/locking: done. */
        if ((old >> MUTEX_WAITER_SHIFT) == 0 || (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)))
            return;
        new = (old - (1 << MUTEX_WAITER_SHIFT)) | MUTEX_WOKEN;
        if (mutex_cas(&m->state, old, new)) {
            semrelease1((uint32_t *)&m->sema, false);
            return;
        }
        old = __atomic_load_n(&m->state, __ATOMIC_SEQ_CST);
    }
}

void goro_mutex_unlock(goro_mutex *m)
{
    if (__builtin_expect(!m, 0))
        return null_mutex(__func__);
    int32_t new = __atomic_add_fetch(&m->state, -MUTEX_LOCKED, __ATOMIC_SEQ_CST);
    if (new != 0)
        mutex_unlock_slow(m, new);
}

/* ---------------------------------------------------------- rwmutex
 * Go's RWMutex: reader_count goes negative while a writer is pending, so
 * new readers queue behind it; reader_wait counts the readers the writer
 * still waits for. */

void goro_rwmutex_rlock(goro_rwmutex *rw)
{
    require(rw, __func__);
    if (__atomic_add_fetch(&rw->reader_count, 1, __ATOMIC_SEQ_CST) < 0)
        semacquire1(&rw->reader_sem, false, waitReasonSyncRWMutexRLock);
}

void goro_rwmutex_runlock(goro_rwmutex *rw)
{
    require(rw, __func__);
    int32_t r = __atomic_add_fetch(&rw->reader_count, -1, __ATOMIC_SEQ_CST);
    if (r >= 0)
        return;
    if (r + 1 == 0 || r + 1 == -RWMUTEX_MAX_READERS)
        throw("sync: RUnlock of unlocked RWMutex");
    if (__atomic_add_fetch(&rw->reader_wait, -1, __ATOMIC_SEQ_CST) == 0)
        semrelease(&rw->writer_sem); /* the last reader lets the writer in */
}

void goro_rwmutex_lock(goro_rwmutex *rw)
{
    require(rw, __func__);
    goro_mutex_lock(&rw->w); /* one writer at a time */
    int32_t r = __atomic_add_fetch(&rw->reader_count, -RWMUTEX_MAX_READERS, __ATOMIC_SEQ_CST) + RWMUTEX_MAX_READERS;
    if (r != 0 && __atomic_add_fetch(&rw->reader_wait, r, __ATOMIC_SEQ_CST) != 0)
        semacquire1(&rw->writer_sem, false, waitReasonSyncRWMutexLock);
}

void goro_rwmutex_unlock(goro_rwmutex *rw)
{
    require(rw, __func__);
    int32_t r = __atomic_add_fetch(&rw->reader_count, RWMUTEX_MAX_READERS, __ATOMIC_SEQ_CST);
    if (r >= RWMUTEX_MAX_READERS)
        throw("sync: Unlock of unlocked RWMutex");
    for (int32_t i = 0; i < r; i++)
        semrelease(&rw->reader_sem); /* readers that queued behind us */
    goro_mutex_unlock(&rw->w);
}

/* ---------------------------------------------------------- once */

void goro_once_do(goro_once *o, goro_fn fn, void *arg)
{
    require(o, __func__);
    if (!fn)
        null_argument(__func__);
    /* Acquire pairs with the release below: whoever sees done sees what
     * fn did. */
    if (__atomic_load_n(&o->done, __ATOMIC_ACQUIRE))
        return;
    goro_mutex_lock(&o->m);
    if (!o->done) {
        fn(arg);
        __atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
    }
    goro_mutex_unlock(&o->m);
}

/* ---------------------------------------------------------- cond
 * Go's notifyList: a waiter takes a ticket (wait++) before unlocking the
 * mutex; signal wakes the holder of ticket notify and bumps it; a waiter
 * whose ticket was notified before it parked does not park at all. */

typedef struct condwaiter {
    g *g;
    uint32_t ticket;
    struct condwaiter *next;
} condwaiter;

static inline bool ticket_less(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static bool unlock_cond(g *gp, void *l)
{
    (void)gp;
    spinunlock(l);
    return true;
}

void goro_cond_wait(goro_cond *c, goro_mutex *m)
{
    require(c, __func__);
    require(m, __func__);
    if (!on_goroutine())
        return; /* cannot block on a plain thread, nor report -EPERM (void): returns at once, m still held */
    uint32_t t = __atomic_fetch_add(&c->wait, 1, __ATOMIC_SEQ_CST);
    goro_mutex_unlock(m);
    spinmutex *l = (spinmutex *)&c->lock;
    spinlock_ranked(l, LOCKRANK_COND);
    if (ticket_less(t, load_relaxed(&c->notify))) {
        spinunlock(l); /* already signalled */
    } else {
        condwaiter w = { getg(), t, NULL };
        if (c->tail)
            ((condwaiter *)c->tail)->next = &w;
        else
            c->head = &w;
        c->tail = &w;
        gopark(unlock_cond, l, waitReasonSyncCondWait);
    }
    goro_mutex_lock(m);
}

void goro_cond_signal(goro_cond *c)
{
    require(c, __func__);
    /* Fast path: no waiter took a ticket since the last notify. The
     * seq-cst loads pair with the waiter's seq-cst ticket increment. */
    if (__atomic_load_n(&c->wait, __ATOMIC_SEQ_CST) == __atomic_load_n(&c->notify, __ATOMIC_SEQ_CST))
        return;
    spinmutex *l = (spinmutex *)&c->lock;
    spinlock_ranked(l, LOCKRANK_COND);
    uint32_t t = c->notify;
    if (t == __atomic_load_n(&c->wait, __ATOMIC_SEQ_CST)) {
        spinunlock(l);
        return;
    }
    __atomic_store_n(&c->notify, t + 1, __ATOMIC_SEQ_CST);
    condwaiter *prev = NULL;
    for (condwaiter *w = c->head; w; prev = w, w = w->next) {
        if (w->ticket != t)
            continue;
        if (prev)
            prev->next = w->next;
        else
            c->head = w->next;
        if (c->tail == w)
            c->tail = prev;
        spinunlock(l);
        goready(w->g);
        return;
    }
    spinunlock(l); /* ticket t is not parked yet: it will see notify */
}

void goro_cond_broadcast(goro_cond *c)
{
    require(c, __func__);
    if (__atomic_load_n(&c->wait, __ATOMIC_SEQ_CST) == __atomic_load_n(&c->notify, __ATOMIC_SEQ_CST))
        return;
    spinmutex *l = (spinmutex *)&c->lock;
    spinlock_ranked(l, LOCKRANK_COND);
    condwaiter *w = c->head;
    c->head = c->tail = NULL;
    __atomic_store_n(&c->notify, __atomic_load_n(&c->wait, __ATOMIC_SEQ_CST), __ATOMIC_SEQ_CST);
    spinunlock(l);
    while (w) {
        condwaiter *next = w->next; /* read before w's goroutine can run */
        goready(w->g);
        w = next;
    }
}
