/*
 * test_trace — goro_trace_start/stop: misuse is reported (stop without a
 * trace, a second start, a path that cannot be created); a trace of
 * goroutines that block on channels, sleep, yield, make a system call and
 * exit is written as trace-event JSON in which every goroutine created is
 * there with its creation, its runs (B/E pairs that never overlap on one
 * P) and the reasons it stopped.
 */
#include "check.h"

#include <goro.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

enum { PAIRS = 8, ROUNDS = 50, MAXP = 64, RACERS = 8 };

static atomic_int started;

static void race_start(void *arg);

static goro_waitgroup wg = GORO_WAITGROUP_INIT;
static int64_t goids[2 * PAIRS];

typedef struct pair {
    goro_chan *ping, *pong;
} pair;

static void pinger(void *arg)
{
    pair *pr = arg;
    for (int i = 0; i < ROUNDS; i++) {
        int64_t v = i;
        CHECK(goro_chan_send(pr->ping, &v) == 0, "send failed");
        CHECK(goro_chan_recv(pr->pong, &v) == 1, "recv failed");
    }
    goro_yield();
    goro_sleep(1000000);
    GORO_BLOCKING(usleep(1000));
    goro_waitgroup_done(&wg);
}

static void ponger(void *arg)
{
    pair *pr = arg;
    for (int i = 0; i < ROUNDS; i++) {
        int64_t v;
        CHECK(goro_chan_recv(pr->ping, &v) == 1, "recv failed");
        CHECK(goro_chan_send(pr->pong, &v) == 0, "send failed");
    }
    goro_waitgroup_done(&wg);
}


static void race_start(void *arg)
{
    goro_yield();
    if (goro_trace_start(arg) == 0)
        atomic_fetch_add(&started, 1);
    goro_waitgroup_done(&wg);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    CHECK(f, "cannot open the trace %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n, "cannot read the trace");
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Counts events of goroutine goid with phase ph (and reason, if given);
 * checks that B/E alternate on every track. One event per line. */
static void check_trace(char *text, int *nevents)
{
    CHECK(strncmp(text, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", 39) == 0, "trace does not start as JSON trace events");
    size_t len = strlen(text);
    CHECK(len > 4 && strcmp(text + len - 4, "\n]}\n") == 0, "trace does not end with ]}");
    long open_goid[MAXP + 1];
    for (int i = 0; i <= MAXP; i++)
        open_goid[i] = -1;
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char ph;
        int tid;
        long long goid;
        char *q = strstr(line, "\"ph\":\"");
        if (!q)
            continue;
        ph = q[6];
        char *t = strstr(line, "\"tid\":");
        if (ph == 'M' || !t)
            continue;
        n++;
        tid = atoi(t + 6);
        CHECK(sscanf(strstr(line, "\"name\":\"") + 8, "%*[a-z ]G%lld", &goid) == 1 ||
                  sscanf(strstr(line, "\"name\":\"") + 8, "G%lld", &goid) == 1,
              "no goid in %s", line);
        if (tid > MAXP)
            continue; /* the no-P track has instant events only */
        if (ph == 'B') {
            CHECK(open_goid[tid] == -1, "P%d: G%lld starts while G%ld runs", tid, goid, open_goid[tid]);
            open_goid[tid] = (long)goid;
        } else if (ph == 'E') {
            CHECK(open_goid[tid] == -1 || open_goid[tid] == goid, "P%d: G%lld stops while G%ld runs", tid, goid,
                  open_goid[tid]);
            open_goid[tid] = -1;
        }
    }
    *nevents = n;
}

static bool has(const char *text, const char *fmt, long long goid)
{
    char want[128];
    snprintf(want, sizeof want, fmt, goid);
    return strstr(text, want) != NULL;
}

static int test_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(3);
    char path[] = "/tmp/goro-trace-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp failed");
    close(fd);

    CHECK(goro_trace_stop() == -EINVAL, "goro_trace_stop without a trace did not fail");
    CHECK(goro_trace_start("/nonexistent-dir/trace.json") == -ENOENT, "a bad path did not fail with -ENOENT");
    CHECK(goro_trace_start(path) == 0, "goro_trace_start failed");
    CHECK(goro_trace_start(path) == -EBUSY, "a second goro_trace_start did not fail with -EBUSY");
    CHECK(goro_trace_stop() == 0, "goro_trace_stop failed");
    /* Starts at once from several goroutines: exactly one wins. */
    goro_waitgroup_add(&wg, RACERS);
    for (int i = 0; i < RACERS; i++)
        CHECK(goro_go(race_start, path) > 0, "goro_go failed");
    goro_waitgroup_wait(&wg);
    CHECK(atomic_load(&started) == 1, "%d of %d concurrent goro_trace_start calls succeeded", atomic_load(&started),
          RACERS);
    tap_ok("misuse: stop without a trace -EINVAL, bad path -ENOENT, second start -EBUSY, one of %d racing starts wins",
           RACERS);

    pair pairs[PAIRS];
    goro_waitgroup_add(&wg, 2 * PAIRS);
    for (int i = 0; i < PAIRS; i++) {
        pairs[i].ping = goro_chan_make(sizeof(int64_t), 0);
        pairs[i].pong = goro_chan_make(sizeof(int64_t), 0);
        goids[2 * i] = goro_go(pinger, &pairs[i]);
        goids[2 * i + 1] = goro_go(ponger, &pairs[i]);
        CHECK(goids[2 * i] > 0 && goids[2 * i + 1] > 0, "goro_go failed");
    }
    goro_waitgroup_wait(&wg);
    CHECK(goro_trace_stop() == 0, "goro_trace_stop failed");
    for (int i = 0; i < PAIRS; i++) {
        goro_chan_free(pairs[i].ping);
        goro_chan_free(pairs[i].pong);
    }

    char *text = slurp(path);
    char *copy = strdup(text);
    int nevents;
    check_trace(copy, &nevents);
    free(copy);
    tap_diag("%d events, %zu bytes", nevents, strlen(text));
    tap_ok("the trace is trace-event JSON with %d events; runs never overlap on a P", nevents);

    for (int i = 0; i < 2 * PAIRS; i++) {
        long long id = goids[i];
        CHECK(has(text, "\"name\":\"create G%lld\"", id), "no creation of G%lld", id);
        CHECK(has(text, "\"name\":\"G%lld\",\"ph\":\"B\"", id), "G%lld never ran", id);
        CHECK(has(text, "\"name\":\"unblock G%lld\"", id), "G%lld was never woken", id);
        CHECK(strstr(text, "\"reason\":\"exit\"") != NULL, "no goroutine exit recorded");
    }
    CHECK(strstr(text, "\"reason\":\"chan receive\"") || strstr(text, "\"reason\":\"chan send\""),
          "no channel block recorded");
    CHECK(strstr(text, "\"reason\":\"sleep\""), "no sleep recorded");
    CHECK(strstr(text, "\"reason\":\"syscall\""), "no system call recorded");
    CHECK(strstr(text, "\"reason\":\"yield\""), "no yield recorded");
    free(text);
    unlink(path);
    tap_ok("all %d goroutines: created, run, woken; stops for channels, sleep, yield, syscall, exit", 2 * PAIRS);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = goro_run(test_main, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);
    return 0;
}
