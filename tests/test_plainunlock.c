/*
 * test_plainunlock — a plain thread (a pthread that is not a goroutine)
 * unlocks a mutex, and an rwmutex's writer lock, that a waiting goroutine
 * has switched to starvation mode. The unlock hands the lock straight to
 * the waiter; the yield that follows on a goroutine must not run on a
 * thread that has no G (it crashed in mcall).
 *
 * Starvation needs a waiter that has waited over 1 ms and, once woken,
 * finds the lock taken again. The holder sleeps 3 ms with the waiter
 * queued, unlocks, and at once re-takes the lock (goro_mutex_trylock on the
 * plain thread; goro_rwmutex_lock on a goroutine, whose unlock then goes to
 * the plain thread). The re-take races with the woken waiter, so a round
 * without starvation is tried again. Each case runs in a child process, so
 * a crash is reported as such.
 */
#include "child.h"

#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define MS 1000000ll
#define ROUNDS 50
enum { MUTEX_STARVING = 4, MUTEX_WAITER_SHIFT = 3 }; /* goro.h: state = locked | woken | starving | waiters << 3 */

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {ns / 1000000000, ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Waits (on a plain thread) until cond or 2 s. */
#define SPIN_UNTIL(cond)                                         \
    do {                                                         \
        int64_t su_t0_ = check_now_ns();                         \
        while (!(cond) && check_now_ns() - su_t0_ < 2000 * MS)   \
            sched_yield();                                       \
    } while (0)

static int32_t state_of(goro_mutex *m)
{
    return __atomic_load_n(&m->state, __ATOMIC_SEQ_CST);
}

static bool has_waiter(goro_mutex *m)
{
    return (state_of(m) >> MUTEX_WAITER_SHIFT) != 0;
}

static bool starving(goro_mutex *m)
{
    return (state_of(m) & MUTEX_STARVING) != 0;
}

/* One round: the waiter goroutine, the plain thread, and what they saw. */
typedef struct round {
    goro_mutex mu;
    goro_rwmutex rw;
    atomic_int held;       /* the first holder has the lock */
    atomic_int waiter_got; /* the waiter acquired */
    atomic_int waiter_done;
    atomic_int relocked;   /* the holder took the lock again after unlocking */
    atomic_int unlock_now; /* rwmutex case: the plain thread may unlock */
    atomic_int plain_done;
    int saw_starving;      /* the plain thread unlocked in starvation mode */
} round;

static void mutex_waiter(void *arg)
{
    round *r = arg;
    goro_mutex_lock(&r->mu);
    atomic_store(&r->waiter_got, 1);
    goro_mutex_unlock(&r->mu);
    atomic_store(&r->waiter_done, 1);
}

/* Holds the mutex (trylock) with the waiter queued for 3 ms, unlocks and
 * takes it again before the woken waiter can: the waiter turns on
 * starvation mode and queues again; the unlock below hands off. */
static void *mutex_plain(void *arg)
{
    round *r = arg;
    CHECK(goro_mutex_trylock(&r->mu) == 1, "trylock of a free mutex failed");
    atomic_store(&r->held, 1);
    SPIN_UNTIL(has_waiter(&r->mu));
    sleep_ns(3 * MS);
    goro_mutex_unlock(&r->mu);
    bool mine = false;
    while (!atomic_load(&r->waiter_got) && !(mine = goro_mutex_trylock(&r->mu) == 1))
        ;
    if (mine) {
        SPIN_UNTIL(starving(&r->mu));
        r->saw_starving = starving(&r->mu);
        goro_mutex_unlock(&r->mu); /* in starvation mode: the hand-off */
    }
    atomic_store(&r->plain_done, 1);
    return NULL;
}

static void rw_waiter(void *arg)
{
    round *r = arg;
    goro_rwmutex_lock(&r->rw);
    atomic_store(&r->waiter_got, 1);
    goro_rwmutex_unlock(&r->rw);
    atomic_store(&r->waiter_done, 1);
}

/* The goroutine side of the rwmutex case: takes the writer lock, holds it
 * 3 ms with the waiter queued, unlocks and at once locks again (the woken
 * waiter finds it locked), then leaves the unlock to the plain thread. */
static void rw_holder(void *arg)
{
    round *r = arg;
    goro_rwmutex_lock(&r->rw);
    atomic_store(&r->held, 1);
    while (!has_waiter(&r->rw.w))
        goro_sleep(100000);
    goro_sleep(3 * MS);
    goro_rwmutex_unlock(&r->rw);
    goro_rwmutex_lock(&r->rw);
    atomic_store(&r->relocked, 1);
    atomic_store(&r->unlock_now, 1);
}

static void *rw_plain(void *arg)
{
    round *r = arg;
    SPIN_UNTIL(atomic_load(&r->unlock_now));
    CHECK(atomic_load(&r->unlock_now), "the goroutine never re-took the rwmutex");
    SPIN_UNTIL(starving(&r->rw.w) || atomic_load(&r->waiter_got));
    r->saw_starving = starving(&r->rw.w);
    goro_rwmutex_unlock(&r->rw); /* in starvation mode: the hand-off */
    atomic_store(&r->plain_done, 1);
    return NULL;
}

static void wait_flag(atomic_int *flag, const char *what)
{
    int64_t t0 = check_now_ns();
    while (!atomic_load(flag)) {
        CHECK(check_now_ns() - t0 < 10000 * MS, "timed out waiting: %s", what);
        goro_sleep(100000);
    }
}

/* Runs rounds until one unlocked in starvation mode; returns how many. */
static int run_rounds(bool rw)
{
    static round r;
    for (int i = 1; i <= ROUNDS; i++) {
        memset(&r, 0, sizeof r);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, rw ? rw_plain : mutex_plain, &r) == 0, "pthread_create");
        if (rw)
            CHECK(goro_go(rw_holder, &r) > 0, "goro_go(rw_holder)");
        wait_flag(&r.held, "first holder");
        CHECK(goro_go(rw ? rw_waiter : mutex_waiter, &r) > 0, "goro_go(waiter)");
        wait_flag(&r.plain_done, "plain thread");
        wait_flag(&r.waiter_done, "waiter");
        CHECK(pthread_join(t, NULL) == 0, "pthread_join");
        int32_t left = state_of(rw ? &r.rw.w : &r.mu);
        CHECK(left == 0, "round %d: mutex state %d after both unlocked, want 0", i, left);
        if (r.saw_starving)
            return i;
    }
    return 0;
}

static int child_main(int argc, char **argv)
{
    (void)argc;
    bool rw = strcmp(argv[1], "rwmutex") == 0;
    int rounds = run_rounds(rw);
    CHECK(rounds > 0, "no round reached starvation mode in %d tries", ROUNDS);
    printf("handed off from a plain thread after %d round(s)\n", rounds);
    fflush(stdout);
    return 0;
}

static void check_case(const char *mode, const char *what)
{
    child_result r;
    run_child(mode, NULL, -1, 60, &r);
    bool ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
              strstr(r.out, "handed off from a plain thread") != NULL;
    if (!ok) {
        child_diag("stdout", r.out);
        child_diag("stderr", r.err);
    }
    CHECK(ok, "%s: child ended with %s%s", mode, child_status_str(r.status), r.timed_out ? " (timed out)" : "");
    char *nl = strchr(r.out, '\n');
    if (nl)
        *nl = 0;
    tap_ok("%s: %s", what, r.out);
    free(r.out);
    free(r.err);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return goro_run(child_main, argc, argv);
    tap_plan(2);
    check_case("mutex", "plain thread unlocks a starving goro_mutex (taken with trylock)");
    check_case("rwmutex", "plain thread unlocks a starving goro_rwmutex writer lock");
    return 0;
}
