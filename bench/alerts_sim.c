/*
 * alerts_sim.c - the canary monitor's decision code (host/serving/
 * canary_monitor.c and host/alerting/) on simulated traffic, far faster
 * than the host can serve it: each request is a row drawn at random from a
 * table of the real models' scores, handed to the monitor as the
 * rendezvous would, under a clock that advances 1/RATE s a request. Counts
 * the alert records by check; with --change, switches the rows at request
 * AT to a changed input or a worse model and says after how many requests
 * each alert came.
 *
 *   alerts_sim CONFIG SCORES N RATE [--seed S] [--change shift|worse --at AT]
 *
 * CONFIG: a config whose first model is the one judged and which has a
 * canary (the generation gives names, labels and the alerts section; the
 * model is never called). SCORES: one row per line, the probability of the
 * canary's last label given by: the canary, the model, the canary and the
 * model on the row changed (shift), and a worse model. Prints one JSON
 * object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canary_monitor.h"
#include "check_cmd.h"
#include "generation.h"
#include "registry.h"

typedef struct row {
    double canary, model, canary_shifted, model_shifted, worse;
} row;

enum { CHECKS = 4 };
static const char *const checks[CHECKS] = {"agreement", "score_shift", "drift", "input_drift"};

typedef struct counts {
    unsigned long long alerts[CHECKS], clears[CHECKS];
    unsigned long long first_alert[CHECKS]; /* the request it came at, 0: none */
    unsigned long long now;                 /* requests so far */
} counts;

static void sink(void *ctx, const char *key, const void *record, size_t len)
{
    (void)key;
    counts *c = ctx;
    char buf[2048];
    size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
    memcpy(buf, record, n);
    buf[n] = '\0';
    int alert = strstr(buf, "\"type\":\"alert\"") != NULL;
    for (int i = 0; i < CHECKS; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"check\":\"%s\"", checks[i]);
        if (!strstr(buf, want))
            continue;
        if (alert && !c->first_alert[i])
            c->first_alert[i] = c->now;
        (alert ? c->alerts : c->clears)[i]++;
    }
}

static int64_t sim_clock(void *ctx)
{
    const double *ms = ctx;
    return (int64_t)*ms;
}

/* splitmix64: a seeded, portable stream */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
    return (next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static uint32_t label_index(const rv_model *m, const char *label)
{
    for (uint32_t i = 0; i < m->n_labels; i++)
        if (strcmp(m->labels[i], label) == 0)
            return i;
    return 0;
}

/* A slot answering p for `label` (the other of two with 1 - p), top first. */
static void answer(rv_slot *s, const rv_model *m, double p)
{
    uint32_t pos = label_index(m, m->labels[m->n_labels - 1]), neg = pos ? 0 : 1;
    s->n_answers = 2;
    s->answers[0] = (rv_answer){p >= 0.5 ? pos : neg, p >= 0.5 ? p : 1 - p};
    s->answers[1] = (rv_answer){p >= 0.5 ? neg : pos, p >= 0.5 ? 1 - p : p};
    atomic_store(&s->status, RV_SLOT_OK);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: alerts_sim CONFIG SCORES N RATE [--seed S] [--change "
                        "shift|worse --at AT]\n");
        return 2;
    }
    unsigned long long n = strtoull(argv[3], NULL, 10), at = 0;
    double rate = strtod(argv[4], NULL);
    uint64_t seed = 1;
    const char *change = NULL;
    for (int i = 5; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--change"))
            change = argv[i + 1];
        else if (!strcmp(argv[i], "--at"))
            at = strtoull(argv[i + 1], NULL, 10);
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    row *rows = NULL;
    size_t nr = 0, cap = 0;
    row r;
    while (fscanf(f, "%lf %lf %lf %lf %lf", &r.canary, &r.model, &r.canary_shifted,
                  &r.model_shifted, &r.worse) == 5) {
        if (nr == cap && !(rows = realloc(rows, (cap = cap ? 2 * cap : 1024) * sizeof *rows)))
            return 1;
        rows[nr++] = r;
    }
    fclose(f);

    static rv_builtins builtins;
    rv_builtins_register_compiled(&builtins);
    rv_config_env env = {.builtins = &builtins};
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(argv[1], &env, &errs);
    rv_generation *g = cfg ? rv_generation_build(cfg, NULL, &rv_discard_sink, 1, &errs) : NULL;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.lines[i]);
    if (!g || g->canary < 0 || nr == 0) {
        fprintf(stderr, "alerts_sim: no generation with a canary, or no rows\n");
        return 1;
    }
    counts c = {0};
    double now_ms = 1000;
    rv_canary_monitor *m = rv_canary_monitor_new(sink, &c);
    rv_canary_monitor_set_clock(m, sim_clock, &now_ms);
    rv_inflight *fl = rv_inflight_blank(g);
    if (!fl) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int model = -1;
    for (size_t i = 0; i < g->n_models; i++)
        if ((int)i != g->canary && !g->models[i]->is_decoy && model < 0)
            model = (int)i;
    for (c.now = 1; c.now <= n; c.now++) {
        const row *x = &rows[next(&seed) % nr];
        int changed = change && at && c.now >= at;
        int shifted = changed && !strcmp(change, "shift") && uniform(&seed) < 0.5;
        double cp = shifted ? x->canary_shifted : x->canary;
        double mp = shifted                               ? x->model_shifted
                    : changed && !strcmp(change, "worse") ? x->worse
                                                          : x->model;
        for (size_t i = 0; i < g->n_models; i++) {
            atomic_store(&fl->slots[i].status, RV_SLOT_PENDING);
            fl->slots[i].n_answers = 0;
        }
        answer(&fl->slots[g->canary], g->models[g->canary], cp);
        answer(&fl->slots[model], g->models[model], mp);
        rv_canary_monitor_observe(m, fl);
        now_ms += 1000.0 / rate;
    }
    rv_canary_gauge gs[8];
    size_t ng = rv_canary_monitor_snapshot(m, gs, 8);
    unsigned long long tests = 0;
    for (size_t i = 0; i < ng && i < 8; i++)
        tests = gs[i].tests > tests ? gs[i].tests : tests;
    printf("{\"requests\": %llu, \"rate\": %g, \"simulated_s\": %.0f, \"tests_per_model\": %llu, "
           "\"change\": \"%s\", \"at\": %llu",
           n, rate, (now_ms - 1000) / 1000, tests, change ? change : "none", at);
    for (int i = 0; i < CHECKS; i++)
        printf(", \"%s\": {\"alerts\": %llu, \"clears\": %llu, \"first_alert_after\": %lld}",
               checks[i], c.alerts[i], c.clears[i],
               c.first_alert[i] ? (long long)(c.first_alert[i] - (at ? at : 0)) : -1LL);
    printf("}\n");
    rv_canary_monitor_free(m);
    rv_inflight_blank_free(fl);
    free(rows);
    rv_generation_unref(g);
    return 0;
}
