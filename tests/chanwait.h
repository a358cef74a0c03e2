/*
 * chanwait.h — white-box helpers for the channel tests: count the sudogs
 * queued on a channel, and wait until that many goroutines are parked
 * there before acting.
 */
#ifndef GORO_TEST_CHANWAIT_H
#define GORO_TEST_CHANWAIT_H

#include "chan.h"
#include "check.h"

static size_t queue_len(waitq *q)
{
    size_t n = 0;
    for (sudog *sg = q->first; sg; sg = sg->next)
        n++;
    return n;
}

static size_t waiters(goro_chan *c)
{
    spinlock(&c->lock);
    size_t n = queue_len(&c->recvq) + queue_len(&c->sendq);
    spinunlock(&c->lock);
    return n;
}

__attribute__((unused)) static void wait_for_waiters(goro_chan *c, size_t n)
{
    int64_t t0 = check_now_ns();
    while (waiters(c) < n) {
        CHECK(check_now_ns() - t0 < 30 * 1000000000ll, "only %zu of %zu sudogs queued on the channel",
              waiters(c), n);
        goro_yield();
    }
}

#endif
