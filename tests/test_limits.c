/*
 * test_limits — the runtime under resource limits, each case in a child
 * process that sets the limit before goro_run.
 *
 *  - Out of descriptors, /proc/self/status cannot be opened, so the
 *    deadlock check cannot count threads: it says so once on stderr and
 *    reports no deadlock (a plain thread wakes the main goroutine later).
 *  - Under an address-space limit of 2,000,000 KiB (ulimit -v 2000000),
 *    5000 goroutines with 16 KiB stacks run (each stack size class used to
 *    reserve a 1 GiB arena up front, so the second class already failed).
 *  - Under an address-space limit too small for the main goroutine's
 *    stack, or for the scheduler's own first allocation, goro_run returns
 *    -ENOMEM (it was a fatal error), and once the limit is lifted goro_run
 *    works again.
 *
 * ASan and TSan reserve terabytes of shadow memory at start, so they
 * cannot run under RLIMIT_AS: those cases are skipped there.
 */
#include "child.h"

#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <malloc.h>
#include <sys/resource.h>

#define MS 1000000ll
#define AS_LIMIT_KIB 2000000ull
#define NGOROUTINES 5000

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {ns / 1000000000, ns % 1000000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ------------------------------------------------ /proc unreadable */

static goro_chan *wake_chan;

static void *late_waker(void *arg)
{
    (void)arg;
    sleep_ns(300 * MS);
    int64_t v = 1;
    while (goro_chan_trysend(wake_chan, &v) == -EAGAIN)
        sleep_ns(MS);
    return NULL;
}

/* Every M goes idle while the main goroutine waits: checkdead runs, and
 * cannot open /proc/self/status. */
static int noproc_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct rlimit rl = {32, 32};
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, late_waker, NULL) == 0, "pthread_create");
    int first = -1, fd;
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        if (first < 0)
            first = fd;
    CHECK(errno == EMFILE, "open: %s, want EMFILE", strerror(errno));
    int64_t v = 0;
    CHECK(goro_chan_recv(wake_chan, &v) == 1 && v == 1, "receive from the plain thread");
    for (fd = first; fd >= 0 && fd < 32; fd++)
        if (fd > 2)
            close(fd);
    pthread_join(t, NULL);
    printf("woken by the plain thread\n");
    fflush(stdout);
    return 0;
}

static void test_noproc(void)
{
    child_result r;
    run_child("noproc", NULL, -1, 30, &r);
    bool ok_exit = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
                   strstr(r.out, "woken by the plain thread");
    const char *warn = strstr(r.err, "goro: warning: cannot count threads in /proc/self/status");
    const char *again = warn ? strstr(warn + 1, "goro: warning: cannot count threads") : NULL;
    if (!ok_exit || !warn || again) {
        child_diag("stdout", r.out);
        child_diag("stderr", r.err);
    }
    CHECK(ok_exit, "child ended with %s%s", child_status_str(r.status), r.timed_out ? " (timed out)" : "");
    CHECK(warn, "no warning on stderr that deadlock detection cannot count threads");
    CHECK(!again, "the warning was printed more than once");
    CHECK(!strstr(r.err, "fatal error"), "a fatal error (deadlock?) without a thread count");
    tap_ok("/proc/self/status unreadable (EMFILE): one warning, no deadlock verdict, the plain thread's wake-up arrives");
    free(r.out);
    free(r.err);
}

/* ------------------------------------------------ address-space limits */

static goro_waitgroup gate = GORO_WAITGROUP_INIT, done = GORO_WAITGROUP_INIT;

static void parked(void *arg)
{
    (void)arg;
    goro_waitgroup_wait(&gate);
    goro_waitgroup_done(&done);
}

static long vm_size_kib(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    const char *v = strstr(buf, "VmSize:");
    return v ? atol(v + 7) : -1;
}

static int arenas_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    goro_waitgroup_add(&gate, 1);
    goro_attr attr = {16 * 1024, "small"};
    for (int i = 0; i < NGOROUTINES; i++) {
        goro_waitgroup_add(&done, 1);
        int64_t id = goro_go_attr(parked, NULL, &attr);
        CHECK(id > 0, "goroutine %d of %d with a 16 KiB stack: goro_go_attr = %lld", i + 1, NGOROUTINES,
              (long long)id);
    }
    long vm = vm_size_kib();
    goro_waitgroup_done(&gate);
    goro_waitgroup_wait(&done);
    printf("%d goroutines ran, VmSize %ld KiB\n", NGOROUTINES, vm);
    fflush(stdout);
    return 0;
}

static void set_as_limit(rlim_t bytes)
{
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_AS, &rl) == 0, "getrlimit");
    rl.rlim_cur = bytes;
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit(RLIMIT_AS, %llu): %s", (unsigned long long)bytes,
          strerror(errno));
}

static int small_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 5;
}

/* A limit a little above what the process maps already: no room for a
 * stack arena (a 256 KiB stack and its guard take 320 KiB). With
 * heap_room, malloc keeps 4 MiB of heap, so that only the stack fails (the
 * main goroutine); without, m0's first allocation fails. */
static int nomem_child(bool heap_room)
{
    if (heap_room) {
        mallopt(M_TRIM_THRESHOLD, 64 << 20);
        mallopt(M_MMAP_THRESHOLD, 64 << 20);
        void *volatile room = malloc(4 << 20); /* volatile: the pair must not be optimised away */
        free(room);
    }
    long vm = vm_size_kib();
    CHECK(vm > 0, "VmSize unreadable");
    set_as_limit((rlim_t)(vm + 128) * 1024);
    int rc = goro_run(small_main, 0, NULL);
    set_as_limit(RLIM_INFINITY);
    printf("goro_run under the limit: %d\n", rc);
    rc = goro_run(small_main, 0, NULL);
    printf("goro_run without it: %d\n", rc);
    fflush(stdout);
    return 0;
}

#ifdef GORO_TEST_SANITIZER
#define SANITIZER_BUILD 1
#else
#define SANITIZER_BUILD 0
#endif
#define NO_RLIMIT_AS "ASan and TSan reserve their shadow memory up front and cannot run under RLIMIT_AS"

static child_result run_limited(const char *mode)
{
    child_result r;
    run_child(mode, NULL, -1, 60, &r);
    bool ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
    if (!ok) {
        child_diag("stdout", r.out);
        child_diag("stderr", r.err);
    }
    CHECK(ok, "%s: child ended with %s%s", mode, child_status_str(r.status), r.timed_out ? " (timed out)" : "");
    return r;
}

static void test_arenas(void)
{
    if (SANITIZER_BUILD) {
        tap_skip(NO_RLIMIT_AS);
        return;
    }
    child_result r = run_limited("arenas");
    char *nl = strchr(r.out, '\n');
    if (nl)
        *nl = 0;
    tap_ok("ulimit -v %llu: %s", AS_LIMIT_KIB, r.out);
    free(r.out);
    free(r.err);
}

static void test_nomem(const char *mode, const char *what)
{
    if (SANITIZER_BUILD) {
        tap_skip(NO_RLIMIT_AS);
        return;
    }
    child_result r = run_limited(mode);
    int under = 0, after = 0;
    const char *a = strstr(r.out, "goro_run under the limit: ");
    const char *b = strstr(r.out, "goro_run without it: ");
    if (a)
        under = atoi(a + strlen("goro_run under the limit: "));
    if (b)
        after = atoi(b + strlen("goro_run without it: "));
    if (under != -ENOMEM || after != 5)
        child_diag("stdout", r.out);
    CHECK(under == -ENOMEM, "%s: goro_run under an address-space limit returned %d, want -ENOMEM", mode, under);
    CHECK(after == 5, "%s: goro_run after the limit was lifted returned %d, want main's 5", mode, after);
    tap_ok("goro_run with no address space for %s: -ENOMEM; with the limit lifted it runs again", what);
    free(r.out);
    free(r.err);
}

static int child(const char *mode, int argc, char **argv)
{
    if (strcmp(mode, "noproc") == 0) {
        wake_chan = goro_chan_make(sizeof(int64_t), 0);
        return goro_run(noproc_main, argc, argv);
    }
    if (strcmp(mode, "arenas") == 0) {
        set_as_limit(AS_LIMIT_KIB * 1024);
        return goro_run(arenas_main, argc, argv);
    }
    if (strcmp(mode, "nomem") == 0 || strcmp(mode, "nomem-heap") == 0)
        return nomem_child(strcmp(mode, "nomem-heap") == 0);
    CHECK(0, "unknown mode %s", mode);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return child(argv[1], argc, argv);
    tap_plan(4);
    test_noproc();
    test_arenas();
    test_nomem("nomem-heap", "the main goroutine's stack");
    test_nomem("nomem", "the scheduler's first allocation");
    return 0;
}
