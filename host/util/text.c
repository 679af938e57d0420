/* text.c - a growing buffer; never truncates silently (oom is recorded). */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(rv_text *t, size_t more)
{
    if (t->oom)
        return false;
    if (t->len + more + 1 <= t->cap)
        return true;
    size_t ncap = (t->len + more + 1) * 2;
    char *np = realloc(t->p, ncap);
    if (!np) {
        t->oom = true;
        return false;
    }
    t->p = np;
    t->cap = ncap;
    return true;
}

void rv_text_append(rv_text *t, const char *s, size_t len)
{
    if (!reserve(t, len))
        return;
    memcpy(t->p + t->len, s, len);
    t->len += len;
    t->p[t->len] = '\0';
}

void rv_text_printf(rv_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

const char *rv_text_str(const rv_text *t)
{
    return t->p ? t->p : "";
}

void rv_text_free(rv_text *t)
{
    free(t->p);
    *t = (rv_text){0};
}
