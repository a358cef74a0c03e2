/*
 * Deadlock detection (Go's checkdead): every M idle, no goroutine
 * runnable, running or in a system call, and nothing that could wake one
 * (timers, I/O waiters, plain threads that may still call in): then
 * "fatal error: all goroutines are asleep - deadlock!".
 */
#include "runtime.h"
#include "proc.h"

#include "fiber_sanitizer.h"

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
void checkdead_dying(int32_t dying)
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
