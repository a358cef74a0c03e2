/*
 * sysmon: a thread without a P that watches the Ps (Go's sysmon/retake).
 * It wakes every 20 µs, backs off to 10 ms while nothing happens, and sleeps
 * until woken while every P is idle, so an idle program costs no CPU. A
 * goroutine that has run for 10 ms on one schedtick (a chain of runnext
 * goroutines shares one) is asked to yield, and a P whose M is blocked in
 * a system call is handed to another M.
 */
#include "runtime.h"

enum {
    SYSMON_MIN_DELAY_NS = 20 * 1000,
    SYSMON_MAX_DELAY_NS = 10 * 1000 * 1000,
    SYSMON_IDLE_BEFORE_BACKOFF = 50,
    FORCE_PREEMPT_NS = 10 * 1000 * 1000,
    SYSMON_EXIT_KICK_NS = 1000 * 1000,
    SYSMON_NETPOLL_NS = 10 * 1000 * 1000,
};

static pthread_t sysmon_thread;
static uint32_t sysmon_stopping; /* atomic */
static bool sysmon_started;      /* m0's, while it boots and tears down */

/* Wakes a sysmon sleeping because every P was idle. */
void sysmon_wake(void)
{
    if (cas_acqrel(&sched.sysmonwait, 1, 0))
        notewakeup(&sched.sysmonnote);
}

/* A P left in a system call for a whole sysmon tick (the same syscalltick
 * twice), or whose time slice is over, is handed to another M if it has
 * work, if no M is spinning or idle to take new work, or after 10 ms
 * anyway (Go's retake). Returns whether it retook pp. */
static bool retake_syscall(p *pp, sysmontick *pd, int64_t now, bool slice_over)
{
    uint32_t t = load_relaxed(&pp->syscalltick);
    if (!slice_over && pd->syscalltick != t) {
        pd->syscalltick = t;
        pd->syscallwhen = now;
        return false;
    }
    if (runqempty(pp) && load_relaxed(&sched.nmspinning) + load_relaxed(&sched.npidle) > 0 &&
        pd->syscallwhen + FORCE_PREEMPT_NS > now)
        return false;
    incidlelocked(-1); /* see incidlelocked */
    bool retaken = cas_acqrel(&pp->status, _Psyscall, _Pidle); /* fails: its M came back, or the world stops */
    if (retaken) {
        store_relaxed(&pp->syscalltick, t + 1);
        __atomic_add_fetch(&sched.nhandoff, 1, __ATOMIC_RELAXED);
        handoffp(pp);
    }
    incidlelocked(1);
    return retaken;
}

/* Preempts goroutines that ran too long and retakes Ps from system calls.
 * The Ps are read without a lock: they are never freed, and allp only
 * grows (see procresize). Returns how many Ps it retook. */
static int retake(int64_t now)
{
    int32_t n = load_acquire(&gomaxprocs);
    p **ps = load_acquire(&allp);
    int retaken = 0;
    for (int32_t i = 0; i < n; i++) {
        p *pp = ps[i];
        sysmontick *pd = &pp->sysmontick;
        uint32_t status = load_relaxed(&pp->status);
        if (status != _Prunning && status != _Psyscall)
            continue;
        /* One schedtick for 10 ms: the goroutine's time slice is over,
         * also when it spends it in short system calls back to back
         * (their syscallticks differ, yet the P never leaves it). */
        bool slice_over = false;
        uint32_t t = load_relaxed(&pp->schedtick);
        if (pd->schedtick != t) {
            pd->schedtick = t;
            pd->schedwhen = now;
        } else if (pd->schedwhen + FORCE_PREEMPT_NS <= now) {
            preemptone(pp);
            slice_over = true;
        }
        if (status == _Psyscall)
            retaken += retake_syscall(pp, pd, now, slice_over);
    }
    return retaken;
}

/* Sleeps while the world is stopped or every P is idle; returns false if
 * sysmon must exit. */
static bool sysmon_idle_wait(void)
{
    lock(&sched.lock);
    bool idle = (load_relaxed(&sched.gcwaiting) ||
                 load_relaxed(&sched.npidle) == (uint32_t)load_relaxed(&gomaxprocs)) &&
                !load_relaxed(&sched.deadcheck);
    if (!idle || load_relaxed(&sysmon_stopping)) {
        unlock(&sched.lock);
        return !load_relaxed(&sysmon_stopping);
    }
    noteclear(&sched.sysmonnote);
    store_relaxed(&sched.sysmonwait, 1);
    unlock(&sched.lock);
    notesleep(&sched.sysmonnote);
    return !load_relaxed(&sysmon_stopping);
}

static void *sysmon(void *arg)
{
    (void)arg;
    int64_t delay = SYSMON_MIN_DELAY_NS;
    int idle = 0;
    int64_t lasttrace = nanotime();
    while (!load_relaxed(&sysmon_stopping)) {
        if (idle == 0)
            delay = SYSMON_MIN_DELAY_NS;
        else if (idle > SYSMON_IDLE_BEFORE_BACKOFF)
            delay = delay * 2 > SYSMON_MAX_DELAY_NS ? SYSMON_MAX_DELAY_NS : delay * 2;
        if (load_relaxed(&sched.exiting)) {
            /* goro_run returns on m0: get it out of a system call that a
             * kick from exit_m did not end (it was not in the kernel yet,
             * or the call restarted). */
            if (load_acquire(&m0.insyscall) == 1)
                kick_syscall(&m0);
            usleep_ns(SYSMON_EXIT_KICK_NS);
            continue;
        }
        usleep_ns(delay);
        if (debug.schedtrace <= 0 && !sysmon_idle_wait())
            break;
        if (load_acquire(&sched.deadcheck))
            checkdead_after_exit();
        int64_t now = nanotime();
        /* Nobody polled the network for 10 ms (every P busy): do it here. */
        int64_t last = load_relaxed(&sched.lastpoll);
        if (netpollinited() && last != 0 && last + SYSMON_NETPOLL_NS < now &&
            cas_acqrel(&sched.lastpoll, last, now)) {
            gList list = { NULL };
            netpoll(0, &list);
            if (list.head) {
                injectglist(&list);
                idle = 0;
            }
        }
        if (retake(now) > 0)
            idle = 0; /* system calls are blocking: watch closely */
        else
            idle++;
        if (debug.schedtrace > 0 && now - lasttrace >= (int64_t)debug.schedtrace * 1000000) {
            lasttrace = now;
            schedtrace(debug.scheddetail > 0);
        }
    }
    return NULL;
}

/* 0, or -errno when the thread cannot be created (goro_run fails). */
int sysmon_start(void)
{
    store_relaxed(&sysmon_stopping, 0);
    int err = pthread_create(&sysmon_thread, NULL, sysmon, NULL);
    sysmon_started = err == 0;
    return -err;
}

void sysmon_stop(void)
{
    if (!sysmon_started)
        return; /* goro_run failed before it started */
    sysmon_started = false;
    store_relaxed(&sysmon_stopping, 1);
    lock(&sched.lock);
    sysmon_wake();
    unlock(&sched.lock);
    pthread_join(sysmon_thread, NULL);
}
