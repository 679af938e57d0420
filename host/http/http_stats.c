/*
 * http_stats.c - GET /v1/stats: the counters the dashboard draws, as JSON
 * (the same ones /metrics gives Prometheus): requests, results by reason,
 * per model answers by status, choices, latency percentiles and restarts,
 * the canary's comparisons with their deciles, in flight and lag.
 */
#include "http_internal.h"

#include <math.h>
#include <string.h>

#include "canary_monitor.h"
#include "clock.h"
#include "json.h"
#include "records.h"

static void deciles(yajl_gen j, const char *name, const double *q)
{
    rv_json_string(j, name);
    yajl_gen_array_open(j);
    for (int i = 0; i < RV_CANARY_DECILES; i++)
        isfinite(q[i]) ? yajl_gen_double(j, q[i]) : yajl_gen_null(j);
    yajl_gen_array_close(j);
}

enum MHD_Result rv_http_get_stats(rv_http *h, struct MHD_Connection *c)
{
    rv_stats *s = h->src.stats;
    yajl_gen j = rv_json_gen_new();
    yajl_gen_map_open(j);
    /* the host's clock: rates over it hold whatever the browser's does */
    rv_json_integer_field(j, "at_ms", (uint64_t)rv_mono_ms());
    rv_json_integer_field(j, "requests", atomic_load(&s->requests));
    rv_json_integer_field(j, "dead_letters", atomic_load(&s->dead_letters));
    rv_json_integer_field(j, "in_flight", h->src.in_flight(h->src.ctx));
    int64_t lag = h->src.consumer_lag(h->src.ctx);
    rv_json_integer_field(j, "lag", lag < 0 ? 0 : (uint64_t)lag);
    rv_json_string(j, "results_by_reason");
    yajl_gen_map_open(j);
    for (int r = 0; r < RV_REASON_COUNT; r++)
        rv_json_integer_field(j, rv_reason_name((rv_reason)r),
                              atomic_load(&s->results_by_reason[r]));
    yajl_gen_map_close(j);
    rv_json_number_field(j, "in_host_p50_us", rv_latency_quantile(&s->e2e, 0.5));
    rv_json_number_field(j, "in_host_p99_us", rv_latency_quantile(&s->e2e, 0.99));
    rv_json_string(j, "models");
    yajl_gen_array_open(j);
    int n = atomic_load(&s->n_models);
    for (int i = 0; i < n && i < RV_STATS_MAX_MODELS; i++) {
        const rv_model_stats *m = &s->models[i];
        yajl_gen_map_open(j);
        rv_json_string(j, "name");
        rv_json_string(j, m->name);
        rv_json_string(j, "by_status");
        yajl_gen_map_open(j);
        for (int st = RV_SLOT_OK; st < RV_SLOT_STATUS_COUNT; st++)
            rv_json_integer_field(j, rv_slot_status_name(st), atomic_load(&m->by_status[st]));
        yajl_gen_map_close(j);
        rv_json_integer_field(j, "chosen", atomic_load(&m->chosen));
        rv_json_number_field(j, "latency_p50_us", rv_latency_quantile(&m->latency, 0.5));
        rv_json_number_field(j, "latency_p99_us", rv_latency_quantile(&m->latency, 0.99));
        uint64_t restarts = 0;
        for (int k = 0; k < RV_PROC_EXIT_KINDS; k++)
            restarts += atomic_load(&m->restarts_by[k]);
        rv_json_integer_field(j, "restarts", restarts);
        yajl_gen_map_close(j);
    }
    yajl_gen_array_close(j);
    rv_canary_gauge gauges[RV_STATS_MAX_MODELS];
    size_t ng = h->src.monitor
                    ? rv_canary_monitor_snapshot(h->src.monitor, gauges, RV_STATS_MAX_MODELS)
                    : 0;
    rv_json_string(j, "canary");
    yajl_gen_array_open(j);
    for (size_t i = 0; i < ng && i < RV_STATS_MAX_MODELS; i++) {
        yajl_gen_map_open(j);
        rv_json_string(j, "model");
        rv_json_string(j, gauges[i].model);
        rv_json_number_field(j, "agreement", gauges[i].agreement);
        rv_json_number_field(j, "score_shift", gauges[i].score_shift);
        rv_json_number_field(j, "drift", gauges[i].drift);
        rv_json_integer_field(j, "compared", gauges[i].compared);
        rv_json_string(j, "alerts");
        rv_json_string(j, gauges[i].alerts);
        deciles(j, "q_model", gauges[i].q_model);
        deciles(j, "q_canary", gauges[i].q_canary);
        yajl_gen_map_close(j);
    }
    yajl_gen_array_close(j);
    yajl_gen_map_close(j);
    return rv_http_respond_json(c, j);
}
