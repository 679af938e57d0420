/*
 * input.c - the input stage on the main thread: read a request, parse it
 * once, open its mailbox, hand it to every model; stop reading at the
 * in-flight bound; commit what the commit tracker releases. Must never block on a
 * model: dispatch only queues (or sheds).
 */
#include "input_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"
#include "records.h"
#include "streams.h"
#include "topics.h"
#include "worker.h"

static void on_request_done(void *ctx, rv_inflight *f)
{
    rv_input *in = ctx;
    if (rv_output_transactional(in->output))
        rv_txn_request_done(in, f);
    else
        rv_commit_tracker_done(in->tracker, f->req.topic, f->req.partition, f->req.offset,
                               f->commit_epoch);
}

/* A failed commit is said once, then at most every 10 s with how many more. */
static void commit_failed(rv_input *in, rd_kafka_resp_err_t e, size_t again)
{
    int64_t now = rv_mono_ms();
    in->commit_failures++;
    if (in->commit_warned_ms && now - in->commit_warned_ms < 10000)
        return;
    rv_warn("input",
            "commit failed: %s (%llu failure(s) since the last warning); %zu partition(s) "
            "committed again with the next commit",
            rd_kafka_err2str(e), (unsigned long long)in->commit_failures, again);
    in->commit_warned_ms = now;
    in->commit_failures = 0;
}

/* The outcome of an asynchronous commit, served by the consumer's poll. */
static void on_committed(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    rv_input *in = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    size_t again = rv_commit_tracker_retry(in->tracker, err, offsets);
    if (err || again)
        commit_failed(in, err ? err : RD_KAFKA_RESP_ERR__PARTIAL, again);
}

int rv_input_commit(rv_input *in, int sync)
{
    if (rv_output_transactional(in->output))
        return rv_txn_commit(in, sync);
    rd_kafka_topic_partition_list_t *list = rv_commit_tracker_take(in->tracker, sync);
    if (!list)
        return 0;
    rd_kafka_resp_err_t e = rd_kafka_commit(in->consumer, list, !sync);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        commit_failed(in, e, rv_commit_tracker_retry(in->tracker, e, list));
    rd_kafka_topic_partition_list_destroy(list);
    return e && e != RD_KAFKA_RESP_ERR__NO_OFFSET ? -1 : 0;
}

/* With remote models, a partition this host is given is read only once
 * the remote reader has read its scores partition to where it ended: the
 * scores written for the partition's backlog (by scorers that ran while no
 * host read it) are in hand before any of its requests' deadlines start. */
static void hold(rv_input *in, rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts)
{
    if (!in->remote_reader || parts->cnt == 0)
        return;
    in->held = rd_kafka_topic_partition_list_copy(parts);
    in->held_since_ms = rv_mono_ms();
    rd_kafka_pause_partitions(rk, in->held);
}

/* The longest a partition is held: past it, its requests are read though
 * the scores reader is still behind (their remote answers may come late). */
#define HOLD_MAX_MS 10000

/* Resumes the held partitions whose scores are caught up (all of them past
 * HOLD_MAX_MS), unless every partition is paused for backpressure. */
static void release_held(rv_input *in)
{
    int64_t waited = rv_mono_ms() - in->held_since_ms;
    rd_kafka_topic_partition_list_t *go = rd_kafka_topic_partition_list_new(in->held->cnt);
    for (int i = in->held->cnt - 1; i >= 0; i--) {
        rd_kafka_topic_partition_t *p = &in->held->elems[i];
        if (!rv_remote_reader_caught_up(in->remote_reader, p->partition) && waited < HOLD_MAX_MS)
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
        rd_kafka_topic_partition_list_del_by_idx(in->held, i);
    }
    if (!in->paused && go->cnt > 0)
        rd_kafka_resume_partitions(in->consumer, go);
    rd_kafka_topic_partition_list_destroy(go);
    if (in->held->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(in->held);
        in->held = NULL;
    }
}

static void unhold(rv_input *in)
{
    if (in->held)
        rd_kafka_topic_partition_list_destroy(in->held);
    in->held = NULL;
}

/* Before the assignment changes: librdkafka 2.0 keeps the application's
 * pause on a partition through an unassignment and a new assignment, so a
 * partition paused for backpressure (or held) would never be read again.
 * Resumed while still assigned, the new assignment then fetches from where
 * it is told, as for any partition. */
static void resume_before_unassign(rv_input *in, rd_kafka_t *rk)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if ((in->paused || in->held) && rd_kafka_assignment(rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        parts) {
        rd_kafka_resume_partitions(rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);
    }
    in->paused = 0;
    unhold(in);
}

void rv_input_reassign(rv_input *in, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    resume_before_unassign(in, rk);
    rd_kafka_assign(rk, parts);
    hold(in, rk, parts);
}

/* A takeover of another site's requests (deps.start_offsets): a partition
 * starts where that site's hosts had got to, as the mirror translated it,
 * or where its own group committed when that is later (a takeover started
 * again while the site is still lost). A second loss of the site after a
 * failback so starts at its new checkpoint, not where the first takeover
 * ended. */
static void start_where_told(rv_input *in, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    if (!in->start_offsets)
        return;
    if (rd_kafka_committed(rk, parts, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        rv_warn("input", "the group's committed offsets could not be read: starting at the "
                         "other site's");
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *t = &parts->elems[i];
        if (t->partition < 0 || t->partition >= in->n_start_offsets)
            continue;
        int64_t at = in->start_offsets[t->partition];
        if (t->offset >= 0 && t->offset >= at) {
            rv_info("input", "%s [%d] from %lld, where this group committed", t->topic,
                    t->partition, (long long)t->offset);
            continue;
        }
        t->offset = at >= 0 ? at : RD_KAFKA_OFFSET_BEGINNING;
        rv_info("input", "%s [%d] from %s", t->topic, t->partition,
                at >= 0 ? "the lost site's checkpoint" : "its beginning (no checkpoint)");
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    rv_input *in = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++)
            rv_info("input", "assigned %s [%d]", parts->elems[i].topic, parts->elems[i].partition);
        start_where_told(in, rk, parts);
        rv_input_reassign(in, rk, parts);
        if (!in->ready_notified && in->on_ready) /* the group joined: serving */
            in->on_ready(in->ctx);
        in->ready_notified = 1;
        return;
    }
    /* Revoked: commit what is done; what is still in flight will be read
     * again by the new owner, so forget it here. */
    if (rv_output_transactional(in->output))
        rv_txn_revoked(in, parts, rd_kafka_assignment_lost(rk));
    else
        rv_input_commit(in, 1);
    for (int i = 0; i < parts->cnt; i++) {
        rv_info("input", "revoked %s [%d]", parts->elems[i].topic, parts->elems[i].partition);
        rv_commit_tracker_forget(in->tracker, parts->elems[i].topic, parts->elems[i].partition);
    }
    resume_before_unassign(in, rk);
    rd_kafka_assign(rk, NULL);
}

/* ---- input ---- */

static void dead_letter(rv_input *in, rv_inflight *f, const char *reason)
{
    /* the id may be what is wrong with it: at most 64 bytes of it logged */
    rv_warn("input", "%s %.64s%s (%s [%d] @%lld): %s", in->scorer ? "not scored" : "dead-letter",
            f->id, strlen(f->id) > 64 ? "..." : "", f->req.topic, f->req.partition,
            (long long)f->req.offset, reason);
    if (in->scorer) { /* its host sends it to dead-letter, once */
        atomic_fetch_add(&in->stats->dead_letters, 1);
        rv_inflight_release(f);
        return;
    }
    rd_kafka_headers_t *src = NULL;
    if (rd_kafka_message_headers(f->msg, &src) != RD_KAFKA_RESP_ERR_NO_ERROR)
        src = NULL;
    rd_kafka_headers_t *h = rv_record_dead_letter_headers(src, reason, &f->req);
    /* the original bytes, untouched */
    rv_inflight_send(in->output, f, RV_STREAM_DEAD_LETTER, NULL, RD_KAFKA_PARTITION_UA, f->req.key,
                     f->req.key_len, f->req.body, f->req.body_len, h);
    atomic_fetch_add(&in->stats->dead_letters, 1);
    rv_inflight_release(f); /* the input's reference */
}

/* The model an rv-model header names (a direct call: that model alone
 * scores the request, its answer is the result), or -1: none that scores. */
static int direct_model(const rv_generation *gen, const rv_inflight *f)
{
    for (size_t i = 0; i < gen->n_models; i++) {
        const rv_model *m = gen->models[i];
        if (!m->is_decoy && strlen(m->name) == f->direct_len &&
            memcmp(m->name, f->direct_name, f->direct_len) == 0)
            return (int)i;
    }
    return -1;
}

/* A request held and registered: its body checked and parsed. 0, or -1
 * when it went to dead-letter. */
static int admit(rv_input *in, rv_generation *gen, rv_inflight *f)
{
    const rv_config *cfg = gen->cfg;
    char reason[RV_ERR_SIZE];
    if (in->answered_elsewhere && /* committed, not answered */
        rv_idset_has(in->answered_elsewhere, f->id, strlen(f->id))) {
        atomic_fetch_add_explicit(&in->skipped, 1, memory_order_relaxed);
        rv_inflight_release(f);
        return -1;
    }
    size_t id_len = strlen(f->id);
    if (id_len > cfg->input.max_id_bytes) {
        snprintf(reason, sizeof reason, "request id of %zu bytes exceeds input.max_id_bytes (%u)",
                 id_len, cfg->input.max_id_bytes);
        dead_letter(in, f, reason);
        return -1;
    }
    if (f->req.body_len > cfg->input.max_body_bytes) {
        snprintf(reason, sizeof reason, "body of %zu bytes exceeds input.max_body_bytes (%u)",
                 f->req.body_len, cfg->input.max_body_bytes);
        dead_letter(in, f, reason);
        return -1;
    }
    if (rv_features_parse(gen->features, f->req.body, f->req.body_len, f->features, reason,
                          sizeof reason) != 0) {
        dead_letter(in, f, reason);
        return -1;
    }
    if (f->direct_name && (f->direct = direct_model(gen, f)) < 0) {
        if (in->scorer) { /* a direct call to another model: not this one's */
            rv_inflight_release(f);
            return -1;
        }
        snprintf(reason, sizeof reason, "rv-model names no model of service %s: %.*s", cfg->service,
                 (int)(f->direct_len < 128 ? f->direct_len : 128), f->direct_name);
        dead_letter(in, f, reason);
        return -1;
    }
    rv_recent_add(in->recent, f->id, f->req.body, f->req.body_len);
    return 0;
}

void rv_input_handle(rv_input *in, rv_generation *gen, rd_kafka_message_t **msgs, size_t n)
{
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
        } else if (!(fs[k] = rv_inflight_new(msg, gen, on_request_done, in, &read))) {
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
    rv_commit_tracker_add_batch(in->tracker, offs, k);
    atomic_fetch_add(&in->stats->requests, k);
    size_t ok = 0, n_fresh = 0;
    rv_inflight *fresh[RV_INPUT_BATCH];
    size_t n_direct = 0;
    uint32_t max_age = gen->cfg->input.max_age_ms;
    for (size_t i = 0; i < k; i++) {
        rv_inflight *f = fs[i];
        f->commit_epoch = offs[i].epoch;
        if (admit(in, gen, f) != 0)
            continue;
        fs[ok++] = f;
        /* a backlog is answered at once, by the default, not scored */
        f->expired = max_age && f->req.timestamp_ms >= 0 &&
                     read.real_us / 1000 - f->req.timestamp_ms > (int64_t)max_age;
        if (!f->expired) {
            fresh[n_fresh++] = f;
            n_direct += f->direct >= 0;
        }
    }
    /* the input's references pass to the mailboxes; then every model gets
     * the batch, with one wake per worker (the decoy every request, the
     * others the ones not expired, a direct call its model alone) */
    rv_rendezvous_open(in->rz, fs, ok);
    for (size_t i = 0; i < gen->n_models; i++) {
        rv_inflight **to = fresh, *mine[RV_INPUT_BATCH];
        size_t n_to = n_fresh;
        if (gen->models[i]->is_decoy) {
            to = fs;
            n_to = ok;
        } else if (n_direct) { /* a direct call goes to its model alone */
            n_to = 0;
            for (size_t j = 0; j < n_fresh; j++)
                if (fresh[j]->direct < 0 || fresh[j]->direct == (int)i)
                    mine[n_to++] = fresh[j];
            to = mine;
        }
        rv_workers_dispatch(gen->models[i]->workers, to, n_to, i);
    }
}

static void set_paused(rv_input *in, int pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(in->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    if (pause)
        rd_kafka_pause_partitions(in->consumer, parts);
    else {
        for (int i = 0; in->held && i < in->held->cnt; i++) /* still held: stay paused */
            rd_kafka_topic_partition_list_del(parts, in->held->elems[i].topic,
                                              in->held->elems[i].partition);
        rd_kafka_resume_partitions(in->consumer, parts);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    in->paused = pause;
}

uint64_t rv_input_in_flight(rv_input *in)
{
    return rv_commit_tracker_pending(in->tracker);
}

uint64_t rv_input_skipped(rv_input *in)
{
    return atomic_load_explicit(&in->skipped, memory_order_relaxed);
}

int64_t rv_input_lag(rv_input *in)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    /* Lost (the group session ran out while the coordinator was away): the
     * partitions still look assigned until the revocation reaches the poll
     * loop, which waits for the commit in flight, but they are not read. */
    if (!in || !in->consumer || rd_kafka_assignment_lost(in->consumer) ||
        rd_kafka_assignment(in->consumer, &parts) || !parts)
        return -1;
    if (parts->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(parts);
        return -1;
    }
    rd_kafka_position(in->consumer, parts);
    int64_t lag = 0;
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        /* the cached watermarks come with fetch responses: none yet means
         * the partition is assigned but not being read yet */
        if (rd_kafka_get_watermark_offsets(in->consumer, parts->elems[i].topic,
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

rv_input *rv_input_start(const rv_input_deps *deps, const rv_config *cfg, const char *bootstrap)
{
    char err[RV_ERR_SIZE];
    rv_input *in = calloc(1, sizeof *in);
    if (!in) {
        rv_error("input", "out of memory");
        return NULL;
    }
    in->output = deps->output;
    in->tracker = deps->tracker;
    in->stats = deps->stats;
    in->rz = deps->rz;
    in->recent = deps->recent;
    in->scorer = deps->scorer;
    in->answered_elsewhere = deps->answered_elsewhere;
    in->start_offsets = deps->start_offsets;
    in->n_start_offsets = deps->n_start_offsets;
    in->request_partitions = deps->request_partitions;
    in->on_ready = deps->on_ready;
    in->ctx = deps->ctx;
    rv_group_callbacks cb = {.rebalance = on_rebalance, .committed = on_committed, .opaque = in};
    rd_kafka_t *rk = rv_consumer_new(cfg, bootstrap, RV_CONSUMER_GROUP, cfg->streams.group, NULL, 0,
                                     &cb, err, sizeof err);
    if (!rk) {
        rv_error("streams", "%s", err);
        free(in);
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
        free(in);
        return NULL;
    }
    rv_info("streams", "consuming %s (%d partitions) in group %s", cfg->streams.requests,
            in->request_partitions, cfg->streams.group);
    in->consumer = rk;
    in->queue = rd_kafka_queue_get_consumer(rk);
    return in;
}

rd_kafka_t *rv_input_consumer(const rv_input *in)
{
    return in ? in->consumer : NULL;
}

void rv_input_hold_for(rv_input *in, rv_remote_reader *rr)
{
    if (in)
        in->remote_reader = rr;
}

void rv_input_close(rv_input *in)
{
    if (!in || in->closed)
        return;
    in->closed = 1;
    uint64_t skipped = atomic_load(&in->skipped);
    if (skipped)
        rv_info("input", "%llu request(s) not answered: another site had",
                (unsigned long long)skipped);
    in->remote_reader = NULL; /* nothing more is held for it */
    if (in->queue)
        rd_kafka_queue_destroy(in->queue);
    /* its revocation commits (exactly once: and holds the transaction
     * thread, which may still read the pointer until rv_txn_stop) */
    rd_kafka_consumer_close(in->consumer);
    rd_kafka_destroy(in->consumer);
    unhold(in);
}

void rv_input_free(rv_input *in)
{
    if (!in)
        return;
    rv_input_close(in);
    free(in);
}

int rv_input_drain(rv_input *in, int timeout_ms)
{
    int64_t until = rv_mono_ms() + timeout_ms;
    uint64_t pending;
    while ((pending = rv_commit_tracker_pending(in->tracker)) > 0 && rv_mono_ms() < until) {
        rv_input_commit(in, 0);
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
    while ((committed = rv_input_commit(in, 1)) != 0 && rv_mono_ms() < until)
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
size_t rv_input_may_read(rv_input *in, uint64_t max_in_flight)
{
    if (in->held)
        release_held(in);
    uint64_t pending = rv_commit_tracker_pending(in->tracker);
    if (pending < max_in_flight) {
        in->blocked_since_ms = 0;
        if (in->paused)
            set_paused(in, 0);
        uint64_t room = max_in_flight - pending;
        return room < RV_INPUT_BATCH ? (size_t)room : RV_INPUT_BATCH;
    }
    int64_t now = rv_mono_ms();
    if (!in->blocked_since_ms)
        in->blocked_since_ms = now;
    if (now - in->blocked_since_ms < BLOCKED_PAUSE_MS) {
        if ((pending = rv_commit_tracker_wait_below(in->tracker, max_in_flight, 10)) >=
            max_in_flight)
            return 0;
        in->blocked_since_ms = 0; /* moving: at the bound, not stuck */
        return 1;
    }
    if (!in->paused) {
        rv_warn("input",
                "%llu requests in flight for %d ms (rendezvous.max_in_flight): partitions "
                "paused until they are acknowledged",
                (unsigned long long)pending, BLOCKED_PAUSE_MS);
        set_paused(in, 1);
    }
    return 1; /* paused partitions give nothing; rebalances are served */
}

/* librdkafka 2.0 stops fetching a partition whose prefetch queue is at its
 * bound (queued.max.messages.kbytes) and looks again only when its broker
 * thread wakes: for a message, a request or its 1 s timeout. A host that
 * drained a full queue would then wait up to a second for more; with large
 * requests that was most of the time (a quarter of the throughput at 15 kB).
 * Asking the leader of one assigned partition for its offsets is a request
 * on that broker's thread, which then fetches again. */
static void wake_fetcher(rv_input *in)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(in->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    if (parts->cnt > 0) {
        const rd_kafka_topic_partition_t *p = &parts->elems[in->wake_next++ % parts->cnt];
        int64_t lo, hi;
        rd_kafka_query_watermark_offsets(in->consumer, p->topic, p->partition, &lo, &hi, 100);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

size_t rv_input_read(rv_input *in, rd_kafka_message_t **msgs, size_t max)
{
    /* after a full batch: a short wait, then wake the fetcher (above) */
    rd_kafka_message_t *m = rd_kafka_consumer_poll(in->consumer, in->full_read ? 2 : 50);
    if (!m) {
        int64_t now = rv_mono_ms();
        if (in->full_read && (in->paused || in->held)) {
            in->full_read = 0; /* paused: nothing to fetch */
        } else if (in->full_read && now - in->woke_ms >= 10) {
            wake_fetcher(in);
            in->woke_ms = now;
            in->full_read = 0;
        }
        return 0;
    }
    msgs[0] = m;
    /* then what is already here, without waiting for more */
    ssize_t more = max > 1 ? rd_kafka_consume_batch_queue(in->queue, 0, msgs + 1, max - 1) : 0;
    size_t n = 1 + (size_t)(more > 0 ? more : 0);
    if (n == max)
        in->full_read = 1;
    return n;
}
