/*
 * The plain-thread gate. A thread that is not an M of the runtime (a
 * "plain thread") may make the non-blocking calls (goro_go, wake-ups,
 * timers, stats): each enters through foreign_enter, which admits it only
 * while the runtime is fully built, and leaves with foreign_exit, so that
 * goro_run's exit can wait until no such call is inside before it tears
 * anything down. Blocking calls from a plain thread are refused
 * (-EPERM) by their own files. The lowest layer: it calls nothing.
 */
#include "runtime.h"
#include "proc.h"

enum { RT_STOPPED, RT_BOOTING, RT_RUNNING, RT_STOPPING };
static uint32_t runtime_state;    /* atomic */
static uint32_t foreign_inflight; /* atomic: plain-thread calls inside the runtime */

/* goro_run starts building a runtime: false if one exists already. */
bool gate_boot(void)
{
    return cas_acqrel(&runtime_state, RT_STOPPED, RT_BOOTING);
}

/* The runtime is built: plain threads may enter. Seq-cst: foreign_enter's
 * load pairs with it (and with gate_close's store). */
void gate_open(void)
{
    __atomic_store_n(&runtime_state, RT_RUNNING, __ATOMIC_SEQ_CST);
}

/* The runtime exits: no new plain-thread calls, and those inside (they
 * never block) are waited out, so that none sees the Ms leave or the
 * teardown. Dekker with foreign_enter: seq-cst on both sides. */
void gate_close(void)
{
    __atomic_store_n(&runtime_state, RT_STOPPING, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&foreign_inflight, __ATOMIC_SEQ_CST) != 0)
        osyield();
}

/* Torn down (or never built): goro_run may be called again. */
void gate_reset(void)
{
    store_release(&runtime_state, RT_STOPPED);
}

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
