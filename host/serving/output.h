/*
 * output.h - everything the host writes to streams goes through one
 * idempotent producer. A record may carry an opaque pointer (librdkafka's
 * msg_opaque): once the broker acknowledges the record, the output hands it
 * to the delivery callback given at creation. A record the broker refused
 * is logged and counted and, unless the fault is the record's own, produced
 * again until it is taken (its opaque then handed back as usual); a record
 * never taken never hands its opaque back, so whatever it holds stays held
 * (an uncommitted request is read again after a restart).
 *
 * With delivery.mode exactly_once the records a request causes are not sent
 * but held (rv_output_hold) until the request is done and every request
 * before it too; they are then produced by a second, transactional
 * producer into the open transaction, which commits with the offsets of
 * the requests it holds (rv_output_commit). Records caused by no request
 * (alerts, a gateway's requests) still go through rv_output_send.
 */
#ifndef RV_OUTPUT_H
#define RV_OUTPUT_H

#include <librdkafka/rdkafka.h>

#include "config.h"

typedef enum {
    RV_STREAM_SCORES,
    RV_STREAM_RESULTS,
    RV_STREAM_ARCHIVE,
    RV_STREAM_ALERTS,
    RV_STREAM_DEAD_LETTER,
    RV_STREAM_COUNT
} rv_stream;

typedef struct rv_output rv_output;

/* Called on the output's poll thread with the opaque of each acknowledged
 * record that carried one. */
typedef void (*rv_delivered_fn)(void *msg_opaque);

/* Told of every record delivered: its topic, partition and offset (the
 * output's poll thread; the live evaluation's read positions). */
typedef void (*rv_delivery_watch_fn)(void *ctx, const char *topic, int32_t partition,
                                     int64_t offset);

/* Sets (fn NULL: clears) who is told of deliveries. */
void rv_output_watch(rv_output *o, rv_delivery_watch_fn fn, void *ctx);

/* Asked, about once a second, during a wait that may last (exactly-once:
 * the transaction coordinator): non-zero gives the wait up. */
typedef int (*rv_stopping_fn)(void);

/* conf is consumed (also on failure). delivered and stopping may be NULL. */
rv_output *rv_output_new(rd_kafka_conf_t *conf, const rv_config *cfg, rv_delivered_fn delivered,
                         rv_stopping_fn stopping, char *err, size_t err_size);
/* Flushes (up to timeout_ms) and destroys. */
void rv_output_free(rv_output *o, int timeout_ms);

/* headers (created when NULL) with this host's site (`rv-site`) and the
 * site it answers for (`rv-taken-over-from`), when it has them. */
rd_kafka_headers_t *rv_output_stamp(const rv_output *o, rd_kafka_headers_t *headers);

/* Produces one record. topic_name overrides the stream's topic when not
 * NULL. partition may be RD_KAFKA_PARTITION_UA. headers (may be NULL) are
 * consumed (also on failure). msg_opaque, when not NULL, goes to the delivery
 * callback once the record is acknowledged. Retries while the local queue
 * is full. 0 or -1. */
int rv_output_send(rv_output *o, rv_stream stream, const char *topic_name, int32_t partition,
                   const void *key, size_t key_len, const void *value, size_t value_len,
                   rd_kafka_headers_t *headers, void *msg_opaque);

/* Looks up a topic that records will be produced to by name (a gateway's
 * requests and replies) now, so that the first record does not wait for
 * its metadata. */
void rv_output_prepare_topic(rv_output *o, const char *name);

/* The stream of that name ("scores", "results", "archive", "alerts",
 * "dead-letter"); -1 when it is none of them. */
int rv_output_stream_by_name(const char *name, rv_stream *out);

const char *rv_output_topic(const rv_output *o, rv_stream s);
rd_kafka_t *rv_output_handle(rv_output *o);

/* Records whose delivery failed (after the producer's own retries). */
uint64_t rv_output_failures(const rv_output *o);

/* 0 while no topic is failing; -1 when the last delivery to some topic
 * failed, with why naming the topic, since when and the broker's reason. */
int rv_output_health(rv_output *o, char *why, size_t size);

/* ---- exactly-once ---- */

/* Whether the output holds the records requests cause for transactions. */
int rv_output_transactional(const rv_output *o);

/* A record kept for a transaction: a copy of rv_output_send's arguments. */
typedef struct rv_held rv_held;

/* Pushes a copy of a record onto *list (any thread; headers consumed, also
 * on failure). 0, or -1 out of memory. */
int rv_output_hold(rv_held *_Atomic *list, rv_stream stream, const char *topic_name,
                   int32_t partition, const void *key, size_t key_len, const void *value,
                   size_t value_len, rd_kafka_headers_t *headers);

/* Produces a list of held records, in the order they were held, into the
 * open transaction, and frees them. 0; -1 when one was refused at once (the
 * transaction must abort). */
int rv_output_send_held(rv_output *o, void *list);

/* Frees a list of held records (a void * for the commit tracker). */
void rv_output_held_free(void *list);

typedef enum {
    RV_TXN_OK,    /* committed; the next transaction is open */
    RV_TXN_RETRY, /* nothing decided (a timeout): the same call again */
    RV_TXN_ABORT, /* the transaction must be aborted (rv_output_abort) */
    RV_TXN_FATAL  /* the producer is fenced or broken: rv_output_restart_txn */
} rv_txn_outcome;

/* Commits the open transaction with offsets (may be NULL), as consumer's
 * group member (KIP-447: a host that lost its partitions cannot commit),
 * and begins the next. err says what failed. */
rv_txn_outcome rv_output_commit(rv_output *o, const rd_kafka_topic_partition_list_t *offsets,
                                rd_kafka_t *consumer, char *err, size_t size);

/* Aborts the open transaction (nothing of it becomes visible to
 * read_committed readers) and begins the next. */
rv_txn_outcome rv_output_abort(rv_output *o, char *err, size_t size);

/* A new transactional producer of the same id, a transaction open. 0 or -1. */
int rv_output_restart_txn(rv_output *o, char *err, size_t size);

#endif
