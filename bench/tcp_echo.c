/*
 * tcp_echo: 50 connections over loopback, each a client goroutine sending
 * 2,000 64-byte messages to a server goroutine that echoes them; ns per
 * round trip (all connections together, so the netpoller serves many at
 * once). Twin: go/tcp_echo.go.
 */
#include <arpa/inet.h>
#include <goro.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CONNS = 50, ROUNDS = 2000, MSG = 64 };

static struct sockaddr_in server;
static goro_waitgroup done = GORO_WAITGROUP_INIT;

static void die(const char *what)
{
    fprintf(stderr, "tcp_echo: %s\n", what);
    exit(1);
}

static void read_full(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = goro_read(fd, buf + got, len - got);
        if (n <= 0)
            die("read failed");
        got += (size_t)n;
    }
}

static void serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[MSG];
    for (int i = 0; i < ROUNDS; i++) {
        read_full(fd, buf, MSG);
        if (goro_write(fd, buf, MSG) != MSG)
            die("server write failed");
    }
    goro_close(fd);
}

static void acceptor(void *arg)
{
    int listener = (int)(intptr_t)arg;
    for (int i = 0; i < CONNS; i++) {
        int fd = goro_accept(listener, NULL, NULL);
        if (fd < 0)
            die("accept failed");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        goro_go(serve, (void *)(intptr_t)fd);
    }
}

static void client(void *arg)
{
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || goro_connect(fd, (struct sockaddr *)&server, sizeof server) != 0)
        die("connect failed");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char msg[MSG], echo[MSG];
    memset(msg, 'x', MSG);
    for (int i = 0; i < ROUNDS; i++) {
        if (goro_write(fd, msg, MSG) != MSG)
            die("client write failed");
        read_full(fd, echo, MSG);
    }
    if (memcmp(msg, echo, MSG) != 0)
        die("wrong echo");
    goro_close(fd);
    goro_waitgroup_done(&done);
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    server = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof server;
    if (listener < 0 || bind(listener, (struct sockaddr *)&server, len) != 0 || listen(listener, CONNS) != 0 ||
        getsockname(listener, (struct sockaddr *)&server, &len) != 0)
        die("listen failed");
    goro_go(acceptor, (void *)(intptr_t)listener);
    int64_t start = goro_now();
    goro_waitgroup_add(&done, CONNS);
    for (int i = 0; i < CONNS; i++)
        goro_go(client, NULL);
    goro_waitgroup_wait(&done);
    int64_t elapsed = goro_now() - start;
    goro_close(listener);
    printf("RESULT tcp_echo %.1f ns/op\n", (double)elapsed / (CONNS * ROUNDS));
    return 0;
}

GORO_MAIN(bench_main)
