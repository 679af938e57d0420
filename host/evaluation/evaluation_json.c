/*
 * evaluation_json.c - a source's measures over a window as JSON fields:
 * what GET /v1/evaluation lists and what an evaluation record holds.
 */
#include "evaluation.h"

static void per_label(rv_jw *w, const char *name, const char *const *labels, size_t n_labels,
                      const double *v)
{
    rv_jw_string(w, name);
    rv_jw_map_open(w);
    for (size_t k = 0; k < n_labels; k++) {
        rv_jw_string(w, labels[k]);
        rv_jw_double(w, v[k]);
    }
    rv_jw_map_close(w);
}

static void number(rv_jw *w, const char *name, double v)
{
    rv_jw_string(w, name);
    rv_jw_double(w, v);
}

void rv_evaluation_figure_fields(rv_jw *w, const rv_evaluation_figure *f, const char *const *labels,
                                 size_t n_labels)
{
    const rv_measures *m = &f->m;
    rv_jw_kv_string(w, "source", f->source);
    rv_jw_kv_string(w, "version", f->version);
    rv_jw_kv_string(w, "window", rv_evaluation_window_name(f->window));
    if (f->schedule_version)
        rv_jw_kv_int(w, "schedule_version", f->schedule_version);
    rv_jw_kv_int(w, "count", (long long)m->count);
    number(w, "accuracy", m->accuracy);
    number(w, "log_loss", m->log_loss);
    number(w, "brier", m->brier);
    number(w, "auc", m->auc);
    number(w, "auc_error", m->auc_error);
    number(w, "ece", m->ece);
    per_label(w, "precision", labels, n_labels, m->precision);
    per_label(w, "recall", labels, n_labels, m->recall);
    rv_jw_string(w, "calibration");
    rv_jw_array_open(w);
    for (int b = 0; b < RV_MEASURES_BINS; b++) {
        rv_jw_map_open(w);
        number(w, "from", (double)b / RV_MEASURES_BINS);
        rv_jw_kv_int(w, "count", (long long)m->bins[b].count);
        number(w, "confidence", m->bins[b].confidence);
        number(w, "accuracy", m->bins[b].accuracy);
        rv_jw_map_close(w);
    }
    rv_jw_array_close(w);
}
