/*
 * reload.c - the generation builder thread and the warm-up on recent real
 * traffic. Must never touch the serving generation beyond reading it: it
 * only takes references to the models it reuses and copies the host's
 * recent requests out under the ring's lock.
 */
#include "reload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"
#include "scoring.h"
#include "worker.h"

struct rv_reloader {
    char *config_path;
    const rv_config_env *env; /* the builtins, handed down */
    char *scorer_model;       /* NULL: the whole config */
    rv_pipeline *pipe;
    pthread_mutex_t lock;
    pthread_t thread;
    int running;             /* a build thread exists (joined in poll) */
    int finished;            /* it has posted its outcome */
    int queued;              /* another reload was asked for meanwhile */
    rv_generation *previous; /* reference held for the build */
    rv_generation *result;
    uint64_t id;                  /* of the generation being built */
    char last_error[RV_ERR_SIZE]; /* guarded by lock */
    uint64_t next_id;
};

/* ---- warm-up on recent traffic ---- */

static int warm_model(rv_model *m, const rv_warmup_set *rs, uint32_t budget_ms, char *err,
                      size_t err_size)
{
    size_t batch = m->max_batch;
    rv_score_batch sb;
    rv_slot *slots = rv_slots_new(batch, m->n_labels);
    if (!slots || rv_score_batch_init(&sb, batch) != 0) {
        rv_slots_free(slots, batch);
        rv_errf(err, err_size, "warm-up: out of memory");
        return -1;
    }
    int rc = 0;
    int64_t start = rv_mono_ms();
    for (uint32_t inst = 0; rc == 0 && inst < m->n_created; inst++)
        for (size_t at = 0; rc == 0 && at < rs->n; at += batch) {
            size_t n = rs->n - at < batch ? rs->n - at : batch;
            for (size_t i = 0; i < n; i++) {
                sb.reqs[i] = &rs->reqs[at + i];
                sb.slots[i] = &slots[i];
            }
            rv_model_score(m, m->instances[inst], &sb, n);
            for (size_t i = 0; rc == 0 && i < n; i++)
                if (sb.status[i] != RV_SLOT_OK) {
                    rv_errf(err, err_size,
                            "warm-up on recent traffic failed: request %s scored error: %s",
                            sb.reqs[i]->id, rv_slot_error(&slots[i]));
                    rc = -1;
                }
            int64_t spent = rv_mono_ms() - start;
            if (rc == 0 && spent > budget_ms) {
                rv_errf(err, err_size,
                        "warm-up too slow: %zu of %zu recent requests took %lld ms, over the "
                        "budget of %u ms (reload.warmup_budget_ms)",
                        at + n, rs->n, (long long)spent, budget_ms);
                rc = -1;
            }
        }
    rv_score_batch_free(&sb);
    rv_slots_free(slots, batch);
    return rc;
}

int rv_generation_warm_and_start(rv_generation *g, rv_pipeline *pipe, char *err, size_t err_size)
{
    rv_warmup_set rs;
    if (rv_warmup_build(&rs, pipe->recent, g->features, g->cfg->reload.warmup_requests, NULL,
                        NULL) != 0) {
        rv_errf(err, err_size, "warm-up: out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g->n_models; i++) {
        rv_model *m = g->models[i];
        if (m->workers || m->is_decoy || m->is_remote || rs.n == 0)
            continue;
        int64_t t0 = rv_mono_ms();
        char why[RV_ERR_SIZE];
        if (warm_model(m, &rs, g->cfg->reload.warmup_budget_ms, why, sizeof why) != 0) {
            rv_errf(err, err_size, "%s:%d: model %s: %s", g->cfg->path, g->cfg->models[i].line,
                    m->name, why);
            rc = -1;
        } else
            rv_info("reload", "model %s warmed on %zu recent requests in %lld ms", m->name, rs.n,
                    (long long)(rv_mono_ms() - t0));
    }
    for (size_t i = 0; rc == 0 && i < g->n_models; i++)
        if (!g->models[i]->workers && rv_workers_start(g->models[i], pipe, err, err_size) != 0)
            rc = -1;
    rv_warmup_free(&rs);
    return rc;
}

/* ---- the builder thread ---- */

static void *build(void *arg)
{
    rv_reloader *r = arg;
    int64_t t0 = rv_mono_ms();
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(r->config_path, r->env, &errs);
    if (cfg && r->scorer_model)
        cfg = rv_config_scorer(cfg, r->scorer_model, &errs);
    rv_generation *g =
        cfg ? rv_generation_build(cfg, r->previous, &r->pipe->sink, r->id, &errs) : NULL;
    char err[RV_ERR_SIZE];
    if (g && rv_generation_warm_and_start(g, r->pipe, err, sizeof err) != 0) {
        rv_errors_add(&errs, "%s", err);
        rv_generation_unref(g);
        g = NULL;
    }
    pthread_mutex_lock(&r->lock);
    rv_errf(r->last_error, sizeof r->last_error, "%s", g ? "" : errs.n ? errs.lines[0] : "?");
    pthread_mutex_unlock(&r->lock);
    if (!g)
        for (size_t i = 0; i < errs.n; i++)
            rv_error("reload", "failed, the running generation keeps serving: %s", errs.lines[i]);
    else
        rv_info("reload", "generation %llu built in %lld ms: %zu model(s) reused, %zu new",
                (unsigned long long)g->id, (long long)(rv_mono_ms() - t0), g->n_reused,
                g->n_models - g->n_reused);
    rv_errors_clear(&errs);
    pthread_mutex_lock(&r->lock);
    r->result = g;
    r->finished = 1;
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

rv_reloader *rv_reloader_new(const char *config_path, const rv_config_env *env,
                             const char *scorer_model, rv_pipeline *pipe, uint64_t first_id)
{
    rv_reloader *r = calloc(1, sizeof *r);
    if (!r || !(r->config_path = strdup(config_path)) ||
        (scorer_model && !(r->scorer_model = strdup(scorer_model)))) {
        if (r)
            free(r->config_path);
        free(r);
        return NULL;
    }
    r->env = env;
    r->pipe = pipe;
    r->next_id = first_id;
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

static void start_build(rv_reloader *r, rv_generation *current)
{
    r->previous = rv_generation_ref(current);
    r->id = r->next_id++;
    r->finished = 0;
    r->result = NULL;
    r->running = 1;
    if (pthread_create(&r->thread, NULL, build, r) != 0) {
        rv_error("reload", "cannot start the builder thread");
        rv_generation_unref(r->previous);
        r->previous = NULL;
        r->running = 0;
    }
}

void rv_reloader_request(rv_reloader *r, rv_generation *current)
{
    if (r->running) {
        if (!r->queued)
            rv_info("reload", "a reload is building: this one is queued");
        r->queued = 1;
        return;
    }
    start_build(r, current);
}

int rv_reloader_poll(rv_reloader *r, rv_generation **out, rv_generation *current)
{
    if (!r->running)
        return 0;
    pthread_mutex_lock(&r->lock);
    int finished = r->finished;
    pthread_mutex_unlock(&r->lock);
    if (!finished)
        return 0;
    pthread_join(r->thread, NULL);
    r->running = 0;
    rv_generation_unref(r->previous);
    r->previous = NULL;
    *out = r->result;
    r->result = NULL;
    int rc = *out ? 1 : -1;
    if (r->queued) {
        r->queued = 0;
        start_build(r, *out ? *out : current);
    }
    return rc;
}

int rv_reloader_building(const rv_reloader *r)
{
    return r->running;
}

void rv_reloader_last_error(rv_reloader *r, char *buf, size_t size)
{
    pthread_mutex_lock(&r->lock);
    rv_errf(buf, size, "%s", r->last_error);
    pthread_mutex_unlock(&r->lock);
}

void rv_reloader_free(rv_reloader *r)
{
    if (!r)
        return;
    if (r->running) {
        pthread_join(r->thread, NULL);
        rv_generation_unref(r->previous);
        if (r->result)
            rv_generation_unref(r->result);
    }
    pthread_mutex_destroy(&r->lock);
    free(r->config_path);
    free(r->scorer_model);
    free(r);
}
