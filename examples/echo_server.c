/*
 * echo_server: a TCP echo server with one goroutine per connection, the
 * way a Go server is written. Blocking-style reads and writes park the
 * goroutine on the netpoller; a few threads serve every connection.
 *
 *   build/examples/echo_server 7000      serve on 127.0.0.1:7000 until killed
 *   build/examples/echo_server           serve on a free port, run 400 client
 *                                        goroutines against it, print the time
 */
#include <arpa/inet.h>
#include <goro.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLIENTS = 400, MESSAGES = 250 }; /* 800 descriptors: under the usual 1,024 limit */

static void serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n;
    while ((n = goro_read(fd, buf, sizeof buf)) > 0)
        if (goro_write(fd, buf, (size_t)n) < 0)
            break;
    goro_close(fd);
}

static void accept_loop(void *arg)
{
    int listener = (int)(intptr_t)arg;
    for (;;) {
        int fd = goro_accept(listener, NULL, NULL);
        if (fd < 0) {
            fprintf(stderr, "accept: %s\n", strerror(-fd));
            return;
        }
        goro_go(serve_conn, (void *)(intptr_t)fd);
    }
}

static struct sockaddr_in server;
static goro_waitgroup clients_done = GORO_WAITGROUP_INIT;

/* Sends MESSAGES lines and checks each echo. */
static void client(void *arg)
{
    int id = (int)(intptr_t)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || goro_connect(fd, (struct sockaddr *)&server, sizeof server) != 0) {
        fprintf(stderr, "client %d: cannot connect\n", id);
        exit(1);
    }
    for (int i = 0; i < MESSAGES; i++) {
        char msg[64], echo[64];
        int len = snprintf(msg, sizeof msg, "client %d message %d\n", id, i);
        ssize_t got = 0;
        goro_write(fd, msg, (size_t)len);
        while (got < len) {
            ssize_t n = goro_read(fd, echo + got, (size_t)(len - got));
            if (n <= 0) {
                fprintf(stderr, "client %d: connection lost\n", id);
                exit(1);
            }
            got += n;
        }
        if (memcmp(msg, echo, (size_t)len) != 0) {
            fprintf(stderr, "client %d: wrong echo\n", id);
            exit(1);
        }
    }
    goro_close(fd);
    goro_waitgroup_done(&clients_done);
}

static int echo_main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    server = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof server;
    if (bind(listener, (struct sockaddr *)&server, len) != 0 || listen(listener, 1024) != 0 ||
        getsockname(listener, (struct sockaddr *)&server, &len) != 0) {
        perror("echo_server: listen");
        return 1;
    }
    printf("echo server on 127.0.0.1:%d\n", ntohs(server.sin_port));
    fflush(stdout);
    goro_go(accept_loop, (void *)(intptr_t)listener);
    if (port != 0) {
        goro_waitgroup_add(&clients_done, 1);
        goro_waitgroup_wait(&clients_done); /* serve until killed */
    }
    int64_t start = goro_now();
    goro_waitgroup_add(&clients_done, CLIENTS);
    for (int i = 0; i < CLIENTS; i++)
        goro_go(client, (void *)(intptr_t)i);
    goro_waitgroup_wait(&clients_done);
    double secs = (goro_now() - start) / 1e9;
    goro_stats st;
    goro_read_stats(&st);
    printf("%d clients x %d round trips in %.2f s (%.0f round trips/s) on %lld threads\n", CLIENTS, MESSAGES,
           secs, CLIENTS * MESSAGES / secs, (long long)st.threads);
    return 0;
}

GORO_MAIN(echo_main)
