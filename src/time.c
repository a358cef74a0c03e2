/*
 * Timers (Go's time.go): each P keeps a 4-ary min-heap of timers ordered
 * by when, under the P's timers lock. Expired timers run from the
 * scheduler (checkTimers in findRunnable, and for other Ps in the last
 * stealing round); an M with nothing to do sleeps until the earliest timer
 * of any P, and adding an earlier timer wakes an M to re-plan.
 *
 * A timer's state word says who owns it: in a heap (removal needs that
 * P's lock; t->pp is never NULL then, even while goro_maxprocs moves it),
 * running its function (owned by the M that took it out of the heap, until
 * it stores IDLE or puts a periodic timer back), or idle. Stop races with
 * firing only through that word: a stop during the function turns RUNNING
 * into STOPPING, and the M then leaves the timer idle. The goro_timer
 * calls take the timer's own lock, so stop, reset and free never run
 * against each other.
 */
#include "runtime.h"

#include <errno.h>
#include <stdlib.h>

enum { HEAP_ARITY = 4 };

/* ---------------------------------------------------------- 4-ary heap
 * All with pp->timers.lock held. */

static void heap_set(p *pp, int32_t i, timer *t)
{
    pp->timers.heap[i] = t;
    t->idx = i;
}

static void sift_up(p *pp, int32_t i)
{
    timer *t = pp->timers.heap[i];
    while (i > 0) {
        int32_t parent = (i - 1) / HEAP_ARITY;
        if (pp->timers.heap[parent]->when <= t->when)
            break;
        heap_set(pp, i, pp->timers.heap[parent]);
        i = parent;
    }
    heap_set(pp, i, t);
}

static void sift_down(p *pp, int32_t i)
{
    int32_t n = pp->timers.n;
    timer *t = pp->timers.heap[i];
    for (;;) {
        int32_t first = i * HEAP_ARITY + 1, best = -1;
        for (int32_t c = first; c < first + HEAP_ARITY && c < n; c++)
            if (pp->timers.heap[c]->when < (best < 0 ? t->when : pp->timers.heap[best]->when))
                best = c;
        if (best < 0)
            break;
        heap_set(pp, i, pp->timers.heap[best]);
        i = best;
    }
    heap_set(pp, i, t);
}

/* Puts t in pp's heap, which has a free slot (n < cap). */
static void heap_insert(p *pp, timer *t)
{
    heap_set(pp, pp->timers.n++, t);
    sift_up(pp, t->idx);
    store_relaxed(&pp->timers.first, pp->timers.heap[0]->when);
}

/* Puts t in pp's heap, growing it if the free slots are all kept for the
 * periodic timers being run (timers.rearming): rearm cannot fail. False
 * without memory, the heap as it was. */
static bool heap_push(p *pp, timer *t)
{
    if (pp->timers.n + pp->timers.rearming >= pp->timers.cap) {
        int32_t cap = pp->timers.cap ? pp->timers.cap * 2 : 16;
        timer **h = realloc(pp->timers.heap, (size_t)cap * sizeof *h);
        if (!h)
            return false;
        pp->timers.heap = h;
        pp->timers.cap = cap;
    }
    heap_insert(pp, t);
    return true;
}

/* Takes t out of pp's heap; t->pp is left to the caller. */
static void heap_unlink(p *pp, timer *t)
{
    int32_t i = t->idx, last = --pp->timers.n;
    if (i != last) {
        heap_set(pp, i, pp->timers.heap[last]);
        sift_down(pp, i);
        sift_up(pp, pp->timers.heap[i]->idx);
    }
    t->idx = -1;
    store_relaxed(&pp->timers.first, pp->timers.n ? pp->timers.heap[0]->when : 0);
}

static void heap_remove(p *pp, timer *t)
{
    heap_unlink(pp, t);
    /* Release: deltimer, which reads pp without the lock, finds NULL only
     * once the state that follows (RUNNING in checkTimers) is visible. */
    store_release(&t->pp, NULL);
}

/* ---------------------------------------------------------- add / delete */

/* The P the calling thread schedules on, or P0's heap for plain threads
 * (any heap works: every P's timers are checked by idle Ms). */
static p *timer_home(void)
{
    g *self = getg();
    if (self && self->m && self->m->p)
        return self->m->p;
    return load_acquire(&allp)[0];
}

/* Puts an idle timer in a heap. Caller owns it (state TIMER_IDLE). */
static bool addtimer1(timer *t, bool wake)
{
    /* Read before t is in a heap: from then on another M may fire it, and
     * a sleeping goroutine's timer (on its stack) may be gone. */
    int64_t when = t->when;
    p *pp = timer_home();
    lock(&pp->timers.lock);
    /* Release: a deleter that acquires t->pp finds it in this heap. */
    store_release(&t->pp, pp);
    if (!heap_push(pp, t)) {
        store_relaxed(&t->pp, NULL);
        unlock(&pp->timers.lock);
        return false;
    }
    store_release(&t->state, TIMER_INHEAP);
    /* Before anyone can fire it; and seq-cst because it is the adder's
     * half of timers_sync_idle: it follows the heap stores and precedes
     * wake_for_timer's reads of the idle Ps and Ms. */
    __atomic_add_fetch(&sched.ntimers, 1, __ATOMIC_SEQ_CST);
    unlock(&pp->timers.lock);
    if (wake)
        wake_for_timer(when);
    return true;
}

bool addtimer(timer *t)
{
    return addtimer1(t, true);
}

/* The allocation half of addtimer, for a park path that cannot report a
 * failure once committed (goro_sleep, a netpoll wait with a deadline):
 * before the G parks, t takes its slot in a heap, due never (INT64_MAX:
 * it cannot fire, so it cannot ready a G that is still running); the
 * park's unlockf then gives it its time with timer_arm, which allocates
 * nothing. False without memory: the caller reports -ENOMEM. Undone, if
 * the wait ends unarmed, by deltimer. */
bool timer_reserve(timer *t)
{
    t->when = INT64_MAX;
    return addtimer1(t, false);
}

/* A reserved timer (timer_reserve) becomes due at when. It is still in a
 * heap (it cannot have fired and only its owner deletes it) but maybe not
 * the one it was reserved in (moveTimers): found as deltimer finds it. */
void timer_arm(timer *t, int64_t when)
{
    for (;;) {
        p *pp = load_acquire(&t->pp);
        if (!pp)
            throw("timer_arm: reserved timer not in a heap");
        lock(&pp->timers.lock);
        if (load_relaxed(&t->pp) == pp) {
            t->when = when;
            sift_up(pp, t->idx);
            store_relaxed(&pp->timers.first, pp->timers.heap[0]->when);
            /* The adder's half of timers_sync_idle, as in addtimer: the
             * heap stores above, then wake_for_timer's reads. */
            timers_sync_idle();
            unlock(&pp->timers.lock);
            wake_for_timer(when);
            return;
        }
        unlock(&pp->timers.lock); /* it moved meanwhile: look again */
    }
}

/* Takes t out of its heap if it is in one. Returns true if it did: the
 * timer had not fired. */
bool deltimer(timer *t)
{
    for (;;) {
        /* Acquire, pairs with the release stores of t->pp: NULL is seen
         * only after the RUNNING store that precedes it in checkTimers. */
        p *pp = load_acquire(&t->pp);
        if (!pp)
            return false;
        lock(&pp->timers.lock);
        if (load_relaxed(&t->pp) == pp) {
            heap_remove(pp, t);
            store_release(&t->state, TIMER_IDLE);
            unlock(&pp->timers.lock);
            __atomic_sub_fetch(&sched.ntimers, 1, __ATOMIC_SEQ_CST);
            return true;
        }
        unlock(&pp->timers.lock); /* it moved or fired meanwhile: look again */
    }
}

/* The next firing of a periodic timer that was due at t->when: one period
 * later, or one period from now if it fell behind; never past INT64_MAX. */
static int64_t next_when(const timer *t, int64_t now)
{
    int64_t when = add_saturating(t->when, t->period);
    return when < now ? add_saturating(now, t->period) : when;
}

/* Puts a periodic timer that just ran back in pp's heap. The state stays
 * RUNNING until it is back, under pp's lock: a stop that came meanwhile
 * (RUNNING -> STOPPING) makes it leave again at once, so a stopped timer
 * is never rearmed, and timer_quiesce (waiting for RUNNING or STOPPING to
 * end) does not let its owner free or re-add it while this M still holds
 * it. */
static void rearm(p *pp, timer *t, int64_t now)
{
    lock(&pp->timers.lock);
    pp->timers.rearming--; /* the slot kept for t since checkTimers */
    if (load_acquire(&t->state) == TIMER_STOPPING) {
        /* Stopped already: do not touch the heap (timers.first would
         * announce a deadline that is not there). */
        unlock(&pp->timers.lock);
        store_release(&t->state, TIMER_IDLE); /* the last touch: t may be freed now */
        return;
    }
    t->when = next_when(t, now);
    store_release(&t->pp, pp);
    heap_insert(pp, t); /* into the slot kept for it: cannot fail */
    /* Acq_rel: a deltimer that finds t->pp, then takes the lock after us,
     * sees INHEAP; a stopper's STOPPING (acq_rel CAS) is seen here. */
    if (cas_acqrel(&t->state, TIMER_RUNNING, TIMER_INHEAP)) {
        __atomic_add_fetch(&sched.ntimers, 1, __ATOMIC_SEQ_CST);
        unlock(&pp->timers.lock);
        return;
    }
    heap_remove(pp, t); /* stopped while running */
    unlock(&pp->timers.lock);
    store_release(&t->state, TIMER_IDLE); /* the last touch: t may be freed now */
}

/* ---------------------------------------------------------- running */

/* Runs pp's timers that are due. Called by schedulers (on g0, with a P)
 * for their own P and, when stealing, for others. Timer functions run here
 * without any lock held and must not block. */
void checkTimers(p *pp, int64_t now)
{
    int64_t first = load_relaxed(&pp->timers.first);
    if (first == 0 || first > now)
        return;
    lock(&pp->timers.lock);
    while (pp->timers.n > 0 && pp->timers.heap[0]->when <= now) {
        timer *t = pp->timers.heap[0];
        /* RUNNING before pp goes NULL: a deltimer that sees NULL (and so
         * fails) must find the function running in timer_quiesce, or the
         * timer's owner could free it while the function is about to run. */
        store_release(&t->state, TIMER_RUNNING);
        heap_remove(pp, t);
        /* A periodic timer keeps its slot (other pushes grow the heap
         * instead of taking it), so that rearm cannot run out of memory
         * where nobody could be told. */
        if (t->period > 0)
            pp->timers.rearming++;
        unlock(&pp->timers.lock);
        __atomic_sub_fetch(&sched.ntimers, 1, __ATOMIC_SEQ_CST);
        t->f(t, now);
        if (t->period > 0)
            rearm(pp, t, now);
        else
            store_release(&t->state, TIMER_IDLE); /* the last touch: t may be freed now */
        lock(&pp->timers.lock);
    }
    unlock(&pp->timers.lock);
}

/* Called by an M that has just made its P idle (npidle, nmspinning),
 * before it reads the timers to decide how long to sleep. Adding a timer
 * is the mirror image: store the heap, then read whether a P is idle
 * (wake_for_timer). That is store buffering: with plain or acquire/release
 * accesses both sides may miss the other's store, and the P sleeps without
 * the timer while its adder wakes nobody. Both sides do a seq-cst RMW on
 * sched.ntimers between their store and their read (addtimer's increment,
 * this +0): the later of the two in ntimers' modification order reads from
 * the earlier and synchronises with it, so it sees the other's store.
 * (An RMW rather than a fence: ThreadSanitizer does not model fences.) */
void timers_sync_idle(void)
{
    __atomic_fetch_add(&sched.ntimers, 0, __ATOMIC_SEQ_CST);
}

/* The earliest timer of any P, 0 if none. */
int64_t timeSleepUntil(void)
{
    int64_t best = 0;
    int32_t n = load_acquire(&allplen);
    p **ps = load_acquire(&allp);
    for (int32_t i = 0; i < n; i++) {
        int64_t w = load_relaxed(&ps[i]->timers.first);
        if (w != 0 && (best == 0 || w < best))
            best = w;
    }
    return best;
}

/* A dead P's timers move to pp (procresize, world stopped, with both
 * heaps' locks held: plain threads may stop timers meanwhile). t->pp goes
 * from dead to pp without passing through NULL: a deltimer that read NULL
 * would report "already fired" for a timer that fires later on pp; one
 * that read dead finds, once it has dead's lock, that t moved, and looks
 * in pp. Out of memory is a fatal error: the world is stopped and the P
 * half destroyed, as procresize's own allocations. */
void moveTimers(p *dead, p *pp)
{
    while (dead->timers.n > 0) {
        timer *t = dead->timers.heap[0];
        heap_unlink(dead, t);
        store_release(&t->pp, pp); /* pairs with deltimer's acquire */
        if (!heap_push(pp, t))
            throw("moveTimers: out of memory");
    }
}

/* ---------------------------------------------------------- stop / reset */

/* 1 if t was pending and will not fire, 0 if it already fired or was
 * stopped. A periodic timer stopped while its function runs is not
 * rearmed. Callers are serialised (the goro_timer lock). */
static int timer_stop(timer *t)
{
    for (;;) {
        if (deltimer(t))
            return 1;
        uint32_t s = load_acquire(&t->state);
        if (s == TIMER_IDLE || s == TIMER_STOPPING)
            return 0;
        /* RUNNING: ask the M not to rearm it. The CAS fails if it did
         * rearm it (INHEAP, after deltimer read pp == NULL): remove it
         * from the heap then. */
        if (s == TIMER_RUNNING && cas_acqrel(&t->state, TIMER_RUNNING, TIMER_STOPPING))
            return 0;
    }
}

/* Waits until no M runs t's function (before freeing it). */
void timer_quiesce(timer *t)
{
    while (load_acquire(&t->state) == TIMER_RUNNING || load_acquire(&t->state) == TIMER_STOPPING)
        osyield();
}

/* ---------------------------------------------------------- goro_sleep */

static void sleep_fire(timer *t, int64_t now)
{
    (void)now;
    goready(t->arg);
}

typedef struct sleeper {
    timer t;
    int64_t when;
} sleeper;

/* unlockf of goro_sleep's gopark: the timer starts only once the G's
 * context is saved, so its goready can never find the G still running.
 * Its heap slot was taken before parking (timer_reserve), so this cannot
 * fail: an unlockf that returned false would resume the G early. */
static bool sleep_arm(g *gp, void *arg)
{
    (void)gp;
    sleeper *s = arg;
    timer_arm(&s->t, s->when);
    return true;
}

/* -ENOMEM, without sleeping, when there is no memory for its timer. */
int goro_sleep(int64_t ns)
{
    g *gp = getg();
    if (!gp || gp->goid <= 0)
        return -EPERM;
    check_preempt();
    if (ns <= 0)
        return 0;
    sleeper s = { .t = { .f = sleep_fire, .arg = gp, .idx = -1 }, .when = nanotime_after(ns) };
    if (!timer_reserve(&s.t))
        return -ENOMEM;
    gopark(sleep_arm, &s, waitReasonSleep);
    timer_quiesce(&s.t); /* sleep_fire may still be returning */
    return 0;
}

/* ---------------------------------------------------------- public timers */

enum { GTIMER_LIVE = 0x676f726f74696d72ull, GTIMER_FREED = 0x6672656564746d72ull };

struct goro_timer {
    timer t;          /* first: malloc's free-list links land on t.when/period */
    uint64_t magic;   /* GTIMER_LIVE, GTIMER_FREED once freed */
    mutex oplock;     /* serialises stop, reset and free */
    goro_chan *c;     /* goro_timer_new: cap 1, receives goro_now() at firing */
    goro_fn fn;       /* goro_after_func: runs in its own goroutine */
    void *arg;
};

static void timer_check_live(const goro_timer *t, const char *call)
{
    check_live(&t->magic, GTIMER_LIVE, GTIMER_FREED, call, "timer");
}

/* Go's sendTime: a non-blocking send, so a slow reader of a periodic
 * timer misses ticks instead of blocking the M that runs timers. */
static void chan_fire(timer *t, int64_t now)
{
    goro_timer *gt = t->arg;
    goro_chan_trysend(gt->c, &now);
}

static void gofunc_fire(timer *t, int64_t now)
{
    (void)now;
    goro_timer *gt = t->arg;
    goro_go(gt->fn, gt->arg);
}

/* A started timer: fn != NULL runs fn(arg) in a goroutine, otherwise the
 * firing time goes to the timer's channel. */
static goro_timer *timer_start(int64_t delay_ns, int64_t period_ns, goro_fn fn, void *arg)
{
    bool foreign = !on_m();
    if (foreign && !foreign_enter()) {
        errno = EPERM;
        return NULL;
    }
    goro_timer *gt = calloc(1, sizeof *gt);
    if (gt && !fn && !(gt->c = goro_chan_make(sizeof(int64_t), 1))) {
        free(gt);
        gt = NULL;
    }
    if (gt) {
        gt->magic = GTIMER_LIVE;
        lockinit(&gt->oplock, LOCKRANK_TIMEROP);
        gt->fn = fn;
        gt->arg = arg;
        gt->t = (timer){ .when = nanotime_after(delay_ns > 0 ? delay_ns : 0),
                         .period = period_ns > 0 ? period_ns : 0,
                         .f = fn ? gofunc_fire : chan_fire,
                         .arg = gt,
                         .idx = -1 };
        if (!addtimer(&gt->t)) {
            goro_chan_free(gt->c);
            free(gt);
            gt = NULL;
        }
    }
    if (foreign)
        foreign_exit();
    if (!gt)
        errno = ENOMEM;
    return gt;
}

goro_timer *goro_timer_new(int64_t delay_ns, int64_t period_ns)
{
    return timer_start(delay_ns, period_ns, NULL, NULL);
}

goro_chan *goro_timer_chan(goro_timer *t)
{
    if (!t) {
        errno = EINVAL;
        return NULL;
    }
    timer_check_live(t, "goro_timer_chan");
    if (!t->c)
        errno = EINVAL; /* goro_after_func's timer has no channel */
    return t->c;
}

goro_timer *goro_after_func(int64_t delay_ns, goro_fn fn, void *arg)
{
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    return timer_start(delay_ns, 0, fn, arg);
}

/* Timer calls from plain threads run only inside a live runtime. */
#define FOREIGN_GUARD(fail)                          \
    bool foreign_ = !on_m();                         \
    if (foreign_ && !foreign_enter())                \
        return (fail)
#define FOREIGN_DONE() \
    if (foreign_)      \
    foreign_exit()

/* Returns once the timer's function is not running either (Go's deltimer
 * waits for a running timer): after a 0, a tick sent by the firing that
 * won is already in the channel, so the drain-after-stop idiom works. */
int goro_timer_stop(goro_timer *t)
{
    if (!t)
        return -EINVAL;
    timer_check_live(t, "goro_timer_stop");
    FOREIGN_GUARD(-EPERM);
    lock(&t->oplock);
    int stopped = timer_stop(&t->t);
    timer_quiesce(&t->t);
    unlock(&t->oplock);
    FOREIGN_DONE();
    return stopped;
}

/* Under the timer's lock, so two resets cannot both add it: stopped and
 * quiesced, it is idle and ours until addtimer. */
int goro_timer_reset(goro_timer *t, int64_t delay_ns)
{
    if (!t)
        return -EINVAL;
    timer_check_live(t, "goro_timer_reset");
    FOREIGN_GUARD(-EPERM);
    lock(&t->oplock);
    int active = timer_stop(&t->t);
    timer_quiesce(&t->t);
    t->t.when = nanotime_after(delay_ns > 0 ? delay_ns : 0);
    if (!addtimer(&t->t))
        active = -ENOMEM;
    unlock(&t->oplock);
    FOREIGN_DONE();
    return active;
}

int goro_timer_free(goro_timer *t)
{
    if (!t)
        return -EINVAL;
    timer_check_live(t, "goro_timer_free");
    FOREIGN_GUARD(-EPERM);
    lock(&t->oplock);
    timer_stop(&t->t);
    timer_quiesce(&t->t);
    unlock(&t->oplock);
    FOREIGN_DONE();
    if (t->c && goro_chan_free(t->c) != 0)
        return -EBUSY; /* a goroutine still waits on the channel */
    mark_freed(&t->magic, GTIMER_FREED);
    free(t);
    return 0;
}
