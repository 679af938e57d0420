/*
 * model.c - building and tearing down one model's instances.
 * Must never leave a half-built model behind: a failed create is not
 * destroyed (the plugin released it), a failed warm is.
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "digest.h"
#include "errbuf.h"
#include "log.h"
#include "proc.h"

/* How long a stopping model process may take to exit before SIGKILL. */
#define STOP_GRACE_MS 2000

int rv_model_can_answer(const rv_model *m)
{
    if (atomic_load(&m->state) != RV_MODEL_LIVE)
        return 0;
    if (!m->isolated)
        return 1;
    for (uint32_t i = 0; i < m->n_created; i++)
        if (rv_proc_state_now(m->instances[i]) == RV_PROC_LIVE)
            return 1;
    return 0;
}

const char *rv_model_state_name(rv_model_state s)
{
    static const char *const names[] = {"loading",  "warming",  "live",
                                        "draining", "unloaded", "failed"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return path[0] == '/' && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* version: what the model computes (code, params, files);
 * identity: version plus everything that shapes the running instances. */
static int model_hashes(const rv_config *cfg, const rv_model_conf *mc, char version[9],
                        char identity[RV_SHA256_HEX], char *err, size_t err_size)
{
    char sha[RV_SHA256_HEX];
    if (mc->plugin) { /* pinned: checked here too, as a reload may reuse the model */
        if (rv_sha256_file(mc->plugin, sha, err, err_size) != 0 ||
            rv_module_check_pin(mc->plugin, sha, mc->sha256, err, err_size) != 0)
            return -1;
    } else if (mc->builtin)
        rv_errf(sha, sizeof sha, "builtin:%s", mc->builtin);
    else
        rv_errf(sha, sizeof sha, "remote");
    rv_digest *d = rv_digest_new(), *id = NULL;
    if (!d) {
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    rv_digest_field(d, sha);
    for (size_t i = 0; i < mc->n_params; i++) {
        rv_digest_field(d, mc->params[i].key);
        rv_digest_field(d, mc->params[i].value);
        if (is_regular_file(mc->params[i].value)) {
            char fsha[RV_SHA256_HEX];
            if (rv_sha256_file(mc->params[i].value, fsha, err, err_size) != 0) {
                rv_digest_free(d);
                return -1;
            }
            rv_digest_field(d, fsha);
        }
    }
    for (size_t i = 0; i < cfg->input.n_features; i++)
        rv_digest_field(d, cfg->input.features[i]);
    const rv_builtin *b = rv_config_builtin(cfg, mc);
    if (b && (b->props & RV_BUILTIN_RECORDER)) {
        /* its retention, from the archive section: a change makes a new decoy */
        char keep[48];
        rv_errf(keep, sizeof keep, "archive %u %u", cfg->archive.max_mb, cfg->archive.max_age_s);
        rv_digest_field(d, keep);
    }
    if (!(id = rv_digest_copy(d))) {
        rv_digest_free(d);
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    char full[RV_SHA256_HEX];
    rv_digest_finish(d, full);
    memcpy(version, full, 8);
    version[8] = '\0';
    char shape[64];
    snprintf(shape, sizeof shape, "%u/%u/%u", mc->instances, mc->max_batch, mc->queue_size);
    rv_digest_field(id, shape);
    rv_digest_field(id, mc->name);
    /* the same model run here or elsewhere is another model to a reload */
    rv_digest_field(id, mc->remote ? "remote" : "local");
    for (size_t i = 0; i < mc->n_labels; i++)
        rv_digest_field(id, mc->labels[i]);
    rv_digest_finish(id, identity);
    return 0;
}

int rv_model_identity(const rv_config *cfg, const rv_model_conf *mc, char out[RV_SHA256_HEX],
                      char *err, size_t err_size)
{
    char version[9];
    return model_hashes(cfg, mc, version, out, err, err_size);
}

static void services_log(void *host_ctx, int level, const char *msg)
{
    const rv_model *m = host_ctx;
    char comp[160];
    rv_errf(comp, sizeof comp, "model %s", m->name);
    rv_log(level, comp, "%s", msg);
}

static int services_emit(void *host_ctx, const rv_request *about, const char *stream,
                         const void *key, size_t key_len, const void *value, size_t value_len)
{
    const rv_model *m = host_ctx;
    if (!m->sink)
        return RV_OK;
    return m->sink->emit(m->sink->ctx, m, about, stream, key, key_len, value, value_len);
}

static int same_labels(const rv_model_info *a, const rv_model_info *b)
{
    if (a->n_labels != b->n_labels)
        return 0;
    for (uint32_t i = 0; i < a->n_labels; i++)
        if (strcmp(a->labels[i], b->labels[i]) != 0)
            return 0;
    return 1;
}

static void destroy_instances(rv_model *m)
{
    for (uint32_t i = 0; i < m->n_created; i++)
        if (m->isolated)
            rv_proc_stop(m->instances[i], STOP_GRACE_MS);
        else
            m->module->desc->destroy(m->instances[i]);
    m->n_created = 0;
}

static void free_proc_labels(rv_model *m)
{
    for (uint32_t i = 0; m->proc_labels && i < m->n_labels; i++)
        free(m->proc_labels[i]);
    free(m->proc_labels);
    m->proc_labels = NULL;
}

/* A remote model: nothing runs here; its labels are the config's. */
static int remote_labels(rv_model *m, const rv_model_conf *mc)
{
    m->is_remote = 1;
    m->proc_labels = calloc(mc->n_labels, sizeof *m->proc_labels);
    if (!m->proc_labels)
        return -1;
    for (size_t i = 0; i < mc->n_labels; i++) {
        if (!(m->proc_labels[i] = strdup(mc->labels[i])))
            return -1;
        m->n_labels = (uint32_t)i + 1;
    }
    m->labels = (const char *const *)m->proc_labels;
    return 0;
}

/* isolation: process - one model process per instance, each created and
 * warmed in its process; the host keeps copies of the labels. */
static int start_processes(rv_model *m, const rv_config *cfg, const rv_model_conf *mc, char *err,
                           size_t err_size)
{
    rv_proc_spec spec = {.model = m->name,
                         .version = m->version,
                         .plugin = m->module->loaded_path,
                         .shown = m->module->source_path,
                         .params = m->params,
                         .n_params = m->n_params,
                         .features = (const char *const *)cfg->input.features,
                         .n_features = cfg->input.n_features,
                         .max_batch = m->max_batch,
                         .max_body_bytes = cfg->input.max_body_bytes,
                         .max_score_ms = mc->max_score_ms,
                         .max_memory_mb = mc->max_memory_mb,
                         .sandbox = strcmp(mc->sandbox, "strict") == 0,
                         .warmup_requests = cfg->reload.warmup_requests,
                         .warmup_budget_ms = cfg->reload.warmup_budget_ms};
    for (uint32_t i = 0; i < m->n_instances; i++) {
        char **labels = NULL;
        uint32_t n = 0;
        spec.instance = i;
        rv_proc *p = rv_proc_start(&spec, &labels, &n, err, err_size);
        if (!p)
            return -1;
        m->instances[m->n_created++] = p;
        int ok = labels != NULL;
        for (uint32_t k = 0; ok && k < n; k++)
            ok = labels[k] != NULL;
        if (ok && !m->proc_labels) {
            m->proc_labels = labels;
            m->n_labels = n;
            m->labels = (const char *const *)labels;
            continue;
        }
        rv_model_info a = {m->labels, m->n_labels}, b = {(const char *const *)labels, n};
        int same = ok && same_labels(&a, &b);
        if (!ok)
            rv_errf(err, err_size, "out of memory");
        else if (!same)
            rv_errf(err, err_size, "instance %u declared other labels than instance 0", i);
        for (uint32_t k = 0; labels && k < n; k++)
            free(labels[k]);
        free(labels);
        if (!same)
            return -1;
    }
    return 0;
}

static int create_instances(rv_model *m, const rv_config *cfg, char *err, size_t err_size)
{
    const rv_plugin *p = m->module->desc;
    rv_param *params = calloc(m->n_params ? m->n_params : 1, sizeof *params);
    if (!params) {
        rv_errf(err, err_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < m->n_params; i++)
        params[i] = (rv_param){m->params[i].key, m->params[i].value};
    rv_create_args args = {
        .struct_size = sizeof args,
        .model_name = m->name,
        .params = params,
        .n_params = m->n_params,
        .feature_names = (const char *const *)cfg->input.features,
        .n_features = cfg->input.n_features,
        .services = &m->services,
    };
    /* A reentrant plugin shares one instance among all workers. */
    uint32_t want = (p->flags & RV_PLUGIN_REENTRANT) ? 1 : m->n_instances;
    rv_model_info first = {0};
    int rc = 0;
    for (uint32_t i = 0; i < want && rc == 0; i++) {
        rv_model_info info = {0};
        char why[RV_ERR_SIZE] = "";
        void *inst = NULL;
        int code = p->create(&args, &info, &inst, why, sizeof why);
        if (code != RV_OK) {
            rv_errf(err, err_size, "create failed (code %d): %s", code,
                    *why ? why : "no reason given");
            rc = -1;
            break;
        }
        m->instances[m->n_created++] = inst;
        if (info.n_labels == 0 || !info.labels) {
            rv_errf(err, err_size, "create declared no labels");
            rc = -1;
        } else if (i == 0)
            first = info;
        else if (!same_labels(&first, &info)) {
            rv_errf(err, err_size, "instance %u declared other labels than instance 0", i);
            rc = -1;
        }
    }
    free(params);
    if (rc != 0) {
        destroy_instances(m);
        return -1;
    }
    m->labels = first.labels;
    m->n_labels = first.n_labels;
    return 0;
}

static int warm_instances(rv_model *m, char *err, size_t err_size)
{
    const rv_plugin *p = m->module->desc;
    if (!p->warm)
        return 0;
    for (uint32_t i = 0; i < m->n_created; i++) {
        char why[RV_ERR_SIZE] = "";
        int code = p->warm(m->instances[i], why, sizeof why);
        if (code != RV_OK) {
            rv_errf(err, err_size, "warm failed (code %d) on instance %u: %s", code, i,
                    *why ? why : "no reason given");
            return -1;
        }
    }
    return 0;
}

/* Adds key = value (a number) to m's params. 0, or -1 out of memory. */
static int add_param(rv_model *m, const char *key, unsigned long long value)
{
    rv_kv *p = &m->params[m->n_params];
    if (!(p->key = strdup(key)) || asprintf(&p->value, "%llu", value) < 0) {
        free(p->key);
        p->key = NULL;
        p->value = NULL;
        return -1;
    }
    m->n_params++;
    return 0;
}

static int copy_params(rv_model *m, const rv_config *cfg, const rv_model_conf *mc)
{
    /* the decoy gets its retention from the archive section as two params */
    m->params = calloc(mc->n_params + 2, sizeof *m->params);
    if (!m->params)
        return -1;
    for (size_t i = 0; i < mc->n_params; i++) {
        const char *v = mc->params[i].value;
        char *val;
        /* A builtin's path params (the decoy's archive dir) are relative to
         * the config file, like every other path in it, even before they
         * exist. */
        if (rv_builtin_is_path_param(m->builtin, mc->params[i].key) && v[0] != '/') {
            if (asprintf(&val, "%s/%s", cfg->dir, v) < 0)
                val = NULL;
        } else
            val = strdup(v);
        m->params[i].key = strdup(mc->params[i].key);
        m->params[i].value = val;
        m->n_params = i + 1;
        if (!m->params[i].key || !val)
            return -1;
    }
    if (m->is_decoy && (add_param(m, "max_bytes", (unsigned long long)cfg->archive.max_mb << 20) ||
                        add_param(m, "max_age_s", cfg->archive.max_age_s)))
        return -1;
    return 0;
}

static void model_free(rv_model *m)
{
    if (m->workers && m->release_workers)
        m->release_workers(m->workers); /* the last score() returns before destroy() */
    destroy_instances(m);
    free_proc_labels(m);
    rv_model_json_free(&m->json);
    if (m->module)
        rv_module_unref(m->module);
    for (size_t i = 0; i < m->n_params; i++) {
        free(m->params[i].key);
        free(m->params[i].value);
    }
    free(m->params);
    free(m->instances);
    free(m->name);
    pthread_mutex_destroy(&m->error_lock);
    free(m);
}

rv_model *rv_model_build(const rv_config *cfg, const rv_model_conf *mc, const rv_emit_sink *sink,
                         char *err, size_t err_size)
{
    rv_model *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(mc->name))) {
        free(m);
        rv_errf(err, err_size, "out of memory");
        return NULL;
    }
    atomic_init(&m->refs, 1);
    atomic_init(&m->state, RV_MODEL_LOADING);
    pthread_mutex_init(&m->error_lock, NULL);
    if (mc->builtin && !(m->builtin = rv_config_builtin(cfg, mc))) {
        char known[256];
        rv_builtins_join(cfg->env ? cfg->env->builtins : NULL, known, sizeof known);
        rv_errf(err, err_size, "no builtin model named '%s' (builtins: %s)", mc->builtin, known);
        goto fail;
    }
    unsigned props = m->builtin ? m->builtin->props : 0;
    m->is_canary = (props & RV_BUILTIN_REFERENCE) != 0;
    m->is_decoy = (props & RV_BUILTIN_RECORDER) != 0;
    m->never_shed = (props & RV_BUILTIN_NEVER_SHED) != 0; /* the decoy: no holes in an archive */
    m->n_instances = mc->instances;
    m->max_batch = mc->max_batch;
    m->queue_size = mc->queue_size;
    m->sink = sink;
    m->services = (rv_host_services){.struct_size = sizeof m->services,
                                     .host_ctx = m,
                                     .log = services_log,
                                     .emit = services_emit};
    if (copy_params(m, cfg, mc) != 0 ||
        !(m->instances = calloc(mc->instances, sizeof *m->instances))) {
        rv_errf(err, err_size, "out of memory");
        goto fail;
    }
    if (model_hashes(cfg, mc, m->version, m->identity, err, err_size) != 0)
        goto fail;
    if (mc->remote) {
        if (remote_labels(m, mc) != 0) {
            rv_errf(err, err_size, "out of memory");
            goto fail;
        }
        goto encode;
    }
    m->module = mc->plugin ? rv_module_load(mc->plugin, mc->sha256, cfg->state_dir, err, err_size)
                           : rv_module_builtin(m->builtin, err, err_size);
    if (!m->module)
        goto fail;
    m->isolated = mc->plugin && strcmp(mc->isolation, "process") == 0;
    if (m->isolated) {
        atomic_store(&m->state, RV_MODEL_WARMING);
        if (start_processes(m, cfg, mc, err, err_size) != 0)
            goto fail;
    } else {
        if (create_instances(m, cfg, err, err_size) != 0)
            goto fail;
        atomic_store(&m->state, RV_MODEL_WARMING);
        if (warm_instances(m, err, err_size) != 0)
            goto fail;
    }
encode:
    if (rv_model_json_init(&m->json, m->name, m->version, m->labels, m->n_labels) != 0) {
        rv_errf(err, err_size, "out of memory");
        goto fail;
    }
    return m;
fail:
    model_free(m);
    return NULL;
}

void rv_model_set_last_error(rv_model *m, const char *error)
{
    pthread_mutex_lock(&m->error_lock);
    rv_errf(m->last_error, sizeof m->last_error, "%s", error);
    pthread_mutex_unlock(&m->error_lock);
}

void rv_model_last_error(rv_model *m, char *buf, size_t size)
{
    pthread_mutex_lock(&m->error_lock);
    rv_errf(buf, size, "%s", m->last_error);
    pthread_mutex_unlock(&m->error_lock);
}

rv_model *rv_model_ref(rv_model *m)
{
    atomic_fetch_add(&m->refs, 1);
    return m;
}

void rv_model_unref(rv_model *m)
{
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    int serving = m->workers != NULL;
    atomic_store(&m->state, RV_MODEL_UNLOADED);
    if (serving)
        rv_info("models", "%s version %s: drained, destroyed and unloaded", m->name, m->version);
    model_free(m);
}
