/*
 * System calls: Go's entersyscall/exitsyscall. The goroutine keeps its M
 * and leaves its P in _Psyscall; a short call takes it back with one CAS,
 * and sysmon hands a P stuck there to another M (handoffp).
 */
#include "runtime.h"
#include "proc.h"

#include <sys/syscall.h>
#include <unistd.h>

/* A thread the runtime abandoned in a system call when it exited comes
 * back here: nothing it pointed to may be touched, so it just ends. */
static _Noreturn void abandoned_thread_exit(void)
{
    for (;;)
        syscall(SYS_exit, 0);
}

/* Go's entersyscall. The P stays attached in _Psyscall, so that a short
 * call takes it back with one CAS; sysmon's retake hands a P stuck there
 * for a tick to another M. From here to goro_syscall_exit the M touches
 * nothing shared, which is what lets the runtime's exit abandon it. */
void goro_syscall_enter(void)
{
    g *gp = getg();
    if (!is_user_g(gp) || load_relaxed(&gp->atomicstatus) != _Grunning)
        return;
    m *mp = gp->m;
    p *pp = mp->p;
    setgstatus_owned(gp, _Grunning, _Gsyscall);
    TRACE(pp, TRACE_GO_SYSCALL, gp->goid, 0);
    mp->oldp = pp;
    mp->p = NULL;
    store_relaxed(&pp->m, NULL);
    /* Seq-cst, then the gcwaiting load: Dekker with stopTheWorld, which
     * sets gcwaiting and then takes _Psyscall Ps with a CAS. */
    __atomic_store_n(&pp->status, _Psyscall, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&sched.gcwaiting, __ATOMIC_SEQ_CST)) {
        lock(&sched.lock);
        if (cas_acqrel(&pp->status, _Psyscall, _Pgcstop) && --sched.stopwait == 0)
            notewakeup(&sched.stopnote);
        unlock(&sched.lock);
    }
    /* Seq-cst, then the exiting load: Dekker with exit_m, which sets
     * exiting and then abandons the Ms it finds in system calls. */
    __atomic_store_n(&mp->insyscall, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&sched.exiting, __ATOMIC_SEQ_CST))
        goro_syscall_exit(); /* leaves with the other Ms */
}

/* Takes oldp back if sysmon has not retaken it, else any idle P. */
static bool exitsyscallfast(p *oldp)
{
    if (load_relaxed(&sched.exiting) || load_relaxed(&sched.gcwaiting))
        return false;
    if (load_relaxed(&oldp->status) == _Psyscall && cas_acqrel(&oldp->status, _Psyscall, _Pidle)) {
        acquirep(oldp);
        store_relaxed(&oldp->syscalltick, oldp->syscalltick + 1);
        return true;
    }
    if (load_relaxed(&sched.npidle) == 0)
        return false;
    lock(&sched.lock);
    p *pp = load_relaxed(&sched.gcwaiting) ? NULL : pidleget();
    unlock(&sched.lock);
    if (!pp)
        return false;
    acquirep(pp);
    return true;
}

/* On g0, with no P to be had: queue the G globally and park the M (or,
 * for a locked G, wait for it to be handed back). */
static g *exitsyscall0(g *gp)
{
    m *mp = getg()->m;
    setgstatus_owned(gp, _Gsyscall, _Grunnable);
    store_relaxed(&mp->curg, NULL);
    store_relaxed(&gp->m, NULL);
    if (load_relaxed(&sched.exiting))
        mexit(mp);
    lock(&sched.lock);
    p *pp = load_relaxed(&sched.gcwaiting) ? NULL : pidleget();
    if (!pp) {
        spinlock(&sched.runqlock);
        globrunqput(gp);
        spinunlock(&sched.runqlock);
    }
    unlock(&sched.lock);
    if (pp) {
        acquirep(pp);
        return execute(gp, false);
    }
    if (mp->lockedg) {
        stoplockedm();
        return execute(gp, false);
    }
    stopm();
    return schedule();
}

/* Go's exitsyscall. */
void goro_syscall_exit(void)
{
    g *gp = getg();
    if (!is_user_g(gp))
        return;
    m *mp = gp->m;
    if (!cas_acqrel(&mp->insyscall, 1, 0)) {
        if (load_acquire(&mp->insyscall) == 2)
            abandoned_thread_exit();
        return; /* no goro_syscall_enter before: nothing to undo */
    }
    p *oldp = mp->oldp;
    mp->oldp = NULL;
    if (exitsyscallfast(oldp)) {
        setgstatus_owned(gp, _Gsyscall, _Grunning);
        TRACE(mp->p, TRACE_GO_START, gp->goid, 0);
        check_preempt();
        return;
    }
    mcall(exitsyscall0);
}
