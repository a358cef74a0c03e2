/*
 * The runtime's life: goro_run builds it (schedinit, boot), runs the main
 * goroutine on the calling thread, and when that returns makes every M
 * leave (exit_m) and gives all memory back (runtime_teardown), so that
 * goro_run can be called again. The top layer.
 */
#include "runtime.h"
#include "proc.h"

#include "fiber_sanitizer.h"

#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_MCOUNT = 10000 };

static int main_result;
static int (*main_fn)(int, char **);
static int main_argc;
static char **main_argv;

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
    gate_close(); /* no plain-thread call sees the Ms leave or the teardown */
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
    mcall_exit(exit_m);
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
    allgs_free(abandoned);
    semafini();
    tracefini();
    allp_free();
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
    sched_reset();
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
    sched_reset();
    memset(&m0, 0, sizeof m0);
    sched.maxmcount = MAX_MCOUNT;
    stw_init();
    debug_start_clock();
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
    if (!gate_boot())
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
        gate_reset();
        return err;
    }
    gate_open();
    if (setjmp(m0.exitjmp) == 0) /* mexit of m0 comes back here */
        mstart_common(&m0);
    runtime_teardown();
    setg(NULL);
    gate_reset();
    return main_result;
}
