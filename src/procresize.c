/*
 * Ps and stop-the-world: creating and destroying Ps as GOMAXPROCS
 * changes (Go's procresize), and stopping every P for it (Go's
 * stopTheWorld/startTheWorld). Owns allp's retired arrays and worldsema.
 */
#include "runtime.h"
#include "proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static p ***retired_allp; /* old allp arrays: read lock-free by sysmon, freed at exit */
static int32_t nretired;
static uint32_t worldsema; /* serialises stop-the-world (goro_maxprocs) */

void stw_init(void)
{
    worldsema = 1;
}

/* At teardown: every P and allp array. */
void allp_free(void)
{
    for (int32_t i = 0; i < allplen; i++) {
        free(allp[i]->timers.heap);
        free(allp[i]);
    }
    free(allp);
    for (int32_t i = 0; i < nretired; i++)
        free(retired_allp[i]);
    free(retired_allp);
    retired_allp = NULL;
    nretired = 0;
    allp = NULL;
    allplen = 0;
    gomaxprocs = 0;
}

static p *newp(int32_t id)
{
    p *pp = aligned_alloc(CACHE_LINE, sizeof *pp);
    if (!pp)
        throw("procresize: out of memory");
    memset(pp, 0, sizeof *pp);
    pp->id = id;
    pp->status = _Pgcstop;
    lockinit(&pp->timers.lock, LOCKRANK_TIMERS);
    return pp;
}

/* A P beyond the new GOMAXPROCS: its Gs go to the global queue, its dead
 * Gs to the global free list. The P itself is kept (sysmon and stats may
 * still look at it). */
static void destroyp(p *pp)
{
    g *drained[RUNQ_SIZE + 1];
    int32_t n = runqdrain(pp, drained);
    spinlock(&sched.runqlock);
    globrunqputbatch(drained, n);
    spinunlock(&sched.runqlock);
    lock(&sched.gFree.lock);
    g *gp;
    while ((gp = glist_pop(&pp->gFree))) {
        glist_push(gp->stack.lo ? &sched.gFree.stack : &sched.gFree.noStack, gp);
        store_relaxed(&sched.gFree.n, sched.gFree.n + 1);
    }
    store_relaxed(&pp->gFreeN, 0);
    unlock(&sched.gFree.lock);
    /* Its timers go to P0 (which survives every resize). Plain threads may
     * stop timers meanwhile: hold both heaps' locks, taken in address
     * order (lockrank.h: several timers locks, by address). */
    p *lo = pp < allp[0] ? pp : allp[0], *hi = pp < allp[0] ? allp[0] : pp;
    lock(&lo->timers.lock);
    lock(&hi->timers.lock);
    moveTimers(pp, allp[0]);
    unlock(&hi->timers.lock);
    unlock(&lo->timers.lock);
    store_relaxed(&pp->status, _Pdead);
}

/* Changes the number of Ps with sched.lock held and the world stopped.
 * Returns the list (linked by p.link) of Ps that have local work. */
p *procresize(int32_t nprocs)
{
    int32_t old = gomaxprocs;
    if (nprocs > allplen) {
        p **na = calloc((size_t)nprocs, sizeof *na);
        p ***retired = realloc(retired_allp, (size_t)(nretired + 1) * sizeof *retired);
        if (!na || !retired)
            throw("procresize: out of memory");
        retired_allp = retired;
        if (allp) {
            memcpy(na, allp, (size_t)allplen * sizeof *na);
            retired_allp[nretired++] = allp;
        }
        for (int32_t i = allplen; i < nprocs; i++)
            na[i] = newp(i);
        /* Lock-free readers load gomaxprocs/allplen and then allp: publish
         * the bigger array first. */
        store_release(&allp, na);
        store_release(&allplen, nprocs);
    }
    for (int32_t i = old; i < nprocs; i++)
        if (load_relaxed(&allp[i]->status) == _Pdead)
            store_relaxed(&allp[i]->status, _Pgcstop);
    for (int32_t i = nprocs; i < old; i++)
        destroyp(allp[i]);

    g *self = getg();
    m *mp = self->m;
    if (mp->p && mp->p->id < nprocs) {
        store_relaxed(&mp->p->status, _Prunning);
    } else {
        if (mp->p)
            store_relaxed(&mp->p->m, NULL);
        mp->p = NULL;
        store_relaxed(&allp[0]->status, _Pidle);
        acquirep(allp[0]);
    }
    p *runnable = NULL;
    for (int32_t i = nprocs - 1; i >= 0; i--) {
        p *pp = allp[i];
        if (mp->p == pp)
            continue;
        store_relaxed(&pp->status, _Pidle);
        if (runqempty(pp)) {
            pidleput(pp);
        } else {
            pp->link = runnable;
            runnable = pp;
        }
    }
    recompute_steal_order(nprocs);
    store_release(&gomaxprocs, nprocs);
    return runnable;
}

void preemptall(void)
{
    for (int32_t i = 0; i < gomaxprocs; i++)
        if (load_relaxed(&allp[i]->status) == _Prunning)
            preemptone(allp[i]);
}

/* Stops every other P: running goroutines are asked to yield at their next
 * runtime entry, idle Ps are taken directly. The caller keeps its P. */
static bool stopTheWorld(void)
{
    m *mp = getg()->m;
    lock(&sched.lock);
    if (load_relaxed(&sched.exiting)) {
        unlock(&sched.lock);
        return false;
    }
    sched.stopwait = gomaxprocs;
    __atomic_store_n(&sched.gcwaiting, 1, __ATOMIC_SEQ_CST);
    noteclear(&sched.stopnote);
    preemptall();
    store_relaxed(&mp->p->status, _Pgcstop);
    sched.stopwait--;
    p *pp;
    while ((pp = pidleget())) {
        store_relaxed(&pp->status, _Pgcstop);
        sched.stopwait--;
    }
    /* Ps left by Ms in system calls: their Ms find them gone on return.
     * Seq-cst: Dekker with goro_syscall_enter (see there). */
    for (int32_t i = 0; i < gomaxprocs; i++) {
        pp = allp[i];
        if (__atomic_load_n(&pp->status, __ATOMIC_SEQ_CST) == _Psyscall && cas_acqrel(&pp->status, _Psyscall, _Pgcstop))
            sched.stopwait--;
    }
    bool wait = sched.stopwait > 0;
    unlock(&sched.lock);
    if (wait) {
        while (!notetsleep(&sched.stopnote, 100 * 1000)) {
            lock(&sched.lock);
            if (load_relaxed(&sched.exiting)) {
                /* The main goroutine returned: Ms leave instead of
                 * stopping, so the world never stops. Give up. */
                store_relaxed(&sched.gcwaiting, 0);
                store_relaxed(&mp->p->status, _Prunning);
                unlock(&sched.lock);
                return false;
            }
            preemptall();
            unlock(&sched.lock);
        }
    }
    if (sched.stopwait != 0)
        throw("stopTheWorld: not stopped");
    return true;
}

static void startTheWorld(int32_t nprocs)
{
    /* preemptall flagged every P and the caller too: the stop served
     * those requests. */
    store_relaxed(&getg()->preempt, 0);
    lock(&sched.lock);
    p *runnable = procresize(nprocs);
    for (int32_t i = 0; i < gomaxprocs; i++)
        store_relaxed(&allp[i]->preempt, 0);
    store_relaxed(&sched.gcwaiting, 0);
    if (load_relaxed(&sched.sysmonwait))
        sysmon_wake();
    unlock(&sched.lock);
    while (runnable) {
        p *pp = runnable;
        runnable = pp->link;
        startm(pp, false);
    }
    wakep();
}

bool with_world_stopped(void (*fn)(void *), void *arg)
{
    semacquire(&worldsema);
    if (!stopTheWorld()) {
        semrelease(&worldsema);
        gosched(); /* the runtime is exiting: this M leaves in schedule */
        return false;
    }
    fn(arg);
    startTheWorld(gomaxprocs);
    semrelease(&worldsema);
    return true;
}

int goro_maxprocs(int n)
{
    bool live = on_m() || runtime_running();
    int old = live ? load_relaxed(&gomaxprocs) : getproccount();
    if (n < 1)
        return old;
    if (!is_user_g(getg()))
        return -EPERM;
    if (n > MAX_GOMAXPROCS)
        n = MAX_GOMAXPROCS;
    semacquire(&worldsema);
    old = gomaxprocs;
    if (!stopTheWorld()) {
        semrelease(&worldsema);
        gosched(); /* the runtime is exiting: this M leaves in schedule */
        return old;
    }
    startTheWorld(n);
    semrelease(&worldsema);
    return old;
}
