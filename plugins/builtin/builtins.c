/* builtins.c - the table of models compiled into the host. */
#include <string.h>

#include "builtins.h"

const rv_plugin *rv_builtin_descriptor(const char *name)
{
    if (strcmp(name, "canary") == 0)
        return rv_builtin_canary();
    if (strcmp(name, "decoy") == 0)
        return rv_builtin_decoy();
    return NULL;
}
