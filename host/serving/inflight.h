/*
 * inflight.h - one request from the moment the host reads it until every
 * record about it has been acknowledged: the request as plugins see it, a
 * slot per model for its answer, and the mailbox state of the rendezvous.
 *
 * Lifetime is a reference count: one for the rendezvous (until it has
 * decided and every model has answered), one per queued model item (handed
 * on with the answer), one per produced record (until its delivery report).
 * The last release reports the input offset as done to the commit tracker:
 * so an offset is committed only after everything about it is acknowledged.
 */
#ifndef RV_INFLIGHT_H
#define RV_INFLIGHT_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdint.h>

#include "generation.h"
#include "output.h"
#include "slot.h"

typedef struct rv_inflight rv_inflight;
/* Called once at the last release; it may take f->held over. */
typedef void (*rv_inflight_done_fn)(void *ctx, rv_inflight *f);

struct rv_inflight {
    rv_request req;          /* what plugins see; points into the fields below */
    rd_kafka_message_t *msg; /* owns topic name, key and body */
    rv_header *headers;      /* headers, features and id: in the same block */
    char *id;
    char *reply_to;                 /* results topic from rv-reply-to, or NULL */
    char *reply_key;                /* the result's key there, from rv-reply-key, or NULL: the id */
    int reply_on_request_partition; /* rv-reply-partition: request (the gateway's) */
    double *features;
    rv_generation *gen;      /* reference, NULL for a dead-letter-only request */
    int64_t arrival_mono_us; /* CLOCK_MONOTONIC, starts the rendezvous clock */
    atomic_int refs;
    rv_inflight_done_fn done; /* called once at the last release */
    void *done_ctx;
    uint64_t commit_epoch; /* the commit tracker's epoch of the partition */
    /* exactly-once: the records about it, held until the transaction that
     * commits its offset (rv_output_hold); freed at the last release unless
     * the done callback took them */
    rv_held *_Atomic held;

    int expired; /* older than input.max_age_ms: decided at once, scored by no model */
    /* a direct call (an rv-model header): the one model that scores it and
     * whose answer is its result, or -1; the header's value until the
     * input has looked the model up */
    int direct;
    const char *direct_name;
    size_t direct_len;

    /* Rendezvous thread only (decided: written by it alone, read by a
     * worker posting from behind as a hint): */
    atomic_int decided;
    size_t n_answered;
    size_t heap_pos; /* index in the deadline heap, or SIZE_MAX */
    int64_t wake_at_mono_us;

    size_t n_slots;  /* gen->n_models */
    rv_slot slots[]; /* then the slots' answers */
};

/* When the host read a request: both clocks, taken once for the requests
 * read together. */
typedef struct rv_read_time {
    int64_t mono_us; /* CLOCK_MONOTONIC: starts the rendezvous clock */
    int64_t real_us; /* CLOCK_REALTIME: rv_request.arrival_us */
} rv_read_time;

/* Takes over msg on success (on failure the caller still owns it), and a
 * reference of gen (dropped on failure; gen may be NULL). Parses nothing:
 * the input stage fills features. */
rv_inflight *rv_inflight_new(rd_kafka_message_t *msg, rv_generation *gen, rv_inflight_done_fn done,
                             void *done_ctx, const rv_read_time *read);
/* A request of gen with no message, its slots pending, for tests and
 * benchmarks that fill slots by hand; gen is not referenced. Freed by
 * rv_inflight_blank_free. NULL when out of memory. */
rv_inflight *rv_inflight_blank(const rv_generation *gen);
void rv_inflight_blank_free(rv_inflight *f);
void rv_inflight_ref(rv_inflight *f);
void rv_inflight_release(rv_inflight *f);

/* Produces a record about f (rv_output_send's arguments): f holds a
 * reference until the broker acknowledges the record, so its offset is not
 * committed before. A record that fails keeps its reference: the request
 * stays uncommitted and is read again after a restart. With an exactly-once
 * output the record is held in f instead, for its transaction. 0 or -1. */
int rv_inflight_send(rv_output *o, rv_inflight *f, rv_stream stream, const char *topic_name,
                     int32_t partition, const void *key, size_t key_len, const void *value,
                     size_t value_len, rd_kafka_headers_t *headers);

/* The output's delivery callback for records sent by rv_inflight_send. */
void rv_inflight_delivered(void *msg_opaque);

#endif
