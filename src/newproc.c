/*
 * Goroutines as objects: their status transitions, the list of every G
 * (allgs), the free lists of dead Gs (per P, then global, as Go's
 * gFree), the slabs Gs are carved from, and newproc, which makes a G
 * runnable (Go's newproc/newproc1 in proc.go). Owns allgs and the slabs,
 * under allglock.
 */
#include "runtime.h"
#include "proc.h"

#include "fiber_sanitizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    GOID_BATCH = 16,
    GFREE_LOCAL_MAX = 64,  /* per-P dead Gs before spilling */
    GFREE_LOCAL_KEEP = 32, /* spill down to / refill up to this many */
};

static mutex allglock = MUTEX_INIT(LOCKRANK_ALLG);
static g *allgs;
static int64_t allglen; /* atomic */

/* ------------------------------------------------------------ G status */

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
               gstatus_string(oldval), gstatus_string(newval), gstatus_string(cur));
}

/* setgstatus_owned's failure: out of line, the check stays a compare. */
_Noreturn void bad_owned_transition(g *gp, uint32_t oldval, uint32_t newval, uint32_t cur)
{
    throwf("setgstatus: goroutine %lld: bad transition %s -> %s (status is %s)", (long long)gp->goid,
           gstatus_string(oldval), gstatus_string(newval), gstatus_string(cur));
}

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
int32_t gcount(void)
{
    int64_t n = load_relaxed(&allglen) - load_relaxed(&sched.gFree.n);
    int32_t np = load_acquire(&allplen);
    p **ps = load_acquire(&allp);
    for (int32_t i = 0; i < np; i++)
        n -= load_relaxed(&ps[i]->gFreeN);
    return n > 0 ? (int32_t)n : 0;
}

/* Dead G to pp's free list; non-default stacks are freed, and past 64 Gs
 * half the list spills to the global lists (kept with and without stacks). */
void gfput(p *pp, g *gp)
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
g *galloc(void)
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

/* At teardown: forget every G, and free the slabs unless an M abandoned
 * in a system call may still run on one of their Gs. */
void allgs_free(bool abandoned)
{
    lock(&allglock);
    allgs = NULL;
    allglen = 0;
    if (!abandoned) {
        for (gslab *slab = gslabs, *next; slab; slab = next) {
            next = slab->next;
            free(slab);
        }
    }
    gslabs = NULL;
    gslab_used = 0;
    unlock(&allglock);
}

/* A new G: the G, its stack and its slot in the global run queue (every
 * goroutine G has one, so that queuing it never needs memory). NULL
 * without memory for any of them. */
static g *malg(size_t stacksize)
{
    g *gp = gslab_alloc();
    if (!gp)
        return NULL;
    if (!stackalloc(&gp->stack, stacksize)) {
        gslab_unalloc(gp);
        return NULL;
    }
    if (!globrunq_reserve()) {
        stackfree(&gp->stack);
        gslab_unalloc(gp);
        return NULL;
    }
    gp->tsan_fiber = fiber_create();
    gp->atomicstatus = _Gdead;
    allgadd(gp);
    return gp;
}

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
int64_t newproc(goro_fn fn, void *arg, const goro_attr *attr, bool wake)
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
