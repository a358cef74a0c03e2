/*
 * The scheduler's global state, as Go's runtime2.go declares it: the
 * schedt, every P and M, m0, the current G of each thread, and the
 * names of the wait reasons. Defined here, below every file that uses
 * them; runtime.h says what guards each.
 */
#include "runtime.h"

schedt sched;
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
