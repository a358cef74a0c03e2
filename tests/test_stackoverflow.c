/*
 * test_stackoverflow — a goroutine that recurses without bound hits the
 * guard below its stack; the runtime must print
 * "fatal error: goroutine N stack overflow" (N its goid) and exit 2.
 *
 * The test re-executes itself in a child (/proc/self/exe MODE):
 *   attr   goro_go_attr with stack_size = 64 KiB; the stack used before the
 *          fault (measured through a shared memfd on fd 3) must be at most
 *          64 KiB and more than half of it;
 *   env    GORO_STACK_SIZE=131072 and a plain goro_go: the fault comes
 *          between 64 KiB and 128 KiB;
 *   main   the main goroutine itself overflows: goroutine 1.
 * Some parked goroutines exist in each child, so N is not trivially 2.
 * Under ASan the child runs with handle_segv=0 (the runtime's handler must
 * see the fault) and detect_stack_use_after_return=0 (locals on the real
 * stack).
 */
#include "check.h"
#include "child.h"
#include "runtime.h"

#include <sys/mman.h>

typedef struct shared {
    volatile uintptr_t top;     /* address of a local in the first frame */
    volatile uintptr_t deepest; /* address of a local in the deepest frame */
    volatile long depth;
} shared;

static shared *sh;
static volatile int never_true;
static uint32_t sema_never;

static int recurse(int depth)
{
    volatile char buf[200];
    buf[0] = (char)depth;
    buf[sizeof buf - 1] = (char)depth;
    sh->deepest = (uintptr_t)&buf[0];
    sh->depth = depth;
    if (never_true)
        return buf[0];
    return recurse(depth + 1) + buf[depth % (int)sizeof buf];
}

static void overflow(void *arg)
{
    (void)arg;
    /* Printed here, not by the spawner: on another P this goroutine can
     * overflow (and the process exit) before goro_go even returns. */
    printf("goid %lld\n", (long long)goro_self());
    fflush(stdout);
    volatile char here = 0;
    sh->top = (uintptr_t)&here;
    recurse(0);
    printf("recursion returned\n");
    fflush(stdout);
}

static void park_forever(void *arg)
{
    (void)arg;
    semacquire(&sema_never);
}

static int child_main(int argc, char **argv)
{
    (void)argc;
    const char *mode = argv[1];
    sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
    if (sh == MAP_FAILED) {
        perror("mmap fd 3");
        return 5;
    }
    for (int i = 0; i < 5; i++)
        goro_go(park_forever, NULL);
    if (strcmp(mode, "attr") == 0) {
        goro_attr attr = {.stack_size = 64 * 1024, .name = "overflower"};
        goro_go_attr(overflow, NULL, &attr);
    } else if (strcmp(mode, "env") == 0) {
        goro_go(overflow, NULL);
    } else {
        overflow(NULL);
        return 4;
    }
    semacquire(&sema_never);
    return 3;
}

static void check_child(const char *mode, long min_used, long max_used)
{
    int fd = memfd_create("shared", 0);
    CHECK(fd >= 0, "memfd_create");
    CHECK(ftruncate(fd, 4096) == 0, "ftruncate");
    shared *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(s != MAP_FAILED, "mmap");
    child_result r;
    run_child(mode, "handle_segv=0:detect_stack_use_after_return=0", fd, 30, &r);
    long used = (long)(s->top - s->deepest);
    tap_diag("child %s: %s after %.2f s; overflowed at depth %ld with %ld bytes of stack used", mode,
             child_status_str(r.status), r.secs, (long)s->depth, used);
    long long goid = -1, n = -1;
    sscanf(r.out, "goid %lld", &goid);
    const char *f = strstr(r.err, "fatal error: goroutine ");
    if (f)
        sscanf(f, "fatal error: goroutine %lld stack overflow", &n);
    char want[96];
    snprintf(want, sizeof want, "fatal error: goroutine %lld stack overflow", goid);
    bool ok = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2 && goid > 0 &&
              strstr(r.err, want) != NULL;
    if (!ok) {
        child_diag("child stdout", r.out);
        child_diag("child stderr", r.err);
    }
    CHECK(!r.timed_out, "%s: child still running after 30 s", mode);
    CHECK(goid > 0, "%s: child printed no goid", mode);
    CHECK(strstr(r.out, "recursion returned") == NULL, "%s: unbounded recursion returned", mode);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2, "%s: child ended with %s, want exit 2",
          mode, child_status_str(r.status));
    CHECK(strstr(r.err, want) != NULL, "%s: stderr lacks '%s' (found goroutine %lld)", mode, want,
          n);
    if (min_used > 0) {
        CHECK(used <= max_used, "%s: the goroutine used %ld bytes of stack, more than %ld", mode,
              used, max_used);
        CHECK(used > min_used, "%s: the goroutine overflowed after only %ld bytes (want > %ld)",
              mode, used, min_used);
    }
    munmap(s, 4096);
    close(fd);
    free(r.out);
    free(r.err);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return goro_run(child_main, argc, argv);
    tap_plan(3);
    unsetenv("GORO_STACK_SIZE");
    check_child("attr", 32 * 1024, 64 * 1024);
    tap_ok("goroutine with a 64 KiB stack: 'fatal error: goroutine N stack overflow', exit 2");
    setenv("GORO_STACK_SIZE", "131072", 1);
    check_child("env", 64 * 1024, 128 * 1024);
    unsetenv("GORO_STACK_SIZE");
    tap_ok("GORO_STACK_SIZE=131072 sets the default stack: overflow between 64 and 128 KiB");
    check_child("main", 0, 0);
    tap_ok("overflow in the main goroutine: 'fatal error: goroutine 1 stack overflow'");
    return 0;
}
