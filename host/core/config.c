/*
 * config.c - read one YAML config file and turn it into a validated rv_config.
 *
 * The whole file is parsed into a libyaml document first, then walked against
 * the schema; every problem is recorded with file:line:column and key path and
 * the walk goes on, so a user fixes a file in one round rather than one error
 * per reload. This file must never touch the running service, keep global
 * state, or silently ignore a key it does not know: an ignored typo is a
 * setting that quietly does not apply.
 */
#include "config_internal.h"

#include "builtins.h"
#include "errbuf.h"
#include "hostport.h"

#include <yaml.h>

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct model_seen {
    const yaml_node_t *name_node; /* NULL when the entry has no valid name */
} model_seen;

static const char *const root_keys[] = {"service", "state_dir",  "watch",  "streams", "input",
                                        "models",  "rendezvous", "reload", "http",    NULL};
static const char *const streams_keys[] = {"brokers", "requests",   "scores",      "results",
                                           "archive", "alerts",     "dead_letter", "control",
                                           "group",   "partitions", "kafka",       NULL};
static const char *const input_keys[] = {"format", "features", "max_body_bytes", NULL};
static const char *const model_keys[] = {"name",      "plugin",    "builtin",    "params",
                                         "instances", "max_batch", "queue_size", NULL};
static const char *const rendezvous_keys[] = {"schedule", "default", "max_in_flight", NULL};
static const char *const schedule_keys[] = {"model", "within_ms", NULL};
static const char *const default_keys[] = {"label", "score", NULL};
static const char *const http_keys[] = {"listen", NULL};
static const char *const reload_keys[] = {"warmup_requests", "warmup_budget_ms", NULL};

/* ---------------------------------------------------------------- sections */

static void load_streams(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX];
    rv_config *c = l->cfg;
    yaml_node_t *s = cy_get_mapping(l, root, "", "streams", true, kp);
    if (!s)
        return;
    cy_check_keys(l, s, kp, streams_keys);
    cy_opt_string(l, s, kp, "brokers", true, &c->streams.brokers);

    struct {
        const char *key;
        char **slot;
    } topics[] = {
        {"requests", &c->streams.requests}, {"scores", &c->streams.scores},
        {"results", &c->streams.results},   {"archive", &c->streams.archive},
        {"alerts", &c->streams.alerts},     {"dead_letter", &c->streams.dead_letter},
        {"control", &c->streams.control},
    };
    char tkp[KP_MAX];
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        const yaml_node_t *v = cy_opt_string(l, s, kp, topics[i].key, false, topics[i].slot);
        if (v && !cy_valid_topic(*topics[i].slot)) {
            cy_kp_key(tkp, kp, topics[i].key);
            cy_report(
                l, v, tkp,
                "'%s' is not a valid topic name (letters, digits, '.', '_', '-'; at most 249)",
                *topics[i].slot);
        }
    }
    cy_opt_string(l, s, kp, "group", false, &c->streams.group);
    cy_opt_u32(l, s, kp, "partitions", false, true, &c->streams.partitions);

    char kkp[KP_MAX];
    yaml_node_t *k = cy_get_mapping(l, s, kp, "kafka", false, kkp);
    if (k)
        cy_load_kv(l, k, kkp, &c->streams.kafka, &c->streams.n_kafka, false);
}

static void load_input(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX], fkp[KP_MAX], ikp[KP_MAX];
    rv_config *c = l->cfg;
    yaml_node_t *in = cy_get_mapping(l, root, "", "input", true, kp);
    if (!in)
        return;
    cy_check_keys(l, in, kp, input_keys);
    const yaml_node_t *fmt = cy_opt_string(l, in, kp, "format", false, &c->input.format);
    if (fmt && strcmp(c->input.format, "json")) {
        cy_kp_key(fkp, kp, "format");
        cy_report(l, fmt, fkp, "unsupported format '%s' (only json)", c->input.format);
    }
    cy_opt_u32(l, in, kp, "max_body_bytes", false, true, &c->input.max_body_bytes);

    cy_kp_key(fkp, kp, "features");
    yaml_node_t *f = cy_map_get(l, in, "features", NULL);
    if (!f) {
        cy_report(l, in, fkp, "missing required key");
        return;
    }
    if (f->type != YAML_SEQUENCE_NODE) {
        cy_report(l, f, fkp, "expected a sequence of feature names, got %s", cy_describe(f));
        return;
    }
    size_t n = cy_seq_len(f);
    if (n == 0) {
        cy_report(l, f, fkp, "must list at least one feature");
        return;
    }
    const yaml_node_t **seen = calloc(n, sizeof *seen);
    c->input.features = calloc(n, sizeof *c->input.features);
    if (!seen || !c->input.features) {
        free(seen);
        l->oom = true;
        return;
    }
    size_t i = 0;
    for (yaml_node_item_t *it = f->data.sequence.items.start; it < f->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *v = cy_node_at(l, *it);
        cy_kp_index(ikp, fkp, i);
        if (!v || !cy_want_string(l, v, ikp))
            continue;
        const yaml_node_t *first = NULL;
        for (size_t j = 0; j < i && !first; j++)
            if (seen[j] && !strcmp(cy_scalar_text(seen[j]), cy_scalar_text(v)))
                first = seen[j];
        if (first) {
            cy_report(l, v, ikp, "duplicate feature '%s' (first at line %zu, column %zu)",
                      cy_scalar_text(v), first->start_mark.line + 1, first->start_mark.column + 1);
            continue;
        }
        seen[i] = v;
        char *name = cy_dup_or_oom(l, cy_scalar_text(v));
        if (name)
            c->input.features[c->input.n_features++] = name;
    }
    free(seen);
}

static void load_model(loader *l, const yaml_node_t *m, const char *kp, rv_model_conf *mc,
                       model_seen *seen, size_t idx)
{
    char skp[KP_MAX];
    mc->line = (int)m->start_mark.line + 1;
    cy_check_keys(l, m, kp, model_keys);

    const yaml_node_t *name = cy_opt_string(l, m, kp, "name", true, &mc->name);
    if (name) {
        for (size_t j = 0; j < idx; j++) {
            const yaml_node_t *other = seen[j].name_node;
            if (other && !strcmp(cy_scalar_text(other), mc->name)) {
                cy_kp_key(skp, kp, "name");
                cy_report(l, name, skp,
                          "duplicate model name '%s' (first at line %zu, here line %zu)", mc->name,
                          other->start_mark.line + 1, name->start_mark.line + 1);
                name = NULL; /* so that later duplicates point to the first */
                break;
            }
        }
    }
    seen[idx].name_node = name;

    yaml_node_t *pkey = NULL, *bkey = NULL;
    yaml_node_t *plugin = cy_map_get(l, m, "plugin", &pkey);
    yaml_node_t *builtin = cy_map_get(l, m, "builtin", &bkey);
    if (!plugin && !builtin)
        cy_report(l, m, kp, "missing required key: one of plugin or builtin");
    if (plugin && builtin)
        cy_report(l, bkey, kp, "both plugin and builtin are given; a model is exactly one of them");

    if (plugin) {
        cy_kp_key(skp, kp, "plugin");
        if (cy_want_string(l, plugin, skp)) {
            char *abs = cy_abs_path(l, cy_scalar_text(plugin));
            struct stat st;
            if (!abs) {
                /* out of memory, already noted */
            } else if (stat(abs, &st) != 0) {
                cy_report(l, plugin, skp, "plugin '%s' not found (resolved to %s): %s",
                          cy_scalar_text(plugin), abs, strerror(errno));
                free(abs);
            } else if (!S_ISREG(st.st_mode)) {
                cy_report(l, plugin, skp, "plugin '%s' (resolved to %s) is not a regular file",
                          cy_scalar_text(plugin), abs);
                free(abs);
            } else {
                mc->plugin = abs;
            }
        }
    }
    if (builtin) {
        cy_kp_key(skp, kp, "builtin");
        if (cy_want_string(l, builtin, skp)) {
            if (cy_in_list(rv_builtin_names, cy_scalar_text(builtin))) {
                cy_set_str(l, &mc->builtin, cy_scalar_text(builtin));
            } else {
                char *list = cy_join_list(rv_builtin_names);
                cy_report(l, builtin, skp, "unknown builtin '%s' (known: %s)",
                          cy_scalar_text(builtin), list ? list : "?");
                free(list);
            }
        }
    }

    yaml_node_t *params = cy_get_mapping(l, m, kp, "params", false, skp);
    if (params)
        cy_load_kv(l, params, skp, &mc->params, &mc->n_params, true);

    cy_opt_u32(l, m, kp, "instances", false, true, &mc->instances);
    cy_opt_u32(l, m, kp, "max_batch", false, true, &mc->max_batch);
    cy_opt_u32(l, m, kp, "queue_size", false, true, &mc->queue_size);
}

static void load_models(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX], ikp[KP_MAX];
    rv_config *c = l->cfg;
    cy_kp_key(kp, "", "models");
    yaml_node_t *ms = cy_map_get(l, root, "models", NULL);
    if (!ms) {
        cy_report(l, root, kp, "missing required key");
        return;
    }
    if (ms->type != YAML_SEQUENCE_NODE) {
        cy_report(l, ms, kp, "expected a sequence of models, got %s", cy_describe(ms));
        return;
    }
    size_t n = cy_seq_len(ms);
    if (n == 0) {
        cy_report(l, ms, kp, "must list at least one model");
        return;
    }
    model_seen *seen = calloc(n, sizeof *seen);
    c->models = calloc(n, sizeof *c->models);
    if (!seen || !c->models) {
        free(seen);
        l->oom = true;
        return;
    }
    size_t i = 0;
    for (yaml_node_item_t *it = ms->data.sequence.items.start; it < ms->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *m = cy_node_at(l, *it);
        cy_kp_index(ikp, kp, i);
        if (!m)
            continue;
        if (m->type != YAML_MAPPING_NODE) {
            cy_report(l, m, ikp, "expected a mapping describing a model, got %s", cy_describe(m));
            continue;
        }
        rv_model_conf *mc = &c->models[c->n_models++];
        mc->instances = 1;
        mc->max_batch = 32;
        mc->queue_size = 1024;
        load_model(l, m, ikp, mc, seen, i);
    }
    free(seen);
}

static void load_schedule(loader *l, const yaml_node_t *r, const char *rkp)
{
    char kp[KP_MAX], ikp[KP_MAX], fkp[KP_MAX];
    rv_config *c = l->cfg;
    cy_kp_key(kp, rkp, "schedule");
    yaml_node_t *s = cy_map_get(l, r, "schedule", NULL);
    if (!s) {
        cy_report(l, r, kp, "missing required key");
        return;
    }
    if (s->type != YAML_SEQUENCE_NODE) {
        cy_report(l, s, kp, "expected a sequence of {model, within_ms}, got %s", cy_describe(s));
        return;
    }
    size_t n = cy_seq_len(s);
    if (n == 0) {
        cy_report(l, s, kp, "must list at least one entry");
        return;
    }
    c->rendezvous.schedule = calloc(n, sizeof *c->rendezvous.schedule);
    if (!c->rendezvous.schedule) {
        l->oom = true;
        return;
    }
    const yaml_node_t *prev_within = NULL;
    uint32_t prev_ms = 0;
    size_t i = 0;
    for (yaml_node_item_t *it = s->data.sequence.items.start; it < s->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *e = cy_node_at(l, *it);
        cy_kp_index(ikp, kp, i);
        if (!e)
            continue;
        if (e->type != YAML_MAPPING_NODE) {
            cy_report(l, e, ikp, "expected a mapping {model, within_ms}, got %s", cy_describe(e));
            continue;
        }
        cy_check_keys(l, e, ikp, schedule_keys);
        char *model = NULL;
        const yaml_node_t *mv = cy_opt_string(l, e, ikp, "model", true, &model);
        if (mv) {
            cy_kp_key(fkp, ikp, "model");
            const rv_model_conf *mc = rv_config_model(c, model);
            bool twice = false;
            for (size_t j = 0; j < c->rendezvous.n_schedule && !twice; j++)
                twice = !strcmp(c->rendezvous.schedule[j].model, model);
            if (!mc) {
                cy_report(l, mv, fkp, "no model named '%s' in models", model);
            } else if (mc->builtin && !strcmp(mc->builtin, "decoy")) {
                cy_report(l, mv, fkp,
                          "'%s' is the decoy, which is never chosen; it cannot be in "
                          "the schedule",
                          model);
            } else if (twice) {
                cy_report(l, mv, fkp, "model '%s' is already in the schedule", model);
            }
        }
        uint32_t within = 0;
        const yaml_node_t *wv = cy_opt_u32(l, e, ikp, "within_ms", true, false, &within);
        if (wv) {
            if (prev_within && within < prev_ms) {
                cy_kp_key(fkp, ikp, "within_ms");
                cy_report(l, wv, fkp,
                          "within_ms %u is less than %u of the entry before (line %zu); the "
                          "schedule must be non-decreasing",
                          (unsigned)within, (unsigned)prev_ms, prev_within->start_mark.line + 1);
            }
            prev_within = wv;
            prev_ms = within;
        }
        if (model) {
            rv_schedule_entry *se = &c->rendezvous.schedule[c->rendezvous.n_schedule++];
            se->model = model;
            se->within_ms = within;
        }
    }
}

static void load_rendezvous(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX], dkp[KP_MAX], skp[KP_MAX];
    rv_config *c = l->cfg;
    yaml_node_t *r = cy_get_mapping(l, root, "", "rendezvous", true, kp);
    if (!r)
        return;
    cy_check_keys(l, r, kp, rendezvous_keys);
    load_schedule(l, r, kp);
    cy_opt_u32(l, r, kp, "max_in_flight", false, true, &c->rendezvous.max_in_flight);

    yaml_node_t *d = cy_get_mapping(l, r, kp, "default", false, dkp);
    if (!d)
        return;
    cy_check_keys(l, d, dkp, default_keys);
    bool ok = cy_opt_string(l, d, dkp, "label", true, &c->rendezvous.default_label) != NULL;
    cy_kp_key(skp, dkp, "score");
    yaml_node_t *sv = cy_map_get(l, d, "score", NULL);
    if (!sv) {
        cy_report(l, d, skp, "missing required key");
        ok = false;
    } else if (!cy_parse_number(sv, &c->rendezvous.default_score)) {
        if (sv->type == YAML_SCALAR_NODE && !cy_is_null(sv))
            cy_report(l, sv, skp, "expected a number, got '%s'", cy_scalar_text(sv));
        else
            cy_report(l, sv, skp, "expected a number, got %s", cy_describe(sv));
        ok = false;
    }
    c->rendezvous.has_default = ok;
}

static void load_reload(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX];
    yaml_node_t *r = cy_get_mapping(l, root, "", "reload", false, kp);
    if (!r)
        return;
    cy_check_keys(l, r, kp, reload_keys);
    cy_opt_u32(l, r, kp, "warmup_requests", false, false, &l->cfg->reload.warmup_requests);
    cy_opt_u32(l, r, kp, "warmup_budget_ms", false, true, &l->cfg->reload.warmup_budget_ms);
}

static void load_http(loader *l, const yaml_node_t *root)
{
    char kp[KP_MAX], lkp[KP_MAX];
    yaml_node_t *h = cy_get_mapping(l, root, "", "http", false, kp);
    if (!h)
        return;
    cy_check_keys(l, h, kp, http_keys);
    const yaml_node_t *v = cy_opt_string(l, h, kp, "listen", true, &l->cfg->http.listen);
    if (!v)
        return;
    /* Checked here, by the listener's own parser, so that a typo fails
     * the reload, not the bind after it. */
    struct sockaddr_storage sa;
    socklen_t sa_len;
    char why[RV_ERR_SIZE];
    if (rv_hostport_parse(l->cfg->http.listen, &sa, &sa_len, why, sizeof why) != 0) {
        cy_kp_key(lkp, kp, "listen");
        cy_report(l, v, lkp, "%s", why);
    }
}

static char *derived(loader *l, const char *service, const char *suffix)
{
    char *s = NULL;
    if (asprintf(&s, "%s%s", service, suffix) < 0) {
        l->oom = true;
        return NULL;
    }
    return s;
}

static void fill_defaults(loader *l)
{
    rv_config *c = l->cfg;
    if (c->service) {
        struct {
            char **slot;
            const char *suffix;
        } d[] = {
            {&c->streams.requests, ".requests"}, {&c->streams.scores, ".scores"},
            {&c->streams.results, ".results"},   {&c->streams.archive, ".archive"},
            {&c->streams.alerts, ".alerts"},     {&c->streams.dead_letter, ".dead-letter"},
            {&c->streams.control, ".control"},   {&c->streams.group, "-rendezvous"},
        };
        for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
            if (!*d[i].slot)
                *d[i].slot = derived(l, c->service, d[i].suffix);
    }
    if (!c->state_dir)
        c->state_dir = cy_abs_path(l, "state");
    if (!c->input.format)
        c->input.format = cy_dup_or_oom(l, "json");
}

static void load_root(loader *l, const yaml_node_t *root)
{
    rv_config *c = l->cfg;
    if (root->type != YAML_MAPPING_NODE) {
        cy_report(l, root, "", "expected a mapping at the top of the file, got %s",
                  cy_describe(root));
        return;
    }
    cy_check_keys(l, root, "", root_keys);

    const yaml_node_t *sv = cy_opt_string(l, root, "", "service", true, &c->service);
    if (sv && !cy_valid_topic(c->service)) {
        /* The service name becomes part of topic names by default. */
        cy_report(l, sv, "service",
                  "'%s' may contain only letters, digits, '.', '_' and '-' (it names topics)",
                  c->service);
    }
    char *state = NULL;
    if (cy_opt_string(l, root, "", "state_dir", false, &state)) {
        c->state_dir = cy_abs_path(l, state);
    }
    free(state);
    cy_opt_bool(l, root, "", "watch", &c->watch);

    load_streams(l, root);
    load_input(l, root);
    load_models(l, root);
    load_rendezvous(l, root);
    load_reload(l, root);
    load_http(l, root);
}

/* ---------------------------------------------------------------- public */

static void report_parser(loader *l, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR) {
        l->oom = true;
        return;
    }
    const char *problem = p->problem ? p->problem : "syntax error";
    if (p->context)
        cy_report_at(l, p->problem_mark.line, p->problem_mark.column, "(yaml)",
                     "%s %s (line %zu, column %zu)", problem, p->context, p->context_mark.line + 1,
                     p->context_mark.column + 1);
    else
        cy_report_at(l, p->problem_mark.line, p->problem_mark.column, "(yaml)", "%s", problem);
}

static char *config_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    char *dir = realpath(dirname(copy), NULL);
    free(copy);
    return dir;
}

rv_config *rv_config_load(const char *path, rv_errors *errs)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rv_errors_add(errs, "%s: cannot open config file: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        /* fopen() accepts a directory; reading it would only say "input error". */
        rv_errors_add(errs, "%s: cannot read config file: %s", path, strerror(EISDIR));
        fclose(f);
        return NULL;
    }
    rv_config *cfg = calloc(1, sizeof *cfg);
    char *dir = config_dir(path);
    if (!cfg || !dir) {
        int e = errno;
        rv_errors_add(errs, "%s: cannot resolve the config directory: %s", path, strerror(e));
        free(cfg);
        free(dir);
        fclose(f);
        return NULL;
    }
    cfg->path = strdup(path);
    cfg->dir = dir;
    cfg->watch = false;
    cfg->streams.partitions = 4;
    cfg->input.max_body_bytes = 65536;
    cfg->rendezvous.max_in_flight = 10000;
    cfg->reload.warmup_requests = 200;
    cfg->reload.warmup_budget_ms = 10000;

    loader l = {.file = path, .dir = dir, .cfg = cfg, .oom = cfg->path == NULL};
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        l.oom = true;
    } else {
        yaml_parser_set_input_file(&parser, f);
        if (!yaml_parser_load(&parser, &doc)) {
            report_parser(&l, &parser);
        } else {
            l.doc = &doc;
            yaml_node_t *root = yaml_document_get_root_node(&doc);
            if (!root) {
                cy_report_at(&l, 0, 0, "(root)",
                             "the file is empty; expected a mapping with service, streams, input, "
                             "models and rendezvous");
            } else {
                load_root(&l, root);
                /* A second document would be silently unused: refuse it. */
                yaml_document_t extra;
                if (!yaml_parser_load(&parser, &extra)) {
                    report_parser(&l, &parser);
                } else {
                    yaml_node_t *r2 = yaml_document_get_root_node(&extra);
                    if (r2)
                        cy_report(&l, r2, "(yaml)",
                                  "a second YAML document; the config is a single document");
                    yaml_document_delete(&extra);
                }
            }
            yaml_document_delete(&doc);
            l.doc = NULL;
        }
        yaml_parser_delete(&parser);
    }
    fclose(f);

    if (l.n_errs == 0)
        fill_defaults(&l);
    if (l.oom)
        cy_report_at(&l, 0, 0, "(root)", "out of memory while loading");
    if (l.n_errs > 0) {
        cy_flush_errors(&l, errs);
        rv_config_free(cfg);
        return NULL;
    }
    return cfg;
}

static void free_kv(rv_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

void rv_config_free(rv_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->dir);
    free(cfg->service);
    free(cfg->state_dir);
    free(cfg->streams.brokers);
    free(cfg->streams.requests);
    free(cfg->streams.scores);
    free(cfg->streams.results);
    free(cfg->streams.archive);
    free(cfg->streams.alerts);
    free(cfg->streams.dead_letter);
    free(cfg->streams.control);
    free(cfg->streams.group);
    free_kv(cfg->streams.kafka, cfg->streams.n_kafka);
    free(cfg->input.format);
    for (size_t i = 0; i < cfg->input.n_features; i++)
        free(cfg->input.features[i]);
    free(cfg->input.features);
    for (size_t i = 0; i < cfg->n_models; i++) {
        rv_model_conf *m = &cfg->models[i];
        free(m->name);
        free(m->plugin);
        free(m->builtin);
        free_kv(m->params, m->n_params);
    }
    free(cfg->models);
    for (size_t i = 0; i < cfg->rendezvous.n_schedule; i++)
        free(cfg->rendezvous.schedule[i].model);
    free(cfg->rendezvous.schedule);
    free(cfg->rendezvous.default_label);
    free(cfg->http.listen);
    free(cfg);
}

const rv_model_conf *rv_config_model(const rv_config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->n_models; i++)
        if (cfg->models[i].name && !strcmp(cfg->models[i].name, name))
            return &cfg->models[i];
    return NULL;
}
