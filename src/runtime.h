/*
 * Internal structures of the goro runtime: G, M, P and schedt, after Go's
 * src/runtime/runtime2.go. Names follow Go's so that the seeds and Go's
 * sources can be read side by side with this code.
 *
 * Symbols declared here are global inside the library only: the static and
 * shared libraries export nothing but the goro_* API (see Makefile).
 */
#ifndef GORO_RUNTIME_H
#define GORO_RUNTIME_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "goro.h"
#include "lockrank.h"

#define CACHE_LINE 64

typedef struct g g;
typedef struct m m;
typedef struct p p;

/* ---------------------------------------------------------------- atomics
 * Thin spellings of the GCC builtins; every call site says its ordering. */
#define load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define cas_acqrel(p, old, new)                                              \
    __extension__({                                                          \
        __typeof__(*(p)) _o = (old);                                         \
        __atomic_compare_exchange_n((p), &_o, (new), false, __ATOMIC_ACQ_REL, \
                                    __ATOMIC_ACQUIRE);                       \
    })
#define xadd_seqcst(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

/* ------------------------------------------------------------ fatal errors */
_Noreturn void throw(const char *msg);
_Noreturn void throwf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Objects the user frees (channels, timers) carry a word: live until
 * freed, then freed; calls check it on entry (use after free, detected
 * while the block is not reused). */
void check_live(const uint64_t *word, uint64_t live, uint64_t freed, const char *call, const char *what);
void mark_freed(uint64_t *word, uint64_t freed);

/* ------------------------------------------------------------ lock_futex.c
 * Every lock has a rank (lockrank.h: the order they are taken in). The
 * sanitizer builds (-DGORO_LOCKRANK) keep it in the lock and check the
 * order; a zeroed lock has none there, so each is ranked where it is made
 * (lockinit, spinlockinit) or statically (MUTEX_INIT, SPINMUTEX_INIT). The
 * release build has neither the field nor the checks: the calls and
 * initialisers that name a rank compile to nothing. */
typedef struct mutex {
    uint32_t key; /* 0 unlocked, 1 locked, 2 locked with sleepers */
#ifdef GORO_LOCKRANK
    uint32_t rank;
#endif
} mutex;
void lock(mutex *l);
void unlock(mutex *l);

typedef struct spinmutex {
    uint32_t key; /* 0 unlocked, 1 locked */
#ifdef GORO_LOCKRANK
    uint32_t rank;
#endif
} spinmutex;
void spinlock(spinmutex *l);
void spinunlock(spinmutex *l);

#ifdef GORO_LOCKRANK
#define MUTEX_INIT(r) { .key = 0, .rank = (r) }
#define SPINMUTEX_INIT(r) { .key = 0, .rank = (r) }
static inline void lockinit(mutex *l, enum lockrank r) { l->rank = r; }
static inline void spinlockinit(spinmutex *l, enum lockrank r) { l->rank = r; }
/* A spin lock whose word lies in the user's memory (goro_cond.lock), with
 * no room for a rank: the caller names it. */
void spinlock_ranked(spinmutex *l, enum lockrank r);
/* The checks' other half (lock_futex.c). lockrank_switch: the thread
 * leaves or enters a goroutine (what says which), holding nothing but,
 * with allow_park, the locks gopark's unlockf will release on g0.
 * lockrank_off: checks end on this thread (a fatal error, SIGQUIT's dump).
 * lockrank_holds: whether this thread holds a lock of rank r. */
void lockrank_switch(const char *what, bool allow_park);
void lockrank_off(void);
bool lockrank_holds(enum lockrank r);
void lockrank_print_held(int fd);
#else
#define MUTEX_INIT(r) { 0 }
#define SPINMUTEX_INIT(r) { 0 }
#define lockinit(l, r) ((void)(l))
#define spinlockinit(l, r) ((void)(l))
#define spinlock_ranked(l, r) spinlock(l)
#define lockrank_switch(what, allow_park) ((void)0)
#define lockrank_off() ((void)0)
#endif

/* One-shot sleep/wake-up (Go's note): cleared by its owner, woken once. */
typedef struct note {
    uint32_t key;
} note;
void noteclear(note *n);
void notewakeup(note *n);
void notesleep(note *n);
bool notetsleep(note *n, int64_t ns); /* false on timeout */

/* --------------------------------------------------------------- os_linux.c */
int64_t nanotime(void);
/* now + ns, saturated at INT64_MAX: a deadline past the end of int64 is
 * "never", not a negative time long gone (Go's when()). ns >= 0. */
static inline int64_t add_saturating(int64_t now, int64_t ns)
{
    int64_t sum;
    return __builtin_add_overflow(now, ns, &sum) ? INT64_MAX : sum;
}
static inline int64_t nanotime_after(int64_t ns)
{
    return add_saturating(nanotime(), ns);
}
void futexsleep(uint32_t *addr, uint32_t val, int64_t ns);
void futexwakeup(uint32_t *addr, int32_t cnt);
void usleep_ns(int64_t ns);
void osyield(void);
int32_t getproccount(void);
extern int32_t ncpu;        /* getproccount() at goro_run: no file I/O on hot paths */
int32_t osthreadcount(void);
void newosproc(void *(*start)(void *), void *arg);
void minit_signals(m *mp);   /* per-thread alternate signal stack */
void unminit_signals(m *mp);
void initsig(void);                 /* process-wide SIGSEGV, SIGQUIT and SIGURG handlers */
void kick_syscall(m *mp);           /* SIGURG: mp's blocking system call returns EINTR */
uint32_t cheaprand(void);
uint32_t cheaprandn(uint32_t n);

/* ----------------------------------------------------------- asm_amd64.S */
typedef struct gobuf {
    uintptr_t sp;
    uintptr_t pc;
    uintptr_t bp;
    uintptr_t regs[GOBUF_NREGS]; /* callee-saved registers */
    uint32_t mxcsr;              /* SSE control/status: rounding, masks */
    uint16_t fpucw;              /* x87 control word */
} gobuf;

_Noreturn void gogo(gobuf *buf);
/* Saves the caller's context in *save, switches to stack sp, calls
 * fn(arg) there and jumps to the gobuf fn returns. gogo(save) later
 * returns from mcall_switch. */
void mcall_switch(gobuf *save, uintptr_t sp, gobuf *(*fn)(void *), void *arg);
void gostart_trampoline(void);
uintptr_t getcallersp(void);

/* ----------------------------------------------------------------- G, M, P */
/* A G's status says who owns it (Go's runtime2.go), and so who may write
 * its other fields:
 *   _Gidle      just allocated, not yet published: its creator.
 *   _Grunnable  on a run queue or in runnext: not running; whoever takes it
 *               off the queue (a CAS on the queue or runnext) owns it next.
 *   _Grunning   running user code on g->m: that M owns the G and its stack.
 *   _Gsyscall   in goro_syscall_enter/exit: still owned by its M, which may
 *               have lost its P (the P is _Psyscall, or retaken).
 *   _Gwaiting   parked (gopark): owned by nobody until a waker claims it
 *               (the wait queue's lock, or a select's CAS) and readies it;
 *               its stack is not in use but must not be freed.
 *   _Gdead      exited, on a free list: owned by that list's lock or P.
 *   _Gpreempted unused (preemption is cooperative: a preempted G is
 *               _Grunnable on the global queue). */
enum gstatus {
    _Gidle, _Grunnable, _Grunning, _Gsyscall, _Gwaiting, _Gdead, _Gpreempted,
};

/* A P's status:
 *   _Pidle     on sched.pidle (under sched.lock), or held by a thread that
 *              is about to hand it on (handoffp, startm's nextp).
 *   _Prunning  owned by p->m, which alone changes it (relaxed stores).
 *   _Psyscall  its M is in a system call and may take it back with a CAS
 *              (exitsyscall) while sysmon may retake it with a CAS
 *              (_Psyscall -> _Pidle) or stop-the-world may claim it
 *              (_Psyscall -> _Pgcstop): the CAS decides who owns it.
 *   _Pgcstop   stopped by stop-the-world, owned by the stopper.
 *   _Pdead     beyond gomaxprocs after a shrink; kept for reuse, never
 *              freed (sysmon reads allp without a lock). */
enum pstatus { _Pidle, _Prunning, _Psyscall, _Pgcstop, _Pdead };

enum waitreason {
    waitReasonZero,
    waitReasonSemacquire,
    waitReasonSyncWaitGroupWait,
    waitReasonSleep,
    waitReasonSyncMutexLock,
    waitReasonSyncRWMutexRLock,
    waitReasonSyncRWMutexLock,
    waitReasonSyncCondWait,
    waitReasonChanReceive,
    waitReasonChanSend,
    waitReasonSelect,
    waitReasonSelectNoCases,
    waitReasonPreempted,
    waitReasonStopTheWorld,
    waitReasonIORead,
    waitReasonIOWrite,
    waitReasonCount,
};
extern const char *const waitReasonStrings[waitReasonCount];
const char *gstatus_string(uint32_t s); /* runtime2.c */

typedef struct stack {
    uintptr_t lo; /* lowest usable byte; the guard page lies below */
    uintptr_t hi; /* one past the top */
} stack;

/* The first two cache lines hold what a switch touches (the G is
 * allocated cache-line aligned): a goroutine woken on another core, or
 * after 500 others ran, costs two misses here instead of three. */
/* Guards: "owner" is whoever owns the G by its status (above). Fields
 * set at creation are written before the G is published on a run queue
 * (whose release store or lock orders them) and only read afterwards. */
struct g {
    gobuf sched;             /* owner: saved by mcall, loaded by gogo */
    uint32_t atomicstatus;   /* atomic: casgstatus, or the owner's check-and-store */
    uint32_t preempt;        /* atomic: set by sysmon, cleared by the owner; honoured at runtime entries */
    m *m;                    /* the M running it, while it runs; owner-written, read relaxed by dumps */
    uintptr_t minsp;         /* owner: lowest sp seen at a switch (how far the stack grew) */
    int64_t goid;            /* set at creation */
    uint8_t waitreason;      /* the G itself before it parks; read relaxed by dumps and traces */
    stack stack;             /* set at creation or gfget by the owner */
    /* Cold: creation, free lists, dumps. */
    __attribute__((aligned(CACHE_LINE))) g *schedlink; /* the gList it is on: that list's owner or lock */
    g *alllink;              /* allgs: allglock */
    m *lockedm;              /* owner: the only M that runs it (goro_lock_os_thread) */
    uint32_t lockedcount;    /* owner: nesting of goro_lock_os_thread */
    int64_t parentgoid;      /* set at creation */
    goro_fn fn;              /* set at creation, cleared by goexit0 (owner) */
    void *arg;
    char name[32];           /* set at creation */
    void *tsan_fiber;        /* owner M, at switches and goexit */
    void *asan_fake_stack;   /* owner M, at switches */
};

/* The global run queue's ring; reserved: goroutine Gs made (each has a
 * slot, globrunq_reserve), so a put never needs memory. */
typedef struct globrunq { g **buf; uint32_t cap, head, tail, reserved; } globrunq;
typedef struct traceBuf traceBuf;
typedef struct gList { g *head; } gList;

/* Guards: "own thread" fields are touched only by the M's thread. nextp
 * and spinning are also written by the one thread that took the M off
 * sched.midle (startm, under sched.lock) while the M sleeps on park; the
 * note's release/acquire hands them over. */
struct m {
    int64_t id;              /* set by allocm */
    g *g0;                   /* set by allocm; scheduling goroutine: the thread's own stack */
    g *curg;                 /* own thread (release in execute); read acquire by preemptone, relaxed by dumps */
    p *p;                    /* own thread (acquirep/releasep); others look at p->m */
    p *nextp;                /* startm -> the woken M (see above) */
    bool spinning;           /* own thread, or startm (see above); counted in sched.nmspinning */
    note park;               /* the M sleeps on it while idle */
    m *schedlink;            /* sched.midle: sched.lock */
    m *alllink;              /* allm: prepended under sched.lock, walked at exit and by dumps */
    uintptr_t g0sp;          /* own thread: where mcall starts its function on g0 */
    uintptr_t g0stacklo, g0stacksize; /* own thread */
    void *g0_asan_fake_stack;         /* own thread */
    void *sigaltstack_mem;            /* own thread */
    jmp_buf exitjmp;         /* own thread: mexit unwinds to the thread's start */
    int64_t sleepuntil;      /* sched.lock: idle with a timeout until then (a timer covered) */
    /* System calls (goro_syscall_enter/exit): the P left in _Psyscall, and
     * insyscall, 1 while in the call. The runtime's exit turns it to 2 with
     * a CAS to abandon an M stuck in the kernel; the M, back from the call,
     * finds its CAS 1 -> 0 failed and ends its thread. */
    p *oldp;                 /* own thread */
    uint32_t insyscall;      /* atomic */
    pthread_t thread;        /* set at start: m0's, kicked out of a system call at exit */
    /* goro_lock_os_thread: the G that owns this thread (own thread);
     * lockedidle and lockedlink while parked waiting for it
     * (sched.mlockedidle, under sched.lock). */
    g *lockedg;
    bool lockedidle;
    m *lockedlink;
};

/* A timer (time.c). state says who owns it; see time.c. */
enum { TIMER_IDLE, TIMER_INHEAP, TIMER_RUNNING, TIMER_STOPPING };
typedef struct timer timer;
struct timer {
    int64_t when;
    int64_t period;                 /* > 0: rearm every period ns */
    void (*f)(timer *t, int64_t now); /* runs on an M without locks; must not block */
    void *arg;
    p *pp;                          /* heap it is in (atomic), NULL if none */
    int32_t idx;                    /* index in that heap */
    uint32_t state;                 /* atomic */
};

/* sysmon's view of a P: the last schedtick it saw and when. */
typedef struct sysmontick {
    uint32_t schedtick;
    int64_t schedwhen;
    uint32_t syscalltick;
    int64_t syscallwhen;
} sysmontick;

#define RUNQ_SIZE 256
#define MAX_GOMAXPROCS 1024
#define GLOBRUNQ_BATCH (RUNQ_SIZE / 2) /* most Gs one globrunqget moves */

/* Laid out by who writes what, so that Ms looking for work (stealWork
 * reads status, timers.first, runqhead/runqtail and, last, runnext) do not
 * pull lines the owner writes on every switch: a spinning M polling the
 * line with runnext made each ping-pong hand-off an 83 ns miss. */
/* Guards: "owner" is the M holding the P (p->m, status _Prunning or
 * _Psyscall); with the world stopped the stopper owns every P. */
struct p {
    /* Read by other Ms, rarely written. */
    int32_t id;              /* set by newp */
    uint32_t status;         /* atomic: enum pstatus (see there for who changes it) */
    p *link;                 /* sched.pidle: sched.lock; procresize's list: world stopped */
    m *m;                    /* the M that owns it: release in acquirep, sysmon load-acquires */
    uint32_t preempt;        /* atomic: set by sysmon (time slice over), cleared by the owner */
    sysmontick sysmontick;   /* sysmon's own */
    struct {
        mutex lock;          /* guards heap, n, cap and each timer's idx */
        timer **heap;        /* 4-ary min-heap on when */
        int32_t n, cap;
        int32_t rearming;    /* periodic timers taken out to run, each with a slot kept (n + rearming <= cap) */
        int64_t first;       /* atomic: heap[0]->when, 0 when empty; stored under lock, read relaxed */
    } timers;
    /* Written by the owner all the time. */
    __attribute__((aligned(CACHE_LINE))) uint32_t schedtick; /* owner; sysmon reads it relaxed. Incremented on every scheduler call not inheriting time */
    uint32_t syscalltick;    /* atomic: bumped when a system call ends or the P is retaken */
    uint64_t nctxswitch;     /* owner-written, read by stats with relaxed loads */
    uint64_t nsteal;         /* likewise */
    int64_t goidcache, goidcacheend; /* owner */
    gList gFree;             /* owner; spilled to sched.gFree under its lock */
    int32_t gFreeN;          /* owner; read relaxed by gcount */
    traceBuf *tracebuf;      /* owner; taken by goro_trace_stop with the world stopped (trace.c), newest chunk first */
    /* The run queue: written by the owner at the tail, consumed at the head
     * by the owner and by stealers (see runq.c for the ordering argument).
     * runnext, which a ping-pong rewrites on every hand-off, has a line of
     * its own. */
    __attribute__((aligned(CACHE_LINE))) uint32_t runqhead;
    uint32_t runqtail;
    g *runq[RUNQ_SIZE];
    __attribute__((aligned(CACHE_LINE))) g *runnext;
} __attribute__((aligned(CACHE_LINE)));

typedef struct schedt {
    uint64_t goidgen;        /* atomic (relaxed xadd: ids need uniqueness, not order) */
    uint32_t npidle;         /* atomic: changed under lock (pidleput/pidleget), read relaxed by wakep */
    uint32_t nmspinning;     /* atomic: seq-cst RMWs (the spinning protocol, findRunnable) */
    uint32_t needspinning;   /* atomic */
    uint32_t gcwaiting;      /* atomic: stop-the-world in progress */
    /* Everything from here to runqlock is guarded by lock. */
    __attribute__((aligned(CACHE_LINE))) mutex lock;
    m *midle;
    int32_t nmidle;
    m *mlockedidle;          /* Ms parked until their locked G is runnable */
    int32_t nmidlelocked;
    int32_t nmabandoned;     /* Ms left in system calls when the runtime exited */
    uint32_t deadcheck;      /* atomic, not under lock: an M left mid-run; sysmon runs checkdead once its thread is gone */
    int32_t mnext;           /* number of Ms created, and the next M id */
    int32_t maxmcount;
    int32_t nmexited;
    p *pidle;
    /* The global run queue has its own spin lock on its own line: Gosched
     * takes it on every call, and under sched.lock two busy Ps slept on the
     * futex (measured: Gosched with 100 goroutines at GOMAXPROCS=2 spent
     * 60 % of its time in lock/unlock). Order: sched.lock, then runqlock. */
    __attribute__((aligned(CACHE_LINE))) spinmutex runqlock;
    globrunq runq;
    int32_t runqsize;        /* written under runqlock, read racily with relaxed loads */
    __attribute__((aligned(CACHE_LINE))) int32_t stopwait; /* sched.lock */
    note stopnote;
    uint32_t sysmonwait;     /* atomic */
    note sysmonnote;
    uint32_t exiting;        /* atomic: the main goroutine returned, Ms leave */
    note m0exitnote;
    struct {
        mutex lock;
        gList stack;         /* dead Gs with a stack */
        gList noStack;       /* dead Gs whose stack was freed */
        int32_t n;
    } gFree;
    uint64_t npreempt;       /* atomic */
    uint64_t nhandoff;       /* atomic: Ps retaken from system calls */
    int64_t lastpoll;        /* atomic: last netpoll, 0 while an M blocks in it */
    int64_t pollUntil;       /* atomic: when that M's netpoll times out, 0 never */
    int64_t ntimers;         /* atomic: timers in heaps */
} schedt;

extern schedt sched;
extern p **allp;
extern int32_t gomaxprocs;      /* read with load_relaxed outside sched.lock */
extern m *allm;
extern m m0;
extern int32_t allplen;

/* Current goroutine. A goroutine may resume on another thread, so the
 * thread-local slot must be re-read after every switch: the compiler may
 * not cache it (arch_*.h reads it with a volatile asm). */
extern __thread g *tls_g;
static inline g *getg(void)
{
    return (g *)arch_load_tls_g();
}
static inline void setg(g *gp)
{
    tls_g = gp;
}
/* A goroutine that may park: not a plain thread (no G), not an M's g0. */
static inline bool on_goroutine(void)
{
    g *gp = getg();
    return gp && gp->goid > 0;
}

/* ------------------------------------------ the scheduler (proc.h lists its files) */
/* gate.c */
bool runtime_running(void);
bool foreign_enter(void);
void foreign_exit(void);
bool on_m(void);
/* newproc.c */
void casgstatus(g *gp, uint32_t oldval, uint32_t newval);
uint32_t readgstatus(g *gp);
void allgs_foreach(void (*fn)(g *, void *), void *arg);
/* checkdead.c */
void checkdead_after_exit(void); /* sysmon: the deferred check of deadcheck */
/* m.c */
void handoffp(p *pp);
void incidlelocked(int32_t v);
void wakep_start(void);
/* Starts a spinning M if there is an idle P and nobody spins already
 * (inline: it is on every wake-up, and usually returns here). The relaxed
 * pre-checks are safe because of who calls: a producer with a P put the G
 * on that P's own run queue, and its own M runs it when the producer
 * parks, yields or is preempted, so a stale npidle == 0 (or a spinning M
 * that gives up) only delays the G to that point, never loses it; a
 * producer without a P queued globally, and Ps go idle under runqlock
 * after checking the global queue (findRunnable, handoffp), so its
 * lock-ordered pidleput is seen. */
static inline void wakep(void)
{
    if (load_relaxed(&sched.npidle) != 0 && load_relaxed(&sched.nmspinning) == 0)
        wakep_start();
}
void wake_for_timer(int64_t when); /* a timer due at when was added */
/* proc.c */
void gopark(bool (*unlockf)(g *, void *), void *lock, enum waitreason reason);
void goready(g *gp);
void mcall(g *(*fn)(g *));
void gosched(void);
void injectglist(gList *list);   /* makes netpoll's Gs runnable */
/* procresize.c */
bool with_world_stopped(void (*fn)(void *), void *arg); /* false if the runtime is exiting */
/* debug.c */
void schedtrace(bool detailed);

/* ---------------------------------------------------------------- runq.c */
void runqput(p *pp, g *gp, bool next);
g *runqget(p *pp, bool *inheritTime);
bool runqempty(p *pp);
uint32_t runqlen(p *pp);
g *runqsteal(p *pp, p *p2, bool stealRunNextG);
int32_t runqdrain(p *pp, g **out); /* out: RUNQ_SIZE + 1 slots */
void glist_push(gList *l, g *gp);
g *glist_pop(gList *l);
void globrunqput(g *gp);
void globrunqputbatch(g **batch, int32_t n);
int32_t globrunqget(int32_t max, g **batch);
g *globrunq_keep(p *pp, g **batch, int32_t n);
g *globrunq_take(p *pp, int32_t max); /* takes runqlock */
bool globrunq_reserve(void); /* a slot for a new goroutine G; false without memory */
void globrunqfini(void);

/* ---------------------------------------------------------------- stack.c */
extern size_t default_stack_size;
void stackinit(void);
void stackfini(bool unmap);
bool stackalloc(stack *s, size_t size);
void stackfree(stack *s);
void stack_release_excess(g *gp);
size_t stack_round(size_t size);
bool stack_guard_hit(uintptr_t addr);
int64_t stack_bytes_reserved(void);
int64_t stack_bytes_committed(void);

/* ---------------------------------------------------------------- sema.c */
void semacquire(uint32_t *addr);
void semacquire1(uint32_t *addr, bool lifo, enum waitreason reason);
void semrelease(uint32_t *addr);
void semrelease1(uint32_t *addr, bool handoff);
void semafini(void);

/* ---------------------------------------------------------------- time.c */
void checkTimers(p *pp, int64_t now);
int64_t timeSleepUntil(void);
void timers_sync_idle(void); /* an M that made its P idle, before reading timers */
void moveTimers(p *dead, p *pp);
bool addtimer(timer *t);     /* t idle; false without memory */
bool timer_reserve(timer *t); /* t idle: in a heap, due never; false without memory */
void timer_arm(timer *t, int64_t when); /* a reserved t now due at when; cannot fail */
bool deltimer(timer *t);     /* true if t was pending and now will not fire */
void timer_quiesce(timer *t); /* waits until no M runs t's function */

/* ---------------------------------------------------------------- netpoll.c, netpoll_epoll.c */
bool netpollinited(void);
bool netpollAnyWaiters(void);
void netpollDone(int32_t n);     /* n Gs netpoll returned are now runnable */
void netpoll(int64_t delay, gList *list); /* delay < 0: block; the ready Gs go on list */
void netpollBreak(void);
void netpollfini(void);

/* ---------------------------------------------------------------- trace.c */
enum {
    TRACE_GO_START,   /* a G starts running on the P */
    TRACE_GO_BLOCK,   /* ... stops: parked (arg: enum waitreason) */
    TRACE_GO_YIELD,
    TRACE_GO_PREEMPT,
    TRACE_GO_SYSCALL,
    TRACE_GO_END,
    TRACE_GO_STOP,    /* the tracing goroutine, at goro_trace_stop */
    TRACE_GO_CREATE,  /* instant events: goid is the G created or readied */
    TRACE_GO_UNBLOCK,
};
enum { TRACE_BUF_EVENTS = 4096, TRACE_NO_P_TID = 1000 };
typedef struct traceEvent {
    int64_t ts;
    int64_t goid;
    uint16_t type;
    uint32_t arg;
} traceEvent;
struct traceBuf {
    traceBuf *next;
    int32_t n;
    traceEvent ev[TRACE_BUF_EVENTS];
};
extern uint32_t trace_enabled;
void trace_record(p *pp, int type, int64_t goid, uint32_t arg);
void tracefini(void);
/* A trace hook: one relaxed load while no trace runs. pp: the P the
 * calling M holds, or NULL. */
#define TRACE(pp, type, goid, arg)                                  \
    do {                                                            \
        if (__builtin_expect(load_relaxed(&trace_enabled) != 0, 0)) \
            trace_record((pp), (type), (goid), (arg));              \
    } while (0)

/* ---------------------------------------------------------------- sysmon.c */
int sysmon_start(void);
void sysmon_stop(void);
void sysmon_wake(void);

/* ---------------------------------------------------------------- preempt.c */
void preemptone(p *pp);
void check_preempt(void);

/* ---------------------------------------------------------------- runtime1.c */
typedef struct dbgvars {
    int32_t schedtrace;      /* ms; 0 off */
    int32_t scheddetail;
    int32_t asyncpreemptoff;
} dbgvars;
extern dbgvars debug;
void parsedebugvars(void);

/* ---------------------------------------------------------------- traceback.c */
void dumpgoroutines(int fd);

#endif /* GORO_RUNTIME_H */
