/*
 * commit_tracker.h - which input offsets may be committed.
 *
 * Offsets are registered in the order the consumer reads them and marked
 * done in any order; a partition's committable offset advances only over a
 * prefix of done offsets, so a commit never skips a request still in flight.
 * A revoked partition gets a new epoch: late completions from before are
 * ignored rather than mixed with a new owner's offsets.
 *
 * For exactly-once delivery an offset may be marked done with a payload
 * (the records its request caused): the payloads come out in offset order,
 * each with the prefix that passed it, so that a transaction holds the
 * records of exactly the requests whose offsets it commits. Such a request
 * stays pending until the caller releases it (its transaction committed or
 * aborted), so that what waits for a commit counts against the bound too.
 */
#ifndef RV_COMMIT_TRACKER_H
#define RV_COMMIT_TRACKER_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

typedef struct rv_commit_tracker rv_commit_tracker;

/* free_payload frees payloads the tracker drops (a forgotten partition, the
 * end); may be NULL when no payload is ever given. */
rv_commit_tracker *rv_commit_tracker_new(void (*free_payload)(void *));
void rv_commit_tracker_free(rv_commit_tracker *t);

/* Registers an offset read from the consumer; returns the epoch to pass to
 * rv_commit_tracker_done(). Thread: the input thread. */
uint64_t rv_commit_tracker_add(rv_commit_tracker *t, const char *topic, int32_t partition,
                               int64_t offset);

/* One offset read, for rv_commit_tracker_add_batch: epoch is filled in. */
typedef struct rv_offset_ref {
    const char *topic;
    int32_t partition;
    int64_t offset;
    uint64_t epoch;
} rv_offset_ref;

/* rv_commit_tracker_add for each, in order, under one lock. */
void rv_commit_tracker_add_batch(rv_commit_tracker *t, rv_offset_ref *refs, size_t n);

/* Marks an offset done. Thread: any. */
void rv_commit_tracker_done(rv_commit_tracker *t, const char *topic, int32_t partition,
                            int64_t offset, uint64_t epoch);

/* rv_commit_tracker_done with a payload, kept until every offset before it
 * is done; the request stays pending until rv_commit_tracker_release (or
 * its partition is forgotten). 0; or -1 when the offset is unknown or of an
 * older epoch (a revoked partition): the payload stays the caller's. */
int rv_commit_tracker_done_with(rv_commit_tracker *t, const char *topic, int32_t partition,
                                int64_t offset, uint64_t epoch, void *payload);

/* The payloads the done prefixes passed since the last call, in offset
 * order per partition (*n of them; the array is the caller's to free, NULL
 * when none), and in *offsets the offsets to commit for exactly them (as
 * rv_commit_tracker_take, NULL when none advanced). One lock: nothing passes
 * between the two. */
void **rv_commit_tracker_take_ready(rv_commit_tracker *t, size_t *n,
                                    rd_kafka_topic_partition_list_t **offsets);

/* The offsets to commit now (next offset to read, per partition that
 * advanced since the last call, or with all set per partition that has one),
 * or NULL if none. Caller destroys it. */
rd_kafka_topic_partition_list_t *rv_commit_tracker_take(rv_commit_tracker *t, int all);

/* A commit of these offsets failed (err, or each element's own): their
 * partitions are taken again by the next rv_commit_tracker_take, at their
 * newest committable offset by then. A partition forgotten since is left
 * alone (its new owner commits it). Returns how many were marked. */
size_t rv_commit_tracker_retry(rv_commit_tracker *t, rd_kafka_resp_err_t err,
                               const rd_kafka_topic_partition_list_t *offsets);

/* Forgets a partition (revoked): a new epoch starts. */
void rv_commit_tracker_forget(rv_commit_tracker *t, const char *topic, int32_t partition);

/* n requests whose payloads were taken (rv_commit_tracker_take_ready) are
 * over: committed, or dropped with their transaction. */
void rv_commit_tracker_release(rv_commit_tracker *t, uint64_t n);

/* Requests registered and not yet done (or done with a payload and not yet
 * released), over all partitions. */
uint64_t rv_commit_tracker_pending(rv_commit_tracker *t);

/* Waits until fewer than limit requests are pending, or timeout_ms; returns
 * how many are pending then. One waiter at a time (the input thread). */
uint64_t rv_commit_tracker_wait_below(rv_commit_tracker *t, uint64_t limit, int timeout_ms);

#endif
