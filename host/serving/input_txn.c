/*
 * input_txn.c - exactly-once delivery: the transactions of the requests
 * consumer's output (KIP-447: one transactional producer per host, fenced
 * by the consumer group's generation).
 *
 * A request's records are held in it (rv_output_hold) until it is done;
 * then they go to the commit tracker with its offset, and come out once
 * every request before it in its partition is done too. It counts against
 * rendezvous.max_in_flight until its transaction is over, so the records
 * waiting for a commit are bounded as the requests in flight are. The transaction
 * thread produces what came out into the open transaction and commits the
 * transaction with exactly those requests' offsets. So a transaction holds
 * all the records of the requests whose offsets it commits and nothing of
 * any other: after a crash or an abort, what is read again had left
 * nothing visible. Committing takes a few round trips to the transaction
 * coordinator; it happens on this thread so that the input goes on
 * reading meanwhile.
 *
 * The input thread owns the consumer: it rewinds it after an abort (the
 * transaction thread waits until it has), and around a rebalance it holds
 * the transaction thread (commit or abort first, then nothing until the
 * partitions are forgotten).
 */
#include "input_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"

typedef enum { ASK_RUN, ASK_COMMIT_HOLD, ASK_ABORT_HOLD } ask_kind;

struct rv_txn_loop {
    rv_input *in;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* under lock */
    int stop;
    ask_kind ask;                    /* the input thread's */
    int held;                        /* the transaction thread did what was asked and waits */
    int held_ok;                     /* what it asked committed */
    atomic_int rewind;               /* an abort: the input thread rewinds, the loop waits */
    uint32_t every_ms, max_requests; /* delivery.transaction_*, read at start */
    /* the transaction thread's */
    rd_kafka_topic_partition_list_t *offsets; /* of the open transaction */
    size_t requests;                          /* in it */
    int64_t began_ms;
};

void rv_txn_request_done(rv_input *in, rv_inflight *f)
{
    rv_held *held = atomic_exchange(&f->held, NULL);
    if (rv_commit_tracker_done_with(in->tracker, f->req.topic, f->req.partition, f->req.offset,
                                    f->commit_epoch, held) != 0)
        rv_output_held_free(held); /* a revoked partition's: its new owner scores it */
}

/* Adds offsets (consumed) to the open transaction's. */
static void merge_offsets(rv_txn_loop *x, rd_kafka_topic_partition_list_t *offs)
{
    if (!offs)
        return;
    if (!x->offsets) {
        x->offsets = offs;
        return;
    }
    for (int i = 0; i < offs->cnt; i++) {
        rd_kafka_topic_partition_t *o = &offs->elems[i];
        rd_kafka_topic_partition_t *have =
            rd_kafka_topic_partition_list_find(x->offsets, o->topic, o->partition);
        if (!have)
            have = rd_kafka_topic_partition_list_add(x->offsets, o->topic, o->partition);
        have->offset = o->offset;
    }
    rd_kafka_topic_partition_list_destroy(offs);
}

/* Produces what the tracker's prefixes passed into the open transaction.
 * 0, or -1 when a record was refused at once (the transaction must abort). */
static int produce_ready(rv_txn_loop *x)
{
    size_t n;
    rd_kafka_topic_partition_list_t *offs;
    void **ready = rv_commit_tracker_take_ready(x->in->tracker, &n, &offs);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && rv_output_send_held(x->in->output, ready[i]) != 0)
            rc = -1;
        else if (rc != 0)
            rv_output_held_free(ready[i]);
    }
    free(ready);
    merge_offsets(x, offs);
    x->requests += n;
    return rc;
}

/* The open transaction is over (committed or aborted): its requests no
 * longer count against rendezvous.max_in_flight. */
static void drop_open(rv_txn_loop *x)
{
    rv_commit_tracker_release(x->in->tracker, x->requests);
    if (x->offsets)
        rd_kafka_topic_partition_list_destroy(x->offsets);
    x->offsets = NULL;
    x->requests = 0;
    x->began_ms = rv_mono_ms();
}

/* The host stops as on SIGTERM (what is done and committed stays so). */
static void stop_host(const char *why)
{
    rv_error("delivery", "%s: stopping", why);
    raise(SIGTERM);
}

/* An abortable error: abort. A fatal one (fenced: another producer of our
 * transactional id, or the broker ended our transaction): a new producer;
 * when that fails too the host stops. What the transaction held is read
 * again: the input thread rewinds (unless the partitions are going). */
static void recover(rv_txn_loop *x, rv_txn_outcome out, const char *why, int rewind)
{
    rv_input *in = x->in;
    char err[RV_ERR_SIZE];
    if (out == RV_TXN_ABORT) {
        atomic_fetch_add(&in->stats->txn_aborts, 1);
        rv_warn("delivery", "%s: the transaction aborts, its requests are read and scored again",
                why);
        out = rv_output_abort(in->output, err, sizeof err);
        if (out != RV_TXN_OK)
            why = err;
    }
    if (out == RV_TXN_FATAL || out == RV_TXN_RETRY) {
        atomic_fetch_add(&in->stats->txn_restarts, 1);
        rv_error("delivery",
                 "%s: the transactional producer is made again (if another host has this "
                 "delivery.transactional_id, give each its own)",
                 why);
        if (rv_output_restart_txn(in->output, err, sizeof err) != 0)
            stop_host(err);
    }
    drop_open(x);
    if (rewind)
        atomic_store(&x->rewind, 1);
}

/* Produces what is ready; commits when due (or now, with force). 0, or -1
 * when the transaction aborted. */
static int cycle(rv_txn_loop *x, int force, int rewind)
{
    rv_input *in = x->in;
    if (produce_ready(x) != 0) {
        recover(x, RV_TXN_ABORT, "a record was refused", rewind);
        return -1;
    }
    int64_t now = rv_mono_ms();
    if (!force && now - x->began_ms < (int64_t)x->every_ms &&
        (!x->max_requests || x->requests < x->max_requests))
        return 0;
    if (!x->offsets && !x->requests) {
        x->began_ms = now; /* nothing in it: nothing to commit */
        return 0;
    }
    char err[RV_ERR_SIZE];
    rv_txn_outcome out;
    int tries = 0;
    int64_t t0 = rv_mono_us();
    while ((out = rv_output_commit(in->output, x->offsets, in->consumer, err, sizeof err)) ==
               RV_TXN_RETRY &&
           ++tries < 3)
        rv_warn("delivery", "%s: committing again", err);
    if (out == RV_TXN_OK) {
        atomic_fetch_add(&in->stats->txn_commits, 1);
        rv_latency_add(&in->stats->txn_commit, rv_mono_us() - t0);
        drop_open(x);
        return 0;
    }
    recover(x, out, err, rewind);
    return -1;
}

/* What the input thread asked, done once; then it waits to be let go. */
static void serve_ask(rv_txn_loop *x)
{
    ask_kind ask = x->ask;
    pthread_mutex_unlock(&x->lock);
    int ok;
    if (atomic_load(&x->rewind))
        ok = 0; /* aborted, not rewound: what came out since is not to commit */
    else if (ask == ASK_COMMIT_HOLD)
        ok = cycle(x, 1, 0) == 0;
    else {
        recover(x, RV_TXN_ABORT, "partitions lost", 0);
        ok = 0;
    }
    pthread_mutex_lock(&x->lock);
    x->held = 1;
    x->held_ok = ok;
    pthread_cond_broadcast(&x->cond);
}

static void *txn_loop(void *arg)
{
    rv_txn_loop *x = arg;
    pthread_setname_np(pthread_self(), "rv-txn");
    pthread_mutex_lock(&x->lock);
    while (!x->stop) {
        if (x->ask != ASK_RUN && !x->held)
            serve_ask(x);
        else if (x->ask == ASK_RUN && !atomic_load(&x->rewind)) {
            pthread_mutex_unlock(&x->lock);
            cycle(x, 0, 1);
            pthread_mutex_lock(&x->lock);
        }
        if (!x->stop) { /* a few ms: what is ready is produced soon after */
            struct timespec until = rv_timespec_us(rv_mono_us() + 2000);
            pthread_cond_timedwait(&x->cond, &x->lock, &until);
        }
    }
    pthread_mutex_unlock(&x->lock);
    return NULL;
}

int rv_txn_start(rv_input *in, const rv_config *cfg)
{
    rv_txn_loop *x = calloc(1, sizeof *x);
    if (!x)
        return -1;
    x->in = in;
    x->every_ms = cfg->delivery.transaction_ms;
    x->max_requests = cfg->delivery.transaction_requests;
    /* what waits for the commit counts against max_in_flight: committing
     * at half of it lets the other half be read and scored meanwhile */
    uint32_t half = cfg->rendezvous.max_in_flight / 2 ? cfg->rendezvous.max_in_flight / 2 : 1;
    if (!x->max_requests || x->max_requests > half)
        x->max_requests = half;
    x->began_ms = rv_mono_ms();
    pthread_mutex_init(&x->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&x->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&x->thread, NULL, txn_loop, x) != 0) {
        pthread_cond_destroy(&x->cond);
        pthread_mutex_destroy(&x->lock);
        free(x);
        return -1;
    }
    in->txn = x;
    return 0;
}

void rv_txn_stop(rv_input *in)
{
    rv_txn_loop *x = in ? in->txn : NULL;
    if (!x)
        return;
    pthread_mutex_lock(&x->lock);
    x->stop = 1;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    pthread_join(x->thread, NULL);
    if (x->offsets)
        rd_kafka_topic_partition_list_destroy(x->offsets);
    pthread_cond_destroy(&x->cond);
    pthread_mutex_destroy(&x->lock);
    free(x);
    in->txn = NULL;
}

/* After an abort: every assigned partition is read again from its committed
 * offset; what is in flight from before is forgotten (its records are
 * dropped when it is done). */
static void rewind_input(rv_input *in)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(in->consumer, &parts) || !parts)
        return;
    for (int i = 0; i < parts->cnt; i++) {
        rv_commit_tracker_forget(in->tracker, parts->elems[i].topic, parts->elems[i].partition);
        parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID; /* the committed one */
    }
    rv_input_reassign(in, in->consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Asks the transaction thread to commit (or abort) and then wait; returns
 * whether it committed. */
static int hold(rv_txn_loop *x, ask_kind ask)
{
    pthread_mutex_lock(&x->lock);
    x->ask = ask;
    x->held = 0;
    pthread_cond_broadcast(&x->cond);
    while (!x->held && !x->stop)
        pthread_cond_wait(&x->cond, &x->lock);
    int ok = x->held_ok;
    pthread_mutex_unlock(&x->lock);
    return ok;
}

static void let_go(rv_txn_loop *x)
{
    pthread_mutex_lock(&x->lock);
    x->ask = ASK_RUN;
    x->held = 0;
    atomic_store(&x->rewind, 0); /* the partitions it was for are forgotten */
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
}

int rv_txn_commit(rv_input *in, int now)
{
    rv_txn_loop *x = in->txn;
    if (!x)
        return 0;
    if (atomic_load(&x->rewind)) {
        rewind_input(in);
        pthread_mutex_lock(&x->lock);
        atomic_store(&x->rewind, 0);
        pthread_cond_broadcast(&x->cond);
        pthread_mutex_unlock(&x->lock);
        return -1;
    }
    if (!now)
        return 0;
    int ok = hold(x, ASK_COMMIT_HOLD);
    let_go(x);
    return ok ? 0 : -1;
}

void rv_txn_revoked(rv_input *in, const rd_kafka_topic_partition_list_t *parts, int lost)
{
    rv_txn_loop *x = in->txn;
    if (!x)
        return;
    /* lost: the group went on without us, our offsets would be refused and
     * nothing of the open transaction may show */
    hold(x, lost ? ASK_ABORT_HOLD : ASK_COMMIT_HOLD);
    for (int i = 0; i < parts->cnt; i++)
        rv_commit_tracker_forget(in->tracker, parts->elems[i].topic, parts->elems[i].partition);
    let_go(x);
}
