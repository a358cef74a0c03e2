/*
 * test_pingpong — semacquire/semrelease (internal, runtime.h) ping-pong.
 *
 * A pair of goroutines hands a token back and forth 10^5 times through two
 * uint32 semaphores: ping writes the round number into a plain variable,
 * releases "a", waits on "b"; pong waits on "a", checks the number, writes
 * its answer, releases "b". Strict alternation and the plain (non-atomic)
 * accesses check both wake-ups and the happens-before edge a semaphore must
 * give (TSan flags it if missing). Then 8 pairs at once, so that pairs are
 * stolen and run on several Ps.
 */
#include "check.h"
#include "runtime.h"

#include <stdatomic.h>

typedef struct pair {
    uint32_t a, b;       /* the two semaphores */
    long rounds;
    long ball;           /* plain variable handed over by the semaphores */
    long pings, pongs;
    atomic_int running;  /* both sides of a pair are never running at once */
    goro_waitgroup *wg;
} pair;

static void ping(void *arg)
{
    pair *pr = arg;
    for (long i = 1; i <= pr->rounds; i++) {
        CHECK(atomic_fetch_add(&pr->running, 1) == 0, "ping runs while pong holds the ball");
        pr->ball = i;
        pr->pings++;
        atomic_fetch_sub(&pr->running, 1);
        semrelease(&pr->a);
        semacquire(&pr->b);
        CHECK(pr->ball == -i, "ping round %ld: ball is %ld, want %ld", i, pr->ball, -i);
    }
    goro_waitgroup_done(pr->wg);
}

static void pong(void *arg)
{
    pair *pr = arg;
    for (long i = 1; i <= pr->rounds; i++) {
        semacquire(&pr->a);
        CHECK(atomic_fetch_add(&pr->running, 1) == 0, "pong runs while ping holds the ball");
        CHECK(pr->ball == i, "pong round %ld: ball is %ld, want %ld", i, pr->ball, i);
        pr->ball = -i;
        pr->pongs++;
        atomic_fetch_sub(&pr->running, 1);
        semrelease(&pr->b);
    }
    goro_waitgroup_done(pr->wg);
}

static double run_pairs(int npairs, long rounds, const char *what)
{
    goro_waitgroup wg = GORO_WAITGROUP_INIT;
    pair *prs = calloc((size_t)npairs, sizeof(pair));
    CHECK(prs != NULL, "calloc");
    CHECK(goro_waitgroup_add(&wg, 2 * npairs) == 0, "waitgroup_add");
    int64_t t0 = check_now_ns();
    for (int k = 0; k < npairs; k++) {
        prs[k].rounds = rounds;
        prs[k].wg = &wg;
        /* Alternate the start order so that half the pairs begin blocked. */
        if (k & 1) {
            CHECK(goro_go(pong, &prs[k]) > 0, "goro_go(pong)");
            CHECK(goro_go(ping, &prs[k]) > 0, "goro_go(ping)");
        } else {
            CHECK(goro_go(ping, &prs[k]) > 0, "goro_go(ping)");
            CHECK(goro_go(pong, &prs[k]) > 0, "goro_go(pong)");
        }
    }
    goro_waitgroup_wait(&wg);
    double ns = (double)(check_now_ns() - t0);
    for (int k = 0; k < npairs; k++) {
        CHECK(prs[k].pings == rounds && prs[k].pongs == rounds,
              "%s pair %d: %ld pings, %ld pongs, want %ld", what, k, prs[k].pings, prs[k].pongs,
              rounds);
        CHECK(__atomic_load_n(&prs[k].a, __ATOMIC_SEQ_CST) == 0 &&
                  __atomic_load_n(&prs[k].b, __ATOMIC_SEQ_CST) == 0, "%s pair %d: semaphores left at %u/%u", what, k,
              prs[k].a, prs[k].b);
    }
    free(prs);
    return ns;
}

static uint32_t tok;
static atomic_long holders, total;
static long tokper;

static void worker(void *arg)
{
    goro_waitgroup *wg = arg;
    for (long i = 0; i < tokper; i++) {
        semacquire(&tok);
        CHECK(atomic_fetch_add(&holders, 1) == 0, "two goroutines hold a 1-token semaphore");
        atomic_fetch_add(&total, 1);
        if (i % 3 == 0)
            goro_yield();
        atomic_fetch_sub(&holders, 1);
        semrelease(&tok);
    }
    goro_waitgroup_done(wg);
}

static void counter_sema(void *arg)
{
    uint32_t *s = arg;
    semacquire(s);
}

static int main_fn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(4);

    /* A semaphore is a counter: releases without a waiter are kept. */
    uint32_t s = 0;
    semrelease(&s);
    semrelease(&s);
    CHECK(s == 2, "two releases: sema %u, want 2", s);
    semacquire(&s);
    semacquire(&s);
    CHECK(s == 0, "two acquires: sema %u, want 0", s);
    /* A waiter woken by a later release. */
    CHECK(goro_go(counter_sema, &s) > 0, "goro_go");
    for (int i = 0; i < 100; i++)
        goro_yield();
    semrelease(&s);
    int64_t t0 = check_now_ns();
    while (goro_numgoroutine() != 1) {
        CHECK(check_now_ns() - t0 < 10 * 1000000000ll, "waiter not woken by semrelease in 10 s");
        goro_yield();
    }
    CHECK(__atomic_load_n(&s, __ATOMIC_SEQ_CST) == 0, "sema %u after the waiter took it", s);
    tap_ok("semrelease without a waiter is kept; a parked semacquire is woken");

    long rounds = SCALE(100000L);
    double ns = run_pairs(1, rounds, "single");
    tap_diag("1 pair: %ld round trips in %.1f ms, %.0f ns per round trip", rounds, ns / 1e6,
             ns / (double)rounds);
    tap_ok("one pair: %ld strict round trips", rounds);

    goro_stats st0, st1;
    goro_read_stats(&st0);
    int npairs = 8;
    long r8 = SCALE(20000L);
    ns = run_pairs(npairs, r8, "8 pairs");
    goro_read_stats(&st1);
    tap_diag("%d pairs: %ld round trips each in %.1f ms, %.0f ns per round trip overall; "
             "steals %lld, context switches %lld, threads %lld",
             npairs, r8, ns / 1e6, ns / (double)(r8 * npairs),
             (long long)(st1.steals - st0.steals),
             (long long)(st1.context_switches - st0.context_switches), (long long)st1.threads);
    tap_ok("%d pairs at once: every pair completed %ld strict round trips", npairs, r8);

    /* Many goroutines sharing one semaphore holding a single token: every
     * release wakes exactly one waiter, and mutual exclusion holds. */
    int nw = 32;
    long per = SCALE(2000L);
    tokper = per;
    goro_waitgroup wg2 = GORO_WAITGROUP_INIT;
    CHECK(goro_waitgroup_add(&wg2, nw) == 0, "waitgroup_add");
    for (int i = 0; i < nw; i++)
        CHECK(goro_go(worker, &wg2) > 0, "goro_go(worker)");
    semrelease(&tok); /* one token */
    goro_waitgroup_wait(&wg2);
    CHECK(atomic_load(&total) == nw * per, "token passes %ld, want %ld", atomic_load(&total),
          nw * per);
    CHECK(__atomic_load_n(&tok, __ATOMIC_SEQ_CST) == 1, "token semaphore ends at %u, want 1", tok);
    tap_ok("%d goroutines share a 1-token semaphore: mutual exclusion held for %ld passes", nw,
           nw * per);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = goro_run(main_fn, argc, argv);
    CHECK(rc == 0, "goro_run returned %d", rc);
    return 0;
}
