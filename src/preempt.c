/*
 * Cooperative preemption. C has no function prologue to hijack the way Go
 * uses stackguard0, so sysmon's request is a flag on the G, honoured at
 * every runtime entry and by goro_preempt_point(). The flag is a relaxed
 * atomic: a late or spurious observation only moves a yield by one entry.
 */
#include "runtime.h"

/* Asks the goroutine running on pp to yield (sysmon's retake, and
 * stop-the-world). curg may be stale by the time we write: Gs are never
 * freed while the runtime runs, and a spurious flag costs one yield. */
void preemptone(p *pp)
{
    m *mp = load_acquire(&pp->m);
    if (!mp)
        return;
    store_relaxed(&pp->preempt, 1);
    g *gp = load_acquire(&mp->curg);
    if (!gp || gp == mp->g0)
        return;
    if (!load_relaxed(&gp->preempt)) {
        store_relaxed(&gp->preempt, 1);
        __atomic_add_fetch(&sched.npreempt, 1, __ATOMIC_RELAXED);
    }
}

void check_preempt(void)
{
    g *gp = getg();
    if (gp && gp->goid > 0 && load_relaxed(&gp->preempt))
        gosched();
}

void goro_preempt_point(void)
{
    check_preempt();
}
