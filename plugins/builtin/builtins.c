/* builtins.c - registers the models compiled in, in the order of the
 * messages that list them ("canary, decoy"). */
#include "builtins.h"

void rv_builtins_register_compiled(rv_builtins *t)
{
    rv_builtins_add(t, &rv_builtin_canary_entry);
    rv_builtins_add(t, &rv_builtin_decoy_entry);
}
