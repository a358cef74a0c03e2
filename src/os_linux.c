/*
 * Linux specifics: clocks, futexes, threads, CPU count and the fatal-signal
 * handler that turns a guard-page hit into Go's stack overflow message.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int64_t nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t goro_now(void)
{
    return nanotime();
}

/* Sleeps while *addr == val, at most ns (ns < 0: forever). Spurious
 * wake-ups are allowed: every caller re-checks its condition. */
void futexsleep(uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec ts, *tsp = NULL;
    if (ns >= 0) {
        ts.tv_sec = ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        tsp = &ts;
    }
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

void futexwakeup(uint32_t *addr, int32_t cnt)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, cnt, NULL, NULL, 0);
}

void usleep_ns(int64_t ns)
{
    struct timespec ts = { ns / 1000000000, ns % 1000000000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void osyield(void)
{
    sched_yield();
}

/* The CPU quota of cgroup v2 (cpu.max "QUOTA PERIOD"), rounded up, along
 * the process's cgroup path and its ancestors; 0 when there is none. */
static int32_t cgroup_cpu_limit(void)
{
    char line[PATH_MAX], path[PATH_MAX + 64];
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return 0;
    char *cg = NULL;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "0::", 3) == 0) {
            cg = line + 3;
            cg[strcspn(cg, "\n")] = 0;
            break;
        }
    }
    fclose(f);
    if (!cg)
        return 0;
    int32_t best = 0;
    for (;;) {
        snprintf(path, sizeof path, "/sys/fs/cgroup%s/cpu.max", strcmp(cg, "/") == 0 ? "" : cg);
        FILE *m = fopen(path, "r");
        if (m) {
            long long quota, period;
            if (fscanf(m, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0) {
                int32_t n = (int32_t)((quota + period - 1) / period);
                if (best == 0 || n < best)
                    best = n;
            }
            fclose(m);
        }
        char *slash = strrchr(cg, '/');
        if (!slash || slash == cg)
            break;
        *slash = 0;
    }
    return best;
}

int32_t getproccount(void)
{
    cpu_set_t set;
    int32_t n = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    int32_t quota = cgroup_cpu_limit();
    if (quota > 0 && quota < n)
        n = quota;
    return n > 0 ? n : 1;
}

/* The Threads: line of /proc/self/status, or -errno. */
static int32_t read_thread_count(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int err = n < 0 ? errno : EIO;
    close(fd);
    if (n <= 0)
        return -err;
    buf[n] = 0;
    char *line = strstr(buf, "\nThreads:");
    int32_t count = line ? (int32_t)atoi(line + 9) : 0;
    return count > 0 ? count : -EIO;
}

/* Threads in this process, or 0 when /proc cannot tell (no /proc, out of
 * descriptors): the deadlock check then cannot decide and reports
 * nothing, which is said once on stderr. */
int32_t osthreadcount(void)
{
    static uint32_t warned; /* atomic; relaxed: it orders nothing else */
    int32_t n = read_thread_count();
    if (n > 0)
        return n;
    if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED)) {
        char msg[256];
        int len = snprintf(msg, sizeof msg,
                           "goro: warning: cannot count threads in /proc/self/status (%s): "
                           "deadlocks are not detected while it stays unreadable\n",
                           strerror(-n));
        if (len > 0)
            (void)!write(2, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
    }
    return 0;
}

int goro_numcpu(void)
{
    return getproccount();
}

void newosproc(void *(*start)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&t, &attr, start, arg);
    pthread_attr_destroy(&attr);
    if (err != 0)
        throwf("newosproc: pthread_create failed: %s", strerror(err));
}

/* ------------------------------------------------------------- signals */

#define ALTSTACK_SIZE (64 * 1024)

/* The action a signal had before goro installed its handler: goro's
 * handler passes the signals that are not goro's on to it. initsig writes
 * it while goro's handler is not installed yet (sigaction stores the old
 * action before the new one can run), so the handlers read it unlocked. */
typedef struct chained {
    struct sigaction act;
    uint32_t reset_done; /* atomic: an SA_RESETHAND handler has run once */
} chained;

static chained prev_segv, prev_bus, prev_urg;

static void write_stderr(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Runs the program's handler for sig as the kernel would have: with its
 * sa_mask and (unless SA_NODEFER) sig blocked, SA_SIGINFO honoured, and
 * only once with SA_RESETHAND. Returns false when the disposition is (or,
 * after SA_RESETHAND, has become) SIG_DFL: the caller applies the default.
 * SIG_IGN does nothing. The exchange is relaxed: it only elects the one
 * delivery that runs a one-shot handler. */
static bool chain_signal(chained *prev, int sig, siginfo_t *info, void *ctx)
{
    const struct sigaction *act = &prev->act;
    if (act->sa_handler == SIG_IGN)
        return true;
    if (act->sa_handler == SIG_DFL)
        return false;
    if ((act->sa_flags & SA_RESETHAND) && __atomic_exchange_n(&prev->reset_done, 1, __ATOMIC_RELAXED))
        return false;
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &act->sa_mask, &old); /* sig itself is blocked already: goro's handler */
    if (act->sa_flags & SA_NODEFER) {
        sigset_t self;
        sigemptyset(&self);
        sigaddset(&self, sig);
        pthread_sigmask(SIG_UNBLOCK, &self, NULL);
    }
    if (act->sa_flags & SA_SIGINFO)
        act->sa_sigaction(sig, info, ctx);
    else
        act->sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return true;
}

/* Runs on the M's alternate signal stack, so it works when the goroutine's
 * own stack is exhausted. Only async-signal-safe work before _exit. */
static void sigsegv_handler(int sig, siginfo_t *info, void *ctx)
{
    if (stack_guard_hit((uintptr_t)info->si_addr)) {
        char buf[96];
        g *gp = getg();
        long long goid = gp ? (long long)gp->goid : 0;
        snprintf(buf, sizeof buf, "fatal error: goroutine %lld stack overflow\n", goid);
        write_stderr(buf);
        _exit(2);
    }
    /* Not ours: hand the fault to whoever handled it before us (a
     * sanitizer, the program), or let the faulting access re-run under
     * the default action. A fault cannot be ignored. */
    chained *prev = sig == SIGSEGV ? &prev_segv : &prev_bus;
    if (prev->act.sa_handler == SIG_IGN || !chain_signal(prev, sig, info, ctx))
        signal(sig, SIG_DFL);
}

/* SIGQUIT: dump every goroutine and exit 2, as Go does. Best effort: the
 * dump takes the allgs lock, so a quit that lands while the runtime holds
 * it waits for it. */
static void sigquit_handler(int sig)
{
    (void)sig;
    lockrank_off(); /* the dump takes allglock, whatever the thread holds */
    write_stderr("SIGQUIT: quit\n\n");
    dumpgoroutines(2);
    _exit(2);
}

/* What kick_syscall sends along with its SIGURG: only its address. */
static const char kick_token;

/* sigqueue's marks: from this process, carrying kick_token. */
static bool is_kick(const siginfo_t *info)
{
    return info->si_code == SI_QUEUE && info->si_pid == getpid() && info->si_value.sival_ptr == &kick_token;
}

/* SIGURG, the signal Go's runtime uses too. goro's own (kick_syscall)
 * needs no work: installed without SA_RESTART, its delivery makes the
 * thread's system call return EINTR. Any other SIGURG (the kernel's for
 * out-of-band data, the program's own) goes to the program's handler; its
 * default action is to ignore it. */
static void sigurg_handler(int sig, siginfo_t *info, void *ctx)
{
    if (!is_kick(info))
        chain_signal(&prev_urg, sig, info, ctx);
}

void kick_syscall(m *mp)
{
    union sigval v = { .sival_ptr = (void *)&kick_token };
    pthread_sigqueue(mp->thread, SIGURG, v);
}

static bool is_handler(const struct sigaction *sa, void (*fn)(int, siginfo_t *, void *))
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == fn;
}

/* Installs fn for sig (on the alternate stack, without SA_RESTART) and
 * keeps the action it replaces in prev, unless fn is installed already
 * (an earlier goro_run). */
static void take_signal(int sig, void (*fn)(int, siginfo_t *, void *), chained *prev)
{
    struct sigaction cur, sa;
    sigaction(sig, NULL, &cur);
    if (is_handler(&cur, fn))
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    store_relaxed(&prev->reset_done, 0);
    /* The old action is saved before ours is installed: sigaction's own
     * copy-out comes after the kernel switched handlers, and a signal on
     * another thread in between would find prev half written. */
    prev->act = cur;
    sigaction(sig, &sa, NULL);
}

/* goro's SIGQUIT dump, unless the program handles SIGQUIT itself. */
static void take_sigquit(void)
{
    struct sigaction cur, sa;
    sigaction(SIGQUIT, NULL, &cur);
    if (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN)
        return; /* goro's own (an earlier goro_run) or the program's */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sigquit_handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, NULL);
}

/* At every goro_run: a handler the program installed since the last one
 * is chained to, not lost. */
void initsig(void)
{
    take_signal(SIGSEGV, sigsegv_handler, &prev_segv);
    take_signal(SIGBUS, sigsegv_handler, &prev_bus);
    take_signal(SIGURG, sigurg_handler, &prev_urg);
    take_sigquit();
}

void minit_signals(m *mp)
{
    void *mem = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        throw("minit: cannot allocate the signal stack");
    stack_t ss = { .ss_sp = mem, .ss_size = ALTSTACK_SIZE, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0)
        throw("minit: sigaltstack failed");
    mp->sigaltstack_mem = mem;
}

void unminit_signals(m *mp)
{
    if (!mp->sigaltstack_mem)
        return;
    stack_t ss = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
    sigaltstack(&ss, NULL);
    munmap(mp->sigaltstack_mem, ALTSTACK_SIZE);
    mp->sigaltstack_mem = NULL;
}

/* ------------------------------------------------------- cheap randomness */

/* Per-thread wyrand state, seeded from the clock and the thread's address. */
static __thread uint64_t rand_state;

uint32_t cheaprand(void)
{
    if (rand_state == 0)
        rand_state = (uint64_t)nanotime() ^ (uint64_t)(uintptr_t)&rand_state ^ 0x9E3779B97F4A7C15ull;
    rand_state += 0xa0761d6478bd642full;
    __uint128_t t = (__uint128_t)rand_state * (rand_state ^ 0xe7037ed1a0b428dbull);
    return (uint32_t)((uint64_t)(t >> 64) ^ (uint64_t)t);
}

/* Uniform in [0, n) by Lemire's multiply-shift. */
uint32_t cheaprandn(uint32_t n)
{
    return (uint32_t)(((uint64_t)cheaprand() * n) >> 32);
}
