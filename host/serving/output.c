/*
 * output.c - the producer and its delivery reports. A poll thread serves
 * delivery reports; producing never blocks for long: a full local queue
 * waits for deliveries, never drops. A record the broker refused for a
 * reason that can pass (an ACL, a topic gone or without enough replicas, a
 * timeout) is produced again by the poll thread, a while later (100 ms,
 * doubling to 5 s while its topic keeps failing), so a fixed ACL lets the
 * host go on where it stopped; meanwhile the topic and the reason are in
 * the log (once, then every 10 s) and in rv_output_health (/readyz).
 */
#include "output_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"

/* Errors after which producing the record again cannot help: its own
 * faults, and the producer going away. */
static int retriable(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE: /* the producer is going away */
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__FATAL: return 0;
    default: return 1;
    }
}

static failing *find_failing(rv_output *o, const char *topic)
{
    for (int i = 0; i < atomic_load(&o->n_failing); i++)
        if (strcmp(o->failing[i].topic, topic) == 0)
            return &o->failing[i];
    return NULL;
}

/* A delivery to topic failed (retry_lock held): the topic is failing, its
 * retry delay doubles; the first failure and then one every 10 s logged. */
int rv_output_note_failure(rv_output *o, const char *topic, rd_kafka_resp_err_t e, const char *then)
{
    int64_t now = rv_mono_ms();
    failing *f = find_failing(o, topic);
    if (!f) {
        int n = atomic_load(&o->n_failing);
        if (n < MAX_FAILING)
            atomic_store(&o->n_failing, ++n);
        f = &o->failing[n - 1];
        *f = (failing){.since_ms = now, .delay_ms = RETRY_FIRST_MS};
        snprintf(f->topic, sizeof f->topic, "%s", topic);
    } else if (f->delay_ms < RETRY_MAX_MS)
        f->delay_ms = f->delay_ms * 2 < RETRY_MAX_MS ? f->delay_ms * 2 : RETRY_MAX_MS;
    snprintf(f->reason, sizeof f->reason, "%s", rd_kafka_err2str(e));
    f->records++;
    if (f->logged_ms == 0 || now - f->logged_ms >= FAILING_LOG_MS) {
        f->logged_ms = now;
        rv_error("output", "delivery to %s failing: %s (%llu record(s) refused in %lld s; %s)",
                 topic, f->reason, (unsigned long long)f->records,
                 (long long)(now - f->since_ms) / 1000, then);
    }
    return f->delay_ms;
}

/* A delivery to topic succeeded (retry_lock held): it is no longer failing. */
void rv_output_note_success(rv_output *o, const char *topic)
{
    failing *f = find_failing(o, topic);
    if (!f)
        return;
    rv_info("output", "delivery to %s works again after %lld s (%llu record(s) were refused)",
            topic, (long long)(rv_mono_ms() - f->since_ms) / 1000, (unsigned long long)f->records);
    int n = atomic_load(&o->n_failing) - 1;
    *f = o->failing[n];
    atomic_store(&o->n_failing, n);
}

/* Keeps a copy of a refused record to produce again in delay_ms
 * (retry_lock held). headers (may be NULL) are taken over. */
static void keep_for_retry(rv_output *o, rd_kafka_topic_t *rkt, int32_t partition, const void *key,
                           size_t key_len, const void *value, size_t value_len,
                           rd_kafka_headers_t *headers, void *opaque, int delay_ms)
{
    retry *r = calloc(1, sizeof *r);
    if (!r || (key_len && !(r->key = malloc(key_len))) ||
        (value_len && !(r->value = malloc(value_len)))) {
        if (r)
            free(r->key);
        free(r);
        if (headers)
            rd_kafka_headers_destroy(headers);
        rv_error("output",
                 "out of memory: a refused record to %s is not produced again (its "
                 "request stays uncommitted)",
                 rd_kafka_topic_name(rkt));
        return;
    }
    if (key_len)
        memcpy(r->key, key, key_len);
    if (value_len)
        memcpy(r->value, value, value_len);
    r->key_len = key_len;
    r->value_len = value_len;
    r->headers = headers;
    r->rkt = rd_kafka_topic_new(o->rk, rd_kafka_topic_name(rkt), NULL);
    r->partition = partition;
    r->opaque = opaque;
    r->due_ms = rv_mono_ms() + delay_ms;
    r->next = o->retries;
    o->retries = r;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    rv_output *o = opaque;
    rv_output_tell_watch(o, msg);
    if (!msg->err && !atomic_load(&o->n_failing)) {
        if (msg->_private && o->delivered)
            o->delivered(msg->_private);
        return;
    }
    const char *topic = rd_kafka_topic_name(msg->rkt);
    pthread_mutex_lock(&o->retry_lock);
    if (msg->err) {
        atomic_fetch_add(&o->failures, 1);
        int again = retriable(msg->err) && !atomic_load(&o->stop);
        int delay_ms = rv_output_note_failure(o, topic, msg->err, again ? AGAIN : OWN_FAULT);
        /* Produced again later; or, the fault being the record's own, its
         * request is never released: its offset is not committed, so it is
         * read and scored again after a restart. */
        rd_kafka_headers_t *h = NULL;
        if (again && rd_kafka_message_headers(msg, &h) == RD_KAFKA_RESP_ERR_NO_ERROR)
            h = rd_kafka_headers_copy(h);
        if (again)
            keep_for_retry(o, msg->rkt, msg->partition, msg->key, msg->key_len, msg->payload,
                           msg->len, h, msg->_private, delay_ms);
        pthread_mutex_unlock(&o->retry_lock);
        return;
    }
    rv_output_note_success(o, topic);
    pthread_mutex_unlock(&o->retry_lock);
    if (msg->_private && o->delivered)
        o->delivered(msg->_private);
}

void rv_output_tell_watch(rv_output *o, const rd_kafka_message_t *msg)
{
    rv_delivery_watch_fn watch = msg->err ? NULL : atomic_load(&o->watch);
    if (watch)
        watch(atomic_load(&o->watch_ctx), rd_kafka_topic_name(msg->rkt), msg->partition,
              msg->offset);
}

void rv_output_watch(rv_output *o, rv_delivery_watch_fn fn, void *ctx)
{
    atomic_store(&o->watch, NULL);
    atomic_store(&o->watch_ctx, ctx);
    atomic_store(&o->watch, fn);
}

static void free_retry(retry *r)
{
    rd_kafka_topic_destroy(r->rkt);
    if (r->headers)
        rd_kafka_headers_destroy(r->headers);
    free(r->key);
    free(r->value);
    free(r);
}

/* Produces again every kept record whose time has come. One the producer
 * refuses at once (it marked the topic failed: librdkafka does so on an
 * authorization error until it reads the topic's metadata again) waits for
 * its topic's next turn, and the topic's metadata is asked for. */
static void produce_retries(rv_output *o)
{
    int64_t now = rv_mono_ms();
    struct {
        rd_kafka_topic_t *rkt; /* a reference of its own */
        int delay_ms;
    } stale[MAX_FAILING];
    int n_stale = 0;
    pthread_mutex_lock(&o->retry_lock);
    for (retry **p = &o->retries; *p;) {
        retry *r = *p;
        const char *topic = rd_kafka_topic_name(r->rkt);
        int s = 0;
        while (s < n_stale && strcmp(rd_kafka_topic_name(stale[s].rkt), topic) != 0)
            s++;
        if (r->due_ms > now || s < n_stale) { /* not yet, or its topic refused this round */
            if (r->due_ms <= now)
                r->due_ms = now + stale[s].delay_ms;
            p = &r->next;
            continue;
        }
        rd_kafka_resp_err_t e = rd_kafka_producev(
            o->rk, RD_KAFKA_V_RKT(r->rkt), RD_KAFKA_V_PARTITION(r->partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(r->key, r->key_len),
            RD_KAFKA_V_VALUE(r->value, r->value_len), RD_KAFKA_V_HEADERS(r->headers),
            RD_KAFKA_V_OPAQUE(r->opaque), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            r->headers = NULL; /* the producer owns them now */
            *p = r->next;
            free_retry(r);
            continue;
        }
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            r->due_ms = now + RETRY_FIRST_MS;
        } else {
            r->due_ms = now + rv_output_note_failure(o, topic, e, AGAIN);
            if (n_stale < MAX_FAILING) {
                stale[n_stale].rkt = rd_kafka_topic_new(o->rk, topic, NULL);
                stale[n_stale++].delay_ms = (int)(r->due_ms - now);
            }
        }
        p = &r->next;
    }
    pthread_mutex_unlock(&o->retry_lock);
    for (int i = 0; i < n_stale; i++) {
        const rd_kafka_metadata_t *md = NULL;
        if (rd_kafka_metadata(o->rk, 0, stale[i].rkt, &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(stale[i].rkt);
    }
}

static void *poll_loop(void *arg)
{
    rv_output *o = arg;
    while (!atomic_load(&o->stop)) {
        rd_kafka_poll(o->rk, o->txn ? 25 : 50);
        if (o->txn)
            rd_kafka_poll(o->txn, 25);
        produce_retries(o);
    }
    return NULL;
}

rv_output *rv_output_new(rd_kafka_conf_t *conf, const rv_config *cfg, rv_delivered_fn delivered,
                         rv_stopping_fn stopping, char *err, size_t err_size)
{
    rv_output *o = calloc(1, sizeof *o);
    if (!o) {
        rd_kafka_conf_destroy(conf);
        rv_errf(err, err_size, "out of memory");
        return NULL;
    }
    o->delivered = delivered;
    o->stopping = stopping;
    char e[RV_ERR_SIZE];
    if (rd_kafka_conf_set(conf, "enable.idempotence", "true", e, sizeof e) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "acks", "all", e, sizeof e) != RD_KAFKA_CONF_OK) {
        rv_errf(err, err_size, "producer config: %s", e);
        rd_kafka_conf_destroy(conf);
        free(o);
        return NULL;
    }
    if (cfg->delivery.mode && strcmp(cfg->delivery.mode, "exactly_once") == 0) {
        o->txn_conf = rd_kafka_conf_dup(conf);
        char host[256] = "host";
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "host");
        host[sizeof host - 1] = '\0';
        if (cfg->delivery.transactional_id)
            snprintf(o->txn_id, sizeof o->txn_id, "%s", cfg->delivery.transactional_id);
        else
            snprintf(o->txn_id, sizeof o->txn_id, "%s.%s", cfg->streams.group, host);
        o->txn_timeout_ms = (int)cfg->delivery.transaction_timeout_ms;
        char timeout[16];
        snprintf(timeout, sizeof timeout, "%u", cfg->delivery.transaction_timeout_ms);
        if (rd_kafka_conf_set(o->txn_conf, "transactional.id", o->txn_id, e, sizeof e) ||
            rd_kafka_conf_set(o->txn_conf, "transaction.timeout.ms", timeout, e, sizeof e)) {
            rv_errf(err, err_size, "transactional producer config: %s", e);
            rd_kafka_conf_destroy(o->txn_conf);
            rd_kafka_conf_destroy(conf);
            free(o);
            return NULL;
        }
        rd_kafka_conf_set_dr_msg_cb(o->txn_conf, rv_output_on_txn_delivery);
        rd_kafka_conf_set_opaque(o->txn_conf, o);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, o);
    o->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!o->rk) {
        rv_errf(err, err_size, "cannot create producer: %s", e);
        rd_kafka_conf_destroy(conf);
        if (o->txn_conf)
            rd_kafka_conf_destroy(o->txn_conf);
        free(o);
        return NULL;
    }
    const char *names[RV_STREAM_COUNT] = {cfg->streams.scores, cfg->streams.results,
                                          cfg->streams.archive, cfg->streams.alerts,
                                          cfg->streams.dead_letter};
    for (int i = 0; i < RV_STREAM_COUNT; i++)
        o->topics[i] = rd_kafka_topic_new(o->rk, names[i], NULL);
    pthread_mutex_init(&o->prepared_lock, NULL);
    pthread_mutex_init(&o->retry_lock, NULL);
    if ((cfg->site.name && !(o->site = strdup(cfg->site.name))) ||
        (cfg->site.taken_over_from && !(o->taken_over_from = strdup(cfg->site.taken_over_from)))) {
        rv_errf(err, err_size, "out of memory");
        rv_output_free(o, 0);
        return NULL;
    }
    if (o->txn_conf && rv_output_txn_start(o, err, err_size) != 0) {
        rv_output_free(o, 0);
        return NULL;
    }
    pthread_create(&o->poller, NULL, poll_loop, o);
    o->has_poller = 1;
    return o;
}

void rv_output_free(rv_output *o, int timeout_ms)
{
    if (!o)
        return;
    rd_kafka_resp_err_t ferr = rd_kafka_flush(o->rk, timeout_ms);
    if (ferr)
        rv_error("output", "flush: %s, %d record(s) not delivered", rd_kafka_err2str(ferr),
                 rd_kafka_outq_len(o->rk));
    atomic_store(&o->stop, 1);
    if (o->has_poller)
        pthread_join(o->poller, NULL);
    rv_output_txn_stop(o);
    if (o->txn_conf)
        rd_kafka_conf_destroy(o->txn_conf);
    size_t kept = 0;
    for (retry *r = o->retries, *next; r; r = next, kept++) {
        next = r->next;
        free_retry(r);
    }
    if (kept)
        rv_error("output",
                 "%zu refused record(s) not produced again before the end (their "
                 "requests stay uncommitted: read again after a restart)",
                 kept);
    pthread_mutex_destroy(&o->retry_lock);
    for (int i = 0; i < RV_STREAM_COUNT; i++)
        rd_kafka_topic_destroy(o->topics[i]);
    for (int i = 0; i < o->n_prepared; i++)
        rd_kafka_topic_destroy(o->prepared[i]);
    pthread_mutex_destroy(&o->prepared_lock);
    rd_kafka_destroy(o->rk);
    free(o->site);
    free(o->taken_over_from);
    free(o);
}

rd_kafka_headers_t *rv_output_stamp(const rv_output *o, rd_kafka_headers_t *headers)
{
    if (!o->site)
        return headers;
    if (!headers && !(headers = rd_kafka_headers_new(2)))
        return NULL;
    rd_kafka_header_add(headers, "rv-site", -1, o->site, -1);
    if (o->taken_over_from)
        rd_kafka_header_add(headers, "rv-taken-over-from", -1, o->taken_over_from, -1);
    return headers;
}

int rv_output_send(rv_output *o, rv_stream stream, const char *topic_name, int32_t partition,
                   const void *key, size_t key_len, const void *value, size_t value_len,
                   rd_kafka_headers_t *headers, void *msg_opaque)
{
    headers = rv_output_stamp(o, headers);
    /* a named topic: librdkafka hands out another reference to its handle */
    rd_kafka_topic_t *rkt =
        topic_name ? rd_kafka_topic_new(o->rk, topic_name, NULL) : o->topics[stream];
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            o->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY((void *)key, key_len),
            RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_HEADERS(headers),
            RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (topic_name)
                rd_kafka_topic_destroy(rkt);
            return 0;
        }
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(o->rk, 10); /* backpressure: wait for deliveries */
            continue;
        }
        atomic_fetch_add(&o->failures, 1);
        int again = retriable(e) && !atomic_load(&o->stop);
        pthread_mutex_lock(&o->retry_lock);
        int delay_ms =
            rv_output_note_failure(o, rd_kafka_topic_name(rkt), e, again ? AGAIN : OWN_FAULT);
        if (again) /* as a refused delivery: produced again later */
            keep_for_retry(o, rkt, partition, key, key_len, value, value_len, headers, msg_opaque,
                           delay_ms);
        pthread_mutex_unlock(&o->retry_lock);
        if (topic_name)
            rd_kafka_topic_destroy(rkt);
        if (!again && headers)
            rd_kafka_headers_destroy(headers);
        /* not produced: msg_opaque is not handed back, what it holds stays held */
        return again ? 0 : -1;
    }
}

void rv_output_prepare_topic(rv_output *o, const char *name)
{
    pthread_mutex_lock(&o->prepared_lock);
    if (o->n_prepared < (int)(sizeof o->prepared / sizeof *o->prepared)) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(o->rk, name, NULL);
        if (t) {
            o->prepared[o->n_prepared++] = t;
            const rd_kafka_metadata_t *md = NULL;
            if (rd_kafka_metadata(o->rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
                rd_kafka_metadata_destroy(md);
        }
    }
    pthread_mutex_unlock(&o->prepared_lock);
}

int rv_output_stream_by_name(const char *name, rv_stream *out)
{
    static const char *const names[RV_STREAM_COUNT] = {"scores", "results", "archive", "alerts",
                                                       "dead-letter"};
    for (int i = 0; i < RV_STREAM_COUNT; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (rv_stream)i;
            return 0;
        }
    return -1;
}

const char *rv_output_topic(const rv_output *o, rv_stream s)
{
    return rd_kafka_topic_name(o->topics[s]);
}

rd_kafka_t *rv_output_handle(rv_output *o)
{
    return o->rk;
}

uint64_t rv_output_failures(const rv_output *o)
{
    return atomic_load(&o->failures);
}

int rv_output_health(rv_output *o, char *why, size_t size)
{
    pthread_mutex_lock(&o->retry_lock);
    int n = atomic_load(&o->n_failing);
    if (n) {
        const failing *f = &o->failing[0];
        snprintf(why, size, "delivery to %s failing for %lld s: %s (%llu record(s) refused%s)",
                 f->topic, (long long)(rv_mono_ms() - f->since_ms) / 1000, f->reason,
                 (unsigned long long)f->records, n > 1 ? "; other topics too" : "");
    }
    pthread_mutex_unlock(&o->retry_lock);
    return n ? -1 : 0;
}
