/*
 * generation.c - build a whole generation beside the running one, or
 * nothing. Must never modify `previous`: it is serving traffic.
 */
#include "generation.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

static void generation_free(rv_generation *g)
{
    for (size_t i = 0; i < g->n_models; i++)
        rv_model_unref(g->models[i]);
    free(g->models);
    free(g->schedule);
    rv_feature_index_free(g->features);
    rv_config_free(g->cfg);
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

rv_generation *rv_generation_build(rv_config *cfg, const rv_generation *previous,
                                   const rv_emit_sink *sink, uint64_t id, rv_errors *errs)
{
    rv_generation *g = calloc(1, sizeof *g);
    if (!g || !(g->models = calloc(cfg->n_models, sizeof *g->models)) ||
        !(g->schedule = calloc(cfg->rendezvous.n_schedule + 1, sizeof *g->schedule))) {
        if (g)
            free(g->models);
        free(g);
        rv_config_free(cfg);
        rv_errors_add(errs, "out of memory building a generation");
        return NULL;
    }
    g->id = id;
    g->schedule_version = id;
    g->cfg = cfg;
    g->canary = g->decoy = -1;
    atomic_init(&g->refs, 1);
    if (!(g->features = rv_feature_index_new(cfg->input.features, cfg->input.n_features))) {
        rv_errors_add(errs, "out of memory building a generation");
        generation_free(g);
        return NULL;
    }
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
            rv_errors_add(errs, "%s:%d: models[%zu] (%s): %s", cfg->path, mc->line, i,
                          mc->name, err);
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
    for (size_t i = 0; i < cfg->rendezvous.n_schedule; i++)
        g->schedule[i] = (size_t)rv_generation_find(g, cfg->rendezvous.schedule[i].model);
    g->n_schedule = cfg->rendezvous.n_schedule;
    return g;
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

void rv_generation_unref(rv_generation *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1)
        generation_free(g);
}
