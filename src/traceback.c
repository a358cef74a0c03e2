/*
 * Goroutine dumps (Go's traceback.go): one block per live goroutine,
 * "goroutine N [state]:" with its wait reason, name and creator.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static const char *gstate(uint32_t s)
{
    switch (s) {
    case _Grunnable: return "runnable";
    case _Grunning: return "running";
    case _Gsyscall: return "syscall";
    case _Gwaiting: return "waiting";
    case _Gpreempted: return "preempted";
    case _Gidle: return "idle";
    default: return "dead";
    }
}

/* Formats into a stack buffer and writes it: dumps also run from the
 * SIGQUIT handler and from fatal errors, where stdio may not be used. */
static void dump_one(g *gp, void *arg)
{
    int fd = *(int *)arg;
    uint32_t s = readgstatus(gp);
    if (s == _Gdead)
        return;
    uint8_t reason = load_relaxed(&gp->waitreason);
    const char *why = s == _Gwaiting && reason < waitReasonCount ? waitReasonStrings[reason] : "";
    char buf[256];
    int n = snprintf(buf, sizeof buf, "goroutine %lld [%s]:\n", (long long)gp->goid, *why ? why : gstate(s));
    if (gp->name[0])
        n += snprintf(buf + n, sizeof buf - (size_t)n, "\tname: %.32s\n", gp->name);
    if (gp->parentgoid > 0)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "created by goroutine %lld\n", (long long)gp->parentgoid);
    n += snprintf(buf + n, sizeof buf - (size_t)n, "\n");
    for (const char *p = buf; n > 0;) {
        ssize_t w = write(fd, p, (size_t)n);
        if (w <= 0)
            return;
        p += w;
        n -= (int)w;
    }
}

void dumpgoroutines(int fd)
{
    allgs_foreach(dump_one, &fd);
}

int goro_dump(int fd)
{
    if (fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    bool foreign = !on_m();
    if (foreign && !foreign_enter())
        return 0;
    dumpgoroutines(fd);
    if (foreign)
        foreign_exit();
    return 0;
}
