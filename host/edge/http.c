/*
 * http.c - libmicrohttpd server, thread per connection. A scoring call
 * blocks its own connection thread until its result comes back on the
 * reply topic or its deadline passes; it never blocks the serving loop.
 * Must never answer 200 without a result from the rendezvous: the HTTP
 * path is the same Kafka path as every other request.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "clock.h"
#include "errbuf.h"
#include "hostport.h"
#include "json.h"
#include "log.h"
#include "streams.h"
#include "text.h"
#include "worker.h"

#define DEADLINE_MARGIN_MS 1000
#define MAX_ID 256

typedef struct waiter {
    char id[MAX_ID + 1];
    char *result; /* the result record, once in */
    size_t result_len;
    struct waiter *next;
} waiter;

struct rv_http {
    rv_http_sources src;
    const rv_config *cfg; /* the first generation's: listen, topics, limits */
    struct MHD_Daemon *mhd;
    rd_kafka_t *replies;  /* reads the reply topic, every partition, no group */
    pthread_t reader, prober;
    atomic_int stop;
    atomic_int broker_ok;
    atomic_int replies_ready; /* fetched from every reply partition */
    atomic_int input_ready;   /* the requests consumer reads every partition */
    char *reply_topic;
    char *requests_topic;
    uint32_t max_body;
    atomic_uint_fast64_t next_id;
    pthread_mutex_t lock; /* guards waiters */
    pthread_cond_t cond;
    waiter *waiters;
};

/* ---- the reply side ---- */

static void deliver(rv_http *h, const char *id, const void *value, size_t len)
{
    pthread_mutex_lock(&h->lock);
    for (waiter *w = h->waiters; w; w = w->next)
        if (!w->result && strcmp(w->id, id) == 0) {
            w->result = malloc(len + 1);
            if (w->result) {
                memcpy(w->result, value, len);
                w->result[len] = '\0';
                w->result_len = len;
            }
            pthread_cond_broadcast(&h->cond);
            break;
        }
    pthread_mutex_unlock(&h->lock);
}

static void *read_replies(void *arg)
{
    rv_http *h = arg;
    while (!atomic_load(&h->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(h->replies, 100);
        if (!m)
            continue;
        if (!m->err && m->key && m->key_len > 0 && m->key_len <= MAX_ID) {
            char id[MAX_ID + 1];
            memcpy(id, m->key, m->key_len);
            id[m->key_len] = '\0';
            deliver(h, id, m->payload, m->len);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* Broker reachability and whether both consumers read every partition, for
 * /readyz and /v1/score: checked here, every 100 ms until ready and every
 * second after, so that a request never waits on it. */
static void *probe_broker(void *arg)
{
    rv_http *h = arg;
    while (!atomic_load(&h->stop)) {
        if (!atomic_load(&h->replies_ready)) {
            rd_kafka_topic_partition_list_t *parts = NULL;
            int ready = rd_kafka_assignment(h->replies, &parts) == 0 && parts && parts->cnt > 0;
            for (int i = 0; ready && i < parts->cnt; i++) {
                int64_t lo, hi;
                ready = !rd_kafka_get_watermark_offsets(h->replies, parts->elems[i].topic,
                                                        parts->elems[i].partition, &lo, &hi) &&
                        hi >= 0;
            }
            if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
            atomic_store(&h->replies_ready, ready);
        }
        atomic_store(&h->input_ready, h->src.consumer_lag(h->src.ctx) >= 0);
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(h->replies, 0, NULL, &md, 1000);
        atomic_store(&h->broker_ok, e == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->broker_cnt > 0);
        if (md)
            rd_kafka_metadata_destroy(md);
        for (int i = 0; i < (atomic_load(&h->replies_ready) && atomic_load(&h->input_ready) ? 10 : 1) && !atomic_load(&h->stop); i++) {
            rv_sleep_ms(100);
        }
    }
    return NULL;
}

/* ---- responses ---- */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type,
                               const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_json_error(struct MHD_Connection *c, unsigned status,
                                          const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* the reason is ours: escape quotes and control characters */
    char body[2300];
    size_t o = 0;
    o += (size_t)snprintf(body + o, sizeof body - o, "{\"error\":\"");
    for (const char *p = msg; *p && o < sizeof body - 8; p++) {
        if (*p == '"' || *p == '\\')
            body[o++] = '\\';
        body[o++] = (*p >= 0x20) ? *p : ' ';
    }
    o += (size_t)snprintf(body + o, sizeof body - o, "\"}\n");
    return respond(c, status, "application/json", body, o);
}

/* ---- readiness ---- */

/* Ready when the broker answers and every scheduled model is live. On
 * not-ready, why says which. */
static int readiness(rv_http *h, const rv_generation *g, char *why, size_t size)
{
    if (!atomic_load(&h->broker_ok)) {
        snprintf(why, size, "broker not reachable");
        return 0;
    }
    if (!g) {
        snprintf(why, size, "no generation serving");
        return 0;
    }
    if (!atomic_load(&h->input_ready)) {
        snprintf(why, size, "the requests consumer is not reading every partition yet");
        return 0;
    }
    if (!atomic_load(&h->replies_ready)) {
        snprintf(why, size, "the gateway is not reading every reply partition yet");
        return 0;
    }
    for (size_t i = 0; i < g->n_schedule; i++) {
        const rv_model *m = g->models[g->schedule[i]];
        int st = atomic_load(&m->state);
        if (st != RV_MODEL_LIVE) {
            snprintf(why, size, "scheduled model %s is %s", m->name, rv_model_state_name(st));
            return 0;
        }
    }
    snprintf(why, size, "ready");
    return 1;
}

/* ---- handlers ---- */

static enum MHD_Result get_readyz(rv_http *h, struct MHD_Connection *c)
{
    rv_generation *g = h->src.current(h->src.ctx);
    char why[256], last[512];
    int ok = readiness(h, g, why, sizeof why);
    h->src.last_reload_error(h->src.ctx, last, sizeof last);
    rv_text t = {0};
    rv_text_printf(&t, "%s: %s\n", ok ? "ready" : "not ready", why);
    for (size_t i = 0; g && i < g->n_models; i++)
        rv_text_printf(&t, "model %s version %s: %s\n", g->models[i]->name, g->models[i]->version,
                rv_model_state_name(atomic_load(&g->models[i]->state)));
    if (*last)
        rv_text_printf(&t, "last reload failed (the models above keep serving): %s\n", last);
    if (g)
        rv_generation_unref(g);
    enum MHD_Result r = respond(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                                "text/plain; charset=utf-8", rv_text_str(&t), t.len);
    rv_text_free(&t);
    return r;
}

static enum MHD_Result get_models(rv_http *h, struct MHD_Connection *c)
{
    rv_generation *g = h->src.current(h->src.ctx);
    if (!g)
        return respond_json_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no generation serving");
    char last[512];
    h->src.last_reload_error(h->src.ctx, last, sizeof last);
    yajl_gen j = rv_json_gen_new();
    yajl_gen_config(j, yajl_gen_beautify, 1);
    yajl_gen_map_open(j);
    rv_json_string(j, "generation");
    yajl_gen_integer(j, (long long)g->id);
    rv_json_string(j, "schedule_version");
    yajl_gen_integer(j, (long long)g->schedule_version);
    rv_json_string(j, "schedule");
    yajl_gen_array_open(j);
    for (size_t i = 0; i < g->n_schedule; i++) {
        yajl_gen_map_open(j);
        rv_json_string(j, "model");
        rv_json_string(j, g->models[g->schedule[i]]->name);
        rv_json_string(j, "within_ms");
        yajl_gen_integer(j, g->within_ms[i]);
        yajl_gen_map_close(j);
    }
    yajl_gen_array_close(j);
    rv_json_string(j, "models");
    yajl_gen_array_open(j);
    for (size_t i = 0; i < g->n_models; i++) {
        const rv_model *m = g->models[i];
        yajl_gen_map_open(j);
        rv_json_string(j, "name");
        rv_json_string(j, m->name);
        rv_json_string(j, "version");
        rv_json_string(j, m->version);
        rv_json_string(j, "plugin");
        rv_json_string(j, m->module->desc->name);
        rv_json_string(j, "state");
        rv_json_string(j, rv_model_state_name(atomic_load(&m->state)));
        rv_json_string(j, "role");
        int scheduled = 0;
        for (size_t k = 0; k < g->n_schedule; k++)
            scheduled |= g->schedule[k] == i;
        rv_json_string(j, m->is_canary  ? "canary"
                          : m->is_decoy ? "decoy"
                          : scheduled   ? "scheduled"
                                        : "shadow");
        rv_json_string(j, "instances");
        yajl_gen_integer(j, m->n_instances);
        rv_json_string(j, "queue_depth");
        yajl_gen_integer(j, m->workers ? (long long)rv_workers_queued(m->workers) : 0);
        rv_json_string(j, "labels");
        yajl_gen_array_open(j);
        for (uint32_t l = 0; l < m->n_labels; l++)
            rv_json_string(j, m->labels[l]);
        yajl_gen_array_close(j);
        char last_error[sizeof m->last_error];
        rv_model_last_error((rv_model *)m, last_error, sizeof last_error);
        if (last_error[0])
            rv_json_bytes_field(j, "last_error", last_error, strlen(last_error));
        else {
            rv_json_string(j, "last_error");
            yajl_gen_null(j);
        }
        yajl_gen_map_close(j);
    }
    yajl_gen_array_close(j);
    if (*last)
        rv_json_bytes_field(j, "last_reload_error", last, strlen(last));
    else {
        rv_json_string(j, "last_reload_error");
        yajl_gen_null(j);
    }
    yajl_gen_map_close(j);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(j, &buf, &len);
    enum MHD_Result r = respond(c, MHD_HTTP_OK, "application/json", (const char *)buf, len);
    yajl_gen_free(j);
    rv_generation_unref(g);
    return r;
}

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
static void label_value(char *out, size_t size, const char *v)
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

static enum MHD_Result get_metrics(rv_http *h, struct MHD_Connection *c)
{
    rv_stats *s = h->src.stats;
    rv_text t = {0};
    int n = atomic_load(&s->n_models);

    rv_text_printf(&t, "# HELP rendezvous_requests_total Requests read from the requests stream.\n"
                "# TYPE rendezvous_requests_total counter\n"
                "rendezvous_requests_total %llu\n",
            (unsigned long long)s->requests);
    rv_text_printf(&t, "# HELP rendezvous_dead_letters_total Requests refused to dead-letter.\n"
                "# TYPE rendezvous_dead_letters_total counter\n"
                "rendezvous_dead_letters_total %llu\n",
            (unsigned long long)s->dead_letters);
    rv_text_printf(&t, "# HELP rendezvous_model_requests_total Answers per model by status.\n"
                "# TYPE rendezvous_model_requests_total counter\n");
    for (int i = 0; i < n; i++) {
        char m[300];
        label_value(m, sizeof m, s->models[i].name);
        for (int st = RV_SLOT_OK; st < RV_SLOT_STATUS_COUNT; st++)
            rv_text_printf(&t, "rendezvous_model_requests_total{model=\"%s\",status=\"%s\"} %llu\n", m,
                    rv_slot_status_name(st), (unsigned long long)s->models[i].by_status[st]);
    }
    rv_text_printf(&t, "# HELP rendezvous_model_shed_total Requests a model shed (queue full).\n"
                "# TYPE rendezvous_model_shed_total counter\n");
    for (int i = 0; i < n; i++) {
        char m[300];
        label_value(m, sizeof m, s->models[i].name);
        rv_text_printf(&t, "rendezvous_model_shed_total{model=\"%s\"} %llu\n", m,
                (unsigned long long)s->models[i].by_status[RV_SLOT_SHED]);
    }
    rv_text_printf(&t, "# HELP rendezvous_model_latency_seconds From reading the request to the "
                "model's answer.\n# TYPE rendezvous_model_latency_seconds histogram\n");
    for (int i = 0; i < n; i++) {
        char m[300], lab[320];
        label_value(m, sizeof m, s->models[i].name);
        snprintf(lab, sizeof lab, "model=\"%s\"", m);
        histogram(&t, "rendezvous_model_latency_seconds", lab, &s->models[i].latency);
    }
    rv_generation *g = h->src.current(h->src.ctx);
    rv_text_printf(&t, "# HELP rendezvous_model_queue_depth Requests queued for a serving model.\n"
                "# TYPE rendezvous_model_queue_depth gauge\n");
    for (size_t i = 0; g && i < g->n_models; i++) {
        char m[300];
        label_value(m, sizeof m, g->models[i]->name);
        rv_text_printf(&t, "rendezvous_model_queue_depth{model=\"%s\"} %zu\n", m,
                g->models[i]->workers ? rv_workers_queued(g->models[i]->workers) : 0);
    }
    rv_text_printf(&t, "# HELP rendezvous_schedule_version The serving schedule's version.\n"
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
        label_value(m, sizeof m, s->models[i].name);
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
            double v = k == 0 ? gauges[i].agreement : k == 1 ? gauges[i].score_shift
                                                           : gauges[i].drift;
            char m[300];
            label_value(m, sizeof m, gauges[i].model);
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
        label_value(m, sizeof m, gauges[i].model);
        rv_text_printf(&t, "rendezvous_canary_alerting{model=\"%s\"} %d\n", m, gauges[i].alerting);
    }
    rv_text_printf(&t, "# HELP rendezvous_reloads_total Generation reloads, by outcome.\n"
                "# TYPE rendezvous_reloads_total counter\n"
                "rendezvous_reloads_total{outcome=\"ok\"} %llu\n"
                "rendezvous_reloads_total{outcome=\"failed\"} %llu\n",
            (unsigned long long)s->reloads_ok, (unsigned long long)s->reloads_failed);
    rv_text_printf(&t, "# HELP rendezvous_schedule_changes_total Schedule changes by control record.\n"
                "# TYPE rendezvous_schedule_changes_total counter\n"
                "rendezvous_schedule_changes_total %llu\n",
            (unsigned long long)s->schedule_changes);
    int64_t lag = h->src.consumer_lag(h->src.ctx);
    rv_text_printf(&t, "# HELP rendezvous_consumer_lag Requests in the stream not yet read "
                "(assigned partitions).\n# TYPE rendezvous_consumer_lag gauge\n"
                "rendezvous_consumer_lag %lld\n",
            (long long)(lag < 0 ? 0 : lag));
    rv_text_printf(&t, "# HELP rendezvous_up 1 while the broker answers.\n"
                "# TYPE rendezvous_up gauge\nrendezvous_up %d\n",
            atomic_load(&h->broker_ok));
    enum MHD_Result r = respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4",
                                rv_text_str(&t), t.len);
    rv_text_free(&t);
    return r;
}

/* ---- POST /v1/score ---- */

typedef struct upload {
    char *body;
    size_t len, cap;
    int too_large;
} upload;

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > MAX_ID)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
            return 0;
    return 1;
}

static enum MHD_Result post_score(rv_http *h, struct MHD_Connection *c, upload *u)
{
    if (u->too_large)
        return respond_json_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
                                  "body over input.max_body_bytes (%u)", h->max_body);
    rv_generation *g = h->src.current(h->src.ctx);
    char why[256];
    if (!readiness(h, g, why, sizeof why)) {
        if (g)
            rv_generation_unref(g);
        return respond_json_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: %s", why);
    }
    /* the same check the input applies, so a bad body is a 400 here and
     * not a dead letter */
    double *features = calloc(g->cfg->input.n_features + 1, sizeof *features);
    char reason[512];
    int bad = !features || rv_features_parse(g->features, (const uint8_t *)(u->body ? u->body : ""),
                                             u->len, features, reason, sizeof reason) != 0;
    free(features);
    uint32_t last_ms = g->n_schedule ? g->within_ms[g->n_schedule - 1] : 0;
    rv_generation_unref(g);
    if (bad)
        return respond_json_error(c, MHD_HTTP_BAD_REQUEST, "%s", reason);

    waiter *w = calloc(1, sizeof *w);
    if (!w)
        return respond_json_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    const char *given = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (given && !valid_id(given)) {
        free(w);
        return respond_json_error(c, MHD_HTTP_BAD_REQUEST,
                                  "X-Request-Id must be 1-256 printable ASCII characters");
    }
    if (given)
        snprintf(w->id, sizeof w->id, "%s", given);
    else
        snprintf(w->id, sizeof w->id, "gw-%ld-%llu", (long)getpid(),
                 (unsigned long long)atomic_fetch_add(&h->next_id, 1));
    pthread_mutex_lock(&h->lock);
    w->next = h->waiters;
    h->waiters = w;
    pthread_mutex_unlock(&h->lock);

    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(2);
    rd_kafka_header_add(hdrs, "rv-id", -1, w->id, -1);
    rd_kafka_header_add(hdrs, "rv-reply-to", -1, h->reply_topic, -1);
    int sent = rv_output_send(h->src.output, RV_STREAM_RESULTS, h->requests_topic,
                              RD_KAFKA_PARTITION_UA, w->id, strlen(w->id), u->body, u->len,
                              hdrs, NULL);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ns = until.tv_nsec + (int64_t)(last_ms + DEADLINE_MARGIN_MS) * 1000000;
    until.tv_sec += ns / 1000000000;
    until.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&h->lock);
    while (sent == 0 && !w->result && !atomic_load(&h->stop))
        if (pthread_cond_timedwait(&h->cond, &h->lock, &until) == ETIMEDOUT)
            break;
    for (waiter **pp = &h->waiters; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    pthread_mutex_unlock(&h->lock);

    enum MHD_Result r;
    if (sent != 0)
        r = respond_json_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot produce the request");
    else if (!w->result)
        r = respond_json_error(c, MHD_HTTP_GATEWAY_TIMEOUT,
                               "no result for %s within %u ms (last deadline %u ms + %d ms)",
                               w->id, last_ms + DEADLINE_MARGIN_MS, last_ms, DEADLINE_MARGIN_MS);
    else {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            w->result_len, w->result, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "X-Request-Id", w->id);
        r = MHD_queue_response(c, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
    }
    free(w->result);
    free(w);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    rv_http *h = cls;
    int is_post = strcmp(method, "POST") == 0;
    if (is_post && strcmp(url, "/v1/score") == 0) {
        upload *u = *con_cls;
        if (!u) {
            if (!(u = calloc(1, sizeof *u)))
                return MHD_NO;
            *con_cls = u;
            return MHD_YES;
        }
        if (*upload_size) {
            if (u->len + *upload_size > h->max_body)
                u->too_large = 1; /* keep reading, answer 413 at the end */
            else {
                if (u->len + *upload_size > u->cap) {
                    size_t ncap = (u->len + *upload_size) * 2;
                    char *nb = realloc(u->body, ncap);
                    if (!nb)
                        return MHD_NO;
                    u->body = nb;
                    u->cap = ncap;
                }
                memcpy(u->body + u->len, upload_data, *upload_size);
                u->len += *upload_size;
            }
            *upload_size = 0;
            return MHD_YES;
        }
        return post_score(h, c, u);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond_json_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s %s: method not allowed",
                                  method, url);
    if (strcmp(url, "/healthz") == 0)
        return respond(c, MHD_HTTP_OK, "text/plain", "alive\n", 6);
    if (strcmp(url, "/readyz") == 0)
        return get_readyz(h, c);
    if (strcmp(url, "/v1/models") == 0)
        return get_models(h, c);
    if (strcmp(url, "/metrics") == 0)
        return get_metrics(h, c);
    return respond_json_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint: %s", url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    upload *u = *con_cls;
    if (u) {
        free(u->body);
        free(u);
        *con_cls = NULL;
    }
}

void rv_http_reply_topic(const rv_config *cfg, char *out, size_t size)
{
    snprintf(out, size, "%s.gateway-replies", cfg->service);
}

rv_http *rv_http_start(const rv_config *cfg, const char *bootstrap, const char *reply_topic,
                       const rv_http_sources *src, char *err, size_t err_size)
{
    struct sockaddr_storage sa;
    socklen_t sa_len;
    char why[RV_ERR_SIZE];
    if (rv_hostport_parse(cfg->http.listen, &sa, &sa_len, why, sizeof why) != 0) {
        rv_errf(err, err_size, "http.listen: %s", why);
        return NULL;
    }
    rv_http *h = calloc(1, sizeof *h);
    if (!h) {
        rv_errf(err, err_size, "out of memory");
        return NULL;
    }
    h->src = *src;
    h->cfg = cfg;
    h->max_body = cfg->input.max_body_bytes;
    h->reply_topic = strdup(reply_topic);
    h->requests_topic = strdup(cfg->streams.requests);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);

    char e[512], group[300];
    rd_kafka_conf_t *conf = rv_kafka_conf(cfg, bootstrap, 0, e, sizeof e);
    snprintf(group, sizeof group, "%s-gateway-%ld", cfg->service, (long)getpid());
    if (!conf || rd_kafka_conf_set(conf, "group.id", group, e, sizeof e) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof e) ||

        !(h->replies = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e))) {
        rv_errf(err, err_size, "gateway reply consumer: %s", e);
        if (conf)
            rd_kafka_conf_destroy(conf);
        free(h->reply_topic);
        free(h->requests_topic);
        free(h);
        return NULL;
    }
    /* every partition of the reply topic, from its end, no group */
    if (rv_assign_from_end(h->replies, reply_topic, 10000, e, sizeof e) < 0) {
        rv_errf(err, err_size, "gateway replies: %s", e);
        rd_kafka_destroy(h->replies);
        free(h->reply_topic);
        free(h->requests_topic);
        free(h);
        return NULL;
    }
    rv_output_prepare_topic(src->output, reply_topic);
    rv_output_prepare_topic(src->output, cfg->streams.requests);
    atomic_store(&h->broker_ok, 1);
    pthread_create(&h->reader, NULL, read_replies, h);
    pthread_create(&h->prober, NULL, probe_broker, h);

    h->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                  MHD_USE_ERROR_LOG | (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                              0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &sa,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!h->mhd) {
        rv_errf(err, err_size, "cannot listen on %s: %s", cfg->http.listen, strerror(errno));
        rv_http_stop(h);
        return NULL;
    }
    rv_info("http", "listening on http://%s (POST /v1/score, GET /healthz /readyz /v1/models "
            "/metrics); replies on %s", cfg->http.listen, reply_topic);
    return h;
}

void rv_http_stop(rv_http *h)
{
    if (!h)
        return;
    atomic_store(&h->stop, 1);
    pthread_mutex_lock(&h->lock);
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    pthread_join(h->reader, NULL);
    pthread_join(h->prober, NULL);
    rd_kafka_consumer_close(h->replies);
    rd_kafka_destroy(h->replies);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    free(h->reply_topic);
    free(h->requests_topic);
    free(h);
}
