/* registry.c - the table the builtins register into. */
#include <stdio.h>
#include <string.h>

#include "registry.h"

int rv_builtins_add(rv_builtins *t, const rv_builtin *b)
{
    if (!t || !b || !b->name || !b->descriptor || t->n == RV_BUILTINS_MAX ||
        rv_builtins_find(t, b->name) || ((b->props & RV_BUILTIN_REFERENCE) && !b->monitor_settings))
        return -1;
    t->items[t->n++] = b;
    return 0;
}

const rv_builtin *rv_builtins_find(const rv_builtins *t, const char *name)
{
    for (size_t i = 0; t && name && i < t->n; i++)
        if (strcmp(t->items[i]->name, name) == 0)
            return t->items[i];
    return NULL;
}

bool rv_builtin_is_path_param(const rv_builtin *b, const char *key)
{
    for (const char *const *p = b ? b->path_params : NULL; p && *p; p++)
        if (strcmp(*p, key) == 0)
            return true;
    return false;
}

int rv_builtins_join(const rv_builtins *t, char *out, size_t size)
{
    size_t len = 0;
    if (size)
        out[0] = '\0';
    for (size_t i = 0; t && i < t->n; i++) {
        int n = snprintf(len < size ? out + len : NULL, len < size ? size - len : 0, "%s%s",
                         i ? ", " : "", t->items[i]->name);
        len += n > 0 ? (size_t)n : 0;
    }
    return (int)len;
}
