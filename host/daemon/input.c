/*
 * input.c - the input stage on the main thread: read a request, parse it
 * once, open its mailbox, hand it to every model; stop reading at the
 * in-flight bound; commit what the commit tracker releases. Must never block on a
 * model: dispatch only queues (or sheds).
 */
#include "daemon_internal.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"
#include "notify.h"
#include "records.h"
#include "topics.h"
#include "worker.h"

static void on_request_done(void *ctx, rv_inflight *f)
{
    daemon_state *d = ctx;
    if (rv_output_transactional(d->output))
        rv_txn_request_done(d, f);
    else
        rv_commit_tracker_done(d->tracker, f->req.topic, f->req.partition, f->req.offset,
                               f->commit_epoch);
}

/* A failed commit is said once, then at most every 10 s with how many more. */
static void commit_failed(daemon_state *d, rd_kafka_resp_err_t e, size_t again)
{
    int64_t now = rv_mono_ms();
    d->commit_failures++;
    if (d->commit_warned_ms && now - d->commit_warned_ms < 10000)
        return;
    rv_warn("input",
            "commit failed: %s (%llu failure(s) since the last warning); %zu partition(s) "
            "committed again with the next commit",
            rd_kafka_err2str(e), (unsigned long long)d->commit_failures, again);
    d->commit_warned_ms = now;
    d->commit_failures = 0;
}

/* The outcome of an asynchronous commit, served by the consumer's poll. */
static void on_committed(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    daemon_state *d = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    size_t again = rv_commit_tracker_retry(d->tracker, err, offsets);
    if (err || again)
        commit_failed(d, err ? err : RD_KAFKA_RESP_ERR__PARTIAL, again);
}

int rv_input_commit(daemon_state *d, int sync)
{
    if (rv_output_transactional(d->output))
        return rv_txn_commit(d, sync);
    rd_kafka_topic_partition_list_t *list = rv_commit_tracker_take(d->tracker, sync);
    if (!list)
        return 0;
    rd_kafka_resp_err_t e = rd_kafka_commit(d->consumer, list, !sync);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        commit_failed(d, e, rv_commit_tracker_retry(d->tracker, e, list));
    rd_kafka_topic_partition_list_destroy(list);
    return e && e != RD_KAFKA_RESP_ERR__NO_OFFSET ? -1 : 0;
}

/* With remote models, a partition this host is given is read only once
 * the remote reader has read its scores partition to where it ended: the
 * scores written for the partition's backlog (by scorers that ran while no
 * host read it) are in hand before any of its requests' deadlines start. */
static void hold(daemon_state *d, rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts)
{
    if (!d->remote_reader || parts->cnt == 0)
        return;
    d->held = rd_kafka_topic_partition_list_copy(parts);
    d->held_since_ms = rv_mono_ms();
    rd_kafka_pause_partitions(rk, d->held);
}

/* The longest a partition is held: past it, its requests are read though
 * the scores reader is still behind (their remote answers may come late). */
#define HOLD_MAX_MS 10000

/* Resumes the held partitions whose scores are caught up (all of them past
 * HOLD_MAX_MS), unless every partition is paused for backpressure. */
static void release_held(daemon_state *d)
{
    int64_t waited = rv_mono_ms() - d->held_since_ms;
    rd_kafka_topic_partition_list_t *go = rd_kafka_topic_partition_list_new(d->held->cnt);
    for (int i = d->held->cnt - 1; i >= 0; i--) {
        rd_kafka_topic_partition_t *p = &d->held->elems[i];
        if (!rv_remote_reader_caught_up(d->remote_reader, p->partition) && waited < HOLD_MAX_MS)
            continue;
        if (waited < HOLD_MAX_MS)
            rv_info("input", "reading %s [%d]: its scores partition caught up in %lld ms", p->topic,
                    p->partition, (long long)waited);
        else
            rv_warn("input",
                    "reading %s [%d]: its scores partition not caught up in %d ms; remote answers "
                    "for its backlog may come past their deadlines",
                    p->topic, p->partition, HOLD_MAX_MS);
        rd_kafka_topic_partition_list_add(go, p->topic, p->partition);
        rd_kafka_topic_partition_list_del_by_idx(d->held, i);
    }
    if (!d->paused && go->cnt > 0)
        rd_kafka_resume_partitions(d->consumer, go);
    rd_kafka_topic_partition_list_destroy(go);
    if (d->held->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(d->held);
        d->held = NULL;
    }
}

static void unhold(daemon_state *d)
{
    if (d->held)
        rd_kafka_topic_partition_list_destroy(d->held);
    d->held = NULL;
}

void rv_input_reassign(daemon_state *d, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_assign(rk, parts);
    d->paused = 0;
    unhold(d);
    hold(d, rk, parts);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    daemon_state *d = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++)
            rv_info("input", "assigned %s [%d]", parts->elems[i].topic, parts->elems[i].partition);
        rv_input_reassign(d, rk, parts);
        if (!d->ready_notified) /* the group joined: serving */
            rv_notify_ready(d->gen);
        d->ready_notified = 1;
        return;
    }
    /* Revoked: commit what is done; what is still in flight will be read
     * again by the new owner, so forget it here. */
    if (rv_output_transactional(d->output))
        rv_txn_revoked(d, parts, rd_kafka_assignment_lost(rk));
    else
        rv_input_commit(d, 1);
    for (int i = 0; i < parts->cnt; i++) {
        rv_info("input", "revoked %s [%d]", parts->elems[i].topic, parts->elems[i].partition);
        rv_commit_tracker_forget(d->tracker, parts->elems[i].topic, parts->elems[i].partition);
    }
    unhold(d);
    rd_kafka_assign(rk, NULL);
}

/* ---- input ---- */

static void dead_letter(daemon_state *d, rv_inflight *f, const char *reason)
{
    /* the id may be what is wrong with it: at most 64 bytes of it logged */
    rv_warn("input", "%s %.64s%s (%s [%d] @%lld): %s",
            d->opts->scorer_model ? "not scored" : "dead-letter", f->id,
            strlen(f->id) > 64 ? "..." : "", f->req.topic, f->req.partition,
            (long long)f->req.offset, reason);
    if (d->opts->scorer_model) { /* its host sends it to dead-letter, once */
        atomic_fetch_add(&d->stats->dead_letters, 1);
        rv_inflight_release(f);
        return;
    }
    rd_kafka_headers_t *src = NULL;
    if (rd_kafka_message_headers(f->msg, &src) != RD_KAFKA_RESP_ERR_NO_ERROR)
        src = NULL;
    rd_kafka_headers_t *h = rv_record_dead_letter_headers(src, reason, &f->req);
    /* the original bytes, untouched */
    rv_inflight_send(d->output, f, RV_STREAM_DEAD_LETTER, NULL, RD_KAFKA_PARTITION_UA, f->req.key,
                     f->req.key_len, f->req.body, f->req.body_len, h);
    atomic_fetch_add(&d->stats->dead_letters, 1);
    rv_inflight_release(f); /* the input's reference */
}

/* A request held and registered: its body checked and parsed. 0, or -1
 * when it went to dead-letter. */
static int admit(daemon_state *d, rv_generation *gen, rv_inflight *f)
{
    const rv_config *cfg = gen->cfg;
    char reason[RV_ERR_SIZE];
    size_t id_len = strlen(f->id);
    if (id_len > cfg->input.max_id_bytes) {
        snprintf(reason, sizeof reason, "request id of %zu bytes exceeds input.max_id_bytes (%u)",
                 id_len, cfg->input.max_id_bytes);
        dead_letter(d, f, reason);
        return -1;
    }
    if (f->req.body_len > cfg->input.max_body_bytes) {
        snprintf(reason, sizeof reason, "body of %zu bytes exceeds input.max_body_bytes (%u)",
                 f->req.body_len, cfg->input.max_body_bytes);
        dead_letter(d, f, reason);
        return -1;
    }
    if (rv_features_parse(gen->features, f->req.body, f->req.body_len, f->features, reason,
                          sizeof reason) != 0) {
        dead_letter(d, f, reason);
        return -1;
    }
    rv_recent_add(d->recent, f->id, f->req.body, f->req.body_len);
    return 0;
}

void rv_input_handle(daemon_state *d, rd_kafka_message_t **msgs, size_t n)
{
    rv_generation *gen = d->gen;
    rv_inflight *fs[RV_INPUT_BATCH];
    rv_offset_ref offs[RV_INPUT_BATCH];
    size_t k = 0;
    rv_generation_ref_n(gen, n); /* one for each request, taken over below */
    rv_read_time read = {rv_mono_us(), rv_real_us()};
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *msg = msgs[i];
        if (msg->err) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                rv_warn("input", "consumer: %s", rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            rv_generation_unref(gen);
        } else if (!(fs[k] = rv_inflight_new(msg, gen, on_request_done, d, &read))) {
            /* Cannot even hold the request: leave it uncommitted so that it
             * is read again after a restart, and say so. */
            rv_error("input", "out of memory for a request at %s [%d] @%lld",
                     rd_kafka_topic_name(msg->rkt), msg->partition, (long long)msg->offset);
            rd_kafka_message_destroy(msg);
        } else {
            offs[k] = (rv_offset_ref){fs[k]->req.topic, fs[k]->req.partition, fs[k]->req.offset, 0};
            k++;
        }
    }
    rv_commit_tracker_add_batch(d->tracker, offs, k);
    atomic_fetch_add(&d->stats->requests, k);
    size_t ok = 0, n_fresh = 0;
    rv_inflight *fresh[RV_INPUT_BATCH];
    uint32_t max_age = gen->cfg->input.max_age_ms;
    for (size_t i = 0; i < k; i++) {
        rv_inflight *f = fs[i];
        f->commit_epoch = offs[i].epoch;
        if (admit(d, gen, f) != 0)
            continue;
        fs[ok++] = f;
        /* a backlog is answered at once, by the default, not scored */
        f->expired = max_age && f->req.timestamp_ms >= 0 &&
                     read.real_us / 1000 - f->req.timestamp_ms > (int64_t)max_age;
        if (!f->expired)
            fresh[n_fresh++] = f;
    }
    /* the input's references pass to the mailboxes; then every model gets
     * the batch, with one wake per worker (the decoy every request, the
     * others the ones not expired) */
    rv_rendezvous_open(d->rz, fs, ok);
    for (size_t i = 0; i < gen->n_models; i++) {
        int all = gen->models[i]->is_decoy;
        rv_workers_dispatch(gen->models[i]->workers, all ? fs : fresh, all ? ok : n_fresh, i);
    }
}

static void set_paused(daemon_state *d, int pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(d->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    if (pause)
        rd_kafka_pause_partitions(d->consumer, parts);
    else {
        for (int i = 0; d->held && i < d->held->cnt; i++) /* still held: stay paused */
            rd_kafka_topic_partition_list_del(parts, d->held->elems[i].topic,
                                              d->held->elems[i].partition);
        rd_kafka_resume_partitions(d->consumer, parts);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    d->paused = pause;
}

uint64_t rv_input_in_flight(void *ctx)
{
    daemon_state *d = ctx;
    return rv_commit_tracker_pending(d->tracker);
}

int64_t rv_input_lag(void *ctx)
{
    daemon_state *d = ctx;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (!d->consumer || rd_kafka_assignment(d->consumer, &parts) || !parts)
        return -1;
    if (parts->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(parts);
        return -1;
    }
    rd_kafka_position(d->consumer, parts);
    int64_t lag = 0;
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        /* the cached watermarks come with fetch responses: none yet means
         * the partition is assigned but not being read yet */
        if (rd_kafka_get_watermark_offsets(d->consumer, parts->elems[i].topic,
                                           parts->elems[i].partition, &lo, &hi) ||
            hi < 0) {
            lag = -1;
            break;
        }
        int64_t pos = parts->elems[i].offset >= 0 ? parts->elems[i].offset : lo;
        if (hi > pos)
            lag += hi - pos;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return lag;
}

rd_kafka_t *rv_input_start(daemon_state *d, const rv_config *cfg, const char *bootstrap)
{
    char err[RV_ERR_SIZE];
    rv_group_callbacks cb = {.rebalance = on_rebalance, .committed = on_committed, .opaque = d};
    rd_kafka_t *rk = rv_consumer_new(cfg, bootstrap, RV_CONSUMER_GROUP, cfg->streams.group, NULL, 0,
                                     &cb, err, sizeof err);
    if (!rk) {
        rv_error("streams", "%s", err);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, cfg->streams.requests, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        rv_error("streams", "cannot subscribe to %s: %s", cfg->streams.requests,
                 rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }
    rv_info("streams", "consuming %s (%d partitions) in group %s", cfg->streams.requests,
            d->request_partitions, cfg->streams.group);
    d->queue = rd_kafka_queue_get_consumer(rk);
    return rk;
}

int rv_input_drain(daemon_state *d, int timeout_ms)
{
    int64_t until = rv_mono_ms() + timeout_ms;
    uint64_t pending;
    while ((pending = rv_commit_tracker_pending(d->tracker)) > 0 && rv_mono_ms() < until) {
        rv_input_commit(d, 0);
        rv_sleep_ms(5);
    }
    if (pending)
        rv_error("shutdown",
                 "%llu request(s) still in flight after %d ms: not committed, "
                 "they will be read again",
                 (unsigned long long)pending, timeout_ms);
    /* every partition's offset, once more, synchronously: an asynchronous
     * commit that failed during the drain has not been reported yet */
    int committed;
    while ((committed = rv_input_commit(d, 1)) != 0 && rv_mono_ms() < until)
        rv_sleep_ms(100);
    if (committed != 0)
        rv_error("shutdown", "the last commit failed: what was answered since the last "
                             "commit that succeeded will be read again");
    return pending || committed != 0;
}

/* Blocked at the bound for this long (a stuck output: nothing gets
 * acknowledged), the partitions are paused and polling goes on, so that
 * rebalances are served and the group does not drop us. */
#define BLOCKED_PAUSE_MS 1000

/* At max_in_flight the input stops reading and waits for requests to
 * finish. What the broker has already sent stays in librdkafka's bounded
 * prefetch queue (queued.max.messages.kbytes) and is read as soon as there
 * is room: pausing instead would throw that queue away and fetch it again. */
size_t rv_input_may_read(daemon_state *d, uint64_t max_in_flight)
{
    if (d->held)
        release_held(d);
    uint64_t pending = rv_commit_tracker_pending(d->tracker);
    if (pending < max_in_flight) {
        d->blocked_since_ms = 0;
        if (d->paused)
            set_paused(d, 0);
        uint64_t room = max_in_flight - pending;
        return room < RV_INPUT_BATCH ? (size_t)room : RV_INPUT_BATCH;
    }
    int64_t now = rv_mono_ms();
    if (!d->blocked_since_ms)
        d->blocked_since_ms = now;
    if (now - d->blocked_since_ms < BLOCKED_PAUSE_MS) {
        if ((pending = rv_commit_tracker_wait_below(d->tracker, max_in_flight, 10)) >=
            max_in_flight)
            return 0;
        d->blocked_since_ms = 0; /* moving: at the bound, not stuck */
        return 1;
    }
    if (!d->paused) {
        rv_warn("input",
                "%llu requests in flight for %d ms (rendezvous.max_in_flight): partitions "
                "paused until they are acknowledged",
                (unsigned long long)pending, BLOCKED_PAUSE_MS);
        set_paused(d, 1);
    }
    return 1; /* paused partitions give nothing; rebalances are served */
}

size_t rv_input_read(daemon_state *d, rd_kafka_message_t **msgs, size_t max)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(d->consumer, 50);
    if (!m)
        return 0;
    msgs[0] = m;
    /* then what is already here, without waiting for more */
    ssize_t more = max > 1 ? rd_kafka_consume_batch_queue(d->queue, 0, msgs + 1, max - 1) : 0;
    return 1 + (size_t)(more > 0 ? more : 0);
}
