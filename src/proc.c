/*
 * The scheduler: Go's proc.go in C. Gs (goroutines) run on Ms (threads)
 * that hold Ps (processors, GOMAXPROCS of them). Each P has a local run
 * queue (runq.c); an M without work steals from other Ps, then parks.
 *
 * Stack discipline: a goroutine enters the scheduler with mcall(fn), which
 * saves its context and runs fn on the M's g0 (the thread's own stack);
 * the scheduler leaves g0 with gogo(&gp->sched). g0 frames never survive a
 * switch: every mcall starts again at m->g0sp.
 *
 * Worker thread parking and unparking (Go's essay at the top of proc.go).
 * Keep enough Ms running to use every P, but park the others, without
 * losing work. Work is submitted (a G on a run queue, a timer, ready
 * I/O) and then, with a StoreLoad ordering between the two, the submitter
 * checks whether an idle P and no spinning M exist and wakes one (wakep).
 * An M runs out of work, goes "spinning" (counted in sched.nmspinning)
 * while it steals, and on giving up its P it first drops the spinning
 * count (a seq-cst RMW) and then looks at every queue again: a submitter
 * that saw it spinning woke nobody, so this last look must find that
 * work. Only one M spins per idle P burst; a spinning M that finds work
 * wakes another (resetspinning), so wake-ups ripple without a thundering
 * herd. Timers follow the same shape (wake_for_timer, timers_sync_idle).
 *
 * The files of the scheduler, lowest first: runtime2.c (the global
 * state: sched, allp, allm, m0, tls_g), gate.c (the plain-thread gate), newproc.c (Gs: status, allgs, free lists, creation),
 * checkdead.c (deadlock detection), m.c (Ms and the idle lists), proc.c
 * (this file: switching, schedule/findRunnable, park/ready, yield, exit
 * of a G), syscall.c (entersyscall/exitsyscall), procresize.c (Ps,
 * stop-the-world), debug.c (stats, schedtrace), lifecycle.c (goro_run,
 * boot, exit, teardown). Calls go down (checkdead is called by the M
 * lists it inspects, from above), except three deliberate ones: an M's
 * first step (mstart_common in m.c) enters the scheduler with schedule
 * and switch_to, and newproc hands a new G to queue_runnable here.
 */
#include "runtime.h"
#include "proc.h"

#include "fiber_sanitizer.h"

#include <pthread.h>

enum {
    SCHED_GLOBAL_EVERY = 61, /* schedticks between fairness checks of the global queue */
    STEAL_TRIES = 4,
};

_Static_assert(offsetof(gobuf, sp) == GOBUF_SP, "gobuf.sp offset");
_Static_assert(offsetof(gobuf, pc) == GOBUF_PC, "gobuf.pc offset");
_Static_assert(offsetof(gobuf, bp) == GOBUF_BP, "gobuf.bp offset");
_Static_assert(offsetof(gobuf, mxcsr) == 64 && offsetof(gobuf, fpucw) == 68, "gobuf fp control offsets");
_Static_assert(offsetof(g, stack) + sizeof(stack) <= 2 * CACHE_LINE, "a switch touches more than two lines of a G");


/* Random coprime stride over the Ps, as Go's randomOrder. */
static uint32_t steal_coprimes[MAX_GOMAXPROCS];
static uint32_t nsteal_coprimes;

static __thread mcallfn tls_mcallfn;

/* The last step on g0 before gogo: tell the sanitizers which stack comes
 * next. Not instrumented by TSan: after the fiber switch no instrumented
 * function may return on g0 (it would pop the new fiber's shadow stack). */
__attribute__((no_sanitize_thread)) gobuf *switch_to(m *mp, g *gp)
{
    /* A goroutine may resume on another thread: no runtime lock may be
     * held across the switch (lockrank.h). */
    lockrank_switch("switching to a goroutine", false);
    fiber_switch_begin(&mp->g0_asan_fake_stack, gp->stack.lo, gp->stack.hi - gp->stack.lo, gp->tsan_fiber);
    setg(gp);
    return &gp->sched;
}

/* Runs on g0 at m->g0sp. The mcall function returns the next G to run and
 * every C frame on g0 returns before the switch (asm_amd64.S calls gogo),
 * so the sanitizers see balanced calls on every stack. */
__attribute__((no_sanitize_thread)) static gobuf *mcall_on_g0(void *arg)
{
    m *mp = ((g *)arg)->m;
    fiber_switch_end(mp->g0_asan_fake_stack);
    setg(mp->g0);
    g *next = tls_mcallfn(arg);
    return switch_to(mp, next);
}

static inline void mcall1(mcallfn fn, bool dying)
{
    g *gp = getg();
    m *mp = gp->m;
    uintptr_t sp = getcallersp();
    if (sp < gp->minsp)
        gp->minsp = sp;
    tls_mcallfn = fn;
    fiber_switch_begin(dying ? NULL : &gp->asan_fake_stack, mp->g0stacklo, mp->g0stacksize, mp->g0->tsan_fiber);
    mcall_switch(&gp->sched, mp->g0sp, mcall_on_g0, gp);
    /* Resumed by gogo, perhaps on another thread. */
    fiber_switch_end(gp->asan_fake_stack);
}

static g *park_m(g *gp);

/* Leaving a goroutine for g0 holding a runtime lock is allowed only to
 * gopark, whose unlockf releases it there (park_m checks that it did). */
void mcall(g *(*fn)(g *))
{
    lockrank_switch("leaving a goroutine (mcall)", fn == park_m);
    mcall1(fn, false);
}

/* mcall for a G that never resumes (its frames are abandoned). */
void mcall_exit(mcallfn fn)
{
    lockrank_switch("leaving a goroutine (mcall)", false);
    mcall1(fn, true);
}

/* Runs gp on the current M. inheritTime: gp shares the current time slice
 * (it came from runnext), so the schedtick sysmon watches does not move. */
g *execute(g *gp, bool inheritTime)
{
    m *mp = getg()->m;
    p *pp = mp->p;
    /* Release: sysmon load-acquires curg and then touches the G. */
    store_release(&mp->curg, gp);
    store_relaxed(&gp->m, mp); /* dumps read it concurrently */
    setgstatus_owned(gp, _Grunnable, _Grunning);
    store_relaxed(&gp->preempt, 0);
    store_relaxed(&gp->waitreason, waitReasonZero);
    if (!inheritTime) {
        store_relaxed(&pp->schedtick, pp->schedtick + 1);
        store_relaxed(&pp->preempt, 0); /* a new time slice starts */
    }
    store_relaxed(&pp->nctxswitch, pp->nctxswitch + 1);
    TRACE(pp, TRACE_GO_START, gp->goid, 0);
    return gp;
}

/* First C code of every goroutine (called by gostart_trampoline). */
void gostart(void);
void gostart(void)
{
    fiber_switch_end(NULL);
    g *gp = getg();
    gp->fn(gp->arg);
    goro_exit();
}

/* An M starts looking for work to steal (sched.nmspinning counts it). */
static void becomeSpinning(m *mp)
{
    mp->spinning = true;
    /* An RMW, so that concurrent spinners and wakep's CAS count right;
     * seq-cst like every change of nmspinning, though only the decrement
     * before the last look (findRunnable) needs it: a waker that sees this
     * increment and skips waking is safe by wakep's argument. */
    __atomic_add_fetch(&sched.nmspinning, 1, __ATOMIC_SEQ_CST);
    /* Relaxed: needspinning is a hint (a wakep found no idle P) that the
     * next M going idle reads under sched.lock; a stale value costs one
     * spin or one missed spin, and the spinner finds queued work anyway. */
    store_relaxed(&sched.needspinning, 0);
}

/* A spinning M found work: stop spinning, and since it may have taken the
 * last work that justified spinning, wake another M to look for more. */
static void resetspinning(m *mp)
{
    mp->spinning = false;
    if (__atomic_sub_fetch(&sched.nmspinning, 1, __ATOMIC_SEQ_CST) == (uint32_t)-1)
        throw("resetspinning: negative nmspinning");
    wakep();
}

void recompute_steal_order(int32_t n)
{
    nsteal_coprimes = 0;
    for (uint32_t i = 1; i <= (uint32_t)n; i++) {
        uint32_t a = i, b = (uint32_t)n;
        while (b) {
            uint32_t t = a % b;
            a = b;
            b = t;
        }
        if (a == 1)
            steal_coprimes[nsteal_coprimes++] = i;
    }
}

/* Four passes over all Ps in a random order; the last may take a running
 * P's runnext. Returns a G, or NULL (also when the world must stop). */
static g *stealWork(p *pp)
{
    for (int i = 0; i < STEAL_TRIES; i++) {
        bool stealRunNextG = i == STEAL_TRIES - 1;
        uint32_t n = (uint32_t)load_acquire(&gomaxprocs);
        p **ps = load_acquire(&allp);
        uint32_t pos = cheaprandn(n);
        uint32_t inc = steal_coprimes[cheaprandn(nsteal_coprimes)];
        for (uint32_t k = 0; k < n; k++, pos = (pos + inc) % n) {
            if (load_relaxed(&sched.gcwaiting) || load_relaxed(&sched.exiting))
                return NULL;
            p *p2 = ps[pos];
            if (p2 == pp)
                continue;
            if (stealRunNextG && load_relaxed(&p2->timers.first) != 0) {
                /* Run another P's due timers: what they ready lands here. */
                checkTimers(p2, nanotime());
                bool inherit;
                g *gp = runqget(pp, &inherit);
                if (gp)
                    return gp;
            }
            if (load_relaxed(&p2->status) == _Pidle)
                continue;
            g *gp = runqsteal(pp, p2, stealRunNextG);
            if (gp) {
                store_relaxed(&pp->nsteal, pp->nsteal + 1 + runqlen(pp));
                return gp;
            }
        }
    }
    return NULL;
}

/* Some P other than ours has work: return an idle P to run it with. */
static p *checkRunqsNoP(void)
{
    int32_t n = load_acquire(&gomaxprocs);
    p **ps = load_acquire(&allp);
    for (int32_t i = 0; i < n; i++) {
        if (!runqempty(ps[i])) {
            lock(&sched.lock);
            p *pp = pidlegetSpinning();
            unlock(&sched.lock);
            return pp;
        }
    }
    return NULL;
}

/* Makes the Gs netpoll returned runnable: onto the global queue, with an
 * M started for each idle P that could run one (Go's injectglist); then
 * they stop counting as I/O waiters (see netpollAnyWaiters). */
void injectglist(gList *list)
{
    int32_t n = 0;
    g *gp, *self = getg();
    p *pp = self && self->m ? self->m->p : NULL;
    spinlock(&sched.runqlock);
    while ((gp = glist_pop(list))) {
        setgstatus_owned(gp, _Gwaiting, _Grunnable);
        TRACE(pp, TRACE_GO_UNBLOCK, gp->goid, 0);
        globrunqput(gp);
        n++;
    }
    spinunlock(&sched.runqlock);
    for (int32_t i = 0; i < n && load_relaxed(&sched.npidle) > 0; i++)
        startm(NULL, false);
    netpollDone(n);
}

/* Non-blocking netpoll from findRunnable: a ready G to run now, the others
 * queued; NULL if none. */
static g *netpoll_runnable(void)
{
    gList list = { NULL };
    netpoll(0, &list);
    g *gp = glist_pop(&list);
    if (gp) {
        injectglist(&list);
        setgstatus_owned(gp, _Gwaiting, _Grunnable);
        TRACE(getg()->m->p, TRACE_GO_UNBLOCK, gp->goid, 0);
        netpollDone(1);
    }
    return gp;
}

/* The M has nothing to do and goroutines wait for I/O: block in netpoll
 * until I/O, the earliest timer or a netpollBreak. Returns holding a P,
 * with the first ready G to run or NULL; without an idle P the ready Gs
 * are queued and the M parks until it is handed one (stopm). */
static g *netpoll_block(int64_t pollUntil)
{
    int64_t now = nanotime();
    /* Relaxed: read by wake_for_timer only to decide whether to break the
     * poll; its argument covers a stale value (a needless break, or a
     * wakep that starts an M to run the timer). */
    store_relaxed(&sched.pollUntil, pollUntil);
    gList list = { NULL };
    netpoll(pollUntil == 0 ? -1 : (pollUntil > now ? pollUntil - now : 0), &list);
    store_relaxed(&sched.pollUntil, 0);
    /* Seq-cst, with the exchange that elected us (findRunnable) and
     * sysmon's CAS: while lastpoll is 0 they leave polling to the blocked
     * M; storing a time re-opens it, and the single order of these three
     * keeps at most one M blocked in netpoll. */
    __atomic_store_n(&sched.lastpoll, nanotime(), __ATOMIC_SEQ_CST);
    lock(&sched.lock);
    p *pp = load_relaxed(&sched.exiting) || load_relaxed(&sched.gcwaiting) ? NULL : pidleget();
    unlock(&sched.lock);
    if (!pp) {
        injectglist(&list);
        stopm();
        return NULL;
    }
    acquirep(pp);
    g *gp = glist_pop(&list);
    if (gp) {
        setgstatus_owned(gp, _Gwaiting, _Grunnable);
        TRACE(pp, TRACE_GO_UNBLOCK, gp->goid, 0);
        injectglist(&list);
        netpollDone(1);
    }
    return gp;
}

/* Finds a runnable goroutine, blocking (stopm) until one exists: Go's
 * findRunnable in the same order of search. */
static g *findRunnable(bool *inheritTime)
{
    m *mp = getg()->m;
top:;
    p *pp = mp->p;
    if (load_relaxed(&sched.exiting))
        mexit(mp);
    if (load_relaxed(&sched.gcwaiting)) {
        gcstopm();
        goto top;
    }
    *inheritTime = false;
    if (load_relaxed(&pp->timers.first) != 0)
        checkTimers(pp, nanotime());
    /* Fairness: now and then the global queue goes first, so two
     * goroutines respawning each other locally cannot starve it. */
    if (pp->schedtick % SCHED_GLOBAL_EVERY == 0 && load_relaxed(&sched.runqsize) > 0) {
        g *gp = globrunq_take(pp, 1);
        if (gp)
            return gp;
    }
    g *gp = runqget(pp, inheritTime);
    if (gp)
        return gp;
    if (load_relaxed(&sched.runqsize) != 0) {
        gp = globrunq_take(pp, 0);
        if (gp)
            return gp;
    }
    /* I/O that became ready, unless an M is blocked in netpoll anyway. */
    if (netpollinited() && netpollAnyWaiters() && load_relaxed(&sched.lastpoll) != 0) {
        gp = netpoll_runnable();
        if (gp)
            return gp;
    }
    /* Spinning Ms are limited to half the busy Ps: beyond that, stealing
     * burns CPU for nothing. */
    int32_t procs = load_relaxed(&gomaxprocs);
    if (mp->spinning || 2 * (int32_t)load_relaxed(&sched.nmspinning) < procs - (int32_t)load_relaxed(&sched.npidle)) {
        if (!mp->spinning)
            becomeSpinning(mp);
        gp = stealWork(pp);
        if (gp)
            return gp;
        if (load_relaxed(&sched.gcwaiting) || load_relaxed(&sched.exiting))
            goto top;
    }

    /* Nothing found: give up the P. Check the global queue and the
     * stop-the-world flag once more under the lock first. The P goes idle
     * before runqlock is released: a thread that queues globally after
     * our look takes runqlock after us, so its wakep sees npidle count
     * this P. */
    lock(&sched.lock);
    if (load_relaxed(&sched.gcwaiting) || load_relaxed(&sched.exiting)) {
        unlock(&sched.lock);
        goto top;
    }
    spinlock(&sched.runqlock);
    if (sched.runqsize != 0) {
        g *batch[GLOBRUNQ_BATCH];
        int32_t n = globrunqget(0, batch);
        spinunlock(&sched.runqlock);
        unlock(&sched.lock);
        return globrunq_keep(pp, batch, n);
    }
    if (!mp->spinning && load_relaxed(&sched.needspinning)) {
        /* A wakep found no idle P a moment ago: spin instead of sleeping. */
        becomeSpinning(mp);
        spinunlock(&sched.runqlock);
        unlock(&sched.lock);
        goto top;
    }
    if (releasep() != pp)
        throw("findRunnable: wrong p");
    pidleput(pp);
    spinunlock(&sched.runqlock);
    unlock(&sched.lock);

    /* The delicate dance: new work may have been queued between our last
     * look and the decrement of nmspinning, by a thread that saw us
     * spinning and so did not wake anyone. The seq-cst decrement is the
     * StoreLoad barrier before re-checking every queue (Go issue 43997). */
    if (mp->spinning) {
        mp->spinning = false;
        if (__atomic_sub_fetch(&sched.nmspinning, 1, __ATOMIC_SEQ_CST) == (uint32_t)-1)
            throw("findRunnable: negative nmspinning");
        /* A thread without a P may have queued globally after our check:
         * its wakep saw us spinning and woke nobody. */
        spinlock(&sched.runqlock);
        bool global_work = sched.runqsize != 0;
        spinunlock(&sched.runqlock);
        if (global_work) {
            lock(&sched.lock);
            pp = pidlegetSpinning();
            unlock(&sched.lock);
            if (pp) {
                acquirep(pp);
                becomeSpinning(mp);
                goto top;
            }
        }
        pp = checkRunqsNoP();
        if (pp) {
            acquirep(pp);
            becomeSpinning(mp);
            goto top;
        }
    }
    /* Sleep until the earliest timer of any P, then run it with any idle P.
     * With goroutines waiting for I/O, one M sleeps in netpoll instead.
     * Our P is idle (npidle, and nmspinning dropped) before we read the
     * timers, so a timer added concurrently is seen here or its adder sees
     * our P idle (timers_sync_idle). */
    timers_sync_idle();
    int64_t pollUntil = timeSleepUntil();
    /* The exchange elects one poller among the idle Ms; sysmon and
     * findRunnable skip polling while lastpoll is 0 (it blocks for them). */
    if (netpollinited() && netpollAnyWaiters() && __atomic_exchange_n(&sched.lastpoll, 0, __ATOMIC_SEQ_CST) != 0) {
        gp = netpoll_block(pollUntil);
        if (gp)
            return gp;
        goto top;
    }
    if (pollUntil == 0) {
        stopm();
    } else if (!stopm_until(pollUntil)) {
        lock(&sched.lock);
        pp = pidleget();
        unlock(&sched.lock);
        if (pp)
            acquirep(pp);
        else
            stopm(); /* every P is busy: their Ms run the timers */
    }
    goto top;
}

/* The time slice is over: the G in runnext must not inherit it. It goes
 * to the global queue, as a preempted G does, so that a ping-pong pair
 * readying each other through runnext lets the global queue run too. */
static void expire_runnext(p *pp)
{
    g *next = load_relaxed(&pp->runnext);
    if (next && cas_acqrel(&pp->runnext, next, NULL)) {
        spinlock(&sched.runqlock);
        globrunqput(next);
        spinunlock(&sched.runqlock);
    }
}

/* One round of the scheduler: returns the G to switch to. */
g *schedule(void)
{
    m *mp = getg()->m;
    if (mp->lockedg) {
        /* This thread belongs to a goroutine that is not runnable: give
         * the P away and wait until that goroutine is handed back. */
        stoplockedm();
        return execute(mp->lockedg, false);
    }
top:
    if (!mp->p)
        throw("schedule: no p");
    /* sysmon asked this P to end its time slice: even if the G it flagged
     * parked before seeing the request, runnext does not inherit it. */
    if (load_relaxed(&mp->p->preempt)) {
        store_relaxed(&mp->p->preempt, 0);
        expire_runnext(mp->p);
    }
    bool inheritTime;
    g *gp = findRunnable(&inheritTime);
    if (mp->spinning)
        resetspinning(mp);
    if (gp->lockedm) {
        /* gp runs only on its own thread: hand it our P, then wait for
         * another one. */
        startlockedm(gp);
        goto top;
    }
    return execute(gp, inheritTime);
}

static __thread bool (*tls_waitunlockf)(g *, void *);
static __thread void *tls_waitlock;

static g *park_m(g *gp)
{
    m *mp = getg()->m;
    setgstatus_owned(gp, _Grunning, _Gwaiting);
    TRACE(mp->p, TRACE_GO_BLOCK, gp->goid, gp->waitreason);
    store_relaxed(&mp->curg, NULL);
    store_relaxed(&gp->m, NULL);
    bool (*fn)(g *, void *) = tls_waitunlockf;
    tls_waitunlockf = NULL;
    bool park = !fn || fn(gp, tls_waitlock);
    lockrank_switch("parking: gopark's unlockf returned", false);
    if (!park) {
        casgstatus(gp, _Gwaiting, _Grunnable);
        return execute(gp, true);
    }
    return schedule();
}

/* Parks the current goroutine; unlockf(gp, lock) runs on g0 once gp's
 * context is saved, so a waker that needs the lock can only ready gp after
 * it is fully off its stack. unlockf returning false resumes gp at once. */
void gopark(bool (*unlockf)(g *, void *), void *lockp, enum waitreason reason)
{
    g *gp = getg();
    if (!is_user_g(gp))
        throw("gopark: not on a goroutine");
    store_relaxed(&gp->preempt, 0); /* parking yields anyway */
    store_relaxed(&gp->waitreason, (uint8_t)reason);
    tls_waitunlockf = unlockf;
    tls_waitlock = lockp;
    mcall(park_m);
}

/* Queues a runnable G where the current thread puts new work: its P's
 * runnext (the old runnext moves to the tail), or the global queue when
 * it has no P (a plain thread). Then makes sure some M will look. */
void queue_runnable(p *pp, g *gp)
{
    if (pp) {
        runqput(pp, gp, true);
    } else {
        spinlock(&sched.runqlock);
        globrunqput(gp);
        spinunlock(&sched.runqlock);
    }
    wakep();
}

/* Makes gp runnable: into the waker's runnext (it inherits the time slice,
 * so a ping-pong pair stays on one P), or onto the global queue when the
 * waker is a plain thread. */
void goready(g *gp)
{
    setgstatus_owned(gp, _Gwaiting, _Grunnable);
    g *self = getg();
    p *pp = self && self->m ? self->m->p : NULL;
    TRACE(pp, TRACE_GO_UNBLOCK, gp->goid, 0);
    queue_runnable(pp, gp);
    check_preempt();
}

/* A timer of pp is due: the scheduler must pass through findRunnable
 * (checkTimers) before it runs a G again. */
static bool timers_due(p *pp)
{
    /* Relaxed: a hint. Our own P's heap is written by this M or under
     * its lock by others; a stale value only decides whether this switch
     * takes the short path, and findRunnable rereads it under the lock
     * (checkTimers) at the latest 61 schedticks on. */
    int64_t first = load_relaxed(&pp->timers.first);
    return first != 0 && first <= nanotime();
}

/* Preemption, and goro_yield with nothing else on this P: the G goes to
 * the global queue (Go's Gosched). */
static g *gosched_m(g *gp)
{
    m *mp = getg()->m;
    p *pp = mp->p;
    setgstatus_owned(gp, _Grunning, _Grunnable);
    TRACE(pp, load_relaxed(&gp->preempt) ? TRACE_GO_PREEMPT : TRACE_GO_YIELD, gp->goid, 0);
    store_relaxed(&mp->curg, NULL);
    store_relaxed(&gp->m, NULL);
    /* With nothing local, findRunnable would take the lock again to get
     * the next G from the global queue: take it now. With one P, take just
     * that G: nobody else drains the global queue, so moving a batch to the
     * local queue would only add a CAS per G; with several Ps a batch saves
     * round trips on this lock. Not with a timer due: with one P the G
     * just queued would come straight back, and a goroutine looping on
     * goro_preempt_point kept the P's timers from running for 61
     * schedticks (1.2 s). */
    bool take = !load_relaxed(&sched.gcwaiting) && !load_relaxed(&sched.exiting) && !mp->lockedg &&
                pp->schedtick % SCHED_GLOBAL_EVERY != 0 && runqempty(pp) && !timers_due(pp);
    g *batch[GLOBRUNQ_BATCH];
    int32_t n = 0;
    spinlock(&sched.runqlock);
    globrunqput(gp);
    if (take)
        n = globrunqget(gomaxprocs == 1 ? 1 : 0, batch);
    spinunlock(&sched.runqlock);
    g *next = globrunq_keep(pp, batch, n);
    wakep(); /* an idle P could run what is now on the global queue */
    if (next && next->lockedm) {
        runqput(pp, next, false); /* schedule hands it to its thread */
        next = NULL;
    }
    return next ? execute(next, false) : schedule();
}

void gosched(void)
{
    mcall(gosched_m);
}

/* goro_yield with other goroutines on this P: the G goes to the tail of the
 * local queue (Go's goyield), behind them. Through the global queue (what
 * Go's Gosched does) every other yield moved a goroutine to the other core:
 * 100 goroutines yielding at GOMAXPROCS=2 cost 205 ns per yield, against
 * 20 ns this way. The global queue still gets its turn every 61st
 * schedtick and whenever the local queue runs dry, and idle Ps steal. */
static g *goyield_m(g *gp)
{
    m *mp = getg()->m;
    p *pp = mp->p;
    if (runqempty(pp))
        return gosched_m(gp);
    setgstatus_owned(gp, _Grunning, _Grunnable);
    TRACE(pp, TRACE_GO_YIELD, gp->goid, 0);
    store_relaxed(&mp->curg, NULL);
    store_relaxed(&gp->m, NULL);
    runqput(pp, gp, false);
    return schedule();
}

/* True when a yield has nothing to yield to: this P's queues and the
 * global queue are empty, no timer of this P is due, and neither sysmon
 * nor a stop-the-world wants the P. Going through the global queue would
 * only hand the same G back (or move it to another core). */
static bool yield_is_noop(g *gp)
{
    p *pp = gp->m->p;
    if (load_relaxed(&gp->preempt) || load_relaxed(&pp->preempt) || load_relaxed(&sched.gcwaiting) ||
        load_relaxed(&sched.exiting) || load_relaxed(&sched.runqsize) != 0 || !runqempty(pp))
        return false;
    return !timers_due(pp);
}

static g *goexit0(g *gp)
{
    m *mp = getg()->m;
    setgstatus_owned(gp, _Grunning, _Gdead);
    TRACE(mp->p, TRACE_GO_END, gp->goid, 0);
    store_relaxed(&mp->curg, NULL);
    store_relaxed(&gp->m, NULL);
    gp->fn = NULL;
    gp->arg = NULL;
    store_relaxed(&gp->preempt, 0);
    stack_release_excess(gp);
    fiber_recycle(&gp->tsan_fiber);
    gfput(mp->p, gp);
    if (gp->lockedm) {
        /* Exiting while locked: the goroutine may have changed the
         * thread's state, so the thread ends with it (as in Go); m0, the
         * thread goro_run returns on, is only unlocked. */
        gp->lockedm = NULL;
        gp->lockedcount = 0;
        mp->lockedg = NULL;
        if (mp != &m0) {
            handoffp(releasep());
            mexit(mp);
        }
    }
    return schedule();
}

_Noreturn void goro_exit(void)
{
    g *gp = getg();
    if (!is_user_g(gp)) {
        /* Not a goroutine: there is nothing to end but the thread. */
        pthread_exit(NULL);
    }
    fiber_abandon_frames();
    lockrank_switch("leaving a goroutine (goro_exit)", false);
    mcall1(goexit0, true);
    __builtin_unreachable();
}

void goro_yield(void)
{
    g *gp = getg();
    if (!is_user_g(gp))
        return;
    if (yield_is_noop(gp)) {
        /* The scheduler would pick this G again: a new time slice and
         * one scheduling round, without the switch. */
        p *pp = gp->m->p;
        store_relaxed(&pp->schedtick, pp->schedtick + 1);
        store_relaxed(&pp->nctxswitch, pp->nctxswitch + 1);
        return;
    }
    mcall(goyield_m);
}

int64_t goro_self(void)
{
    g *gp = getg();
    return is_user_g(gp) ? gp->goid : 0;
}
