/*
 * check.h — the whole test "framework": TAP output for prove, a CHECK that
 * fails loudly, a watchdog, and SCALE for sanitizer builds.
 *
 *   tap_plan(n)              prints "1..n"
 *   tap_ok(fmt, ...)         prints the next "ok N - ..."
 *   tap_skip(reason)         prints the next "ok N # skip reason" (a case this
 *                            build or machine cannot run; prove counts it
 *                            as skipped, not passed)
 *   tap_diag(fmt, ...)       prints "# ..." (measured numbers; shown by prove -v)
 *   CHECK(cond, fmt, ...)    on failure prints "not ok N - file:line: ..." (and
 *                            "# FAILED ..." on stderr, which prove shows without
 *                            -v) and exits 1 (the rest of the plan is then
 *                            missing, which prove also reports)
 *   SCALE(n)                 n, or n/10 (at least 1) with -DGORO_TEST_SANITIZER
 *   SCALE_LIVE(n)            SCALE(n), capped at 2000 under TSan (live fibers)
 *
 * The watchdog is armed before main() runs: alarm(GORO_TEST_TIMEOUT seconds,
 * default 300, overridable by the environment variable of the same name).
 * When it fires it prints "not ok", asks the runtime for a goroutine dump
 * with SIGQUIT if the runtime has a SIGQUIT handler installed, and exits 1
 * (a hang fails, it never blocks CI). A process so stuck that it cannot run
 * a signal handler (a sanitizer runtime deadlocked on its own locks defers
 * signals forever) is killed 30 s later by a watchdog process forked at
 * start, which dies with the test (PR_SET_PDEATHSIG) and keeps only stderr.
 *
 * Everything here may be called from any thread or goroutine.
 */
#ifndef GORO_TEST_CHECK_H
#define GORO_TEST_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef GORO_TEST_SANITIZER
#define SCALE(n) ((n) / 10 >= 1 ? (n) / 10 : 1)
#else
#define SCALE(n) (n)
#endif

/* ThreadSanitizer registers every goroutine's fiber as a thread and dies
 * ("Thread limit (8128 threads) exceeded") beyond 8128 live ones. Tests
 * that keep many goroutines alive at once size them with SCALE_LIVE: SCALE,
 * capped at GORO_TEST_MAX_LIVE under TSan. */
#if defined(__SANITIZE_THREAD__)
#define GORO_TEST_MAX_LIVE 2000L /* and ~900 KB of RSS each */
#else
#define GORO_TEST_MAX_LIVE LONG_MAX
#endif
#define SCALE_LIVE(n) (SCALE(n) < GORO_TEST_MAX_LIVE ? SCALE(n) : GORO_TEST_MAX_LIVE)

#ifndef GORO_TEST_TIMEOUT
#define GORO_TEST_TIMEOUT 300
#endif

static int check_tap_count;     /* atomic: tests reported so far */
static int check_watchdog_fired;

__attribute__((unused)) static void check_vprint(const char *prefix, const char *fmt, va_list ap)
{
    /* One write per line so that lines from several threads never mix. */
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "%s", prefix);
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof buf) {
        int m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n >= sizeof buf - 1)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    fflush(stdout);
    ssize_t off = 0;
    while (off < n) {
        ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
        if (w <= 0)
            break;
        off += w;
    }
}

static inline void tap_plan(int n)
{
    char buf[32];
    int len = snprintf(buf, sizeof buf, "1..%d\n", n);
    fflush(stdout);
    if (write(STDOUT_FILENO, buf, (size_t)len) < 0)
        _exit(1);
}

__attribute__((format(printf, 1, 2))) static inline void tap_ok(const char *fmt, ...)
{
    char prefix[32];
    int n = __atomic_add_fetch(&check_tap_count, 1, __ATOMIC_SEQ_CST);
    snprintf(prefix, sizeof prefix, "ok %d - ", n);
    va_list ap;
    va_start(ap, fmt);
    check_vprint(prefix, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3), unused)) static void check_print(const char *prefix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_vprint(prefix, fmt, ap);
    va_end(ap);
}

/* The reason is printed as is (not a format). */
__attribute__((unused)) static void tap_skip(const char *reason)
{
    char prefix[48];
    int n = __atomic_add_fetch(&check_tap_count, 1, __ATOMIC_SEQ_CST);
    snprintf(prefix, sizeof prefix, "ok %d # skip ", n);
    check_print(prefix, "%s", reason ? reason : "");
}

__attribute__((format(printf, 1, 2))) static inline void tap_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_vprint("# ", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 4, 5), noreturn, unused)) static void
check_fail(const char *file, int line_no, const char *cond, const char *fmt, ...)
{
    char prefix[1024];
    int n = __atomic_load_n(&check_tap_count, __ATOMIC_SEQ_CST) + 1;
    snprintf(prefix, sizeof prefix, "not ok %d - %s:%d: CHECK(%s) failed: ", n, file, line_no, cond);
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    check_vprint(prefix, fmt, ap);
    va_end(ap);
    /* Again on stderr, which prove shows without -v. */
    char line[1200];
    int len = snprintf(line, sizeof line, "# FAILED %s:%d: CHECK(%s): ", file, line_no, cond);
    if (len > 0 && (size_t)len < sizeof line) {
        int m = vsnprintf(line + len, sizeof line - (size_t)len, fmt, ap2);
        if (m > 0)
            len += m;
    }
    va_end(ap2);
    if (len > (int)sizeof line - 2)
        len = (int)sizeof line - 2;
    if (len > 0) {
        line[len++] = '\n';
        fflush(stderr);
        if (write(STDERR_FILENO, line, (size_t)len) < 0) {}
    }
    /* _exit: other threads (Ms) may still run; atexit handlers must not. */
    _exit(1);
}

#define CHECK(cond, ...)                                          \
    do {                                                          \
        if (!(cond))                                              \
            check_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);   \
    } while (0)

/* Wall-clock helpers that never enter the runtime. */
static inline int64_t check_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

__attribute__((unused)) static void check_watchdog_handler(int sig)
{
    (void)sig;
    if (__atomic_exchange_n(&check_watchdog_fired, 1, __ATOMIC_SEQ_CST)) {
        /* Second alarm: the SIGQUIT dump did not end the process. */
        static const char msg[] = "# watchdog: no exit after SIGQUIT dump\n";
        if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) {}
        syscall(SYS_exit_group, 1);
    }
    char buf[160];
    int n = __atomic_load_n(&check_tap_count, __ATOMIC_SEQ_CST) + 1;
    /* snprintf is not async-signal-safe in theory; format by hand. */
    char num[16];
    int k = 0;
    do {
        num[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n && k < 15);
    int len = 0;
    const char *a = "not ok ";
    while (*a)
        buf[len++] = *a++;
    while (k)
        buf[len++] = num[--k];
    const char *b = " - watchdog: test timed out (hang?)\n";
    while (*b)
        buf[len++] = *b++;
    if (write(STDOUT_FILENO, buf, (size_t)len) < 0) {}
    if (write(STDERR_FILENO, buf, (size_t)len) < 0) {}
    /* If the runtime handles SIGQUIT, it prints every goroutine and exits 2. */
    struct sigaction old;
    if (sigaction(SIGQUIT, NULL, &old) == 0 && old.sa_handler != SIG_DFL &&
        old.sa_handler != SIG_IGN) {
        alarm(10);
        kill(getpid(), SIGQUIT);
        return;
    }
    /* The raw system call: a sanitizer's _exit interceptor could block on
     * the very lock a hung process holds. */
    syscall(SYS_exit_group, 1);
}

/* Forked before main: kills the test with SIGKILL if it is still alive
 * secs seconds later. */
static void check_watchdog_process(unsigned secs)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return; /* the test itself (or fork failed: alarm() alone then) */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        syscall(SYS_exit_group, 0);
    /* Do not hold the TAP pipe open: prove waits for its end of file. */
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
    }
    struct timespec ts = {(time_t)secs, 0};
    while (nanosleep(&ts, &ts) != 0)
        ;
    if (getppid() == parent) {
        static const char msg[] = "# watchdog process: test still alive, killing it (SIGKILL)\n";
        if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {}
        kill(parent, SIGKILL);
    }
    syscall(SYS_exit_group, 0);
}

__attribute__((constructor)) static void check_watchdog_arm(void)
{
    unsigned secs = GORO_TEST_TIMEOUT;
    const char *env = getenv("GORO_TEST_TIMEOUT");
    if (env && atoi(env) > 0)
        secs = (unsigned)atoi(env);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = check_watchdog_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(secs);
    check_watchdog_process(secs + 30);
}

#endif /* GORO_TEST_CHECK_H */
