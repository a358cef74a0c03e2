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

static void dump_one(g *gp, void *arg)
{
    int fd = *(int *)arg;
    uint32_t s = readgstatus(gp);
    if (s == _Gdead || gp->issystem)
        return;
    const char *why = s == _Gwaiting && gp->waitreason < waitReasonCount ? waitReasonStrings[gp->waitreason] : "";
    dprintf(fd, "goroutine %lld [%s]:\n", (long long)gp->goid, *why ? why : gstate(s));
    if (gp->name[0])
        dprintf(fd, "\tname: %s\n", gp->name);
    if (gp->parentgoid > 0)
        dprintf(fd, "created by goroutine %lld\n", (long long)gp->parentgoid);
    dprintf(fd, "\n");
}

void dumpgoroutines(int fd)
{
    if (runtime_running())
        allgs_foreach(dump_one, &fd);
}

int goro_dump(int fd)
{
    if (fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    dumpgoroutines(fd);
    return 0;
}
