/*
 * test_stack — a stack that grew beyond 32 KiB gives the excess back to
 * the kernel when its goroutine dies, and the G keeps the rest for its
 * next life.
 *
 * One goroutine with a 256 KiB stack recurses ~160 KiB deep, yields at the
 * bottom (a runtime entry, so the runtime sees how deep it went), returns
 * and exits. Committed stack memory (goro_stats.stack_bytes_committed,
 * counted with mincore) must have grown by more than 128 KiB at the bottom
 * and be back within 32 KiB + a page of where it started once it is dead.
 */
#include "check.h"

#include <goro.h>

#define KIB 1024
#define FRAME (4 * KIB)
#define DEPTH 40 /* 40 x 4 KiB = 160 KiB */

static goro_waitgroup at_bottom = GORO_WAITGROUP_INIT, resume = GORO_WAITGROUP_INIT, done = GORO_WAITGROUP_INIT;

static int recurse(int depth)
{
    volatile char frame[FRAME];
    frame[0] = (char)depth;
    frame[FRAME - 1] = (char)depth;
    if (depth == 0) {
        goro_waitgroup_done(&at_bottom);
        goro_waitgroup_wait(&resume); /* parked at the bottom: measured */
        /* The runtime learns how deep a stack went at its switches
         * (g.minsp), and the wait above does not park when main's done
         * came first: sleep, which always parks, so the release at exit
         * knows the depth (without it, 2 of 40 TSan runs at GOMAXPROCS=2 kept 172 KiB). */
        goro_sleep(1000 * 1000);
        return frame[0];
    }
    return recurse(depth - 1) + frame[FRAME - 1];
}

static void deep(void *arg)
{
    (void)arg;
    CHECK(recurse(DEPTH) >= 0, "recursion result");
    goro_waitgroup_done(&done);
}

static int64_t committed(void)
{
    goro_stats st;
    goro_read_stats(&st);
    return st.stack_bytes_committed;
}

static int main_fn(int argc, char **argv)
{
    (void)argc, (void)argv;
    tap_plan(2);
    int64_t before = committed();
    goro_waitgroup_add(&at_bottom, 1);
    goro_waitgroup_add(&resume, 1);
    goro_waitgroup_add(&done, 1);
    goro_attr attr = { 256 * KIB, "deep" };
    CHECK(goro_go_attr(deep, NULL, &attr) > 0, "goro_go_attr");
    goro_waitgroup_wait(&at_bottom);
    int64_t deepest = committed();
    tap_diag("committed stack bytes: %lld before, %lld at the bottom", (long long)before, (long long)deepest);
    CHECK(deepest - before > 128 * KIB, "the recursion committed only %lld bytes", (long long)(deepest - before));
    tap_ok("recursion committed %lld KiB of stack", (long long)(deepest - before) / KIB);

    goro_waitgroup_done(&resume);
    goro_waitgroup_wait(&done);
    /* 32 KiB kept, plus a page of slack for the main goroutine's own
     * stack, which may have grown a page meanwhile (sanitizer frames).
     * The dead goroutine may still be on its way out on another M (one
     * goro_yield was not always enough under TSan): look for up to 2 s. */
    const int64_t kept_max = 32 * KIB + 2 * 4 * KIB;
    int64_t after = committed();
    for (int i = 0; i < 2000 && after - before > kept_max; i++) {
        goro_sleep(1000 * 1000);
        after = committed();
    }
    tap_diag("committed stack bytes after its death: %lld", (long long)after);
    CHECK(after - before <= kept_max, "a dead goroutine kept %lld bytes of stack", (long long)(after - before));
    tap_ok("the dead goroutine kept %lld KiB (at most 32 KiB + two pages)", (long long)(after - before) / KIB);
    return 0;
}

GORO_MAIN(main_fn)
