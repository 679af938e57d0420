/*
 * daemon.c - serving, in three parts (as nginx's init cycle and process
 * cycle): serve_start (start-up in dependency order), serve_loop (signals,
 * reloads, control records, input, commits) and serve_stop (the drain on
 * SIGTERM), then shutdown_all in reverse order. The input stage is input.c. Must never do
 * heavy work in a signal handler: handlers set flags, this loop acts.
 */
#include "daemon_internal.h"
#include "notify.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "errbuf.h"
#include "inflight.h"
#include "log.h"
#include "records.h"
#include "signals.h"
#include "topics.h"
#include "worker.h"

/* ---- where alerts go ---- */

static void send_alert(void *ctx, const char *key, const void *record, size_t len)
{
    rv_output_send(ctx, RV_STREAM_ALERTS, NULL, RD_KAFKA_PARTITION_UA, key, strlen(key), record,
                   len, NULL, NULL);
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
        snprintf(sched + strlen(sched), sizeof sched - strlen(sched), "%s%s (%u ms)", i ? ", " : "",
                 g->models[g->schedule[i]]->name, g->within_ms[i]);
    rv_info("serve", "%s: generation %llu, schedule version %llu: %s", why,
            (unsigned long long)g->id, (unsigned long long)g->schedule_version, sched);
    pthread_mutex_lock(&d->gen_lock);
    d->gen = g;
    pthread_mutex_unlock(&d->gen_lock);
    char err[RV_ERR_SIZE];
    if (rv_workers_prioritize(g, (int)g->cfg->rendezvous.background_nice, err, sizeof err) != 0)
        rv_warn("serve", "the preferred model's priority is not what it should be: %s", err);
    rv_colocate_follow(&d->colocate, old, g);
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

/* Starts reading remote scores once a generation has a remote model (at
 * start, or the first reload that brings one). 0, or -1 when it cannot. */
static int start_remote_reader(daemon_state *d, const rv_generation *g)
{
    int any = 0;
    for (size_t i = 0; i < g->n_models; i++)
        any |= g->models[i]->is_remote;
    if (!any || d->remote_reader || !d->input)
        return 0;
    char err[RV_ERR_SIZE];
    d->remote_reader = rv_remote_reader_start(g->cfg, d->bootstrap, rv_input_consumer(d->input),
                                              d->remote, current_generation, d, err, sizeof err);
    if (!d->remote_reader) {
        rv_error("remote", "%s", err);
        return -1;
    }
    rv_input_hold_for(d->input, d->remote_reader);
    return 0;
}

/* The input's: the group joined, the service serves. */
static void input_ready(void *ctx)
{
    daemon_state *d = ctx;
    rv_notify_ready(d->gen);
}

/* HTTP's view of the input (ctx is the daemon's). */
static int64_t input_lag(void *ctx)
{
    daemon_state *d = ctx;
    return rv_input_lag(d->input);
}

static uint64_t input_in_flight(void *ctx)
{
    daemon_state *d = ctx;
    return d->input ? rv_input_in_flight(d->input) : 0;
}

static void last_reload_error(void *ctx, char *buf, size_t size)
{
    daemon_state *d = ctx;
    if (d->reloader)
        rv_reloader_last_error(d->reloader, buf, size);
    else
        snprintf(buf, size, "%s", "");
}

static int create_embedded_topics(daemon_state *d, const rv_config *cfg)
{
    rv_topic_need need[RV_TOPICS_MAX];
    size_t n = rv_topics_needed(cfg, d->opts->scorer_model != NULL, need);
    const char *topics[RV_TOPICS_MAX];
    int parts[RV_TOPICS_MAX];
    for (size_t i = 0; i < n; i++) {
        topics[i] = need[i].name;
        parts[i] = (int)cfg->streams.partitions;
    }
    char err[512];
    if (rv_broker_create_topics(d->broker, topics, parts, n, err, sizeof err) != 0) {
        rv_error("streams", "%s", err);
        return -1;
    }
    return 0;
}

/* Reads the control stream from its end: all partitions, no group, so
 * that every host sees every record. */
static rd_kafka_t *start_control(const rv_config *cfg, const char *bootstrap)
{
    char err[RV_ERR_SIZE], group[300];
    rv_errf(group, sizeof group, "%s-control-%ld", cfg->service, (long)getpid());
    rd_kafka_t *rk = rv_consumer_new(cfg, bootstrap, RV_CONSUMER_TAIL, group, cfg->streams.control,
                                     10000, NULL, err, sizeof err);
    if (!rk) {
        rv_warn("control", "%s: schedule changes only by reload", err);
        return NULL;
    }
    rv_info("control", "reading schedule changes from %s", cfg->streams.control);
    return rk;
}

/* Whether the record carries a good rv-signature (control.key_file). */
static int signed_by(const char *key_file, const rd_kafka_message_t *msg, char *err,
                     size_t err_size)
{
    rd_kafka_headers_t *h = NULL;
    const void *sig = NULL;
    size_t sig_len = 0;
    if (rd_kafka_message_headers(msg, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(h, "rv-signature", &sig, &sig_len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        sig = NULL;
    return rv_control_verify(key_file, sig, sig_len, msg->payload, msg->len, err, err_size) == 0;
}

/* An unsigned or wrongly signed control record: logged and alerted, never
 * applied. */
static void refuse_control(daemon_state *d, const rd_kafka_message_t *msg, const char *why)
{
    const char *topic = rd_kafka_topic_name(msg->rkt);
    rv_error("control", "record at %s [%d] @%lld refused, schedule unchanged: %s", topic,
             msg->partition, (long long)msg->offset, why);
    atomic_fetch_add(&d->stats->control_refused, 1);
    rv_jw w;
    rv_jw_init(&w);
    rv_record_control_alert(&w, topic, msg->partition, msg->offset, why);
    if (!w.oom)
        send_alert(d->output, "control", w.buf, w.len);
    rv_jw_free(&w);
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
        const char *key_file = d->gen->cfg->control.key_file;
        if (key_file && !signed_by(key_file, msg, err, sizeof err)) {
            refuse_control(d, msg, err);
            rd_kafka_message_destroy(msg);
            continue;
        }
        rv_generation *g = rv_control_apply(d->gen, msg->payload, msg->len, err, sizeof err);
        if (g) {
            atomic_fetch_add(&d->stats->schedule_changes, 1);
            swap_generation(d, g, "control record");
        } else
            rv_error("control", "record at %s [%d] @%lld refused, schedule unchanged: %s",
                     rd_kafka_topic_name(msg->rkt), msg->partition, (long long)msg->offset, err);
        rd_kafka_message_destroy(msg);
    }
}

/* The bound on shutdown: shutdown_timeout_ms after the stop signal, or at
 * a second one, the process exits, whatever still holds it (a broker that
 * does not answer a commit or a close, a model stuck in score()). What was
 * not committed is read again: at-least-once. Model processes die with it
 * (PR_SET_PDEATHSIG). */
static void *watch_shutdown(void *arg)
{
    daemon_state *d = arg;
    int second = rv_signals_wait_second_stop(&d->shutdown_until);
    const char *why = second ? "second stop signal" : "shutdown_timeout_ms passed";
    if (!atomic_load(&d->started))
        rv_error("shutdown", "%s while still starting: exiting now (nothing was read yet)", why);
    else
        rv_error("shutdown",
                 "%s: exiting now, %llu request(s) not committed (they will be read again)", why,
                 (unsigned long long)rv_commit_tracker_pending(d->tracker));
    _exit(1);
    return NULL;
}

static void start_watchdog(daemon_state *d, uint32_t bound_ms)
{
    clock_gettime(CLOCK_REALTIME, &d->shutdown_until);
    d->shutdown_until.tv_sec += bound_ms / 1000;
    d->shutdown_until.tv_nsec += (long)(bound_ms % 1000) * 1000000L;
    if (d->shutdown_until.tv_nsec >= 1000000000L) {
        d->shutdown_until.tv_sec++;
        d->shutdown_until.tv_nsec -= 1000000000L;
    }
    d->has_watchdog = pthread_create(&d->watchdog, NULL, watch_shutdown, d) == 0;
    if (!d->has_watchdog)
        rv_warn("shutdown", "cannot start the shutdown watchdog: shutdown is not bounded");
}

/* The watchdog fires a little before shutdown_timeout_ms: the signal was
 * seen up to a poll (50 ms) ago, and exiting takes a little. */
static uint32_t shutdown_bound(uint32_t timeout_ms)
{
    return timeout_ms > 200 ? timeout_ms - 100 : timeout_ms / 2;
}

/* A stop signal during start-up (the cluster check, the transaction
 * coordinator, a model's create or warm-up): the bound on shutdown runs
 * from the signal, not from the start's end. The waits that can be given
 * up are (the coordinator's); the watchdog ends the others. Nothing is
 * read before the start ends, so nothing is lost. */
typedef struct start_guard {
    daemon_state *d;
    uint32_t bound_ms;
    pthread_t thread;
} start_guard;

static void *guard_start(void *arg)
{
    start_guard *g = arg;
    while (!atomic_load(&g->d->started) && !rv_signals_stop())
        rv_sleep_ms(20);
    if (!atomic_load(&g->d->started)) {
        rv_info("serve", "signal %d during start-up: stopping within %u ms", rv_signals_stop(),
                g->bound_ms);
        start_watchdog(g->d, g->bound_ms);
    }
    return NULL;
}

static void shutdown_all(daemon_state *d)
{
    rv_input_hold_for(d->input, NULL);       /* nothing more is held for it */
    rv_remote_reader_stop(d->remote_reader); /* it follows the consumer's assignment */
    d->remote_reader = NULL;
    rv_evaluator_unfollow(d->evaluator); /* it asks the consumer its assignment */
    rv_input_close(d->input);
    if (d->control) {
        rd_kafka_consumer_close(d->control);
        rd_kafka_destroy(d->control);
    }
    rv_http_stop(d->http);
    rv_sites_stop(d); /* after the consumer (its rebalances read the offsets) and HTTP */
    rv_reloader_free(d->reloader);
    rv_watch_free(d->watch);
    if (d->gen)
        rv_generation_unref(d->gen); /* stops workers, destroys instances */
    rv_remote_free(d->remote);       /* what still waits is answered: a timeout */
    rv_rendezvous_stop(d->rz);
    rv_txn_stop(d->input); /* after the consumer's close: its revocation commits */
    rv_input_free(d->input);
    rv_output_free(d->output, 10000);
    /* after HTTP, which reads it, and after the last answer was told and
     * the last record delivered */
    rv_evaluator_stop(d->evaluator);
    if (d->has_watchdog) { /* what is left only frees memory: bounded */
        pthread_cancel(d->watchdog);
        pthread_join(d->watchdog, NULL);
    }
    rv_canary_monitor_free(d->monitor);
    rv_recent_free(d->recent);
    rv_commit_tracker_free(d->tracker);
    rv_broker_stop(d->broker);
    free(d->stats);
}

/* The config the options name, in its scorer form for `rendezvous scorer`;
 * NULL once the errors are printed. */
static rv_config *load_config(const rv_serve_options *opts)
{
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(opts->config_path, opts->env, &errs);
    if (cfg && opts->scorer_model)
        cfg = rv_config_scorer(cfg, opts->scorer_model, &errs);
    if (cfg && opts->takeover_from)
        cfg = rv_config_takeover(cfg, opts->takeover_from, &errs);
    if (cfg && opts->http_listen && !(cfg->http.listen = strdup(opts->http_listen))) {
        rv_config_free(cfg);
        cfg = NULL;
        fprintf(stderr, "out of memory reading the options\n");
    }
    for (size_t i = 0; !cfg && i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.lines[i]);
    rv_errors_clear(&errs);
    return cfg;
}

/* The broker (embedded: started here) and what every generation shares:
 * the output, the canary monitor, the rendezvous, the recent requests and
 * the remote waits. 0 or -1 (logged); cfg stays the caller's. */
static int start_pipeline(daemon_state *d, const rv_config *cfg)
{
    const char *brokers = d->opts->brokers ? d->opts->brokers : cfg->streams.brokers;
    char err[512];
    d->stats = calloc(1, sizeof *d->stats);
    d->tracker = rv_commit_tracker_new(rv_output_held_free);
    if (!d->stats || !d->tracker) {
        rv_error("serve", "out of memory starting the service");
        return -1;
    }
    rv_colocate_init(&d->colocate, d->stats);
    if (strcmp(brokers, "embedded") == 0) {
        if (!(d->broker = rv_broker_start(1, err, sizeof err))) {
            rv_error("streams", "%s", err);
            return -1;
        }
        snprintf(d->bootstrap, sizeof d->bootstrap, "%s", rv_broker_bootstraps(d->broker));
        rv_info("streams",
                "embedded broker (in memory, keeps nothing across restarts): "
                "bootstrap=%s",
                d->bootstrap);
        if (create_embedded_topics(d, cfg) != 0)
            return -1;
        if (strcmp(cfg->delivery.mode, "exactly_once") == 0)
            rv_warn("delivery", "exactly_once on the embedded broker: transactions commit, but it "
                                "keeps no transaction markers, so readers see aborted records "
                                "too (use a Kafka cluster)");
    } else
        snprintf(d->bootstrap, sizeof d->bootstrap, "%s", brokers);
    /* before anything waits on the cluster: a wrong password or a missing
     * topic is said at once, not after the transaction coordinator's wait */
    d->request_partitions =
        rv_topics_check(cfg, d->bootstrap, d->opts->scorer_model != NULL, 10000, err, sizeof err);
    if (d->request_partitions < 0) {
        rv_error("streams", "%s", err);
        return -1;
    }
    rd_kafka_conf_t *pconf = rv_kafka_conf(cfg, d->bootstrap, 1, err, sizeof err);
    if (!pconf || !(d->output = rv_output_new(pconf, cfg, rv_inflight_delivered, rv_signals_stop,
                                              err, sizeof err))) {
        rv_error("streams", "%s", err);
        return -1;
    }
    if (rv_output_transactional(d->output))
        rv_info("delivery",
                "exactly once: a transaction commits every %u ms, or sooner from %u requests",
                cfg->delivery.transaction_ms, cfg->delivery.transaction_requests);
    d->monitor = rv_canary_monitor_new(send_alert, d->output);
    /* a scorer decides nothing anyone reads: no result records */
    d->rz = rv_rendezvous_start(d->opts->scorer_model ? NULL : d->output, d->monitor, d->stats);
    d->recent = rv_recent_new(cfg->reload.warmup_requests);
    d->remote = d->rz ? rv_remote_new(d->rz) : NULL;
    if (!d->monitor || !d->rz || !d->recent || !d->remote) {
        rv_error("serve", "out of memory starting the pipeline");
        return -1;
    }
    d->pipe = (rv_pipeline){.output = d->output,
                            .rendezvous = d->rz,
                            .sink = {.emit = rv_worker_emit, .ctx = &d->pipe},
                            .recent = d->recent,
                            .stats = d->stats,
                            .remote = d->remote,
                            .evaluation = NULL};
    return 0;
}

/* Start-up in dependency order: the pipeline, the first generation (which
 * takes cfg over: from here on the serving generation owns the config),
 * the consumers, HTTP. 0, or the exit status: 2 for a config the models
 * refuse, 1 for anything else (logged). cfg is freed on every failure. */
static int serve_start(daemon_state *d, rv_config *cfg)
{
    const rv_serve_options *opts = d->opts;
    char err[512];
    if (start_pipeline(d, cfg) != 0) {
        rv_config_free(cfg);
        return 1;
    }
    rv_errors errs = {0};
    rv_generation *first = rv_generation_build(cfg, NULL, &d->pipe.sink, 1, &errs);
    if (!first) {
        for (size_t i = 0; i < errs.n; i++)
            rv_error("config", "%s", errs.lines[i]);
        rv_errors_clear(&errs);
        return 2;
    }
    if (rv_generation_warm_and_start(first, &d->pipe, err, sizeof err) != 0) {
        rv_error("models", "%s", err);
        rv_generation_unref(first);
        return 1;
    }
    swap_generation(d, first, "started");
    const rv_config *c = d->gen->cfg;
    if (rv_sites_start(d, c) != 0)
        return 1;
    d->reloader = rv_reloader_new(opts->config_path, opts->env, opts->scorer_model, &d->pipe, 2);
    d->watch = rv_watch_new(c);
    rv_input_deps in = {.output = d->output,
                        .tracker = d->tracker,
                        .stats = d->stats,
                        .rz = d->rz,
                        .recent = d->recent,
                        .scorer = opts->scorer_model != NULL,
                        .request_partitions = d->request_partitions,
                        .answered_elsewhere = d->sites.answered,
                        .start_offsets = d->sites.start,
                        .n_start_offsets = d->sites.n_start,
                        .on_ready = input_ready,
                        .ctx = d};
    if (!(d->input = rv_input_start(&in, c, d->bootstrap)) || start_remote_reader(d, d->gen) != 0)
        return 1;
    if (rv_output_transactional(d->output) && rv_txn_start(d->input, c) != 0) {
        rv_error("delivery", "cannot start the transaction thread");
        return 1;
    }
    if (!opts->scorer_model) /* schedule changes are the host's */
        d->control = start_control(c, d->bootstrap);
    if (c->evaluation.labels && c->evaluation.in_host && !opts->scorer_model) {
        if (!(d->evaluator = rv_evaluator_start(c, d->bootstrap, rv_input_consumer(d->input), err,
                                                sizeof err))) {
            rv_error("evaluation", "%s", err);
            return 1;
        }
        /* told each answer and delivery from here on: nothing is read yet */
        rv_evaluation *ev = rv_evaluator_evaluation(d->evaluator);
        rv_output_watch(d->output, rv_evaluator_delivered, d->evaluator);
        atomic_store(&d->pipe.evaluation, ev);
        rv_rendezvous_set_evaluation(d->rz, ev);
    }
    if (c->http.listen) {
        char reply[512];
        rv_topics_reply_topic(c, reply, sizeof reply);
        rv_http_sources src = {.current = current_generation,
                               .last_reload_error = last_reload_error,
                               .consumer_lag = input_lag,
                               .in_flight = input_in_flight,
                               .ctx = d,
                               .stats = d->stats,
                               .monitor = d->monitor,
                               .output = d->output,
                               .remote = d->remote,
                               .gateway = !opts->scorer_model && !opts->takeover_from,
                               .evaluation = rv_evaluator_evaluation(d->evaluator),
                               .promoter = rv_evaluator_promoter(d->evaluator),
                               .sites = d->sites.n_peers ? rv_sites_status : NULL,
                               .site_figures = rv_sites_figures,
                               .skipped = d->sites.answered ? rv_sites_skipped : NULL};
        if (!(d->http = rv_http_start(c, d->bootstrap, reply, &src, err, sizeof err))) {
            rv_error("http", "%s", err);
            return 1;
        }
    }
    if (opts->scorer_model)
        rv_info("serve", "service %s model %s scoring: %s -> %s (group %s)", c->service,
                opts->scorer_model, c->streams.requests, c->streams.scores, c->streams.group);
    else
        rv_info("serve", "service %s serving: %s -> %s", c->service, c->streams.requests,
                c->streams.results);
    return 0;
}

/* The loop, until a stop signal: reloads (SIGHUP or changed files), control
 * records, the input within max_in_flight, commits every 20 ms. */
static void serve_loop(daemon_state *d)
{
    uint64_t max_in_flight = d->gen->cfg->rendezvous.max_in_flight;
    int64_t last_commit = rv_mono_ms();
    while (!rv_signals_stop()) {
        if (rv_sites_back(d)) {
            rv_warn("sites",
                    "%s's heartbeats are back: ending the takeover (its hosts skip what "
                    "was answered here)",
                    d->gen->cfg->site.taken_over_from);
            raise(SIGTERM);
            continue;
        }
        int hup = rv_signals_take_reload();
        if (hup || rv_watch_poll(d->watch)) {
            rv_info("reload", "%s: building a new generation from %s",
                    hup ? "SIGHUP" : "files changed", d->opts->config_path);
            rv_notify_reloading();
            rv_colocate_release(&d->colocate, d->gen); /* the builder runs anywhere */
            rv_reloader_request(d->reloader, d->gen);
            if (hup)
                rv_http_reload(d->http);
        }
        rv_generation *built = NULL;
        int outcome = rv_reloader_poll(d->reloader, &built, d->gen);
        if (outcome > 0) {
            atomic_fetch_add(&d->stats->reloads_ok, 1);
            swap_generation(d, built, "reloaded");
            start_remote_reader(d, d->gen);
            rv_watch_free(d->watch); /* the plugins may have changed */
            d->watch = rv_watch_new(d->gen->cfg);
        } else if (outcome < 0)
            atomic_fetch_add(&d->stats->reloads_failed, 1);
        if (outcome != 0) /* swapped, or still the one before */
            rv_notify_ready(d->gen);
        int64_t now_us = rv_mono_us(); /* one clock reading for both */
        rv_notify_watchdog(now_us / 1000);
        rv_colocate_tick(&d->colocate, d->gen, now_us, rv_reloader_building(d->reloader));
        size_t room = rv_input_may_read(d->input, max_in_flight);
        poll_control(d);
        rd_kafka_message_t *msgs[RV_INPUT_BATCH];
        size_t n = room ? rv_input_read(d->input, msgs, room) : 0;
        if (n)
            rv_input_handle(d->input, d->gen, msgs, n);
        if (rv_mono_ms() - last_commit >= 20) {
            rv_input_commit(d->input, 0);
            last_commit = rv_mono_ms();
        }
    }
}

/* After the stop signal: the watchdog bounds what follows; the input
 * stops fetching, drains, flushes and commits. The exit status: 1 when
 * requests were left uncommitted. */
static int serve_stop(daemon_state *d)
{
    rv_info("serve", "signal %d: stop fetching, drain, flush, commit", rv_signals_stop());
    rv_notify_stopping();
    uint32_t bound = shutdown_bound(d->gen->cfg->shutdown_timeout_ms);
    if (!d->has_watchdog) /* else started at a signal during start-up */
        start_watchdog(d, bound);
    /* three quarters of the bound to drain, the rest to flush and close */
    return rv_input_drain(d->input, (int)(bound - bound / 4)) ? 1 : 0;
}

int rv_serve(const rv_serve_options *opts)
{
    daemon_state d = {.opts = opts, .gen_lock = PTHREAD_MUTEX_INITIALIZER};
    rv_signals_install();
    rv_config *cfg = load_config(opts);
    if (!cfg)
        return 2;
    start_guard guard = {.d = &d, .bound_ms = shutdown_bound(cfg->shutdown_timeout_ms)};
    int guarded = pthread_create(&guard.thread, NULL, guard_start, &guard) == 0;
    int rc = serve_start(&d, cfg);
    atomic_store(&d.started, 1);
    if (guarded)
        pthread_join(guard.thread, NULL); /* has_watchdog is read after it */
    if (rc == 0) {
        serve_loop(&d);
        rc = serve_stop(&d);
    } else if (rv_signals_stop()) {
        rv_info("serve", "stopped by signal %d during start-up: nothing was read",
                rv_signals_stop());
        rc = 0;
    }
    if (d.stats) {
        fputs("summary: ", stderr);
        rv_stats_print(d.stats, stderr);
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0) /* the host's own, model processes not counted */
            fprintf(stderr, "  memory: host peak RSS %ld MiB\n", ru.ru_maxrss / 1024);
    }
    shutdown_all(&d);
    return rc;
}
