/*
 * input.h - the input stage: the requests consumer and what it feeds. On
 * the main thread: read a batch, parse each request once, open its
 * mailbox, hand it to every model; stop reading at the in-flight bound;
 * commit what the commit tracker releases (or, exactly once, have the
 * transaction thread commit it with the records). An object of its own:
 * it is handed what it feeds and never sees the daemon's state.
 */
#ifndef RV_INPUT_H
#define RV_INPUT_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "commit_tracker.h"
#include "config.h"
#include "generation.h"
#include "idset.h"
#include "output.h"
#include "recent.h"
#include "remote_reader.h"
#include "rendezvous.h"
#include "stats.h"

typedef struct rv_input rv_input;

/* What the input feeds and reports to; every pointer outlives it. */
typedef struct rv_input_deps {
    rv_output *output;
    rv_commit_tracker *tracker;
    rv_stats *stats;
    rv_rendezvous *rz;
    rv_recent *recent;
    bool scorer;            /* `rendezvous scorer`: a bad request is its host's to send on */
    int request_partitions; /* the requests topic's, checked at start (for the log) */
    /* Requests another site answered (docs/sites.md): read, committed and
     * not answered; NULL: none. */
    const rv_idset *answered_elsewhere;
    /* A takeover of another site's requests: per partition (n), where one
     * the group never committed starts (-1: its beginning); NULL: where
     * the group's own offsets say. */
    const int64_t *start_offsets;
    int n_start_offsets;
    /* Called once, on the main thread, when the group first assigns
     * partitions: the service is serving (sd_notify READY=1). */
    void (*on_ready)(void *ctx);
    void *ctx;
} rv_input_deps;

/* Requests read at once, at most: parsed, opened and dispatched together. */
#define RV_INPUT_BATCH 64

/* Subscribes to cfg's requests topic in its group. NULL (logged) when it
 * cannot. */
rv_input *rv_input_start(const rv_input_deps *deps, const rv_config *cfg, const char *bootstrap);
/* The requests consumer (the remote reader and the evaluator follow its
 * assignment), NULL for a NULL input. */
rd_kafka_t *rv_input_consumer(const rv_input *in);
/* With a remote reader running, partitions assigned from now on are held
 * until it has caught up on their scores partitions (NULL: none). */
void rv_input_hold_for(rv_input *in, rv_remote_reader *rr);
/* Closes the consumer (its revocation commits); rv_txn_stop after it. */
void rv_input_close(rv_input *in);
/* Closes it if still open, then frees it. NULL is a no-op. */
void rv_input_free(rv_input *in);

/* Takes n <= RV_INPUT_BATCH messages (errors among them are logged), read
 * while gen serves. */
void rv_input_handle(rv_input *in, rv_generation *gen, rd_kafka_message_t **msgs, size_t n);
/* Backpressure: how many requests the serve loop may read now (at most
 * RV_INPUT_BATCH). At max_in_flight requests in flight it waits (up to a
 * few ms) instead, and gives 0; see input.c. */
size_t rv_input_may_read(rv_input *in, uint64_t max_in_flight);
/* Reads up to max requests: waits up to 50 ms for the first, then takes
 * what is already fetched. The count read. */
size_t rv_input_read(rv_input *in, rd_kafka_message_t **msgs, size_t max);
/* Commits what the tracker releases (sync: every partition's offset, and
 * waits for the broker). A failed commit is made again with the next one.
 * 0, or -1 when the commit failed at once. */
int rv_input_commit(rv_input *in, int sync);
/* Waits until every request read has been answered and acknowledged, then
 * commits (retrying until timeout_ms). Nonzero when requests were left in
 * flight or the last commit failed: they will be read again. */
int rv_input_drain(rv_input *in, int timeout_ms);

/* input_txn.c: exactly-once. The transaction thread produces the records
 * of the requests done (and of every request before them) into the open
 * transaction and commits it with their offsets every
 * delivery.transaction_ms (or transaction_requests). 0 or -1. */
int rv_txn_start(rv_input *in, const rv_config *cfg);
/* After rv_input_close. NULL, or no thread, is a no-op. */
void rv_txn_stop(rv_input *in);

/* The requests consumer's lag, -1 while not reading every partition. */
int64_t rv_input_lag(rv_input *in);
/* Requests read and not yet done. */
uint64_t rv_input_in_flight(rv_input *in);
/* Requests not answered here: answered at another site (answered_elsewhere). */
uint64_t rv_input_skipped(rv_input *in);

#endif
