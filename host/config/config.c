/*
 * config.c - read one YAML config file and turn it into a validated rv_config.
 *
 * The whole file is parsed into a libyaml document first, then walked against
 * the key table (config_schema.c) by the generic walker (config_walk.c);
 * every problem is recorded with file:line:column and key path and the walk
 * goes on, so a user fixes a file in one round rather than one error per
 * reload. This file must never touch the running service, keep global state,
 * know a key by name, or silently ignore a key it does not know: an ignored
 * typo is a setting that quietly does not apply.
 */
#include "config_internal.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static void load_root(loader *l, const yaml_node_t *root)
{
    if (root->type != YAML_MAPPING_NODE) {
        cy_report(l, root, "", "expected a mapping at the top of the file, got %s",
                  cy_describe(root));
        return;
    }
    cf_walk(l, &cf_root, root, "", l->cfg);
}

/* Parses the file's one document and walks it; a second one is refused. */
static void load_file(loader *l, FILE *f)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        l->oom = true;
        return;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        report_parser(l, &parser);
        yaml_parser_delete(&parser);
        return;
    }
    l->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        cy_report_at(l, 0, 0, "(root)",
                     "the file is empty; expected a mapping with service, streams, input, "
                     "models and rendezvous");
    } else {
        cy_expand_environment(l, &doc);
        load_root(l, root);
        /* A second document would be silently unused: refuse it. */
        yaml_document_t extra;
        if (!yaml_parser_load(&parser, &extra)) {
            report_parser(l, &parser);
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&extra);
            if (r2)
                cy_report(l, r2, "(yaml)",
                          "a second YAML document; the config is a single document");
            yaml_document_delete(&extra);
        }
    }
    yaml_document_delete(&doc);
    l->doc = NULL;
    yaml_parser_delete(&parser);
}

/* The absolute directory of path; NULL with errno set. */
static char *config_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    char *dir = realpath(dirname(copy), NULL);
    int e = errno;
    free(copy);
    errno = e;
    return dir;
}

rv_config *rv_config_load(const char *path, const rv_config_env *env, rv_errors *errs)
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
    errno = 0;
    rv_config *cfg = calloc(1, sizeof *cfg);
    char *dir = cfg ? config_dir(path) : NULL;
    if (!cfg || !dir) {
        if (!cfg || errno == ENOMEM)
            rv_errors_add(errs, "%s: out of memory while loading", path);
        else
            rv_errors_add(errs, "%s: cannot resolve the config directory: %s", path,
                          strerror(errno));
        free(cfg);
        free(dir);
        fclose(f);
        return NULL;
    }
    cfg->env = env;
    cfg->dir = dir;
    cfg->path = strdup(path);
    loader l = {.file = path, .dir = dir, .cfg = cfg, .oom = cfg->path == NULL};
    cf_scalar_defaults(&cf_root, cfg);
    load_file(&l, f);
    fclose(f);

    if (l.n_errs == 0 && !l.oom)
        cf_string_defaults(&l, &cf_root, cfg);
    if (l.n_errs > 0 || l.oom) {
        cy_flush_errors(&l, errs);
        rv_config_free(cfg);
        return NULL;
    }
    return cfg;
}

void rv_config_free(rv_config *cfg)
{
    if (!cfg)
        return;
    cf_free(&cf_root, cfg);
    free(cfg->site.taken_over_from);
    free(cfg->site.takeover_group);
    free(cfg->path);
    free(cfg->dir);
    free(cfg);
}

rv_config *rv_config_scorer(rv_config *cfg, const char *name, rv_errors *errs)
{
    size_t k = 0;
    while (k < cfg->n_models && strcmp(cfg->models[k].name, name) != 0)
        k++;
    const char *why = k == cfg->n_models       ? "no model of that name"
                      : cfg->models[k].builtin ? "it is a builtin: it runs in the host only"
                      : !cfg->models[k].plugin ? "it has no plugin to run"
                                               : NULL;
    if (why) {
        rv_errors_add(errs, "%s: cannot score model %s: %s", cfg->path, name, why);
        rv_config_free(cfg);
        return NULL;
    }
    uint32_t within = 1000; /* the model's own deadline in the host's schedule, if any */
    for (size_t i = 0; i < cfg->rendezvous.n_schedule; i++)
        if (!strcmp(cfg->rendezvous.schedule[i].model, name))
            within = cfg->rendezvous.schedule[i].within_ms;
    for (size_t i = 0; i < cfg->n_models; i++)
        if (i != k)
            cf_free(&cf_model_section, &cfg->models[i]);
    if (k != 0)
        cfg->models[0] = cfg->models[k];
    cfg->n_models = 1;
    cfg->models[0].remote = false;
    for (size_t i = 1; i < cfg->rendezvous.n_schedule; i++)
        cf_free(&cf_schedule_section, &cfg->rendezvous.schedule[i]);
    cfg->rendezvous.n_schedule = 1;
    char *model = strdup(name), *group = NULL;
    if (!model || asprintf(&group, "%s.scorer.%s", cfg->service, name) < 0) {
        free(model);
        rv_errors_add(errs, "%s: out of memory", cfg->path);
        rv_config_free(cfg);
        return NULL;
    }
    free(cfg->rendezvous.schedule[0].model);
    cfg->rendezvous.schedule[0] = (rv_schedule_entry){model, within};
    free(cfg->streams.group);
    cfg->streams.group = group;
    char *txn_id = NULL; /* a host's and its scorers' transactions must not fence each other */
    if (cfg->delivery.transactional_id &&
        asprintf(&txn_id, "%s.scorer.%s", cfg->delivery.transactional_id, name) >= 0) {
        free(cfg->delivery.transactional_id);
        cfg->delivery.transactional_id = txn_id;
    }
    free(cfg->http.listen); /* the host's; a scorer's comes from its command line */
    cfg->http.listen = NULL;
    return cfg;
}

rv_config *rv_config_takeover(rv_config *cfg, const char *site, rv_errors *errs)
{
    const char *why = !cfg->site.name                     ? "the config has no site section"
                      : strcmp(site, cfg->site.name) == 0 ? "it is this site"
                      : strchr(site, '.')                 ? "a site's name has no '.'"
                                                          : NULL;
    if (why) {
        rv_errors_add(errs, "%s: cannot take over site %s: %s", cfg->path, site, why);
        rv_config_free(cfg);
        return NULL;
    }
    /* the lost site's requests as mirrored here; a group of its own, so
     * that this site's hosts and their offsets are left alone */
    char *requests = NULL, *group = NULL, *from = strdup(site), *txn_id = NULL;
    if (!from || asprintf(&requests, "%s.%s", site, cfg->streams.requests) < 0 ||
        asprintf(&group, "%s.takeover.%s", cfg->streams.group, site) < 0 ||
        (cfg->delivery.transactional_id &&
         asprintf(&txn_id, "%s.takeover.%s", cfg->delivery.transactional_id, site) < 0)) {
        free(from);
        free(requests);
        free(group);
        rv_errors_add(errs, "%s: out of memory", cfg->path);
        rv_config_free(cfg);
        return NULL;
    }
    free(cfg->streams.requests);
    cfg->streams.requests = requests;
    free(cfg->site.taken_over_from);
    cfg->site.taken_over_from = from;
    cfg->site.takeover_group = cfg->streams.group; /* the lost site's hosts' */
    cfg->streams.group = group;
    if (txn_id) {
        free(cfg->delivery.transactional_id);
        cfg->delivery.transactional_id = txn_id;
    }
    free(cfg->http.listen); /* the site's hosts answer HTTP; a takeover, the stream */
    cfg->http.listen = NULL;
    cfg->evaluation.in_host = false; /* the site's evaluation is the site's */
    return cfg;
}

const rv_builtin *rv_config_builtin(const rv_config *cfg, const rv_model_conf *mc)
{
    return mc->builtin && cfg->env ? rv_builtins_find(cfg->env->builtins, mc->builtin) : NULL;
}

const char *rv_config_reference(const rv_config *cfg)
{
    for (size_t i = 0; i < cfg->n_models; i++) {
        const rv_builtin *b = rv_config_builtin(cfg, &cfg->models[i]);
        if (b && (b->props & RV_BUILTIN_REFERENCE))
            return cfg->models[i].name;
    }
    return NULL;
}

void rv_config_drop_recorders(rv_config *cfg)
{
    size_t k = 0;
    for (size_t i = 0; i < cfg->n_models; i++) {
        const rv_builtin *b = rv_config_builtin(cfg, &cfg->models[i]);
        if (b && (b->props & RV_BUILTIN_RECORDER))
            cf_free(&cf_model_section, &cfg->models[i]);
        else
            cfg->models[k++] = cfg->models[i];
    }
    cfg->n_models = k;
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
