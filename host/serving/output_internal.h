/*
 * output_internal.h - what output.c (the producer, delivery reports,
 * records produced again) and output_txn.c (exactly-once: held records,
 * the transactional producer) share: the output's state and the failing
 * topics' bookkeeping.
 */
#ifndef RV_OUTPUT_INTERNAL_H
#define RV_OUTPUT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "output.h"

#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 5000
#define FAILING_LOG_MS 10000
#define MAX_FAILING 8 /* topics followed at once; more share the last slot */

/* What follows a refused record, for the log. */
#define AGAIN "each produced again until it is taken; their requests wait"
#define OWN_FAULT "the record's own fault: its request stays uncommitted"
#define IN_TXN "the transaction aborts: its requests are scored again"

/* A refused record, kept to be produced again. */
typedef struct retry {
    struct retry *next;
    int64_t due_ms;
    rd_kafka_topic_t *rkt; /* a reference of its own */
    int32_t partition;
    void *key, *value;
    size_t key_len, value_len;
    rd_kafka_headers_t *headers;
    void *opaque;
} retry;

/* A topic whose last delivery failed. */
typedef struct failing {
    char topic[256];
    char reason[200];
    int64_t since_ms, logged_ms;
    uint64_t records;
    int delay_ms;
} failing;

/* A record held for a transaction: a copy of rv_output_send's arguments. */
struct rv_held {
    rv_held *next;
    rv_stream stream;
    char *topic_name; /* NULL: the stream's */
    int32_t partition;
    void *key, *value;
    size_t key_len, value_len;
    rd_kafka_headers_t *headers;
};

struct rv_output {
    rd_kafka_t *rk; /* records outside transactions (all of them at least once) */
    rd_kafka_topic_t *topics[RV_STREAM_COUNT];
    /* exactly-once: the transactional producer of the records requests
     * cause, the conf to make it again, the transaction's state */
    rd_kafka_t *txn;
    rd_kafka_topic_t *txn_topics[RV_STREAM_COUNT];
    rd_kafka_conf_t *txn_conf;
    char txn_id[512];
    int txn_timeout_ms;
    int txn_open;
    pthread_t poller;
    atomic_int stop;
    atomic_uint_fast64_t failures;
    rv_delivered_fn delivered;
    rv_stopping_fn stopping;             /* NULL: a start-up wait is never given up */
    char *site, *taken_over_from;        /* stamped on every record (NULL: none) */
    _Atomic(rv_delivery_watch_fn) watch; /* with watch_ctx, set before it */
    void *_Atomic watch_ctx;
    pthread_mutex_t prepared_lock;
    rd_kafka_topic_t *prepared[8]; /* topics looked up ahead, by name */
    int n_prepared;
    pthread_mutex_t retry_lock; /* retries, failing, n_failing */
    retry *retries;
    failing failing[MAX_FAILING];
    atomic_int n_failing; /* written under retry_lock; read without it */
    int has_poller;
};

/* A delivery to topic failed (retry_lock held): the topic is failing, its
 * retry delay doubles; the first failure and then one every 10 s logged
 * with then (what follows). Returns the delay. */
int rv_output_note_failure(rv_output *o, const char *topic, rd_kafka_resp_err_t e,
                           const char *then);
/* A record delivered: told to the watch, if any. */
void rv_output_tell_watch(rv_output *o, const rd_kafka_message_t *msg);
/* A delivery to topic succeeded (retry_lock held): it is no longer failing. */
void rv_output_note_success(rv_output *o, const char *topic);

/* output_txn.c: the transactional producer's delivery callback; making it
 * (a transaction open) and destroying it (what is open aborted). */
void rv_output_on_txn_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);
int rv_output_txn_start(rv_output *o, char *err, size_t err_size);
void rv_output_txn_stop(rv_output *o);

#endif
