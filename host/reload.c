/*
 * reload.c - the generation builder thread and the warm-up on recent real
 * traffic. Must never touch the serving generation beyond reading it: it
 * only takes references to the models it reuses and reads the decoy's
 * kept requests under the decoy's own lock.
 */
#include "reload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builtins.h"
#include "inflight.h"
#include "log.h"
#include "worker.h"

struct rv_reloader {
    char *config_path;
    rv_pipeline *pipe;
    pthread_mutex_t lock;
    pthread_t thread;
    int running;  /* a build thread exists (joined in poll) */
    int finished; /* it has posted its outcome */
    int queued;   /* another reload was asked for meanwhile */
    rv_generation *previous; /* reference held for the build */
    rv_generation *result;
    uint64_t id;      /* of the generation being built */
    char last_error[1024]; /* guarded by lock */
    uint64_t next_id;
};

/* ---- warm-up on recent traffic ---- */

typedef struct kept_body {
    char *id;
    uint8_t *body;
    size_t len;
} kept_body;

typedef struct collector {
    kept_body *items;
    size_t cap, n, next; /* ring of the last cap requests */
} collector;

static void collect(void *ctx, const rv_request *r)
{
    collector *c = ctx;
    kept_body *k = &c->items[c->next];
    uint8_t *body = malloc(r->body_len ? r->body_len : 1);
    char *id = strdup(r->id);
    if (!body || !id) {
        free(body);
        free(id);
        return;
    }
    if (r->body_len)
        memcpy(body, r->body, r->body_len);
    free(k->id);
    free(k->body);
    *k = (kept_body){id, body, r->body_len};
    c->next = (c->next + 1) % c->cap;
    if (c->n < c->cap)
        c->n++;
}

static void collector_free(collector *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        free(c->items[i].id);
        free(c->items[i].body);
    }
    free(c->items);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The kept requests as rv_requests with features parsed for g (its
 * features may differ from the generation that read them). */
typedef struct replay_set {
    rv_request *reqs;
    double *features;
    size_t n;
} replay_set;

static void replay_set_build(replay_set *rs, const collector *c, const rv_generation *g)
{
    size_t nf = g->cfg->input.n_features;
    rs->reqs = calloc(c->n ? c->n : 1, sizeof *rs->reqs);
    rs->features = calloc((c->n ? c->n : 1) * (nf ? nf : 1), sizeof *rs->features);
    rs->n = 0;
    if (!rs->reqs || !rs->features)
        return;
    size_t start = (c->next + c->cap - c->n) % c->cap;
    for (size_t i = 0; i < c->n; i++) {
        const kept_body *k = &c->items[(start + i) % c->cap];
        double *f = rs->features + rs->n * nf;
        char err[256];
        if (rv_features_parse(g->features, k->body, k->len, f, err, sizeof err) != 0)
            continue; /* the new input schema refuses it: it would be dead-lettered */
        rs->reqs[rs->n++] = (rv_request){.id = k->id, .body = k->body, .body_len = k->len,
                                         .features = f, .n_features = nf, .offset = -1,
                                         .timestamp_ms = -1, .partition = -1};
    }
}

static int replay_model(rv_model *m, const replay_set *rs, uint32_t budget_ms, char *err,
                        size_t err_size)
{
    const rv_plugin *p = m->module->desc;
    size_t batch = m->max_batch;
    const rv_request **reqs = calloc(batch, sizeof *reqs);
    rv_result *res = calloc(batch, sizeof *res);
    rv_result **resp = calloc(batch, sizeof *resp);
    rv_answer *answers = calloc(batch * RV_MAX_ANSWERS, sizeof *answers);
    char *errors = calloc(batch, 192);
    int rc = 0;
    if (!reqs || !res || !resp || !answers || !errors) {
        snprintf(err, err_size, "warm-up: out of memory");
        rc = -1;
    }
    int64_t start = mono_ms();
    for (uint32_t inst = 0; rc == 0 && inst < m->n_created; inst++)
        for (size_t at = 0; rc == 0 && at < rs->n; at += batch) {
            size_t n = rs->n - at < batch ? rs->n - at : batch;
            for (size_t i = 0; i < n; i++) {
                reqs[i] = &rs->reqs[at + i];
                errors[i * 192] = '\0';
                res[i] = (rv_result){RV_STATUS_ERROR, 0, RV_MAX_ANSWERS,
                                     answers + i * RV_MAX_ANSWERS, errors + i * 192, 192};
                resp[i] = &res[i];
            }
            char why[256] = "";
            int code = p->score(m->instances[inst], reqs, resp, n, why, sizeof why);
            for (size_t i = 0; rc == 0 && i < n; i++)
                if (code != RV_OK || res[i].status != RV_STATUS_OK) {
                    snprintf(err, err_size,
                             "warm-up on recent traffic failed: request %s scored error: %s",
                             reqs[i]->id, code != RV_OK ? why : res[i].error);
                    rc = -1;
                }
            int64_t spent = mono_ms() - start;
            if (rc == 0 && spent > budget_ms) {
                snprintf(err, err_size,
                         "warm-up too slow: %zu of %zu recent requests took %lld ms, over the "
                         "budget of %u ms (reload.warmup_budget_ms)",
                         at + n, rs->n, (long long)spent, budget_ms);
                rc = -1;
            }
        }
    free(reqs);
    free(res);
    free(resp);
    free(answers);
    free(errors);
    return rc;
}

int rv_generation_warm_and_start(rv_generation *g, const rv_generation *source,
                                 rv_pipeline *pipe, char *err, size_t err_size)
{
    collector c = {0};
    replay_set rs = {0};
    uint32_t want = g->cfg->reload.warmup_requests;
    if (source && source->decoy >= 0 && want > 0) {
        c.cap = want;
        c.items = calloc(want, sizeof *c.items);
        if (c.items)
            rv_decoy_recent(source->models[source->decoy]->instances[0], collect, &c);
        replay_set_build(&rs, &c, g);
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g->n_models; i++) {
        rv_model *m = g->models[i];
        if (m->workers || m->is_decoy || rs.n == 0)
            continue;
        int64_t t0 = mono_ms();
        char why[768];
        if (replay_model(m, &rs, g->cfg->reload.warmup_budget_ms, why, sizeof why) != 0) {
            snprintf(err, err_size, "%s:%d: model %s: %s", g->cfg->path,
                     g->cfg->models[i].line, m->name, why);
            rc = -1;
        } else
            rv_info("reload", "model %s warmed on %zu recent requests in %lld ms", m->name,
                    rs.n, (long long)(mono_ms() - t0));
    }
    for (size_t i = 0; rc == 0 && i < g->n_models; i++)
        if (!g->models[i]->workers &&
            rv_workers_start(g->models[i], pipe, err, err_size) != 0)
            rc = -1;
    free(rs.reqs);
    free(rs.features);
    collector_free(&c);
    return rc;
}

/* ---- the builder thread ---- */

static void *build(void *arg)
{
    rv_reloader *r = arg;
    int64_t t0 = mono_ms();
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(r->config_path, &errs);
    rv_generation *g =
        cfg ? rv_generation_build(cfg, r->previous, &r->pipe->sink, r->id, &errs) : NULL;
    char err[1024];
    if (g && rv_generation_warm_and_start(g, r->previous, r->pipe, err, sizeof err) != 0) {
        rv_errors_add(&errs, "%s", err);
        rv_generation_unref(g);
        g = NULL;
    }
    pthread_mutex_lock(&r->lock);
    snprintf(r->last_error, sizeof r->last_error, "%s", g ? "" : errs.n ? errs.lines[0] : "?");
    pthread_mutex_unlock(&r->lock);
    if (!g)
        for (size_t i = 0; i < errs.n; i++)
            rv_error("reload", "failed, the running generation keeps serving: %s",
                     errs.lines[i]);
    else
        rv_info("reload", "generation %llu built in %lld ms: %zu model(s) reused, %zu new",
                (unsigned long long)g->id, (long long)(mono_ms() - t0), g->n_reused,
                g->n_models - g->n_reused);
    rv_errors_clear(&errs);
    pthread_mutex_lock(&r->lock);
    r->result = g;
    r->finished = 1;
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

rv_reloader *rv_reloader_new(const char *config_path, rv_pipeline *pipe, uint64_t first_id)
{
    rv_reloader *r = calloc(1, sizeof *r);
    if (!r || !(r->config_path = strdup(config_path))) {
        free(r);
        return NULL;
    }
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

void rv_reloader_last_error(rv_reloader *r, char *buf, size_t size)
{
    pthread_mutex_lock(&r->lock);
    snprintf(buf, size, "%s", r->last_error);
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
    free(r);
}
