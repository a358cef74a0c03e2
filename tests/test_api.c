/*
 * test_api — misuse and lifecycle of the public API (include/goro.h).
 *
 * Before the runtime: goro_self() is 0, goro_numcpu() >= 1, goro_go is
 * refused. In a first goro_run: goid 1 for main, -EINVAL for a NULL fn,
 * -EBUSY for a nested goro_run, waitgroup counters never go negative,
 * goro_exit ends a goroutine early, goro_go_attr honours name and
 * stack_size, a plain pthread may call goro_go (the goroutine runs) and the
 * non-blocking functions but gets -EPERM from goro_maxprocs(n >= 1), and
 * goro_yield / goro_preempt_point are harmless everywhere. goro_run returns
 * main's value even with goroutines left parked or runnable, none of which
 * runs afterwards, and can be called again: a fresh runtime, goid 1 again.
 */
#include "check.h"

#include <errno.h>
#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#define MS 1000000ll

static int other_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 99;
}

static void nop(void *arg)
{
    (void)arg;
}

/* Polls cond with goro_yield for up to 10 s. */
#define WAIT_FOR(cond, ...)                                                        \
    do {                                                                           \
        int64_t wf_t0_ = check_now_ns();                                           \
        while (!(cond)) {                                                          \
            CHECK(check_now_ns() - wf_t0_ < 10000 * MS, __VA_ARGS__);              \
            goro_yield();                                                          \
        }                                                                          \
    } while (0)

/* ---------------------------------------------------------------- exit */
static goro_waitgroup exit_wg = GORO_WAITGROUP_INIT;
static atomic_int exit_before, exit_after, exit_deferred;
static volatile int exit_for_real = 1;

static __attribute__((noinline)) void exit_deep(int depth)
{
    if (depth > 0) {
        exit_deep(depth - 1);
        atomic_store(&exit_deferred, 1); /* work after the call: never runs */
        return;
    }
    goro_waitgroup_done(&exit_wg);
    if (exit_for_real) /* volatile: keeps gcc from calling this infinite recursion */
        goro_exit();
}

static void exiter(void *arg)
{
    (void)arg;
    atomic_store(&exit_before, 1);
    exit_deep(3);
    atomic_store(&exit_after, 1);
}

/* ---------------------------------------------------------------- attr */
static goro_waitgroup attr_wg = GORO_WAITGROUP_INIT;
static goro_waitgroup attr_gate = GORO_WAITGROUP_INIT;
static atomic_long attr_used;
static atomic_int attr_parked;
static char attr_text[64];

static __attribute__((noinline)) long use_stack(int depth, uintptr_t top)
{
    volatile char buf[1024];
    for (size_t i = 0; i < sizeof buf; i += 64)
        buf[i] = (char)depth;
    long used = (long)(top - (uintptr_t)&buf[0]);
    if (used < 40 * 1024)
        return use_stack(depth + 1, top) + buf[depth % 64];
    return used + buf[0];
}

static void attr_worker(void *arg)
{
    (void)arg;
    volatile char here = 0;
    long used = use_stack(0, (uintptr_t)&here);
    atomic_store(&attr_used, used);
    snprintf(attr_text, sizeof attr_text, "goid %lld used %ld", (long long)goro_self(), used);
    atomic_store(&attr_parked, 1);
    goro_waitgroup_wait(&attr_gate);
    goro_waitgroup_done(&attr_wg);
}

static void small_stack_worker(void *arg)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s %d %f %p", "small stack", 42, 3.25, arg);
    CHECK(strncmp(buf, "small stack 42 3.250000 ", 24) == 0, "snprintf on a small stack: %s", buf);
    goro_waitgroup_done(&attr_wg);
}

/* ---------------------------------------------------------------- plain thread */
static atomic_int thread_done, from_thread_ran;
static atomic_llong from_thread_goid, spawned_goid;
static int expected_procs;

static void from_thread(void *arg)
{
    (void)arg;
    atomic_store(&from_thread_goid, goro_self());
    atomic_store(&from_thread_ran, 1);
}

static void *plain_thread(void *arg)
{
    (void)arg;
    CHECK(goro_self() == 0, "goro_self() on a plain thread = %lld", (long long)goro_self());
    int rc = goro_run(other_main, 0, NULL);
    CHECK(rc == -EBUSY, "goro_run from a plain thread while running returned %d, want -EBUSY", rc);
    rc = goro_maxprocs(4);
    CHECK(rc == -EPERM, "goro_maxprocs(4) from a plain thread returned %d, want -EPERM", rc);
    rc = goro_maxprocs(1);
    CHECK(rc == -EPERM, "goro_maxprocs(1) from a plain thread returned %d, want -EPERM", rc);
    rc = goro_maxprocs(0);
    CHECK(rc == expected_procs, "goro_maxprocs(0) from a plain thread = %d, want %d", rc,
          expected_procs);
    rc = goro_maxprocs(-1);
    CHECK(rc == expected_procs, "goro_maxprocs(-1) from a plain thread = %d, want %d", rc,
          expected_procs);
    CHECK(goro_numcpu() >= 1, "goro_numcpu() = %d on a plain thread", goro_numcpu());
    CHECK(goro_numgoroutine() >= 1, "goro_numgoroutine() = %d on a plain thread",
          goro_numgoroutine());
    goro_stats st;
    goro_read_stats(&st);
    CHECK(st.procs == expected_procs && st.goroutines >= 1,
          "goro_read_stats from a plain thread: procs %lld goroutines %lld", (long long)st.procs,
          (long long)st.goroutines);
    for (int i = 0; i < 100; i++) {
        goro_yield();
        goro_preempt_point();
    }
    /* A blocking call from a plain thread must not block. */
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    goro_waitgroup_add(&wg, 1);
    goro_waitgroup_wait(&wg);
    int64_t id = goro_go(NULL, NULL);
    CHECK(id == -EINVAL, "goro_go(NULL) from a plain thread returned %lld", (long long)id);
    id = goro_go(from_thread, NULL);
    CHECK(id > 1, "goro_go from a plain thread returned %lld", (long long)id);
    atomic_store(&spawned_goid, id);
    atomic_store(&thread_done, 1);
    return NULL;
}

/* ---------------------------------------------------------------- abandoned */
static atomic_long busy_loops;

static void busy_forever(void *arg)
{
    (void)arg;
    for (;;) {
        atomic_fetch_add(&busy_loops, 1);
        goro_yield();
    }
}

static void parked_forever(void *arg)
{
    goro_waitgroup *wg = arg;
    goro_waitgroup_wait(wg);
}

static goro_waitgroup forever_wg = GORO_WAITGROUP_INIT;
static goro_waitgroup misc_wg = GORO_WAITGROUP_INIT;
static atomic_int yielders;

static void yielder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        goro_yield();
        goro_preempt_point();
    }
    atomic_fetch_add(&yielders, 1);
    goro_waitgroup_done(&misc_wg);
}

static int main1(int argc, char **argv)
{
    CHECK(argc == 1 && argv != NULL, "argc %d", argc);
    CHECK(goro_self() == 1, "main goroutine goid %lld, want 1", (long long)goro_self());
    CHECK(goro_numgoroutine() == 1, "goro_numgoroutine() = %d at start", goro_numgoroutine());
    CHECK(goro_numcpu() >= 1, "goro_numcpu() = %d", goro_numcpu());
    tap_ok("main goroutine: goid 1, goro_numgoroutine() 1, goro_numcpu() %d", goro_numcpu());

    int64_t id = goro_go(NULL, NULL);
    CHECK(id == -EINVAL, "goro_go(NULL) returned %lld, want -EINVAL", (long long)id);
    goro_attr a0 = {0, "x"};
    id = goro_go_attr(NULL, NULL, &a0);
    CHECK(id == -EINVAL, "goro_go_attr(NULL) returned %lld, want -EINVAL", (long long)id);
    int rc = goro_run(other_main, 0, NULL);
    CHECK(rc == -EBUSY, "goro_run from the main goroutine returned %d, want -EBUSY", rc);
    goro_attr huge = {SIZE_MAX / 2, "huge"};
    id = goro_go_attr(nop, NULL, &huge);
    CHECK(id < 0, "goro_go_attr with stack_size %zu returned %lld", huge.stack_size,
          (long long)id);
    tap_ok("goro_go(NULL) -EINVAL, nested goro_run -EBUSY, absurd stack_size refused (%lld)",
           (long long)id);

    /* Waitgroup counter never goes negative. */
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    CHECK(goro_waitgroup_add(&wg, -1) == -EINVAL, "add(-1) on a zero counter accepted");
    CHECK(goro_waitgroup_add(&wg, 2) == 0, "add(2)");
    rc = goro_waitgroup_add(&wg, -3);
    CHECK(rc == -EINVAL, "add(-3) on counter 2 returned %d, want -EINVAL", rc);
    CHECK((wg.state >> 32) == 2, "counter changed by a refused add: %llu",
          (unsigned long long)(wg.state >> 32));
    CHECK(goro_waitgroup_add(&wg, -2) == 0, "add(-2) on counter 2 refused");
    CHECK(wg.state == 0, "state %llx after reaching zero", (unsigned long long)wg.state);
    goro_waitgroup_wait(&wg); /* returns at once */
    tap_ok("goro_waitgroup_add below zero is -EINVAL and leaves the counter unchanged");

    /* goro_exit */
    goro_waitgroup_add(&exit_wg, 1);
    int64_t eid = goro_go(exiter, NULL);
    CHECK(eid > 1, "goro_go(exiter) = %lld", (long long)eid);
    goro_waitgroup_wait(&exit_wg);
    WAIT_FOR(goro_numgoroutine() == 1, "exited goroutine still counted (%d)", goro_numgoroutine());
    for (int i = 0; i < 100; i++)
        goro_yield();
    CHECK(atomic_load(&exit_before) == 1, "exiter never ran");
    CHECK(atomic_load(&exit_deferred) == 0, "code after goro_exit() ran (in a caller frame)");
    CHECK(atomic_load(&exit_after) == 0, "code after goro_exit() ran (in the goroutine function)");
    tap_ok("goro_exit() ends the goroutine from 4 frames deep; nothing after it runs");

    /* goro_go_attr: name (copied) and stack_size. */
    char name[32];
    snprintf(name, sizeof name, "api-named-%d", 7);
    goro_attr at = {64 * 1024, name};
    goro_waitgroup_add(&attr_wg, 2);
    goro_waitgroup_add(&attr_gate, 1);
    int64_t aid = goro_go_attr(attr_worker, NULL, &at);
    CHECK(aid > 1, "goro_go_attr = %lld", (long long)aid);
    memset(name, 'Z', sizeof name - 1); /* the runtime must have copied it */
    goro_attr small = {1, NULL};
    CHECK(goro_go_attr(small_stack_worker, NULL, &small) > 1, "goro_go_attr(stack_size 1)");
    WAIT_FOR(atomic_load(&attr_parked), "named goroutine never ran");
    for (int i = 0; i < 10; i++)
        goro_yield(); /* let it park */
    int fd = memfd_create("dump", 0);
    CHECK(fd >= 0, "memfd_create");
    rc = goro_dump(fd);
    CHECK(rc == 0, "goro_dump returned %d", rc);
    char dump[65536];
    ssize_t n = pread(fd, dump, sizeof dump - 1, 0);
    close(fd);
    CHECK(n > 0, "goro_dump wrote nothing");
    dump[n] = 0;
    char want[64];
    snprintf(want, sizeof want, "goroutine %lld [", (long long)aid);
    if (!strstr(dump, want) || !strstr(dump, "api-named-7") || !strstr(dump, "goroutine 1 ["))
        fprintf(stderr, "# dump:\n%s", dump);
    CHECK(strstr(dump, "goroutine 1 [") != NULL, "dump lacks the main goroutine");
    CHECK(strstr(dump, want) != NULL, "dump lacks '%s'", want);
    CHECK(strstr(dump, "api-named-7") != NULL, "dump lacks the goroutine's name 'api-named-7'");
    CHECK(strstr(dump, "ZZZZ") == NULL, "the runtime kept the caller's name buffer, not a copy");
    goro_waitgroup_done(&attr_gate);
    goro_waitgroup_wait(&attr_wg);
    tap_diag("%s (stack_size 64 KiB)", attr_text);
    CHECK(atomic_load(&attr_used) >= 40 * 1024, "named goroutine used only %ld bytes",
          atomic_load(&attr_used));
    tap_ok("goro_go_attr: name copied and shown by goro_dump; 40 KiB used on a 64 KiB stack; "
           "stack_size 1 runs snprintf");

    /* Plain thread while the runtime runs. */
    expected_procs = goro_maxprocs(0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, plain_thread, NULL) == 0, "pthread_create");
    WAIT_FOR(atomic_load(&thread_done), "plain thread did not finish");
    pthread_join(th, NULL);
    WAIT_FOR(atomic_load(&from_thread_ran), "goroutine spawned from a plain thread never ran");
    CHECK(atomic_load(&from_thread_goid) == atomic_load(&spawned_goid),
          "goroutine from a plain thread: goro_self() %lld, goro_go returned %lld",
          (long long)atomic_load(&from_thread_goid), (long long)atomic_load(&spawned_goid));
    tap_ok("plain thread: goro_self 0, goro_run -EBUSY, goro_maxprocs(n>=1) -EPERM, query works, "
           "goro_go runs its goroutine");

    /* yield and preempt_point are harmless. */
    goro_waitgroup_add(&misc_wg, 8);
    for (int i = 0; i < 8; i++)
        CHECK(goro_go(yielder, NULL) > 1, "goro_go(yielder)");
    for (int i = 0; i < 1000; i++) {
        goro_yield();
        goro_preempt_point();
    }
    goro_waitgroup_wait(&misc_wg);
    CHECK(atomic_load(&yielders) == 8, "yielders %d", atomic_load(&yielders));
    CHECK(goro_self() == 1, "goid changed to %lld after yields", (long long)goro_self());
    tap_ok("goro_yield and goro_preempt_point are harmless (main + 8 goroutines x 1000)");

    /* Leave goroutines behind: parked ones and a busy one. */
    goro_waitgroup_add(&forever_wg, 1);
    for (int i = 0; i < 3; i++)
        CHECK(goro_go(parked_forever, &forever_wg) > 1, "goro_go(parked_forever)");
    CHECK(goro_go(busy_forever, NULL) > 1, "goro_go(busy_forever)");
    WAIT_FOR(atomic_load(&busy_loops) > 10, "busy goroutine does not run");
    return 42;
}

static atomic_int run2_ran;
static goro_waitgroup run2_wg;

static void run2_worker(void *arg)
{
    (void)arg;
    atomic_fetch_add(&run2_ran, 1);
    goro_waitgroup_done(&run2_wg);
}

static int main2(int argc, char **argv)
{
    (void)argc;
    int k = atoi(argv[0]);
    CHECK(goro_self() == 1, "run %d: main goroutine goid %lld, want 1", k, (long long)goro_self());
    CHECK(goro_numgoroutine() == 1, "run %d: goro_numgoroutine() = %d at start (abandoned "
          "goroutines of an earlier run counted?)", k, goro_numgoroutine());
    goro_stats st;
    goro_read_stats(&st);
    CHECK(st.goroutines == 1, "run %d: goro_stats.goroutines %lld at start", k,
          (long long)st.goroutines);
    memset(&run2_wg, 0, sizeof run2_wg);
    goro_waitgroup_add(&run2_wg, 10);
    for (int i = 0; i < 10; i++) {
        int64_t id = goro_go(run2_worker, NULL);
        CHECK(id > 1, "run %d: goro_go = %lld", k, (long long)id);
    }
    goro_waitgroup_wait(&run2_wg);
    return 7 + k;
}

int main(int argc, char **argv)
{
    (void)argc;
    tap_plan(10);

    CHECK(goro_self() == 0, "goro_self() before goro_run = %lld", (long long)goro_self());
    CHECK(goro_numcpu() >= 1, "goro_numcpu() = %d", goro_numcpu());
    int q = goro_maxprocs(0);
    CHECK(q >= 1, "goro_maxprocs(0) before goro_run = %d", q);
    int64_t id = goro_go(nop, NULL);
    CHECK(id < 0, "goro_go before goro_run returned %lld", (long long)id);
    CHECK(goro_run(NULL, 0, NULL) == -EINVAL, "goro_run(NULL) accepted");
    tap_ok("before goro_run: goro_self 0, numcpu %d, maxprocs query %d, goro_go refused (%lld)",
           goro_numcpu(), q, (long long)id);

    char *args1[] = {argv[0], NULL};
    int rc = goro_run(main1, 1, args1);
    CHECK(rc == 42, "goro_run returned %d, want main's 42", rc);
    CHECK(goro_self() == 0, "goro_self() after goro_run = %lld", (long long)goro_self());
    long loops = atomic_load(&busy_loops);
    struct timespec ts = {0, 50 * MS};
    nanosleep(&ts, NULL);
    CHECK(atomic_load(&busy_loops) == loops,
          "an abandoned goroutine kept running after goro_run returned (%ld -> %ld loops)", loops,
          atomic_load(&busy_loops));
    id = goro_go(nop, NULL);
    CHECK(id < 0, "goro_go after goro_run returned %lld", (long long)id);
    tap_ok("goro_run returned main's 42 with goroutines left parked and runnable; none runs after");

    for (int k = 0; k < 3; k++) {
        char num[16];
        snprintf(num, sizeof num, "%d", k);
        char *args2[] = {num, NULL};
        rc = goro_run(main2, 1, args2);
        CHECK(rc == 7 + k, "goro_run #%d returned %d, want %d", k + 2, rc, 7 + k);
        CHECK(atomic_load(&run2_ran) == 10 * (k + 1), "run %d: %d workers ran", k,
              atomic_load(&run2_ran));
    }
    tap_ok("goro_run again, 3 times: fresh runtime each time (goid 1, 1 goroutine), returns main's value");
    return 0;
}
