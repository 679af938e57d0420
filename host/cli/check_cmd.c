/*
 * check_cmd.c - build and throw away. Must never start a stream, a thread or a
 * listener: check runs beside a live service and only reads.
 */
#include "check_cmd.h"

#include "log.h"

static int discard(void *ctx, const rv_model *model, const rv_request *about, const char *stream,
                   const void *key, size_t key_len, const void *value, size_t value_len)
{
    return RV_OK;
}

const rv_emit_sink rv_discard_sink = {.emit = discard, .ctx = NULL};

void rv_generation_print(const rv_generation *g, FILE *out)
{
    const rv_config *c = g->cfg;
    fprintf(out, "service %s: %zu model(s), %zu feature(s), brokers %s\n", c->service, g->n_models,
            c->input.n_features, c->streams.brokers);
    for (size_t i = 0; i < g->n_models; i++) {
        const rv_model *m = g->models[i];
        const rv_plugin *p = m->module ? m->module->desc : NULL;
        if (p)
            fprintf(out, "  model %-16s version %s  %s %s %s  instances %u%s  labels [", m->name,
                    m->version, m->module->source_path ? "plugin" : "builtin", p->name,
                    p->version ? p->version : "", m->n_created,
                    (p->flags & RV_PLUGIN_REENTRANT) ? " (shared, reentrant)" : "");
        else
            fprintf(out, "  model %-16s version %s  remote (scored elsewhere)  labels [", m->name,
                    m->version);
        for (uint32_t l = 0; l < m->n_labels; l++)
            fprintf(out, "%s%s", l ? ", " : "", m->labels[l]);
        fprintf(out, "]\n");
        if (m->module && m->module->source_path) /* to pin it: sha256 on the model */
            fprintf(out, "    plugin %s sha256 %s\n", m->module->source_path, m->module->sha256);
    }
    fprintf(out, "  schedule:");
    for (size_t i = 0; i < g->n_schedule; i++)
        fprintf(out, " %zu. %s within %u ms;", i, g->models[g->schedule[i]]->name, g->within_ms[i]);
    if (c->rendezvous.has_default)
        fprintf(out, " default %s %.6g", c->rendezvous.default_label, c->rendezvous.default_score);
    else
        fprintf(out, " no default (error result)");
    fputc('\n', out);
}

int rv_check(const char *path, const rv_config_env *env, FILE *out, FILE *errout)
{
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(path, env, &errs);
    rv_generation *g = cfg ? rv_generation_build(cfg, NULL, &rv_discard_sink, 1, &errs) : NULL;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(errout, "%s\n", errs.lines[i]);
    if (!g) {
        fprintf(errout, "%s: %zu error(s), nothing would be served\n", path, errs.n);
        rv_errors_clear(&errs);
        return 2;
    }
    rv_errors_clear(&errs);
    rv_generation_print(g, out);
    fprintf(out, "%s: ok\n", path);
    rv_generation_unref(g);
    return 0;
}
