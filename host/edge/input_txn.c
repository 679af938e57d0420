/*
 * input_txn.c - exactly-once delivery: the requests consumer's side of the
 * transactions (KIP-447: one transactional producer per host, fenced by
 * the consumer group's generation).
 *
 * A request's records are held in it (rv_output_hold) until it is done;
 * then they go to the commit tracker with its offset, and come out once
 * every request before it in its partition is done too. The cycle, on the
 * input thread, produces what came out into the open transaction and
 * commits the transaction with exactly those requests' offsets. So a
 * transaction holds all the records of the requests whose offsets it
 * commits and nothing of any other: after a crash or an abort, what is
 * read again had left nothing visible.
 */
#include "daemon_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"

void rv_txn_request_done(daemon_state *d, rv_inflight *f)
{
    rv_held *held = atomic_exchange(&f->held, NULL);
    if (rv_commit_tracker_done_with(d->tracker, f->req.topic, f->req.partition, f->req.offset,
                                    f->commit_epoch, held) != 0)
        rv_output_held_free(held); /* a revoked partition's: its new owner scores it */
}

/* Adds offsets (consumed) to the open transaction's. */
static void merge_offsets(daemon_state *d, rd_kafka_topic_partition_list_t *offs)
{
    if (!offs)
        return;
    if (!d->txn_offsets) {
        d->txn_offsets = offs;
        return;
    }
    for (int i = 0; i < offs->cnt; i++) {
        rd_kafka_topic_partition_t *o = &offs->elems[i];
        rd_kafka_topic_partition_t *have =
            rd_kafka_topic_partition_list_find(d->txn_offsets, o->topic, o->partition);
        if (!have)
            have = rd_kafka_topic_partition_list_add(d->txn_offsets, o->topic, o->partition);
        have->offset = o->offset;
    }
    rd_kafka_topic_partition_list_destroy(offs);
}

/* Produces what the tracker's prefixes passed into the open transaction.
 * 0, or -1 when a record was refused at once (the transaction must abort). */
static int produce_ready(daemon_state *d)
{
    size_t n;
    rd_kafka_topic_partition_list_t *offs;
    void **ready = rv_commit_tracker_take_ready(d->tracker, &n, &offs);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && rv_output_send_held(d->output, ready[i]) != 0)
            rc = -1;
        else if (rc != 0)
            rv_output_held_free(ready[i]);
    }
    free(ready);
    merge_offsets(d, offs);
    d->txn_requests += n;
    return rc;
}

/* Forgets what the open transaction held (aborted): the offsets, and what
 * the prefixes passed since. */
static void drop_open(daemon_state *d)
{
    if (d->txn_offsets)
        rd_kafka_topic_partition_list_destroy(d->txn_offsets);
    d->txn_offsets = NULL;
    d->txn_requests = 0;
    d->txn_began_ms = rv_mono_ms();
}

/* After an abort: every assigned partition is read again from its committed
 * offset; what is in flight from before is forgotten (its records are
 * dropped when it is done). */
static void rewind_input(daemon_state *d)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(d->consumer, &parts) || !parts)
        return;
    for (int i = 0; i < parts->cnt; i++) {
        rv_commit_tracker_forget(d->tracker, parts->elems[i].topic, parts->elems[i].partition);
        parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID; /* the committed one */
    }
    drop_open(d);
    rv_input_reassign(d, d->consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* The host stops as on SIGTERM (what is done and committed stays so). */
static void stop_host(const char *why)
{
    rv_error("delivery", "%s: stopping", why);
    raise(SIGTERM);
}

/* An abortable error: abort. A fatal one (fenced: another producer of our
 * transactional id, or the broker ended our transaction): a new producer;
 * when that fails too the host stops. Then, unless the partitions are
 * being revoked, rewind. */
static void recover(daemon_state *d, rv_txn_outcome out, const char *why, int rewind)
{
    char err[RV_ERR_SIZE];
    if (out == RV_TXN_ABORT) {
        atomic_fetch_add(&d->stats->txn_aborts, 1);
        rv_warn("delivery", "%s: the transaction aborts, its requests are read and scored again",
                why);
        out = rv_output_abort(d->output, err, sizeof err);
        if (out != RV_TXN_OK)
            why = err;
    }
    if (out == RV_TXN_FATAL || out == RV_TXN_RETRY) {
        atomic_fetch_add(&d->stats->txn_restarts, 1);
        rv_error("delivery",
                 "%s: the transactional producer is made again (if another host has this "
                 "delivery.transactional_id, give each its own)",
                 why);
        if (rv_output_restart_txn(d->output, err, sizeof err) != 0)
            stop_host(err);
    }
    if (rewind)
        rewind_input(d);
    else
        drop_open(d);
}

/* rv_txn_cycle; rewind 0 in the rebalance callback, where the partitions
 * are going anyway. */
static int cycle(daemon_state *d, int force, int rewind)
{
    if (produce_ready(d) != 0) {
        recover(d, RV_TXN_ABORT, "a record was refused", rewind);
        return -1;
    }
    int64_t now = rv_mono_ms();
    const rv_config *cfg = d->gen->cfg;
    if (!force && now - d->txn_began_ms < (int64_t)cfg->delivery.transaction_ms &&
        (!cfg->delivery.transaction_requests ||
         d->txn_requests < cfg->delivery.transaction_requests))
        return 0;
    if (!d->txn_offsets && !d->txn_requests) {
        d->txn_began_ms = now; /* nothing in it: nothing to commit */
        return 0;
    }
    char err[RV_ERR_SIZE];
    rv_txn_outcome out;
    int tries = 0;
    while ((out = rv_output_commit(d->output, d->txn_offsets, d->consumer, err, sizeof err)) ==
               RV_TXN_RETRY &&
           ++tries < 3)
        rv_warn("delivery", "%s: committing again", err);
    if (out == RV_TXN_OK) {
        atomic_fetch_add(&d->stats->txn_commits, 1);
        drop_open(d);
        return 0;
    }
    recover(d, out, err, rewind);
    return -1;
}

int rv_txn_cycle(daemon_state *d, int force)
{
    return cycle(d, force, 1);
}

void rv_txn_revoked(daemon_state *d, int lost)
{
    if (!lost) {
        cycle(d, 1, 0);
        return;
    }
    /* the group went on without us: our offsets would be refused, and
     * nothing of the open transaction may show */
    recover(d, RV_TXN_ABORT, "partitions lost", 0);
}
