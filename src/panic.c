/* Fatal errors: Go's throw. Only for broken runtime invariants. */
#include "runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

_Noreturn void throw(const char *msg)
{
    throwf("%s", msg);
}

_Noreturn void throwf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    (void)!write(2, "fatal error: ", 13);
    (void)!write(2, buf, (size_t)n);
    (void)!write(2, "\n\n", 2);
#ifdef GORO_LOCKRANK
    /* The dump takes allglock whatever this thread holds: no more lock
     * order checks here, and no dump where allglock is ours already. */
    lockrank_print_held(2);
    bool allg_held = lockrank_holds(LOCKRANK_ALLG);
    lockrank_off();
    if (allg_held) {
        (void)!write(2, "(no goroutine dump: this thread holds allglock)\n", 48);
        _exit(2);
    }
#endif
    dumpgoroutines(2);
    _exit(2);
}

/* Ends the process if *word is not `live`: the object was freed already
 * (it holds `freed`) or never made by goro, as Go does for misuse it can
 * detect (a second free spun forever on the freed block's lock). The
 * freed memory is read on purpose, hence no sanitizer checks; the word
 * lies past malloc's free-list links, so it survives the free until the
 * block is reused (a reused block is not caught). */
__attribute__((no_sanitize("address", "thread"))) void check_live(const uint64_t *word, uint64_t live,
                                                                 uint64_t freed, const char *call,
                                                                 const char *what)
{
    uint64_t v = *(const volatile uint64_t *)word;
    if (v == freed)
        throwf("%s: %s already freed", call, what);
    if (v != live)
        throwf("%s: not a %s (freed, or not made by goro)", call, what);
}

/* Volatile: a store just before free() is otherwise dropped as dead. */
void mark_freed(uint64_t *word, uint64_t freed)
{
    *(volatile uint64_t *)word = freed;
}
