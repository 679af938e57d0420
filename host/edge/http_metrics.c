/*
 * http_metrics.c - GET /metrics in Prometheus' text format, read from the
 * lock-free counters. Label values come from config names: they are
 * escaped in one place, prom_label().
 */
#include "http_internal.h"

#include <math.h>
#include <string.h>

#include "text.h"
#include "worker.h"

static void histogram(rv_text *t, const char *name, const char *labels, const rv_latency_hist *hist)
{
    uint64_t cum = 0;
    const char *sep = *labels ? "," : "";
    for (int b = 0; b < RV_LATENCY_BUCKETS - 1; b++) {
        cum += atomic_load(&hist->bucket[b]);
        rv_text_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                       (double)((int64_t)1 << b) / 1e6, (unsigned long long)cum);
    }
    rv_text_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                   (unsigned long long)atomic_load(&hist->count));
    rv_text_printf(t, "%s_sum{%s} %g\n", name, labels, (double)atomic_load(&hist->sum_us) / 1e6);
    rv_text_printf(t, "%s_count{%s} %llu\n", name, labels,
                   (unsigned long long)atomic_load(&hist->count));
}

/* Label values come from config names; escape what Prometheus needs. */
static void prom_label(char *out, size_t size, const char *v)
{
    size_t o = 0;
    for (; *v && o + 3 < size; v++) {
        if (*v == '"' || *v == '\\')
            out[o++] = '\\';
        if (*v == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
            continue;
        }
        out[o++] = *v;
    }
    out[o] = '\0';
}

enum MHD_Result rv_http_get_metrics(rv_http *h, struct MHD_Connection *c)
{
    rv_stats *s = h->src.stats;
    rv_text t = {0};
    int n = atomic_load(&s->n_models);

    rv_text_printf(&t,
                   "# HELP rendezvous_requests_total Requests read from the requests stream.\n"
                   "# TYPE rendezvous_requests_total counter\n"
                   "rendezvous_requests_total %llu\n",
                   (unsigned long long)s->requests);
    rv_text_printf(&t,
                   "# HELP rendezvous_dead_letters_total Requests refused to dead-letter.\n"
                   "# TYPE rendezvous_dead_letters_total counter\n"
                   "rendezvous_dead_letters_total %llu\n",
                   (unsigned long long)s->dead_letters);
    rv_text_printf(&t, "# HELP rendezvous_model_requests_total Answers per model by status.\n"
                       "# TYPE rendezvous_model_requests_total counter\n");
    for (int i = 0; i < n; i++) {
        char m[300];
        prom_label(m, sizeof m, s->models[i].name);
        for (int st = RV_SLOT_OK; st < RV_SLOT_STATUS_COUNT; st++)
            rv_text_printf(&t, "rendezvous_model_requests_total{model=\"%s\",status=\"%s\"} %llu\n",
                           m, rv_slot_status_name(st),
                           (unsigned long long)s->models[i].by_status[st]);
    }
    rv_text_printf(&t, "# HELP rendezvous_model_shed_total Requests a model shed (queue full).\n"
                       "# TYPE rendezvous_model_shed_total counter\n");
    for (int i = 0; i < n; i++) {
        char m[300];
        prom_label(m, sizeof m, s->models[i].name);
        rv_text_printf(&t, "rendezvous_model_shed_total{model=\"%s\"} %llu\n", m,
                       (unsigned long long)s->models[i].by_status[RV_SLOT_SHED]);
    }
    rv_text_printf(&t, "# HELP rendezvous_model_latency_seconds From reading the request to the "
                       "model's answer.\n# TYPE rendezvous_model_latency_seconds histogram\n");
    for (int i = 0; i < n; i++) {
        char m[300], lab[320];
        prom_label(m, sizeof m, s->models[i].name);
        snprintf(lab, sizeof lab, "model=\"%s\"", m);
        histogram(&t, "rendezvous_model_latency_seconds", lab, &s->models[i].latency);
    }
    rv_generation *g = h->src.current(h->src.ctx);
    rv_text_printf(&t, "# HELP rendezvous_model_queue_depth Requests queued for a serving model.\n"
                       "# TYPE rendezvous_model_queue_depth gauge\n");
    for (size_t i = 0; g && i < g->n_models; i++) {
        char m[300];
        prom_label(m, sizeof m, g->models[i]->name);
        rv_text_printf(&t, "rendezvous_model_queue_depth{model=\"%s\"} %zu\n", m,
                       g->models[i]->workers ? rv_workers_queued(g->models[i]->workers) : 0);
    }
    rv_text_printf(&t,
                   "# HELP rendezvous_schedule_version The serving schedule's version.\n"
                   "# TYPE rendezvous_schedule_version gauge\n"
                   "rendezvous_schedule_version %llu\n",
                   g ? (unsigned long long)g->schedule_version : 0ULL);
    if (g)
        rv_generation_unref(g);
    rv_text_printf(&t, "# HELP rendezvous_results_total Results sent, by reason.\n"
                       "# TYPE rendezvous_results_total counter\n");
    for (int r = 0; r < RV_REASON_COUNT; r++)
        rv_text_printf(&t, "rendezvous_results_total{reason=\"%s\"} %llu\n", rv_reason_name(r),
                       (unsigned long long)s->results_by_reason[r]);
    rv_text_printf(&t, "# HELP rendezvous_results_by_model_total Results by chosen model.\n"
                       "# TYPE rendezvous_results_by_model_total counter\n");
    for (int i = 0; i < n; i++) {
        char m[300];
        prom_label(m, sizeof m, s->models[i].name);
        rv_text_printf(&t, "rendezvous_results_by_model_total{model=\"%s\"} %llu\n", m,
                       (unsigned long long)s->models[i].chosen);
    }
    rv_text_printf(&t, "# HELP rendezvous_result_latency_seconds From reading the request to "
                       "handing its result to the producer.\n"
                       "# TYPE rendezvous_result_latency_seconds histogram\n");
    histogram(&t, "rendezvous_result_latency_seconds", "", &s->e2e);

    rv_canary_gauge gauges[64];
    size_t ng = rv_canary_monitor_snapshot(h->src.monitor, gauges, 64);
    if (ng > 64)
        ng = 64;
    static const char *const gnames[3] = {"agreement", "score_shift", "drift"};
    static const char *const ghelp[3] = {
        "Share of the last window whose top label equals the canary's.",
        "Largest quantile gap to the canary's scores over the last window.",
        "Largest quantile move from the model's reference window, beyond the canary's."};
    for (int k = 0; k < 3; k++) {
        rv_text_printf(&t, "# HELP rendezvous_canary_%s %s\n# TYPE rendezvous_canary_%s gauge\n",
                       gnames[k], ghelp[k], gnames[k]);
        for (size_t i = 0; i < ng; i++) {
            double v = k == 0   ? gauges[i].agreement
                       : k == 1 ? gauges[i].score_shift
                                : gauges[i].drift;
            char m[300];
            prom_label(m, sizeof m, gauges[i].model);
            if (isnan(v))
                rv_text_printf(&t, "rendezvous_canary_%s{model=\"%s\"} NaN\n", gnames[k], m);
            else
                rv_text_printf(&t, "rendezvous_canary_%s{model=\"%s\"} %g\n", gnames[k], m, v);
        }
    }
    rv_text_printf(&t, "# HELP rendezvous_canary_alerting 1 while a canary check is in alert.\n"
                       "# TYPE rendezvous_canary_alerting gauge\n");
    for (size_t i = 0; i < ng; i++) {
        char m[300];
        prom_label(m, sizeof m, gauges[i].model);
        rv_text_printf(&t, "rendezvous_canary_alerting{model=\"%s\"} %d\n", m, gauges[i].alerting);
    }
    rv_text_printf(&t,
                   "# HELP rendezvous_reloads_total Generation reloads, by outcome.\n"
                   "# TYPE rendezvous_reloads_total counter\n"
                   "rendezvous_reloads_total{outcome=\"ok\"} %llu\n"
                   "rendezvous_reloads_total{outcome=\"failed\"} %llu\n",
                   (unsigned long long)s->reloads_ok, (unsigned long long)s->reloads_failed);
    rv_text_printf(&t,
                   "# HELP rendezvous_schedule_changes_total Schedule changes by control record.\n"
                   "# TYPE rendezvous_schedule_changes_total counter\n"
                   "rendezvous_schedule_changes_total %llu\n",
                   (unsigned long long)s->schedule_changes);
    int64_t lag = h->src.consumer_lag(h->src.ctx);
    rv_text_printf(&t,
                   "# HELP rendezvous_consumer_lag Requests in the stream not yet read "
                   "(assigned partitions).\n# TYPE rendezvous_consumer_lag gauge\n"
                   "rendezvous_consumer_lag %lld\n",
                   (long long)(lag < 0 ? 0 : lag));
    rv_text_printf(&t,
                   "# HELP rendezvous_up 1 while the broker answers.\n"
                   "# TYPE rendezvous_up gauge\nrendezvous_up %d\n",
                   atomic_load(&h->broker_ok));
    enum MHD_Result r =
        rv_http_respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4", rv_text_str(&t), t.len);
    rv_text_free(&t);
    return r;
}
