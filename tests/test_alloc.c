/*
 * test_alloc — white-box test of the runtime's allocation failure policy
 * (docs/design.md, "Out of memory"): a call that can report returns
 * -ENOMEM; a path that cannot report has what it needs before it commits.
 * Linked with -Wl,--wrap= malloc, realloc, epoll_ctl, fcntl (Makefile:
 * LINK_test_alloc)
 * so that the runtime's allocations can be made to fail on demand:
 *
 * (a) goro_sleep with its P's timer heap full and realloc failing returns
 *     -ENOMEM at once (it used to return 0 at once, without sleeping: its
 *     park's unlockf failed); with memory back it sleeps.
 * (b) goro_read with a deadline, same heap: -ENOMEM (it used to end the
 *     program: "netpoll: cannot start a deadline timer").
 * (c) a periodic timer whose slot another timer filled while it ran is
 *     rearmed without memory (it used to end the program: "checkTimers:
 *     out of memory rearming a periodic timer"): the other timer's
 *     addtimer fails instead, where it can be reported.
 * (d) goroutines made by a plain thread while the only P is busy, with the
 *     global run queue unable to grow: goro_go returns -ENOMEM for a G it
 *     has no queue slot for (it used to succeed, and the full global queue
 *     ended the program: "globrunqput: out of memory"); the others run.
 * (e) epoll_ctl ADD failing with ENOMEM or ENOSPC: goro_read returns that
 *     error (no fall-back to a blocking read).
 * (f) a descriptor added to epoll that cannot be made non-blocking: the
 *     call returns the fcntl error (it used to go on with a blocking read)
 *     and the next call, with fcntl working, makes it non-blocking (it
 *     used to find it in epoll already and take it for non-blocking).
 */
#include "check.h"
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <unistd.h>

/* ------------------------------------------------------------ wrappers */

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int __real_fcntl(int fd, int cmd, ...);

static atomic_int fail_realloc;   /* every realloc fails */
static atomic_int fail_ringsize;  /* mallocs of 4 KiB and up, powers of two (globrunq_grow) */
static atomic_int fail_epoll_fd = -1, fail_epoll_errno;
static atomic_int fail_setfl_fd = -1; /* fcntl(F_SETFL) on it fails, EINVAL */
static atomic_long failed;        /* allocations failed on purpose */

void *__wrap_malloc(size_t n)
{
    if (atomic_load(&fail_ringsize) && n >= 4096 && (n & (n - 1)) == 0) {
        atomic_fetch_add(&failed, 1);
        return NULL;
    }
    return __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (atomic_load(&fail_realloc)) {
        atomic_fetch_add(&failed, 1);
        return NULL;
    }
    return __real_realloc(p, n);
}

int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    if (op == EPOLL_CTL_ADD && fd == atomic_load(&fail_epoll_fd)) {
        errno = atomic_load(&fail_epoll_errno);
        return -1;
    }
    return __real_epoll_ctl(epfd, op, fd, ev);
}

int __wrap_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long); /* every fcntl the runtime makes has an int or no argument */
    va_end(ap);
    if (cmd == F_SETFL && fd == atomic_load(&fail_setfl_fd)) {
        errno = EINVAL;
        return -1;
    }
    return __real_fcntl(fd, cmd, arg);
}

/* ------------------------------------------------------------ helpers */

enum { NFILL = 4096 };
static goro_timer *fill[NFILL];
static int nfill;

/* Adds hour-long timers until the calling goroutine's P has a full heap:
 * the next timer put there needs a realloc. Returns that P. */
static p *fill_heap(void)
{
    for (;;) {
        p *pp = getg()->m->p;
        lock(&pp->timers.lock);
        bool full = pp->timers.cap > 0 && pp->timers.n == pp->timers.cap;
        unlock(&pp->timers.lock);
        if (full)
            return pp;
        CHECK(nfill < NFILL, "heap never full after %d timers", nfill);
        fill[nfill] = goro_timer_new(3600LL * 1000000000, 0);
        CHECK(fill[nfill] != NULL, "goro_timer_new: %s", strerror(errno));
        nfill++;
    }
}

static void unfill(void)
{
    for (int i = 0; i < nfill; i++)
        CHECK(goro_timer_free(fill[i]) == 0, "goro_timer_free");
    nfill = 0;
}

/* ------------------------------------------------------------ (a) */

static void part_a(void)
{
    int rc = 0;
    for (int tries = 0; tries < 20; tries++) {
        fill_heap();
        atomic_store(&fail_realloc, 1);
        int64_t t0 = goro_now();
        rc = goro_sleep(50 * 1000000LL);
        int64_t el = goro_now() - t0;
        atomic_store(&fail_realloc, 0);
        CHECK(rc == -ENOMEM || rc == 0, "goro_sleep: %d", rc);
        if (rc == -ENOMEM) {
            CHECK(el < 50 * 1000000LL, "goro_sleep returned -ENOMEM after %lld ns: it slept", (long long)el);
            break;
        }
        /* 0: it moved to another P (with room) before sleeping; it must
         * have slept then. */
        CHECK(el >= 50 * 1000000LL, "goro_sleep returned 0 after %lld ns of 50 ms, with no memory for its timer",
              (long long)el);
    }
    CHECK(rc == -ENOMEM, "goro_sleep never reported -ENOMEM");
    int64_t t0 = goro_now();
    rc = goro_sleep(2 * 1000000LL);
    int64_t el = goro_now() - t0;
    CHECK(rc == 0 && el >= 2 * 1000000LL, "goro_sleep after memory came back: %d after %lld ns", rc, (long long)el);
    unfill();
    tap_ok("goro_sleep without memory for its timer: -ENOMEM at once; with memory it sleeps");
}

/* ------------------------------------------------------------ (b) */

static void part_b(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    ssize_t r = 0;
    char c;
    for (int tries = 0; tries < 20; tries++) {
        fill_heap();
        /* 2 s: long enough not to pass here, short enough to end a wait
         * that moved to another P (with room) before parking. */
        CHECK(goro_set_deadline(fds[0], goro_now() + 2000000000LL, 0) == 0, "goro_set_deadline");
        atomic_store(&fail_realloc, 1);
        r = goro_read(fds[0], &c, 1);
        atomic_store(&fail_realloc, 0);
        if (r == -ENOMEM)
            break;
        CHECK(r == -ETIMEDOUT, "goro_read with a deadline and no memory for its timer: %zd, want -ENOMEM", r);
    }
    CHECK(r == -ENOMEM, "goro_read never reported -ENOMEM");
    CHECK(goro_set_deadline(fds[0], 0, 0) == 0, "goro_set_deadline");
    /* With memory, the same call waits for its data. */
    CHECK(write(fds[1], "x", 1) == 1, "write");
    r = goro_read(fds[0], &c, 1);
    CHECK(r == 1 && c == 'x', "goro_read after memory came back: %zd", r);
    unfill();
    CHECK(goro_close(fds[0]) == 0 && close(fds[1]) == 0, "close");
    tap_ok("goro_read with a deadline and no memory for the deadline's timer: -ENOMEM, not a fatal error");
}

/* ------------------------------------------------------------ (c) */

static timer periodic, other;
static atomic_int fired, other_added = -1;

static void other_fire(timer *t, int64_t now)
{
    (void)t;
    (void)now;
}

/* Runs on the M that runs the timers, the periodic timer out of the heap:
 * the first time, fill the slot it left with another timer, memory
 * failing; later ones give memory back and count. */
static void periodic_fire(timer *t, int64_t now)
{
    (void)t;
    (void)now;
    if (atomic_fetch_add(&fired, 1) == 0) {
        atomic_store(&fail_realloc, 1);
        other = (timer){ .when = goro_now() + 3600LL * 1000000000, .f = other_fire, .idx = -1 };
        atomic_store(&other_added, addtimer(&other));
    } else {
        atomic_store(&fail_realloc, 0);
    }
}

static void part_c(void)
{
    int old = goro_maxprocs(1); /* one P: the timer, the fillers and other share its heap */
    /* First due in 100 ms: after the heap is full. */
    periodic = (timer){ .when = goro_now() + 100000000, .period = 1000000, .f = periodic_fire, .idx = -1 };
    CHECK(addtimer(&periodic), "addtimer");
    p *pp = fill_heap();
    CHECK(atomic_load(&fired) == 0, "the periodic timer fired before the heap was full");
    lock(&pp->timers.lock);
    bool there = load_relaxed(&periodic.pp) == pp;
    unlock(&pp->timers.lock);
    CHECK(there, "the periodic timer is not on the filled heap");
    int64_t t0 = goro_now();
    while (atomic_load(&fired) < 3) {
        CHECK(goro_now() - t0 < 10 * 1000000000LL, "the periodic timer fired %d times in 10 s", atomic_load(&fired));
        goro_yield();
    }
    atomic_store(&fail_realloc, 0);
    CHECK(atomic_load(&other_added) == 0,
          "addtimer took the slot kept for the periodic timer being run (returned %d)", atomic_load(&other_added));
    /* Stop it as timer_stop does: out of the heap, or told not to rearm. */
    for (;;) {
        if (deltimer(&periodic))
            break;
        uint32_t st = load_acquire(&periodic.state);
        if (st == TIMER_IDLE || st == TIMER_STOPPING)
            break;
        if (st == TIMER_RUNNING && cas_acqrel(&periodic.state, TIMER_RUNNING, TIMER_STOPPING))
            break;
    }
    timer_quiesce(&periodic);
    unfill();
    goro_maxprocs(old);
    tap_ok("a periodic timer is rearmed into the slot it kept; the timer added meanwhile gets -ENOMEM");
}

/* ------------------------------------------------------------ (d) */

enum { ND = 600 };
static goro_chan *release_ch;
static atomic_int ran, spawner_done;
static int64_t rcs[ND];

static void waiter(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
    goro_chan_recv(release_ch, NULL);
}

static void *spawner(void *arg)
{
    (void)arg;
    for (int i = 0; i < ND; i++)
        rcs[i] = goro_go(waiter, NULL);
    atomic_store(&spawner_done, 1);
    return NULL;
}

static void part_d(void)
{
    int old = goro_maxprocs(1);
    release_ch = goro_chan_make(0, 0);
    CHECK(release_ch != NULL, "goro_chan_make");
    atomic_store(&fail_ringsize, 1);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, spawner, NULL) == 0, "pthread_create");
    /* Hold the only P: the new goroutines pile up in the global queue. */
    while (!atomic_load(&spawner_done))
        ;
    pthread_join(th, NULL);
    atomic_store(&fail_ringsize, 0);
    int ok = 0, nomem = 0;
    for (int i = 0; i < ND; i++) {
        CHECK(rcs[i] > 0 || rcs[i] == -ENOMEM, "goro_go #%d: %lld", i, (long long)rcs[i]);
        ok += rcs[i] > 0;
        nomem += rcs[i] == -ENOMEM;
    }
    tap_diag("%d goroutines made, %d -ENOMEM", ok, nomem);
    CHECK(nomem > 0, "goro_go never reported -ENOMEM with no memory to queue its G");
    int64_t t0 = goro_now();
    while (atomic_load(&ran) < ok) {
        CHECK(goro_now() - t0 < 10 * 1000000000LL, "%d of %d goroutines ran", atomic_load(&ran), ok);
        goro_yield();
    }
    /* With memory back, more Gs can be made (and queued). */
    int64_t id = goro_go(waiter, NULL);
    CHECK(id > 0, "goro_go after memory came back: %lld", (long long)id);
    while (atomic_load(&ran) < ok + 1)
        goro_yield();
    goro_chan_close(release_ch);
    goro_maxprocs(old);
    tap_ok("goro_go without memory for a global queue slot: -ENOMEM; the goroutines made all run");
}

/* ------------------------------------------------------------ (e) */

static void part_e(void)
{
    static const int errs[] = { ENOMEM, ENOSPC };
    for (int i = 0; i < 2; i++) {
        int fds[2];
        CHECK(pipe(fds) == 0, "pipe");
        atomic_store(&fail_epoll_errno, errs[i]);
        atomic_store(&fail_epoll_fd, fds[0]);
        char c;
        ssize_t r = goro_read(fds[0], &c, 1); /* would block forever if it fell back to read() */
        atomic_store(&fail_epoll_fd, -1);
        CHECK(r == -errs[i], "goro_read with epoll_ctl ADD failing (%s): %zd", strerror(errs[i]), r);
        /* Reported, then tried again: now it is polled. */
        CHECK(write(fds[1], "y", 1) == 1, "write");
        r = goro_read(fds[0], &c, 1);
        CHECK(r == 1 && c == 'y', "goro_read once epoll_ctl works: %zd", r);
        CHECK(goro_close(fds[0]) == 0 && close(fds[1]) == 0, "close");
    }
    tap_ok("a failed epoll_ctl ADD (ENOMEM, ENOSPC) is goro_read's error, not a blocking read");
}

/* ------------------------------------------------------------ (f) */

static void part_f(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    CHECK(write(fds[1], "ab", 2) == 2, "write");
    atomic_store(&fail_setfl_fd, fds[0]);
    char c;
    ssize_t r = goro_read(fds[0], &c, 1);
    atomic_store(&fail_setfl_fd, -1);
    CHECK(r == -EINVAL, "goro_read on a descriptor that cannot be made non-blocking: %zd, want -EINVAL", r);
    r = goro_read(fds[0], &c, 1);
    CHECK(r == 1 && c == 'a', "goro_read once fcntl works: %zd", r);
    int fl = fcntl(fds[0], F_GETFL);
    CHECK(fl >= 0 && (fl & O_NONBLOCK), "the descriptor was left blocking (flags %#x)", fl);
    CHECK(goro_close(fds[0]) == 0 && close(fds[1]) == 0, "close");
    tap_ok("a descriptor that cannot be made non-blocking: the fcntl error, then non-blocking on the next call");
}

static int main_fn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tap_plan(6);
    part_a();
    part_b();
    part_c();
    part_d();
    part_e();
    part_f();
    tap_diag("%ld allocations failed on purpose", atomic_load(&failed));
    return 0;
}

GORO_MAIN(main_fn)
