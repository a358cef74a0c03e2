/*
 * test_observe — observability: GODEBUG=schedtrace/scheddetail, SIGQUIT,
 * goro_dump, goro_read_stats and the GOMAXPROCS environment variable.
 *
 * Outside the runtime (before goro_run), children re-executed from this
 * program (/proc/self/exe MODE) are checked:
 *   trace   goroutines busy in goro_yield loops for ~400 ms: with
 *           GODEBUG=schedtrace=50 stderr holds Go's SCHED lines, with P
 *           (the child's GOMAXPROCS) run queue lengths in brackets; with
 *           scheddetail=1 also the P, M and G detail lines;
 *   quit    a goroutine named "sleeper" parks on a waitgroup and the main
 *           goroutine raises SIGQUIT: "SIGQUIT: quit", the goroutine list,
 *           exit status 2;
 *   procs   prints goro_maxprocs(0) and goro_numcpu(): GOMAXPROCS=3 gives
 *           3; GOMAXPROCS unset gives goro_numcpu(), which honours a
 *           1-CPU affinity mask.
 * Then in-process, on goroutines: goro_dump to a memfd shows goroutine 1
 * running and a parked goroutine as [sync.WaitGroup.Wait] with its name,
 * goro_dump(-1) is -EBADF, a plain thread can dump; goro_read_stats is
 * consistent with goro_maxprocs/goro_numgoroutine, counts context switches
 * and stack bytes; before goro_run and after it returned it zeroes the
 * struct.
 */
#include "check.h"
#include "child.h"
#include <goro.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#define TRACE_MS 50
#define BUSY_NS (400 * 1000 * 1000LL) /* how long the trace child keeps goroutines busy */

/* ------------------------------------------------------------ helpers */

/* goro_dump into a memfd, returned as a malloc'd string (NULL on error,
 * *rc gets goro_dump's result). */
static char *dump_to_string(int *rc)
{
    int fd = memfd_create("dump", MFD_CLOEXEC);
    CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
    *rc = goro_dump(fd);
    char *s = child_slurp(fd);
    close(fd);
    CHECK(s != NULL, "out of memory");
    return s;
}

/* Yields until a goro_dump shows want (e.g. "goroutine 5 [sync.WaitGroup.Wait]"),
 * up to 10 s. Returns the last dump (malloc'd). */
static char *await_dump(const char *want)
{
    int64_t t0 = check_now_ns();
    for (;;) {
        int rc;
        char *s = dump_to_string(&rc);
        CHECK(rc == 0, "goro_dump(memfd) = %d", rc);
        if (strstr(s, want) || check_now_ns() - t0 > 10000000000LL)
            return s;
        free(s);
        for (int i = 0; i < 10; i++)
            goro_yield();
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int64_t wg_waiters(goro_waitgroup *wg)
{
    return (int64_t)(uint32_t)__atomic_load_n(&wg->state, __ATOMIC_SEQ_CST);
}

/* ------------------------------------------------------------ children */

static goro_waitgroup busy_wg = GORO_WAITGROUP_INIT;
static goro_waitgroup never = GORO_WAITGROUP_INIT;

static void busy(void *arg)
{
    int64_t until = *(int64_t *)arg;
    volatile unsigned x = 1;
    while (check_now_ns() < until) {
        for (int k = 0; k < 100; k++)
            x = x * 1103515245u + 12345u;
        goro_yield();
    }
    goro_waitgroup_done(&busy_wg);
}

static void sleeper(void *arg)
{
    (void)arg;
    goro_waitgroup_wait(&never);
}

static int child_main(int argc, char **argv)
{
    (void)argc;
    const char *mode = argv[1];
    if (strcmp(mode, "trace") == 0) {
        static int64_t until;
        until = check_now_ns() + BUSY_NS;
        int n = 4;
        goro_waitgroup_add(&busy_wg, n);
        for (int i = 0; i < n; i++)
            CHECK(goro_go(busy, &until) > 0, "goro_go failed");
        goro_waitgroup_wait(&busy_wg);
        printf("procs %d\n", goro_maxprocs(0));
        fflush(stdout);
        return 0;
    }
    if (strcmp(mode, "quit") == 0) {
        goro_waitgroup_add(&never, 1);
        goro_attr attr = {0, "sleeper"};
        int64_t id = goro_go_attr(sleeper, NULL, &attr);
        CHECK(id > 1, "goro_go_attr = %lld", (long long)id);
        char want[64];
        snprintf(want, sizeof want, "goroutine %lld [sync.WaitGroup.Wait]", (long long)id);
        char *d = await_dump(want);
        printf("sleeper %lld %s\n", (long long)id, strstr(d, want) ? "parked" : "not-parked");
        free(d);
        fflush(stdout);
        raise(SIGQUIT);
        /* The handler exits; give a delivered-late signal a moment. */
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        printf("survived SIGQUIT\n");
        fflush(stdout);
        return 3;
    }
    if (strcmp(mode, "procs") == 0) {
        goro_stats st;
        goro_read_stats(&st);
        printf("maxprocs %d numcpu %d stats_procs %lld\n", goro_maxprocs(0), goro_numcpu(),
               (long long)st.procs);
        fflush(stdout);
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 4;
}

static void fail_child(const char *what, child_result *r)
{
    tap_diag("%s: child %s after %.2f s", what, child_status_str(r->status), r->secs);
    child_diag("child stdout", r->out);
    child_diag("child stderr", r->err);
}

/* Sets (val != NULL) or unsets an environment variable for the children;
 * returns the previous value (malloc'd or NULL). */
static char *swap_env(const char *name, const char *val)
{
    const char *old = getenv(name);
    char *saved = old ? strdup(old) : NULL;
    if (val)
        setenv(name, val, 1);
    else
        unsetenv(name);
    return saved;
}

static void restore_env(const char *name, char *saved)
{
    if (saved)
        setenv(name, saved, 1);
    else
        unsetenv(name);
    free(saved);
}

/* Checks one "SCHED ..." line (without the newline); returns its ms. */
static long long check_sched_line(const char *line, int procs)
{
    long long ms;
    int gmp, idlep, threads, spinning, needsp, idlet, runq, pos = -1;
    int n = sscanf(line,
                   "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
                   "needspinning=%d idlethreads=%d runqueue=%d [%n",
                   &ms, &gmp, &idlep, &threads, &spinning, &needsp, &idlet, &runq, &pos);
    CHECK(n == 8 && pos > 0, "malformed SCHED line: '%s'", line);
    CHECK(ms >= 0, "negative time: '%s'", line);
    CHECK(gmp == procs, "gomaxprocs=%d, want %d: '%s'", gmp, procs, line);
    CHECK(idlep >= 0 && idlep <= procs, "idleprocs=%d out of [0,%d]: '%s'", idlep, procs, line);
    CHECK(threads >= 1, "threads=%d: '%s'", threads, line);
    CHECK(spinning >= 0 && spinning <= threads, "spinningthreads=%d: '%s'", spinning, line);
    CHECK(needsp == 0 || needsp == 1, "needspinning=%d: '%s'", needsp, line);
    CHECK(idlet >= 0 && idlet <= threads, "idlethreads=%d of %d threads: '%s'", idlet, threads,
          line);
    CHECK(runq >= 0, "runqueue=%d: '%s'", runq, line);
    /* Exactly procs non-negative numbers separated by single spaces, then ']'. */
    const char *p = line + pos;
    int count = 0;
    while (*p != ']') {
        if (count > 0) {
            CHECK(*p == ' ', "bad separator in run queue list: '%s'", line);
            p++;
        }
        CHECK(*p >= '0' && *p <= '9', "bad run queue list: '%s'", line);
        while (*p >= '0' && *p <= '9')
            p++;
        count++;
        CHECK(count <= procs, "more than %d run queue lengths: '%s'", procs, line);
    }
    CHECK(count == procs, "%d run queue lengths, want %d: '%s'", count, procs, line);
    CHECK(p[1] == 0, "text after ']': '%s'", line);
    return ms;
}

static int child_procs(const child_result *r)
{
    int procs = -1;
    const char *p = strstr(r->out, "procs ");
    if (p)
        sscanf(p, "procs %d", &procs);
    return procs;
}

static void test_schedtrace(void)
{
    char *saved = swap_env("GODEBUG", "schedtrace=50");
    child_result r;
    run_child("trace", NULL, -1, 60, &r);
    restore_env("GODEBUG", saved);
    bool ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
    if (!ok)
        fail_child("schedtrace", &r);
    CHECK(ok, "schedtrace child ended with %s%s", child_status_str(r.status),
          r.timed_out ? " (timed out)" : "");
    int procs = child_procs(&r);
    CHECK(procs >= 1, "child did not print its GOMAXPROCS");
    const char *env = getenv("GOMAXPROCS");
    if (env && atoi(env) > 0)
        CHECK(procs == atoi(env), "child's GOMAXPROCS %d, environment says %s", procs, env);

    int lines = 0;
    long long first = -1, last = -1;
    char *p = r.err;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        if (strncmp(p, "SCHED ", 6) == 0) {
            long long ms = check_sched_line(p, procs);
            if (lines == 0)
                tap_diag("first: %s", p);
            CHECK(ms >= last, "SCHED times go backwards: %lld after %lld", ms, last);
            if (first < 0)
                first = ms;
            last = ms;
            lines++;
        } else if (*p) {
            fail_child("schedtrace", &r);
            CHECK(0, "unexpected stderr line with schedtrace: '%s'", p);
        }
        p = nl ? nl + 1 : NULL;
    }
    tap_diag("%d SCHED lines from %lld ms to %lld ms in %.2f s", lines, first, last, r.secs);
    CHECK(lines >= 3, "only %d SCHED lines in a %.2f s run with schedtrace=%d", lines, r.secs,
          TRACE_MS);
    /* Not every sysmon tick: at most one line per 50 ms of the child's life. */
    int max_lines = (int)(r.secs * 1000 / TRACE_MS) + 2;
    CHECK(lines <= max_lines, "%d SCHED lines in %.2f s: more than one per %d ms", lines, r.secs,
          TRACE_MS);
    CHECK(last - first >= (long long)(lines - 1) * TRACE_MS * 8 / 10,
          "%d lines within %lld ms: interval shorter than %d ms", lines, last - first, TRACE_MS);
    free(r.out);
    free(r.err);
    tap_ok("schedtrace=%d: %d well-formed SCHED lines with %d run queue lengths", TRACE_MS, lines,
           procs);
}

static void test_scheddetail(void)
{
    char *saved = swap_env("GODEBUG", "schedtrace=50,scheddetail=1");
    child_result r;
    run_child("trace", NULL, -1, 60, &r);
    restore_env("GODEBUG", saved);
    bool ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
    int procs = child_procs(&r);
    char lastp[32];
    snprintf(lastp, sizeof lastp, "\n  P%d: status=", procs - 1);
    char toomanyp[32];
    snprintf(toomanyp, sizeof toomanyp, "\n  P%d: status=", procs);
    bool ok_sched = strncmp(r.err, "SCHED ", 6) == 0 || strstr(r.err, "\nSCHED ") != NULL;
    bool ok_p = strstr(r.err, "\n  P0: status=") != NULL && strstr(r.err, lastp) != NULL &&
                strstr(r.err, toomanyp) == NULL;
    bool ok_m = strstr(r.err, "\n  M0: p=") != NULL;
    bool ok_g = strstr(r.err, "\n  G1: status=") != NULL;
    if (!ok || !ok_sched || !ok_p || !ok_m || !ok_g || procs < 1)
        fail_child("scheddetail", &r);
    CHECK(ok, "scheddetail child ended with %s", child_status_str(r.status));
    CHECK(procs >= 1, "child did not print its GOMAXPROCS");
    CHECK(ok_sched, "no SCHED line with scheddetail=1");
    CHECK(ok_p, "P lines: want '  P0: status=' .. '  P%d: status=' and no P%d", procs - 1, procs);
    CHECK(ok_m, "no '  M0: p=' line");
    CHECK(ok_g, "no '  G1: status=' line");
    free(r.out);
    free(r.err);
    tap_ok("scheddetail=1: SCHED, P0..P%d, M0 and G1 detail lines", procs - 1);
}

static void test_sigquit(void)
{
    child_result r;
    run_child("quit", NULL, -1, 60, &r);
    long long id = 0;
    char state[32] = "";
    const char *s = strstr(r.out, "sleeper ");
    if (s)
        sscanf(s, "sleeper %lld %31s", &id, state);
    char want_g[64], want_wait[80];
    snprintf(want_g, sizeof want_g, "goroutine %lld [", id);
    snprintf(want_wait, sizeof want_wait, "goroutine %lld [sync.WaitGroup.Wait]", id);
    bool ok_exit = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2;
    bool ok_quit = strstr(r.err, "SIGQUIT: quit") != NULL;
    bool ok_g1 = strstr(r.err, "goroutine 1 [") != NULL;
    bool ok_name = strstr(r.err, "name: sleeper") != NULL;
    bool ok_sleeper = id > 1 && strstr(r.err, want_wait) != NULL;
    if (!ok_exit || !ok_quit || !ok_g1 || !ok_name || !ok_sleeper)
        fail_child("sigquit", &r);
    CHECK(id > 1, "child did not report the sleeper's goid");
    CHECK(strcmp(state, "parked") == 0, "the sleeper never showed as [sync.WaitGroup.Wait] in goro_dump");
    CHECK(strstr(r.out, "survived SIGQUIT") == NULL, "the child survived SIGQUIT");
    CHECK(ok_exit, "child ended with %s, want exit 2", child_status_str(r.status));
    CHECK(ok_quit, "stderr lacks 'SIGQUIT: quit'");
    CHECK(ok_g1, "stderr lacks 'goroutine 1 ['");
    CHECK(ok_name, "stderr lacks 'name: sleeper'");
    CHECK(ok_sleeper, "stderr lacks '%s'", want_wait);
    free(r.out);
    free(r.err);
    tap_ok("SIGQUIT: 'SIGQUIT: quit', goroutine 1 and the parked sleeper (%lld) listed, exit 2", id);
}

/* Runs the procs child and returns what it reported. */
static void procs_child(const char *what, int *maxprocs, int *numcpu)
{
    child_result r;
    run_child("procs", NULL, -1, 60, &r);
    long long stp = -1;
    *maxprocs = *numcpu = -1;
    const char *s = strstr(r.out, "maxprocs ");
    if (s)
        sscanf(s, "maxprocs %d numcpu %d stats_procs %lld", maxprocs, numcpu, &stp);
    bool ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && s;
    if (!ok)
        fail_child(what, &r);
    CHECK(ok, "%s: child ended with %s", what, child_status_str(r.status));
    CHECK(stp == *maxprocs, "%s: goro_stats.procs %lld != goro_maxprocs(0) %d", what, stp,
          *maxprocs);
    tap_diag("%s: maxprocs %d numcpu %d", what, *maxprocs, *numcpu);
    free(r.out);
    free(r.err);
}

static void test_gomaxprocs_env(void)
{
    int mp, nc;
    char *saved = swap_env("GOMAXPROCS", "3");
    procs_child("GOMAXPROCS=3", &mp, &nc);
    CHECK(mp == 3, "GOMAXPROCS=3: goro_maxprocs(0) = %d", mp);
    tap_ok("GOMAXPROCS=3: goro_maxprocs(0) = 3");

    unsetenv("GOMAXPROCS");
    cpu_set_t mask;
    CHECK(sched_getaffinity(0, sizeof mask, &mask) == 0, "sched_getaffinity: %s", strerror(errno));
    int ncpu = CPU_COUNT(&mask);
    procs_child("GOMAXPROCS unset", &mp, &nc);
    CHECK(mp == nc, "GOMAXPROCS unset: goro_maxprocs(0) = %d, goro_numcpu() = %d", mp, nc);
    CHECK(nc >= 1 && nc <= ncpu, "goro_numcpu() = %d with %d CPUs in the affinity mask", nc, ncpu);

    /* One CPU in the affinity mask (inherited through fork and exec). */
    int cpu = -1;
    for (int i = 0; i < CPU_SETSIZE && cpu < 0; i++)
        if (CPU_ISSET(i, &mask))
            cpu = i;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0, "sched_setaffinity: %s", strerror(errno));
    int mp1, nc1;
    procs_child("GOMAXPROCS unset, affinity 1 CPU", &mp1, &nc1);
    CHECK(sched_setaffinity(0, sizeof mask, &mask) == 0, "sched_setaffinity (restore): %s",
          strerror(errno));
    restore_env("GOMAXPROCS", saved);
    CHECK(nc1 == 1, "affinity of 1 CPU: goro_numcpu() = %d", nc1);
    CHECK(mp1 == 1, "affinity of 1 CPU, GOMAXPROCS unset: goro_maxprocs(0) = %d", mp1);
    tap_ok("GOMAXPROCS unset: goro_maxprocs(0) = goro_numcpu() = %d (%d CPUs in the mask); "
           "with a 1-CPU affinity mask: 1",
           nc, ncpu);
}

/* ------------------------------------------------------------ in-process */

static goro_waitgroup dump_wg = GORO_WAITGROUP_INIT;  /* the dumpee parks here */
static goro_waitgroup dump_end = GORO_WAITGROUP_INIT; /* done when the dumpee ends */
static atomic_int dumpee_woke;

static void dumpee(void *arg)
{
    (void)arg;
    goro_waitgroup_wait(&dump_wg);
    atomic_store(&dumpee_woke, 1);
    goro_waitgroup_done(&dump_end);
}

static void *plain_dump(void *arg)
{
    int *rc = arg;
    char *s = dump_to_string(&rc[0]);
    rc[1] = strstr(s, "goroutine 1 [") != NULL;
    free(s);
    return NULL;
}

static void test_dump(void)
{
    goro_waitgroup_add(&dump_wg, 1);
    goro_waitgroup_add(&dump_end, 1);
    goro_attr attr = {0, "dumpee"};
    int64_t id = goro_go_attr(dumpee, NULL, &attr);
    CHECK(id > 1, "goro_go_attr = %lld", (long long)id);
    char want[64];
    snprintf(want, sizeof want, "goroutine %lld [sync.WaitGroup.Wait]:", (long long)id);
    char *d = await_dump(want);
    bool ok_g1 = strstr(d, "goroutine 1 [running]:") != NULL;
    bool ok_w = strstr(d, want) != NULL;
    bool ok_name = strstr(d, "\tname: dumpee\n") != NULL;
    if (!ok_g1 || !ok_w || !ok_name)
        child_diag("goro_dump", d);
    CHECK(ok_g1, "dump lacks 'goroutine 1 [running]:'");
    CHECK(ok_w, "dump lacks '%s' (after 10 s)", want);
    CHECK(ok_name, "dump lacks 'name: dumpee'");
    /* A parked goroutine's block has a backtrace: at least two frame lines
     * ("\t<symbol or module>+0x...") between its name and its creator. */
    const char *blk = strstr(d, "\tname: dumpee\n");
    const char *end = blk ? strstr(blk, "created by goroutine") : NULL;
    int frames = 0;
    for (const char *p = blk; p && end && (p = strstr(p + 1, "+0x")) && p < end;)
        frames++;
    CHECK(frames >= 2, "the parked goroutine's dump shows %d backtrace frames", frames);
    CHECK(wg_waiters(&dump_wg) == 1, "waitgroup has %lld waiters", (long long)wg_waiters(&dump_wg));
    free(d);

    goro_waitgroup_done(&dump_wg);
    goro_waitgroup_wait(&dump_end);
    CHECK(atomic_load(&dumpee_woke) == 1, "dumpee did not wake");
    /* Once it has exited it is no longer listed. */
    snprintf(want, sizeof want, "goroutine %lld [", (long long)id);
    int64_t t0 = check_now_ns();
    int rc;
    for (;;) {
        d = dump_to_string(&rc);
        CHECK(rc == 0, "goro_dump = %d", rc);
        if (!strstr(d, want))
            break;
        CHECK(check_now_ns() - t0 < 10000000000LL, "goroutine %lld still in the dump 10 s after it ended",
              (long long)id);
        free(d);
        goro_yield();
    }
    free(d);
    tap_ok("goro_dump: goroutine 1 [running], goroutine %lld [sync.WaitGroup.Wait] named dumpee, "
           "gone after it exits",
           (long long)id);

    CHECK(goro_dump(-1) == -EBADF, "goro_dump(-1) = %d", goro_dump(-1));
    int fd = memfd_create("closed", MFD_CLOEXEC);
    CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
    close(fd);
    CHECK(goro_dump(fd) == -EBADF, "goro_dump(closed fd) = %d", goro_dump(fd));
    int prc[2] = {-1, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, plain_dump, prc) == 0, "pthread_create");
    pthread_join(t, NULL);
    CHECK(prc[0] == 0, "goro_dump from a plain thread = %d", prc[0]);
    CHECK(prc[1], "goro_dump from a plain thread lacks goroutine 1");
    tap_ok("goro_dump(-1) and a closed fd: -EBADF; from a plain thread: lists goroutine 1");
}

static goro_waitgroup hold = GORO_WAITGROUP_INIT;
static goro_waitgroup held = GORO_WAITGROUP_INIT;
static goro_waitgroup yielded = GORO_WAITGROUP_INIT;

static void holder(void *arg)
{
    (void)arg;
    goro_waitgroup_wait(&hold);
    goro_waitgroup_done(&held);
}

static void yielder(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++)
        goro_yield();
    goro_waitgroup_done(&yielded);
}

static void test_stats(void)
{
    enum { NHOLD = 5 };
    goro_waitgroup_add(&hold, 1);
    goro_waitgroup_add(&held, NHOLD);
    for (int i = 0; i < NHOLD; i++)
        CHECK(goro_go(holder, NULL) > 0, "goro_go failed");
    /* Wait until the holders are parked and earlier goroutines gone. */
    int64_t t0 = check_now_ns();
    while (wg_waiters(&hold) != NHOLD || goro_numgoroutine() != 1 + NHOLD) {
        CHECK(check_now_ns() - t0 < 10000000000LL, "after 10 s: %lld waiters, %d goroutines",
              (long long)wg_waiters(&hold), goro_numgoroutine());
        goro_yield();
    }
    goro_stats st;
    memset(&st, 0xa5, sizeof st);
    goro_read_stats(&st);
    int procs = goro_maxprocs(0);
    int ng = goro_numgoroutine();
    tap_diag("stats: goroutines %lld threads %lld idle_threads %lld spinning %lld procs %lld "
             "idle_procs %lld global_runq %lld ctxsw %lld steals %lld preempt %lld handoffs %lld "
             "stack reserved %lld committed %lld",
             (long long)st.goroutines, (long long)st.threads, (long long)st.idle_threads,
             (long long)st.spinning_threads, (long long)st.procs, (long long)st.idle_procs,
             (long long)st.global_runq, (long long)st.context_switches, (long long)st.steals,
             (long long)st.preemptions, (long long)st.syscall_handoffs,
             (long long)st.stack_bytes_reserved, (long long)st.stack_bytes_committed);
    CHECK(st.procs == procs, "stats.procs %lld != goro_maxprocs(0) %d", (long long)st.procs, procs);
    CHECK(st.goroutines == ng && ng == 1 + NHOLD, "stats.goroutines %lld, goro_numgoroutine() %d, want %d",
          (long long)st.goroutines, ng, 1 + NHOLD);
    CHECK(st.threads >= 1, "stats.threads %lld", (long long)st.threads);
    CHECK(st.idle_threads >= 0 && st.idle_threads < st.threads,
          "stats.idle_threads %lld of %lld threads (this one runs)", (long long)st.idle_threads,
          (long long)st.threads);
    CHECK(st.spinning_threads >= 0 && st.spinning_threads <= st.threads, "stats.spinning_threads %lld",
          (long long)st.spinning_threads);
    CHECK(st.idle_procs >= 0 && st.idle_procs < st.procs,
          "stats.idle_procs %lld of %lld (this P runs)", (long long)st.idle_procs, (long long)st.procs);
    CHECK(st.global_runq >= 0, "stats.global_runq %lld", (long long)st.global_runq);
    CHECK(st.context_switches > 0, "stats.context_switches %lld", (long long)st.context_switches);
    CHECK(st.steals >= 0 && st.preemptions >= 0 && st.syscall_handoffs >= 0,
          "negative counters: steals %lld preemptions %lld handoffs %lld", (long long)st.steals,
          (long long)st.preemptions, (long long)st.syscall_handoffs);
    CHECK(st.stack_bytes_committed > 0, "stats.stack_bytes_committed %lld",
          (long long)st.stack_bytes_committed);
    CHECK(st.stack_bytes_reserved >= st.stack_bytes_committed,
          "stats.stack_bytes_reserved %lld < committed %lld", (long long)st.stack_bytes_reserved,
          (long long)st.stack_bytes_committed);
    CHECK(st.stack_bytes_reserved >= (int64_t)(1 + NHOLD) * 16384,
          "stats.stack_bytes_reserved %lld for %d live goroutines", (long long)st.stack_bytes_reserved,
          1 + NHOLD);
    tap_ok("goro_read_stats: procs %lld, goroutines %lld, threads %lld, stacks %lld reserved >= "
           "%lld committed",
           (long long)st.procs, (long long)st.goroutines, (long long)st.threads,
           (long long)st.stack_bytes_reserved, (long long)st.stack_bytes_committed);

    /* Context switches: 1000 goro_yield calls by this goroutine (each one
     * runs a G again) with a second goroutine yielding too. */
    long n = SCALE(1000) < 200 ? 200 : SCALE(1000);
    goro_waitgroup_add(&yielded, 1);
    CHECK(goro_go(yielder, (void *)(intptr_t)n) > 0, "goro_go failed");
    for (long i = 0; i < n; i++)
        goro_yield();
    goro_waitgroup_wait(&yielded);
    goro_stats st2;
    goro_read_stats(&st2);
    int64_t d = st2.context_switches - st.context_switches;
    tap_diag("context switches: %lld -> %lld (+%lld) over %ld + %ld yields",
             (long long)st.context_switches, (long long)st2.context_switches, (long long)d, n, n);
    CHECK(d >= n, "context_switches grew by %lld over %ld goro_yield calls", (long long)d, n);
    CHECK(d < 100 * n + 100000, "context_switches grew by %lld over %ld goro_yield calls",
          (long long)d, n);

    goro_waitgroup_done(&hold);
    goro_waitgroup_wait(&held);
    tap_ok("context_switches grew by %lld over %ld goro_yield calls", (long long)d, n);
}

static int observe_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    CHECK(goro_self() == 1, "main goroutine goid %lld", (long long)goro_self());
    test_dump();
    test_stats();
    return 7;
}

static void check_zero_stats(const char *when)
{
    goro_stats st;
    memset(&st, 0x5a, sizeof st);
    goro_read_stats(&st);
    goro_stats zero;
    memset(&zero, 0, sizeof zero);
    CHECK(memcmp(&st, &zero, sizeof st) == 0, "goro_read_stats %s: struct not zeroed (procs %lld, threads %lld)",
          when, (long long)st.procs, (long long)st.threads);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return goro_run(child_main, argc, argv);
    tap_plan(11);
    check_zero_stats("before goro_run");
    tap_ok("goro_read_stats before goro_run zeroes the struct");
    test_schedtrace();
    test_scheddetail();
    test_sigquit();
    test_gomaxprocs_env();
    int rc = goro_run(observe_main, argc, argv);
    CHECK(rc == 7, "goro_run returned %d", rc);
    check_zero_stats("after goro_run returned");
    tap_ok("goro_read_stats after goro_run returned zeroes the struct");
    return 0;
}
