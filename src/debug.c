/*
 * Watching the scheduler: goro_read_stats, goro_numgoroutine and
 * GODEBUG=schedtrace's lines (Go's schedtrace). Owns the runtime's start
 * time.
 */
#include "runtime.h"
#include "proc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int64_t runtime_start;

void debug_start_clock(void)
{
    runtime_start = nanotime();
}

int goro_numgoroutine(void)
{
    if (on_m())
        return gcount();
    if (!foreign_enter())
        return 0;
    int n = gcount();
    foreign_exit();
    return n;
}

static int64_t runtime_uptime_ms(void)
{
    return (nanotime() - runtime_start) / 1000000;
}

void goro_read_stats(goro_stats *out)
{
    if (!out)
        return; /* nowhere to report: nothing to do */
    memset(out, 0, sizeof *out);
    bool foreign = !on_m();
    if (foreign && !foreign_enter())
        return;
    lock(&sched.lock);
    out->goroutines = gcount();
    out->threads = mcount();
    out->idle_threads = sched.nmidle;
    out->spinning_threads = load_relaxed(&sched.nmspinning);
    out->procs = gomaxprocs;
    out->idle_procs = load_relaxed(&sched.npidle);
    out->global_runq = load_relaxed(&sched.runqsize);
    for (int32_t i = 0; i < allplen; i++) {
        out->context_switches += (int64_t)load_relaxed(&allp[i]->nctxswitch);
        out->steals += (int64_t)load_relaxed(&allp[i]->nsteal);
    }
    out->preemptions = (int64_t)load_relaxed(&sched.npreempt);
    out->syscall_handoffs = (int64_t)load_relaxed(&sched.nhandoff);
    unlock(&sched.lock);
    out->stack_bytes_reserved = stack_bytes_reserved();
    out->stack_bytes_committed = stack_bytes_committed();
    if (foreign)
        foreign_exit();
}

typedef struct linebuf {
    char buf[8192];
    size_t len;
} linebuf;

static void lb_printf(linebuf *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lb_printf(linebuf *tb, const char *fmt, ...)
{
    va_list ap;
    if (tb->len > sizeof tb->buf - 512) {
        (void)!write(2, tb->buf, tb->len);
        tb->len = 0;
    }
    va_start(ap, fmt);
    int n = vsnprintf(tb->buf + tb->len, sizeof tb->buf - tb->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        tb->len += (size_t)n < sizeof tb->buf - tb->len ? (size_t)n : sizeof tb->buf - tb->len - 1;
}

static void detail_g(g *gp, void *arg)
{
    linebuf *tb = arg;
    uint32_t s = readgstatus(gp);
    if (s == _Gdead)
        return;
    m *mp = load_relaxed(&gp->m);
    uint8_t why = load_relaxed(&gp->waitreason);
    lb_printf(tb, "  G%lld: status=%u(%s) m=%lld\n", (long long)gp->goid, s,
              waitReasonStrings[why < waitReasonCount ? why : 0],
              mp ? (long long)mp->id : -1LL);
}

/* Go's SCHED line, printed by sysmon every schedtrace ms. */
void schedtrace(bool detailed)
{
    linebuf *tb = calloc(1, sizeof *tb);
    if (!tb)
        return;
    lock(&sched.lock);
    lb_printf(tb, "SCHED %lldms: gomaxprocs=%d idleprocs=%u threads=%d spinningthreads=%u needspinning=%u idlethreads=%d runqueue=%d",
              (long long)runtime_uptime_ms(), gomaxprocs, load_relaxed(&sched.npidle), mcount(),
              load_relaxed(&sched.nmspinning), load_relaxed(&sched.needspinning), sched.nmidle, load_relaxed(&sched.runqsize));
    if (detailed)
        lb_printf(tb, " gcwaiting=%u nmidle=%d stopwait=%d sysmonwait=%u\n", load_relaxed(&sched.gcwaiting),
                  sched.nmidle, sched.stopwait, load_relaxed(&sched.sysmonwait));
    else
        lb_printf(tb, " [");
    for (int32_t i = 0; i < gomaxprocs; i++) {
        p *pp = allp[i];
        uint32_t q = runqlen(pp);
        if (detailed) {
            m *mp = load_relaxed(&pp->m);
            lb_printf(tb, "  P%d: status=%u schedtick=%u syscalltick=%u m=%lld runqsize=%u gfreecnt=%d\n", pp->id,
                      load_relaxed(&pp->status), load_relaxed(&pp->schedtick), pp->syscalltick,
                      mp ? (long long)mp->id : -1LL, q, load_relaxed(&pp->gFreeN));
        } else {
            lb_printf(tb, "%s%u", i ? " " : "", q);
        }
    }
    if (detailed) {
        for (m *mp = allm; mp; mp = mp->alllink) {
            /* An M's own fields change without the lock: its P is found
             * from the Ps' atomic back-links instead. */
            int32_t pid = -1;
            for (int32_t i = 0; i < gomaxprocs; i++)
                if (load_relaxed(&allp[i]->m) == mp)
                    pid = allp[i]->id;
            g *cg = load_relaxed(&mp->curg);
            lb_printf(tb, "  M%lld: p=%d curg=%lld\n", (long long)mp->id, pid, cg ? (long long)cg->goid : -1LL);
        }
        unlock(&sched.lock);
        allgs_foreach(detail_g, tb);
    } else {
        lb_printf(tb, "]\n");
        unlock(&sched.lock);
    }
    (void)!write(2, tb->buf, tb->len);
    free(tb);
}
