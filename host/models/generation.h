/*
 * generation.h - everything one config file produced: the config, the built
 * models and the schedule resolved to them.
 *
 * A generation is immutable once built. Whoever uses it (the dispatcher,
 * each request in flight) holds a reference; the last reference releases
 * the models it holds. A build that fails returns NULL and has touched
 * nothing of the generation it was compared with (nginx's init_cycle).
 * A schedule change from the control stream makes a new generation that
 * shares the models and the config of the one it replaces.
 */
#ifndef RV_GENERATION_H
#define RV_GENERATION_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "feature_vector.h"
#include "model.h"

typedef struct rv_shared_config rv_shared_config;

typedef struct rv_generation {
    uint64_t id;
    uint64_t schedule_version; /* rises with every reload and control change */
    const rv_config *cfg;
    const rv_feature_index *features; /* input.features, for parsing bodies */
    rv_shared_config *shared;         /* owns cfg and features, shared by derived generations */
    rv_model **models;                /* in config order */
    size_t n_models;
    size_t *schedule;    /* schedule entry i -> index into models */
    uint32_t *within_ms; /* schedule entry i's deadline */
    size_t n_schedule;
    int canary;      /* index of the canary model, -1 if none */
    int decoy;       /* index of the decoy model, -1 if none */
    size_t n_reused; /* models taken over from the previous generation */
    atomic_int refs;
} rv_generation;

/* Builds a generation from cfg, which it takes over (freed on failure too).
 * Models whose identity matches one of `previous` (may be NULL) are shared,
 * not rebuilt. On failure returns NULL and adds one line per failed model to
 * errs, each naming the config file:line, the model and the reason. */
rv_generation *rv_generation_build(rv_config *cfg, const rv_generation *previous,
                                   const rv_emit_sink *sink, uint64_t id, rv_errors *errs);

/* A generation with g's models and config and another schedule: entry i is
 * models[model_index[i]] within within_ms[i]. The caller has validated the
 * entries. NULL on out of memory. */
rv_generation *rv_generation_with_schedule(const rv_generation *g, const size_t *model_index,
                                           const uint32_t *within_ms, size_t n,
                                           uint64_t schedule_version);

rv_generation *rv_generation_ref(rv_generation *g);
/* n references at once (a batch of requests: one contended add, not n). */
void rv_generation_ref_n(rv_generation *g, size_t n);
void rv_generation_unref(rv_generation *g);

/* Index of the model of that name, or -1. */
int rv_generation_find(const rv_generation *g, const char *name);

#endif
