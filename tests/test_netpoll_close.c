/*
 * test_netpoll_close — descriptor numbers that come back (issue 7: 10, 14,
 * 12) and the netpoller's start-up failing:
 *   1. a number closed with plain close() and reused by a new pipe: a read
 *      that parks on it is woken (it used to park forever: the new pipe was
 *      never added to epoll), and a write too;
 *   2. the reused number inherits no deadline: a read and a write with data
 *      and room there succeed (they used to fail with -ETIMEDOUT), also
 *      when the new descriptor is a regular file, and a regular file's
 *      number reused by a non-blocking pipe parks instead of -EAGAIN;
 *   3. goro_close against a new descriptor taking the number in the
 *      middle of the close: goroutines create eventfds, read them, set an
 *      expired deadline and goro_close them; a read of a fresh eventfd
 *      must never see -ETIMEDOUT (it did when it got the number while
 *      another goroutine's goro_close had closed it but not yet cleared the
 *      pollDesc);
 *   4. echo with connection churn: 64 loopback connections at a time, each
 *      200 round trips of 1..250 bytes, closed and dialled again, beside
 *      connections carrying 4 MiB each way; no byte lost, no server stuck,
 *      no deadline inherited (issue 7, point 14);
 *   5. at EMFILE the first netpoller use returns -EMFILE (not a fatal
 *      error), also when only epoll_create1 succeeds, and works once
 *      descriptors are free again (in a child process).
 *
 * "test_netpoll_close echo ROUNDS" runs only 4, for ROUNDS rounds (the
 * long stress run); "race ITERS" runs only 3.
 */
#include "check.h"
#include "child.h"

#include <arpa/inet.h>
#include <errno.h>
#include <goro.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MS 1000000ll

static goro_waitgroup wg = GORO_WAITGROUP_INIT;

/* Waits for *flag (set by a goroutine when done) for up to secs seconds:
 * false if it is still not set. The limit is far above the ~20 ms the
 * goroutine needs; it only turns a hang into a failure. */
static bool wait_flag(atomic_int *flag, int secs)
{
    for (int i = 0; i < secs * 100 && !atomic_load(flag); i++)
        goro_sleep(10 * MS);
    return atomic_load(flag) != 0;
}

/* A new pipe that takes the numbers of the closed one; non-blocking, as
 * accept4 and socket give them with SOCK_NONBLOCK. */
static void pipe_again(int p[2], const int old[2])
{
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2 failed");
    CHECK(p[0] == old[0] && p[1] == old[1], "pipe got %d,%d, not the closed %d,%d", p[0], p[1], old[0], old[1]);
}

/* ---------------------------------------------------------------- 1 */

static int reuse_pipe[2];
static atomic_int reader_done;
static atomic_llong reader_result;

static void reuse_reader(void *arg)
{
    (void)arg;
    char c = 0;
    atomic_store(&reader_result, goro_read(reuse_pipe[0], &c, 1));
    atomic_store(&reader_done, 1);
    goro_waitgroup_done(&wg);
}

static void reuse_writer(void *arg)
{
    (void)arg;
    static char big[256 * 1024];
    atomic_store(&reader_result, goro_write(reuse_pipe[1], big, sizeof big));
    atomic_store(&reader_done, 1);
    goro_waitgroup_done(&wg);
}

/* Runs f on a goroutine that must park on reuse_pipe, unblocks it with
 * unblock(), and checks that it finishes with want. */
static void park_and_unblock(goro_fn f, void (*unblock)(void), long long want, const char *what)
{
    atomic_store(&reader_done, 0);
    goro_waitgroup_add(&wg, 1);
    CHECK(goro_go(f, NULL) > 0, "goro_go failed");
    goro_sleep(20 * MS);
    unblock();
    CHECK(wait_flag(&reader_done, 10), "%s on a reused descriptor number still parked 10 s after it was unblocked", what);
    goro_waitgroup_wait(&wg);
    CHECK(atomic_load(&reader_result) == want, "%s on a reused number returned %lld, want %lld", what,
          (long long)atomic_load(&reader_result), want);
}

static void write_one(void)
{
    CHECK(write(reuse_pipe[1], "r", 1) == 1, "write failed");
}

static void drain_all(void)
{
    char buf[65536];
    long got = 0;
    while (got < 256 * 1024) {
        ssize_t n = read(reuse_pipe[0], buf, sizeof buf);
        if (n < 0 && errno == EAGAIN) {
            goro_sleep(MS); /* the writer has more to write */
            continue;
        }
        CHECK(n > 0, "draining the pipe: %zd", n);
        got += n;
    }
}

static void test_plain_close_park(void)
{
    int old[2];
    CHECK(pipe2(old, O_CLOEXEC) == 0, "pipe2 failed");
    /* Registered with the netpoller, then closed behind its back. */
    CHECK(goro_write(old[1], "x", 1) == 1, "goro_write failed");
    char c;
    CHECK(goro_read(old[0], &c, 1) == 1, "goro_read failed");
    close(old[0]);
    close(old[1]);
    pipe_again(reuse_pipe, old);
    park_and_unblock(reuse_reader, write_one, 1, "goro_read");
    park_and_unblock(reuse_writer, drain_all, 256 * 1024, "goro_write");
    CHECK(goro_close(reuse_pipe[0]) == 0 && goro_close(reuse_pipe[1]) == 0, "goro_close failed");
    tap_ok("a number closed with close() and reused by a pipe: a parked read and write are woken");
}

/* ---------------------------------------------------------------- 2 */

static void test_plain_close_deadline(void)
{
    int old[2], p[2];
    CHECK(pipe2(old, O_CLOEXEC) == 0, "pipe2 failed");
    CHECK(goro_set_deadline(old[0], 1, 1) == 0 && goro_set_deadline(old[1], 1, 1) == 0, "goro_set_deadline failed");
    close(old[0]);
    close(old[1]);
    pipe_again(p, old);
    CHECK(write(p[1], "d", 1) == 1, "write failed");
    char c = 0;
    ssize_t n = goro_read(p[0], &c, 1);
    CHECK(n == 1 && c == 'd', "read of a reused number with data there returned %zd (deadline inherited?)", n);
    n = goro_write(p[1], "e", 1);
    CHECK(n == 1, "write to a reused number returned %zd (deadline inherited?)", n);

    /* The same number as a regular file. */
    CHECK(goro_set_deadline(p[0], 1, 1) == 0, "goro_set_deadline failed");
    int num = p[0];
    close(p[0]);
    char path[] = "/tmp/goro-close-XXXXXX";
    int f = mkstemp(path);
    CHECK(f == num, "mkstemp got %d, not the closed %d", f, num);
    unlink(path);
    CHECK(write(f, "file", 4) == 4 && lseek(f, 0, SEEK_SET) == 0, "write to the file failed");
    char buf[8] = { 0 };
    n = goro_read(f, buf, sizeof buf);
    CHECK(n == 4 && memcmp(buf, "file", 4) == 0, "read of a regular file on a reused number returned %zd", n);

    /* And back: the regular file's number as a non-blocking pipe's read
     * end, which must park (not return -EAGAIN) and be woken. */
    close(f);
    CHECK(pipe2(reuse_pipe, O_CLOEXEC | O_NONBLOCK) == 0 && reuse_pipe[0] == num, "pipe2 did not reuse %d", num);
    park_and_unblock(reuse_reader, write_one, 1, "goro_read (was a regular file)");
    CHECK(goro_close(reuse_pipe[0]) == 0 && goro_close(reuse_pipe[1]) == 0 && goro_close(p[1]) == 0,
          "goro_close failed");
    tap_ok("a reused number inherits no deadline (pipe and regular file); a file's number as a pipe parks");
}

/* ---------------------------------------------------------------- 3 */

static atomic_long race_iters, race_bad;
static atomic_int race_first_bad;
static int64_t race_until;

static void race_worker(void *arg)
{
    long iters = (long)(intptr_t)arg;
    for (long i = 0; i < iters && goro_now() < race_until; i++) {
        int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
        CHECK(fd >= 0, "eventfd failed");
        uint64_t v = 0;
        ssize_t n = goro_read(fd, &v, sizeof v);
        if (n != (ssize_t)sizeof v) {
            atomic_fetch_add(&race_bad, 1);
            int zero = 0;
            atomic_compare_exchange_strong(&race_first_bad, &zero, (int)n);
        }
        /* An expired deadline for the next owner of the number to inherit. */
        goro_set_deadline(fd, 1, 1);
        CHECK(goro_close(fd) == 0, "goro_close failed");
        atomic_fetch_add(&race_iters, 1);
    }
    goro_waitgroup_done(&wg);
}

static void run_race(long iters, int64_t max_ns)
{
    enum { WORKERS = 4 };
    race_until = goro_now() + max_ns;
    goro_waitgroup_add(&wg, WORKERS);
    for (int i = 0; i < WORKERS; i++)
        CHECK(goro_go(race_worker, (void *)(intptr_t)(iters / WORKERS)) > 0, "goro_go failed");
    goro_waitgroup_wait(&wg);
    long it = atomic_load(&race_iters), bad = atomic_load(&race_bad);
    tap_diag("close/reuse race: %ld of %ld reads of a fresh eventfd failed", bad, it);
    CHECK(bad == 0, "%ld of %ld reads of a fresh eventfd failed (first: %d): it got a number mid-goro_close",
          bad, it, atomic_load(&race_first_bad));
    tap_ok("%ld eventfds read, given an expired deadline and goro_closed by 4 goroutines: no deadline inherited", it);
}

/* ---------------------------------------------------------------- 4 */

enum { ECHO_CONNS = 64, ECHO_TRIPS = 200, ECHO_MAXMSG = 250, STREAM = 4 << 20 };
static struct sockaddr_in echo_addr;
static int echo_listener;
static atomic_llong bytes_sent, bytes_echoed;
static atomic_long client_fail, servers_live, server_errors;
static atomic_int first_error;
static goro_waitgroup clients_wg = GORO_WAITGROUP_INIT;

static void note_error(int e)
{
    int zero = 0;
    atomic_compare_exchange_strong(&first_error, &zero, e);
}

static void echo_server(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(65536);
    CHECK(buf, "malloc failed");
    for (;;) {
        ssize_t n = goro_read(fd, buf, 65536);
        if (n <= 0) {
            if (n < 0) {
                atomic_fetch_add(&server_errors, 1);
                note_error((int)n);
            }
            break;
        }
        ssize_t w = goro_write(fd, buf, (size_t)n);
        if (w != n) {
            atomic_fetch_add(&server_errors, 1);
            note_error((int)w);
            break;
        }
        atomic_fetch_add(&bytes_echoed, n);
    }
    free(buf);
    goro_close(fd);
    atomic_fetch_sub(&servers_live, 1);
}

static void echo_acceptor(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = goro_accept(echo_listener, NULL, NULL);
        if (fd == -EBADF)
            break; /* the listener was closed: the test is over */
        CHECK(fd >= 0, "goro_accept: %d", fd);
        atomic_fetch_add(&servers_live, 1);
        CHECK(goro_go(echo_server, (void *)(intptr_t)fd) > 0, "goro_go failed");
    }
    goro_waitgroup_done(&wg);
}

static bool read_full(int fd, char *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t n = goro_read(fd, buf + got, len - got);
        if (n <= 0) {
            note_error(n < 0 ? (int)n : -EPIPE);
            return false;
        }
        got += (size_t)n;
    }
    return true;
}

/* A connection with a generous deadline: one whose far end is stuck fails
 * (counted) instead of hanging the test. */
static int echo_dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0, "socket failed");
    int64_t dl = goro_now() + 30000 * MS;
    if (goro_set_deadline(fd, dl, dl) != 0)
        return fd;
    int r = goro_connect(fd, (struct sockaddr *)&echo_addr, sizeof echo_addr);
    if (r != 0) {
        note_error(r);
        goro_close(fd);
        return -1;
    }
    return fd;
}

/* One connection: ECHO_TRIPS round trips, checked; false if any failed. */
static bool echo_conn(uint64_t *s)
{
    char out[ECHO_MAXMSG], in[ECHO_MAXMSG];
    int fd = echo_dial();
    bool ok = fd >= 0;
    for (int i = 0; ok && i < ECHO_TRIPS; i++) {
        *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
        size_t len = 1 + *s % ECHO_MAXMSG;
        for (size_t k = 0; k < len; k++)
            out[k] = (char)(*s >> (k % 56));
        ssize_t w = goro_write(fd, out, len);
        if (w != (ssize_t)len) {
            note_error((int)w);
            ok = false;
            break;
        }
        atomic_fetch_add(&bytes_sent, (long long)len);
        ok = read_full(fd, in, len) && memcmp(in, out, len) == 0;
    }
    if (fd >= 0)
        goro_close(fd);
    return ok;
}

/* One of ECHO_CONNS slots: its connections one after the other, so that
 * the slots' closes (client and server) overlap other slots' dials and
 * accepts. */
static void echo_slot(void *arg)
{
    long rounds = (long)(intptr_t)arg;
    uint64_t s = (uint64_t)(uintptr_t)&s * 0x9E3779B97F4A7C15ull + 1;
    for (long r = 0; r < rounds; r++)
        if (!echo_conn(&s))
            atomic_fetch_add(&client_fail, 1);
    goro_waitgroup_done(&clients_wg);
}

static goro_waitgroup stream_wg = GORO_WAITGROUP_INIT;
static atomic_int stream_write_ok;

static void stream_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(STREAM);
    CHECK(buf, "malloc failed");
    for (int i = 0; i < STREAM; i++)
        buf[i] = (char)(i * 31 + (i >> 12));
    ssize_t w = goro_write(fd, buf, STREAM);
    if (w == STREAM)
        atomic_store(&stream_write_ok, 1);
    else
        note_error((int)w);
    atomic_fetch_add(&bytes_sent, w > 0 ? w : 0);
    free(buf);
    goro_waitgroup_done(&stream_wg);
}

/* 4 MiB each way on one connection: a writer goroutine, this one reads. */
static bool echo_stream(void)
{
    int fd = echo_dial();
    if (fd < 0)
        return false;
    atomic_store(&stream_write_ok, 0);
    goro_waitgroup_add(&stream_wg, 1);
    CHECK(goro_go(stream_writer, (void *)(intptr_t)fd) > 0, "goro_go failed");
    char *buf = malloc(STREAM);
    CHECK(buf, "malloc failed");
    bool ok = read_full(fd, buf, STREAM);
    for (int i = 0; ok && i < STREAM; i++)
        ok = buf[i] == (char)(i * 31 + (i >> 12));
    goro_waitgroup_wait(&stream_wg);
    free(buf);
    goro_close(fd);
    return ok && atomic_load(&stream_write_ok);
}

static void echo_listen(void)
{
    echo_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(echo_listener >= 0, "socket failed");
    echo_addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof echo_addr;
    CHECK(bind(echo_listener, (struct sockaddr *)&echo_addr, len) == 0, "bind failed");
    CHECK(listen(echo_listener, 1024) == 0, "listen failed");
    CHECK(getsockname(echo_listener, (struct sockaddr *)&echo_addr, &len) == 0, "getsockname failed");
}

/* rounds x (ECHO_CONNS connections of ECHO_TRIPS round trips, and one
 * stream of STREAM bytes each way), all running at once. */
static void run_echo(int rounds)
{
    echo_listen();
    goro_waitgroup_add(&wg, 1);
    CHECK(goro_go(echo_acceptor, NULL) > 0, "goro_go failed");
    goro_waitgroup_add(&clients_wg, ECHO_CONNS);
    for (int i = 0; i < ECHO_CONNS; i++)
        CHECK(goro_go(echo_slot, (void *)(intptr_t)rounds) > 0, "goro_go failed");
    long stream_fail = 0;
    for (int r = 0; r < rounds; r++)
        stream_fail += !echo_stream();
    goro_waitgroup_wait(&clients_wg);
    /* Every client has closed: the servers see end of file and exit. */
    for (int i = 0; i < 1000 && atomic_load(&servers_live) > 0; i++)
        goro_sleep(10 * MS);
    long stuck = atomic_load(&servers_live), fail = atomic_load(&client_fail);
    goro_close(echo_listener);
    long long sent = atomic_load(&bytes_sent), echoed = atomic_load(&bytes_echoed);
    tap_diag("echo: %ld connections, %d streams: %ld client failures, %ld stream failures, %ld server errors, "
             "%ld servers stuck, %lld of %lld bytes echoed, first error %d",
             (long)rounds * ECHO_CONNS, rounds, fail, stream_fail, atomic_load(&server_errors), stuck, echoed, sent,
             atomic_load(&first_error));
    CHECK(fail == 0 && stream_fail == 0 && stuck == 0 && atomic_load(&server_errors) == 0 && echoed == sent,
          "%ld client and %ld stream failures, %ld servers stuck, %ld server errors (first error %d), "
          "%lld of %lld bytes echoed", fail, stream_fail, stuck, atomic_load(&server_errors),
          atomic_load(&first_error), echoed, sent);
    if (stuck == 0)
        goro_waitgroup_wait(&wg); /* the acceptor */
    tap_ok("echo with churn: %d x %d connections x %d round trips, %d x %d MiB each way, %lld bytes, none lost",
           rounds, ECHO_CONNS, ECHO_TRIPS, rounds, STREAM >> 20, sent);
}

/* ---------------------------------------------------------------- 5 */

static int emfile_pipe[2];

/* Fills the descriptor table, leaving `spare` numbers free. */
static int fill_fds(int *fds, int max, int spare)
{
    int n = 0;
    while (n < max) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        fds[n++] = fd;
    }
    CHECK(n < max && errno == EMFILE, "could not exhaust the descriptor table");
    for (int i = 0; i < spare && n > 0; i++)
        close(fds[--n]);
    return n;
}

static int emfile_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    CHECK(pipe2(emfile_pipe, O_CLOEXEC) == 0 && write(emfile_pipe[1], "ab", 2) == 2, "pipe failed");
    struct rlimit rl = { 64, 64 };
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit failed");
    int fds[64];
    int n = fill_fds(fds, 64, 0);
    char c;
    ssize_t r = goro_read(emfile_pipe[0], &c, 1);
    CHECK(r == -EMFILE, "goro_read with no descriptor free for epoll returned %zd, want -EMFILE", r);
    /* One free: epoll_create1 succeeds, the eventfd fails; epoll's must
     * not leak (the next try needs it). */
    close(fds[--n]);
    r = goro_read(emfile_pipe[0], &c, 1);
    CHECK(r == -EMFILE, "goro_read with one descriptor free returned %zd, want -EMFILE", r);
    close(fds[--n]);
    r = goro_read(emfile_pipe[0], &c, 1);
    CHECK(r == 1 && c == 'a', "goro_read once two descriptors are free returned %zd", r);
    while (n > 0)
        close(fds[--n]);
    CHECK(goro_read(emfile_pipe[0], &c, 1) == 1 && c == 'b', "second goro_read failed");
    printf("emfile-ok\n");
    fflush(stdout);
    return 0;
}

static void test_emfile(void)
{
    child_result r;
    run_child("emfile", NULL, -1, 60, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 || !strstr(r.out, "emfile-ok")) {
        child_diag("stdout", r.out);
        child_diag("stderr", r.err);
    }
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && strstr(r.out, "emfile-ok"),
          "child at EMFILE: %s", child_status_str(r.status));
    free(r.out);
    free(r.err);
    tap_ok("at EMFILE the netpoller's first use returns -EMFILE and works once descriptors are free");
}

/* ---------------------------------------------------------------- main */

static int test_main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "echo") == 0) {
        tap_plan(1);
        run_echo(atoi(argv[2]));
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "race") == 0) {
        tap_plan(1);
        run_race(atol(argv[2]), INT64_MAX / 2);
        return 0;
    }
    tap_plan(5);
    test_plain_close_park();
    test_plain_close_deadline();
    run_race(SCALE(400000), 1000 * MS);
    run_echo(SCALE(40) >= 10 ? SCALE(40) / 10 : 1); /* 4 rounds, 1 under sanitizers */
    test_emfile();
    return 0;
}

int main(int argc, char **argv)
{
    int rc = goro_run(argc >= 2 && strcmp(argv[1], "emfile") == 0 ? emfile_main : test_main, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);
    return 0;
}
