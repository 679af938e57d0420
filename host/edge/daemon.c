/*
 * daemon.c - the serve loop: start-up in dependency order, the input loop
 * with backpressure and commits, and the drain on SIGTERM. Must never do
 * heavy work in a signal handler: handlers set flags, this loop acts.
 */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canary_monitor.h"
#include "clock.h"
#include "commit_tracker.h"
#include "control.h"
#include "generation.h"
#include "http.h"
#include "inflight.h"
#include "errbuf.h"
#include "log.h"
#include "output.h"
#include "records.h"
#include "pipeline.h"
#include "reload.h"
#include "rendezvous.h"
#include "stats.h"
#include "streams.h"
#include "watch.h"
#include "worker.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop(int sig) { stop_requested = sig; }
static void on_reload(int sig) { reload_requested = 1; }

static void install_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_reload;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

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
    rd_kafka_t *control; /* every control record, no group */
    int paused;
    rv_reloader *reloader;
    rv_watch *watch;
    rv_http *http;
    pthread_mutex_t gen_lock; /* for readers off the control loop (http) */
} daemon_state;

/* ---- delivery and commits ---- */

static void send_alert(void *ctx, const char *key, const void *record, size_t len)
{
    rv_output_send(ctx, RV_STREAM_ALERTS, NULL, RD_KAFKA_PARTITION_UA, key, strlen(key), record,
                   len, NULL, NULL);
}

static void on_request_done(void *ctx, const rv_inflight *f)
{
    daemon_state *d = ctx;
    rv_commit_tracker_done(d->tracker, f->req.topic, f->req.partition, f->req.offset,
                           f->commit_epoch);
}

static void commit_ready(daemon_state *d, int sync)
{
    rd_kafka_topic_partition_list_t *list = rv_commit_tracker_take(d->tracker);
    if (!list)
        return;
    rd_kafka_resp_err_t e = rd_kafka_commit(d->consumer, list, !sync);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        rv_warn("input", "commit failed: %s (will be retried with later offsets)",
                rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(list);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    daemon_state *d = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++)
            rv_info("input", "assigned %s [%d]", parts->elems[i].topic,
                    parts->elems[i].partition);
        rd_kafka_assign(rk, parts);
        d->paused = 0;
        return;
    }
    /* Revoked: commit what is done; what is still in flight will be read
     * again by the new owner (at-least-once), so forget it here. */
    commit_ready(d, 1);
    for (int i = 0; i < parts->cnt; i++) {
        rv_info("input", "revoked %s [%d]", parts->elems[i].topic, parts->elems[i].partition);
        rv_commit_tracker_forget(d->tracker, parts->elems[i].topic, parts->elems[i].partition);
    }
    rd_kafka_assign(rk, NULL);
}

/* ---- input ---- */

static void dead_letter(daemon_state *d, rv_inflight *f, const char *reason)
{
    rv_warn("input", "dead-letter %s (%s [%d] @%lld): %s", f->id, f->req.topic,
            f->req.partition, (long long)f->req.offset, reason);
    rd_kafka_headers_t *src = NULL;
    if (rd_kafka_message_headers(f->msg, &src) != RD_KAFKA_RESP_ERR_NO_ERROR)
        src = NULL;
    rd_kafka_headers_t *h = rv_record_dead_letter_headers(src, reason, &f->req);
    /* the original bytes, untouched */
    rv_inflight_send(d->output, f, RV_STREAM_DEAD_LETTER, NULL, RD_KAFKA_PARTITION_UA,
                     f->req.key, f->req.key_len, f->req.body, f->req.body_len, h);
    atomic_fetch_add(&d->stats->dead_letters, 1);
    rv_inflight_release(f); /* the input's reference */
}

static void handle_message(daemon_state *d, rd_kafka_message_t *msg)
{
    rv_generation *gen = d->gen;
    rv_inflight *f = rv_inflight_new(msg, gen, on_request_done, d);
    if (!f) {
        /* Cannot even hold the request: leave it uncommitted so that it is
         * read again after a restart, and say so. */
        rv_error("input", "out of memory for a request at %s [%d] @%lld",
                 rd_kafka_topic_name(msg->rkt), msg->partition, (long long)msg->offset);
        rd_kafka_message_destroy(msg);
        return;
    }
    f->commit_epoch = rv_commit_tracker_add(d->tracker, f->req.topic, f->req.partition,
                                            f->req.offset);
    atomic_fetch_add(&d->stats->requests, 1);
    const rv_config *cfg = gen->cfg;
    char reason[RV_ERR_SIZE];
    if (f->req.body_len > cfg->input.max_body_bytes) {
        snprintf(reason, sizeof reason, "body of %zu bytes exceeds input.max_body_bytes (%u)",
                 f->req.body_len, cfg->input.max_body_bytes);
        dead_letter(d, f, reason);
        return;
    }
    if (rv_features_parse(gen->features, f->req.body, f->req.body_len, f->features, reason,
                          sizeof reason) != 0) {
        dead_letter(d, f, reason);
        return;
    }
    rv_recent_add(d->recent, f->id, f->req.body, f->req.body_len);
    rv_rendezvous_open(d->rz, f); /* the input's reference passes to the mailbox */
    for (size_t i = 0; i < gen->n_models; i++)
        rv_workers_dispatch(gen->models[i]->workers, f, i);
}

static void set_paused(daemon_state *d, int pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(d->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    if (pause)
        rd_kafka_pause_partitions(d->consumer, parts);
    else
        rd_kafka_resume_partitions(d->consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    d->paused = pause;
}

/* ---- start-up and shutdown ---- */

/* Puts g in service: from now on the input hands new requests to it.
 * Requests already dispatched finish on the generation they started on. */
static void swap_generation(daemon_state *d, rv_generation *g, const char *why)
{
    rv_generation *old = d->gen;
    for (size_t i = 0; i < g->n_models; i++) {
        rv_model *m = g->models[i];
        if (atomic_exchange(&m->state, RV_MODEL_LIVE) != RV_MODEL_LIVE)
            rv_info("models", "%s version %s live (%u worker(s))", m->name, m->version,
                    m->n_instances);
    }
    for (size_t i = 0; old && i < old->n_models; i++)
        if (rv_generation_find(g, old->models[i]->name) < 0 ||
            g->models[rv_generation_find(g, old->models[i]->name)] != old->models[i]) {
            atomic_store(&old->models[i]->state, RV_MODEL_DRAINING);
            rv_info("models", "%s version %s draining", old->models[i]->name,
                    old->models[i]->version);
        }
    char sched[512] = "";
    for (size_t i = 0; i < g->n_schedule; i++)
        snprintf(sched + strlen(sched), sizeof sched - strlen(sched), "%s%s (%u ms)",
                 i ? ", " : "", g->models[g->schedule[i]]->name, g->within_ms[i]);
    rv_info("serve", "%s: generation %llu, schedule version %llu: %s", why,
            (unsigned long long)g->id, (unsigned long long)g->schedule_version, sched);
    pthread_mutex_lock(&d->gen_lock);
    d->gen = g;
    pthread_mutex_unlock(&d->gen_lock);
    if (rv_recent_set_capacity(d->recent, g->cfg->reload.warmup_requests) != 0)
        rv_warn("reload", "out of memory resizing the recent-requests ring: it keeps its size");
    if (old)
        rv_generation_unref(old);
}

/* ---- what the HTTP threads may read ---- */

static rv_generation *current_generation(void *ctx)
{
    daemon_state *d = ctx;
    pthread_mutex_lock(&d->gen_lock);
    rv_generation *g = d->gen ? rv_generation_ref(d->gen) : NULL;
    pthread_mutex_unlock(&d->gen_lock);
    return g;
}

static void last_reload_error(void *ctx, char *buf, size_t size)
{
    daemon_state *d = ctx;
    if (d->reloader)
        rv_reloader_last_error(d->reloader, buf, size);
    else
        snprintf(buf, size, "%s", "");
}

static int64_t consumer_lag(void *ctx)
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

static int create_embedded_topics(daemon_state *d, const rv_config *cfg)
{
    char reply[512];
    rv_http_reply_topic(cfg, reply, sizeof reply);
    const char *topics[] = {cfg->streams.requests, cfg->streams.scores, cfg->streams.results,
                            cfg->streams.archive, cfg->streams.alerts,
                            cfg->streams.dead_letter, cfg->streams.control, reply};
    size_t n = sizeof topics / sizeof *topics;
    int parts[sizeof topics / sizeof *topics];
    for (size_t i = 0; i < n; i++)
        parts[i] = (int)cfg->streams.partitions;
    char err[512];
    if (rv_broker_create_topics(d->broker, topics, parts, n, err, sizeof err) != 0) {
        rv_error("streams", "%s", err);
        return -1;
    }
    return 0;
}

static rd_kafka_t *start_consumer(daemon_state *d, const rv_config *cfg, const char *bootstrap)
{
    char err[512];
    rd_kafka_conf_t *conf = rv_kafka_conf(cfg, bootstrap, 0, err, sizeof err);
    if (!conf) {
        rv_error("streams", "%s", err);
        return NULL;
    }
    if (rd_kafka_conf_set(conf, "group.id", cfg->streams.group, err, sizeof err) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, sizeof err) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err)) {
        rv_error("streams", "consumer config: %s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, d);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        rv_error("streams", "cannot create consumer: %s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    int parts = rv_check_partitions(rk, cfg, 10000, err, sizeof err);
    if (parts < 0) {
        rv_error("streams", "%s", err);
        rd_kafka_destroy(rk);
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
    rv_info("streams", "consuming %s (%d partitions) in group %s", cfg->streams.requests, parts,
            cfg->streams.group);
    return rk;
}

/* Reads the control stream from its end: all partitions, no group, so
 * that every host sees every record. */
static rd_kafka_t *start_control(const rv_config *cfg, const char *bootstrap)
{
    char err[512];
    rd_kafka_conf_t *conf = rv_kafka_conf(cfg, bootstrap, 0, err, sizeof err);
    if (!conf)
        return NULL;
    /* assign() joins no group; the id only keeps librdkafka from asking
     * for one, and nothing is ever committed under it */
    char group[300];
    snprintf(group, sizeof group, "%s-control-%ld", cfg->service, (long)getpid());
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        rv_error("control", "cannot create the control consumer: %s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (rv_assign_from_end(rk, cfg->streams.control, 10000, err, sizeof err) < 0) {
        rv_warn("control", "%s: schedule changes only by reload", err);
        rd_kafka_destroy(rk);
        return NULL;
    }
    rv_info("control", "reading schedule changes from %s", cfg->streams.control);
    return rk;
}

static void poll_control(daemon_state *d)
{
    rd_kafka_message_t *msg;
    while (d->control && (msg = rd_kafka_consumer_poll(d->control, 0))) {
        if (msg->err) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                rv_warn("control", "%s", rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            continue;
        }
        char err[512];
        rv_generation *g = rv_control_apply(d->gen, msg->payload, msg->len, err, sizeof err);
        if (g) {
            atomic_fetch_add(&d->stats->schedule_changes, 1);
            swap_generation(d, g, "control record");
        } else
            rv_error("control", "record at %s [%d] @%lld refused, schedule unchanged: %s",
                     rd_kafka_topic_name(msg->rkt), msg->partition, (long long)msg->offset,
                     err);
        rd_kafka_message_destroy(msg);
    }
}

/* Waits until every request read has been answered and acknowledged. */
static void drain(daemon_state *d, int timeout_ms)
{
    int64_t until = rv_mono_ms() + timeout_ms;
    uint64_t pending;
    while ((pending = rv_commit_tracker_pending(d->tracker)) > 0 && rv_mono_ms() < until) {
        commit_ready(d, 0);
        rv_sleep_ms(5);
    }
    if (pending)
        rv_error("shutdown", "%llu request(s) still in flight after %d ms: not committed, "
                 "they will be read again", (unsigned long long)pending, timeout_ms);
    commit_ready(d, 1);
}

static void shutdown_all(daemon_state *d)
{
    if (d->consumer) {
        rd_kafka_consumer_close(d->consumer);
        rd_kafka_destroy(d->consumer);
    }
    if (d->control) {
        rd_kafka_consumer_close(d->control);
        rd_kafka_destroy(d->control);
    }
    rv_http_stop(d->http);
    rv_reloader_free(d->reloader);
    rv_watch_free(d->watch);
    if (d->gen)
        rv_generation_unref(d->gen); /* stops workers, destroys instances */
    rv_rendezvous_stop(d->rz);
    rv_output_free(d->output, 10000);
    rv_canary_monitor_free(d->monitor);
    rv_recent_free(d->recent);
    rv_commit_tracker_free(d->tracker);
    rv_broker_stop(d->broker);
    free(d->stats);
}

int rv_serve(const rv_serve_options *opts)
{
    daemon_state d = {.opts = opts, .gen_lock = PTHREAD_MUTEX_INITIALIZER};
    install_signals();
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(opts->config_path, &errs);
    if (!cfg) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.lines[i]);
        rv_errors_clear(&errs);
        return 2;
    }
    const char *brokers = opts->brokers ? opts->brokers : cfg->streams.brokers;
    char bootstrap[1024];
    int rc = 1;
    char err[512];
    d.stats = calloc(1, sizeof *d.stats);
    d.tracker = rv_commit_tracker_new();
    if (strcmp(brokers, "embedded") == 0) {
        if (!(d.broker = rv_broker_start(1, err, sizeof err))) {
            rv_error("streams", "%s", err);
            rv_config_free(cfg);
            goto out;
        }
        snprintf(bootstrap, sizeof bootstrap, "%s", rv_broker_bootstraps(d.broker));
        rv_info("streams", "embedded broker (in memory, keeps nothing across restarts): "
                "bootstrap=%s", bootstrap);
        if (create_embedded_topics(&d, cfg) != 0) {
            rv_config_free(cfg);
            goto out;
        }
    } else
        snprintf(bootstrap, sizeof bootstrap, "%s", brokers);

    rd_kafka_conf_t *pconf = rv_kafka_conf(cfg, bootstrap, 1, err, sizeof err);
    if (!pconf ||
        !(d.output = rv_output_new(pconf, cfg, rv_inflight_delivered, err, sizeof err))) {
        rv_error("streams", "%s", err);
        rv_config_free(cfg);
        goto out;
    }
    d.monitor = rv_canary_monitor_new(send_alert, d.output);
    d.rz = rv_rendezvous_start(d.output, d.monitor, d.stats);
    d.recent = rv_recent_new(cfg->reload.warmup_requests);
    if (!d.monitor || !d.rz || !d.recent) {
        rv_error("serve", "out of memory starting the pipeline");
        rv_config_free(cfg);
        goto out;
    }
    d.pipe = (rv_pipeline){d.output, d.rz, {rv_worker_emit, &d.pipe}, d.recent};

    rv_generation *first = rv_generation_build(cfg, NULL, &d.pipe.sink, 1, &errs);
    if (!first) {
        for (size_t i = 0; i < errs.n; i++)
            rv_error("config", "%s", errs.lines[i]);
        rv_errors_clear(&errs);
        rc = 2;
        goto out;
    }
    if (rv_generation_warm_and_start(first, &d.pipe, err, sizeof err) != 0) {
        rv_error("models", "%s", err);
        rv_generation_unref(first);
        goto out;
    }
    swap_generation(&d, first, "started");
    d.reloader = rv_reloader_new(opts->config_path, &d.pipe, 2);
    d.watch = rv_watch_new(d.gen->cfg);
    if (!(d.consumer = start_consumer(&d, d.gen->cfg, bootstrap)))
        goto out;

    d.control = start_control(d.gen->cfg, bootstrap);
    if (d.gen->cfg->http.listen) {
        char reply[512];
        rv_http_reply_topic(d.gen->cfg, reply, sizeof reply);
        rv_http_sources src = {current_generation, last_reload_error, consumer_lag, &d,
                               d.stats, d.monitor, d.output};
        if (!(d.http = rv_http_start(d.gen->cfg, bootstrap, reply, &src, err, sizeof err))) {
            rv_error("http", "%s", err);
            goto out;
        }
    }
    rv_info("serve", "service %s serving: %s -> %s", d.gen->cfg->service,
            d.gen->cfg->streams.requests, d.gen->cfg->streams.results);
    uint64_t max_in_flight = d.gen->cfg->rendezvous.max_in_flight;
    int64_t last_commit = rv_mono_ms();
    while (!stop_requested) {
        if (reload_requested || rv_watch_poll(d.watch)) {
            rv_info("reload", "%s: building a new generation from %s",
                    reload_requested ? "SIGHUP" : "files changed", opts->config_path);
            reload_requested = 0;
            rv_reloader_request(d.reloader, d.gen);
        }
        rv_generation *built = NULL;
        int outcome = rv_reloader_poll(d.reloader, &built, d.gen);
        if (outcome > 0) {
            atomic_fetch_add(&d.stats->reloads_ok, 1);
            swap_generation(&d, built, "reloaded");
            rv_watch_free(d.watch); /* the plugins may have changed */
            d.watch = rv_watch_new(d.gen->cfg);
        } else if (outcome < 0)
            atomic_fetch_add(&d.stats->reloads_failed, 1);
        uint64_t pending = rv_commit_tracker_pending(d.tracker);
        if (!d.paused && pending >= max_in_flight)
            set_paused(&d, 1);
        else if (d.paused && pending <= max_in_flight / 2)
            set_paused(&d, 0);
        poll_control(&d);
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(d.consumer, 50);
        if (msg) {
            if (msg->err) {
                if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    rv_warn("input", "consumer: %s", rd_kafka_message_errstr(msg));
                rd_kafka_message_destroy(msg);
            } else
                handle_message(&d, msg);
        }
        if (rv_mono_ms() - last_commit >= 20) {
            commit_ready(&d, 0);
            last_commit = rv_mono_ms();
        }
    }
    rv_info("serve", "signal %d: stop fetching, drain, flush, commit", (int)stop_requested);
    drain(&d, 30000);
    rc = 0;
out:
    if (d.stats) {
        fputs("summary: ", stderr);
        rv_stats_print(d.stats, stderr);
    }
    shutdown_all(&d);
    return rc;
}

int rv_broker_main(int n_brokers, int partitions, char **topics, int n_topics)
{
    install_signals();
    char err[512];
    rv_broker *b = rv_broker_start(n_brokers, err, sizeof err);
    if (!b) {
        fprintf(stderr, "rendezvous broker: %s\n", err);
        return 1;
    }
    /* --topic NAME or NAME:PARTITIONS */
    char **names = calloc((size_t)n_topics + 1, sizeof *names);
    int *parts = calloc((size_t)n_topics + 1, sizeof *parts);
    int rc = names && parts ? 0 : 1;
    for (int i = 0; i < n_topics && rc == 0; i++) {
        const char *colon = strrchr(topics[i], ':');
        names[i] = colon ? strndup(topics[i], (size_t)(colon - topics[i])) : strdup(topics[i]);
        parts[i] = colon ? atoi(colon + 1) : partitions;
        if (!names[i] || parts[i] <= 0) {
            fprintf(stderr, "rendezvous broker: bad --topic %s\n", topics[i]);
            rc = 2;
        }
    }
    if (rc == 0 && rv_broker_create_topics(b, (const char *const *)names, parts,
                                           (size_t)n_topics, err, sizeof err) != 0) {
        fprintf(stderr, "rendezvous broker: %s\n", err);
        rc = 1;
    }
    for (int i = 0; names && i < n_topics; i++)
        free(names[i]);
    free(names);
    free(parts);
    if (rc != 0) {
        rv_broker_stop(b);
        return rc;
    }
    printf("bootstrap=%s\n", rv_broker_bootstraps(b));
    fflush(stdout);
    rv_info("broker", "embedded broker with %d broker(s) up (in memory, keeps nothing "
            "across restarts); SIGTERM stops it", n_brokers);
    while (!stop_requested)
        pause();
    rv_broker_stop(b);
    return 0;
}
