/*
 * builtins.h - the models compiled into the host: canary and decoy. They use
 * the same ABI as any plugin and pass the same checks.
 */
#ifndef RV_BUILTINS_H
#define RV_BUILTINS_H

#include <stddef.h>
#include <stdint.h>

#include "rendezvous_plugin.h"

/* The descriptor of builtin `name`, or NULL if there is none. */
const rv_plugin *rv_builtin_descriptor(const char *name);

const rv_plugin *rv_builtin_canary(void);
const rv_plugin *rv_builtin_decoy(void);

/* The decoy keeps its last `keep` requests for warm-up replay. Calls fn on
 * each, oldest first, while holding the decoy's lock: fn must not call back
 * into the decoy. Returns how many were visited. */
typedef void (*rv_decoy_visit_fn)(void *ctx, const rv_request *req);
size_t rv_decoy_recent(void *decoy_instance, rv_decoy_visit_fn fn, void *ctx);

#endif
