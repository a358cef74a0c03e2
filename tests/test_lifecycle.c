/*
 * test_lifecycle — plain threads and the runtime's boundaries: the
 * interleavings a review found broken (each check failed before its fix).
 *
 *  1. A plain thread's goro_go is never lost, whatever the timing against
 *     an M that stops spinning (the global queue is re-checked).
 *  2. goro_run returns although a goroutine is stopping the world
 *     (goro_maxprocs) when main returns.
 *  3. A plain thread hammering goro_go across many goro_run calls gets
 *     goids or -EPERM, never a crash or a foreign goroutine with goid 1.
 *  4. A goroutine abandoned on a wait group does not haunt the next
 *     runtime that uses the same address (the semaphore table is reset).
 *  5. A thread created before goro_run may wake the main goroutine: no
 *     false "all goroutines are asleep".
 */
#include "check.h"

#include <errno.h>
#include <goro.h>
#include <pthread.h>

/* ---- 1: lost wake-up */
static goro_waitgroup lost_wg = GORO_WAITGROUP_INIT;
static int lost_flag, lost_at = -1;

static void set_flag(void *arg)
{
    (void)arg;
    __atomic_store_n(&lost_flag, 1, __ATOMIC_SEQ_CST);
}

static void *lost_thread(void *arg)
{
    (void)arg;
    long n = SCALE(20000);
    for (long i = 0; i < n && lost_at < 0; i++) {
        __atomic_store_n(&lost_flag, 0, __ATOMIC_SEQ_CST);
        int64_t until = check_now_ns() + (i * 37) % 3000; /* sweep the timing */
        while (check_now_ns() < until) {
        }
        CHECK(goro_go(set_flag, NULL) > 0, "goro_go from a plain thread");
        int64_t t0 = check_now_ns();
        while (!__atomic_load_n(&lost_flag, __ATOMIC_SEQ_CST))
            if (check_now_ns() - t0 > 2000000000LL) {
                lost_at = (int)i;
                break;
            }
    }
    goro_waitgroup_done(&lost_wg);
    return NULL;
}

static int lost_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    pthread_t t;
    goro_waitgroup_add(&lost_wg, 1);
    CHECK(pthread_create(&t, NULL, lost_thread, NULL) == 0, "pthread_create");
    goro_waitgroup_wait(&lost_wg);
    pthread_join(t, NULL);
    return 0;
}

/* ---- 2: main returns during stop-the-world */
static int stw_started;

static void resizer(void *arg)
{
    (void)arg;
    __atomic_store_n(&stw_started, 1, __ATOMIC_SEQ_CST);
    goro_maxprocs(2);
}

static int stw_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    goro_go(resizer, NULL);
    while (!__atomic_load_n(&stw_started, __ATOMIC_SEQ_CST))
        goro_yield();
    /* Busy without a runtime entry: the resizer's stop waits for us. */
    int64_t until = check_now_ns() + 100000000;
    while (check_now_ns() < until) {
    }
    return 7;
}

/* ---- 3: plain thread against boot and teardown */
static int hammer_stop;
static long hammer_ok, hammer_eperm, hammer_bad;

static void noop(void *arg)
{
    (void)arg;
}

static void *hammer(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&hammer_stop, __ATOMIC_SEQ_CST)) {
        int64_t r = goro_go(noop, NULL);
        if (r > 1)
            hammer_ok++;
        else if (r == -EPERM)
            hammer_eperm++;
        else
            hammer_bad++;
    }
    return NULL;
}

static int short_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    CHECK(goro_self() == 1, "main goroutine has goid %lld", (long long)goro_self());
    goro_yield();
    return 0;
}

/* ---- 4: abandoned waiter, then the same address in a new runtime */
static goro_waitgroup reused = GORO_WAITGROUP_INIT;

static void wait_forever(void *arg)
{
    (void)arg;
    goro_waitgroup_wait(&reused);
}

static int abandon_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    goro_waitgroup_add(&reused, 1);
    goro_go(wait_forever, NULL);
    for (int i = 0; i < 100; i++)
        goro_yield();
    return 0;
}

static void done_reused(void *arg)
{
    goro_waitgroup_done(arg);
}

static int reuse_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    reused = (goro_waitgroup)GORO_WAITGROUP_INIT;
    goro_waitgroup_add(&reused, 1);
    goro_go(done_reused, &reused);
    goro_waitgroup_wait(&reused);
    return 5;
}

/* ---- 5: a thread from before goro_run wakes main */
static goro_waitgroup early_wg = GORO_WAITGROUP_INIT;
static int early_armed;

static void *early_thread(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&early_armed, __ATOMIC_SEQ_CST))
        usleep(1000);
    usleep(200000);
    goro_waitgroup_done(&early_wg);
    return NULL;
}

static int early_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    goro_waitgroup_add(&early_wg, 1);
    __atomic_store_n(&early_armed, 1, __ATOMIC_SEQ_CST);
    goro_waitgroup_wait(&early_wg);
    return 3;
}

int main(int argc, char **argv)
{
    tap_plan(5);

    CHECK(goro_run(lost_main, argc, argv) == 0, "goro_run");
    CHECK(lost_at < 0, "goroutine %d from a plain thread never ran", lost_at);
    tap_ok("%ld goro_go calls from a plain thread at swept timings all ran", (long)SCALE(20000));

    CHECK(goro_run(stw_main, argc, argv) == 7, "goro_run with a stop-the-world in progress");
    tap_ok("goro_run returned while a goroutine was stopping the world");

    pthread_t t;
    CHECK(pthread_create(&t, NULL, hammer, NULL) == 0, "pthread_create");
    int runs = SCALE(200);
    for (int i = 0; i < runs; i++)
        CHECK(goro_run(short_main, argc, argv) == 0, "goro_run %d", i);
    __atomic_store_n(&hammer_stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL);
    tap_diag("plain-thread goro_go: %ld accepted, %ld -EPERM, %ld other", hammer_ok, hammer_eperm, hammer_bad);
    CHECK(hammer_bad == 0, "%ld goro_go calls returned neither a goid > 1 nor -EPERM", hammer_bad);
    tap_ok("%d runtimes booted and torn down under a plain thread's goro_go", runs);

    CHECK(goro_run(abandon_main, argc, argv) == 0, "goro_run abandoning a waiter");
    CHECK(goro_run(reuse_main, argc, argv) == 5, "goro_run reusing the address");
    tap_ok("a waiter abandoned by one runtime does not disturb the next");

    pthread_t early;
    CHECK(pthread_create(&early, NULL, early_thread, NULL) == 0, "pthread_create");
    CHECK(goro_run(early_main, argc, argv) == 3, "goro_run woken by an earlier thread");
    pthread_join(early, NULL);
    tap_ok("a thread created before goro_run woke the main goroutine");
    return 0;
}
