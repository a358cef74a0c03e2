/*
 * test_signals — signal handlers the program installed itself. goro uses
 * SIGURG to interrupt a system call (kick_syscall); a SIGURG that goro did
 * not send goes to the program's handler, with its flags, and goro's kick
 * works whatever those flags are. Each case runs in a child process.
 *
 *  - handler: an SA_SIGINFO handler installed before goro_run gets the
 *    SIGURGs the program sends (pthread_kill, kill) with their siginfo; it
 *    used to be replaced silently.
 *  - restart: an SA_RESTART handler installed between two goro_runs. The
 *    main goroutine returns while m0 is blocked in GORO_BLOCKING(read());
 *    goro_run must return, so the kicks must interrupt the read (with the
 *    program's handler in place and SA_RESTART they restarted it and
 *    goro_run never returned). The kicks never reach the program's handler,
 *    a SIGURG sent afterwards does.
 *  - resethand: an SA_RESETHAND handler runs once, then SIGURG's default
 *    (ignore) applies.
 *  - quit: a SIGQUIT handler installed before goro_run is left in place
 *    (goro's dump-and-exit replaced it).
 */
#include "child.h"

#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define MS 1000000ll

static atomic_int urg_calls;
static atomic_int urg_code = 12345;
static atomic_int quit_calls;

static void urg_info_handler(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)ctx;
    atomic_store(&urg_code, info->si_code);
    atomic_fetch_add(&urg_calls, 1);
}

static void urg_plain_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&urg_calls, 1);
}

static void quit_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&quit_calls, 1);
}

static void install(int sig, void (*fn)(int), void (*info_fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    if (info_fn)
        sa.sa_sigaction = info_fn;
    else
        sa.sa_handler = fn;
    sa.sa_flags = flags | (info_fn ? SA_SIGINFO : 0);
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction: %s", strerror(errno));
}

/* Waits up to 5 s for the handler count to reach n. */
static bool await_calls(int n)
{
    int64_t t0 = check_now_ns();
    while (atomic_load(&urg_calls) < n && check_now_ns() - t0 < 5000 * MS)
        goro_sleep(MS);
    return atomic_load(&urg_calls) >= n;
}

/* ------------------------------------------------ handler */

static int handler_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    pthread_kill(pthread_self(), SIGURG);
    CHECK(await_calls(1), "pthread_kill(SIGURG) did not reach the program's handler");
    int code = atomic_load(&urg_code);
    kill(getpid(), SIGURG);
    CHECK(await_calls(2), "kill(SIGURG) did not reach the program's handler");
    printf("program handler: %d calls, si_code of pthread_kill %s\n", atomic_load(&urg_calls),
           code == SI_TKILL ? "SI_TKILL" : "wrong");
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------ restart */

static pthread_t m0_thread;
static int block_pipe[2];
static atomic_int m0_blocked;

/* Blocks m0 in a read that never completes; elsewhere does nothing. */
static void reader(void *arg)
{
    (void)arg;
    if (!pthread_equal(pthread_self(), m0_thread) || atomic_exchange(&m0_blocked, 1))
        return;
    char c;
    GORO_BLOCKING(read(block_pipe[0], &c, 1));
}

/* Returns while m0 is (about to be) in the read. */
static int restart_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int64_t t0 = check_now_ns();
    while (!atomic_load(&m0_blocked)) {
        CHECK(check_now_ns() - t0 < 10000 * MS, "no reader goroutine ran on m0");
        CHECK(goro_go(reader, NULL) > 0, "goro_go(reader)");
        goro_sleep(MS);
    }
    goro_sleep(20 * MS); /* m0 is in the kernel by now; sysmon has handed its P off */
    return 3;
}

static int first_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int restart_child(void)
{
    CHECK(goro_run(first_main, 0, NULL) == 0, "first goro_run");
    install(SIGURG, urg_plain_handler, NULL, SA_RESTART);
    CHECK(pipe(block_pipe) == 0, "pipe");
    m0_thread = pthread_self();
    int rc = goro_run(restart_main, 0, NULL);
    CHECK(rc == 3, "second goro_run returned %d", rc);
    int during = atomic_load(&urg_calls);
    raise(SIGURG);
    printf("goro_run returned; program handler: %d calls during the run, %d after raise\n", during,
           atomic_load(&urg_calls));
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------ resethand */

static int resethand_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    raise(SIGURG);
    raise(SIGURG);
    raise(SIGURG);
    goro_sleep(10 * MS);
    printf("one-shot handler: %d calls\n", atomic_load(&urg_calls));
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------ quit */

static int quit_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    raise(SIGQUIT);
    printf("program SIGQUIT handler: %d calls\n", atomic_load(&quit_calls));
    fflush(stdout);
    return 0;
}

static int child(const char *mode)
{
    if (strcmp(mode, "handler") == 0) {
        install(SIGURG, NULL, urg_info_handler, SA_RESTART);
        return goro_run(handler_main, 0, NULL);
    }
    if (strcmp(mode, "restart") == 0)
        return restart_child();
    if (strcmp(mode, "resethand") == 0) {
        install(SIGURG, urg_plain_handler, NULL, SA_RESETHAND);
        return goro_run(resethand_main, 0, NULL);
    }
    if (strcmp(mode, "quit") == 0) {
        install(SIGQUIT, quit_handler, NULL, 0);
        return goro_run(quit_main, 0, NULL);
    }
    CHECK(0, "unknown mode %s", mode);
    return 1;
}

static void check_child(const char *mode, const char *want, const char *what)
{
    child_result r;
    run_child(mode, NULL, -1, 20, &r);
    bool ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && strstr(r.out, want);
    if (!ok) {
        child_diag("stdout", r.out);
        child_diag("stderr", r.err);
    }
    CHECK(ok, "%s: child ended with %s%s; want '%s' on stdout", mode, child_status_str(r.status),
          r.timed_out ? " (timed out: goro_run never returned?)" : "", want);
    tap_ok("%s: %s", mode, what);
    free(r.out);
    free(r.err);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return child(argv[1]);
    tap_plan(4);
    check_child("handler", "program handler: 2 calls, si_code of pthread_kill SI_TKILL",
                "the program's SA_SIGINFO SIGURG handler gets pthread_kill's and kill's SIGURG");
    check_child("restart", "goro_run returned; program handler: 0 calls during the run, 1 after raise",
                "with the program's SA_RESTART SIGURG handler, goro's kick still ends m0's read; "
                "the kicks never reach the program's handler");
    check_child("resethand", "one-shot handler: 1 calls", "an SA_RESETHAND SIGURG handler runs once");
    check_child("quit", "program SIGQUIT handler: 1 calls", "a SIGQUIT handler installed before goro_run is kept");
    return 0;
}
