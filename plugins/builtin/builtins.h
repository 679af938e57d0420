/*
 * builtins.h - the models compiled into the binary: canary and decoy. They
 * use the same ABI as any plugin and pass the same checks. main() (and the
 * tests) register them into the host's table (registry.h) with
 * rv_builtins_register_compiled(); the host never includes this header.
 */
#ifndef RV_BUILTINS_H
#define RV_BUILTINS_H

#include "registry.h"
#include "rendezvous_plugin.h"

/* The entries rv_builtins_register_compiled() adds, in this order. */
extern const rv_builtin rv_builtin_canary_entry;
extern const rv_builtin rv_builtin_decoy_entry;

const rv_plugin *rv_builtin_canary(void);
const rv_plugin *rv_builtin_decoy(void);

#endif
