/*
 * child.h — run this test program again (/proc/self/exe MODE) in a child
 * process and capture its stdout, stderr and exit status. Used by the tests
 * whose expected outcome is a fatal error of the runtime.
 *
 * The child's stdout and stderr go to memfds (no pipe to drain, no
 * deadlock); an optional extra memfd is passed as fd 3 for shared state. A
 * child that outlives its timeout gets SIGQUIT (the runtime's goroutine
 * dump lands in its stderr), then SIGKILL two seconds later.
 */
#ifndef GORO_TEST_CHILD_H
#define GORO_TEST_CHILD_H

#include "check.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

typedef struct child_result {
    int status;       /* waitpid status */
    int timed_out;    /* 1 if the child had to be killed */
    char *out;        /* NUL-terminated captured stdout (malloc'd) */
    char *err;        /* NUL-terminated captured stderr (malloc'd) */
    double secs;      /* how long the child ran */
} child_result;

static char *child_slurp(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        st.st_size = 0;
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return NULL;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = 0;
    return buf;
}

/* Runs "/proc/self/exe MODE". asan_extra, if not NULL, is appended to
 * ASAN_OPTIONS in the child. fd3 >= 0 is passed to the child as fd 3. */
__attribute__((unused)) static void run_child(const char *mode, const char *asan_extra, int fd3,
                                              int timeout_s, child_result *r)
{
    memset(r, 0, sizeof *r);
    int outfd = memfd_create("child-stdout", MFD_CLOEXEC);
    int errfd = memfd_create("child-stderr", MFD_CLOEXEC);
    CHECK(outfd >= 0 && errfd >= 0, "memfd_create: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    int64_t t0 = check_now_ns();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(outfd, STDOUT_FILENO);
        dup2(errfd, STDERR_FILENO);
        if (fd3 >= 0 && fd3 != 3)
            dup2(fd3, 3);
        if (asan_extra) {
            const char *old = getenv("ASAN_OPTIONS");
            char opts[1024];
            snprintf(opts, sizeof opts, "%s%s%s", old ? old : "", old && *old ? ":" : "",
                     asan_extra);
            setenv("ASAN_OPTIONS", opts, 1);
        }
        execl("/proc/self/exe", program_invocation_name, mode, (char *)NULL);
        dprintf(STDERR_FILENO, "exec /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    int status = 0;
    int64_t deadline = t0 + (int64_t)timeout_s * 1000000000;
    int sent_quit = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        CHECK(w == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
        int64_t now = check_now_ns();
        if (now > deadline && !sent_quit) {
            r->timed_out = 1;
            kill(pid, SIGQUIT);
            sent_quit = 1;
            deadline = now + 2000000000;
        } else if (now > deadline) {
            kill(pid, SIGKILL);
            deadline = now + 3600ll * 1000000000;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    r->secs = (double)(check_now_ns() - t0) / 1e9;
    r->status = status;
    r->out = child_slurp(outfd);
    r->err = child_slurp(errfd);
    CHECK(r->out && r->err, "out of memory reading child output");
    close(outfd);
    close(errfd);
}

/* "exit 2", "signal 11 (Segmentation fault)", ... for messages. */
__attribute__((unused)) static const char *child_status_str(int status)
{
    static char buf[96];
    if (WIFEXITED(status))
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, sizeof buf, "status 0x%x", status);
    return buf;
}

/* Prints a captured stream to stderr, which prove shows even without -v
 * (for failure diagnosis). */
__attribute__((unused)) static void child_diag(const char *what, const char *text)
{
    int lines = 0;
    const char *p = text;
    while (p && *p && lines < 60) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        dprintf(STDERR_FILENO, "# %s: %.*s\n", what, len, p);
        lines++;
        p = nl ? nl + 1 : NULL;
    }
}

#endif /* GORO_TEST_CHILD_H */
