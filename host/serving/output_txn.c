/*
 * output_txn.c - exactly-once: the records a request causes, held until
 * its offset may commit, then produced by a transactional producer (a
 * second one: records caused by no request stay on the idempotent one)
 * into the open transaction, and the transaction's commit and abort.
 */
#include "output_internal.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"

/* A record of a transaction: no retry (a refused one makes the commit
 * fail, the transaction aborts and its requests are scored again). */
void rv_output_on_txn_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    rv_output *o = opaque;
    rv_output_tell_watch(o, msg);
    if (!msg->err && !atomic_load(&o->n_failing))
        return;
    const char *topic = rd_kafka_topic_name(msg->rkt);
    pthread_mutex_lock(&o->retry_lock);
    if (msg->err) {
        atomic_fetch_add(&o->failures, 1);
        rv_output_note_failure(o, topic, msg->err, IN_TXN);
    } else
        rv_output_note_success(o, topic);
    pthread_mutex_unlock(&o->retry_lock);
}

/* How long a host waits for its transaction coordinator before it gives
 * up: a coordinator still loading its partition of __transaction_state
 * (just created, or moved after a broker failed) answers "retry" for
 * seconds, more on a loaded cluster. */
#define TXN_INIT_PATIENCE_MS 120000

/* init_transactions, called again while it fails with a retriable error
 * (librdkafka: "retry call to resume") and the patience lasts, a second at
 * a time so that a stop signal ends the wait; said every 10 s. */
static rd_kafka_error_t *init_transactions(rv_output *o)
{
    int64_t give_up = rv_mono_ms() + TXN_INIT_PATIENCE_MS, said = rv_mono_ms();
    for (;;) {
        rd_kafka_error_t *error = rd_kafka_init_transactions(o->txn, 1000);
        int64_t now = rv_mono_ms();
        if (!error || !rd_kafka_error_is_retriable(error) || now >= give_up)
            return error;
        if (o->stopping && o->stopping()) {
            rd_kafka_error_destroy(error);
            return rd_kafka_error_new(RD_KAFKA_RESP_ERR__INTR,
                                      "stopped while waiting for the transaction coordinator");
        }
        if (now - said >= 10000) {
            rv_warn("output", "transactional id %s: %s; trying again (%lld s left)", o->txn_id,
                    rd_kafka_error_string(error), (long long)(give_up - now) / 1000);
            said = now;
        }
        rd_kafka_error_destroy(error);
    }
}

/* The transactional producer, made (again) from txn_conf: its id fences
 * an earlier producer of the same id (this host before a restart) and
 * aborts what that left open; then a transaction begins. 0 or -1. */
int rv_output_txn_start(rv_output *o, char *err, size_t err_size)
{
    char e[RV_ERR_SIZE];
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(o->txn_conf);
    if (!(o->txn = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e))) {
        rd_kafka_conf_destroy(conf);
        rv_errf(err, err_size, "cannot create the transactional producer: %s", e);
        return -1;
    }
    for (int i = 0; i < RV_STREAM_COUNT; i++)
        o->txn_topics[i] = rd_kafka_topic_new(o->txn, rd_kafka_topic_name(o->topics[i]), NULL);
    rd_kafka_error_t *error = init_transactions(o);
    if (!error)
        error = rd_kafka_begin_transaction(o->txn);
    if (error) {
        rv_errf(err, err_size, "transactional id %s: %s", o->txn_id, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return -1;
    }
    o->txn_open = 1;
    return 0;
}

/* Destroys the transactional producer, aborting what it holds open (not
 * left to the broker's timeout: read_committed readers would wait for it). */
void rv_output_txn_stop(rv_output *o)
{
    if (!o->txn)
        return;
    if (o->txn_open) {
        rd_kafka_error_t *error = rd_kafka_abort_transaction(o->txn, 5000);
        if (error)
            rd_kafka_error_destroy(error);
    }
    for (int i = 0; i < RV_STREAM_COUNT; i++)
        if (o->txn_topics[i])
            rd_kafka_topic_destroy(o->txn_topics[i]);
    memset(o->txn_topics, 0, sizeof o->txn_topics);
    rd_kafka_destroy(o->txn);
    o->txn = NULL;
    o->txn_open = 0;
}

int rv_output_transactional(const rv_output *o)
{
    return o->txn_conf != NULL;
}

int rv_output_hold(rv_held *_Atomic *list, rv_stream stream, const char *topic_name,
                   int32_t partition, const void *key, size_t key_len, const void *value,
                   size_t value_len, rd_kafka_headers_t *headers)
{
    rv_held *h = calloc(1, sizeof *h);
    if (!h || (topic_name && !(h->topic_name = strdup(topic_name))) ||
        (key_len && !(h->key = malloc(key_len))) ||
        (value_len && !(h->value = malloc(value_len)))) {
        if (headers)
            rd_kafka_headers_destroy(headers);
        rv_output_held_free(h);
        return -1;
    }
    h->stream = stream;
    h->partition = partition;
    if (key_len)
        memcpy(h->key, key, key_len);
    if (value_len)
        memcpy(h->value, value, value_len);
    h->key_len = key_len;
    h->value_len = value_len;
    h->headers = headers;
    h->next = atomic_load(list);
    while (!atomic_compare_exchange_weak(list, &h->next, h))
        ;
    return 0;
}

void rv_output_held_free(void *list)
{
    for (rv_held *h = list, *next; h; h = next) {
        next = h->next;
        if (h->headers)
            rd_kafka_headers_destroy(h->headers);
        free(h->topic_name);
        free(h->key);
        free(h->value);
        free(h);
    }
}

int rv_output_send_held(rv_output *o, void *list)
{
    /* held newest first: produced in the order they were made */
    rv_held *in_order = NULL;
    for (rv_held *h = list, *next; h; h = next) {
        next = h->next;
        h->next = in_order;
        in_order = h;
    }
    int rc = 0;
    for (rv_held *h = in_order; h && rc == 0; h = h->next) {
        rd_kafka_topic_t *rkt = h->topic_name ? rd_kafka_topic_new(o->txn, h->topic_name, NULL)
                                              : o->txn_topics[h->stream];
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(
                    o->txn, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(h->partition),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_KEY(h->key, h->key_len),
                    RD_KAFKA_V_VALUE(h->value, h->value_len), RD_KAFKA_V_HEADERS(h->headers),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(o->txn, 10); /* backpressure: wait for deliveries */
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            h->headers = NULL; /* the producer owns them now */
            h->value = NULL;   /* RD_KAFKA_MSG_F_FREE; the key was copied */
        } else {
            atomic_fetch_add(&o->failures, 1);
            pthread_mutex_lock(&o->retry_lock);
            rv_output_note_failure(o, rd_kafka_topic_name(rkt), e, IN_TXN);
            pthread_mutex_unlock(&o->retry_lock);
            rc = -1;
        }
        if (h->topic_name)
            rd_kafka_topic_destroy(rkt);
    }
    rv_output_held_free(in_order);
    return rc;
}

/* What an error of a transactional call means for the transaction. */
static rv_txn_outcome txn_error(rv_output *o, rd_kafka_error_t *error, const char *what, char *err,
                                size_t size)
{
    rv_errf(err, size, "%s: %s", what, rd_kafka_error_string(error));
    rv_txn_outcome out = rd_kafka_error_is_fatal(error)             ? RV_TXN_FATAL
                         : rd_kafka_error_txn_requires_abort(error) ? RV_TXN_ABORT
                                                                    : RV_TXN_RETRY;
    rd_kafka_error_destroy(error);
    if (out == RV_TXN_FATAL)
        o->txn_open = 0;
    return out;
}

rv_txn_outcome rv_output_commit(rv_output *o, const rd_kafka_topic_partition_list_t *offsets,
                                rd_kafka_t *consumer, char *err, size_t size)
{
    if (!o->txn || !o->txn_open) {
        rv_errf(err, size, "no transaction open");
        return RV_TXN_FATAL;
    }
    int timeout = o->txn_timeout_ms;
    rd_kafka_error_t *error = NULL;
    if (offsets && offsets->cnt > 0) {
        rd_kafka_consumer_group_metadata_t *meta = rd_kafka_consumer_group_metadata(consumer);
        error = rd_kafka_send_offsets_to_transaction(o->txn, offsets, meta, timeout);
        rd_kafka_consumer_group_metadata_destroy(meta);
        if (error)
            return txn_error(o, error, "sending the offsets to the transaction", err, size);
    }
    if ((error = rd_kafka_commit_transaction(o->txn, timeout)))
        return txn_error(o, error, "committing the transaction", err, size);
    o->txn_open = 0;
    if ((error = rd_kafka_begin_transaction(o->txn)))
        return txn_error(o, error, "beginning a transaction", err, size);
    o->txn_open = 1;
    return RV_TXN_OK;
}

rv_txn_outcome rv_output_abort(rv_output *o, char *err, size_t size)
{
    if (!o->txn) {
        rv_errf(err, size, "no transactional producer");
        return RV_TXN_FATAL;
    }
    rd_kafka_error_t *error = NULL;
    if (o->txn_open && (error = rd_kafka_abort_transaction(o->txn, o->txn_timeout_ms)))
        return txn_error(o, error, "aborting the transaction", err, size);
    o->txn_open = 0;
    if ((error = rd_kafka_begin_transaction(o->txn)))
        return txn_error(o, error, "beginning a transaction", err, size);
    o->txn_open = 1;
    return RV_TXN_OK;
}

int rv_output_restart_txn(rv_output *o, char *err, size_t size)
{
    rv_output_txn_stop(o);
    return rv_output_txn_start(o, err, size);
}
