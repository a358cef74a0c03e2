/*
 * test_syscall — goro_syscall_enter/exit (GORO_BLOCKING) and
 * goro_lock_os_thread, at GOMAXPROCS=1 where a blocked P would stop
 * everything:
 *   1. while one goroutine sleeps 200 ms inside GORO_BLOCKING, another
 *      keeps running (sysmon hands the P off: syscall_handoffs grows);
 *   2. 8 goroutines blocked in read() on 8 pipes at once are all released
 *      by a ninth goroutine writing to them (each blocked M gave its P up);
 *   3. 10^5 short calls (getpid) return their values through the fast path;
 *   4. goro_maxprocs (a stop-the-world) completes while a goroutine is
 *      blocked in a system call, which then resumes;
 *   5. a locked goroutine stays on one thread across 1000 channel hand-offs
 *      and no other goroutine runs on that thread meanwhile;
 *   6. two goroutines locked at once have two threads, and one that exits
 *      locked takes its thread with it (m0 excepted);
 *   7. (children) a locked main goroutine waiting forever is a deadlock,
 *      and so is main waiting forever after a goroutine exited locked
 *      (its thread, perhaps the last running M, ended);
 *   8. (children) the main goroutine returning while another goroutine is
 *      blocked in read() forever: goro_run returns anyway, whether that
 *      goroutine's thread is m0 (its call is interrupted with SIGURG) or
 *      another M (abandoned in the kernel).
 */
#include "check.h"
#include "child.h"

#include <goro.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MS 1000000ll

static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static long gettid_now(void)
{
    return syscall(SYS_gettid);
}

/* ---------------------------------------------------------------- 1 */

static atomic_int sleeping;

static void blocking_sleeper(void *arg)
{
    (void)arg;
    atomic_store(&sleeping, 1);
    int r = GORO_BLOCKING(usleep(200 * 1000));
    CHECK(r == 0, "usleep in GORO_BLOCKING returned %d", r);
    atomic_store(&sleeping, 2);
    goro_waitgroup_done(&wg);
}

static void test_handoff(void)
{
    goro_stats before, after;
    goro_read_stats(&before);
    goro_waitgroup_add(&wg, 1);
    CHECK(goro_go(blocking_sleeper, NULL) > 0, "goro_go failed");
    while (atomic_load(&sleeping) == 0)
        goro_yield();
    long during = 0;
    while (atomic_load(&sleeping) == 1) {
        during++;
        goro_yield();
    }
    goro_waitgroup_wait(&wg);
    goro_read_stats(&after);
    long handoffs = (long)(after.syscall_handoffs - before.syscall_handoffs);
    tap_diag("main looped %ld times during the 200 ms call; %ld P hand-offs", during, handoffs);
    CHECK(during > 100, "main ran only %ld loop iterations while another goroutine was in a system call", during);
    CHECK(handoffs >= 1, "no P was retaken from the blocked system call");
    tap_ok("a 200 ms blocking call does not stop GOMAXPROCS=1 (%ld iterations, %ld hand-offs)", during, handoffs);
}

/* ---------------------------------------------------------------- 2 */

enum { NPIPES = 8 };
static int pipes[NPIPES][2];
static atomic_int readers_done;

static void pipe_reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c = 0;
    ssize_t n = GORO_BLOCKING(read(pipes[i][0], &c, 1));
    CHECK(n == 1 && c == 'a' + i, "reader %d: read returned %zd, byte %d", i, n, c);
    atomic_fetch_add(&readers_done, 1);
    goro_waitgroup_done(&wg);
}

static void pipe_writer(void *arg)
{
    (void)arg;
    goro_sleep(20 * MS); /* let the readers block */
    for (int i = 0; i < NPIPES; i++) {
        char c = (char)('a' + i);
        CHECK(write(pipes[i][1], &c, 1) == 1, "write to pipe %d failed", i);
    }
    goro_waitgroup_done(&wg);
}

static void test_many_blocked(void)
{
    for (int i = 0; i < NPIPES; i++)
        CHECK(pipe(pipes[i]) == 0, "pipe failed");
    goro_waitgroup_add(&wg, NPIPES + 1);
    for (int i = 0; i < NPIPES; i++)
        CHECK(goro_go(pipe_reader, (void *)(intptr_t)i) > 0, "goro_go failed");
    CHECK(goro_go(pipe_writer, NULL) > 0, "goro_go failed");
    goro_waitgroup_wait(&wg);
    CHECK(atomic_load(&readers_done) == NPIPES, "%d of %d readers finished", atomic_load(&readers_done), NPIPES);
    for (int i = 0; i < NPIPES; i++) {
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    goro_stats st;
    goro_read_stats(&st);
    tap_ok("%d goroutines blocked in read() at once are released by a ninth (%lld threads)", NPIPES,
           (long long)st.threads);
}

/* ---------------------------------------------------------------- 3 */

static void test_fast_path(void)
{
    long n = SCALE(100000);
    pid_t want = getpid();
    int64_t start = goro_now();
    for (long i = 0; i < n; i++) {
        pid_t got = GORO_BLOCKING(getpid());
        CHECK(got == want, "GORO_BLOCKING(getpid()) returned %d, want %d", got, want);
    }
    int64_t ns = (goro_now() - start) / n;
    tap_diag("GORO_BLOCKING(getpid()): %lld ns per call", (long long)ns);
    CHECK(goro_self() == 1, "the main goroutine is now goroutine %lld", (long long)goro_self());
    tap_ok("%ld short system calls return their values (%lld ns each)", n, (long long)ns);
}

/* ---------------------------------------------------------------- 4 */

static int stw_pipe[2];
static atomic_int stw_state;

static void stw_reader(void *arg)
{
    (void)arg;
    char c;
    atomic_store(&stw_state, 1);
    ssize_t n = GORO_BLOCKING(read(stw_pipe[0], &c, 1));
    CHECK(n == 1, "read returned %zd", n);
    atomic_store(&stw_state, 2);
    goro_yield(); /* runs as a goroutine again */
    goro_waitgroup_done(&wg);
}

static void test_stw_during_syscall(void)
{
    CHECK(pipe(stw_pipe) == 0, "pipe failed");
    goro_waitgroup_add(&wg, 1);
    CHECK(goro_go(stw_reader, NULL) > 0, "goro_go failed");
    while (atomic_load(&stw_state) == 0)
        goro_yield();
    goro_sleep(5 * MS); /* inside read() by now */
    CHECK(goro_maxprocs(2) == 1, "goro_maxprocs(2) did not return 1");
    CHECK(goro_maxprocs(1) == 2, "goro_maxprocs(1) did not return 2");
    CHECK(atomic_load(&stw_state) == 1, "the reader left read() before anything was written");
    CHECK(write(stw_pipe[1], "x", 1) == 1, "write failed");
    goro_waitgroup_wait(&wg);
    CHECK(atomic_load(&stw_state) == 2, "the reader did not finish");
    close(stw_pipe[0]);
    close(stw_pipe[1]);
    tap_ok("goro_maxprocs stops the world while a goroutine is blocked in read(), which then resumes");
}

/* ---------------------------------------------------------------- 5 */

static goro_chan *to_locked, *from_locked;
static atomic_long locked_tid;
static atomic_int locked_moved, others_on_locked_thread;
static atomic_int locked_done;

static void locked_worker(void *arg)
{
    long rounds = (long)(intptr_t)arg;
    goro_lock_os_thread();
    goro_lock_os_thread(); /* nests */
    goro_unlock_os_thread();
    long tid = gettid_now();
    atomic_store(&locked_tid, tid);
    for (long i = 0; i < rounds; i++) {
        int64_t v;
        CHECK(goro_chan_recv(to_locked, &v) == 1, "recv failed");
        if (gettid_now() != tid)
            atomic_store(&locked_moved, 1);
        v++;
        CHECK(goro_chan_send(from_locked, &v) == 0, "send failed");
    }
    atomic_store(&locked_done, 1);
    goro_unlock_os_thread();
    goro_waitgroup_done(&wg);
}

static void bystander(void *arg)
{
    (void)arg;
    while (!atomic_load(&locked_done)) {
        long t = atomic_load(&locked_tid);
        if (t != 0 && gettid_now() == t)
            atomic_store(&others_on_locked_thread, 1);
        goro_yield();
    }
    goro_waitgroup_done(&wg);
}

static void test_locked_thread(void)
{
    long rounds = SCALE(1000);
    to_locked = goro_chan_make(sizeof(int64_t), 0);
    from_locked = goro_chan_make(sizeof(int64_t), 0);
    CHECK(to_locked && from_locked, "goro_chan_make failed");
    goro_waitgroup_add(&wg, 4);
    CHECK(goro_go(locked_worker, (void *)(intptr_t)rounds) > 0, "goro_go failed");
    for (int i = 0; i < 3; i++)
        CHECK(goro_go(bystander, NULL) > 0, "goro_go failed");
    for (long i = 0; i < rounds; i++) {
        int64_t v = i;
        CHECK(goro_chan_send(to_locked, &v) == 0, "send failed");
        CHECK(goro_chan_recv(from_locked, &v) == 1 && v == i + 1, "round %ld: got %lld", i, (long long)v);
        if (gettid_now() == atomic_load(&locked_tid))
            atomic_store(&others_on_locked_thread, 1);
    }
    goro_waitgroup_wait(&wg);
    CHECK(!atomic_load(&locked_moved), "the locked goroutine ran on another thread");
    CHECK(!atomic_load(&others_on_locked_thread), "another goroutine ran on the locked thread");
    goro_chan_free(to_locked);
    goro_chan_free(from_locked);
    tap_ok("a locked goroutine keeps its thread to itself over %ld hand-offs", rounds);
}

/* ---------------------------------------------------------------- 6 */

/* Two goroutines lock their threads at once, so at least one of them is
 * not on m0 (which goro_run returns on, and which is only unlocked). */
static atomic_long exiting_tid[2];
static goro_waitgroup locked_both = GORO_WAITGROUP_INIT;
static goro_chan *release_locked;

static void exit_locked(void *arg)
{
    int i = (int)(intptr_t)arg;
    goro_lock_os_thread();
    atomic_store(&exiting_tid[i], gettid_now());
    goro_waitgroup_done(&locked_both);
    CHECK(goro_chan_recv(release_locked, NULL) == 0, "recv on the closed channel failed");
    goro_waitgroup_done(&wg);
}

static void test_exit_locked(void)
{
    release_locked = goro_chan_make(0, 0);
    CHECK(release_locked, "goro_chan_make failed");
    goro_waitgroup_add(&locked_both, 2);
    goro_waitgroup_add(&wg, 2);
    for (int i = 0; i < 2; i++)
        CHECK(goro_go(exit_locked, (void *)(intptr_t)i) > 0, "goro_go failed");
    goro_waitgroup_wait(&locked_both);
    long t0 = atomic_load(&exiting_tid[0]), t1 = atomic_load(&exiting_tid[1]);
    CHECK(t0 != t1, "two locked goroutines share thread %ld", t0);
    goro_chan_close(release_locked);
    goro_waitgroup_wait(&wg);
    int checked = 0;
    for (int i = 0; i < 2; i++) {
        long tid = atomic_load(&exiting_tid[i]);
        if (tid == getpid())
            continue; /* m0 */
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%ld", tid);
        bool gone = false;
        for (int k = 0; k < 2000 && !gone; k++) {
            gone = access(path, F_OK) != 0;
            if (!gone)
                goro_sleep(1 * MS);
        }
        CHECK(gone, "thread %ld still exists after its locked goroutine exited", tid);
        checked++;
    }
    CHECK(checked >= 1, "both locked goroutines ran on m0");
    goro_chan_free(release_locked);
    tap_ok("two goroutines locked at once get two threads; exiting locked ends the thread (%d checked)", checked);
}

static int test_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int old = goro_maxprocs(1);
    test_handoff();
    test_many_blocked();
    test_fast_path();
    test_stw_during_syscall();
    test_locked_thread();
    test_exit_locked();
    goro_maxprocs(old);
    return 0;
}

/* ---------------------------------------------------------------- children */

static void pipe_reader_forever(void *arg)
{
    int fd = *(int *)arg;
    char c;
    goro_waitgroup_done(&wg);
    ssize_t n = GORO_BLOCKING(read(fd, &c, 1));
    printf("read returned %zd\n", n); /* must never happen */
    fflush(stdout);
}

static void exit_locked_once(void *arg)
{
    goro_lock_os_thread();
    *(int64_t *)arg = gettid_now();
    goro_waitgroup_done(&wg);
}

static int child_main(int argc, char **argv)
{
    const char *mode = argv[1];
    (void)argc;
    if (strcmp(mode, "locked-exit-deadlock") == 0) {
        /* A goroutine exits locked (its thread ends), then main waits
         * forever: the exiting M may be the last to see it. */
        static int64_t tid;
        goro_waitgroup_add(&wg, 1);
        goro_go(exit_locked_once, &tid);
        goro_waitgroup_wait(&wg);
        goro_chan *c = goro_chan_make(0, 0);
        printf("main waits\n");
        fflush(stdout);
        goro_chan_recv(c, NULL);
        return 3;
    }
    if (strcmp(mode, "locked-deadlock") == 0) {
        goro_lock_os_thread();
        goro_chan *c = goro_chan_make(0, 0);
        printf("main waits\n");
        fflush(stdout);
        goro_chan_recv(c, NULL);
        printf("main woke up\n");
        return 3;
    }
    /* abandon: a goroutine stays blocked in read() on a pipe nobody
     * writes. abandon-m0: it is on m0, the thread goro_run returns on
     * (the main goroutine parks and m0 runs it). abandon-other: on
     * another M (the main goroutine keeps m0 busy in a system call). */
    static int fds[2];
    CHECK(pipe(fds) == 0, "pipe failed");
    goro_waitgroup_add(&wg, 1);
    CHECK(goro_go(pipe_reader_forever, &fds[0]) > 0, "goro_go failed");
    if (strcmp(mode, "abandon-other") == 0)
        GORO_BLOCKING(usleep(100 * 1000));
    goro_waitgroup_wait(&wg);
    goro_sleep(50 * MS); /* inside read(), its P retaken */
    printf("main returns\n");
    fflush(stdout);
    return 7;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        int rc = goro_run(child_main, argc, argv);
        printf("goro_run returned %d\n", rc);
        fflush(stdout);
        _exit(rc == 7 ? 0 : 1);
    }
    tap_plan(8);
    int rc = goro_run(test_main, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);

    child_result r;
    const char *deadlocks[] = { "locked-deadlock", "locked-exit-deadlock" };
    bool ok;
    for (int i = 0; i < 2; i++) {
        run_child(deadlocks[i], NULL, -1, 30, &r);
        ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2 &&
             strstr(r.err, "fatal error: all goroutines are asleep - deadlock!");
        if (!ok) {
            child_diag("child stdout", r.out);
            child_diag("child stderr", r.err);
        }
        CHECK(ok, "%s: child ended with %s, want the deadlock error and exit 2", deadlocks[i],
              child_status_str(r.status));
        free(r.out);
        free(r.err);
    }
    tap_ok("deadlocks are reported with a locked main goroutine and after a locked goroutine's thread ended");

    const char *modes[] = { "abandon-m0", "abandon-other" };
    for (int i = 0; i < 2; i++) {
        run_child(modes[i], NULL, -1, 30, &r);
        ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
             strstr(r.out, "goro_run returned 7");
        if (!ok) {
            child_diag("child stdout", r.out);
            child_diag("child stderr", r.err);
        }
        tap_diag("child %s: %s after %.2f s", modes[i], child_status_str(r.status), r.secs);
        CHECK(ok, "%s: main returning with a goroutine blocked in read(): child ended with %s", modes[i],
              child_status_str(r.status));
        free(r.out);
        free(r.err);
    }
    tap_ok("goro_run returns while a goroutine is blocked in a system call forever (on m0, on another M)");
    return 0;
}
