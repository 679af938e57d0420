/*
 * http_evaluation.c - the live evaluation over HTTP: GET /v1/evaluation
 * (JSON: what was joined and counted, and each source's measures per
 * window) and its /metrics families. 404 when the config has no
 * evaluation section.
 */
#include "http_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "prom.h"

static void number(yajl_gen j, const char *name, double v)
{
    rv_json_string(j, name);
    if (isfinite(v))
        yajl_gen_double(j, v);
    else
        yajl_gen_null(j);
}

static void integer(yajl_gen j, const char *name, uint64_t v)
{
    rv_json_string(j, name);
    yajl_gen_integer(j, (long long)v);
}

static void per_label(yajl_gen j, const char *name, const rv_config *cfg, const double *v)
{
    rv_json_string(j, name);
    yajl_gen_map_open(j);
    for (size_t k = 0; k < cfg->evaluation.n_labels; k++)
        number(j, cfg->evaluation.labels[k], v[k]);
    yajl_gen_map_close(j);
}

static void figure(yajl_gen j, const rv_config *cfg, const rv_evaluation_figure *f)
{
    const rv_measures *m = &f->m;
    yajl_gen_map_open(j);
    rv_json_string(j, "source");
    rv_json_string(j, f->source);
    rv_json_string(j, "version");
    rv_json_string(j, f->version);
    rv_json_string(j, "window");
    rv_json_string(j, rv_evaluation_window_name(f->window));
    if (f->schedule_version)
        integer(j, "schedule_version", f->schedule_version);
    integer(j, "count", m->count);
    number(j, "accuracy", m->accuracy);
    number(j, "log_loss", m->log_loss);
    number(j, "brier", m->brier);
    number(j, "auc", m->auc);
    number(j, "auc_error", m->auc_error);
    number(j, "ece", m->ece);
    per_label(j, "precision", cfg, m->precision);
    per_label(j, "recall", cfg, m->recall);
    rv_json_string(j, "calibration");
    yajl_gen_array_open(j);
    for (int b = 0; b < RV_MEASURES_BINS; b++) {
        yajl_gen_map_open(j);
        number(j, "from", (double)b / RV_MEASURES_BINS);
        integer(j, "count", m->bins[b].count);
        number(j, "confidence", m->bins[b].confidence);
        number(j, "accuracy", m->bins[b].accuracy);
        yajl_gen_map_close(j);
    }
    yajl_gen_array_close(j);
    yajl_gen_map_close(j);
}

enum MHD_Result rv_http_get_evaluation(rv_http *h, struct MHD_Connection *c)
{
    rv_evaluation *ev = h->src.evaluation;
    if (!ev)
        return rv_http_respond_error(c, 404, "no evaluation: the config has no evaluation section");
    size_t n;
    rv_evaluation_figure *f = rv_evaluation_snapshot(ev, rv_real_us() / 1000, &n);
    if (!f)
        return rv_http_respond_error(c, 500, "out of memory");
    rv_evaluation_counts k;
    rv_evaluation_counts_get(ev, &k);
    yajl_gen j = rv_json_gen_new();
    yajl_gen_map_open(j);
    rv_json_string(j, "labels");
    yajl_gen_array_open(j);
    for (size_t i = 0; i < h->cfg->evaluation.n_labels; i++)
        rv_json_string(j, h->cfg->evaluation.labels[i]);
    yajl_gen_array_close(j);
    rv_json_string(j, "counts");
    yajl_gen_map_open(j);
    integer(j, "answers", k.answers);
    integer(j, "labels", k.labels);
    integer(j, "joined", k.joined);
    integer(j, "early_labels", k.early_labels);
    integer(j, "duplicate_labels", k.duplicate_labels);
    integer(j, "unknown_labels", k.unknown_labels);
    integer(j, "unmatched_labels", k.unmatched_labels);
    integer(j, "unlabelled", k.unlabelled);
    integer(j, "late_answers", k.late_answers);
    integer(j, "incomplete", k.incomplete);
    integer(j, "store_bytes", k.store_bytes);
    integer(j, "store_evicted", k.store_evicted);
    yajl_gen_map_close(j);
    rv_json_string(j, "figures");
    yajl_gen_array_open(j);
    for (size_t i = 0; i < n; i++)
        figure(j, h->cfg, &f[i]);
    yajl_gen_array_close(j);
    yajl_gen_map_close(j);
    rv_evaluation_figures_free(f, n);
    return rv_http_respond_json(c, j);
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
                   "Labels read, by what became of them.");
    static const char *outcome[] = {"joined", "duplicate", "unknown", "unmatched"};
    uint64_t v[] = {k.joined, k.duplicate_labels, k.unknown_labels, k.unmatched_labels};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        rv_prom_label l[] = {{"outcome", outcome[i]}};
        rv_prom_counter(t, "rendezvous_evaluation_labels_total", l, 1, v[i]);
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
