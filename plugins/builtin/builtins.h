/*
 * builtins.h - the models compiled into the host: canary and decoy. They use
 * the same ABI as any plugin and pass the same checks.
 */
#ifndef RV_BUILTINS_H
#define RV_BUILTINS_H

#include <stddef.h>
#include <stdint.h>

#include "rendezvous_plugin.h"

#define RV_BUILTIN_CANARY "canary"
#define RV_BUILTIN_DECOY "decoy"

/* The builtins' names, NULL-terminated, for messages and checks. */
extern const char *const rv_builtin_names[];

/* The descriptor of builtin `name`, or NULL if there is none. */
const rv_plugin *rv_builtin_descriptor(const char *name);

const rv_plugin *rv_builtin_canary(void);
const rv_plugin *rv_builtin_decoy(void);

/* The canary monitor's settings, read from the canary's params. */
typedef struct rv_canary_settings {
    uint32_t window;        /* requests per window, 10 or more; default 200 */
    double min_agreement;   /* 0..1; default 0.9 */
    double max_score_shift; /* 0..1; default 0.1 */
} rv_canary_settings;

/* Parses the three params (NULL: absent, the default applies). 0, or -1
 * with "params.<key>: reason" in err. The canary's create refuses what
 * this refuses, so the monitor never sees a bad value. */
int rv_canary_settings_parse(const char *window, const char *min_agreement,
                             const char *max_score_shift, rv_canary_settings *out, char *err,
                             size_t err_size);

#endif
