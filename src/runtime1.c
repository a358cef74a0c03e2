/* GODEBUG parsing (Go's runtime1.go): comma-separated key=value pairs,
 * unknown keys ignored. */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

dbgvars debug;

static void setvar(const char *key, size_t keylen, const char *val)
{
    static const struct {
        const char *name;
        int32_t *value;
    } vars[] = {
        { "schedtrace", &debug.schedtrace },
        { "scheddetail", &debug.scheddetail },
        { "asyncpreemptoff", &debug.asyncpreemptoff },
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (strlen(vars[i].name) == keylen && memcmp(vars[i].name, key, keylen) == 0)
            *vars[i].value = (int32_t)atoi(val);
}

void parsedebugvars(void)
{
    memset(&debug, 0, sizeof debug);
    const char *s = getenv("GODEBUG");
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (eq) {
            char val[32];
            size_t vlen = len - (size_t)(eq + 1 - s);
            if (vlen >= sizeof val)
                vlen = sizeof val - 1;
            memcpy(val, eq + 1, vlen);
            val[vlen] = 0;
            setvar(s, (size_t)(eq - s), val);
        }
        s = end ? end + 1 : NULL;
    }
}
