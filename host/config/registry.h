/*
 * registry.h - the table of models compiled into the binary (the
 * builtins). The host declares the contract and never includes the
 * builtins: they register into a table that main() fills and hands down
 * (rv_config_env in config.h). What the host must know about a builtin is
 * a property it declares here, never a test of its name.
 */
#ifndef RV_REGISTRY_H
#define RV_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rendezvous_plugin.h"

enum {
    /* The others are compared with it: the canary monitor, the evaluation
     * alerts, a generation's canary, the role "canary". At most one. */
    RV_BUILTIN_REFERENCE = 1u << 0,
    /* Sees every request, expired too; never chosen, never in a schedule;
     * dropped by `rendezvous rate`; the role "decoy". */
    RV_BUILTIN_RECORDER = 1u << 1,
    /* Its queue grows instead of shedding a request. */
    RV_BUILTIN_NEVER_SHED = 1u << 2,
};

/* The canary monitor's settings, read from the reference model's params. */
typedef struct rv_monitor_settings {
    uint32_t window;            /* requests per window, 10 or more; default 1000 */
    uint32_t reference_windows; /* the first windows, the drift's reference; default 5 */
    double min_agreement;       /* 0..1; default 0.9 */
    double max_score_shift;     /* 0..1; default 0.1 */
} rv_monitor_settings;

/* A param's value by key, NULL when absent. */
typedef const char *(*rv_param_lookup)(const void *ctx, const char *key);

typedef struct rv_builtin {
    const char *name; /* what `builtin:` names */
    const rv_plugin *descriptor;
    unsigned props; /* RV_BUILTIN_* */
    /* Params that are paths relative to the config's directory, NULL-ended
     * (or NULL for none). */
    const char *const *path_params;
    /* Required with RV_BUILTIN_REFERENCE: the monitor's settings from the
     * params. 0, or -1 with "params.<key>: reason" in err. */
    int (*monitor_settings)(rv_param_lookup get, const void *ctx, rv_monitor_settings *out,
                            char *err, size_t err_size);
} rv_builtin;

#define RV_BUILTINS_MAX 8

typedef struct rv_builtins {
    const rv_builtin *items[RV_BUILTINS_MAX];
    size_t n;
} rv_builtins;

/* 0, or -1: the table is full, the name is taken, or a REFERENCE lacks
 * monitor_settings. Never allocates. */
int rv_builtins_add(rv_builtins *t, const rv_builtin *b);

/* The builtin named `name`, or NULL (also for a NULL table). */
const rv_builtin *rv_builtins_find(const rv_builtins *t, const char *name);

/* Whether key is one of b's path_params. */
bool rv_builtin_is_path_param(const rv_builtin *b, const char *key);

/* The names in registration order, ", "-joined ("canary, decoy"), into
 * out; truncated to fit. Returns the length it needed. */
int rv_builtins_join(const rv_builtins *t, char *out, size_t size);

/* Defined by the builtins' library (plugins/builtin), which the binary and
 * the tests link: registers every builtin compiled in. */
void rv_builtins_register_compiled(rv_builtins *t);

#endif
