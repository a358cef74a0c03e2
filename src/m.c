/*
 * Ms: the idle lists of Ps and Ms, starting, parking and waking Ms
 * (Go's startm/stopm/wakep/handoffp; findRunnable in proc.c spins), Ms locked
 * to a goroutine (LockOSThread), and an M's first and last steps on its
 * thread. The worker parking/unparking protocol these implement is
 * described at the top of proc.c.
 */
#include "runtime.h"
#include "proc.h"

#include "fiber_sanitizer.h"

#include <setjmp.h>
#include <stdlib.h>

/* ------------------------------------------------------------ P and M lists
 * All with sched.lock held. */

void pidleput(p *pp)
{
    if (!runqempty(pp))
        throw("pidleput: P has non-empty run queue");
    pp->link = sched.pidle;
    sched.pidle = pp;
    /* Seq-cst although its readers (wakep, wake_for_timer, sysmon) load
     * it relaxed: it is the store half of findRunnable's and handoffp's
     * "idle, then look at the timers" (timers_sync_idle orders it before
     * their reads), and readers that need the list itself take the lock. */
    __atomic_add_fetch(&sched.npidle, 1, __ATOMIC_SEQ_CST);
}

p *pidleget(void)
{
    p *pp = sched.pidle;
    if (pp) {
        sched.pidle = pp->link;
        __atomic_sub_fetch(&sched.npidle, 1, __ATOMIC_SEQ_CST);
        if (load_relaxed(&sched.sysmonwait))
            sysmon_wake();
    }
    return pp;
}

/* Like pidleget, but records that an M should start spinning when no P
 * is free (the next M to go idle sees needspinning and spins instead). */
p *pidlegetSpinning(void)
{
    p *pp = pidleget();
    if (!pp)
        store_relaxed(&sched.needspinning, 1);
    return pp;
}

static void mput(m *mp)
{
    mp->schedlink = sched.midle;
    sched.midle = mp;
    sched.nmidle++;
    checkdead();
}

m *mget(void)
{
    m *mp = sched.midle;
    if (mp) {
        sched.midle = mp->schedlink;
        sched.nmidle--;
    }
    return mp;
}

void acquirep(p *pp)
{
    m *mp = getg()->m;
    if (mp->p || pp->m || load_relaxed(&pp->status) != _Pidle)
        throwf("acquirep: invalid p state (p%d status %u)", pp->id, pp->status);
    mp->p = pp;
    store_release(&pp->m, mp); /* sysmon load-acquires it */
    store_relaxed(&pp->status, _Prunning);
}

p *releasep(void)
{
    m *mp = getg()->m;
    p *pp = mp->p;
    if (!pp || pp->m != mp || load_relaxed(&pp->status) != _Prunning)
        throw("releasep: invalid p state");
    mp->p = NULL;
    store_relaxed(&pp->m, NULL);
    /* Relaxed: only _Psyscall is CASed by others (sysmon's retake, the
     * stopper), and a P in _Prunning is changed by its owner alone; the P
     * is published to other Ms by pidleput under sched.lock. */
    store_relaxed(&pp->status, _Pidle);
    return pp;
}

/* Thread start of every M but m0. mexit longjmps back here so that the
 * thread returns normally (pthread_exit would unwind through g0 frames
 * that mcall abandoned). mp may be freed as soon as sched.lock is dropped. */
static void *mstart_thread(void *arg)
{
    m *mp = arg;
    if (setjmp(mp->exitjmp) == 0)
        mstart_common(mp);
    lock(&sched.lock);
    sched.nmexited++;
    /* An M also leaves mid-run, when its locked goroutine exits: it may
     * have been the last one running. */
    if (!load_relaxed(&sched.exiting)) {
        checkdead_dying(1);
        /* The thread count may not have dropped when the last M goes
         * idle: sysmon looks again once this thread is gone. */
        store_release(&sched.deadcheck, 1);
        sysmon_wake();
    } else if (mcount() == 1) {
        notewakeup(&sched.m0exitnote);
    }
    unlock(&sched.lock);
    return NULL;
}

/* Called with sched.lock held. Out of memory is a fatal error, as in Go
 * (and as newosproc's failure): startm runs from wakep, goready, timers
 * and the netpoller, where no caller could be told, and not starting the
 * M would leave work queued with nobody to run it (docs/design.md, "Out
 * of memory"). */
static m *allocm(void)
{
    if (mcount() >= sched.maxmcount)
        throwf("thread exhaustion: program exceeds %d-thread limit", sched.maxmcount);
    m *mp = calloc(1, sizeof *mp);
    g *g0 = galloc();
    if (!mp || !g0)
        throw("allocm: out of memory");
    mp->id = sched.mnext++;
    mp->g0 = g0;
    g0->m = mp;
    g0->atomicstatus = _Grunning;
    mp->alllink = allm;
    allm = mp;
    return mp;
}

/* Parks the M until startm hands it a P (or the runtime exits), or until
 * deadline (the earliest timer) when it is not 0. Returns false when it
 * timed out without being handed a P. */
bool stopm_until(int64_t deadline)
{
    m *mp = getg()->m;
    if (mp->p)
        throw("stopm holding p");
    if (mp->spinning)
        throw("stopm spinning");
    lock(&sched.lock);
    if (load_relaxed(&sched.exiting)) {
        unlock(&sched.lock);
        mexit(mp);
    }
    mp->sleepuntil = deadline;
    mput(mp);
    unlock(&sched.lock);
    int64_t now = deadline ? nanotime() : 0; /* one clock read: the timeout cannot go negative */
    if (deadline == 0) {
        notesleep(&mp->park);
    } else if (!notetsleep(&mp->park, deadline > now ? deadline - now : 0)) {
        /* Timed out. Unless startm took us off the idle list meanwhile
         * (its wake-up is then on its way), leave the list ourselves. */
        lock(&sched.lock);
        bool listed = false;
        for (m **l = &sched.midle; *l; l = &(*l)->schedlink) {
            if (*l == mp) {
                *l = mp->schedlink;
                sched.nmidle--;
                listed = true;
                break;
            }
        }
        mp->sleepuntil = 0;
        unlock(&sched.lock);
        if (listed)
            return false;
        notesleep(&mp->park);
    }
    noteclear(&mp->park);
    lock(&sched.lock);
    mp->sleepuntil = 0;
    unlock(&sched.lock);
    if (!mp->nextp) {
        if (!load_relaxed(&sched.exiting))
            throw("stopm: woken without a P");
        mexit(mp);
    }
    acquirep(mp->nextp);
    mp->nextp = NULL;
    return true;
}

void stopm(void)
{
    stopm_until(0);
}

/* A timer due at when was added. Busy Ps run their timers when they
 * schedule; an idle M sleeping until no later than when will run it. If
 * neither, start an M to re-plan its sleep. */
void wake_for_timer(int64_t when)
{
    /* The relaxed reads below come after addtimer's seq-cst RMW on
     * sched.ntimers: the adder's half of the store-buffering protocol with
     * Ms going idle (see timers_sync_idle). */
    if (load_relaxed(&sched.npidle) == 0)
        return;
    /* Relaxed reads are enough: a stale lastpoll/pollUntil pair either
     * breaks the poller for nothing (pollUntil still 0) or misses a poller
     * that is only about to block; that one read timeSleepUntil before
     * our timer, but it is not on the idle list, so nothing below counts
     * it as covering the timer and wakep starts an M that runs it. */
    if (load_relaxed(&sched.lastpoll) == 0) {
        /* The M blocked in netpoll sleeps too long for this timer. */
        int64_t until = load_relaxed(&sched.pollUntil);
        if (until == 0 || when < until)
            netpollBreak();
    }
    if (load_relaxed(&sched.nmspinning) != 0)
        return;
    lock(&sched.lock);
    bool covered = false;
    for (m *mp = sched.midle; mp; mp = mp->schedlink)
        if (mp->sleepuntil != 0 && mp->sleepuntil <= when)
            covered = true;
    unlock(&sched.lock);
    if (!covered)
        wakep();
}

/* Runs pp (or an idle P when pp is NULL) on an idle or new M. spinning:
 * the caller has already counted the M in nmspinning. */
void startm(p *pp, bool spinning)
{
    lock(&sched.lock);
    if (load_relaxed(&sched.exiting)) {
        /* Ms are leaving: start none (one started now could be counted
         * after m0 saw the others gone). The P is torn down with the rest. */
        unlock(&sched.lock);
        if (spinning)
            __atomic_sub_fetch(&sched.nmspinning, 1, __ATOMIC_SEQ_CST);
        return;
    }
    if (!pp) {
        pp = pidleget();
        if (!pp) {
            unlock(&sched.lock);
            if (spinning && __atomic_sub_fetch(&sched.nmspinning, 1, __ATOMIC_SEQ_CST) == (uint32_t)-1)
                throw("startm: negative nmspinning");
            return;
        }
    }
    m *nmp = mget();
    if (!nmp) {
        m *mp = allocm(); /* under the lock, so exit_m sees it counted */
        unlock(&sched.lock);
        mp->nextp = pp;
        mp->spinning = spinning;
        newosproc(mstart_thread, mp);
        return;
    }
    /* An M sleeping until a timer may be what wake_for_timer counted on
     * to run an idle P's timers; it now runs pp instead, maybe for long. */
    int64_t covered = nmp->sleepuntil;
    unlock(&sched.lock);
    if (nmp->spinning || nmp->nextp)
        throw("startm: m is spinning or has a p");
    nmp->spinning = spinning;
    nmp->nextp = pp;
    notewakeup(&nmp->park);
    if (covered != 0)
        wake_for_timer(covered); /* another idle M, or a new spinning one, takes over */
}

/* wakep (runtime.h) found an idle P and nobody spinning: become the one
 * spinning M's starter, unless another waker got there first. */
void wakep_start(void)
{
    if (!cas_acqrel(&sched.nmspinning, 0, 1))
        return;
    lock(&sched.lock);
    p *pp = pidlegetSpinning();
    unlock(&sched.lock);
    if (!pp) {
        __atomic_sub_fetch(&sched.nmspinning, 1, __ATOMIC_SEQ_CST);
        return;
    }
    startm(pp, true);
}

/* sysmon pretends to be one more running M while it hands a P off from a
 * system call: otherwise the M it retakes from can return, find no idle P
 * yet (handoffp has not put it on the list), queue its goroutine and go
 * idle, and checkdead would see every M idle with a runnable goroutine
 * (Go's incidlelocked in retake). */
void incidlelocked(int32_t v)
{
    lock(&sched.lock);
    sched.nmidlelocked += v;
    if (v > 0)
        checkdead();
    unlock(&sched.lock);
}

/* Ms leave pp (a system call retaken by sysmon, a thread parking for its
 * locked goroutine): start an M on it if there is work or nobody would
 * look for new work, otherwise make it idle (Go's handoffp). pp is owned
 * by the caller, in _Pidle but on no list. */
void handoffp(p *pp)
{
    if (!runqempty(pp) || load_relaxed(&sched.runqsize) != 0) {
        startm(pp, false);
        return;
    }
    if (load_relaxed(&sched.nmspinning) + load_relaxed(&sched.npidle) == 0 && cas_acqrel(&sched.nmspinning, 0, 1)) {
        store_relaxed(&sched.needspinning, 0);
        startm(pp, true);
        return;
    }
    lock(&sched.lock);
    if (load_relaxed(&sched.gcwaiting)) {
        store_relaxed(&pp->status, _Pgcstop);
        if (--sched.stopwait == 0)
            notewakeup(&sched.stopnote);
        unlock(&sched.lock);
        return;
    }
    /* As in findRunnable: idle before runqlock is released, so a G
     * queued globally after our look is seen by its producer's wakep. */
    spinlock(&sched.runqlock);
    if (sched.runqsize != 0) {
        spinunlock(&sched.runqlock);
        unlock(&sched.lock);
        startm(pp, false);
        return;
    }
    pidleput(pp);
    spinunlock(&sched.runqlock);
    unlock(&sched.lock);
    /* Idle first, then the timers: a timer added meanwhile either is seen
     * here or its adder sees the P idle (timers_sync_idle). */
    timers_sync_idle();
    int64_t when = load_relaxed(&pp->timers.first);
    if (when != 0)
        wake_for_timer(when); /* an idle M must run this P's timers */
}

/* Stop-the-world: give our P up and park until the world restarts. */
void gcstopm(void)
{
    m *mp = getg()->m;
    if (mp->spinning) {
        mp->spinning = false;
        __atomic_sub_fetch(&sched.nmspinning, 1, __ATOMIC_SEQ_CST);
    }
    p *pp = releasep();
    lock(&sched.lock);
    store_relaxed(&pp->status, _Pgcstop);
    if (--sched.stopwait == 0)
        notewakeup(&sched.stopnote);
    unlock(&sched.lock);
    stopm();
}

/* The M's locked G is not runnable: hand the P off and park until
 * startlockedm gives us a P to run that G with (Go's stoplockedm). */
void stoplockedm(void)
{
    m *mp = getg()->m;
    if (mp->p)
        handoffp(releasep());
    lock(&sched.lock);
    if (load_relaxed(&sched.exiting)) {
        unlock(&sched.lock);
        mexit(mp);
    }
    if (!mp->nextp) {
        /* Idle until the G is readied; counted for checkdead. */
        mp->lockedidle = true;
        mp->lockedlink = sched.mlockedidle;
        sched.mlockedidle = mp;
        sched.nmidlelocked++;
        checkdead();
    }
    unlock(&sched.lock);
    notesleep(&mp->park);
    noteclear(&mp->park);
    if (!mp->nextp)
        mexit(mp); /* woken by exit_m */
    acquirep(mp->nextp);
    mp->nextp = NULL;
}

/* Under sched.lock: takes mp off the list of Ms waiting for their G. */
void unlist_lockedm(m *mp)
{
    if (!mp->lockedidle)
        return;
    for (m **l = &sched.mlockedidle; *l; l = &(*l)->lockedlink) {
        if (*l == mp) {
            *l = mp->lockedlink;
            break;
        }
    }
    mp->lockedidle = false;
    sched.nmidlelocked--;
}

/* gp is locked to another M: give it our P and stop (Go's startlockedm).
 * Its M may not have parked yet; the note keeps the wake-up for it. */
void startlockedm(g *gp)
{
    m *lm = gp->lockedm;
    p *pp = releasep();
    lock(&sched.lock);
    if (load_relaxed(&sched.exiting)) {
        /* exit_m has woken (or will never wait for) lm: just leave. */
        unlock(&sched.lock);
        stopm();
        return;
    }
    unlist_lockedm(lm);
    lm->nextp = pp;
    unlock(&sched.lock);
    notewakeup(&lm->park);
    stopm();
}

void goro_lock_os_thread(void)
{
    g *gp = getg();
    if (!is_user_g(gp))
        return;
    /* Only this G and its M read these: no atomics needed. */
    gp->lockedcount++;
    gp->lockedm = gp->m;
    gp->m->lockedg = gp;
}

void goro_unlock_os_thread(void)
{
    g *gp = getg();
    if (!is_user_g(gp) || gp->lockedcount == 0)
        return;
    if (--gp->lockedcount == 0) {
        gp->m->lockedg = NULL;
        gp->lockedm = NULL;
    }
}

static void thread_stack_bounds(m *mp)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            mp->g0stacklo = (uintptr_t)addr;
            mp->g0stacksize = size;
        }
        pthread_attr_destroy(&attr);
    }
}

/* Every M starts here, on its thread's own stack, which becomes g0. */
void mstart_common(m *mp)
{
    setg(mp->g0);
    /* mcall restarts g0 below this frame; the frames above stay intact. */
    mp->g0sp = (getcallersp() - 256) & ~(uintptr_t)(STACK_ALIGN - 1);
    thread_stack_bounds(mp);
    mp->g0->tsan_fiber = fiber_current();
    minit_signals(mp);
    if (mp->nextp) {
        p *pp = mp->nextp;
        mp->nextp = NULL;
        acquirep(pp);
    }
    if (!mp->p)
        stopm();
    g *gp = schedule();
    gogo(switch_to(mp, gp));
}

/* A non-main M leaves for good when the runtime exits. */
_Noreturn void mexit(m *mp)
{
    if (mp == &m0) {
        /* Wait for every other M to leave, then unwind goro_run. */
        lock(&sched.lock);
        bool wait = mcount() > 1;
        unlock(&sched.lock);
        if (wait)
            notesleep(&sched.m0exitnote);
        longjmp(m0.exitjmp, 1); /* to goro_run */
    }
    if (mp->spinning) {
        mp->spinning = false;
        __atomic_sub_fetch(&sched.nmspinning, 1, __ATOMIC_SEQ_CST);
    }
    unminit_signals(mp);
    setg(NULL);
    longjmp(mp->exitjmp, 1);
}
