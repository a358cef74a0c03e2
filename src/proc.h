/*
 * The scheduler's internals shared by its files (gate.c, newproc.c,
 * checkdead.c, m.c, proc.c, syscall.c, procresize.c, debug.c,
 * lifecycle.c; see the top of proc.c for their layers). What the rest of
 * the runtime may call is in runtime.h; this header is for those files
 * only.
 */
#ifndef GORO_PROC_H
#define GORO_PROC_H

#include "runtime.h"

/* A goroutine of the user (not g0, not a plain thread). */
static inline bool is_user_g(g *gp)
{
    return gp && gp->goid > 0;
}

/* gate.c */
bool gate_boot(void);
void gate_open(void);
void gate_close(void);
void gate_reset(void);

/* debug.c */
void debug_start_clock(void);

/* procresize.c */
void stw_init(void);
/* runtime2.c */
void sched_reset(void);
void allp_free(void);

/* proc.c: an mcall function runs on g0 and returns the G to switch to */
typedef g *(*mcallfn)(g *);

/* checkdead.c */
void checkdead_dying(int32_t dying);

/* m.c */
void pidleput(p *pp);
p *pidleget(void);
p *pidlegetSpinning(void);
m *mget(void);
void acquirep(p *pp);
p *releasep(void);
bool stopm_until(int64_t deadline);
void stopm(void);
void startm(p *pp, bool spinning);
void gcstopm(void);
void stoplockedm(void);
void unlist_lockedm(m *mp);
void startlockedm(g *gp);
void mstart_common(m *mp);
_Noreturn void mexit(m *mp);

/* newproc.c */
_Noreturn void bad_owned_transition(g *gp, uint32_t oldval, uint32_t newval, uint32_t cur);
int32_t gcount(void);
void gfput(p *pp, g *gp);
g *galloc(void);
void allgs_free(bool abandoned);
int64_t newproc(goro_fn fn, void *arg, const goro_attr *attr, bool wake);

/* proc.c */
gobuf *switch_to(m *mp, g *gp);
void mcall_exit(mcallfn fn);
g *execute(g *gp, bool inheritTime);
void recompute_steal_order(int32_t n);
g *schedule(void);
void queue_runnable(p *pp, g *gp);

/* procresize.c */
p *procresize(int32_t nprocs);
void preemptall(void);

/* Ms that exist (created minus exited); under sched.lock. */
static inline int32_t mcount(void)
{
    return sched.mnext - sched.nmexited;
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
 * done before. Inline: every switch makes two of these (7 % of a
 * ping-pong round trip's instructions as a call). */
static inline void setgstatus_owned(g *gp, uint32_t oldval, uint32_t newval)
{
    uint32_t cur = load_acquire(&gp->atomicstatus);
    if (__builtin_expect(cur != oldval, 0))
        bad_owned_transition(gp, oldval, newval, cur);
    store_release(&gp->atomicstatus, newval);
}

static inline void checkdead(void)
{
    checkdead_dying(0);
}

#endif /* GORO_PROC_H */
