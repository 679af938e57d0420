/*
 * output.c - the producer and its delivery reports. A poll thread serves
 * delivery reports; producing never blocks for long: a full local queue
 * waits for deliveries, never drops.
 */
#include "output.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "log.h"

struct rv_output {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topics[RV_STREAM_COUNT];
    pthread_t poller;
    atomic_int stop;
    atomic_uint_fast64_t failures;
    rv_delivered_fn delivered;
    pthread_mutex_t prepared_lock;
    rd_kafka_topic_t *prepared[8]; /* topics looked up ahead, by name */
    int n_prepared;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    rv_output *o = opaque;
    if (msg->err) {
        atomic_fetch_add(&o->failures, 1);
        rv_error("output", "delivery to %s failed: %s (the request stays uncommitted)",
                 rd_kafka_topic_name(msg->rkt), rd_kafka_err2str(msg->err));
        /* The request is not released: its offset is never committed, so
         * it is read and scored again after a restart. */
        return;
    }
    if (msg->_private && o->delivered)
        o->delivered(msg->_private);
}

static void *poll_loop(void *arg)
{
    rv_output *o = arg;
    while (!atomic_load(&o->stop))
        rd_kafka_poll(o->rk, 50);
    return NULL;
}

rv_output *rv_output_new(rd_kafka_conf_t *conf, const rv_config *cfg, rv_delivered_fn delivered,
                         char *err, size_t err_size)
{
    rv_output *o = calloc(1, sizeof *o);
    if (!o) {
        rd_kafka_conf_destroy(conf);
        rv_errf(err, err_size, "out of memory");
        return NULL;
    }
    o->delivered = delivered;
    char e[RV_ERR_SIZE];
    if (rd_kafka_conf_set(conf, "enable.idempotence", "true", e, sizeof e) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "acks", "all", e, sizeof e) != RD_KAFKA_CONF_OK) {
        rv_errf(err, err_size, "producer config: %s", e);
        rd_kafka_conf_destroy(conf);
        free(o);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, o);
    o->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!o->rk) {
        rv_errf(err, err_size, "cannot create producer: %s", e);
        rd_kafka_conf_destroy(conf);
        free(o);
        return NULL;
    }
    const char *names[RV_STREAM_COUNT] = {cfg->streams.scores, cfg->streams.results,
                                          cfg->streams.archive, cfg->streams.alerts,
                                          cfg->streams.dead_letter};
    for (int i = 0; i < RV_STREAM_COUNT; i++)
        o->topics[i] = rd_kafka_topic_new(o->rk, names[i], NULL);
    pthread_mutex_init(&o->prepared_lock, NULL);
    pthread_create(&o->poller, NULL, poll_loop, o);
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
    pthread_join(o->poller, NULL);
    for (int i = 0; i < RV_STREAM_COUNT; i++)
        rd_kafka_topic_destroy(o->topics[i]);
    for (int i = 0; i < o->n_prepared; i++)
        rd_kafka_topic_destroy(o->prepared[i]);
    pthread_mutex_destroy(&o->prepared_lock);
    rd_kafka_destroy(o->rk);
    free(o);
}

int rv_output_send(rv_output *o, rv_stream stream, const char *topic_name, int32_t partition,
                   const void *key, size_t key_len, const void *value, size_t value_len,
                   rd_kafka_headers_t *headers, void *msg_opaque)
{
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
        rv_error("output", "produce to %s failed: %s", rd_kafka_topic_name(rkt),
                 rd_kafka_err2str(e));
        if (topic_name)
            rd_kafka_topic_destroy(rkt);
        if (headers)
            rd_kafka_headers_destroy(headers);
        atomic_fetch_add(&o->failures, 1);
        /* msg_opaque is not handed back: what it holds stays held */
        return -1;
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
