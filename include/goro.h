/*
 * goro — Go's runtime scheduler (the GMP model) as a C library.
 *
 * The contract of this header is ../shared/API.md. Every function that
 * returns int, ssize_t or int64_t reports failure with a negative errno value.
 */
#ifndef GORO_H
#define GORO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility: only this API is exported. */
#pragma GCC visibility push(default)

/* ---- Runtime lifecycle ---- */

int goro_run(int (*main_fn)(int argc, char **argv), int argc, char **argv);

#define GORO_MAIN(fn) \
    int main(int argc, char **argv) { return goro_run((fn), argc, argv); }

/* ---- Goroutines ---- */

typedef void (*goro_fn)(void *arg);

typedef struct goro_attr {
    size_t stack_size;   /* 0 = default; rounded up to the page size, at least 16 KiB */
    const char *name;    /* shown in dumps and traces; may be NULL; copied */
} goro_attr;

int64_t goro_go(goro_fn fn, void *arg);
int64_t goro_go_attr(goro_fn fn, void *arg, const goro_attr *attr);
void    goro_yield(void);
_Noreturn void goro_exit(void);
int64_t goro_self(void);
int     goro_maxprocs(int n);
int     goro_numgoroutine(void);
int     goro_numcpu(void);
void    goro_preempt_point(void);

/* ---- Synchronisation (statically initialisable, no free needed) ---- */

/* Go's sync.WaitGroup: state = counter << 32 | waiters, sema parks waiters. */
typedef struct goro_waitgroup {
    uint64_t state;
    uint32_t sema;
    uint32_t reserved;
} goro_waitgroup;
#define GORO_WAITGROUP_INIT { 0, 0, 0 }

int  goro_waitgroup_add(goro_waitgroup *wg, int64_t delta); /* 0; -EINVAL if the counter would go negative */
void goro_waitgroup_done(goro_waitgroup *wg);
void goro_waitgroup_wait(goro_waitgroup *wg);

/* ---- Time ---- */

int64_t goro_now(void);                     /* monotonic nanoseconds */

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

void goro_read_stats(goro_stats *out);
int  goro_dump(int fd);   /* 0 or -errno; every goroutine: "goroutine N [state, wait reason]:" and its name */

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* GORO_H */
