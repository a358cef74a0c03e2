/*
 * goro_waitgroup: Go's sync.WaitGroup. state packs the counter (high 32
 * bits) and the number of waiters (low 32 bits) so that Add and Wait agree
 * on both with one atomic word; waiters park on the runtime semaphore.
 */
#include "runtime.h"

#include <errno.h>

static int waitgroup_add(goro_waitgroup *wg, int64_t delta);

int goro_waitgroup_add(goro_waitgroup *wg, int64_t delta)
{
    if (!wg)
        return -EINVAL;
    if (!on_m()) {
        /* A plain thread: counting needs no runtime (a wait group may be
         * prepared before goro_run), waking waiters needs a live one. */
        bool entered = foreign_enter();
        int r = waitgroup_add(wg, delta);
        if (entered)
            foreign_exit();
        return r;
    }
    int r = waitgroup_add(wg, delta);
    check_preempt();
    return r;
}

static int waitgroup_add(goro_waitgroup *wg, int64_t delta)
{
    uint64_t old = __atomic_load_n(&wg->state, __ATOMIC_SEQ_CST);
    int64_t v;
    uint32_t w;
    do {
        /* The counter fits in 32 bits; counter + delta may not fit in 64. */
        if (__builtin_add_overflow((int64_t)(int32_t)(old >> 32), delta, &v) || v < 0 || v > INT32_MAX)
            return -EINVAL;
        w = (uint32_t)old;
    } while (!__atomic_compare_exchange_n(&wg->state, &old, ((uint64_t)v << 32) | w, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_SEQ_CST));
    if (v == 0 && w > 0) {
        /* Counter reached zero with waiters: nobody else can change the
         * state now (an Add would race with Wait, which Go forbids). */
        __atomic_store_n(&wg->state, 0, __ATOMIC_SEQ_CST);
        for (; w > 0; w--)
            semrelease(&wg->sema);
    }
    return 0;
}

void goro_waitgroup_done(goro_waitgroup *wg)
{
    goro_waitgroup_add(wg, -1);
}

void goro_waitgroup_wait(goro_waitgroup *wg)
{
    if (!wg || !on_goroutine())
        return; /* a plain thread cannot park, and a void call cannot report -EPERM: it returns without waiting (docs/API.md) */
    check_preempt();
    uint64_t old = __atomic_load_n(&wg->state, __ATOMIC_SEQ_CST);
    for (;;) {
        if ((old >> 32) == 0)
            return;
        if (__atomic_compare_exchange_n(&wg->state, &old, old + 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            semacquire1(&wg->sema, false, waitReasonSyncWaitGroupWait);
            return;
        }
    }
}
