/*
 * output.h - everything the host writes to streams goes through one
 * idempotent producer. A record may carry an opaque pointer (librdkafka's
 * msg_opaque): once the broker acknowledges the record, the output hands it
 * to the delivery callback given at creation. A record the broker refused
 * is logged and counted and, unless the fault is the record's own, produced
 * again until it is taken (its opaque then handed back as usual); a record
 * never taken never hands its opaque back, so whatever it holds stays held
 * (an uncommitted request is read again after a restart).
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

/* conf is consumed (also on failure). delivered may be NULL. */
rv_output *rv_output_new(rd_kafka_conf_t *conf, const rv_config *cfg, rv_delivered_fn delivered,
                         char *err, size_t err_size);
/* Flushes (up to timeout_ms) and destroys. */
void rv_output_free(rv_output *o, int timeout_ms);

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

#endif
