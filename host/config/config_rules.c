/*
 * config_rules.c - the config's rules that span keys: a model is exactly
 * one of a plugin and a builtin (a remote one has its labels; the decoy is
 * known by its builtin's properties), model names are unique, the schedule names
 * serving models in a non-decreasing order, the default answer is whole. Hooks of the key table (config_schema.c);
 * like every rule, they report and never allocate into the config.
 */
#include "config_internal.h"

#include "errbuf.h"
#include "schedule.h"

#include <stdlib.h>
#include <string.h>

/* A model is exactly one of a plugin and a builtin; a remote model is
 * neither a builtin nor without its labels, and may name the plugin its
 * scorer runs. */
void cf_check_model(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp, void *base)
{
    rv_model_conf *mc = base;
    mc->line = (int)m->start_mark.line + 1;
    yaml_node_t *bkey = NULL, *lkey = NULL;
    const yaml_node_t *plugin = cy_map_get(l, m, "plugin", NULL);
    const yaml_node_t *builtin = cy_map_get(l, m, "builtin", &bkey);
    const yaml_node_t *labels = cy_map_get(l, m, "labels", &lkey);
    if (mc->remote) {
        if (builtin)
            cy_report(l, bkey, kp, "a builtin runs in the host; it cannot be remote");
        if (!labels)
            cy_report(l, m, kp,
                      "missing required key: labels (a remote model's answers name them)");
        return;
    }
    if (labels)
        cy_report(l, lkey, kp, "labels are only for a remote model (a plugin names its own)");
    if (!plugin && !builtin)
        cy_report(l, m, kp, "missing required key: one of plugin or builtin");
    if (plugin && builtin)
        cy_report(l, bkey, kp, "both plugin and builtin are given; a model is exactly one of them");
}

/* The index-th mapping item of seq (the walker stores exactly the mapping
 * items, in order) and its position in seq, for the key path; or NULL. */
static const yaml_node_t *item_at(loader *l, const yaml_node_t *seq, size_t index, size_t *pos)
{
    size_t k = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        const yaml_node_t *e = cy_node_at(l, *it);
        if (!e || e->type != YAML_MAPPING_NODE)
            continue;
        if (k++ == index) {
            if (pos)
                *pos = (size_t)(it - seq->data.sequence.items.start);
            return e;
        }
    }
    return NULL;
}

/* The value of key in the index-th mapping item of seq, or NULL. */
static const yaml_node_t *item_value(loader *l, const yaml_node_t *seq, size_t index,
                                     const char *key)
{
    const yaml_node_t *e = item_at(l, seq, index, NULL);
    return e ? cy_map_get(l, e, key, NULL) : NULL;
}

/* Model names are unique; a duplicate points at the first of its name. */
void cf_check_model_names(loader *l, const cf_key *k, const yaml_node_t *seq, const char *kp,
                          void *base)
{
    const rv_config *c = base;
    char ikp[KP_MAX], nkp[KP_MAX];
    for (size_t i = 0; i < c->n_models; i++) {
        if (!c->models[i].name)
            continue;
        for (size_t j = 0; j < i; j++) {
            if (!c->models[j].name || strcmp(c->models[j].name, c->models[i].name))
                continue;
            size_t pos = 0;
            const yaml_node_t *e = item_at(l, seq, i, &pos);
            const yaml_node_t *here = e ? cy_map_get(l, e, "name", NULL) : NULL;
            const yaml_node_t *first = item_value(l, seq, j, "name");
            if (!here || !first)
                break;
            cy_kp_index(ikp, kp, pos);
            cy_kp_key(nkp, ikp, "name");
            cy_report(l, here, nkp, "duplicate model name '%s' (first at line %zu, here line %zu)",
                      c->models[i].name, first->start_mark.line + 1, here->start_mark.line + 1);
            break;
        }
    }
}

static void report_schedule(loader *l, const yaml_node_t *seq, const char *kp,
                            const rv_schedule_item *items, size_t i, const rv_schedule_verdict *v)
{
    char ikp[KP_MAX], fkp[KP_MAX];
    size_t pos = 0;
    if (!item_at(l, seq, i, &pos))
        return;
    cy_kp_index(ikp, kp, pos);
    const yaml_node_t *mv = item_value(l, seq, i, "model");
    cy_kp_key(fkp, ikp, "model");
    if (mv && v->model == RV_SCHEDULE_NO_MODEL)
        cy_report(l, mv, fkp, "no model named '%s' in models", items[i].model);
    else if (mv && v->model == RV_SCHEDULE_NEVER_CHOSEN)
        cy_report(l, mv, fkp,
                  "'%s' is the decoy, which is never chosen; it cannot be in the schedule",
                  items[i].model);
    else if (mv && v->model == RV_SCHEDULE_TWICE)
        cy_report(l, mv, fkp, "model '%s' is already in the schedule", items[i].model);
    const yaml_node_t *wv = item_value(l, seq, i, "within_ms");
    const yaml_node_t *wb = item_value(l, seq, v->before, "within_ms");
    cy_kp_key(fkp, ikp, "within_ms");
    if (v->decreasing && wv && wb)
        cy_report(l, wv, fkp,
                  "within_ms %u is less than %u of the entry before (line %zu); the "
                  "schedule must be non-decreasing",
                  (unsigned)items[i].within_ms, (unsigned)items[v->before].within_ms,
                  wb->start_mark.line + 1);
}

/* The schedule's rules are schedule.c's, shared with the control stream;
 * here each verdict is put at its place in the file. */
void cf_check_schedule(loader *l, const cf_key *k, const yaml_node_t *seq, const char *kp,
                       void *base)
{
    const rv_config *c = l->cfg; /* the models are another section's */
    size_t n = c->rendezvous.n_schedule, nm = c->n_models;
    if (n == 0)
        return;
    rv_schedule_item *items = calloc(n, sizeof *items);
    rv_schedule_verdict *verdicts = calloc(n, sizeof *verdicts);
    rv_schedule_model *models = calloc(nm ? nm : 1, sizeof *models);
    const cf_key *within = cf_row(k->section, "within_ms");
    if (!items || !verdicts || !models) {
        l->oom = true;
        goto done;
    }
    for (size_t m = 0; m < nm; m++) {
        const rv_model_conf *mc = &c->models[m];
        models[m].name = mc->name;
        const rv_builtin *b = rv_config_builtin(c, mc);
        models[m].never_chosen = b && (b->props & RV_BUILTIN_RECORDER);
    }
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *wv = item_value(l, seq, i, "within_ms");
        uint32_t ms = 0;
        char why[RV_ERR_SIZE];
        items[i].model = c->rendezvous.schedule[i].model;
        items[i].within_ms =
            wv && within && cf_parse_u32(wv, within, &ms, why, sizeof why) ? (int64_t)ms : -1;
    }
    if (rv_schedule_check(items, n, models, nm, verdicts) > 0)
        for (size_t i = 0; i < n; i++)
            report_schedule(l, seq, kp, items, i, &verdicts[i]);
done:
    free(items);
    free(verdicts);
    free(models);
}

/* The default answer is there only when it is whole. */
/* A transaction must commit before the broker times it out. */
void cf_check_delivery(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp, void *base)
{
    (void)k;
    const rv_config *c = base;
    if (c->delivery.transaction_ms < c->delivery.transaction_timeout_ms)
        return;
    yaml_node_t *at = cy_map_get(l, m, "transaction_ms", NULL);
    cy_report(l, at ? at : m, kp,
              "transaction_ms (%u) must be below transaction_timeout_ms (%u): the broker aborts "
              "a transaction open longer",
              c->delivery.transaction_ms, c->delivery.transaction_timeout_ms);
}

void cf_check_evaluation_labels(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp,
                                void *base)
{
    (void)k;
    const rv_config *c = base;
    if (c->evaluation.n_labels == 1)
        cy_report(l, m, kp, "one label cannot be measured: give at least two");
}

void cf_check_default(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp, void *base)
{
    rv_config *c = base;
    const yaml_node_t *score = cy_map_get(l, m, "score", NULL);
    double d;
    c->rendezvous.has_default = c->rendezvous.default_label && score && cy_parse_number(score, &d);
}

void cf_check_http_tls(loader *l, const cf_key *k, const yaml_node_t *m, const char *kp, void *base)
{
    (void)k;
    const rv_config *c = base;
    if (!c->http.cert_file != !c->http.key_file)
        cy_report(l, m, kp, "cert_file and key_file go together: TLS needs both");
    else if (c->http.client_ca_file && !c->http.cert_file)
        cy_report(l, m, kp, "client_ca_file needs TLS: give cert_file and key_file too");
}
