/*
 * Goroutine dumps (Go's traceback.go): one block per live goroutine,
 * "goroutine N [state]:" with its wait reason, name and creator.
 */
#include "runtime.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Where a dump goes: fd, and the first write error (0: none). After an
 * error the rest of the dump is skipped. */
typedef struct dumpout {
    int fd;
    int err;
} dumpout;

static void write_all(dumpout *o, const char *p, int n)
{
    while (n > 0 && o->err == 0) {
        ssize_t w = write(o->fd, p, (size_t)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            o->err = w < 0 ? errno : EIO; /* 0 bytes for a non-empty write: no progress possible */
            return;
        }
        p += w;
        n -= (int)w;
    }
}

static void print_frame(dumpout *o, uintptr_t pc)
{
    char buf[256];
    Dl_info info;
    int n;
    if (dladdr((void *)pc, &info) && info.dli_sname)
        n = snprintf(buf, sizeof buf, "\t%s+0x%lx\n", info.dli_sname, (unsigned long)(pc - (uintptr_t)info.dli_saddr));
    else if (dladdr((void *)pc, &info) && info.dli_fname)
        n = snprintf(buf, sizeof buf, "\t%s+0x%lx\n", info.dli_fname, (unsigned long)(pc - (uintptr_t)info.dli_fbase));
    else
        n = snprintf(buf, sizeof buf, "\t0x%lx\n", (unsigned long)pc);
    write_all(o, buf, n);
}

/* Walks the frame-pointer chain of a goroutine that is not running, from
 * the context its last switch saved. Best effort: frames of code built
 * without frame pointers are skipped over or end the walk, and every frame
 * address must lie inside the goroutine's own stack, so a bad chain never
 * reads outside it. The world is not stopped (unlike Go's dumps): the
 * goroutine may start running meanwhile, so these reads are deliberately
 * unsynchronized and hidden from the sanitizers (its stack also holds
 * ASan redzones). */
__attribute__((no_sanitize("address", "thread"))) static void backtrace_parked(dumpout *o, g *gp)
{
    if (!gp->stack.lo || !gp->sched.pc)
        return;
    print_frame(o, gp->sched.pc);
    uintptr_t fp = gp->sched.bp;
    for (int depth = 0; depth < 32; depth++) {
        if (fp < gp->stack.lo || fp > gp->stack.hi - 2 * sizeof(uintptr_t) || (fp & (sizeof(uintptr_t) - 1)))
            return;
        uintptr_t next = ((uintptr_t *)fp)[0], ret = ((uintptr_t *)fp)[1];
        if (!ret)
            return;
        print_frame(o, ret);
        if (next <= fp)
            return;
        fp = next;
    }
}

/* Formats into a stack buffer and writes it: dumps also run from the
 * SIGQUIT handler and from fatal errors, where stdio may not be used. */
static void dump_one(g *gp, void *arg)
{
    dumpout *o = arg;
    uint32_t s = readgstatus(gp);
    if (s == _Gdead)
        return;
    uint8_t reason = load_relaxed(&gp->waitreason);
    const char *why = s == _Gwaiting && reason < waitReasonCount ? waitReasonStrings[reason] : "";
    char buf[256];
    int n = snprintf(buf, sizeof buf, "goroutine %lld [%s]:\n", (long long)gp->goid, *why ? why : gstatus_string(s));
    if (gp->name[0])
        n += snprintf(buf + n, sizeof buf - (size_t)n, "\tname: %.32s\n", gp->name);
    write_all(o, buf, n);
    if (s != _Grunning)
        backtrace_parked(o, gp);
    n = 0;
    if (gp->parentgoid > 0)
        n = snprintf(buf, sizeof buf, "created by goroutine %lld\n", (long long)gp->parentgoid);
    n += snprintf(buf + n, sizeof buf - (size_t)n, "\n");
    write_all(o, buf, n);
}

/* The first write error's errno, or 0. */
static int dump_to(int fd)
{
    dumpout o = { fd, 0 };
    allgs_foreach(dump_one, &o);
    return o.err;
}

void dumpgoroutines(int fd)
{
    dump_to(fd);
}

int goro_dump(int fd)
{
    if (fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    bool foreign = !on_m();
    if (foreign && !foreign_enter())
        return 0;
    int err = dump_to(fd);
    if (foreign)
        foreign_exit();
    return -err;
}
