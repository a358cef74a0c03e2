/*
 * The netpoller (Go's netpoll.go): what netpoll.c and the OS half
 * (netpoll_epoll.c) share.
 */
#ifndef GORO_NETPOLL_H
#define GORO_NETPOLL_H

#include "runtime.h"

enum { POLL_READ = 1, POLL_WRITE = 2 };

/* rg and wg of a pollDesc (Go's pdNil, pdReady, pdWait), or the G parked
 * waiting for that direction. */
#define PD_NIL ((uintptr_t)0)
#define PD_READY ((uintptr_t)1)
#define PD_WAIT ((uintptr_t)2)

/* One per file descriptor number, never freed while the runtime runs (the
 * OS half keeps its address in epoll's event data). */
typedef struct pollDesc {
    spinmutex lock;     /* close, deadlines, timeouts; not readiness */
    int fd;
    uint32_t registered; /* atomic: 0 no, 1 polled, 2 not pollable (regular file) */
    uint32_t inited;     /* atomic: fields set before epoll may report pd (netpoll acquires it) */
    uint32_t seq;        /* atomic: bumped by goro_close; a waiter from before sees it */
    uint32_t refs;       /* atomic: calls in progress; goro_close waits for 0 (Go's fdMutex) */
    uint32_t closing;    /* atomic: goro_close is under way */
    uintptr_t rg, wg;    /* atomic: PD_NIL, PD_READY, PD_WAIT or a parked g* */
    int64_t rd, wd;      /* deadlines, goro_now() times, 0 none (under lock) */
    /* One reading and one writing call at a time, as Go's fdMutex: with
     * edge-triggered epoll a readiness edge is consumed by one waiter, and
     * a second reader parking after the first took the edge (and left data
     * behind) would wait forever. */
    goro_mutex rmu, wmu;
} pollDesc;

int netpollinit_os(void);
void netpollfini_os(void);
int netpollopen_os(int fd, pollDesc *pd);
void netpollclose_os(int fd);
void netpollready(gList *list, pollDesc *pd, int mode);

#endif
