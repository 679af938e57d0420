/*
 * input_internal.h - the input's state, shared by input.c and input_txn.c
 * (exactly once). Not for other files.
 *
 * Threads: the main thread owns all of it; the transaction thread reads
 * the dependencies and the consumer (for the group's metadata).
 */
#ifndef RV_INPUT_INTERNAL_H
#define RV_INPUT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "input.h"

typedef struct rv_txn_loop rv_txn_loop;

struct rv_input {
    /* handed at start (rv_input_deps) */
    rv_output *output;
    rv_commit_tracker *tracker;
    rv_stats *stats;
    rv_rendezvous *rz;
    rv_recent *recent;
    bool scorer;
    int request_partitions;
    const rv_idset *answered_elsewhere;
    const int64_t *start_offsets;
    int n_start_offsets;
    void (*on_ready)(void *ctx);
    void *ctx;
    /* its own */
    rd_kafka_t *consumer;
    rd_kafka_queue_t *queue;         /* the consumer's, for reading in batches */
    int closed;                      /* rv_input_close has run */
    int paused;                      /* partitions paused: blocked for long */
    int ready_notified;              /* on_ready called (at the first assignment) */
    int64_t commit_warned_ms;        /* the last "commit failed" warning */
    uint64_t commit_failures;        /* since that warning */
    int64_t blocked_since_ms;        /* at max_in_flight since; 0: not */
    int full_read;                   /* a read got a whole batch: librdkafka had more */
    int wake_next;                   /* the assigned partition the next wake asks about */
    int64_t woke_ms;                 /* the last wake (at most one each 10 ms) */
    rv_remote_reader *remote_reader; /* rv_input_hold_for; NULL: nothing held */
    /* requests partitions just assigned, paused until the remote reader has
     * caught up on their scores partitions; NULL: none */
    rd_kafka_topic_partition_list_t *held;
    int64_t held_since_ms;
    rv_txn_loop *txn;         /* exactly-once: the transaction thread (input_txn.c) */
    _Atomic uint64_t skipped; /* requests answered_elsewhere (read by HTTP) */
};

/* The input thread's part of a commit, from rv_input_commit: rewinds the
 * consumer to the committed offsets after an abort (then -1); with now,
 * commits what is done and waits for it (0, or -1 when it did not
 * commit). */
int rv_txn_commit(rv_input *in, int now);
/* A revocation, in the rebalance callback: commits what is done (aborts
 * when lost: the group went on without us), then forgets the partitions. */
void rv_txn_revoked(rv_input *in, const rd_kafka_topic_partition_list_t *parts, int lost);
/* The done callback's part: the request's held records go to the tracker. */
void rv_txn_request_done(rv_input *in, rv_inflight *f);

/* Assigns parts (from their committed offsets when so marked) as a
 * rebalance does, holding them for the remote reader when it runs. */
void rv_input_reassign(rv_input *in, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts);

#endif
