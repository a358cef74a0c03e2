/*
 * test_runq — white-box test of the local run queue (runq.c) without
 * starting the runtime: plain pthreads, each owning a zeroed P.
 *
 * (a) owner semantics: FIFO, runnext first with inheritTime, a new runnext
 *     kicks the old one to the tail, overflow of the 256-slot ring moves
 *     half (128) plus the new G to the global queue, globrunqget limits.
 * (b) one owner putting SCALE(10^7) Gs (and consuming some itself) while
 *     stealer threads run runqsteal and drain the global queue: every G put
 *     is consumed exactly once.
 */
#include "check.h"
#include "runtime.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static p *new_p(int32_t id)
{
    p *pp = aligned_alloc(64, sizeof(p));
    CHECK(pp != NULL, "aligned_alloc");
    memset(pp, 0, sizeof(p));
    pp->id = id;
    pp->status = _Prunning;
    return pp;
}

static int32_t glob_size(void)
{
    spinlock(&sched.runqlock);
    int32_t n = sched.runqsize;
    spinunlock(&sched.runqlock);
    return n;
}

static g *glob_get(p *pp, int32_t max)
{
    return globrunq_take(pp, max);
}

/* ------------------------------------------------------------------ (a) */

#define NA 600
static g *ga;   /* NA zeroed Gs */

#define GI(gp) ((gp) ? (long)((gp) - ga) : -1L)

static void expect_get(p *pp, g *want, bool want_inherit, const char *what)
{
    bool inh = !want_inherit;
    g *gp = runqget(pp, &inh);
    CHECK(gp == want, "%s: runqget returned g%ld, want g%ld", what, GI(gp), GI(want));
    if (want)
        CHECK(inh == want_inherit, "%s: g%ld inheritTime=%d, want %d", what, GI(gp), inh,
              want_inherit);
}

static void part_a(void)
{
    ga = calloc(NA, sizeof(g));
    CHECK(ga != NULL, "calloc");
    for (int i = 0; i < NA; i++) {
        ga[i].goid = i + 1;
        CHECK(globrunq_reserve(), "globrunq_reserve"); /* as malg does for each G */
    }
    p *p0 = new_p(0), *p1 = new_p(1);
    gomaxprocs = 1; /* globrunqget divides by it */

    CHECK(runqempty(p0), "new P not empty");
    CHECK(runqlen(p0) == 0, "new P runqlen %u", runqlen(p0));
    expect_get(p0, NULL, false, "empty queue");

    for (int i = 0; i < 10; i++)
        runqput(p0, &ga[i], false);
    CHECK(!runqempty(p0), "queue with 10 Gs reported empty");
    CHECK(runqlen(p0) == 10, "runqlen %u, want 10", runqlen(p0));
    for (int i = 0; i < 10; i++)
        expect_get(p0, &ga[i], false, "FIFO");
    expect_get(p0, NULL, false, "FIFO drained");
    CHECK(runqempty(p0), "drained queue not empty");
    tap_ok("runqput/runqget: FIFO order, runqlen, runqempty");

    /* runnext only: not empty, returned with inheritTime. */
    runqput(p0, &ga[5], true);
    CHECK(!runqempty(p0), "queue holding only runnext reported empty");
    expect_get(p0, &ga[5], true, "runnext only");
    CHECK(runqempty(p0), "empty after taking runnext");

    runqput(p0, &ga[0], false);
    runqput(p0, &ga[1], false);
    runqput(p0, &ga[2], true);
    expect_get(p0, &ga[2], true, "runnext first");
    expect_get(p0, &ga[0], false, "then FIFO");
    expect_get(p0, &ga[1], false, "then FIFO");
    expect_get(p0, NULL, false, "drained");
    tap_ok("runnext is returned first, with inheritTime=true; queued Gs with false");

    runqput(p0, &ga[0], false);
    runqput(p0, &ga[1], true);
    runqput(p0, &ga[2], true); /* kicks ga[1] to the tail */
    runqput(p0, &ga[3], false);
    expect_get(p0, &ga[2], true, "new runnext");
    expect_get(p0, &ga[0], false, "kick order");
    expect_get(p0, &ga[1], false, "kicked runnext at the tail");
    expect_get(p0, &ga[3], false, "put after kick");
    expect_get(p0, NULL, false, "drained");
    tap_ok("a new runnext kicks the old one to the tail of the queue");

    /* Overflow: 256 fit, the 257th moves 128 + itself to the global queue. */
    CHECK(glob_size() == 0, "global queue not empty at start: %d", glob_size());
    for (int i = 0; i < RUNQ_SIZE; i++)
        runqput(p0, &ga[i], false);
    CHECK(runqlen(p0) == RUNQ_SIZE, "full queue runqlen %u", runqlen(p0));
    CHECK(glob_size() == 0, "global queue grew before the ring was full: %d", glob_size());
    runqput(p0, &ga[RUNQ_SIZE], false);
    CHECK(glob_size() == RUNQ_SIZE / 2 + 1, "overflow: sched.runqsize %d, want %d", glob_size(),
          RUNQ_SIZE / 2 + 1);
    CHECK(runqlen(p0) == RUNQ_SIZE / 2, "after overflow runqlen %u, want %d", runqlen(p0),
          RUNQ_SIZE / 2);
    tap_ok("runqput on a full ring moves 128 + the new G to the global queue (runqsize +129)");

    /* The oldest half went to the global queue in order, then the new G. */
    for (int i = 0; i < RUNQ_SIZE / 2; i++) {
        g *gp = glob_get(p1, 1);
        CHECK(gp == &ga[i], "global queue order: got g%ld, want g%d", GI(gp), i);
    }
    g *gp = glob_get(p1, 1);
    CHECK(gp == &ga[RUNQ_SIZE], "global tail: got g%ld, want the new g%d", GI(gp), RUNQ_SIZE);
    CHECK(glob_size() == 0, "global queue size %d after draining", glob_size());
    CHECK(glob_get(p1, 1) == NULL, "globrunqget on an empty global queue returned a G");
    CHECK(runqempty(p1), "globrunqget(max=1) put Gs in the local queue");
    for (int i = RUNQ_SIZE / 2; i < RUNQ_SIZE; i++)
        expect_get(p0, &ga[i], false, "local half after overflow");
    expect_get(p0, NULL, false, "drained");
    tap_ok("overflow keeps order: oldest 128 then the new G globally, newest 128 locally");

    /* A kicked runnext that overflows the ring goes to the global tail. */
    for (int i = 0; i < RUNQ_SIZE; i++)
        runqput(p0, &ga[i], false);
    runqput(p0, &ga[RUNQ_SIZE], true);     /* runnext, ring still full */
    CHECK(glob_size() == 0, "runnext put on a full ring spilled: %d", glob_size());
    runqput(p0, &ga[RUNQ_SIZE + 1], true); /* kicks ga[256] into the full ring */
    CHECK(glob_size() == RUNQ_SIZE / 2 + 1, "kick overflow: runqsize %d", glob_size());
    expect_get(p0, &ga[RUNQ_SIZE + 1], true, "runnext after kick overflow");
    for (int i = RUNQ_SIZE / 2; i < RUNQ_SIZE; i++)
        expect_get(p0, &ga[i], false, "local half after kick overflow");
    expect_get(p0, NULL, false, "drained");

    /* globrunqget limits: min(size, size/gomaxprocs+1, max, 128); the first
     * G is returned, the rest go to the local queue. */
    gomaxprocs = 4;
    gp = glob_get(p1, 0);
    int want = (RUNQ_SIZE / 2 + 1) / 4 + 1; /* 33 */
    CHECK(gp == &ga[0], "globrunqget returned g%ld, want g0", GI(gp));
    CHECK(runqlen(p1) == (uint32_t)want - 1, "gomaxprocs=4: globrunqget moved %u+1, want %d",
          runqlen(p1), want);
    CHECK(glob_size() == RUNQ_SIZE / 2 + 1 - want, "runqsize %d after globrunqget", glob_size());
    for (int i = 1; i < want; i++)
        expect_get(p1, &ga[i], false, "globrunqget batch order");
    expect_get(p1, NULL, false, "drained");
    gp = glob_get(p1, 5);
    CHECK(gp == &ga[want] && runqlen(p1) == 4, "max=5: got g%ld and %u local", GI(gp),
          runqlen(p1));
    while (runqget(p1, &(bool){0}))
        ;
    gomaxprocs = 1;
    gp = glob_get(p1, 0); /* 91 left: takes all of them */
    int left = RUNQ_SIZE / 2 + 1 - want - 5;
    CHECK(gp == &ga[want + 5] && runqlen(p1) == (uint32_t)left - 1 && glob_size() == 0,
          "gomaxprocs=1: got g%ld, %u local, %d global", GI(gp), runqlen(p1), glob_size());
    while (runqget(p1, &(bool){0}))
        ;
    CHECK(runqempty(p1), "not drained");
    tap_ok("globrunqget takes min(size, size/gomaxprocs+1, max, 128) in FIFO order");

    /* More than 128 in the global queue: one call moves at most 128. */
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i <= RUNQ_SIZE; i++)
            runqput(p0, &ga[r * (RUNQ_SIZE + 1) + i], false);
        while (runqget(p0, &(bool){0}))
            ;
    }
    CHECK(glob_size() == 2 * (RUNQ_SIZE / 2 + 1), "two overflows: %d", glob_size());
    gp = glob_get(p1, 0);
    CHECK(gp != NULL && runqlen(p1) == RUNQ_SIZE / 2 - 1, "globrunqget moved %u+1, want 128",
          runqlen(p1));
    while (runqget(p1, &(bool){0}))
        ;
    while (glob_get(p1, 1))
        ;
    CHECK(glob_size() == 0, "global queue not drained");
    tap_ok("globrunqget moves at most 128 (half a local queue)");
    globrunqfini();
    free(p0);
    free(p1);
}

/* ------------------------------------------------------------------ (b) */

#define POOL 4096 /* power of two, > 2 * RUNQ_SIZE so overflow can happen */
#define NSTEALERS 3

static g *pool;
static atomic_uint inq[POOL];      /* 1 while queued somewhere */
static atomic_uint nput[POOL], nget[POOL];
static atomic_long consumed;
static atomic_int producer_done;

/* Consumed Gs travel back to the owner through one SPSC ring per stealer. */
typedef struct ring {
    _Alignas(64) atomic_uint head; /* owner reads here */
    _Alignas(64) atomic_uint tail; /* stealer writes here */
    g *buf[POOL];
} ring;
static ring rings[NSTEALERS];

typedef struct stealer_stats {
    long steals, stolen, from_global, from_local, max_batch;
} stealer_stats;
static stealer_stats sstats[NSTEALERS];
static p *victim;
static p *mine[NSTEALERS];

static void consume_check(g *gp, const char *who)
{
    long idx = gp - pool;
    CHECK(idx >= 0 && idx < POOL, "%s: runq returned a pointer outside the pool (%p)", who,
          (void *)gp);
    unsigned was = atomic_exchange(&inq[idx], 0);
    CHECK(was == 1, "%s: g%ld consumed but it was not queued (duplicate delivery), puts=%u gets=%u",
          who, idx, atomic_load(&nput[idx]), atomic_load(&nget[idx]));
    atomic_fetch_add_explicit(&nget[idx], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&consumed, 1, memory_order_relaxed);
}

static void stealer_consume(int me, g *gp)
{
    consume_check(gp, "stealer");
    ring *r = &rings[me];
    unsigned t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    CHECK(t - atomic_load_explicit(&r->head, memory_order_acquire) < POOL, "ring overflow");
    r->buf[t % POOL] = gp;
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
}

static void *stealer(void *arg)
{
    int me = (int)(intptr_t)arg;
    p *pp = mine[me];
    stealer_stats *st = &sstats[me];
    bool inh;
    for (unsigned idle = 0;;) {
        g *gp = runqsteal(pp, victim, false);
        if (gp) {
            long batch = (long)runqlen(pp) + 1;
            CHECK(batch <= RUNQ_SIZE / 2, "runqsteal took %ld Gs, more than half a queue", batch);
            st->steals++;
            st->stolen += batch;
            if (batch > st->max_batch)
                st->max_batch = batch;
            stealer_consume(me, gp);
            while ((gp = runqget(pp, &inh))) {
                stealer_consume(me, gp);
                st->from_local++;
            }
            idle = 0;
            continue;
        }
        gp = glob_get(pp, 0);
        if (gp) {
            st->from_global += 1 + runqlen(pp);
            stealer_consume(me, gp);
            while ((gp = runqget(pp, &inh)))
                stealer_consume(me, gp);
            idle = 0;
            continue;
        }
        if (atomic_load(&producer_done)) {
            if (glob_size() == 0 && runqempty(victim))
                break;
        }
        if (++idle % 64 == 0)
            sched_yield();
        else
            cpu_relax();
    }
    CHECK(runqempty(pp), "stealer %d exits with a non-empty queue", me);
    return NULL;
}

static long owner_self, owner_glob, owner_waits, nrunnext;

static void *owner(void *arg)
{
    long n = (long)(intptr_t)arg;
    static g *freestk[POOL];
    int nfree = 0;
    for (int i = 0; i < POOL; i++)
        freestk[nfree++] = &pool[i];
    bool inh;
    for (long i = 0; i < n;) {
        if (nfree == 0) {
            for (int s = 0; s < NSTEALERS; s++) {
                ring *r = &rings[s];
                unsigned h = atomic_load_explicit(&r->head, memory_order_relaxed);
                unsigned t = atomic_load_explicit(&r->tail, memory_order_acquire);
                while (h != t)
                    freestk[nfree++] = r->buf[h++ % POOL];
                atomic_store_explicit(&r->head, h, memory_order_release);
            }
        }
        if (nfree == 0) {
            g *gp = runqget(victim, &inh);
            if (!gp)
                gp = glob_get(victim, 1);
            if (gp) {
                consume_check(gp, "owner");
                freestk[nfree++] = gp;
                owner_self++;
            } else {
                owner_waits++;
                sched_yield();
            }
            continue;
        }
        g *gp = freestk[--nfree];
        long idx = gp - pool;
        CHECK(atomic_exchange(&inq[idx], 1) == 0, "g%ld put while still queued", idx);
        atomic_fetch_add_explicit(&nput[idx], 1, memory_order_relaxed);
        bool next = (i & 15) == 0;
        nrunnext += next;
        runqput(victim, gp, next);
        i++;
        if ((i & 3) == 0) {
            gp = runqget(victim, &inh);
            if (gp) {
                consume_check(gp, "owner");
                freestk[nfree++] = gp;
                owner_self++;
            }
        }
        if ((i & 1023) == 0) {
            gp = glob_get(victim, 1);
            if (gp) {
                consume_check(gp, "owner");
                freestk[nfree++] = gp;
                owner_glob++;
            }
        }
    }
    g *gp;
    while ((gp = runqget(victim, &inh))) {
        consume_check(gp, "owner");
        owner_self++;
    }
    atomic_store(&producer_done, 1);
    return NULL;
}

static void part_b(void)
{
    long n = SCALE(10000000L);
    pool = calloc(POOL, sizeof(g));
    CHECK(pool != NULL, "calloc");
    for (int i = 0; i < POOL; i++) {
        pool[i].goid = 1000 + i;
        CHECK(globrunq_reserve(), "globrunq_reserve");
    }
    victim = new_p(10);
    for (int s = 0; s < NSTEALERS; s++)
        mine[s] = new_p(11 + s);
    gomaxprocs = NSTEALERS + 1;

    int64_t t0 = check_now_ns();
    pthread_t th[NSTEALERS + 1];
    for (int s = 0; s < NSTEALERS; s++)
        CHECK(pthread_create(&th[s], NULL, stealer, (void *)(intptr_t)s) == 0, "pthread_create");
    CHECK(pthread_create(&th[NSTEALERS], NULL, owner, (void *)(intptr_t)n) == 0,
          "pthread_create");
    for (int s = 0; s <= NSTEALERS; s++)
        pthread_join(th[s], NULL);
    double secs = (double)(check_now_ns() - t0) / 1e9;

    long steals = 0, stolen = 0, fromglob = owner_glob, maxb = 0;
    for (int s = 0; s < NSTEALERS; s++) {
        steals += sstats[s].steals;
        stolen += sstats[s].stolen;
        fromglob += sstats[s].from_global;
        if (sstats[s].max_batch > maxb)
            maxb = sstats[s].max_batch;
    }
    tap_diag("%ld puts (%ld as runnext) in %.2f s (%.1f ns/put), %d stealers", n, nrunnext, secs,
             secs * 1e9 / (double)n, NSTEALERS);
    tap_diag("owner consumed %ld itself (+%ld from global); %ld steals moved %ld Gs (avg %.1f, "
             "max %ld); %ld Gs came through the global queue; owner waited %ld times",
             owner_self, owner_glob, steals, stolen, steals ? (double)stolen / (double)steals : 0.0,
             maxb, fromglob, owner_waits);

    CHECK(atomic_load(&consumed) == n, "consumed %ld of %ld puts", atomic_load(&consumed), n);
    long puts = 0;
    for (int i = 0; i < POOL; i++) {
        CHECK(atomic_load(&inq[i]) == 0, "g%d still marked queued", i);
        CHECK(atomic_load(&nput[i]) == atomic_load(&nget[i]), "g%d put %u times, consumed %u", i,
              atomic_load(&nput[i]), atomic_load(&nget[i]));
        puts += atomic_load(&nput[i]);
    }
    CHECK(puts == n, "per-G puts add up to %ld, want %ld", puts, n);
    CHECK(glob_size() == 0 && runqempty(victim), "queues not empty at the end");
    tap_ok("concurrent put/get/steal/global: %ld Gs each consumed exactly once", n);
    CHECK(steals > 0, "no steal ever succeeded");
    tap_ok("runqsteal succeeded %ld times, never more than half a queue (max %ld)", steals, maxb);
}

int main(void)
{
    tap_plan(9);
    part_a();
    part_b();
    return 0;
}
