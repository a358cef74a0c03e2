/*
 * The netpoller's Linux half (Go's netpoll_epoll.go): one epoll instance
 * in edge-triggered mode, and an eventfd that interrupts a blocked
 * epoll_wait (netpollBreak). netpoll.c holds the poll descriptors and what
 * the scheduler sees.
 */
#include "runtime.h"
#include "netpoll.h"

#include <errno.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { NETPOLL_EVENTS = 128 };

static int epfd = -1;
static int breakfd = -1;
static uint32_t breaking; /* atomic: a break is written and not yet read */
static char break_marker; /* its address tags the eventfd's events */
static uint32_t no_pwait2;  /* atomic: the kernel lacks epoll_pwait2 */

/* 0, or -errno (-EMFILE, -ENFILE, -ENOMEM) with nothing left open: the
 * caller returns the error and a later call tries again. */
int netpollinit_os(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -errno;
    int bfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &break_marker };
    if (bfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, bfd, &ev) != 0) {
        int err = -errno;
        if (bfd >= 0)
            close(bfd);
        close(ep);
        return err;
    }
    epfd = ep;
    breakfd = bfd;
    return 0;
}

void netpollfini_os(void)
{
    if (epfd >= 0)
        close(epfd);
    if (breakfd >= 0)
        close(breakfd);
    epfd = breakfd = -1;
    store_relaxed(&breaking, 0);
}

/* 0 (added), -EEXIST (this descriptor, the same open file at the same
 * number, is already watched), -EPERM (fd cannot be polled: a regular
 * file), or another -errno. */
int netpollopen_os(int fd, pollDesc *pd)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = pd };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

void netpollclose_os(int fd)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Wakes an M blocked in netpoll. The flag keeps a burst of breaks to one
 * write: the acquire/release pair orders it with the drain in netpoll. */
void netpollBreak(void)
{
    if (epfd < 0 || !cas_acqrel(&breaking, 0, 1))
        return;
    uint64_t one = 1;
    while (write(breakfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* Waits up to delay ns (< 0 forever, 0 not at all) and readies, through
 * netpollready, the goroutines whose descriptors became ready: they are
 * pushed on *list. */
/* epoll_wait's timeout: milliseconds rounded up, -1 to block; a delay
 * past INT_MAX ms (24.8 days) is capped, not wrapped to a negative
 * "forever" that would sleep through the timer it was computed for. */
static int delay_ms(int64_t delay)
{
    if (delay < 0)
        return -1;
    int64_t ms = delay / 1000000 + (delay % 1000000 != 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

void netpoll(int64_t delay, gList *list)
{
    if (epfd < 0)
        return;
    struct timespec ts, *tsp = NULL;
    if (delay >= 0) {
        ts.tv_sec = delay / 1000000000;
        ts.tv_nsec = delay % 1000000000;
        tsp = &ts;
    }
    struct epoll_event events[NETPOLL_EVENTS];
    int n = -1;
    if (!load_relaxed(&no_pwait2)) {
        n = epoll_pwait2(epfd, events, NETPOLL_EVENTS, tsp, NULL);
        if (n < 0 && errno == ENOSYS)
            store_relaxed(&no_pwait2, 1);
    }
    if (load_relaxed(&no_pwait2)) /* before Linux 5.11, or filtered by seccomp: milliseconds, rounded up */
        n = epoll_wait(epfd, events, NETPOLL_EVENTS, delay_ms(delay));
    if (n < 0) {
        if (errno != EINTR)
            throwf("netpoll: epoll_pwait2 failed: errno %d", errno);
        return;
    }
    for (int i = 0; i < n; i++) {
        struct epoll_event *ev = &events[i];
        if (ev->data.ptr == &break_marker) {
            /* Only a poll that could have blocked consumes a break: one
             * with delay 0 may have raced with an M that blocked since. */
            if (delay != 0) {
                uint64_t v;
                while (read(breakfd, &v, sizeof v) < 0 && errno == EINTR)
                    ;
                store_release(&breaking, 0);
            }
            continue;
        }
        pollDesc *pd = ev->data.ptr;
        load_acquire(&pd->inited); /* pairs with pd_get's release: pd is set up */
        int mode = 0;
        if (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            mode |= POLL_READ;
        if (ev->events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            mode |= POLL_WRITE;
        netpollready(list, pd, mode);
    }
}
