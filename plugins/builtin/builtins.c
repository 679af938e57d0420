/* builtins.c - the table of models compiled into the host. */
#include <string.h>

#include "builtins.h"

const char *const rv_builtin_names[] = {RV_BUILTIN_CANARY, RV_BUILTIN_DECOY, NULL};

const rv_plugin *rv_builtin_descriptor(const char *name)
{
    if (strcmp(name, RV_BUILTIN_CANARY) == 0)
        return rv_builtin_canary();
    if (strcmp(name, RV_BUILTIN_DECOY) == 0)
        return rv_builtin_decoy();
    return NULL;
}
