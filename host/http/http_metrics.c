/*
 * http_metrics.c - GET /metrics in Prometheus' text format, read from the
 * lock-free counters. Every line is written by prom.h, which escapes the
 * label values (config names) in one place.
 */
#include "http_internal.h"

#include <stdatomic.h>

#include "archive.h"
#include "prom.h"
#include "text.h"
#include "worker.h"

/* A latency histogram of stats.h, bucket b: the values under 2^b us. */
static void latency(rv_text *t, const char *name, const rv_prom_label *labels, size_t n,
                    const rv_latency_hist *h)
{
    uint64_t counts[RV_LATENCY_BUCKETS], below = 0;
    double upper[RV_LATENCY_BUCKETS];
    for (int b = 0; b < RV_LATENCY_BUCKETS; b++) {
        uint64_t c =
            b + 1 < RV_LATENCY_BUCKETS ? rv_latency_below_pow2(h, b) : atomic_load(&h->count);
        counts[b] = c > below ? c - below : 0;
        below = c > below ? c : below;
        upper[b] = (double)((int64_t)1 << b) / 1e6;
    }
    rv_prom_histogram(t, name, labels, n, counts, upper, RV_LATENCY_BUCKETS,
                      (double)atomic_load(&h->sum_us) / 1e6);
}

/* The same as percentiles (within 1/64 of the value), in seconds. */
static void percentiles(rv_text *t, const char *name, const char *help, const rv_latency_hist *h)
{
    static const double q[] = {0.5, 0.9, 0.99, 0.999};
    double v[4];
    for (int i = 0; i < 4; i++)
        v[i] = rv_latency_quantile(h, q[i]) / 1e6;
    rv_prom_family(t, name, "summary", help);
    rv_prom_summary(t, name, NULL, 0, q, v, 4, (double)atomic_load(&h->sum_us) / 1e6,
                    atomic_load(&h->count));
}

/* Per-model families from stats.h, one label `model`. */
static void model_families(rv_text *t, rv_stats *s, int n)
{
    rv_prom_family(t, "rendezvous_model_requests_total", "counter", "Answers per model by status.");
    for (int i = 0; i < n; i++)
        for (int st = RV_SLOT_OK; st < RV_SLOT_STATUS_COUNT; st++) {
            rv_prom_label l[] = {{"model", s->models[i].name}, {"status", rv_slot_status_name(st)}};
            rv_prom_counter(t, "rendezvous_model_requests_total", l, 2,
                            atomic_load(&s->models[i].by_status[st]));
        }
    rv_prom_family(t, "rendezvous_model_shed_total", "counter",
                   "Requests a model shed (queue full).");
    for (int i = 0; i < n; i++) {
        rv_prom_label l[] = {{"model", s->models[i].name}};
        rv_prom_counter(t, "rendezvous_model_shed_total", l, 1,
                        atomic_load(&s->models[i].by_status[RV_SLOT_SHED]));
    }
    rv_prom_family(t, "rendezvous_model_restarts_total", "counter",
                   "Model processes that ended and were restarted, by reason (a signal, exit, "
                   "max_score_ms, start); a reason appears once it happened.");
    for (int i = 0; i < n; i++)
        for (int k = 1; k < RV_PROC_EXIT_KINDS; k++) {
            uint64_t v = atomic_load(&s->models[i].restarts_by[k]);
            rv_prom_label l[] = {{"model", s->models[i].name},
                                 {"reason", rv_proc_exit_kind_name(k)}};
            if (v)
                rv_prom_counter(t, "rendezvous_model_restarts_total", l, 2, v);
        }
    rv_prom_family(t, "rendezvous_model_latency_seconds", "histogram",
                   "From reading the request to the model's answer.");
    for (int i = 0; i < n; i++) {
        rv_prom_label l[] = {{"model", s->models[i].name}};
        latency(t, "rendezvous_model_latency_seconds", l, 1, &s->models[i].latency);
    }
}

/* The serving generation's queues and schedule. */
static void generation_families(rv_text *t, rv_generation *g)
{
    rv_prom_family(t, "rendezvous_model_queue_depth", "gauge",
                   "Requests queued for a serving model.");
    for (size_t i = 0; g && i < g->n_models; i++) {
        rv_prom_label l[] = {{"model", g->models[i]->name}};
        rv_prom_gauge(t, "rendezvous_model_queue_depth", l, 1,
                      g->models[i]->workers ? (double)rv_workers_queued(g->models[i]->workers) : 0);
    }
    rv_prom_family(t, "rendezvous_schedule_version", "gauge", "The serving schedule's version.");
    rv_prom_gauge(t, "rendezvous_schedule_version", NULL, 0, g ? (double)g->schedule_version : 0);
}

static void result_families(rv_text *t, rv_stats *s, int n)
{
    rv_prom_family(t, "rendezvous_results_total", "counter", "Results sent, by reason.");
    for (int r = 0; r < RV_REASON_COUNT; r++) {
        rv_prom_label l[] = {{"reason", rv_reason_name(r)}};
        rv_prom_counter(t, "rendezvous_results_total", l, 1, atomic_load(&s->results_by_reason[r]));
    }
    rv_prom_family(t, "rendezvous_results_by_model_total", "counter", "Results by chosen model.");
    for (int i = 0; i < n; i++) {
        rv_prom_label l[] = {{"model", s->models[i].name}};
        rv_prom_counter(t, "rendezvous_results_by_model_total", l, 1,
                        atomic_load(&s->models[i].chosen));
    }
    rv_prom_family(t, "rendezvous_result_latency_seconds", "histogram",
                   "From reading the request to handing its result to the producer.");
    latency(t, "rendezvous_result_latency_seconds", NULL, 0, &s->e2e);
    percentiles(t, "rendezvous_in_host_latency_seconds",
                "From reading the request to its result, percentiles since start.", &s->e2e);
    percentiles(t, "rendezvous_decision_interval_seconds",
                "From the chosen model's answer to the result, percentiles since start.",
                &s->decision);
    if (atomic_load(&s->txn_commit.count))
        percentiles(t, "rendezvous_transaction_commit_seconds",
                    "Exactly-once: sending a transaction's offsets and committing it, "
                    "percentiles since start.",
                    &s->txn_commit);
}

static void canary_families(rv_text *t, rv_canary_monitor *monitor)
{
    rv_canary_gauge gauges[RV_STATS_MAX_MODELS];
    size_t ng = rv_canary_monitor_snapshot(monitor, gauges, RV_STATS_MAX_MODELS);
    if (ng > RV_STATS_MAX_MODELS)
        ng = RV_STATS_MAX_MODELS;
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"rendezvous_canary_agreement",
         "Share of the last window whose top label equals the canary's."},
        {"rendezvous_canary_score_shift",
         "Largest quantile gap to the canary's scores over the last window."},
        {"rendezvous_canary_drift",
         "Largest quantile move from the model's reference window, beyond the canary's."},
        {"rendezvous_canary_alerting", "1 while a canary check is in alert."},
    };
    for (size_t k = 0; k < sizeof fam / sizeof *fam; k++) {
        rv_prom_family(t, fam[k].name, "gauge", fam[k].help);
        for (size_t i = 0; i < ng; i++) {
            const rv_canary_gauge *gv = &gauges[i];
            double v = k == 0   ? gv->agreement
                       : k == 1 ? gv->score_shift
                       : k == 2 ? gv->drift
                                : (double)gv->alerting;
            rv_prom_label l[] = {{"model", gv->model}};
            rv_prom_gauge(t, fam[k].name, l, 1, v);
        }
    }
}

/* The decoy's segment files: records not written, retention. */
static void archive_families(rv_text *t)
{
    rv_archive_counts c;
    rv_archive_counts_get(&c);
    rv_prom_family(t, "rendezvous_archive_write_failures_total", "counter",
                   "Records the decoy could not write to its segment files (the disk full, an "
                   "I/O error); each is still on the archive stream.");
    rv_prom_counter(t, "rendezvous_archive_write_failures_total", NULL, 0, c.write_failures);
    rv_prom_family(t, "rendezvous_archive_failing", "gauge",
                   "1 while the decoy's last record was not written to its segment files.");
    rv_prom_gauge(t, "rendezvous_archive_failing", NULL, 0, c.failing ? 1 : 0);
    rv_prom_family(t, "rendezvous_archive_segments_deleted_total", "counter",
                   "Segment files deleted by the archive's retention (archive.max_mb, "
                   "archive.max_age_s).");
    rv_prom_counter(t, "rendezvous_archive_segments_deleted_total", NULL, 0, c.segments_deleted);
    rv_prom_family(t, "rendezvous_archive_deleted_bytes_total", "counter",
                   "Bytes of the segment files deleted by the archive's retention.");
    rv_prom_counter(t, "rendezvous_archive_deleted_bytes_total", NULL, 0, c.bytes_deleted);
}

/* The text in Prometheus' format, freed. */
static enum MHD_Result respond(struct MHD_Connection *c, rv_text *t)
{
    enum MHD_Result r = t->oom ? rv_http_respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
                                                 "out of memory\n", 14)
                               : rv_http_respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4",
                                                 rv_text_str(t), t->len);
    rv_text_free(t);
    return r;
}

/* The listener's own: refusals, and when its certificate expires. */
static void listener_families(rv_http *h, rv_text *t)
{
    rv_prom_family(t, "rendezvous_http_refused_total", "counter",
                   "HTTP requests refused: no or unknown token (401), a scope missing (403), "
                   "over a token's limits (429), Authorization or X-Request-Id given twice (400).");
    static const char *const refused[] = {"401", "403", "429", "400"};
    for (int i = 0; i < 4; i++) {
        rv_prom_label l[] = {{"status", refused[i]}};
        rv_prom_counter(t, "rendezvous_http_refused_total", l, 1, atomic_load(&h->refused[i]));
    }
    if (!h->evaluate_role) {
        rv_prom_family(t, "rendezvous_http_v2_answers_total", "counter",
                       "Open Inference Protocol (/v2) answers by status: 200, the protocol's "
                       "errors (400 a bad tensor, 404 no such model or endpoint, 413 a body too "
                       "large), 500, 503 not ready, 504 no answer in time; \"other\" the rest. "
                       "Refusals before the endpoint are in rendezvous_http_refused_total.");
        for (int i = 0; i < RV_HTTP_V2_STATUSES; i++) {
            char status[16];
            snprintf(status, sizeof status, "%u", rv_http_v2_statuses[i]);
            rv_prom_label l[] = {{"status", rv_http_v2_statuses[i] ? status : "other"}};
            rv_prom_counter(t, "rendezvous_http_v2_answers_total", l, 1,
                            atomic_load(&h->v2_answers[i]));
        }
    }
    if (h->tls) {
        rv_prom_family(t, "rendezvous_http_certificate_expiry_seconds", "gauge",
                       "When the listener's TLS certificate expires (Unix time): alert well "
                       "before, then renew it and send SIGHUP.");
        rv_prom_gauge(t, "rendezvous_http_certificate_expiry_seconds", NULL, 0,
                      (double)rv_http_tls_expires(h->tls));
    }
}

enum MHD_Result rv_http_get_evaluation_metrics(rv_http *h, struct MHD_Connection *c)
{
    rv_text t = {0};
    rv_http_evaluation_metrics(h, &t);
    listener_families(h, &t);
    return respond(c, &t);
}

/* Each peer site as seen through the mirror (site.peers); a takeover's
 * site and what was not answered here because another site had. */
static void site_families(rv_http *h, rv_text *t, const rv_config *cfg)
{
    if (cfg->site.taken_over_from) {
        rv_prom_family(t, "rendezvous_site_taking_over", "gauge",
                       "1: this process answers the requests of the site named, taken over "
                       "(rendezvous takeover).");
        rv_prom_label l[] = {{"from", cfg->site.taken_over_from}};
        rv_prom_gauge(t, "rendezvous_site_taking_over", l, 1, 1);
    }
    if (h->src.skipped) {
        rv_prom_family(t, "rendezvous_site_skipped_total", "counter",
                       "Requests read and not answered here: another site had answered them "
                       "(a takeover: the lost site; a host back: the site that took over).");
        rv_prom_counter(t, "rendezvous_site_skipped_total", NULL, 0, h->src.skipped(h->src.ctx));
    }
    rv_site_status st[16];
    size_t n = h->src.sites ? h->src.sites(h->src.ctx, st, 16) : 0;
    if (!n)
        return;
    rv_prom_family(t, "rendezvous_site_heartbeat_age_seconds", "gauge",
                   "Since the last heartbeat of each peer site arrived here through the mirror: "
                   "it grows while that site or the mirror is lost.");
    for (size_t i = 0; i < n; i++) {
        rv_prom_label l[] = {{"from", st[i].site}};
        rv_prom_gauge(t, "rendezvous_site_heartbeat_age_seconds", l, 1, st[i].heartbeat_age_s);
    }
    rv_prom_family(t, "rendezvous_site_mirror_lag_seconds", "gauge",
                   "The mirror's lag from each peer site: its last heartbeat's age when it "
                   "arrived here (-1 before the first).");
    for (size_t i = 0; i < n; i++) {
        rv_prom_label l[] = {{"from", st[i].site}};
        rv_prom_gauge(t, "rendezvous_site_mirror_lag_seconds", l, 1, st[i].mirror_lag_s);
    }
}

enum MHD_Result rv_http_get_metrics(rv_http *h, struct MHD_Connection *c)
{
    rv_stats *s = h->src.stats;
    rv_text t = {0};
    int n = atomic_load(&s->n_models);

    rv_prom_family(&t, "rendezvous_requests_total", "counter",
                   "Requests read from the requests stream.");
    rv_prom_counter(&t, "rendezvous_requests_total", NULL, 0, atomic_load(&s->requests));
    rv_prom_family(&t, "rendezvous_dead_letters_total", "counter",
                   "Requests refused to dead-letter.");
    rv_prom_counter(&t, "rendezvous_dead_letters_total", NULL, 0, atomic_load(&s->dead_letters));
    model_families(&t, s, n);
    rv_generation *g = h->src.current(h->src.ctx);
    generation_families(&t, g);
    if (g) {
        site_families(h, &t, g->cfg);
        rv_generation_unref(g);
    }
    result_families(&t, s, n);
    canary_families(&t, h->src.monitor);
    rv_http_evaluation_metrics(h, &t);

    rv_prom_family(&t, "rendezvous_reloads_total", "counter", "Generation reloads, by outcome.");
    rv_prom_label ok[] = {{"outcome", "ok"}}, failed[] = {{"outcome", "failed"}};
    rv_prom_counter(&t, "rendezvous_reloads_total", ok, 1, atomic_load(&s->reloads_ok));
    rv_prom_counter(&t, "rendezvous_reloads_total", failed, 1, atomic_load(&s->reloads_failed));
    rv_prom_family(&t, "rendezvous_schedule_changes_total", "counter",
                   "Schedule changes by control record.");
    rv_prom_counter(&t, "rendezvous_schedule_changes_total", NULL, 0,
                    atomic_load(&s->schedule_changes));
    listener_families(h, &t);
    rv_prom_family(&t, "rendezvous_control_refused_total", "counter",
                   "Control records refused for their signature (control.key_file).");
    rv_prom_counter(&t, "rendezvous_control_refused_total", NULL, 0,
                    atomic_load(&s->control_refused));
    if (h->src.output && rv_output_transactional(h->src.output)) {
        rv_prom_family(&t, "rendezvous_transactions_total", "counter",
                       "Exactly-once transactions, by outcome (restarted: the transactional "
                       "producer was made again after a fatal error).");
        rv_prom_label tc[] = {{"outcome", "committed"}}, ta[] = {{"outcome", "aborted"}},
                      tr[] = {{"outcome", "restarted"}};
        rv_prom_counter(&t, "rendezvous_transactions_total", tc, 1, atomic_load(&s->txn_commits));
        rv_prom_counter(&t, "rendezvous_transactions_total", ta, 1, atomic_load(&s->txn_aborts));
        rv_prom_counter(&t, "rendezvous_transactions_total", tr, 1, atomic_load(&s->txn_restarts));
    }
    int64_t lag = h->src.consumer_lag(h->src.ctx);
    rv_prom_family(&t, "rendezvous_consumer_lag", "gauge",
                   "Requests in the stream not yet read (assigned partitions).");
    rv_prom_gauge(&t, "rendezvous_consumer_lag", NULL, 0, (double)(lag < 0 ? 0 : lag));
    rv_prom_family(&t, "rendezvous_requests_in_flight", "gauge",
                   "Requests read and not yet done (answered and acknowledged); the input "
                   "stops reading at rendezvous.max_in_flight.");
    rv_prom_gauge(&t, "rendezvous_requests_in_flight", NULL, 0,
                  (double)h->src.in_flight(h->src.ctx));
    rv_prom_family(&t, "rendezvous_delivery_failures_total", "counter",
                   "Records the broker refused (each produced again unless the fault was its "
                   "own); /readyz names the topic and the reason.");
    rv_prom_counter(&t, "rendezvous_delivery_failures_total", NULL, 0,
                    h->src.output ? rv_output_failures(h->src.output) : 0);
    archive_families(&t);
    rv_prom_family(&t, "rendezvous_remote_scores_total", "counter",
                   "Score records read for remote models, by what became of them: joined (in "
                   "time), late, early (kept until their request comes), unknown (dropped), "
                   "ignored (not a remote model's), invalid.");
    for (int o = 0; h->src.remote && o < RV_REMOTE_OUTCOMES; o++) {
        rv_prom_label l[] = {{"outcome", rv_remote_outcome_names[o]}};
        rv_prom_counter(&t, "rendezvous_remote_scores_total", l, 1,
                        rv_remote_count(h->src.remote, (rv_remote_outcome)o));
    }
    rv_prom_family(&t, "rendezvous_remote_waiting", "gauge",
                   "Requests waiting for a remote model's answer.");
    rv_prom_gauge(&t, "rendezvous_remote_waiting", NULL, 0,
                  h->src.remote ? (double)rv_remote_waiting(h->src.remote) : 0);
    rv_prom_family(&t, "rendezvous_preferred_path_kept", "gauge",
                   "1 while the preferred model's path (the input thread, its workers and "
                   "model processes) is kept on one CPU (rendezvous.colocate).");
    rv_prom_gauge(&t, "rendezvous_preferred_path_kept", NULL, 0, atomic_load(&s->path_kept));
    rv_prom_family(&t, "rendezvous_preferred_path_cpu_share", "gauge",
                   "What the preferred model's path asked of a CPU over the last 200 ms (ran "
                   "and waited to run), as a share of one CPU.");
    rv_prom_gauge(&t, "rendezvous_preferred_path_cpu_share", NULL, 0,
                  atomic_load(&s->path_share_permille) / 1000.0);
    rv_prom_family(&t, "rendezvous_up", "gauge", "1 while the broker answers.");
    rv_prom_gauge(&t, "rendezvous_up", NULL, 0, atomic_load(&h->broker_ok));
    return respond(c, &t);
}
