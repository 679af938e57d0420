/*
 * generation.c - build a whole generation beside the running one, or
 * nothing. Must never modify `previous`: it is serving traffic.
 */
#include "generation.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

struct rv_shared_config {
    rv_config *cfg;
    rv_feature_index *features;
    atomic_int refs;
};

static void shared_unref(rv_shared_config *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    rv_feature_index_free(s->features);
    rv_config_free(s->cfg);
    free(s);
}

static void generation_free(rv_generation *g)
{
    for (size_t i = 0; i < g->n_models; i++)
        rv_model_unref(g->models[i]);
    free(g->models);
    free(g->schedule);
    free(g->within_ms);
    shared_unref(g->shared);
    free(g);
}

static rv_model *reusable(const rv_generation *previous, const char *identity)
{
    if (!previous)
        return NULL;
    for (size_t i = 0; i < previous->n_models; i++)
        if (strcmp(previous->models[i]->identity, identity) == 0)
            return previous->models[i];
    return NULL;
}

/* A generation shell: arrays for n_models models and n_schedule entries. */
static rv_generation *generation_new(size_t n_models, size_t n_schedule)
{
    rv_generation *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->models = calloc(n_models + 1, sizeof *g->models);
    g->schedule = calloc(n_schedule + 1, sizeof *g->schedule);
    g->within_ms = calloc(n_schedule + 1, sizeof *g->within_ms);
    if (!g->models || !g->schedule || !g->within_ms) {
        free(g->models);
        free(g->schedule);
        free(g->within_ms);
        free(g);
        return NULL;
    }
    g->canary = g->decoy = -1;
    atomic_init(&g->refs, 1);
    return g;
}

rv_generation *rv_generation_build(rv_config *cfg, const rv_generation *previous,
                                   const rv_emit_sink *sink, uint64_t id, rv_errors *errs)
{
    rv_generation *g = generation_new(cfg->n_models, cfg->rendezvous.n_schedule);
    rv_shared_config *shared = calloc(1, sizeof *shared);
    if (!g || !shared) {
        if (g)
            generation_free(g);
        free(shared);
        rv_config_free(cfg);
        rv_errors_add(errs, "out of memory building a generation");
        return NULL;
    }
    shared->cfg = cfg;
    atomic_init(&shared->refs, 1);
    g->shared = shared;
    g->cfg = cfg;
    g->id = id;
    g->schedule_version = previous ? previous->schedule_version + 1 : 1;
    if (!(shared->features = rv_feature_index_new(cfg->input.features, cfg->input.n_features))) {
        rv_errors_add(errs, "out of memory building a generation");
        generation_free(g);
        return NULL;
    }
    g->features = shared->features;
    size_t failed = 0;
    for (size_t i = 0; i < cfg->n_models; i++) {
        const rv_model_conf *mc = &cfg->models[i];
        char err[1024], identity[65];
        rv_model *m = NULL;
        if (rv_model_identity(cfg, mc, identity, err, sizeof err) == 0) {
            rv_model *old = reusable(previous, identity);
            m = old ? rv_model_ref(old) : rv_model_build(cfg, mc, sink, err, sizeof err);
            if (old)
                g->n_reused++;
        }
        if (!m) {
            rv_errors_add(errs, "%s:%d: models[%zu] (%s): %s", cfg->path, mc->line, i, mc->name,
                          err);
            failed++;
            continue;
        }
        g->models[g->n_models++] = m;
        if (m->is_canary)
            g->canary = (int)(g->n_models - 1);
        if (m->is_decoy)
            g->decoy = (int)(g->n_models - 1);
    }
    if (failed) {
        generation_free(g);
        return NULL;
    }
    /* The config checked that every schedule entry names a model. */
    for (size_t i = 0; i < cfg->rendezvous.n_schedule; i++) {
        g->schedule[i] = (size_t)rv_generation_find(g, cfg->rendezvous.schedule[i].model);
        g->within_ms[i] = cfg->rendezvous.schedule[i].within_ms;
    }
    g->n_schedule = cfg->rendezvous.n_schedule;
    return g;
}

rv_generation *rv_generation_with_schedule(const rv_generation *g, const size_t *model_index,
                                           const uint32_t *within_ms, size_t n,
                                           uint64_t schedule_version)
{
    rv_generation *d = generation_new(g->n_models, n);
    if (!d)
        return NULL;
    d->id = g->id;
    d->schedule_version = schedule_version;
    d->cfg = g->cfg;
    d->features = g->features;
    d->shared = g->shared;
    atomic_fetch_add(&g->shared->refs, 1);
    for (size_t i = 0; i < g->n_models; i++)
        d->models[i] = rv_model_ref(g->models[i]);
    d->n_models = g->n_models;
    d->canary = g->canary;
    d->decoy = g->decoy;
    d->n_reused = g->n_models;
    memcpy(d->schedule, model_index, n * sizeof *model_index);
    memcpy(d->within_ms, within_ms, n * sizeof *within_ms);
    d->n_schedule = n;
    return d;
}

int rv_generation_find(const rv_generation *g, const char *name)
{
    for (size_t i = 0; i < g->n_models; i++)
        if (strcmp(g->models[i]->name, name) == 0)
            return (int)i;
    return -1;
}

rv_generation *rv_generation_ref(rv_generation *g)
{
    atomic_fetch_add(&g->refs, 1);
    return g;
}

void rv_generation_ref_n(rv_generation *g, size_t n)
{
    atomic_fetch_add(&g->refs, (int)n);
}

void rv_generation_unref(rv_generation *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1)
        generation_free(g);
}
