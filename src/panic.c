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
    dumpgoroutines(2);
    _exit(2);
}
