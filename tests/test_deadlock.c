/*
 * test_deadlock — checkdead: when every goroutine is parked for good the
 * runtime prints "fatal error: all goroutines are asleep - deadlock!" and
 * the goroutine list, and exits with status 2 (as Go does).
 *
 * The test re-executes itself (/proc/self/exe MODE) and checks the child's
 * stderr and exit status:
 *   wg     the main goroutine waits on a waitgroup nobody will finish;
 *   many   the same, plus three goroutines parked on semaphores; their goids
 *          (printed by the child on stdout) must appear in the dump;
 *   late   goroutines run for a while (a ping-pong) and then all park: the
 *          deadlock is detected after activity, not only at start.
 */
#include "check.h"
#include "child.h"
#include "runtime.h"

#include <stdatomic.h>

static goro_waitgroup never = GORO_WAITGROUP_INIT;
static uint32_t sema_never;

static void park_forever(void *arg)
{
    (void)arg;
    semacquire(&sema_never);
}

static uint32_t pa, pb;

static void pinger(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) {
        semrelease(&pa);
        semacquire(&pb);
    }
    semacquire(&sema_never);
}

static void ponger(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) {
        semacquire(&pa);
        semrelease(&pb);
    }
    semacquire(&sema_never);
}

static int child_main(int argc, char **argv)
{
    (void)argc;
    const char *mode = argv[1];
    goro_waitgroup_add(&never, 1);
    if (strcmp(mode, "many") == 0) {
        for (int i = 0; i < 3; i++) {
            int64_t id = goro_go(park_forever, NULL);
            printf("goid %lld\n", (long long)id);
        }
        fflush(stdout);
    } else if (strcmp(mode, "late") == 0) {
        goro_go(pinger, (void *)(intptr_t)SCALE(20000));
        goro_go(ponger, (void *)(intptr_t)SCALE(20000));
        for (int i = 0; i < 1000; i++)
            goro_yield();
    }
    printf("main waits\n");
    fflush(stdout);
    goro_waitgroup_wait(&never);
    printf("main woke up\n"); /* must never happen */
    fflush(stdout);
    return 3;
}

static void check_child(const char *mode, int *goids, int ngoids)
{
    child_result r;
    run_child(mode, NULL, -1, 30, &r);
    tap_diag("child %s: %s after %.2f s", mode, child_status_str(r.status), r.secs);
    bool ok_exit = !r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2;
    bool ok_msg = strstr(r.err, "fatal error: all goroutines are asleep - deadlock!") != NULL;
    bool ok_g1 = strstr(r.err, "goroutine 1 [") != NULL;
    if (!ok_exit || !ok_msg || !ok_g1) {
        child_diag("child stdout", r.out);
        child_diag("child stderr", r.err);
    }
    CHECK(!r.timed_out, "%s: deadlock not detected: child still running after 30 s", mode);
    CHECK(ok_exit, "%s: child ended with %s, want exit 2", mode, child_status_str(r.status));
    CHECK(ok_msg, "%s: stderr lacks 'fatal error: all goroutines are asleep - deadlock!'", mode);
    CHECK(ok_g1, "%s: stderr lacks 'goroutine 1 ['", mode);
    CHECK(strstr(r.out, "main waits") != NULL, "%s: the child's main goroutine never waited",
          mode);
    CHECK(strstr(r.out, "main woke up") == NULL, "%s: the waitgroup wait returned", mode);
    if (goids) {
        int n = 0;
        const char *p = r.out;
        long long id;
        while ((p = strstr(p, "goid ")) && n < ngoids && sscanf(p, "goid %lld", &id) == 1) {
            goids[n++] = (int)id;
            p += 5;
        }
        CHECK(n == ngoids, "%s: child printed %d goids, want %d", mode, n, ngoids);
        for (int i = 0; i < n; i++) {
            char want[64];
            snprintf(want, sizeof want, "goroutine %d [", goids[i]);
            if (!strstr(r.err, want))
                child_diag("child stderr", r.err);
            CHECK(goids[i] > 1, "%s: goro_go returned %d", mode, goids[i]);
            CHECK(strstr(r.err, want) != NULL, "%s: dump lacks '%s'", mode, want);
        }
    }
    free(r.out);
    free(r.err);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return goro_run(child_main, argc, argv);
    tap_plan(3);
    check_child("wg", NULL, 0);
    tap_ok("main goroutine waiting on a waitgroup nobody finishes: fatal deadlock error, exit 2");
    int goids[3];
    check_child("many", goids, 3);
    tap_ok("with three goroutines parked too: all of them (%d %d %d) are in the dump", goids[0],
           goids[1], goids[2]);
    check_child("late", NULL, 0);
    tap_ok("deadlock after a ping-pong of %d round trips is detected too", SCALE(20000));
    return 0;
}
