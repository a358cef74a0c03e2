/*
 * The runtime's locks in acquisition order, as Go's mklockrank.go writes
 * it: "a < b" means a must be acquired before b, so a thread that holds b
 * never takes a. Every runtime lock (a mutex or spinmutex of
 * lock_futex.c) has a rank below; a thread may only take a lock that
 * ranks above every lock it holds. Locks of one rank are never held
 * together, except those marked "several, by address" below, which the
 * code takes in increasing address order.
 *
 * Checked in the sanitizer builds (the Makefile's tsan and asan, compiled
 * with -DGORO_LOCKRANK; see lock_futex.c): each thread keeps the locks it
 * holds, lock/spinlock check the new one against them and unlock pops it.
 * A violation ends the process with
 *   fatal error: lock order: acquiring X (rank N) while holding Y (rank M)
 * A goroutine moves between threads only while it holds no runtime lock:
 * the thread's list must be empty when it switches to a goroutine, and on
 * leaving one, except for the locks gopark's unlockf releases (on g0, same
 * thread, before the next switch). The release build compiles all of it
 * out: its locks have no rank field and lock() is unchanged.
 *
 * The edges, each with where the code takes the second lock while holding
 * the first (every other pair of locks is never held together today; the
 * order between them is a choice, Go's where Go has one: the locks of
 * user-visible objects come before the scheduler's):
 *
 *   timerop < sched      goro_timer_reset -> addtimer -> wake_for_timer
 *                        (and wakep -> startm) take sched.lock under the
 *                        goro_timer's oplock
 *   timerop < timers     goro_timer_stop/reset/free -> timer_stop ->
 *                        deltimer, and reset -> addtimer, take the heap's
 *                        lock under the oplock
 *   sched < globrunq     findRunnable, handoffp, exitsyscall0 and
 *                        procresize's destroyp take sched.runqlock under
 *                        sched.lock (runtime.h: "sched.lock, then
 *                        runqlock")
 *   sched < gfree        procresize -> destroyp moves a dead P's Gs to
 *                        sched.gFree under sched.lock
 *   sched < timers       procresize -> destroyp moves a dead P's timers
 *                        to P0 under sched.lock
 *   timers < timers      destroyp holds the dead P's heap and P0's at once
 *                        (by address)
 *   sched < allg         mput/incidlelocked/stoplockedm/mstart_thread ->
 *                        checkdead -> allgs_foreach under sched.lock
 *   globrunq < trace     injectglist queues netpoll's Gs under runqlock
 *                        and records their unblock events, without a P on
 *                        sysmon (the global trace buffer's lock)
 *   stackvec < stack     stack_bytes_committed holds its mincore buffer's
 *                        lock and then the stack allocator's
 *   chan < chan          select locks every channel of its cases (by
 *                        address, select.c's sellock)
 *
 * The test suite (asan, GOMAXPROCS 2 and 8) takes every edge above but
 * two: sched < allg happens only on the way to checkdead's fatal error,
 * and globrunq < trace only when sysmon injects netpoll's Gs while a trace
 * runs. Only the paths that run are checked: an inversion on a path no
 * test takes goes unseen, as in Go's lock ranking.
 *
 * Leaves (nothing is taken under them): pdtab, polldesc, sema, cond,
 * gfree, allg, stack, trace. A fatal error dumps the goroutines, taking
 * allglock with any lock held: the checks are off once a thread throws
 * (and in the SIGQUIT handler), and throw skips the dump where the thread
 * holds allglock itself.
 */
#ifndef GORO_LOCKRANK_H
#define GORO_LOCKRANK_H

enum lockrank {
    LOCKRANK_NONE,      /* 0: a lock nobody ranked (a fatal error when checked) */
    LOCKRANK_TIMEROP,   /* goro_timer.oplock (time.c): serialises stop, reset, free */
    LOCKRANK_PDTAB,     /* pdtab_lock (netpoll.c): starting the netpoller, the fd table's chunks */
    LOCKRANK_POLLDESC,  /* pollDesc.lock (netpoll.h): close, deadlines, timeouts */
    LOCKRANK_CHAN,      /* goro_chan.lock (chan.h): several, by address (select) */
    LOCKRANK_SEMA,      /* semaRoot.lock (sema.c) */
    LOCKRANK_COND,      /* goro_cond.lock (sync.c): in the user's memory, ranked by the caller */
    LOCKRANK_SCHED,     /* sched.lock: the idle P and M lists, stop-the-world */
    LOCKRANK_GLOBRUNQ,  /* sched.runqlock: the global run queue */
    LOCKRANK_GFREE,     /* sched.gFree.lock: the global free lists of dead Gs */
    LOCKRANK_TIMERS,    /* p->timers.lock: a P's timer heap; several, by address (procresize) */
    LOCKRANK_ALLG,      /* allglock (newproc.c): allgs and the G slabs */
    LOCKRANK_STACKVEC,  /* vecl (stack.c): stack_bytes_committed's mincore buffer */
    LOCKRANK_STACK,     /* stacklock (stack.c): the stack allocator */
    LOCKRANK_TRACE,     /* trace_global_lock (trace.c): events recorded without a P */
    LOCKRANK_COUNT,
};

#ifdef GORO_LOCKRANK
/* Names for the fatal errors, indexed by rank. */
static const char *const lockrank_names[LOCKRANK_COUNT] = {
    [LOCKRANK_NONE] = "unranked lock",
    [LOCKRANK_TIMEROP] = "goro_timer.oplock",
    [LOCKRANK_PDTAB] = "pdtab_lock",
    [LOCKRANK_POLLDESC] = "pollDesc.lock",
    [LOCKRANK_CHAN] = "goro_chan.lock",
    [LOCKRANK_SEMA] = "semaRoot.lock",
    [LOCKRANK_COND] = "goro_cond.lock",
    [LOCKRANK_SCHED] = "sched.lock",
    [LOCKRANK_GLOBRUNQ] = "sched.runqlock",
    [LOCKRANK_GFREE] = "sched.gFree.lock",
    [LOCKRANK_TIMERS] = "p.timers.lock",
    [LOCKRANK_ALLG] = "allglock",
    [LOCKRANK_STACKVEC] = "stack vecl",
    [LOCKRANK_STACK] = "stacklock",
    [LOCKRANK_TRACE] = "trace_global_lock",
};

/* Ranks whose locks the code holds several of at once, taken in
 * increasing address order. */
static inline int lockrank_several(unsigned rank)
{
    return rank == LOCKRANK_CHAN || rank == LOCKRANK_TIMERS;
}
#endif

#endif /* GORO_LOCKRANK_H */
