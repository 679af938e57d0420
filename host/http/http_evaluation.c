/*
 * http_evaluation.c - the live evaluation over HTTP: GET /v1/evaluation
 * (JSON: what was joined and counted, and each source's measures per
 * window), GET /v1/promotions (the promotion decider's races and
 * decisions) and its /metrics families. 404 when the config has no
 * evaluation (or promotion) section.
 */
#include "http_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "prom.h"

/* "series": {source: [{at_ms, count, accuracy, auc}, ...]}: the last hour
 * minute by minute, for the dashboard's charts. */
static void series(rv_jw *w, rv_evaluation *ev, int64_t now)
{
    size_t n;
    rv_evaluation_series *x = rv_evaluation_series_get(ev, now, &n);
    rv_jw_string(w, "series");
    rv_jw_map_open(w);
    for (size_t i = 0; x && i < n; i++) {
        rv_jw_string(w, x[i].source);
        rv_jw_array_open(w);
        for (size_t k = 0; k < x[i].n; k++) {
            const rv_evaluation_point *p = &x[i].points[k];
            rv_jw_map_open(w);
            rv_jw_kv_int(w, "at_ms", p->at_ms);
            rv_jw_kv_int(w, "count", (long long)p->count);
            rv_jw_string(w, "accuracy");
            rv_jw_double(w, p->accuracy);
            rv_jw_string(w, "auc");
            rv_jw_double(w, p->auc);
            rv_jw_map_close(w);
        }
        rv_jw_array_close(w);
    }
    rv_jw_map_close(w);
    free(x);
}

enum MHD_Result rv_http_get_evaluation(rv_http *h, struct MHD_Connection *c)
{
    rv_evaluation *ev = h->src.evaluation;
    if (!ev) {
        rv_generation *g = h->src.current ? h->src.current(h->src.ctx) : NULL;
        int elsewhere = g && g->cfg->evaluation.labels && !g->cfg->evaluation.in_host;
        if (g)
            rv_generation_unref(g);
        return elsewhere
                   ? rv_http_respond_error(c, 404,
                                           "no evaluation in this host (evaluation.in_host: "
                                           "false): ask the `rendezvous evaluate` role's --http "
                                           "listener")
                   : rv_http_respond_error(c, 404,
                                           "no evaluation: the config has no evaluation section");
    }
    size_t n;
    int64_t now = rv_real_us() / 1000;
    rv_evaluation_figure *f = rv_evaluation_snapshot(ev, now, &n);
    if (!f)
        return rv_http_respond_error(c, 500, "out of memory");
    rv_evaluation_counts k;
    rv_evaluation_counts_get(ev, &k);
    rv_jw w;
    rv_jw_init(&w);
    rv_jw_map_open(&w);
    size_t n_labels;
    const char *const *labels = rv_evaluation_labels(ev, &n_labels);
    rv_jw_string(&w, "labels");
    rv_jw_array_open(&w);
    for (size_t i = 0; i < n_labels; i++)
        rv_jw_string(&w, labels[i]);
    rv_jw_array_close(&w);
    rv_jw_string(&w, "counts");
    rv_jw_map_open(&w);
    /* clang-format off */
    const struct { const char *name; uint64_t v; } counts[] = {
        {"answers", k.answers}, {"labels", k.labels}, {"joined", k.joined},
        {"early_labels", k.early_labels}, {"duplicate_labels", k.duplicate_labels},
        {"unknown_labels", k.unknown_labels}, {"unmatched_labels", k.unmatched_labels},
        {"unlabelled", k.unlabelled}, {"late_answers", k.late_answers},
        {"incomplete", k.incomplete}, {"store_bytes", k.store_bytes},
        {"store_evicted", k.store_evicted}, {"dropped_answers", k.dropped_answers},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++)
        rv_jw_kv_int(&w, counts[i].name, (long long)counts[i].v);
    for (int why = 0; why < RV_LABEL_REFUSALS; why++) { /* "empty_labels", ... */
        char name[64];
        snprintf(name, sizeof name, "%s_labels", rv_evaluation_refusal_name(why));
        rv_jw_kv_int(&w, name, (long long)*rv_evaluation_refused(&k, why));
    }
    rv_jw_map_close(&w);
    rv_jw_string(&w, "figures");
    rv_jw_array_open(&w);
    for (size_t i = 0; i < n; i++) {
        rv_jw_map_open(&w);
        rv_evaluation_figure_fields(&w, &f[i], labels, n_labels);
        rv_jw_map_close(&w);
    }
    rv_jw_array_close(&w);
    series(&w, ev, now);
    rv_jw_map_close(&w);
    rv_evaluation_figures_free(f, n);
    enum MHD_Result r = w.oom ? rv_http_respond_error(c, 500, "out of memory")
                              : rv_http_respond(c, 200, "application/json", w.buf, w.len);
    rv_jw_free(&w);
    return r;
}

enum MHD_Result rv_http_get_promotions(rv_http *h, struct MHD_Connection *c)
{
    if (!h->src.promoter)
        return rv_http_respond_error(c, 404,
                                     h->src.evaluation
                                         ? "no promotion: the config has no promotion section"
                                         : "no promotion here: it is decided where the "
                                           "evaluation runs");
    rv_jw w;
    rv_jw_init(&w);
    rv_promoter_json(h->src.promoter, &w);
    enum MHD_Result r = w.oom ? rv_http_respond_error(c, 500, "out of memory")
                              : rv_http_respond(c, 200, "application/json", w.buf, w.len);
    rv_jw_free(&w);
    return r;
}

void rv_http_evaluation_metrics(rv_http *h, rv_text *t)
{
    rv_evaluation *ev = h->src.evaluation;
    if (!ev)
        return;
    size_t n;
    rv_evaluation_figure *f = rv_evaluation_snapshot(ev, rv_real_us() / 1000, &n);
    if (!f)
        return;
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"rendezvous_evaluation_accuracy", "Share of joined answers whose top label was true."},
        {"rendezvous_evaluation_auc", "ROC AUC of the joined answers (one-vs-rest mean)."},
        {"rendezvous_evaluation_log_loss", "Mean log loss of the joined answers."},
        {"rendezvous_evaluation_brier", "Brier score of the joined answers."},
        {"rendezvous_evaluation_ece", "Expected calibration error of the joined answers."},
        {"rendezvous_evaluation_answers", "Joined answers in the window."},
    };
    for (size_t k = 0; k < sizeof fam / sizeof *fam; k++) {
        rv_prom_family(t, fam[k].name, "gauge", fam[k].help);
        for (size_t i = 0; i < n; i++) {
            if (f[i].schedule_version)
                continue; /* per version: in /v1/evaluation */
            const rv_measures *m = &f[i].m;
            double v = k == 0   ? m->accuracy
                       : k == 1 ? m->auc
                       : k == 2 ? m->log_loss
                       : k == 3 ? m->brier
                       : k == 4 ? m->ece
                                : (double)m->count;
            rv_prom_label l[] = {{"source", f[i].source},
                                 {"window", rv_evaluation_window_name(f[i].window)}};
            rv_prom_gauge(t, fam[k].name, l, 2, v);
        }
    }
    rv_evaluation_figures_free(f, n);
    rv_evaluation_counts k;
    rv_evaluation_counts_get(ev, &k);
    rv_prom_family(t, "rendezvous_evaluation_labels_total", "counter",
                   "Label records read, by what became of them (one outcome each).");
    static const char *outcome[] = {"joined", "duplicate", "unknown", "unmatched", "incomplete"};
    uint64_t v[] = {k.joined, k.duplicate_labels, k.unknown_labels, k.unmatched_labels,
                    k.incomplete};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        rv_prom_label l[] = {{"outcome", outcome[i]}};
        rv_prom_counter(t, "rendezvous_evaluation_labels_total", l, 1, v[i]);
    }
    for (int why = 0; why < RV_LABEL_REFUSALS; why++) { /* the records that are no label */
        rv_prom_label l[] = {{"outcome", rv_evaluation_refusal_name(why)}};
        rv_prom_counter(t, "rendezvous_evaluation_labels_total", l, 1,
                        *rv_evaluation_refused(&k, why));
    }
    rv_prom_family(t, "rendezvous_evaluation_late_answers_total", "counter",
                   "Answers read after their request was joined (not measured).");
    rv_prom_counter(t, "rendezvous_evaluation_late_answers_total", NULL, 0, k.late_answers);
    rv_prom_family(t, "rendezvous_evaluation_unlabelled_total", "counter",
                   "Requests whose label never came within max_label_delay_s.");
    rv_prom_counter(t, "rendezvous_evaluation_unlabelled_total", NULL, 0, k.unlabelled);
    rv_prom_family(t, "rendezvous_evaluation_store_bytes", "gauge",
                   "Bytes in use in the evaluation's store.");
    rv_prom_gauge(t, "rendezvous_evaluation_store_bytes", NULL, 0, (double)k.store_bytes);
}
