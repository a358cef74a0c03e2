/*
 * test_netpoll_stress — a randomized stress test of the netpoller API on
 * AF_UNIX stream socketpairs, everything at once under goro_run:
 *   1. per pair, a writer sends numbered 64-bit values (tagged with the
 *      pair) in random chunks of 1..4096 bytes, now and then yielding or
 *      sleeping, and closes its end; a reader reads with random buffer
 *      sizes, sometimes under a short read deadline (goro_set_deadline),
 *      and checks every byte: no gap, no duplicate, no foreign data, end of
 *      file exactly after the last value. -ETIMEDOUT only under a deadline,
 *      and only once it has passed;
 *   2. meanwhile goroutines call goro_wait_fd(POLLIN, POLLOUT or both, a
 *      random timeout) on random ends: a non-empty subset of the events
 *      asked for, or -ETIMEDOUT (on a writer's end, never before the
 *      timeout);
 *   3. afterwards no goroutine is left behind.
 * The descriptors stay open until the round is over (the writer ends its
 * stream with shutdown): a call that starts on a number while another
 * goroutine closes it is a use-after-close race by definition, so
 * goro_close waking blocked calls is test_netpoll's, where it is ordered.
 * Every loop calls goro_preempt_point(): a call that returns at once does
 * not enter the scheduler, and preemption is cooperative (design.md).
 * GORO_STRESS_SEED=n reruns with the seed printed by a failed run (the
 * scheduling still differs).
 */
#include "check.h"

#include <errno.h>
#include <goro.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define MS 1000000ll
#define US 1000ll


typedef struct pair {
    int id;
    uint64_t tag;         /* round * npairs + id: in every value */
    int fd[2];            /* [0] the writer's end, [1] the reader's */
    uint64_t nvals;       /* values the writer sends */
    bool wdone, rdone;    /* the whole stream sent, received */
    uint64_t wbytes, rbytes;
    long deadlines, timeouts;
} pair;

static uint64_t base_seed;
static int round_no; /* written by main between rounds only */
static int npairs;
static pair *pairs;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;
static atomic_int streams_left; /* readers and writers still running */

/* xorshift64*, seeded per goroutine from the base seed. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t seed_for(int who, int role)
{
    uint64_t s = base_seed ^ ((uint64_t)who * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)role << 56) ^
                 ((uint64_t)round_no << 40);
    s = s ? s : 1;
    for (int i = 0; i < 4; i++)
        rnd(&s);
    return s;
}

/* Byte pos of pair p's stream: value i is (tag << 40 | i), little-endian. */
static inline uint8_t stream_byte(const pair *p, uint64_t pos)
{
    uint64_t v = (p->tag << 40) | (pos / 8);
    return (uint8_t)(v >> (8 * (pos % 8)));
}

/* ---------------------------------------------------------------- writer */

static void writer(void *arg)
{
    pair *p = arg;
    uint64_t s = seed_for(p->id, 1);
    uint8_t buf[4096];
    uint64_t total = p->nvals * 8, pos = 0;
    while (pos < total) {
        goro_preempt_point();
        size_t n = 1 + rnd(&s) % sizeof buf;
        if (n > total - pos)
            n = (size_t)(total - pos);
        for (size_t i = 0; i < n; i++)
            buf[i] = stream_byte(p, pos + i);
        ssize_t r = goro_write(p->fd[0], buf, n);
        CHECK(r == (ssize_t)n, "round %d pair %d: goro_write of %zu bytes at %llu returned %zd (seed %llu)", round_no, p->id, n,
              (unsigned long long)pos, r, (unsigned long long)base_seed);
        pos += n;
        uint64_t k = rnd(&s) % 16;
        if (k == 0)
            goro_yield();
        else if (k == 1)
            goro_sleep((int64_t)(rnd(&s) % (1 * MS)));
    }
    p->wbytes = pos;
    p->wdone = true;
    CHECK(shutdown(p->fd[0], SHUT_WR) == 0, "shutdown failed"); /* end of file for the reader */
    atomic_fetch_sub(&streams_left, 1);
    goro_waitgroup_done(&wg);
}

/* ---------------------------------------------------------------- reader */

static void reader(void *arg)
{
    pair *p = arg;
    uint64_t s = seed_for(p->id, 2);
    uint8_t buf[8192];
    uint64_t total = p->nvals * 8, pos = 0;
    int fd = p->fd[1];
    for (;;) {
        goro_preempt_point();
        /* Mostly small buffers, sometimes large ones. */
        size_t want = 1 + rnd(&s) % (rnd(&s) % 4 ? 512 : sizeof buf);
        int64_t dl = 0;
        if (rnd(&s) % 8 == 0) {
            dl = goro_now() + (int64_t)(rnd(&s) % (2 * MS));
            int r = goro_set_deadline(fd, dl, 0);
            CHECK(r == 0, "round %d pair %d: goro_set_deadline returned %d", round_no, p->id, r);
            p->deadlines++;
        }
        ssize_t n = goro_read(fd, buf, want);
        if (dl) {
            int64_t now = goro_now();
            if (n == -ETIMEDOUT) {
                CHECK(now >= dl, "round %d pair %d: -ETIMEDOUT %lld ns before the deadline (seed %llu)", round_no, p->id,
                      (long long)(dl - now), (unsigned long long)base_seed);
                p->timeouts++;
            }
            int r = goro_set_deadline(fd, 0, 0);
            CHECK(r == 0, "round %d pair %d: clearing the deadline returned %d", round_no, p->id, r);
        } else {
            CHECK(n != -ETIMEDOUT, "round %d pair %d: goro_read returned -ETIMEDOUT with no deadline set (seed %llu)", round_no, p->id,
                  (unsigned long long)base_seed);
        }
        if (n == -ETIMEDOUT)
            continue;
        CHECK(n >= 0, "round %d pair %d: goro_read returned %zd at byte %llu (seed %llu)", round_no, p->id, n, (unsigned long long)pos,
              (unsigned long long)base_seed);
        if (n == 0) {
            CHECK(pos == total, "round %d pair %d: end of file after %llu of %llu bytes (seed %llu)", round_no, p->id,
                  (unsigned long long)pos, (unsigned long long)total, (unsigned long long)base_seed);
            p->rdone = true;
            break;
        }
        CHECK(pos + (uint64_t)n <= total, "round %d pair %d: %llu bytes past the end of the stream", round_no, p->id,
              (unsigned long long)(pos + (uint64_t)n - total));
        for (ssize_t i = 0; i < n; i++, pos++) {
            if (buf[i] != stream_byte(p, pos)) {
                uint64_t want_v = (p->tag << 40) | (pos / 8);
                CHECK(buf[i] == stream_byte(p, pos),
                      "round %d pair %d: byte %llu (value %llu byte %d) is 0x%02x, want 0x%02x of value 0x%llx (seed %llu)",
                      round_no, p->id, (unsigned long long)pos, (unsigned long long)(pos / 8), (int)(pos % 8), buf[i],
                      stream_byte(p, pos), (unsigned long long)want_v, (unsigned long long)base_seed);
            }
        }
    }
    p->rbytes = pos;
    atomic_fetch_sub(&streams_left, 1);
    goro_waitgroup_done(&wg);
}

static atomic_long wait_res[4]; /* POLLIN, POLLOUT, both, anything else */
static atomic_long wait_timeouts, wait_calls;

static void fd_waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t s = seed_for(id, 4);
    static const int evs[3] = { POLLIN, POLLOUT, POLLIN | POLLOUT };
    while (atomic_load(&streams_left) > 0) {
        goro_preempt_point();
        pair *p = &pairs[rnd(&s) % (uint64_t)npairs];
        int end = (int)(rnd(&s) % 2);
        int events = evs[rnd(&s) % 3];
        int64_t timeout = rnd(&s) % 4 == 0 ? 0 : (int64_t)(rnd(&s) % (2 * MS)) + 1;
        int64_t t0 = goro_now();
        int r = goro_wait_fd(p->fd[end], events, timeout);
        int64_t took = goro_now() - t0;
        atomic_fetch_add(&wait_calls, 1);
        if (r > 0) {
            CHECK((r & ~events) == 0, "goro_wait_fd(round %d pair %d end %d, events %#x) returned %#x", round_no, p->id, end, events, r);
            atomic_fetch_add(&wait_res[r == POLLIN ? 0 : r == POLLOUT ? 1 : r == (POLLIN | POLLOUT) ? 2 : 3], 1);
        } else if (r == -ETIMEDOUT) {
            /* The reader's end may carry the reader's deadline, which also
             * ends a wait for POLLIN; the writer's end has none. */
            CHECK(end == 1 || took >= timeout,
                  "goro_wait_fd(round %d pair %d writer end, events %#x, %lld ns) timed out after %lld ns", round_no, p->id, events,
                  (long long)timeout, (long long)took);
            atomic_fetch_add(&wait_timeouts, 1);
        } else {
            CHECK(false, "goro_wait_fd(round %d pair %d end %d, events %#x, %lld ns) returned %d", round_no, p->id, end, events,
                  (long long)timeout, r);
        }
        /* Park a moment: spinning waiters would keep a lone P from ever
         * polling the netpoller for the streams (only sysmon would). */
        goro_sleep((int64_t)(rnd(&s) % (50 * US)));
    }
    goro_waitgroup_done(&wg);
}

/* ---------------------------------------------------------------- main */

/* Totals over the rounds. */
static long tot_deadlines, tot_timeouts, tot_pairs;
static uint64_t tot_bytes;

static void run_round(int nwaiters)
{
    uint64_t seed = seed_for(0, 0);
    memset(pairs, 0, (size_t)npairs * sizeof *pairs);
    for (int i = 0; i < npairs; i++) {
        pair *p = &pairs[i];
        p->id = i;
        p->tag = (uint64_t)round_no * (uint64_t)npairs + (uint64_t)i;
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fd) == 0, "socketpair failed");
        p->nvals = 4096 + rnd(&seed) % 28672; /* 32..256 KiB */
    }
    atomic_store(&streams_left, 2 * npairs);
    goro_waitgroup_add(&wg, 2 * npairs + nwaiters);
    for (int i = 0; i < npairs; i++) {
        CHECK(goro_go(reader, &pairs[i]) > 0, "goro_go failed");
        CHECK(goro_go(writer, &pairs[i]) > 0, "goro_go failed");
    }
    for (int i = 0; i < nwaiters; i++)
        CHECK(goro_go(fd_waiter, (void *)(intptr_t)(i + 1)) > 0, "goro_go failed");
    goro_waitgroup_wait(&wg);

    for (int i = 0; i < npairs; i++) {
        pair *p = &pairs[i];
        tot_deadlines += p->deadlines;
        tot_timeouts += p->timeouts;
        tot_bytes += p->rbytes;
        CHECK(p->rdone && p->wdone && p->rbytes == p->nvals * 8 && p->wbytes == p->rbytes,
              "round %d pair %d: reader %s with %llu bytes, writer %s with %llu of %llu", round_no, p->id,
              p->rdone ? "done" : "stopped", (unsigned long long)p->rbytes, p->wdone ? "done" : "stopped",
              (unsigned long long)p->wbytes, (unsigned long long)(p->nvals * 8));
        CHECK(goro_close(p->fd[0]) == 0 && goro_close(p->fd[1]) == 0, "goro_close failed");
    }
    tot_pairs += npairs;
}

static int test_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(3);
    const char *env = getenv("GORO_STRESS_SEED");
    base_seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)check_now_ns() ^ ((uint64_t)getpid() << 32);
    tap_diag("seed %llu (GORO_STRESS_SEED=%llu reproduces the random choices)", (unsigned long long)base_seed,
             (unsigned long long)base_seed);

    npairs = (int)SCALE(64);
    int nwaiters = (int)SCALE(16) < 2 ? 2 : (int)SCALE(16);
    int rounds = 10;
    pairs = calloc((size_t)npairs, sizeof *pairs);
    CHECK(pairs, "calloc failed");
    int64_t start = goro_now();
    /* New socketpairs every round: the descriptor numbers come back, and
     * their pollDescs must start afresh. */
    int64_t slowest = 0;
    for (round_no = 0; round_no < rounds; round_no++) {
        int64_t t0 = goro_now();
        run_round(nwaiters);
        if (goro_now() - t0 > slowest)
            slowest = goro_now() - t0;
    }
    double secs = (goro_now() - start) / 1e9;
    free(pairs);

    /* 1: every stream arrived whole. */
    tap_diag("%d rounds of %d pairs, %.1f MiB verified in %.2f s (slowest round %.0f ms); %ld read deadlines, "
             "%ld expired",
             rounds, npairs, tot_bytes / 1048576.0, secs, slowest / 1e6, tot_deadlines, tot_timeouts);
    tap_ok("%ld socketpair streams arrived whole, in order, no gap or duplicate; -ETIMEDOUT only past a deadline "
           "(%ld of %ld)",
           tot_pairs, tot_timeouts, tot_deadlines);

    /* 2: goro_wait_fd alongside. */
    long calls = atomic_load(&wait_calls);
    tap_diag("goro_wait_fd: %ld calls: %ld POLLIN, %ld POLLOUT, %ld both, %ld -ETIMEDOUT", calls,
             atomic_load(&wait_res[0]), atomic_load(&wait_res[1]), atomic_load(&wait_res[2]),
             atomic_load(&wait_timeouts));
    CHECK(atomic_load(&wait_res[3]) == 0, "goro_wait_fd returned an impossible event set");
    CHECK(calls == atomic_load(&wait_res[0]) + atomic_load(&wait_res[1]) + atomic_load(&wait_res[2]) +
                       atomic_load(&wait_timeouts),
          "goro_wait_fd outcomes do not add up");
    CHECK(calls >= (long)nwaiters * rounds, "only %ld goro_wait_fd calls", calls);
    tap_ok("%d goroutines x %d rounds made %ld goro_wait_fd calls on the same sockets: events asked for or -ETIMEDOUT",
           nwaiters, rounds, calls);

    /* 3: nothing left behind. */
    int left = 0;
    for (int i = 0; i < 100 && (left = goro_numgoroutine()) > 1; i++)
        goro_sleep(1 * MS);
    CHECK(left == 1, "%d goroutines still alive after the stress", left);
    tap_ok("every goroutine finished (%d left: main)", left);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = goro_run(test_main, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);
    return 0;
}
