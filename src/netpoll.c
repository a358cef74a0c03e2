/*
 * The netpoller (Go's netpoll.go and internal/poll): goroutines wait for
 * a descriptor to become readable or writable by parking on its pollDesc;
 * the scheduler polls epoll (netpoll_epoll.c) without blocking from
 * findRunnable, blocks in it when an M has nothing else to do, and sysmon
 * polls when nobody has for 10 ms.
 *
 * rg/wg protocol (Go's): a waiter CASes PD_NIL -> PD_WAIT, then, once off
 * its stack (gopark's unlockf), PD_WAIT -> its g*. Readiness (netpollready,
 * lock-free) swaps the word to PD_READY and readies the G it found; close,
 * deadlines and timeouts (under pd->lock) swap it to PD_NIL and ready the
 * G. Whoever swaps a g* out of the word owns the wake-up: each CAS is
 * acq_rel, so the woken G sees what its waker did. A waiter that finds
 * PD_READY consumes it (edge-triggered epoll: one edge, one wake-up).
 */
#include "runtime.h"
#include "netpoll.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* fd -> pollDesc: chunks of 1024 allocated on first use and never moved,
 * so lookups need no lock. */
enum { PD_CHUNK = 1024, PD_CHUNKS = 1024 };
static pollDesc *pdtab[PD_CHUNKS];
static mutex pdtab_lock = MUTEX_INIT(LOCKRANK_PDTAB);
static uint32_t inited;          /* atomic */
static uint32_t netpollWaiters;  /* atomic: goroutines parked on a pollDesc */

bool netpollinited(void)
{
    return load_acquire(&inited) != 0;
}

/* Acquire, paired with netpollDone's release: a checkdead that reads 0
 * sees the woken goroutines already queued (and an M started for them). */
bool netpollAnyWaiters(void)
{
    return load_acquire(&netpollWaiters) != 0;
}

/* n goroutines taken from pollDescs have been readied or queued: only
 * now do they stop counting as I/O waiters. */
void netpollDone(int32_t n)
{
    if (n > 0)
        __atomic_sub_fetch(&netpollWaiters, (uint32_t)n, __ATOMIC_RELEASE);
}

/* The pollDesc slot of fd, starting the netpoller on first use: 0, or
 * -EINVAL (beyond the table), -ENOMEM, or the errno of starting the
 * netpoller (-EMFILE...: a later call tries again). */
static int pd_slot(int fd, pollDesc **out)
{
    if (fd >= PD_CHUNK * PD_CHUNKS)
        return -EINVAL;
    pollDesc *chunk = load_acquire(&pdtab[fd / PD_CHUNK]);
    if (!chunk || !load_acquire(&inited)) {
        lock(&pdtab_lock);
        /* Relaxed: under pdtab_lock, which every store of inited holds. */
        int err = load_relaxed(&inited) ? 0 : netpollinit_os();
        if (!err)
            store_release(&inited, 1);
        chunk = pdtab[fd / PD_CHUNK];
        if (!err && !chunk) {
            chunk = calloc(PD_CHUNK, sizeof *chunk);
            for (int i = 0; chunk && i < PD_CHUNK; i++)
                spinlockinit(&chunk[i].lock, LOCKRANK_POLLDESC);
            if (chunk)
                store_release(&pdtab[fd / PD_CHUNK], chunk); /* lookups acquire it */
            else
                err = -ENOMEM;
        }
        unlock(&pdtab_lock);
        if (err)
            return err;
    }
    *out = &chunk[fd % PD_CHUNK];
    return 0;
}

/* Adds pd->fd to epoll (under pd->lock): 1 polled (*added: by this call;
 * else it was there already), 2 not pollable (EPERM: served by a system
 * call hand-off), or -errno: a failed add (-ENOMEM, -ENOSPC: the user's
 * epoll watch limit) is the caller's error, never a quiet fall-back to
 * blocking the thread. A descriptor added is made non-blocking; if that
 * fails it leaves epoll again (a later add must not find it there, EEXIST,
 * and take it for non-blocking). */
static int pd_poll_os(pollDesc *pd, bool *added)
{
    int err = netpollopen_os(pd->fd, pd);
    *added = err == 0;
    if (err == -EPERM)
        return 2;
    if (err && err != -EEXIST)
        return err;
    if (!*added)
        return 1;
    int fl = fcntl(pd->fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(pd->fd, F_SETFL, fl | O_NONBLOCK) != 0)) {
        err = -errno;
        netpollclose_os(pd->fd);
        *added = false;
        return err;
    }
    return 1;
}

/* How a new pd->fd is served: 2 for regular files and block devices
 * (never added to epoll), else as pd_poll_os. */
static int pd_kind_os(pollDesc *pd)
{
    struct stat st;
    bool added;
    if (fstat(pd->fd, &st) != 0)
        return -errno;
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
        return 2;
    return pd_poll_os(pd, &added);
}

/* Registers fd's pollDesc if it is not (first use, or after goro_close):
 * 0 or -errno (-EBADF: not an open descriptor). */
static int pd_register(pollDesc *pd, int fd)
{
    int err = 0;
    spinlock(&pd->lock);
    if (!pd->registered) {
        pd->fd = fd;
        store_relaxed(&pd->rg, PD_NIL);
        store_relaxed(&pd->wg, PD_NIL);
        pd->rd = pd->wd = 0;
        /* Release: netpoll, handed pd by epoll (which TSan cannot see),
         * acquires it before touching pd. */
        store_release(&pd->inited, 1);
        int kind = pd_kind_os(pd);
        if (kind > 0)
            store_release(&pd->registered, (uint32_t)kind); /* after the fields above */
        else
            err = kind;
    }
    spinunlock(&pd->lock);
    return err;
}

/* Whether pd still describes the descriptor now at its number. goro never
 * sees a plain close(): its number may come back for a new descriptor,
 * which the stale pollDesc would leave out of epoll (a waiter parks
 * forever) and saddle with the old deadlines. EPOLL_CTL_ADD tells, for
 * one system call: the kernel drops a descriptor from epoll when its open
 * file is released and keys the others by (open file, number), so adding
 * the one at pd->fd fails with EEXIST exactly when it is the one pd
 * registered. Success (a new open file, now registered) or EPERM where
 * it was polled (now a regular file) means a new descriptor: pd starts
 * over for it, without deadlines. A regular file's number reused by
 * another regular file is not told apart (neither is ever in epoll).
 * Called before a wait parks, when a deadline has passed and before one is
 * set. Returns 1 (was stale, now current), 0 (current) or -errno. */
static int pd_refresh(pollDesc *pd)
{
    spinlock(&pd->lock);
    /* Relaxed: registered changes only under pd->lock, held here. */
    uint32_t was = load_relaxed(&pd->registered);
    bool added;
    int kind = pd_poll_os(pd, &added);
    bool stale = kind > 0 && (added || (uint32_t)kind != was);
    if (stale) {
        pd->rd = pd->wd = 0;
        store_release(&pd->registered, (uint32_t)kind);
    }
    spinunlock(&pd->lock);
    return kind < 0 ? kind : stale;
}

void netpollfini(void)
{
    if (!load_relaxed(&inited))
        return;
    netpollfini_os();
    for (int i = 0; i < PD_CHUNKS; i++) {
        free(pdtab[i]);
        pdtab[i] = NULL;
    }
    store_relaxed(&inited, 0);
    store_relaxed(&netpollWaiters, 0);
}

/* ------------------------------------------------------------ wake-ups */

static uintptr_t *pd_word(pollDesc *pd, int mode)
{
    return mode == POLL_READ ? &pd->rg : &pd->wg;
}

/* Go's netpollunblock: ioready swaps in PD_READY, otherwise PD_NIL (close,
 * deadline). Returns the parked G that the caller must ready, or NULL. */
static g *netpollunblock(pollDesc *pd, int mode, bool ioready)
{
    uintptr_t *gpp = pd_word(pd, mode);
    for (;;) {
        /* Seq-cst for goro_close: its side of pd_wait's Dekker (there). */
        uintptr_t old = __atomic_load_n(gpp, __ATOMIC_SEQ_CST);
        if (old == PD_READY)
            return NULL;
        if (old == PD_NIL && !ioready)
            return NULL;
        if (cas_acqrel(gpp, old, ioready ? PD_READY : PD_NIL))
            return old == PD_NIL || old == PD_WAIT ? NULL : (g *)old; /* still counted: netpollDone */
    }
}

/* From netpoll: pd is ready for mode; its waiters go on *list. */
void netpollready(gList *list, pollDesc *pd, int mode)
{
    if (mode & POLL_READ) {
        g *gp = netpollunblock(pd, POLL_READ, true);
        if (gp)
            glist_push(list, gp);
    }
    if (mode & POLL_WRITE) {
        g *gp = netpollunblock(pd, POLL_WRITE, true);
        if (gp)
            glist_push(list, gp);
    }
}

/* Close or a new deadline: the waiters wake up and look again. */
static void pd_wake_all(pollDesc *pd)
{
    bool foreign = !on_m();
    if (foreign && !foreign_enter())
        return; /* no runtime: nobody waits */
    g *r = netpollunblock(pd, POLL_READ, false);
    g *w = netpollunblock(pd, POLL_WRITE, false);
    if (r)
        goready(r);
    if (w)
        goready(w);
    netpollDone((r != NULL) + (w != NULL));
    if (foreign)
        foreign_exit();
}

/* A regular file is always "ready" and blocks in the kernel instead. */
static bool pd_blocking(pollDesc *pd)
{
    /* Relaxed: the caller entered pd (pd_enter acquired registered after
     * the close protocol), so this reads the value it saw or its own. */
    return load_relaxed(&pd->registered) == 2;
}

/* ------------------------------------------------------------ waiting */

typedef struct pollwait {
    pollDesc *pd;
    uintptr_t *gpp;
    g *gp;
    timer t;          /* the wait's deadline, reserved before parking (0: none) */
    int64_t when;
} pollwait;

/* The deadline fired. The waiter is parked (the word holds its G: wake
 * it) or still parking (PD_WAIT: its commit's CAS will fail and it
 * resumes by itself); either way the word goes back to PD_NIL. Only this
 * wait's own timer gets here: one waiter per direction, and the waiter
 * stops the timer (deltimer, timer_quiesce) before its frame is gone. */
static void pollwait_timeout(timer *t, int64_t now)
{
    (void)now;
    pollwait *w = t->arg;
    spinlock(&w->pd->lock);
    uintptr_t old = load_acquire(w->gpp);
    bool wake = false;
    if ((old == (uintptr_t)w->gp || old == PD_WAIT) && cas_acqrel(w->gpp, old, PD_NIL))
        wake = old != PD_WAIT;
    spinunlock(&w->pd->lock);
    if (wake) {
        g *gp = w->gp; /* w may be gone once gp runs */
        goready(gp);
        netpollDone(1);
    }
}

/* gopark's unlockf, on g0 once the G is off its stack: start the deadline
 * timer, then publish the G. Nothing of w is touched after the CAS: from
 * then on the G may be woken and its frame reused. False if readiness,
 * close or the deadline came first: the G resumes at once. The timer's
 * heap slot was taken before parking (timer_reserve), so arming it cannot
 * fail here, where nobody could be told. */
static bool pollwait_commit(g *gp, void *arg)
{
    pollwait *w = arg;
    uintptr_t *gpp = w->gpp;
    if (w->when != 0)
        timer_arm(&w->t, w->when);
    /* Counted first: whoever takes gp out of the word uncounts it. */
    __atomic_add_fetch(&netpollWaiters, 1, __ATOMIC_RELAXED);
    if (!cas_acqrel(gpp, PD_WAIT, (uintptr_t)gp)) {
        netpollDone(1);
        return false;
    }
    return true;
}

/* The earlier of the fd's deadline for mode and the call's own (0: none). */
static int64_t pd_deadline(pollDesc *pd, int mode, int64_t deadline)
{
    spinlock(&pd->lock);
    int64_t d = mode == POLL_READ ? pd->rd : pd->wd;
    spinunlock(&pd->lock);
    return deadline != 0 && (d == 0 || deadline < d) ? deadline : d;
}

static bool pd_expired(pollDesc *pd, int mode, int64_t deadline)
{
    int64_t d = pd_deadline(pd, mode, deadline);
    return d != 0 && d <= nanotime();
}

/* Error the caller must return now: -EBADF after goro_close (seq moved),
 * -ETIMEDOUT past the deadline; 0 otherwise. A passed deadline may be
 * that of a descriptor closed with close() whose number came back: the
 * new one does not inherit it (pd_refresh). The seq load is seq-cst for
 * pd_wait's Dekker with goro_close. */
static int pd_check(pollDesc *pd, int mode, uint32_t seq, int64_t deadline)
{
    /* closing too, not just seq: a call copies seq after pd_enter saw
     * closing 0, so a close that began in between is already in its copy
     * and only closing (set until the close is over, and pd_enter waits
     * out an earlier one) says so. Seq-cst: pd_wait's Dekker. */
    if (__atomic_load_n(&pd->seq, __ATOMIC_SEQ_CST) != seq || __atomic_load_n(&pd->closing, __ATOMIC_SEQ_CST))
        return -EBADF;
    if (!pd_expired(pd, mode, deadline))
        return 0;
    int stale = pd_refresh(pd);
    if (stale < 0)
        return stale;
    return stale && !pd_expired(pd, mode, deadline) ? 0 : -ETIMEDOUT;
}

/* The second waiter in one direction (or one waiting for both): the
 * pollDesc has one word per direction, so it waits in poll() with a
 * system call hand-off instead, in slices of at most 10 ms so that a
 * close, a new deadline or its own deadline is seen. 0: look again. */
static int pd_wait_poll(pollDesc *pd, int events, uint32_t seq, int64_t deadline)
{
    g *gp = getg();
    if (!gp || gp->goid <= 0)
        return -EPERM;
    int mode = (events & POLLIN) ? POLL_READ : POLL_WRITE;
    for (;;) {
        int err = pd_check(pd, mode, seq, deadline);
        if (err)
            return err;
        int64_t d = pd_deadline(pd, mode, deadline), slice = 10 * 1000000, left = d - nanotime();
        if (d != 0 && left < slice)
            slice = left > 0 ? left : 0;
        struct pollfd pfd = { .fd = pd->fd, .events = (short)events };
        int n = GORO_BLOCKING(poll(&pfd, 1, (int)((slice + 999999) / 1000000)));
        if (n != 0)
            return 0; /* ready, or an error the caller's system call reports */
    }
}

/* Parks until pd is ready for mode (returns 0, and the caller retries its
 * system call), or returns -EBADF (closed), -ETIMEDOUT (the fd's deadline
 * or this call's, 0 for none), -EPERM (not a goroutine), -ENOMEM (no
 * memory for the deadline's timer; it did not wait). */
static int pd_wait(pollDesc *pd, int mode, uint32_t seq, int64_t deadline)
{
    g *gp = getg();
    if (!gp || gp->goid <= 0)
        return -EPERM;
    int err = pd_check(pd, mode, seq, deadline);
    if (err)
        return err;
    uintptr_t *gpp = pd_word(pd, mode);
    for (;;) {
        uintptr_t old = load_acquire(gpp);
        if (old == PD_READY && cas_acqrel(gpp, PD_READY, PD_NIL))
            return 0;
        if (old != PD_NIL && old != PD_READY) /* another goroutine waits */
            return pd_wait_poll(pd, mode == POLL_READ ? POLLIN : POLLOUT, seq, deadline);
        /* Seq-cst: see below. */
        if (old == PD_NIL && __atomic_compare_exchange_n(gpp, &old, PD_WAIT, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            break;
    }
    /* The number may hold a new descriptor that epoll does not watch
     * (closed with close() and reused): it would never wake us. Then the
     * call tries again on it, now watched; one that cannot be polled keeps
     * its EAGAIN. */
    err = pd_refresh(pd);
    if (err == 0 && pd_blocking(pd))
        err = -EAGAIN;
    if (err) {
        cas_acqrel(gpp, PD_WAIT, PD_NIL);
        return err > 0 ? 0 : err;
    }
    /* A close or deadline that came between the check and PD_WAIT found
     * nobody to wake: look again before parking. For goro_close this is
     * store buffering (Dekker): we store PD_WAIT and then load seq, it
     * stores seq and then loads the word (pd_wake_all). Both sides are
     * seq-cst (the CAS above and pd_check's load; goro_close's increment
     * and netpollunblock's load), so in their single total order either
     * our load follows its increment (we see the close) or its load follows
     * our CAS (it sees PD_WAIT, swaps in PD_NIL, and our commit's CAS
     * fails). With acquire/release alone both could read the old values:
     * we would park with nobody to wake us, and goro_close would wait for
     * our reference forever. Deadlines need no such care: both sides take
     * pd->lock (goro_set_deadline around its store, pd_check around its
     * load), which orders them. */
    int64_t d = pd_deadline(pd, mode, deadline);
    err = pd_check(pd, mode, seq, deadline);
    if (err) {
        cas_acqrel(gpp, PD_WAIT, PD_NIL);
        return err;
    }
    pollwait w = { .pd = pd, .gpp = gpp, .gp = gp, .t = { .f = pollwait_timeout, .idx = -1 }, .when = d };
    w.t.arg = &w;
    if (d != 0 && !timer_reserve(&w.t)) {
        cas_acqrel(gpp, PD_WAIT, PD_NIL);
        return -ENOMEM; /* no memory for the deadline's timer: not parked */
    }
    gopark(pollwait_commit, &w, mode == POLL_READ ? waitReasonIORead : waitReasonIOWrite);
    if (d != 0) {
        deltimer(&w.t);
        timer_quiesce(&w.t); /* its function may still be running */
    }
    /* Our waker left PD_READY (readiness) or PD_NIL (close, deadline,
     * timeout); after a close the word may already be a new waiter's, so
     * the close is checked first. */
    err = pd_check(pd, mode, seq, deadline);
    if (err)
        return err;
    if (load_acquire(gpp) == PD_READY)
        cas_acqrel(gpp, PD_READY, PD_NIL);
    return 0; /* ready, or a new deadline: look again */
}

/* ------------------------------------------------------------ API */

/* Waits a moment for another call or a close to make progress; a
 * goroutine sleeps so that the P runs the others (or, with no memory for
 * the sleep's timer, yields to them: its callers only wait, and cannot
 * fail). */
static void pd_pause(void)
{
    g *gp = getg();
    if (gp && gp->goid > 0) {
        if (goro_sleep(20 * 1000) == -ENOMEM)
            goro_yield();
    } else
        usleep_ns(20 * 1000);
}

static void pd_leave(pollDesc *pd)
{
    __atomic_sub_fetch(&pd->refs, 1, __ATOMIC_RELEASE); /* goro_close acquires it */
}

/* A call is in progress on pd until pd_leave: goro_close waits for it to
 * leave before closing the descriptor, as Go's fdMutex does, so no call
 * ever uses a closed (or reused) descriptor number. A call that meets a
 * close under way waits for it to finish: the number may be reused.
 *
 * Seq-cst refs and closing: Dekker with goro_close, which sets closing and
 * then reads refs; either goro_close sees this reference and waits for
 * it, or this call sees closing. The pollDesc is looked at (registered)
 * only after closing reads 0: goro_close clears registered before it
 * clears closing (release), so a call that reads the cleared closing (an
 * acquire, being seq-cst) reads registered 0 and registers the number
 * afresh, never the closed descriptor's registration (issue 7, point 10:
 * read the other way round, registered 1 could be the closed one's and
 * closing 0 the end of that close). */
static int pd_enter(int fd, pollDesc **pdp)
{
    if (fd < 0)
        return -EBADF;
    int err = pd_slot(fd, pdp);
    if (err)
        return err;
    pollDesc *pd = *pdp;
    for (;;) {
        __atomic_add_fetch(&pd->refs, 1, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&pd->closing, __ATOMIC_SEQ_CST))
            break;
        pd_leave(pd);
        while (load_acquire(&pd->closing))
            pd_pause();
    }
    err = load_acquire(&pd->registered) ? 0 : pd_register(pd, fd);
    if (err)
        pd_leave(pd);
    return err;
}

/* The start of every call: fd's pollDesc entered (pd_leave at the end)
 * and its close sequence; or -EBADF/-EINVAL/-ETIMEDOUT to return at once. */
static int pd_prepare(int fd, int mode, pollDesc **pdp, uint32_t *seq)
{
    int err = pd_enter(fd, pdp);
    if (err)
        return err;
    *seq = load_acquire(&(*pdp)->seq);
    err = pd_check(*pdp, mode, *seq, 0);
    if (err)
        pd_leave(*pdp);
    return err;
}

/* read, and write below, returning -errno: errno read after a
 * GORO_BLOCKING could be another thread's (the goroutine may come back on
 * another M). */
static ssize_t sys_read(int fd, void *buf, size_t len)
{
    ssize_t n = read(fd, buf, len);
    return n < 0 ? -errno : n;
}

/* After a non-blocking call failed with errno e: 0 to try again (EINTR,
 * or EAGAIN and fd became ready), or the error to return. */
static int pd_retry(pollDesc *pd, int mode, uint32_t seq, int e)
{
    if (e == EINTR)
        return 0;
    if (e != EAGAIN)
        return -e;
    return pd_wait(pd, mode, seq, 0);
}

/* A regular file blocks in the kernel (a system call hand-off); EAGAIN
 * from one means that its number now holds a new descriptor (pd_wait). */
static ssize_t fd_read(pollDesc *pd, uint32_t seq, int fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = pd_blocking(pd) ? GORO_BLOCKING(sys_read(fd, buf, len)) : sys_read(fd, buf, len);
        if (n >= 0)
            return n;
        int err = pd_retry(pd, POLL_READ, seq, (int)-n);
        if (err)
            return err;
    }
}

/* Serialises the calls in one direction (see pollDesc.rmu); -EBADF if a
 * close came while waiting for the lock, which is then not held. */
static int pd_lock(pollDesc *pd, goro_mutex *mu, uint32_t seq)
{
    g *gp = getg();
    if (!gp || gp->goid <= 0) {
        if (!goro_mutex_trylock(mu))
            return -EPERM; /* a plain thread cannot wait for a goroutine's call */
    } else {
        goro_mutex_lock(mu);
    }
    if (load_acquire(&pd->seq) == seq)
        return 0;
    goro_mutex_unlock(mu);
    return -EBADF;
}

ssize_t goro_read(int fd, void *buf, size_t len)
{
    pollDesc *pd;
    uint32_t seq;
    int err = pd_prepare(fd, POLL_READ, &pd, &seq);
    if (err)
        return err;
    ssize_t r = pd_lock(pd, &pd->rmu, seq);
    if (r == 0) {
        r = fd_read(pd, seq, fd, buf, len);
        goro_mutex_unlock(&pd->rmu);
    }
    pd_leave(pd);
    return r;
}

/* send with MSG_NOSIGNAL on sockets (a gone peer gives EPIPE, not
 * SIGPIPE) and MSG_DONTWAIT (never blocking the thread, even where the
 * number now holds a new descriptor in blocking mode that pd_refresh has
 * not seen yet); write on anything else. -errno on failure. */
static ssize_t write_nosignal(int fd, const void *buf, size_t len)
{
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == ENOTSOCK)
        n = write(fd, buf, len);
    return n < 0 ? -errno : n;
}

static ssize_t sys_write(int fd, const void *buf, size_t len)
{
    ssize_t n = write(fd, buf, len);
    return n < 0 ? -errno : n;
}

static ssize_t fd_write(pollDesc *pd, uint32_t seq, int fd, const void *buf, size_t len)
{
    int err;
    size_t done = 0;
    while (done < len || len == 0) {
        err = pd_check(pd, POLL_WRITE, seq, 0);
        if (err)
            return err;
        ssize_t n;
        if (pd_blocking(pd))
            n = GORO_BLOCKING(sys_write(fd, (const char *)buf + done, len - done));
        else
            n = write_nosignal(fd, (const char *)buf + done, len - done);
        if (n >= 0) {
            done += (size_t)n;
            if (len == 0)
                break;
            continue;
        }
        err = pd_retry(pd, POLL_WRITE, seq, (int)-n);
        if (err)
            return err;
    }
    return (ssize_t)len;
}

ssize_t goro_write(int fd, const void *buf, size_t len)
{
    pollDesc *pd;
    uint32_t seq;
    int err = pd_prepare(fd, POLL_WRITE, &pd, &seq);
    if (err)
        return err;
    ssize_t r = pd_lock(pd, &pd->wmu, seq);
    if (r == 0) {
        r = fd_write(pd, seq, fd, buf, len);
        goro_mutex_unlock(&pd->wmu);
    }
    pd_leave(pd);
    return r;
}

static int fd_accept(pollDesc *pd, uint32_t seq, int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    for (;;) {
        int nfd = accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (nfd >= 0)
            return nfd;
        int err = pd_retry(pd, POLL_READ, seq, errno == ECONNABORTED ? EINTR : errno);
        if (err)
            return err;
    }
}

int goro_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    pollDesc *pd;
    uint32_t seq;
    int err = pd_prepare(fd, POLL_READ, &pd, &seq);
    if (err)
        return err;
    int r = pd_lock(pd, &pd->rmu, seq);
    if (r == 0) {
        r = fd_accept(pd, seq, fd, addr, addrlen);
        goro_mutex_unlock(&pd->rmu);
    }
    pd_leave(pd);
    return r;
}

static int fd_connect(pollDesc *pd, uint32_t seq, int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    int err;
    if (connect(fd, addr, addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR && errno != EAGAIN)
        return -errno;
    /* In progress: writable once it is established or has failed. */
    for (;;) {
        err = pd_wait(pd, POLL_WRITE, seq, 0);
        if (err)
            return err;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            return -errno;
        if (soerr == 0) {
            struct sockaddr_storage peer;
            socklen_t pl = sizeof peer;
            if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0)
                return 0;
            continue; /* woken early: not connected yet */
        }
        if (soerr != EINPROGRESS && soerr != EALREADY && soerr != EINTR)
            return -soerr;
    }
}

int goro_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    pollDesc *pd;
    uint32_t seq;
    int err = pd_prepare(fd, POLL_WRITE, &pd, &seq);
    if (err)
        return err;
    int r = pd_lock(pd, &pd->wmu, seq);
    if (r == 0) {
        r = fd_connect(pd, seq, fd, addr, addrlen);
        goro_mutex_unlock(&pd->wmu);
    }
    pd_leave(pd);
    return r;
}

static int fd_wait(pollDesc *pd, int fd, int events, int64_t timeout_ns, bool on_pd)
{
    int err;
    uint32_t seq = load_acquire(&pd->seq);
    int64_t deadline = timeout_ns > 0 ? nanotime_after(timeout_ns) : 0;
    for (;;) {
        /* The level now (edge-triggered epoll only reports changes). */
        struct pollfd pfd = { .fd = fd, .events = (short)events };
        int n = poll(&pfd, 1, 0);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0 && (pfd.revents & POLLNVAL))
            return -EBADF;
        if (n > 0) {
            int got = pfd.revents & (POLLIN | POLLOUT | POLLHUP | POLLERR);
            if (got & (POLLHUP | POLLERR))
                got |= events;
            if (got & (POLLIN | POLLOUT))
                return got & (POLLIN | POLLOUT);
        }
        if (timeout_ns == 0)
            return -ETIMEDOUT;
        err = on_pd ? pd_wait(pd, events == POLLIN ? POLL_READ : POLL_WRITE, seq, deadline)
                    : pd_wait_poll(pd, events, seq, deadline);
        if (err)
            return err;
    }
}

int goro_wait_fd(int fd, int events, int64_t timeout_ns)
{
    events &= POLLIN | POLLOUT;
    if (!events)
        return -EINVAL;
    pollDesc *pd;
    int err = pd_enter(fd, &pd);
    if (err)
        return err;
    /* With the direction free, wait on the pollDesc like a read or write
     * (holding its lock); while a call uses it (or for both directions),
     * wait in poll() so as not to take that call's readiness edge. */
    goro_mutex *mu = events == POLLIN ? &pd->rmu : events == POLLOUT ? &pd->wmu : NULL;
    bool locked = mu && goro_mutex_trylock(mu);
    int r = fd_wait(pd, fd, events, timeout_ns, locked);
    if (locked)
        goro_mutex_unlock(mu);
    pd_leave(pd);
    return r;
}

int goro_set_deadline(int fd, int64_t read_deadline, int64_t write_deadline)
{
    pollDesc *pd;
    int err = pd_enter(fd, &pd);
    if (err)
        return err;
    /* Deadlines go to the descriptor now at fd: one a later pd_refresh
     * found stale would lose them. */
    err = pd_refresh(pd);
    if (err < 0) {
        pd_leave(pd);
        return err;
    }
    spinlock(&pd->lock);
    pd->rd = read_deadline > 0 ? read_deadline : 0;
    pd->wd = write_deadline > 0 ? write_deadline : 0;
    spinunlock(&pd->lock);
    /* Blocked calls wake up and wait again with the new deadlines. */
    pd_wake_all(pd);
    pd_leave(pd);
    return 0;
}

/* Waits for the calls in progress on pd to leave: they see the new seq
 * (those parked were woken) within one poll slice. */
static void pd_drain(pollDesc *pd)
{
    while (__atomic_load_n(&pd->refs, __ATOMIC_SEQ_CST) != 0)
        pd_pause();
}

int goro_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    pollDesc *chunk = fd < PD_CHUNK * PD_CHUNKS ? load_acquire(&pdtab[fd / PD_CHUNK]) : NULL;
    pollDesc *pd = chunk ? &chunk[fd % PD_CHUNK] : NULL;
    uint32_t open = 0;
    if (!pd || !load_acquire(&pd->registered))
        return close(fd) == 0 ? 0 : -errno; /* not ours */
    /* Seq-cst: closing is set before refs is read (pd_enter's Dekker). A
     * close already under way owns the number: closing it here too could
     * close a descriptor that reused it once the first one is done. */
    if (!__atomic_compare_exchange_n(&pd->closing, &open, 1, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        return -EBADF;
    /* Seq-cst: pd_wait's Dekker (there); a waiter that sees the new seq
     * sees the close. */
    __atomic_add_fetch(&pd->seq, 1, __ATOMIC_SEQ_CST);
    pd_wake_all(pd);
    pd_drain(pd);
    if (load_relaxed(&pd->registered) == 1)
        netpollclose_os(fd);
    /* close under the lock that pd_register holds to register the number
     * again: a later call on it finds it closed (-EBADF) or reused, never
     * half-closed. registered is cleared before closing (pd_enter's
     * argument): a call that sees the close over sees the pollDesc
     * unregistered. */
    spinlock(&pd->lock);
    int rc = close(fd) == 0 ? 0 : -errno;
    store_release(&pd->registered, 0);
    spinunlock(&pd->lock);
    store_release(&pd->closing, 0); /* the number may now be registered again */
    return rc;
}
