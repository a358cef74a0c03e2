/*
 * test_lockrank — the lock order of src/lockrank.h is checked in the
 * sanitizer builds (-DGORO_LOCKRANK): a thread that takes a lock ranked
 * at or below one it holds ends the process with
 *   fatal error: lock order: acquiring X (rank N) while holding Y (rank M)
 * and so does a goroutine that switches away holding a runtime lock.
 *
 * Each inversion runs in a child (/proc/self/exe MODE, tests/child.h),
 * which must exit 2 with the message naming both locks:
 *   goroutine  a goroutine takes sched.runqlock, then sched.lock
 *   plain      a plain thread (no goro_run) takes sched.gFree.lock, then
 *              sched.lock
 *   twice      sched.lock twice (without the check: a self-deadlock)
 *   address    two channel locks (a rank the code holds several of) in
 *              decreasing address order, after the increasing order passed
 *   unranked   a zeroed mutex: every runtime lock must have a rank
 *   yield      a goroutine yields holding a channel's lock
 *   park       a goroutine parks (gopark) holding a channel's lock:
 *              only gopark's own unlockf may release a lock across a park
 *   unheld     unlocking a lock this thread does not hold
 * and in this process, in-order nesting (released in any order) passes.
 *
 * In the release build the checks are compiled out: every case is skipped.
 */
#include "check.h"
#include "child.h"
#include "runtime.h"
#include "chan.h"

#include <sys/mman.h>

enum { NCASES = 9 };

#ifdef GORO_LOCKRANK

static const char *child_mode;

/* An unlockf that releases nothing (the goroutine holds a channel's lock). */
static bool keep_lock(g *gp, void *arg)
{
    (void)gp;
    (void)arg;
    return true;
}

static void in_goroutine(void *arg)
{
    (void)arg;
    if (strcmp(child_mode, "goroutine") == 0) {
        spinlock(&sched.runqlock);
        lock(&sched.lock);
    } else if (strcmp(child_mode, "yield") == 0 || strcmp(child_mode, "park") == 0) {
        goro_chan *c = goro_chan_make(sizeof(int), 1);
        spinlock(&c->lock);
        if (child_mode[0] == 'y')
            gosched();
        else
            gopark(keep_lock, NULL, waitReasonSleep); /* nobody readies it: no race with the fatal error */
    }
    printf("no fatal error\n");
    fflush(stdout);
    exit(3);
}

static int child_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    static uint32_t never;
    goro_go(in_goroutine, NULL);
    semacquire(&never); /* the child ends in the goroutine */
    return 4;
}

/* The modes that need no runtime, on the main thread. */
static int plain_child(const char *mode)
{
    if (strcmp(mode, "plain") == 0) {
        lock(&sched.gFree.lock);
        lock(&sched.lock);
    } else if (strcmp(mode, "twice") == 0) {
        lock(&sched.lock);
        lock(&sched.lock);
    } else if (strcmp(mode, "address") == 0) {
        goro_chan *x = goro_chan_make(0, 0), *y = goro_chan_make(0, 0);
        goro_chan *lo = x < y ? x : y, *hi = x < y ? y : x;
        spinlock(&lo->lock);
        spinlock(&hi->lock);
        spinunlock(&hi->lock);
        spinunlock(&lo->lock);
        printf("increasing order passed\n");
        fflush(stdout);
        spinlock(&hi->lock);
        spinlock(&lo->lock);
    } else if (strcmp(mode, "unranked") == 0) {
        static mutex zeroed;
        lock(&zeroed);
    } else if (strcmp(mode, "unheld") == 0) {
        spinunlock(&sched.runqlock);
    } else {
        return 5;
    }
    printf("no fatal error\n");
    return 3;
}

/* "X (rank N)" for rank r. */
static const char *named(enum lockrank r, char *buf, size_t len)
{
    snprintf(buf, len, "%s (rank %d)", lockrank_names[r], (int)r);
    return buf;
}

static void check_child(const char *mode, const char *want, const char *want_out, const char *what)
{
    child_result r;
    run_child(mode, NULL, -1, 30, &r);
    tap_diag("child %s: %s after %.2f s", mode, child_status_str(r.status), r.secs);
    bool ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2 && strstr(r.err, want) &&
              (!want_out || strstr(r.out, want_out));
    if (!ok) {
        child_diag("child stdout", r.out);
        child_diag("child stderr", r.err);
    }
    CHECK(!r.timed_out, "%s: child still running after 30 s (deadlocked without the check?)", mode);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2, "%s: child ended with %s, want exit 2", mode,
          child_status_str(r.status));
    CHECK(strstr(r.err, want) != NULL, "%s: stderr lacks '%s'", mode, want);
    CHECK(!want_out || strstr(r.out, want_out), "%s: stdout lacks '%s'", mode, want_out);
    free(r.out);
    free(r.err);
    tap_ok("%s: '%s'", what, want);
}

static void inversion(const char *mode, enum lockrank taken, enum lockrank held, const char *what)
{
    char a[64], b[64], want[256];
    snprintf(want, sizeof want, "fatal error: lock order: acquiring %s while holding %s",
             named(taken, a, sizeof a), named(held, b, sizeof b));
    check_child(mode, want, NULL, what);
}

/* In order, released in any order: no fatal error, and nothing is left
 * held. */
static void test_in_order(void)
{
    lock(&sched.lock);
    spinlock(&sched.runqlock);
    unlock(&sched.lock); /* not last in, first out: allowed */
    lock(&sched.gFree.lock);
    CHECK(lockrank_holds(LOCKRANK_GLOBRUNQ) && lockrank_holds(LOCKRANK_GFREE) && !lockrank_holds(LOCKRANK_SCHED),
          "the held locks are not what was taken");
    unlock(&sched.gFree.lock);
    spinunlock(&sched.runqlock);
    CHECK(!lockrank_holds(LOCKRANK_GLOBRUNQ) && !lockrank_holds(LOCKRANK_GFREE), "a released lock still counts");
    lockrank_switch("a switch with nothing held", false); /* must return */
    tap_ok("sched.lock < sched.runqlock < sched.gFree.lock in order, released out of order: no error");
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        child_mode = argv[1];
        if (strcmp(argv[1], "goroutine") == 0 || strcmp(argv[1], "yield") == 0 || strcmp(argv[1], "park") == 0)
            return goro_run(child_main, argc, argv);
        return plain_child(argv[1]);
    }
    tap_plan(NCASES);
    test_in_order();
    inversion("goroutine", LOCKRANK_SCHED, LOCKRANK_GLOBRUNQ, "a goroutine takes sched.lock holding sched.runqlock");
    inversion("plain", LOCKRANK_SCHED, LOCKRANK_GFREE, "a plain thread takes sched.lock holding sched.gFree.lock");
    inversion("twice", LOCKRANK_SCHED, LOCKRANK_SCHED, "sched.lock taken twice");
    {
        char a[64], want[256];
        named(LOCKRANK_CHAN, a, sizeof a);
        snprintf(want, sizeof want,
                 "fatal error: lock order: acquiring %s while holding %s: locks of one rank are taken in increasing "
                 "address order", a, a);
        check_child("address", want, "increasing order passed",
                    "two channel locks in decreasing address order (increasing passed)");
    }
    check_child("unranked", "fatal error: lock order: acquiring a lock without a rank (0)", NULL,
                "a zeroed, unranked mutex");
    {
        char a[64], want[256];
        snprintf(want, sizeof want, "fatal error: lock order: leaving a goroutine (mcall) while holding %s",
                 named(LOCKRANK_CHAN, a, sizeof a));
        check_child("yield", want, NULL, "a goroutine yields holding a channel's lock");
        snprintf(want, sizeof want, "fatal error: lock order: parking: gopark's unlockf returned while holding %s",
                 a);
        check_child("park", want, NULL, "a goroutine parks holding a lock its unlockf does not release");
        named(LOCKRANK_GLOBRUNQ, a, sizeof a);
        snprintf(want, sizeof want, "fatal error: lock order: releasing %s at ", a);
        check_child("unheld", want, NULL, "unlocking a lock this thread does not hold");
    }
    return 0;
}

#else /* release: the check is compiled out */

int main(void)
{
    tap_plan(NCASES);
    for (int i = 0; i < NCASES; i++)
        tap_skip("release build: the lock order check (src/lockrank.h) is compiled out; it runs in the tsan and "
                 "asan builds (-DGORO_LOCKRANK)");
    return 0;
}

#endif
