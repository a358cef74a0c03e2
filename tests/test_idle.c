/*
 * test_idle — an idle program costs no CPU.
 *
 * Inside goro_run, a burst of goroutines first runs on every P (so that
 * several Ms exist and each must go back to sleep), then the main goroutine
 * waits on a waitgroup that a plain pthread finishes after 1 s
 * (goro_waitgroup_done from a thread that is not a goroutine). Meanwhile
 * nothing is runnable: idle Ms must park on their notes and sysmon must back
 * off, not spin or poll. The process CPU time (CLOCK_PROCESS_CPUTIME_ID, all
 * threads) across that second must stay below 50 ms. The main goroutine must
 * then really continue: woken by that done, not earlier, and not much later.
 *
 * In-process the plain thread first starts a goroutine (goro_go from a
 * plain thread) before it sleeps, so the runtime knows that a thread outside
 * it uses it; this runs twice (the second time after the runtime has been
 * busy again). Then a child (/proc/self/exe unprimed) does the same with a
 * plain thread whose only call into the runtime is the final
 * goro_waitgroup_done: the runtime must not declare a deadlock while it
 * sleeps.
 */
#include "check.h"
#include "child.h"
#include <goro.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define IDLE_NS (1000 * 1000 * 1000LL)
#define MAX_CPU_NS (50 * 1000 * 1000LL)

static goro_waitgroup wake = GORO_WAITGROUP_INIT;
static goro_waitgroup burst = GORO_WAITGROUP_INIT;
static atomic_llong done_at;   /* check_now_ns() just before the plain thread's done */
static atomic_int done_called;
static goro_waitgroup primed = GORO_WAITGROUP_INIT;
static int prime; /* the plain thread starts a goroutine first */
static atomic_int prime_started;

static void prime_fn(void *arg)
{
    (void)arg;
    goro_waitgroup_done(&primed);
}

static void *plain_thread(void *arg)
{
    (void)arg;
    if (prime) {
        CHECK(goro_go(prime_fn, NULL) > 0, "goro_go from a plain thread failed");
        atomic_store(&prime_started, 1);
    }
    struct timespec ts = {IDLE_NS / 1000000000, IDLE_NS % 1000000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    CHECK(goro_self() == 0, "plain thread has goid %lld", (long long)goro_self());
    atomic_store(&done_at, check_now_ns());
    atomic_store(&done_called, 1);
    goro_waitgroup_done(&wake);
    return NULL;
}

static void burst_fn(void *arg)
{
    (void)arg;
    volatile unsigned x = 1;
    for (int i = 0; i < 200; i++) {
        for (int k = 0; k < 1000; k++)
            x = x * 1103515245u + 12345u;
        goro_yield();
    }
    goro_waitgroup_done(&burst);
}

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void idle_round(int round)
{
    /* Work on every P first, so that there are Ms to put back to sleep. */
    int n = 4 * goro_maxprocs(0);
    goro_waitgroup_add(&burst, n);
    for (int i = 0; i < n; i++)
        CHECK(goro_go(burst_fn, NULL) > 0, "goro_go failed");
    goro_waitgroup_wait(&burst);
    goro_stats st;
    goro_read_stats(&st);
    tap_diag("round %d: after the burst: threads %lld, idle threads %lld, spinning %lld, idle procs %lld of %lld",
             round, (long long)st.threads, (long long)st.idle_threads, (long long)st.spinning_threads,
             (long long)st.idle_procs, (long long)st.procs);

    atomic_store(&done_called, 0);
    CHECK(goro_waitgroup_add(&wake, 1) == 0, "goro_waitgroup_add failed");
    pthread_t t;
    int64_t t0 = check_now_ns();
    if (prime)
        goro_waitgroup_add(&primed, 1);
    CHECK(pthread_create(&t, NULL, plain_thread, NULL) == 0, "pthread_create failed");
    if (prime) {
        /* Not parked until the plain thread has used the runtime. */
        while (!atomic_load(&prime_started))
            goro_yield();
        atomic_store(&prime_started, 0);
        goro_waitgroup_wait(&primed);
    }
    int64_t c0 = cpu_ns();
    goro_waitgroup_wait(&wake);
    int64_t t1 = check_now_ns();
    int64_t c1 = cpu_ns();
    CHECK(atomic_load(&done_called) == 1, "round %d: the wait returned before the plain thread's done",
          round);
    int64_t latency = t1 - atomic_load(&done_at);
    pthread_join(t, NULL);
    double cpu_ms = (double)(c1 - c0) / 1e6;
    tap_diag("round %d: idle for %.3f s: process CPU time %.3f ms (limit %lld ms); wake-up %.3f ms after the done",
             round, (double)(t1 - t0) / 1e9, cpu_ms, MAX_CPU_NS / 1000000, (double)latency / 1e6);
    CHECK(t1 - t0 >= IDLE_NS * 9 / 10, "round %d: waited only %.3f s", round, (double)(t1 - t0) / 1e9);
    CHECK(latency < 2000000000LL, "round %d: woke %.3f s after the plain thread's done", round,
          (double)latency / 1e9);
    CHECK(c1 - c0 < MAX_CPU_NS, "round %d: an idle second cost %.3f ms of CPU (limit %lld ms)", round,
          cpu_ms, MAX_CPU_NS / 1000000);
    tap_ok("round %d: idle second cost %.3f ms of CPU; goro_waitgroup_done from a plain thread woke "
           "the main goroutine %.3f ms later",
           round, cpu_ms, (double)latency / 1e6);

    /* And it goes on working after the wake-up. */
    goro_waitgroup_add(&burst, n);
    for (int i = 0; i < n; i++)
        CHECK(goro_go(burst_fn, NULL) > 0, "goro_go failed");
    goro_waitgroup_wait(&burst);
    CHECK(goro_self() == 1, "goid %lld after the wake-up", (long long)goro_self());
}

static int idle_main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) { /* the child: unprimed */
        idle_round(1);
        return 0;
    }
    prime = 1;
    idle_round(1);
    idle_round(2);
    tap_ok("main goroutine ran %d more goroutines after each wake-up", 4 * goro_maxprocs(0));
    return 5;
}

static void test_unprimed(void)
{
    child_result r;
    run_child("unprimed", NULL, -1, 60, &r);
    bool ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
              strstr(r.out, "ok 1 - ") != NULL && strstr(r.out, "not ok") == NULL;
    tap_diag("child (plain thread calls only goro_waitgroup_done): %s after %.2f s",
             child_status_str(r.status), r.secs);
    child_diag(ok ? "child" : "child stdout", r.out);
    if (!ok)
        child_diag("child stderr", r.err);
    CHECK(!strstr(r.err, "deadlock"),
          "the runtime declared a deadlock while a plain thread was about to call "
          "goro_waitgroup_done");
    CHECK(ok, "child ended with %s%s", child_status_str(r.status), r.timed_out ? " (timed out)" : "");
    free(r.out);
    free(r.err);
    tap_ok("a plain thread that first touches the runtime with goro_waitgroup_done after 1 s wakes "
           "the main goroutine (no false deadlock, idle CPU below %lld ms)",
           MAX_CPU_NS / 1000000);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        tap_plan(1);
        return goro_run(idle_main, argc, argv);
    }
    tap_plan(4);
    int rc = goro_run(idle_main, argc, argv);
    CHECK(rc == 5, "goro_run returned %d", rc);
    test_unprimed();
    return 0;
}
