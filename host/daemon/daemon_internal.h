/*
 * daemon_internal.h - the serving process's state, shared by the serve
 * loop (daemon.c) and the input stage (input.c). Not for other files.
 *
 * Threads: the main thread runs the loop and the input (it owns consumer,
 * control, paused, watch, reloader and swaps gen under gen_lock); the HTTP
 * threads read gen under gen_lock; the output's poll thread reports
 * deliveries to the commit tracker (its own lock).
 */
#ifndef RV_DAEMON_INTERNAL_H
#define RV_DAEMON_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "canary_monitor.h"
#include "colocate.h"
#include "commit_tracker.h"
#include "daemon.h"
#include "generation.h"
#include "http.h"
#include "output.h"
#include "pipeline.h"
#include "recent.h"
#include "remote.h"
#include "evaluator.h"
#include "remote_reader.h"
#include "reload.h"
#include "rendezvous.h"
#include "stats.h"
#include "streams.h"
#include "watch.h"

typedef struct rv_txn_loop rv_txn_loop;

typedef struct daemon_state {
    const rv_serve_options *opts;
    rv_broker *broker;
    rv_output *output;
    rv_stats *stats;
    rv_canary_monitor *monitor;
    rv_rendezvous *rz;
    rv_recent *recent;
    rv_pipeline pipe;
    rv_generation *gen;
    rv_commit_tracker *tracker;
    rd_kafka_t *consumer;
    rd_kafka_queue_t *queue;  /* the consumer's, for reading in batches */
    rd_kafka_t *control;      /* every control record, no group */
    int paused;               /* partitions paused: blocked for long */
    int ready_notified;       /* READY=1 sent (at the first assignment) */
    int64_t commit_warned_ms; /* the last "commit failed" warning */
    uint64_t commit_failures; /* since that warning */
    int64_t blocked_since_ms; /* at max_in_flight since; 0: not */
    pthread_t watchdog;       /* bounds the shutdown (daemon.c) */
    int has_watchdog;
    struct timespec shutdown_until;  /* CLOCK_REALTIME */
    rv_remote *remote;               /* remote models' waits (remote.h) */
    rv_remote_reader *remote_reader; /* while any remote model is configured */
    rv_evaluator *evaluator;         /* with an evaluation section */
    /* requests partitions just assigned, paused until the remote reader has
     * caught up on their scores partitions (input.c); NULL: none */
    rd_kafka_topic_partition_list_t *held;
    int64_t held_since_ms;
    char bootstrap[1024];
    int request_partitions; /* the requests topic's, checked at start */
    atomic_int started;     /* serve_start has returned (daemon.c's start-up guard) */
    rv_reloader *reloader;
    rv_watch *watch;
    rv_http *http;
    rv_colocate colocate;     /* the preferred model's path on one CPU at low load */
    pthread_mutex_t gen_lock; /* for readers off the control loop (http) */
    rv_txn_loop *txn;         /* exactly-once: the transaction thread (input_txn.c) */
} daemon_state;

/* input.c: the requests consumer and what it feeds. */
rd_kafka_t *rv_input_start(daemon_state *d, const rv_config *cfg, const char *bootstrap);
/* Requests read at once, at most: parsed, opened and dispatched together. */
#define RV_INPUT_BATCH 64
/* Takes n <= RV_INPUT_BATCH messages (errors among them are logged). */
void rv_input_handle(daemon_state *d, rd_kafka_message_t **msgs, size_t n);
/* Backpressure: how many requests the serve loop may read now (at most
 * RV_INPUT_BATCH). At max_in_flight requests in flight it waits (up to a
 * few ms) instead, and gives 0; see input.c. */
size_t rv_input_may_read(daemon_state *d, uint64_t max_in_flight);
/* Reads up to max requests: waits up to 50 ms for the first, then takes
 * what is already fetched. The count read. */
size_t rv_input_read(daemon_state *d, rd_kafka_message_t **msgs, size_t max);
/* Commits what the tracker releases (sync: every partition's offset, and
 * waits for the broker). A failed commit is made again with the next one.
 * 0, or -1 when the commit failed at once. */
int rv_input_commit(daemon_state *d, int sync);
/* Waits until every request read has been answered and acknowledged, then
 * commits (retrying until timeout_ms). Nonzero when requests were left in
 * flight or the last commit failed: they will be read again. */
int rv_input_drain(daemon_state *d, int timeout_ms);
/* input_txn.c: exactly-once. The transaction thread produces the records
 * of the requests done (and of every request before them) into the open
 * transaction and commits it with their offsets every
 * delivery.transaction_ms (or transaction_requests). 0 or -1. */
int rv_txn_start(daemon_state *d, const rv_config *cfg);
void rv_txn_stop(daemon_state *d);
/* The input thread's part, from the serve loop: rewinds the consumer to
 * the committed offsets after an abort (then -1); with now, commits what is
 * done and waits for it (0, or -1 when it did not commit). */
int rv_txn_commit(daemon_state *d, int now);
/* A revocation, in the rebalance callback: commits what is done (aborts
 * when lost: the group went on without us), then forgets the partitions. */
void rv_txn_revoked(daemon_state *d, const rd_kafka_topic_partition_list_t *parts, int lost);
/* The done callback's part: the request's held records go to the tracker. */
void rv_txn_request_done(daemon_state *d, rv_inflight *f);

/* Assigns parts (from their committed offsets when so marked) as a
 * rebalance does, holding them for the remote reader when it runs. */
void rv_input_reassign(daemon_state *d, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts);

/* The requests consumer's lag, -1 while not reading every partition. */
int64_t rv_input_lag(void *ctx);
/* Requests read and not yet done. */
uint64_t rv_input_in_flight(void *ctx);

#endif
