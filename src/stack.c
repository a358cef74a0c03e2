/*
 * Goroutine stacks. C code cannot move stacks the way Go copies them, so
 * each goroutine gets a fixed range of address space that the kernel
 * commits page by page as it is touched (an idle goroutine costs one page).
 *
 * Stacks are carved from large arenas, one arena list per power-of-two size
 * class, so a million stacks need a handful of mappings instead of a
 * million (vm.max_map_count is 65530). Below every stack lies a guard
 * region installed with MADV_GUARD_INSTALL (page-table markers: no VMA, no
 * memory) or, on kernels before 6.13, with mprotect.
 *
 * Layout of an arena: [guard][stack][guard][stack]... so the top page of a
 * stack and the guard above it share page-table pages.
 */
#include "runtime.h"

#include "fiber_sanitizer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define PAGE_SIZE 4096ul
#define GUARD_SIZE (64 * 1024ul)        /* wide enough for large C frames */
#define ARENA_SIZE (1ul << 30)          /* address space per arena, at most */
#define ARENA_SHARE 16                  /* under RLIMIT_AS: an arena takes 1/16 of it */
#define MIN_STACK (16 * 1024ul)
#define MAX_STACK (1ul << 30)
#define KEEP_ON_DEATH (32 * 1024ul)     /* committed bytes a dead G keeps */
#define NCLASS 17                       /* 16 KiB .. 1 GiB */

typedef struct stackarena {
    uintptr_t base, end;
    uintptr_t next;                     /* first uncarved slot */
    size_t slot;                        /* guard + stack */
    struct stackarena *link;
} stackarena;

typedef struct freestack {
    struct freestack *next;
} freestack;

static mutex stacklock = MUTEX_INIT(LOCKRANK_STACK);
static stackarena *arenas;              /* all arenas; read lock-free by the signal handler */
static stackarena *current[NCLASS];
static freestack *freelist[NCLASS];
static int guard_mode;                  /* 0 unknown, 1 MADV_GUARD_INSTALL, 2 mprotect */
static int64_t reserved_bytes;          /* atomic */
static size_t arena_size;               /* set by stackinit */

size_t default_stack_size = 256 * 1024;

/* The size class of a rounded size: log2(size) - log2(MIN_STACK). */
static int size_class(size_t size)
{
    return __builtin_ctzl(size) - __builtin_ctzl(MIN_STACK);
}

size_t stack_round(size_t size)
{
    if (size < MIN_STACK)
        size = MIN_STACK;
    if (size > MAX_STACK)
        return 0;
    size_t r = MIN_STACK;
    while (r < size)
        r <<= 1;
    return r;
}

/* 1 GiB per arena, or less under an address-space limit (RLIMIT_AS,
 * ulimit -v): every size class in use reserves an arena up front, so two
 * classes of 1 GiB each left nothing under a 2 GiB limit. */
static size_t arena_size_for_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return ARENA_SIZE;
    size_t share = (size_t)(rl.rlim_cur / ARENA_SHARE) & ~(PAGE_SIZE - 1);
    return share < ARENA_SIZE ? share : ARENA_SIZE;
}

void stackinit(void)
{
    arena_size = arena_size_for_limit();
    const char *env = getenv("GORO_STACK_SIZE");
    default_stack_size = 256 * 1024;
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == 0 && v > 0 && stack_round(v))
            default_stack_size = stack_round(v);
    }
}

/* False when the kernel refuses: mprotect guards split the arena's VMA,
 * so without MADV_GUARD_INSTALL vm.max_map_count (65530) caps a process at
 * about 32,000 stacks, and goro_go then returns -ENOMEM. */
static bool install_guard(uintptr_t lo)
{
    if (guard_mode != 2) {
        if (madvise((void *)lo, GUARD_SIZE, MADV_GUARD_INSTALL) == 0) {
            guard_mode = 1;
            return true;
        }
        if (guard_mode == 1)
            return false;
        guard_mode = 2;
    }
    return mprotect((void *)lo, GUARD_SIZE, PROT_NONE) == 0;
}

/* Reserves len bytes of address space for an arena of slot-sized slots;
 * when that much is not to be had (an address-space limit), as many
 * slots as can be, halving down to one. NULL if not even one. */
static void *reserve_arena(size_t *len, size_t slot)
{
    for (;;) {
        void *mem = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem != MAP_FAILED)
            return mem;
        if (*len == slot)
            return NULL;
        *len = *len / 2 / slot * slot;
        if (*len < slot)
            *len = slot;
    }
}

/* Called with stacklock held. */
static stackarena *new_arena(size_t size)
{
    size_t slot = GUARD_SIZE + size;
    size_t len = arena_size;
    if (len < 16 * slot)
        len = 16 * slot;
    void *mem = reserve_arena(&len, slot);
    if (!mem)
        return NULL;
    stackarena *a = calloc(1, sizeof *a);
    if (!a) {
        munmap(mem, len);
        return NULL;
    }
    a->base = a->next = (uintptr_t)mem;
    a->end = a->base + len;
    a->slot = slot;
    a->link = arenas;
    /* Release: the signal handler walks this list without the lock and
     * must see the arena's fields initialised. */
    store_release(&arenas, a);
    return a;
}

bool stackalloc(stack *s, size_t size)
{
    int c = size_class(size);
    lock(&stacklock);
    freestack *f = freelist[c];
    if (f) {
        freelist[c] = f->next;
        unlock(&stacklock);
        s->hi = (uintptr_t)f + sizeof(freestack);
        s->lo = s->hi - size;
        return true;
    }
    stackarena *a = current[c];
    if (!a || a->next + a->slot > a->end) {
        a = new_arena(size);
        if (!a) {
            unlock(&stacklock);
            return false;
        }
        current[c] = a;
    }
    uintptr_t slot = a->next;
    if (!install_guard(slot)) {
        unlock(&stacklock);
        return false;
    }
    a->next += a->slot;
    unlock(&stacklock);
    __atomic_add_fetch(&reserved_bytes, (int64_t)size, __ATOMIC_RELAXED);
    s->lo = slot + GUARD_SIZE;
    s->hi = s->lo + size;
    return true;
}

/* The free-list link lives in the stack's top word, a page that is
 * committed already (every goroutine touched it). */
void stackfree(stack *s)
{
    int c = size_class(s->hi - s->lo);
    freestack *f = (freestack *)(s->hi - sizeof(freestack));
    lock(&stacklock);
    f->next = freelist[c];
    freelist[c] = f;
    unlock(&stacklock);
    s->lo = s->hi = 0;
}

/* A dead goroutine whose stack grew beyond KEEP_ON_DEATH gives the excess
 * back to the kernel; the G keeps the rest for its next life. */
void stack_release_excess(g *gp)
{
    uintptr_t keep_lo = gp->stack.hi - KEEP_ON_DEATH;
    if (gp->minsp >= keep_lo || keep_lo <= gp->stack.lo)
        return;
    uintptr_t lo = gp->minsp & ~(PAGE_SIZE - 1);
    if (lo < gp->stack.lo)
        lo = gp->stack.lo;
    madvise((void *)lo, keep_lo - lo, MADV_DONTNEED);
}

bool stack_guard_hit(uintptr_t addr)
{
    for (stackarena *a = load_acquire(&arenas); a; a = a->link) {
        if (addr >= a->base && addr < a->end)
            return (addr - a->base) % a->slot < GUARD_SIZE;
    }
    return false;
}

int64_t stack_bytes_reserved(void)
{
    return __atomic_load_n(&reserved_bytes, __ATOMIC_RELAXED);
}

/* Resident stack pages, counted with mincore over the carved part of every
 * arena. Exact, and only paid when statistics are read. */
int64_t stack_bytes_committed(void)
{
    enum { CHUNK = 1 << 16 };
    static unsigned char vec[CHUNK];
    static mutex vecl = MUTEX_INIT(LOCKRANK_STACKVEC);
    int64_t total = 0;
    lock(&vecl);
    lock(&stacklock);
    for (stackarena *a = arenas; a; a = a->link) {
        for (uintptr_t p = a->base; p < a->next; p += (uintptr_t)CHUNK * PAGE_SIZE) {
            size_t len = a->next - p;
            if (len > (size_t)CHUNK * PAGE_SIZE)
                len = (size_t)CHUNK * PAGE_SIZE;
            if (mincore((void *)p, len, vec) != 0)
                continue;
            for (size_t i = 0; i < len / PAGE_SIZE; i++)
                total += vec[i] & 1;
        }
    }
    unlock(&stacklock);
    unlock(&vecl);
    return total * (int64_t)PAGE_SIZE;
}

/* After goro_run returns: give every arena back to the kernel. unmap
 * false: forget the arenas but leave them mapped, because a thread
 * abandoned in a system call still runs on one of their stacks. */
void stackfini(bool unmap)
{
    lock(&stacklock);
    stackarena *a = arenas;
    store_release(&arenas, NULL);
    while (a) {
        stackarena *next = a->link;
        if (unmap) {
            sanitizer_unpoison(a->base, a->next - a->base);
            munmap((void *)a->base, a->end - a->base);
        }
        free(a);
        a = next;
    }
    memset(current, 0, sizeof current);
    memset(freelist, 0, sizeof freelist);
    store_relaxed(&reserved_bytes, 0);
    unlock(&stacklock);
}
