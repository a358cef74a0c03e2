/*
 * Execution tracer (Go's trace.go, in spirit): while a trace runs, the
 * scheduler records each goroutine's creation, start, stop (with why:
 * blocked and on what, yielded, preempted, in a system call, exited) and
 * wake-up. goro_trace_stop writes them as Chrome trace-event JSON, which
 * Perfetto (ui.perfetto.dev) and chrome://tracing display: one track per
 * P, a slice per stretch a goroutine ran there.
 *
 * Events go to per-P buffers written only by the M that holds the P, so
 * recording takes no lock; events from threads without a P (a plain thread
 * readying a goroutine, sysmon injecting I/O wake-ups) go to one buffer
 * under a spin lock. Tracing is switched on and off with the world
 * stopped, when no M holds a P but the caller's: nobody is mid-record.
 * Disabled, each hook costs one relaxed load (TRACE in runtime.h).
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint32_t trace_enabled; /* atomic; changed with the world stopped */

/* goro_trace_start and _stop claim the tracer with a CAS on its state, so
 * that two calls at once cannot both start (or stop) it. */
enum { TRACE_IDLE, TRACE_STARTING, TRACE_RUNNING, TRACE_STOPPING };
static uint32_t trace_state; /* atomic */
static int trace_fd = -1;    /* owned by whoever moved trace_state last */
static int64_t trace_start_ns;
static spinmutex trace_global_lock = SPINMUTEX_INIT(LOCKRANK_TRACE);
static traceBuf *trace_global; /* events recorded without a P */

static traceBuf *tracebuf_new(traceBuf *next)
{
    traceBuf *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->next = next;
    b->n = 0;
    return b;
}

static void tracebuf_append(traceBuf **head, int type, int64_t goid, uint32_t arg)
{
    traceBuf *b = *head;
    if (!b || b->n == TRACE_BUF_EVENTS) {
        b = tracebuf_new(b);
        if (!b)
            return; /* out of memory: the event is lost, the program goes on */
        *head = b;
    }
    b->ev[b->n++] = (traceEvent){ nanotime(), goid, (uint16_t)type, arg };
}

void trace_record(p *pp, int type, int64_t goid, uint32_t arg)
{
    if (pp) {
        tracebuf_append(&pp->tracebuf, type, goid, arg);
        return;
    }
    spinlock(&trace_global_lock);
    if (load_relaxed(&trace_enabled)) /* trace_stop may have collected it */
        tracebuf_append(&trace_global, type, goid, arg);
    spinunlock(&trace_global_lock);
}

/* ------------------------------------------------------------ output */

typedef struct traceOut {
    FILE *f;
    bool first;
    int64_t start_ns; /* the trace's time 0 */
} traceOut;

static const char *stop_reason(const traceEvent *e)
{
    switch (e->type) {
    case TRACE_GO_BLOCK:
        return e->arg < waitReasonCount ? waitReasonStrings[e->arg] : "blocked";
    case TRACE_GO_YIELD:
        return "yield";
    case TRACE_GO_PREEMPT:
        return "preempted";
    case TRACE_GO_SYSCALL:
        return "syscall";
    case TRACE_GO_END:
        return "exit";
    default:
        return "trace stopped";
    }
}

static void write_event(traceOut *o, const traceEvent *e, int tid)
{
    double ts = (double)(e->ts - o->start_ns) / 1000.0;
    fputs(o->first ? "\n" : ",\n", o->f);
    o->first = false;
    switch (e->type) {
    case TRACE_GO_START:
        fprintf(o->f, "{\"name\":\"G%lld\",\"ph\":\"B\",\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"args\":{\"goid\":%lld}}",
                (long long)e->goid, tid, ts, (long long)e->goid);
        break;
    case TRACE_GO_CREATE:
    case TRACE_GO_UNBLOCK:
        fprintf(o->f,
                "{\"name\":\"%s G%lld\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"args\":{\"goid\":%lld}}",
                e->type == TRACE_GO_CREATE ? "create" : "unblock", (long long)e->goid, tid, ts, (long long)e->goid);
        break;
    default:
        fprintf(o->f, "{\"name\":\"G%lld\",\"ph\":\"E\",\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"args\":{\"reason\":\"%s\"}}",
                (long long)e->goid, tid, ts, stop_reason(e));
    }
}

static void tracebuf_free(traceBuf *b)
{
    while (b) {
        traceBuf *next = b->next;
        free(b);
        b = next;
    }
}

/* Writes one track's buffers (newest first in the chain) oldest first,
 * and frees them. */
static void write_track(traceOut *o, traceBuf *b, int tid, const char *name)
{
    fprintf(o->f, "%s\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":\"%s\"}}",
            o->first ? "" : ",", tid, name);
    o->first = false;
    traceBuf *rev = NULL;
    while (b) {
        traceBuf *next = b->next;
        b->next = rev;
        rev = b;
        b = next;
    }
    while (rev) {
        for (int32_t i = 0; i < rev->n; i++)
            write_event(o, &rev->ev[i], tid);
        traceBuf *next = rev->next;
        free(rev);
        rev = next;
    }
}

/* ------------------------------------------------------------ start/stop */

/* goro_run is returning with a trace running: drop it. */
void tracefini(void)
{
    for (int32_t i = 0; i < allplen; i++) {
        tracebuf_free(allp[i]->tracebuf);
        allp[i]->tracebuf = NULL;
    }
    tracebuf_free(trace_global);
    trace_global = NULL;
    if (trace_fd >= 0)
        close(trace_fd);
    trace_fd = -1;
    store_relaxed(&trace_enabled, 0);
    store_relaxed(&trace_state, TRACE_IDLE);
}

static void trace_switch_on(void *arg)
{
    (void)arg;
    trace_start_ns = nanotime();
    store_relaxed(&trace_enabled, 1);
}

typedef struct traceCollected {
    traceBuf *perP[MAX_GOMAXPROCS];
    int32_t np;
    traceBuf *global;
    int64_t start_ns;
} traceCollected;

static void trace_switch_off(void *arg)
{
    traceCollected *c = arg;
    store_relaxed(&trace_enabled, 0);
    c->start_ns = trace_start_ns;
    c->np = load_relaxed(&allplen);
    for (int32_t i = 0; i < c->np; i++) {
        c->perP[i] = allp[i]->tracebuf;
        allp[i]->tracebuf = NULL;
    }
    spinlock(&trace_global_lock);
    c->global = trace_global;
    trace_global = NULL;
    spinunlock(&trace_global_lock);
}

int goro_trace_start(const char *path)
{
    g *gp = getg();
    if (!path)
        return -EINVAL;
    if (!gp || gp->goid <= 0)
        return -EPERM;
    if (!cas_acqrel(&trace_state, TRACE_IDLE, TRACE_STARTING))
        return -EBUSY;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = -errno;
        store_release(&trace_state, TRACE_IDLE);
        return err;
    }
    if (!with_world_stopped(trace_switch_on, NULL)) {
        close(fd);
        store_release(&trace_state, TRACE_IDLE);
        return -ESRCH; /* the runtime is exiting */
    }
    trace_fd = fd;
    TRACE(getg()->m->p, TRACE_GO_START, getg()->goid, 0);
    store_release(&trace_state, TRACE_RUNNING);
    return 0;
}

int goro_trace_stop(void)
{
    g *gp = getg();
    if (!gp || gp->goid <= 0)
        return -EPERM;
    if (!cas_acqrel(&trace_state, TRACE_RUNNING, TRACE_STOPPING))
        return -EINVAL;
    traceCollected *c = calloc(1, sizeof *c);
    if (!c) {
        store_release(&trace_state, TRACE_RUNNING);
        return -ENOMEM;
    }
    TRACE(gp->m->p, TRACE_GO_STOP, gp->goid, 0);
    if (!with_world_stopped(trace_switch_off, c)) {
        free(c);
        return -ESRCH;
    }
    int fd = trace_fd;
    trace_fd = -1;
    store_release(&trace_state, TRACE_IDLE); /* a new trace may start while this one is written */
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int err = errno;
        close(fd);
        free(c);
        return -err;
    }
    /* Writing may take a while: let sysmon hand the P to another M. */
    goro_syscall_enter();
    traceOut o = { f, true, c->start_ns };
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", f);
    fprintf(f, "\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"goro\"}}");
    o.first = false;
    for (int32_t i = 0; i < c->np; i++) {
        char name[16];
        snprintf(name, sizeof name, "P%d", (int)i);
        write_track(&o, c->perP[i], i, name);
    }
    write_track(&o, c->global, TRACE_NO_P_TID, "no P");
    fputs("\n]}\n", f);
    int rc = fclose(f) == 0 ? 0 : -errno;
    goro_syscall_exit();
    free(c);
    return rc;
}
