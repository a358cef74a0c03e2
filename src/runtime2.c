/*
 * The scheduler's global state, as Go's runtime2.go declares it: the
 * schedt, every P and M, m0, the current G of each thread, and the
 * names of the wait reasons. Defined here, below every file that uses
 * them; runtime.h says what guards each.
 */
#include "runtime.h"
#include "proc.h"

#include <string.h>

/* The locks' ranks (lockrank.h) are static for the first goro_run and set
 * again by sched_reset after every memset of sched. */
schedt sched = {
    .lock = MUTEX_INIT(LOCKRANK_SCHED),
    .runqlock = SPINMUTEX_INIT(LOCKRANK_GLOBRUNQ),
    .gFree = { .lock = MUTEX_INIT(LOCKRANK_GFREE) },
};
p **allp;
int32_t allplen; /* Ps ever created (allp capacity in use); atomic for sysmon's reads */
int32_t gomaxprocs;
int32_t ncpu;
m *allm;
m m0;

__thread g *tls_g;

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

static const char *const gStatusStrings[] = {
    [_Gidle] = "idle",       [_Grunnable] = "runnable", [_Grunning] = "running",
    [_Gsyscall] = "syscall", [_Gwaiting] = "waiting",   [_Gdead] = "dead",
    [_Gpreempted] = "preempted",
};

/* The name of a G status, for fatal errors, dumps and schedtrace. */
const char *gstatus_string(uint32_t s)
{
    return s < sizeof gStatusStrings / sizeof gStatusStrings[0] ? gStatusStrings[s] : "???";
}

/* sched zeroed (schedinit, teardown), its locks ranked again. */
void sched_reset(void)
{
    memset(&sched, 0, sizeof sched);
    lockinit(&sched.lock, LOCKRANK_SCHED);
    spinlockinit(&sched.runqlock, LOCKRANK_GLOBRUNQ);
    lockinit(&sched.gFree.lock, LOCKRANK_GFREE);
}
