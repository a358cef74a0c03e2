/*
 * test_netpoll — API.md's I/O section on the netpoller:
 *   1. pipe ping-pong between two goroutines (goro_read/goro_write);
 *   2. a TCP echo server on 127.0.0.1: goro_accept, one goroutine per
 *      connection, clients with goro_connect, 64 KiB each way, checked;
 *   3. a read deadline expires (-ETIMEDOUT), also one set while the read
 *      is already blocked;
 *   4. goro_close wakes a blocked reader with -EBADF;
 *   5. goro_wait_fd: timeout, POLLIN after a write, POLLOUT at once;
 *   6. goro_connect to a closed port is -ECONNREFUSED; writing to a socket
 *      whose peer has gone is -EPIPE and raises no SIGPIPE;
 *   7. a regular file is read through a system call hand-off;
 *   8. 100 goroutines blocked on pipes for 300 ms cost (almost) no CPU and
 *      are not a deadlock; a plain thread's read that would block is -EPERM;
 *   9. several goroutines reading one pipe all get their byte; a wait for
 *      POLLIN|POLLOUT wakes on writability; a closed fd is -EBADF.
 */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <goro.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <unistd.h>

#define MS 1000000ll

static goro_waitgroup wg = GORO_WAITGROUP_INIT;

/* ---------------------------------------------------------------- 1 */

static int ab[2], ba[2];

static void pipe_echo(void *arg)
{
    long rounds = (long)(intptr_t)arg;
    for (long i = 0; i < rounds; i++) {
        long v;
        CHECK(goro_read(ab[0], &v, sizeof v) == sizeof v, "echo: read failed");
        v++;
        CHECK(goro_write(ba[1], &v, sizeof v) == sizeof v, "echo: write failed");
    }
    goro_waitgroup_done(&wg);
}

static void test_pipe_pingpong(void)
{
    long rounds = SCALE(20000);
    CHECK(pipe(ab) == 0 && pipe(ba) == 0, "pipe failed");
    goro_waitgroup_add(&wg, 1);
    CHECK(goro_go(pipe_echo, (void *)(intptr_t)rounds) > 0, "goro_go failed");
    int64_t start = goro_now();
    for (long i = 0; i < rounds; i++) {
        long v = i;
        CHECK(goro_write(ab[1], &v, sizeof v) == sizeof v, "write failed");
        CHECK(goro_read(ba[0], &v, sizeof v) == sizeof v && v == i + 1, "round %ld: got %ld", i, v);
    }
    int64_t ns = (goro_now() - start) / rounds;
    goro_waitgroup_wait(&wg);
    for (int i = 0; i < 2; i++) {
        CHECK(goro_close(ab[i]) == 0 && goro_close(ba[i]) == 0, "goro_close failed");
    }
    tap_diag("pipe round trip: %lld ns", (long long)ns);
    tap_ok("%ld pipe round trips between two goroutines (%lld ns each)", rounds, (long long)ns);
}

/* ---------------------------------------------------------------- 2 */

enum { NCLIENTS = 50, PAYLOAD = 64 * 1024 };
static int listener;
static struct sockaddr_in listen_addr;
static atomic_int served;

static void echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = goro_read(fd, buf, sizeof buf);
        CHECK(n >= 0, "server read: %zd", n);
        if (n == 0)
            break;
        CHECK(goro_write(fd, buf, (size_t)n) == n, "server write failed");
    }
    goro_close(fd);
    atomic_fetch_add(&served, 1);
    goro_waitgroup_done(&wg);
}

static void acceptor(void *arg)
{
    (void)arg;
    for (int i = 0; i < NCLIENTS; i++) {
        int fd = goro_accept(listener, NULL, NULL);
        CHECK(fd >= 0, "goro_accept: %d", fd);
        goro_waitgroup_add(&wg, 1);
        CHECK(goro_go(echo_conn, (void *)(intptr_t)fd) > 0, "goro_go failed");
    }
    goro_waitgroup_done(&wg);
}

static void client(void *arg)
{
    int id = (int)(intptr_t)arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0, "socket failed");
    CHECK(goro_connect(fd, (struct sockaddr *)&listen_addr, sizeof listen_addr) == 0, "client %d: connect", id);
    char *o = malloc(PAYLOAD), *r = malloc(PAYLOAD);
    CHECK(o && r, "malloc failed");
    for (int i = 0; i < PAYLOAD; i++)
        o[i] = (char)(i * 7 + id);
    /* Write half, read it back, then the other half: both directions
     * block on full socket buffers at some point. */
    size_t half = PAYLOAD / 2, got = 0;
    CHECK(goro_write(fd, o, half) == (ssize_t)half, "client %d: write", id);
    while (got < half) {
        ssize_t n = goro_read(fd, r + got, half - got);
        CHECK(n > 0, "client %d: read %zd", id, n);
        got += (size_t)n;
    }
    CHECK(goro_write(fd, o + half, PAYLOAD - half) == (ssize_t)(PAYLOAD - half), "client %d: write", id);
    while (got < PAYLOAD) {
        ssize_t n = goro_read(fd, r + got, PAYLOAD - got);
        CHECK(n > 0, "client %d: read %zd", id, n);
        got += (size_t)n;
    }
    CHECK(memcmp(o, r, PAYLOAD) == 0, "client %d: echo differs", id);
    free(o);
    free(r);
    CHECK(goro_close(fd) == 0, "goro_close failed");
    goro_waitgroup_done(&wg);
}

static void test_tcp_echo(void)
{
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(listener >= 0, "socket failed");
    listen_addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof listen_addr;
    CHECK(bind(listener, (struct sockaddr *)&listen_addr, len) == 0, "bind failed");
    CHECK(listen(listener, 128) == 0, "listen failed");
    CHECK(getsockname(listener, (struct sockaddr *)&listen_addr, &len) == 0, "getsockname failed");
    goro_waitgroup_add(&wg, 1 + NCLIENTS);
    CHECK(goro_go(acceptor, NULL) > 0, "goro_go failed");
    for (int i = 0; i < NCLIENTS; i++)
        CHECK(goro_go(client, (void *)(intptr_t)i) > 0, "goro_go failed");
    goro_waitgroup_wait(&wg);
    CHECK(atomic_load(&served) == NCLIENTS, "%d connections served, want %d", atomic_load(&served), NCLIENTS);
    goro_close(listener);
    tap_ok("TCP echo: %d clients x %d KiB through goro_accept/connect/read/write", NCLIENTS, PAYLOAD / 1024);
}

/* ---------------------------------------------------------------- 3 */

static int dl_pipe[2];
static atomic_llong blocked_result;

static void blocked_reader(void *arg)
{
    (void)arg;
    char c;
    atomic_store(&blocked_result, goro_read(dl_pipe[0], &c, 1));
    goro_waitgroup_done(&wg);
}

static void test_deadlines(void)
{
    CHECK(pipe(dl_pipe) == 0, "pipe failed");
    char c;
    int64_t start = goro_now();
    CHECK(goro_set_deadline(dl_pipe[0], start + 50 * MS, 0) == 0, "goro_set_deadline failed");
    ssize_t n = goro_read(dl_pipe[0], &c, 1);
    int64_t took = goro_now() - start;
    CHECK(n == -ETIMEDOUT, "read past its deadline returned %zd", n);
    CHECK(took >= 50 * MS && took < 2000 * MS, "deadline of 50 ms fired after %.1f ms", took / 1e6);
    /* Expired: fails at once, even with data there. */
    CHECK(write(dl_pipe[1], "x", 1) == 1, "write failed");
    CHECK(goro_read(dl_pipe[0], &c, 1) == -ETIMEDOUT, "read after the deadline did not fail");
    CHECK(goro_set_deadline(dl_pipe[0], 0, 0) == 0, "clearing the deadline failed");
    CHECK(goro_read(dl_pipe[0], &c, 1) == 1 && c == 'x', "read after clearing the deadline failed");

    /* A deadline set while the read is blocked applies to it. */
    goro_waitgroup_add(&wg, 1);
    CHECK(goro_go(blocked_reader, NULL) > 0, "goro_go failed");
    goro_sleep(20 * MS);
    int64_t set = goro_now();
    CHECK(goro_set_deadline(dl_pipe[0], set + 30 * MS, 0) == 0, "goro_set_deadline failed");
    goro_waitgroup_wait(&wg);
    int64_t took2 = goro_now() - set;
    CHECK(atomic_load(&blocked_result) == -ETIMEDOUT, "blocked read returned %lld", (long long)atomic_load(&blocked_result));
    CHECK(took2 >= 30 * MS, "blocked read timed out after %.1f ms, before its 30 ms deadline", took2 / 1e6);
    goro_close(dl_pipe[0]);
    goro_close(dl_pipe[1]);

    /* Write deadline on a full pipe; accept deadline on a quiet listener. */
    CHECK(pipe(dl_pipe) == 0, "pipe failed");
    char big[65536] = { 0 };
    CHECK(goro_set_deadline(dl_pipe[1], 0, goro_now() + 30 * MS) == 0, "goro_set_deadline failed");
    ssize_t w = goro_write(dl_pipe[1], big, sizeof big);
    w = w < 0 ? w : goro_write(dl_pipe[1], big, sizeof big);
    CHECK(w == -ETIMEDOUT, "write into a full pipe past its deadline returned %zd", w);
    goro_close(dl_pipe[0]);
    goro_close(dl_pipe[1]);
    int ln = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    CHECK(ln >= 0 && bind(ln, (struct sockaddr *)&a, sizeof a) == 0 && listen(ln, 1) == 0, "listen failed");
    CHECK(goro_set_deadline(ln, goro_now() + 30 * MS, 0) == 0, "goro_set_deadline failed");
    int afd = goro_accept(ln, NULL, NULL);
    CHECK(afd == -ETIMEDOUT, "accept past its deadline returned %d", afd);
    goro_close(ln);
    tap_ok("deadlines: read -ETIMEDOUT after %.1f ms, set on a blocked read after %.1f ms; write and accept too",
           took / 1e6, took2 / 1e6);
}

/* ---------------------------------------------------------------- 4 */

static void test_close_wakes(void)
{
    CHECK(pipe(dl_pipe) == 0, "pipe failed");
    atomic_store(&blocked_result, 0);
    goro_waitgroup_add(&wg, 1);
    CHECK(goro_go(blocked_reader, NULL) > 0, "goro_go failed");
    goro_sleep(20 * MS);
    CHECK(goro_close(dl_pipe[0]) == 0, "goro_close failed");
    goro_waitgroup_wait(&wg);
    CHECK(atomic_load(&blocked_result) == -EBADF, "reader woken by goro_close got %lld, want -EBADF",
          (long long)atomic_load(&blocked_result));
    goro_close(dl_pipe[1]);
    tap_ok("goro_close wakes a blocked reader with -EBADF");
}

/* ---------------------------------------------------------------- 5 */

static void test_wait_fd(void)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe failed");
    int64_t start = goro_now();
    int r = goro_wait_fd(p[0], POLLIN, 30 * MS);
    int64_t took = goro_now() - start;
    CHECK(r == -ETIMEDOUT, "goro_wait_fd on an empty pipe returned %d", r);
    CHECK(took >= 30 * MS, "timed out after %.1f ms, before 30 ms", took / 1e6);
    CHECK(goro_wait_fd(p[0], POLLIN, 0) == -ETIMEDOUT, "timeout 0 on an empty pipe");
    CHECK(write(p[1], "y", 1) == 1, "write failed");
    CHECK(goro_wait_fd(p[0], POLLIN, -1) == POLLIN, "goro_wait_fd after a write");
    CHECK(goro_wait_fd(p[1], POLLOUT, -1) == POLLOUT, "goro_wait_fd(POLLOUT) on a pipe");
    goro_close(p[0]);
    goro_close(p[1]);
    tap_ok("goro_wait_fd: -ETIMEDOUT after %.1f ms, then POLLIN; POLLOUT at once", took / 1e6);
}

/* ---------------------------------------------------------------- 6 */

static void test_socket_errors(void)
{
    /* A port nobody listens on: bind one, take its number, close it. */
    int tmp = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    CHECK(tmp >= 0 && bind(tmp, (struct sockaddr *)&a, len) == 0 && getsockname(tmp, (struct sockaddr *)&a, &len) == 0,
          "bind failed");
    close(tmp);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int r = goro_connect(fd, (struct sockaddr *)&a, sizeof a);
    CHECK(r == -ECONNREFUSED, "connect to a closed port returned %d", r);
    goro_close(fd);

    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair failed");
    close(sv[1]);
    char buf[1024] = { 0 };
    ssize_t n = goro_write(sv[0], buf, sizeof buf);
    CHECK(n == -EPIPE, "write to a socket whose peer is gone returned %zd", n);
    goro_close(sv[0]);
    tap_ok("goro_connect to a closed port: -ECONNREFUSED; write to a gone peer: -EPIPE, no SIGPIPE");
}

/* ---------------------------------------------------------------- 7 */

static void test_regular_file(void)
{
    char path[] = "/tmp/goro-netpoll-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp failed");
    unlink(path);
    CHECK(goro_write(fd, "hello, file", 11) == 11, "goro_write to a file failed");
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek failed");
    char buf[32] = { 0 };
    CHECK(goro_read(fd, buf, sizeof buf) == 11 && memcmp(buf, "hello, file", 11) == 0, "goro_read from a file: '%s'", buf);
    CHECK(goro_read(fd, buf, sizeof buf) == 0, "goro_read at end of file did not return 0");
    CHECK(goro_close(fd) == 0, "goro_close failed");
    tap_ok("a regular file is written and read back (system call hand-off), 0 at end of file");
}

/* ---------------------------------------------------------------- 8 */

enum { NIDLE = 100 };
static int idle_pipes[NIDLE][2];

static void idle_reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c;
    CHECK(goro_read(idle_pipes[i][0], &c, 1) == 1, "idle reader %d failed", i);
    goro_waitgroup_done(&wg);
}

static void *plain_read(void *arg)
{
    char c;
    return (void *)(intptr_t)goro_read(*(int *)arg, &c, 1);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void test_idle_waiters(void)
{
    for (int i = 0; i < NIDLE; i++)
        CHECK(pipe(idle_pipes[i]) == 0, "pipe failed");
    goro_waitgroup_add(&wg, NIDLE);
    for (int i = 0; i < NIDLE; i++)
        CHECK(goro_go(idle_reader, (void *)(intptr_t)i) > 0, "goro_go failed");
    goro_sleep(20 * MS);
    double cpu0 = cpu_seconds();
    /* Every goroutine is now blocked on I/O, this one in a sleep. */
    goro_sleep(300 * MS);
    double cpu = cpu_seconds() - cpu0;
    pthread_t th;
    void *res;
    CHECK(pthread_create(&th, NULL, plain_read, &idle_pipes[0][0]) == 0, "pthread_create failed");
    pthread_join(th, &res);
    CHECK((intptr_t)res == -EPERM, "a plain thread's blocking goro_read returned %ld", (long)(intptr_t)res);
    for (int i = 0; i < NIDLE; i++)
        CHECK(write(idle_pipes[i][1], "z", 1) == 1, "write failed");
    goro_waitgroup_wait(&wg);
    for (int i = 0; i < NIDLE; i++) {
        goro_close(idle_pipes[i][0]);
        goro_close(idle_pipes[i][1]);
    }
    tap_diag("CPU while %d goroutines waited on pipes for 300 ms: %.1f ms", NIDLE, cpu * 1e3);
    CHECK(cpu < 0.1, "%d goroutines blocked on I/O burned %.1f ms of CPU in 300 ms", NIDLE, cpu * 1e3);
    tap_ok("%d goroutines blocked on I/O: %.1f ms CPU in 300 ms, no deadlock; plain thread -EPERM", NIDLE,
           cpu * 1e3);
}

/* ---------------------------------------------------------------- 9 */

static int shared_pipe[2];
static atomic_int shared_got;

static void shared_reader(void *arg)
{
    (void)arg;
    char c;
    if (goro_read(shared_pipe[0], &c, 1) == 1)
        atomic_fetch_add(&shared_got, 1);
    goro_waitgroup_done(&wg);
}

static void drain_later(void *arg)
{
    int fd = (int)(intptr_t)arg;
    goro_sleep(50 * MS);
    char buf[65536];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    goro_waitgroup_done(&wg);
}

static void test_shared_waits(void)
{
    /* Three goroutines read one pipe at once: one waits on the pollDesc,
     * the others in poll(); all get a byte. */
    CHECK(pipe(shared_pipe) == 0, "pipe failed");
    goro_waitgroup_add(&wg, 3);
    for (int i = 0; i < 3; i++)
        CHECK(goro_go(shared_reader, NULL) > 0, "goro_go failed");
    goro_sleep(20 * MS);
    CHECK(goro_wait_fd(shared_pipe[0], POLLIN, 0) == -ETIMEDOUT, "goro_wait_fd while others read");
    CHECK(write(shared_pipe[1], "abc", 3) == 3, "write failed");
    goro_waitgroup_wait(&wg);
    CHECK(atomic_load(&shared_got) == 3, "%d of 3 concurrent readers got a byte", atomic_load(&shared_got));
    goro_close(shared_pipe[0]);
    goro_close(shared_pipe[1]);

    /* POLLIN|POLLOUT on a socket whose send buffer is full: writability
     * after the peer drains it wakes the wait. */
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0, "socketpair failed");
    char buf[4096] = { 0 };
    while (write(sv[0], buf, sizeof buf) > 0)
        ;
    goro_waitgroup_add(&wg, 1);
    CHECK(goro_go(drain_later, (void *)(intptr_t)sv[1]) > 0, "goro_go failed");
    int r = goro_wait_fd(sv[0], POLLIN | POLLOUT, 2000 * MS);
    goro_waitgroup_wait(&wg);
    CHECK(r == POLLOUT, "goro_wait_fd(POLLIN|POLLOUT) after the peer drained returned %d, want POLLOUT", r);
    goro_close(sv[0]);
    goro_close(sv[1]);

    int fd = dup(0);
    CHECK(fd >= 0, "dup failed");
    close(fd);
    CHECK(goro_read(fd, buf, 1) == -EBADF, "goro_read on a closed descriptor is not -EBADF");
    tap_ok("3 goroutines reading one pipe all get a byte; POLLIN|POLLOUT wakes on writability; closed fd -EBADF");
}

static int test_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(9);
    test_pipe_pingpong();
    test_tcp_echo();
    test_deadlines();
    test_close_wakes();
    test_wait_fd();
    test_socket_errors();
    test_regular_file();
    test_idle_waiters();
    test_shared_waits();
    return 0;
}

int main(int argc, char **argv)
{
    int rc = goro_run(test_main, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);
    return 0;
}
