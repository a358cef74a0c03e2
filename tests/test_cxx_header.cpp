/*
 * test_cxx_header — <goro.h> from C++17: it compiles with g++ -std=c++17
 * -Wall -Wextra -Werror (no C-only keywords such as _Noreturn reach a C++
 * compiler), its declarations have C linkage (the program links against
 * libgoro.a, whose symbols are not mangled), the static initialisers are
 * valid C++, and a few calls work: goro_run returns main's value, a
 * goroutine made from a lambda sends over an unbuffered channel, a
 * waitgroup and a mutex count, goro_select takes a ready case, and
 * goro_exit ends a goroutine (the code after it never runs).
 */
#include "check.h"

#include <goro.h>

#include <atomic>
#include <cstdint>

namespace {

constexpr int N = 100;

goro_mutex mu = GORO_MUTEX_INIT;
goro_waitgroup wg = GORO_WAITGROUP_INIT;
long counter;                      /* under mu */
std::atomic<int> after_exit{0};    /* set by code after goro_exit: must stay 0 */

void exiting(void *)
{
    goro_waitgroup_done(&wg);
    goro_exit();
    after_exit.store(1); /* unreachable */
}

int cxx_main(int, char **)
{
    CHECK(goro_self() == 1, "goro_self() in main is %lld, not 1", (long long)goro_self());

    /* A lambda without captures is a goro_fn. */
    goro_chan *c = goro_chan_make(sizeof(int), 0);
    CHECK(c != nullptr, "goro_chan_make failed");
    int64_t id = goro_go(
        [](void *arg) {
            goro_chan *ch = static_cast<goro_chan *>(arg);
            for (int i = 1; i <= N; i++)
                CHECK(goro_chan_send(ch, &i) == 0, "send %d failed", i);
            CHECK(goro_chan_close(ch) == 0, "close failed");
        },
        c);
    CHECK(id > 1, "goro_go returned %lld", (long long)id);
    long sum = 0;
    int v;
    while (goro_chan_recv(c, &v) == 1)
        sum += v;
    CHECK(sum == (long)N * (N + 1) / 2, "received a sum of %ld, not %ld", sum, (long)N * (N + 1) / 2);
    CHECK(goro_chan_free(c) == 0, "goro_chan_free failed");
    tap_ok("a lambda goroutine sent 1..%d over an unbuffered channel", N);

    CHECK(goro_waitgroup_add(&wg, N) == 0, "goro_waitgroup_add failed");
    for (int i = 0; i < N; i++)
        goro_go(
            [](void *) {
                goro_mutex_lock(&mu);
                counter++;
                goro_mutex_unlock(&mu);
                goro_waitgroup_done(&wg);
            },
            nullptr);
    goro_waitgroup_wait(&wg);
    CHECK(counter == N, "counter %ld, not %d", counter, N);
    tap_ok("%d goroutines counted under a GORO_MUTEX_INIT mutex, GORO_WAITGROUP_INIT waitgroup", N);

    goro_chan *ready = goro_chan_make(sizeof(int), 1);
    int one = 1, got = 0;
    CHECK(goro_chan_send(ready, &one) == 0, "send on the buffered channel failed");
    goro_case cases[2] = {{nullptr, GORO_RECV, nullptr, 0}, {ready, GORO_RECV, &got, 0}};
    int k = goro_select(cases, 2, 0);
    CHECK(k == 1 && cases[1].ok == 1 && got == 1, "goro_select: %d, ok %d, got %d", k, cases[1].ok, got);
    CHECK(goro_chan_free(ready) == 0, "goro_chan_free failed");
    tap_ok("goro_select took the ready case and skipped the nil channel");

    CHECK(goro_waitgroup_add(&wg, 1) == 0, "goro_waitgroup_add failed");
    goro_go(exiting, nullptr);
    goro_waitgroup_wait(&wg);
    for (int i = 0; i < 10; i++)
        CHECK(goro_sleep(1000000) == 0, "goro_sleep failed");
    CHECK(after_exit.load() == 0, "code after goro_exit ran");
    tap_ok("goro_exit ended the goroutine");
    return 42;
}

} // namespace

int main(int argc, char **argv)
{
    tap_plan(5);
    int rc = goro_run(cxx_main, argc, argv);
    CHECK(rc == 42, "goro_run returned %d, not main's 42", rc);
    tap_ok("goro_run returned main's value");
    return 0;
}
