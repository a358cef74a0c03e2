/*
 * test_badinput — bad arguments get the documented answer, never a crash
 * or a hang (API.md: "Bad input is reported, never undefined").
 *
 * Calls that return int answer -EINVAL: a NULL value to send on a channel
 * whose elements are not empty (goro_chan_send, goro_chan_trysend, a SEND
 * case of goro_select), goro_mutex_trylock(NULL), and a goro_waitgroup_add
 * whose counter + delta overflows int64_t (UBSan caught the signed
 * overflow). goro_read_stats(NULL) does nothing. goro_dump reports a
 * failed write (/dev/full, a read-only descriptor, a pipe with no reader)
 * instead of 0. The void sync calls given NULL, and goro_chan_free or
 * goro_chan_close of a channel already freed (which spun forever on the
 * freed block's spin lock), goro_timer_free or goro_timer_stop of a timer
 * already freed (the same spin), end the child process with "fatal error:"
 * naming the call, exit status 2.
 */
#include "child.h"

#include <goro.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* ------------------------------------------------ the fatal cases (children) */

static goro_mutex mu = GORO_MUTEX_INIT;
static goro_once once = GORO_ONCE_INIT;
static goro_cond cond = GORO_COND_INIT;

static void nop(void *arg)
{
    (void)arg;
}

static void chan_free_twice(void)
{
    goro_chan *c = goro_chan_make(sizeof(int64_t), 4);
    CHECK(c, "goro_chan_make");
    CHECK(goro_chan_free(c) == 0, "first goro_chan_free");
    goro_chan_free(c);
}

static void chan_close_freed(void)
{
    goro_chan *c = goro_chan_make(sizeof(int64_t), 0);
    CHECK(c, "goro_chan_make");
    CHECK(goro_chan_free(c) == 0, "goro_chan_free");
    goro_chan_close(c);
}

static void timer_free_twice(void)
{
    goro_timer *t = goro_timer_new(1000000000, 0);
    CHECK(t, "goro_timer_new");
    CHECK(goro_timer_free(t) == 0, "first goro_timer_free");
    goro_timer_free(t);
}

static void timer_stop_freed(void)
{
    goro_timer *t = goro_timer_new(1000000000, 1000000);
    CHECK(t, "goro_timer_new");
    CHECK(goro_timer_free(t) == 0, "goro_timer_free");
    goro_timer_stop(t);
}

typedef struct fatal_case {
    const char *mode;
    const char *message; /* expected on stderr after "fatal error: " */
    void (*run)(void);
} fatal_case;

static void mutex_lock_null(void) { goro_mutex_lock(NULL); }
static void mutex_unlock_null(void) { goro_mutex_unlock(NULL); }
static void rwmutex_rlock_null(void) { goro_rwmutex_rlock(NULL); }
static void rwmutex_runlock_null(void) { goro_rwmutex_runlock(NULL); }
static void rwmutex_lock_null(void) { goro_rwmutex_lock(NULL); }
static void rwmutex_unlock_null(void) { goro_rwmutex_unlock(NULL); }
static void once_null(void) { goro_once_do(NULL, nop, NULL); }
static void once_fn_null(void) { goro_once_do(&once, NULL, NULL); }
static void cond_wait_null(void) { goro_cond_wait(NULL, &mu); }
static void cond_wait_mutex_null(void) { goro_cond_wait(&cond, NULL); }
static void cond_signal_null(void) { goro_cond_signal(NULL); }
static void cond_broadcast_null(void) { goro_cond_broadcast(NULL); }

static const fatal_case fatal_cases[] = {
    {"mutex_lock", "goro_mutex_lock: NULL argument", mutex_lock_null},
    {"mutex_unlock", "goro_mutex_unlock: NULL argument", mutex_unlock_null},
    {"rwmutex_rlock", "goro_rwmutex_rlock: NULL argument", rwmutex_rlock_null},
    {"rwmutex_runlock", "goro_rwmutex_runlock: NULL argument", rwmutex_runlock_null},
    {"rwmutex_lock", "goro_rwmutex_lock: NULL argument", rwmutex_lock_null},
    {"rwmutex_unlock", "goro_rwmutex_unlock: NULL argument", rwmutex_unlock_null},
    {"once_null", "goro_once_do: NULL argument", once_null},
    {"once_fn_null", "goro_once_do: NULL argument", once_fn_null},
    {"cond_wait", "goro_cond_wait: NULL argument", cond_wait_null},
    {"cond_wait_mutex", "goro_cond_wait: NULL argument", cond_wait_mutex_null},
    {"cond_signal", "goro_cond_signal: NULL argument", cond_signal_null},
    {"cond_broadcast", "goro_cond_broadcast: NULL argument", cond_broadcast_null},
    {"chan_free_twice", "goro_chan_free: channel already freed", chan_free_twice},
    {"chan_close_freed", "goro_chan_close: channel already freed", chan_close_freed},
    {"timer_free_twice", "goro_timer_free: timer already freed", timer_free_twice},
    {"timer_stop_freed", "goro_timer_stop: timer already freed", timer_stop_freed},
};
#define NFATAL (sizeof fatal_cases / sizeof fatal_cases[0])

static int child_main(int argc, char **argv)
{
    (void)argc;
    for (size_t i = 0; i < NFATAL; i++) {
        if (strcmp(argv[1], fatal_cases[i].mode) == 0) {
            fatal_cases[i].run();
            printf("survived\n");
            fflush(stdout);
            return 0;
        }
    }
    CHECK(0, "unknown mode %s", argv[1]);
    return 1;
}

static void test_fatal_cases(void)
{
    for (size_t i = 0; i < NFATAL; i++) {
        const fatal_case *fc = &fatal_cases[i];
        child_result r;
        run_child(fc->mode, NULL, -1, 10, &r);
        char want[128];
        snprintf(want, sizeof want, "fatal error: %s\n", fc->message);
        bool ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2 && strstr(r.err, want);
        if (!ok)
            child_diag(fc->mode, r.err);
        CHECK(ok, "%s: child ended with %s%s, want exit 2 and '%s'", fc->mode, child_status_str(r.status),
              r.timed_out ? " (timed out, killed)" : "", fc->message);
        free(r.out);
        free(r.err);
    }
    tap_ok("%zu misuses of void calls (NULL sync objects, once's NULL function, a channel or timer freed twice) end with "
           "'fatal error: CALL: ...' and exit 2",
           NFATAL);
}

/* ------------------------------------------------ the -EINVAL cases (in process) */

static void test_null_send(void)
{
    goro_chan *c = goro_chan_make(sizeof(int64_t), 1);
    CHECK(c, "goro_chan_make");
    CHECK(goro_chan_trysend(c, NULL) == -EINVAL, "goro_chan_trysend(c, NULL) on 8-byte elements");
    CHECK(goro_chan_send(c, NULL) == -EINVAL, "goro_chan_send(c, NULL) on 8-byte elements");
    CHECK(goro_chan_len(c) == 0, "a refused send was queued");
    goro_case cs = {c, GORO_SEND, NULL, -1};
    CHECK(goro_select(&cs, 1, 0) == -EINVAL, "select SEND case with NULL elem, no timeout");
    CHECK(goro_select(&cs, 1, -1) == -EINVAL, "select SEND case with NULL elem, forever");
    CHECK(goro_select(&cs, 1, 1000000) == -EINVAL, "select SEND case with NULL elem, 1 ms");
    CHECK(goro_chan_len(c) == 0, "a refused select send was queued");
    goro_case rc = {c, GORO_RECV, NULL, -1};
    CHECK(goro_select(&rc, 1, 0) == -EAGAIN, "select RECV with NULL elem must stay allowed");
    CHECK(goro_chan_free(c) == 0, "goro_chan_free");

    goro_chan *e = goro_chan_make(0, 1); /* empty elements: NULL is a fine value */
    CHECK(e, "goro_chan_make(0, 1)");
    CHECK(goro_chan_trysend(e, NULL) == 0, "goro_chan_trysend(NULL) on empty elements");
    goro_case es = {e, GORO_SEND, NULL, -1};
    CHECK(goro_select(&es, 1, 0) == -EAGAIN, "select SEND of an empty element on a full channel");
    CHECK(goro_chan_recv(e, NULL) == 1, "receive of the empty element");
    CHECK(goro_chan_free(e) == 0, "goro_chan_free");
    tap_ok("NULL value to send on 8-byte elements: -EINVAL from send, trysend and select (empty elements: accepted)");
}

static void test_trylock_stats_null(void)
{
    CHECK(goro_mutex_trylock(NULL) == -EINVAL, "goro_mutex_trylock(NULL) = %d", goro_mutex_trylock(NULL));
    goro_read_stats(NULL);
    tap_ok("goro_mutex_trylock(NULL) is -EINVAL; goro_read_stats(NULL) does nothing");
}

static void test_waitgroup_overflow(void)
{
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    CHECK(goro_waitgroup_add(&wg, 1) == 0, "add 1");
    CHECK(goro_waitgroup_add(&wg, INT64_MAX) == -EINVAL, "counter 1 + INT64_MAX accepted");
    CHECK(goro_waitgroup_add(&wg, INT64_MIN) == -EINVAL, "counter 1 + INT64_MIN accepted");
    CHECK(goro_waitgroup_add(&wg, -1) == 0, "the counter changed: add -1 refused");
    CHECK(goro_waitgroup_add(&wg, -1) == -EINVAL, "the counter changed: it went negative");
    tap_ok("goro_waitgroup_add: counter + INT64_MAX / INT64_MIN is -EINVAL, counter unchanged");
}

static void test_dump_errors(void)
{
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    CHECK(full >= 0, "open /dev/full: %s", strerror(errno));
    int r = goro_dump(full);
    CHECK(r == -ENOSPC, "goro_dump(/dev/full) = %d, want -ENOSPC", r);
    close(full);

    int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK(ro >= 0, "open /dev/null: %s", strerror(errno));
    r = goro_dump(ro);
    CHECK(r == -EBADF, "goro_dump(read-only fd) = %d, want -EBADF", r);
    close(ro);

    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));
    close(p[0]);
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    r = goro_dump(p[1]);
    sigaction(SIGPIPE, &old, NULL);
    CHECK(r == -EPIPE, "goro_dump(pipe with no reader, SIGPIPE ignored) = %d, want -EPIPE", r);
    close(p[1]);

    int ok[2];
    CHECK(pipe2(ok, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2: %s", strerror(errno));
    r = goro_dump(ok[1]);
    char buf[64] = "";
    CHECK(r == 0 && read(ok[0], buf, sizeof buf - 1) > 0 && strstr(buf, "goroutine 1 ["),
          "goro_dump to a pipe = %d, read '%s'", r, buf);
    close(ok[0]);
    close(ok[1]);
    tap_ok("goro_dump returns the write error: -ENOSPC (/dev/full), -EBADF (read-only), -EPIPE (no reader); 0 when written");
}

static int badinput_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    test_null_send();
    test_trylock_stats_null();
    test_waitgroup_overflow();
    test_dump_errors();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return goro_run(child_main, argc, argv);
    tap_plan(5);
    test_fatal_cases();
    CHECK(goro_run(badinput_main, argc, argv) == 0, "goro_run");
    return 0;
}
