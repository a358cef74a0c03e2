/*
 * goro — Go's runtime scheduler (the GMP model) as a C library.
 *
 * Its reference, every function with its errors and who may call it, is
 * docs/API.md (installed as share/doc/goro/API.md). Every function that
 * returns int, ssize_t or int64_t reports failure with a negative errno
 * value (the E* constants of <errno.h>, included here).
 */
#ifndef GORO_H
#define GORO_H

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* _Noreturn is C11 only: C++ spells it [[noreturn]] (C++11) or, before,
 * with the GNU attribute. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define GORO_NORETURN [[noreturn]]
#elif defined(__cplusplus)
#define GORO_NORETURN __attribute__((noreturn))
#else
#define GORO_NORETURN _Noreturn
#endif

/* The library is built with hidden visibility: only this API is exported. */
#pragma GCC visibility push(default)

/* ---- Runtime lifecycle ---- */

/* main_fn's return value; -EINVAL main_fn NULL, -EBUSY while a runtime
 * runs, -ENOMEM (or -EAGAIN: no thread) when the runtime cannot be built,
 * e.g. under an address-space limit; nothing is left running then. */
int goro_run(int (*main_fn)(int argc, char **argv), int argc, char **argv);
/* Signals: goro handles SIGSEGV/SIGBUS (stack overflow), SIGURG (it
 * interrupts system calls with it) and SIGQUIT (dump, exit 2). Handlers
 * the program installed before goro_run still get the SIGSEGV, SIGBUS and
 * SIGURG that are not goro's, with their sa_mask, SA_SIGINFO, SA_NODEFER
 * and SA_RESETHAND (not SA_RESTART: an interrupted call returns EINTR);
 * a program's own SIGQUIT handler is left in place. */

#define GORO_MAIN(fn) \
    int main(int argc, char **argv) { return goro_run((fn), argc, argv); }

/* ---- Goroutines ---- */

typedef void (*goro_fn)(void *arg);

typedef struct goro_attr {
    size_t stack_size;   /* 0 = default; rounded up to a power of two, at least 16 KiB */
    const char *name;    /* shown in dumps and traces; may be NULL; copied */
} goro_attr;

int64_t goro_go(goro_fn fn, void *arg);
int64_t goro_go_attr(goro_fn fn, void *arg, const goro_attr *attr);
void    goro_yield(void);
GORO_NORETURN void goro_exit(void);
int64_t goro_self(void);
int     goro_maxprocs(int n);
int     goro_numgoroutine(void);
int     goro_numcpu(void);
void    goro_lock_os_thread(void);   /* runtime.LockOSThread (nests): no other goroutine runs on this thread */
void    goro_unlock_os_thread(void); /* undoes one goro_lock_os_thread; a goroutine that exits locked ends its thread */
void    goro_preempt_point(void);

/* ---- System calls ---- */

/* entersyscall / exitsyscall: between the two calls the goroutine blocks
 * in the kernel and may call no goro_ function; its P goes to another M
 * if the call lasts (sysmon retakes it after 20 us to 10 ms). No-ops
 * outside a goroutine; an exit without an enter does nothing. */
void goro_syscall_enter(void);
void goro_syscall_exit(void);
/* Evaluates expr between goro_syscall_enter() and goro_syscall_exit() and
 * yields its value, e.g. ssize_t n = GORO_BLOCKING(read(fd, buf, len)); */
#define GORO_BLOCKING(expr)                          \
    __extension__({                                  \
        goro_syscall_enter();                        \
        __typeof__(expr) goro_blocking_result_ = (expr); \
        goro_syscall_exit();                         \
        goro_blocking_result_;                       \
    })

/* ---- I/O on the netpoller ----
 * Sockets, pipes and ttys are switched to non-blocking mode and the calling
 * goroutine parks until the descriptor is ready (epoll); regular files are
 * read and written with a system call hand-off. -EINTR is never returned.
 * A descriptor used here must be closed with goro_close. Reads (and
 * accepts) of one descriptor run one at a time, as do writes (and
 * connects); goro_wait_fd on a direction in use (or on both) waits in
 * poll() through a system call hand-off. From a thread that is not a
 * goroutine, a call that would block is -EPERM. A descriptor epoll cannot
 * take (-ENOMEM, -ENOSPC: max_user_watches) is the call's error, never a
 * blocking fall-back; so is no memory for a deadline's timer (-ENOMEM,
 * without waiting). */
ssize_t goro_read(int fd, void *buf, size_t len);        /* bytes read, 0 at end of file, or -errno */
ssize_t goro_write(int fd, const void *buf, size_t len); /* writes all len bytes: len or -errno (-EPIPE, no SIGPIPE, on a socket) */
int     goro_accept(int fd, struct sockaddr *addr, socklen_t *addrlen); /* new fd, non-blocking and close-on-exec */
int     goro_connect(int fd, const struct sockaddr *addr, socklen_t addrlen); /* 0 or -errno (-ECONNREFUSED, ...) */
int     goro_wait_fd(int fd, int events, int64_t timeout_ns); /* POLLIN/POLLOUT: the ready events, or -ETIMEDOUT */
int     goro_set_deadline(int fd, int64_t read_deadline, int64_t write_deadline); /* absolute goro_now() times, 0 = none; also for calls already blocked (-ETIMEDOUT) */
int     goro_close(int fd);   /* wakes goroutines blocked on fd with -EBADF, then closes it; -EBADF while another goro_close of fd is under way */

/* ---- Channels and select ---- */

typedef struct goro_chan goro_chan;

goro_chan *goro_chan_make(size_t elem_size, size_t cap); /* NULL+EINVAL on elem_size*cap overflow; elem_size 0 allowed */
int    goro_chan_send(goro_chan *c, const void *elem);   /* 0 sent; -EPIPE closed; -EINVAL c NULL, or elem NULL with elem_size > 0 */
int    goro_chan_recv(goro_chan *c, void *elem);         /* 1 received; 0 closed and drained; elem may be NULL */
int    goro_chan_trysend(goro_chan *c, const void *elem);/* 0, -EAGAIN would block, -EPIPE closed, -EINVAL as send */
int    goro_chan_tryrecv(goro_chan *c, void *elem);      /* 1, 0 closed and drained, -EAGAIN would block */
int    goro_chan_close(goro_chan *c);                    /* 0; -EPIPE already closed; wakes every waiter */
size_t goro_chan_len(const goro_chan *c);
size_t goro_chan_cap(const goro_chan *c);
int    goro_chan_free(goro_chan *c);                     /* 0; -EBUSY while goroutines wait on it (nothing freed) */
/* Freeing a channel twice, or closing a freed one, ends the process with
 * "fatal error: CALL: channel already freed" (exit status 2)
 * while the freed memory has not been reused; once reused it cannot be
 * told from a live object (use after free is undefined, as in C). */

enum { GORO_RECV = 1, GORO_SEND = 2 };
typedef struct goro_case {
    goro_chan *chan;  /* NULL: never ready (Go's nil channel) */
    int dir;          /* GORO_RECV or GORO_SEND */
    void *elem;       /* SEND: value to send; RECV: where to store it (may be NULL) */
    int ok;           /* out: 1 value moved; 0 channel closed (for SEND: nothing was sent) */
} goro_case;

/* Index of the case that proceeded (uniformly random among the ready ones);
 * timeout_ns 0: -EAGAIN when none is ready, > 0: -ETIMEDOUT, < 0: forever.
 * -EINVAL: cases NULL with n > 0, a dir that is neither GORO_RECV nor
 * GORO_SEND, or a SEND case with a NULL elem on a channel whose elements
 * are not empty. */
int goro_select(goro_case *cases, size_t n, int64_t timeout_ns);

/* ---- Synchronisation (statically initialisable, no free needed) ---- */

/* Go's sync.Mutex: state = locked | woken | starving | waiters << 3. */
typedef struct goro_mutex {
    int32_t state;
    uint32_t sema;
} goro_mutex;
#define GORO_MUTEX_INIT { 0, 0 }

typedef struct goro_rwmutex {
    goro_mutex w;            /* held by the pending or active writer */
    uint32_t writer_sem, reader_sem;
    int32_t reader_count;    /* negative while a writer is pending */
    int32_t reader_wait;     /* readers the pending writer waits for */
} goro_rwmutex;
#define GORO_RWMUTEX_INIT { GORO_MUTEX_INIT, 0, 0, 0, 0 }

typedef struct goro_once {
    uint32_t done;
    goro_mutex m;
} goro_once;
#define GORO_ONCE_INIT { 0, GORO_MUTEX_INIT }

/* Go's notifyList: tickets taken by waiters, a list of parked waiters. */
typedef struct goro_cond {
    uint32_t wait, notify;
    uint32_t lock, reserved;
    void *head, *tail;
} goro_cond;
#define GORO_COND_INIT { 0, 0, 0, 0, NULL, NULL }

/* Blocking calls park the goroutine. On a plain thread goro_cond_wait and
 * goro_waitgroup_wait return at once (they cannot block there), while the
 * lock calls wait by polling: returning without the lock would be worse.
 * As in Go, a mutex may be unlocked by another goroutine than the one that
 * locked it, or by a plain thread. The void calls below cannot return
 * -EINVAL: given a NULL object (or goro_once_do a NULL fn) they end the
 * process with "fatal error: CALL: NULL argument" and exit status 2, as Go
 * panics on a nil *sync.Mutex. */
void goro_mutex_lock(goro_mutex *m);
int  goro_mutex_trylock(goro_mutex *m);       /* 1 acquired, 0 not, -EINVAL m NULL */
void goro_mutex_unlock(goro_mutex *m);
void goro_rwmutex_rlock(goro_rwmutex *m);
void goro_rwmutex_runlock(goro_rwmutex *m);
void goro_rwmutex_lock(goro_rwmutex *m);
void goro_rwmutex_unlock(goro_rwmutex *m);
void goro_once_do(goro_once *o, goro_fn fn, void *arg);
void goro_cond_wait(goro_cond *c, goro_mutex *m);
void goro_cond_signal(goro_cond *c);
void goro_cond_broadcast(goro_cond *c);

/* Go's sync.WaitGroup: state = counter << 32 | waiters, sema parks waiters. */
typedef struct goro_waitgroup {
    uint64_t state;
    uint32_t sema;
    uint32_t reserved;
} goro_waitgroup;
#define GORO_WAITGROUP_INIT { 0, 0, 0 }

/* 0; -EINVAL (counter unchanged) if wg is NULL or the counter would go
 * negative or past INT32_MAX (including counter + delta overflowing). */
int  goro_waitgroup_add(goro_waitgroup *wg, int64_t delta);
void goro_waitgroup_done(goro_waitgroup *wg); /* goro_waitgroup_add(wg, -1); NULL: nothing */
void goro_waitgroup_wait(goro_waitgroup *wg); /* NULL: returns at once */

/* ---- Time ---- */

int64_t goro_now(void);                     /* monotonic nanoseconds */
int     goro_sleep(int64_t ns);             /* 0; parks the goroutine (not the thread) for at least ns; -ENOMEM no memory for its timer (did not sleep); -EPERM not a goroutine */

typedef struct goro_timer goro_timer;
goro_timer *goro_timer_new(int64_t delay_ns, int64_t period_ns);  /* period 0: one shot */
goro_chan  *goro_timer_chan(goro_timer *t); /* cap 1, elem int64_t = goro_now() at firing; NULL+EINVAL for goro_after_func's */
goro_timer *goro_after_func(int64_t delay_ns, goro_fn fn, void *arg); /* fn runs in its own goroutine */
int goro_timer_stop(goro_timer *t);         /* 1 stopped before firing, 0 already fired or stopped */
int goro_timer_reset(goro_timer *t, int64_t delay_ns); /* 1 if it was active, 0 if not (Go's Reset); -ENOMEM: not restarted (left stopped) */
int goro_timer_free(goro_timer *t);         /* 0; stops it, then frees it and its channel (-EBUSY while waited on) */
/* Delays and periods are clamped at the end of time: goro_now() + ns past
 * INT64_MAX means never, not at once (Go's time.Sleep(math.MaxInt64)).
 * The timer calls return -EINVAL (pointer calls NULL+EINVAL) for a NULL
 * timer and, all but goro_timer_chan, -EPERM (NULL+EPERM) from a plain
 * thread while no runtime runs.
 * A timer used after goro_timer_free ends the process with "fatal error:
 * CALL: timer already freed" (exit status 2) while its memory has not been
 * reused, as for channels. */

/* ---- Observability ---- */

typedef struct goro_stats {
    int64_t goroutines;        /* live */
    int64_t threads;           /* Ms */
    int64_t idle_threads;
    int64_t spinning_threads;
    int64_t procs;             /* GOMAXPROCS */
    int64_t idle_procs;
    int64_t global_runq;
    int64_t context_switches;  /* since start */
    int64_t steals;            /* goroutines taken from another P's run queue */
    int64_t preemptions;       /* requested by sysmon, cooperative + async */
    int64_t syscall_handoffs;  /* Ps retaken from Ms blocked in system calls */
    int64_t stack_bytes_reserved;
    int64_t stack_bytes_committed;
} goro_stats;

void goro_read_stats(goro_stats *out); /* out NULL: does nothing */
/* goro_dump writes every goroutine: "goroutine N [wait reason or state]:",
 * its name, a backtrace of a goroutine that is not running (frame pointers;
 * symbol+offset where dladdr knows the symbol, module+offset otherwise) and
 * its creator. Returns 0, -EBADF if fd is not open, or the -errno of the
 * first write that failed (-ENOSPC, -EBADF for a read-only fd, -EPIPE, ...),
 * skipping the rest; a pipe with no reader raises SIGPIPE, as write(2)
 * does, unless the program ignores or blocks it. */
int  goro_dump(int fd);
/* Execution trace, from a goroutine: every goroutine's creation, runs on
 * each P, stops (blocked and why, yield, preemption, system call, exit) and
 * wake-ups, written by goro_trace_stop as Chrome trace-event JSON (open it
 * in ui.perfetto.dev or chrome://tracing). */
int  goro_trace_start(const char *path); /* 0; -EINVAL path NULL, -EBUSY if one is running, -errno if path cannot be created,
                                            -EPERM off a goroutine, -ESRCH while the runtime is exiting */
int  goro_trace_stop(void);              /* 0 once the file is written; -EINVAL if none is running, -EPERM off a goroutine,
                                            -ENOMEM, -ESRCH while the runtime is exiting, -errno of the file's write or close */

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* GORO_H */
