/*
 * The scheduler: Go's proc.go in C. Gs (goroutines) run on Ms (threads)
 * that hold Ps (processors, GOMAXPROCS of them). Each P has a local run
 * queue (runq.c); an M without work steals from other Ps, then parks.
 *
 * Stack discipline: a goroutine enters the scheduler with mcall(fn), which
 * saves its context and runs fn on the M's g0 (the thread's own stack);
 * the scheduler leaves g0 with gogo(&gp->sched). g0 frames never survive a
 * switch: every mcall starts again at m->g0sp.
 */
#include "runtime.h"

#include "fiber_sanitizer.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(offsetof(gobuf, sp) == GOBUF_SP, "gobuf.sp offset");
_Static_assert(offsetof(gobuf, pc) == GOBUF_PC, "gobuf.pc offset");
_Static_assert(offsetof(gobuf, bp) == GOBUF_BP, "gobuf.bp offset");
_Static_assert(offsetof(gobuf, mxcsr) == 64 && offsetof(gobuf, fpucw) == 68, "gobuf fp control offsets");
_Static_assert(offsetof(g, stack) + sizeof(stack) <= 2 * CACHE_LINE, "a switch touches more than two lines of a G");

enum {
    MAX_MCOUNT = 10000,
    GOID_BATCH = 16,
    GFREE_LOCAL_MAX = 64,    /* per-P dead Gs before spilling */
    GFREE_LOCAL_KEEP = 32,   /* spill down to / refill up to this many */
    SCHED_GLOBAL_EVERY = 61, /* schedticks between fairness checks of the global queue */
    STEAL_TRIES = 4,
};

const char *const waitReasonStrings[waitReasonCount] = {
    [waitReasonZero] = "",
    [waitReasonSemacquire] = "semacquire",
    [waitReasonSyncWaitGroupWait] = "sync.WaitGroup.Wait",
    [waitReasonSleep] = "sleep",
    [waitReasonSyncMutexLock] = "sync.Mutex.Lock",
    [waitReasonSyncRWMutexRLock] = "sync.RWMutex.RLock",
    [waitReasonSyncRWMutexLock] = "sync.RWMutex.Lock",
    [waitReasonSyncCondWait] = "sync.Cond.Wait",
    [waitReasonChanReceive] = "chan receive",
    [waitReasonChanSend] = "chan send",
    [waitReasonSelect] = "select",
    [waitReasonSelectNoCases] = "select (no cases)",
    [waitReasonPreempted] = "preempted",
    [waitReasonStopTheWorld] = "stopping the world",
    [waitReasonIORead] = "IO wait (read)",
    [waitReasonIOWrite] = "IO wait (write)",
};

schedt sched;
p **allp;
int32_t gomaxprocs;
int32_t ncpu;
m *allm;
m m0;

int32_t allplen;                   /* Ps ever created (allp capacity in use) */
static p ***retired_allp;          /* old allp arrays: read lock-free by sysmon, freed at exit */
static int32_t nretired;
static mutex allglock;
static g *allgs;
static int64_t allglen;            /* atomic */
enum { RT_STOPPED, RT_BOOTING, RT_RUNNING, RT_STOPPING };
static uint32_t runtime_state;     /* atomic */
static uint32_t foreign_inflight;  /* atomic: plain-thread calls inside the runtime */
static uint32_t worldsema;         /* serialises stop-the-world (goro_maxprocs) */
static int main_result;
static int (*main_fn)(int, char **);
static int main_argc;
static char **main_argv;
static jmp_buf m0_exit;
static int64_t runtime_start;

/* Random coprime stride over the Ps, as Go's randomOrder. */
static uint32_t steal_coprimes[MAX_GOMAXPROCS];
static uint32_t nsteal_coprimes;

__thread g *tls_g;

static g *schedule(void);
static void checkdead_dying(int32_t dying);
static inline void checkdead(void)
{
    checkdead_dying(0);
}
static void stoplockedm(void);
static void startlockedm(g *gp);
static _Noreturn void mexit(m *mp);

bool runtime_running(void)
{
    return load_acquire(&runtime_state) == RT_RUNNING;
}

/* A thread that is not an M enters the runtime (goro_go, stats, wake-ups
 * from plain threads): it must find the runtime fully built and not torn
 * down under it. Dekker with exit_m, which stores RT_STOPPING and then
 * waits for foreign_inflight to drain: seq-cst on both sides. */
bool foreign_enter(void)
{
    __atomic_add_fetch(&foreign_inflight, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&runtime_state, __ATOMIC_SEQ_CST) == RT_RUNNING)
        return true;
    __atomic_sub_fetch(&foreign_inflight, 1, __ATOMIC_SEQ_CST);
    return false;
}

void foreign_exit(void)
{
    __atomic_sub_fetch(&foreign_inflight, 1, __ATOMIC_RELEASE);
}

/* Whether the calling thread is an M of the runtime (goroutine or g0). */
bool on_m(void)
{
    return getg() != NULL;
}

/* A goroutine of the user (not g0, not a plain thread). */
static inline bool is_user_g(g *gp)
{
    return gp && gp->goid > 0;
}

/* ------------------------------------------------------------ G status */

static const char *gstatus_name(uint32_t s)
{
    static const char *const names[] = { "idle", "runnable", "running", "syscall", "waiting", "dead", "preempted" };
    return s < sizeof names / sizeof names[0] ? names[s] : "???";
}

uint32_t readgstatus(g *gp)
{
    return load_acquire(&gp->atomicstatus);
}

/* The status acts as ownership of the G. A CAS for transitions that two
 * threads could attempt at once; the scheduler's own transitions use
 * setgstatus_owned below. */
void casgstatus(g *gp, uint32_t oldval, uint32_t newval)
{
    uint32_t cur = oldval;
    if (oldval == newval || !__atomic_compare_exchange_n(&gp->atomicstatus, &cur, newval, false,
                                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        throwf("casgstatus: goroutine %lld: bad transition %s -> %s (status is %s)", (long long)gp->goid,
               gstatus_name(oldval), gstatus_name(newval), gstatus_name(cur));
}

/* Transitions made by the one thread that owns the G: out of _Grunning
 * (only the M running it can leave that state), out of _Gdead (a G taken
 * off a free list), _Grunnable -> _Grunning (the M that took the G off a
 * run queue, whose CAS on the queue head or runnext makes it the only one)
 * and _Gwaiting -> _Grunnable (the waker that took the G's sudog off a
 * wait queue under its lock, or won a select's CAS). Checking and then
 * storing finds a transition out of the wrong state, such as a second
 * wake-up, as a CAS would, without a locked instruction: a ping-pong round
 * trip made 12 locked instructions, 4 of them these, at about 7 ns each.
 * Release: the next owner, which acquires the status, sees everything
 * done before. */
static void setgstatus_owned(g *gp, uint32_t oldval, uint32_t newval)
{
    uint32_t cur = load_acquire(&gp->atomicstatus);
    if (cur != oldval)
        throwf("setgstatus: goroutine %lld: bad transition %s -> %s (status is %s)", (long long)gp->goid,
               gstatus_name(oldval), gstatus_name(newval), gstatus_name(cur));
    store_release(&gp->atomicstatus, newval);
}

/* ------------------------------------------------------------ allgs */

static void allgadd(g *gp)
{
    lock(&allglock);
    gp->alllink = allgs;
    allgs = gp;
    __atomic_add_fetch(&allglen, 1, __ATOMIC_RELAXED);
    unlock(&allglock);
}

void allgs_foreach(void (*fn)(g *, void *), void *arg)
{
    lock(&allglock);
    for (g *gp = allgs; gp; gp = gp->alllink)
        fn(gp, arg);
    unlock(&allglock);
}

/* Live goroutines: every G ever made minus the dead ones on free lists
 * (a racy sum, as Go's gcount). */
static int32_t gcount(void)
{
    int64_t n = load_relaxed(&allglen) - load_relaxed(&sched.gFree.n);
    int32_t np = load_acquire(&allplen);
    p **ps = load_acquire(&allp);
    for (int32_t i = 0; i < np; i++)
        n -= load_relaxed(&ps[i]->gFreeN);
    return n > 0 ? (int32_t)n : 0;
}

/* ------------------------------------------------------------ G free lists */

/* Dead G to pp's free list; non-default stacks are freed, and past 64 Gs
 * half the list spills to the global lists (kept with and without stacks). */
static void gfput(p *pp, g *gp)
{
    if (gp->stack.lo && gp->stack.hi - gp->stack.lo != default_stack_size)
        stackfree(&gp->stack);
    glist_push(&pp->gFree, gp);
    store_relaxed(&pp->gFreeN, pp->gFreeN + 1);
    if (pp->gFreeN < GFREE_LOCAL_MAX)
        return;
    gList withStack = { NULL }, noStack = { NULL };
    int32_t moved = 0;
    while (pp->gFreeN - moved > GFREE_LOCAL_KEEP) {
        g *x = glist_pop(&pp->gFree);
        glist_push(x->stack.lo ? &withStack : &noStack, x);
        moved++;
    }
    store_relaxed(&pp->gFreeN, pp->gFreeN - moved);
    lock(&sched.gFree.lock);
    g *x;
    while ((x = glist_pop(&withStack)))
        glist_push(&sched.gFree.stack, x);
    while ((x = glist_pop(&noStack)))
        glist_push(&sched.gFree.noStack, x);
    store_relaxed(&sched.gFree.n, sched.gFree.n + moved);
    unlock(&sched.gFree.lock);
}

/* A G from the global lists, preferring ones that still have a stack. */
static g *gfget_global(void)
{
    lock(&sched.gFree.lock);
    g *gp = glist_pop(&sched.gFree.stack);
    if (!gp)
        gp = glist_pop(&sched.gFree.noStack);
    if (gp)
        store_relaxed(&sched.gFree.n, sched.gFree.n - 1);
    unlock(&sched.gFree.lock);
    return gp;
}

static g *gfget(p *pp)
{
    if (!pp->gFree.head && load_relaxed(&sched.gFree.n) > 0) {
        lock(&sched.gFree.lock);
        while (pp->gFreeN < GFREE_LOCAL_KEEP) {
            g *gp = glist_pop(&sched.gFree.stack);
            if (!gp)
                gp = glist_pop(&sched.gFree.noStack);
            if (!gp)
                break;
            store_relaxed(&sched.gFree.n, sched.gFree.n - 1);
            glist_push(&pp->gFree, gp);
            store_relaxed(&pp->gFreeN, pp->gFreeN + 1);
        }
        unlock(&sched.gFree.lock);
    }
    g *gp = glist_pop(&pp->gFree);
    if (gp)
        store_relaxed(&pp->gFreeN, pp->gFreeN - 1);
    return gp;
}

/* A new G with a stack of the given size, registered in allgs as dead. */
/* A zeroed G, cache-line aligned (see struct g); NULL without memory.
 * For g0s: goroutines' Gs come from gslab_alloc. */
static g *galloc(void)
{
    void *mem;
    if (posix_memalign(&mem, CACHE_LINE, sizeof(g)) != 0)
        return NULL;
    return memset(mem, 0, sizeof(g));
}

/* Goroutines' Gs are never freed while the runtime runs (dead ones wait on
 * free lists), so they are carved from aligned slabs of GSLAB_GS, which
 * costs less than an aligned malloc each (skynet creates 80,000 Gs) and is
 * all freed at teardown. */
enum { GSLAB_GS = 64 };
typedef struct gslab {
    struct gslab *next;
    __attribute__((aligned(CACHE_LINE))) g gs[GSLAB_GS];
} gslab;
static gslab *gslabs;   /* under allglock */
static int32_t gslab_used;

static g *gslab_alloc(void)
{
    lock(&allglock);
    if (!gslabs || gslab_used == GSLAB_GS) {
        void *mem;
        if (posix_memalign(&mem, CACHE_LINE, sizeof(gslab)) != 0) {
            unlock(&allglock);
            return NULL;
        }
        gslab *slab = mem;
        slab->next = gslabs;
        gslabs = slab;
        gslab_used = 0;
    }
    g *gp = &gslabs->gs[gslab_used++];
    unlock(&allglock);
    return memset(gp, 0, sizeof(g));
}

/* Gives back the G just allocated (its stack could not be). */
static void gslab_unalloc(g *gp)
{
    lock(&allglock);
    if (gslab_used > 0 && gp == &gslabs->gs[gslab_used - 1])
        gslab_used--;
    unlock(&allglock);
}

static void gslab_freeall(void)
{
    for (gslab *slab = gslabs, *next; slab; slab = next) {
        next = slab->next;
        free(slab);
    }
    gslabs = NULL;
    gslab_used = 0;
}

static g *malg(size_t stacksize)
{
    g *gp = gslab_alloc();
    if (!gp)
        return NULL;
    if (!stackalloc(&gp->stack, stacksize)) {
        gslab_unalloc(gp);
        return NULL;
    }
    gp->tsan_fiber = fiber_create();
    gp->atomicstatus = _Gdead;
    allgadd(gp);
    return gp;
}

/* ------------------------------------------------------------ P and M lists
 * All with sched.lock held. */

static void pidleput(p *pp)
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

static p *pidleget(void)
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
static p *pidlegetSpinning(void)
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

static m *mget(void)
{
    m *mp = sched.midle;
    if (mp) {
        sched.midle = mp->schedlink;
        sched.nmidle--;
    }
    return mp;
}

static int32_t mcount(void)
{
    return sched.mnext - sched.nmexited;
}

static void acquirep(p *pp)
{
    m *mp = getg()->m;
    if (mp->p || pp->m || load_relaxed(&pp->status) != _Pidle)
        throwf("acquirep: invalid p state (p%d status %u)", pp->id, pp->status);
    mp->p = pp;
    store_release(&pp->m, mp); /* sysmon load-acquires it */
    store_relaxed(&pp->status, _Prunning);
}

static p *releasep(void)
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

/* ------------------------------------------------------------ M start/stop */

static void mstart_common(m *mp);

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

/* Called with sched.lock held. */
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
static bool stopm_until(int64_t deadline)
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

static void stopm(void)
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
static void startm(p *pp, bool spinning)
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

/* Starts a spinning M if there is an idle P and nobody spins already. The
 * relaxed pre-checks are safe because of who calls: a producer with a P
 * put the G on that P's own run queue, and its own M runs it when the
 * producer parks, yields or is preempted, so a stale npidle == 0 (or a
 * spinning M that gives up) only delays the G to that point, never loses
 * it; a producer without a P queued globally, and Ps go idle under
 * runqlock after checking the global queue (findRunnable, handoffp), so
 * its lock-ordered pidleput is seen. */
void wakep(void)
{
    if (load_relaxed(&sched.npidle) == 0 || load_relaxed(&sched.nmspinning) != 0 ||
        !cas_acqrel(&sched.nmspinning, 0, 1))
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

static void becomeSpinning(m *mp)
{
    mp->spinning = true;
    __atomic_add_fetch(&sched.nmspinning, 1, __ATOMIC_SEQ_CST);
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

/* Stop-the-world: give our P up and park until the world restarts. */
static void gcstopm(void)
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

/* ------------------------------------------------------------ switching */

typedef g *(*mcallfn)(g *);
static __thread mcallfn tls_mcallfn;

/* The last step on g0 before gogo: tell the sanitizers which stack comes
 * next. Not instrumented by TSan: after the fiber switch no instrumented
 * function may return on g0 (it would pop the new fiber's shadow stack). */
__attribute__((no_sanitize_thread)) static gobuf *switch_to(m *mp, g *gp)
{
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

void mcall(g *(*fn)(g *))
{
    mcall1(fn, false);
}

/* Runs gp on the current M. inheritTime: gp shares the current time slice
 * (it came from runnext), so the schedtick sysmon watches does not move. */
static g *execute(g *gp, bool inheritTime)
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

/* ------------------------------------------------------------ locked Ms */

/* The M's locked G is not runnable: hand the P off and park until
 * startlockedm gives us a P to run that G with (Go's stoplockedm). */
static void stoplockedm(void)
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
static void unlist_lockedm(m *mp)
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
static void startlockedm(g *gp)
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

/* ------------------------------------------------------------ findRunnable */

static void recompute_steal_order(int32_t n)
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
    store_relaxed(&sched.pollUntil, pollUntil);
    gList list = { NULL };
    netpoll(pollUntil == 0 ? -1 : (pollUntil > now ? pollUntil - now : 0), &list);
    store_relaxed(&sched.pollUntil, 0);
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
static g *schedule(void)
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

/* ------------------------------------------------------------ park/ready */

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
    if (fn && !fn(gp, tls_waitlock)) {
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
static void queue_runnable(p *pp, g *gp)
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

/* ------------------------------------------------------------ goexit */

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
    mcall1(goexit0, true);
    __builtin_unreachable();
}

/* ------------------------------------------------------------ newproc */

/* The next goid, from the P's cache refilled 16 at a time. */
static int64_t newgoid(p *pp)
{
    if (!pp)
        return (int64_t)__atomic_add_fetch(&sched.goidgen, 1, __ATOMIC_RELAXED);
    if (pp->goidcache == pp->goidcacheend) {
        uint64_t end = __atomic_add_fetch(&sched.goidgen, GOID_BATCH, __ATOMIC_RELAXED);
        pp->goidcache = (int64_t)end - GOID_BATCH + 1;
        pp->goidcacheend = (int64_t)end + 1;
    }
    return pp->goidcache++;
}

static g *newproc1(p *pp, size_t stacksize)
{
    g *gp = pp ? gfget(pp) : gfget_global();
    if (gp && gp->stack.lo && gp->stack.hi - gp->stack.lo != stacksize)
        stackfree(&gp->stack);
    if (gp && !gp->stack.lo && !stackalloc(&gp->stack, stacksize)) {
        if (pp)
            gfput(pp, gp);
        else {
            lock(&sched.gFree.lock);
            glist_push(&sched.gFree.noStack, gp);
            store_relaxed(&sched.gFree.n, sched.gFree.n + 1);
            unlock(&sched.gFree.lock);
        }
        return NULL;
    }
    if (!gp)
        gp = malg(stacksize);
    return gp;
}

/* Creates a goroutine running fn(arg): into the creator's runnext (the old
 * runnext moves to the tail), or the global queue from a plain thread. */
static int64_t newproc(goro_fn fn, void *arg, const goro_attr *attr, bool wake)
{
    if (!fn)
        return -EINVAL;
    size_t stacksize = default_stack_size;
    if (attr && attr->stack_size) {
        stacksize = stack_round(attr->stack_size);
        if (!stacksize)
            return -EINVAL;
    }
    g *self = getg();
    /* A plain thread has no P; g0 (booting the main goroutine) has one. */
    p *pp = self && self->m ? self->m->p : NULL;
    g *gp = newproc1(pp, stacksize);
    if (!gp)
        return -ENOMEM;
    memset(&gp->sched, 0, sizeof gp->sched);
    gp->sched.sp = gp->stack.hi & ~(uintptr_t)(STACK_ALIGN - 1);
    gp->sched.pc = (uintptr_t)gostart_trampoline;
    gp->sched.mxcsr = DEFAULT_MXCSR;
    gp->sched.fpucw = DEFAULT_FPUCW;
    gp->minsp = gp->stack.hi;
    gp->fn = fn;
    gp->arg = arg;
    gp->parentgoid = is_user_g(self) ? self->goid : 0;
    gp->name[0] = 0;
    if (attr && attr->name)
        snprintf(gp->name, sizeof gp->name, "%s", attr->name);
    gp->goid = newgoid(pp);
    setgstatus_owned(gp, _Gdead, _Grunnable);
    int64_t goid = gp->goid; /* gp may run and die as soon as it is queued */
    TRACE(pp, TRACE_GO_CREATE, goid, 0);
    if (wake)
        queue_runnable(pp, gp);
    else
        runqput(pp, gp, true); /* the main goroutine: m0 runs it itself */
    return goid;
}

int64_t goro_go(goro_fn fn, void *arg)
{
    return goro_go_attr(fn, arg, NULL);
}

int64_t goro_go_attr(goro_fn fn, void *arg, const goro_attr *attr)
{
    if (!fn)
        return -EINVAL;
    if (!on_m()) {
        if (!foreign_enter())
            return -EPERM;
        int64_t goid = newproc(fn, arg, attr, true);
        foreign_exit();
        return goid;
    }
    int64_t goid = newproc(fn, arg, attr, true);
    if (goid > 0)
        check_preempt();
    return goid;
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

/* ------------------------------------------------------------ system calls */

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

/* ------------------------------------------------------------ LockOSThread */

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

int64_t goro_self(void)
{
    g *gp = getg();
    return is_user_g(gp) ? gp->goid : 0;
}

int goro_numgoroutine(void)
{
    if (on_m())
        return gcount();
    if (!foreign_enter())
        return 0;
    int n = gcount();
    foreign_exit();
    return n;
}

/* ------------------------------------------------------------ checkdead */

typedef struct deadcount {
    int32_t waiting, running;
} deadcount;

static void count_g(g *gp, void *arg)
{
    deadcount *c = arg;
    switch (readgstatus(gp)) {
    case _Gwaiting:
        c->waiting++;
        break;
    case _Grunnable:
    case _Grunning:
    case _Gsyscall:
        c->running++;
        break;
    }
}

/* From sysmon while deadcheck is set: once the threads that left mid-run
 * are gone from the process, check for a deadlock as an idle M would. */
void checkdead_after_exit(void)
{
    static int tries; /* sysmon's own */
    int32_t nthreads = osthreadcount();
    lock(&sched.lock);
    if (nthreads != 0 && nthreads <= mcount() + 1 + sanitizer_threads()) {
        store_relaxed(&sched.deadcheck, 0);
        tries = 0;
        checkdead();
    } else if (++tries > 1000) {
        /* Another thread lives on (not ours): checkdead proves nothing
         * anyway, and sysmon must be free to sleep. */
        store_relaxed(&sched.deadcheck, 0);
        tries = 0;
    }
    unlock(&sched.lock);
}

/* Called with sched.lock held whenever an M goes idle or leaves (dying:
 * its thread, still alive, is about to end): if no M is running and
 * nothing can ever wake a goroutine, the program is deadlocked. */
static void checkdead_dying(int32_t dying)
{
    if (load_relaxed(&sched.exiting) || load_relaxed(&sched.gcwaiting))
        return;
    int32_t run = mcount() - sched.nmidle - sched.nmidlelocked;
    if (run > 0)
        return;
    if (run < 0)
        throwf("checkdead: inconsistent counts: mcount=%d nmidle=%d nmidlelocked=%d", mcount(), sched.nmidle,
               sched.nmidlelocked);
    /* A thread that is not ours may still call goro_go or wake a
     * goroutine: nothing is proven while one lives (or when the count
     * cannot be read). Ours are the Ms, sysmon and the sanitizer's own. */
    int32_t nthreads = osthreadcount();
    if (nthreads == 0 || nthreads > mcount() + dying + 1 + sanitizer_threads())
        return;
    if (load_relaxed(&sched.ntimers) > 0)
        return; /* a timer will wake somebody */
    if (netpollAnyWaiters())
        return; /* so may I/O */
    deadcount c = { 0, 0 };
    allgs_foreach(count_g, &c);
    if (c.running > 0)
        throw("checkdead: runnable goroutine with no running M");
    if (c.waiting == 0)
        throw("no goroutines (main called goro_exit) - deadlock!");
    throw("all goroutines are asleep - deadlock!");
}

/* ------------------------------------------------------------ procresize */

static p *newp(int32_t id)
{
    p *pp = aligned_alloc(CACHE_LINE, sizeof *pp);
    if (!pp)
        throw("procresize: out of memory");
    memset(pp, 0, sizeof *pp);
    pp->id = id;
    pp->status = _Pgcstop;
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
     * stop timers meanwhile: hold both heaps' locks. */
    lock(&pp->timers.lock);
    lock(&allp[0]->timers.lock);
    moveTimers(pp, allp[0]);
    unlock(&allp[0]->timers.lock);
    unlock(&pp->timers.lock);
    store_relaxed(&pp->status, _Pdead);
}

/* Changes the number of Ps with sched.lock held and the world stopped.
 * Returns the list (linked by p.link) of Ps that have local work. */
static p *procresize(int32_t nprocs)
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

/* ------------------------------------------------------------ stop/start the world */

static void preemptall(void)
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

/* ------------------------------------------------------------ boot and exit */

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
static void mstart_common(m *mp)
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
static _Noreturn void mexit(m *mp)
{
    if (mp == &m0) {
        /* Wait for every other M to leave, then unwind goro_run. */
        lock(&sched.lock);
        bool wait = mcount() > 1;
        unlock(&sched.lock);
        if (wait)
            notesleep(&sched.m0exitnote);
        longjmp(m0_exit, 1);
    }
    if (mp->spinning) {
        mp->spinning = false;
        __atomic_sub_fetch(&sched.nmspinning, 1, __ATOMIC_SEQ_CST);
    }
    unminit_signals(mp);
    setg(NULL);
    longjmp(mp->exitjmp, 1);
}

/* With sched.lock held and exiting set: an M blocked in a system call may
 * never come back, so it is not waited for. Its CAS 1 -> 2 on insyscall
 * tells it, if it ever returns, to end its thread at once; the teardown
 * then leaves its M, G and stack in place. m0 is never abandoned: goro_run
 * returns on its thread, so its call is interrupted with SIGURG (here and
 * by sysmon until it returns); the goroutine in it is abandoned too. */
static void abandon_syscall_ms(void)
{
    for (m *mp = allm; mp; mp = mp->alllink) {
        if (mp != &m0 && cas_acqrel(&mp->insyscall, 1, 2)) {
            sched.nmexited++;
            sched.nmabandoned++;
        }
    }
    if (mcount() == 1)
        notewakeup(&sched.m0exitnote);
    if (load_acquire(&m0.insyscall) == 1)
        kick_syscall(&m0);
}

/* The main goroutine returned: every M leaves its scheduler loop. Running
 * goroutines stop at their next runtime entry. */
static g *exit_m(g *gp)
{
    m *mp = getg()->m;
    setgstatus_owned(gp, _Grunning, _Gdead);
    store_relaxed(&mp->curg, NULL);
    /* No new plain-thread calls; wait out those in progress (they never
     * block) so that none sees the Ms leave or the teardown. */
    __atomic_store_n(&runtime_state, RT_STOPPING, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&foreign_inflight, __ATOMIC_SEQ_CST) != 0)
        osyield();
    lock(&sched.lock);
    __atomic_store_n(&sched.exiting, 1, __ATOMIC_SEQ_CST);
    preemptall();
    for (m *idle = mget(); idle; idle = mget())
        notewakeup(&idle->park);
    for (m *locked = sched.mlockedidle; locked; locked = sched.mlockedidle) {
        unlist_lockedm(locked);
        notewakeup(&locked->park);
    }
    abandon_syscall_ms();
    unlock(&sched.lock);
    netpollBreak(); /* an M blocked in netpoll leaves too */
    mexit(mp);
}

static void main_goroutine(void *arg)
{
    (void)arg;
    main_result = main_fn(main_argc, main_argv);
    mcall1(exit_m, true);
}

static void free_g(g *gp, void *arg)
{
    (void)arg;
    if (readgstatus(gp) != _Gsyscall) /* an abandoned thread still runs on it */
        fiber_destroy(gp->tsan_fiber);
}

/* After every other M has left: give all memory back so that goro_run can
 * start a fresh runtime. With Ms abandoned in system calls (exit_m), their
 * Gs, stacks and Ms stay allocated: those threads still run on them. */
static void runtime_teardown(void)
{
    bool abandoned = sched.nmabandoned > 0;
    sysmon_stop();
    allgs_foreach(free_g, NULL);
    lock(&allglock);
    allgs = NULL;
    allglen = 0;
    if (abandoned) {
        gslabs = NULL;
        gslab_used = 0;
    } else {
        gslab_freeall();
    }
    unlock(&allglock);
    semafini();
    tracefini();
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
    for (m *mp = allm, *next; mp; mp = next) {
        next = mp->alllink;
        if (mp != &m0 && load_acquire(&mp->insyscall) != 2) {
            free(mp->g0);
            free(mp);
        }
    }
    unminit_signals(&m0);
    free(m0.g0);
    allm = NULL;
    stackfini(!abandoned);
    globrunqfini();
    netpollfini();
    memset(&sched, 0, sizeof sched);
}

static int32_t initial_procs(void)
{
    const char *env = getenv("GOMAXPROCS");
    if (env && *env) {
        char *end;
        long n = strtol(env, &end, 10);
        if (*end == 0 && n > 0)
            return n > MAX_GOMAXPROCS ? MAX_GOMAXPROCS : (int32_t)n;
    }
    return getproccount();
}

/* 0, or -ENOMEM when not even m0's g0 can be allocated. */
static int schedinit(void)
{
    memset(&sched, 0, sizeof sched);
    memset(&m0, 0, sizeof m0);
    sched.maxmcount = MAX_MCOUNT;
    worldsema = 1;
    runtime_start = nanotime();
    parsedebugvars();
    ncpu = getproccount();
    stackinit();
    initsig();
    lock(&sched.lock);
    m0.id = sched.mnext++;
    sched.lastpoll = nanotime();
    m0.thread = pthread_self();
    m0.g0 = galloc();
    if (!m0.g0) {
        unlock(&sched.lock);
        return -ENOMEM;
    }
    m0.g0->m = &m0;
    m0.g0->atomicstatus = _Grunning;
    allm = &m0;
    setg(m0.g0);
    store_relaxed(&gomaxprocs, 0);
    procresize(initial_procs());
    unlock(&sched.lock);
    return 0;
}

/* The main goroutine and sysmon; 0, or -ENOMEM (no stack: an
 * address-space limit) or -EAGAIN (no thread) with nothing running yet.
 * Only m0 exists and nobody is woken: the main goroutine (goid 1) runs
 * once the runtime is open to plain threads. */
static int boot(void)
{
    goro_attr attr = { 0, "main" };
    int64_t goid = newproc(main_goroutine, NULL, &attr, false);
    if (goid < 0)
        return (int)goid;
    if (goid != 1)
        throwf("goro_run: main goroutine has goid %lld", (long long)goid);
    return sysmon_start();
}

int goro_run(int (*fn)(int argc, char **argv), int argc, char **argv)
{
    if (!fn)
        return -EINVAL;
    if (!cas_acqrel(&runtime_state, RT_STOPPED, RT_BOOTING))
        return -EBUSY;
    main_fn = fn;
    main_argc = argc;
    main_argv = argv;
    int err = schedinit();
    if (err == 0)
        err = boot();
    if (err != 0) {
        runtime_teardown(); /* also of a runtime half built */
        setg(NULL);
        store_release(&runtime_state, RT_STOPPED);
        return err;
    }
    __atomic_store_n(&runtime_state, RT_RUNNING, __ATOMIC_SEQ_CST);
    if (setjmp(m0_exit) == 0)
        mstart_common(&m0);
    runtime_teardown();
    setg(NULL);
    store_release(&runtime_state, RT_STOPPED);
    return main_result;
}

/* ------------------------------------------------------------ stats */

static int64_t runtime_uptime_ms(void)
{
    return (nanotime() - runtime_start) / 1000000;
}

void goro_read_stats(goro_stats *out)
{
    if (!out)
        return; /* nowhere to report: nothing to do */
    memset(out, 0, sizeof *out);
    bool foreign = !on_m();
    if (foreign && !foreign_enter())
        return;
    lock(&sched.lock);
    out->goroutines = gcount();
    out->threads = mcount();
    out->idle_threads = sched.nmidle;
    out->spinning_threads = load_relaxed(&sched.nmspinning);
    out->procs = gomaxprocs;
    out->idle_procs = load_relaxed(&sched.npidle);
    out->global_runq = load_relaxed(&sched.runqsize);
    for (int32_t i = 0; i < allplen; i++) {
        out->context_switches += (int64_t)load_relaxed(&allp[i]->nctxswitch);
        out->steals += (int64_t)load_relaxed(&allp[i]->nsteal);
    }
    out->preemptions = (int64_t)load_relaxed(&sched.npreempt);
    out->syscall_handoffs = (int64_t)load_relaxed(&sched.nhandoff);
    unlock(&sched.lock);
    out->stack_bytes_reserved = stack_bytes_reserved();
    out->stack_bytes_committed = stack_bytes_committed();
    if (foreign)
        foreign_exit();
}

/* ------------------------------------------------------------ schedtrace */

typedef struct tracebuf {
    char buf[8192];
    size_t len;
} tracebuf;

static void tb_printf(tracebuf *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(tracebuf *tb, const char *fmt, ...)
{
    va_list ap;
    if (tb->len > sizeof tb->buf - 512) {
        (void)!write(2, tb->buf, tb->len);
        tb->len = 0;
    }
    va_start(ap, fmt);
    int n = vsnprintf(tb->buf + tb->len, sizeof tb->buf - tb->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        tb->len += (size_t)n < sizeof tb->buf - tb->len ? (size_t)n : sizeof tb->buf - tb->len - 1;
}

static void detail_g(g *gp, void *arg)
{
    tracebuf *tb = arg;
    uint32_t s = readgstatus(gp);
    if (s == _Gdead)
        return;
    m *mp = load_relaxed(&gp->m);
    uint8_t why = load_relaxed(&gp->waitreason);
    tb_printf(tb, "  G%lld: status=%u(%s) m=%lld\n", (long long)gp->goid, s,
              waitReasonStrings[why < waitReasonCount ? why : 0],
              mp ? (long long)mp->id : -1LL);
}

/* Go's SCHED line, printed by sysmon every schedtrace ms. */
void schedtrace(bool detailed)
{
    tracebuf *tb = calloc(1, sizeof *tb);
    if (!tb)
        return;
    lock(&sched.lock);
    tb_printf(tb, "SCHED %lldms: gomaxprocs=%d idleprocs=%u threads=%d spinningthreads=%u needspinning=%u idlethreads=%d runqueue=%d",
              (long long)runtime_uptime_ms(), gomaxprocs, load_relaxed(&sched.npidle), mcount(),
              load_relaxed(&sched.nmspinning), load_relaxed(&sched.needspinning), sched.nmidle, load_relaxed(&sched.runqsize));
    if (detailed)
        tb_printf(tb, " gcwaiting=%u nmidle=%d stopwait=%d sysmonwait=%u\n", load_relaxed(&sched.gcwaiting),
                  sched.nmidle, sched.stopwait, load_relaxed(&sched.sysmonwait));
    else
        tb_printf(tb, " [");
    for (int32_t i = 0; i < gomaxprocs; i++) {
        p *pp = allp[i];
        uint32_t q = runqlen(pp);
        if (detailed) {
            m *mp = load_relaxed(&pp->m);
            tb_printf(tb, "  P%d: status=%u schedtick=%u syscalltick=%u m=%lld runqsize=%u gfreecnt=%d\n", pp->id,
                      load_relaxed(&pp->status), load_relaxed(&pp->schedtick), pp->syscalltick,
                      mp ? (long long)mp->id : -1LL, q, load_relaxed(&pp->gFreeN));
        } else {
            tb_printf(tb, "%s%u", i ? " " : "", q);
        }
    }
    if (detailed) {
        for (m *mp = allm; mp; mp = mp->alllink) {
            /* An M's own fields change without the lock: its P is found
             * from the Ps' atomic back-links instead. */
            int32_t pid = -1;
            for (int32_t i = 0; i < gomaxprocs; i++)
                if (load_relaxed(&allp[i]->m) == mp)
                    pid = allp[i]->id;
            g *cg = load_relaxed(&mp->curg);
            tb_printf(tb, "  M%lld: p=%d curg=%lld\n", (long long)mp->id, pid, cg ? (long long)cg->goid : -1LL);
        }
        unlock(&sched.lock);
        allgs_foreach(detail_g, tb);
    } else {
        tb_printf(tb, "]\n");
        unlock(&sched.lock);
    }
    (void)!write(2, tb->buf, tb->len);
    free(tb);
}
