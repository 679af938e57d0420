/*
 * evaluator.c - the live evaluation's thread: a consumer of the scores,
 * results and labels streams (and the HTTP gateway's replies, results
 * too) in a group of its own (`<group>.evaluation`; range assignment gives
 * one member the same partition number of all of them), feeding pipeline/evaluation.c, which commits every interval_ms
 * with the offsets read. Offsets live in the evaluation's store, committed
 * with what they produced: a partition assigned is read from there (or,
 * the first time, from its start). Every report_s it writes each source's
 * figures to the evaluation stream and the alerts that changed
 * (pipeline/evaluation_alerts.h) to the alerts stream, on a producer of its
 * own. Serving never waits on it.
 */
#include "evaluator.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "errbuf.h"
#include "evaluation_alerts.h"
#include "evaluator_read.h"
#include "http.h"
#include "jsonw.h"
#include "log.h"
#include "records.h"
#include "streams.h"
#include "threads.h"

#define MAX_QUEUED 65536 /* changes read and not committed: then commit at once */

struct rv_evaluator {
    rv_evaluation *ev;
    rd_kafka_t *rk;
    char *scores, *results, *labels; /* topic names */
    char *replies;                   /* the gateway's results, or NULL: no http */
    uint32_t sample_cut;             /* an id is evaluated when its hash % 1e6 is below */
    int interval_ms, report_ms;
    rd_kafka_t *out; /* the figures and the alerts */
    char *figures_topic, *alerts_topic;
    char **label_names; /* the evaluation's labels */
    size_t n_labels;
    rv_eval_alerts *alerts;
    rv_eval_record rec; /* the record being read (the thread's) */
    pthread_t thread;
    atomic_int stop;
    uint64_t unreadable; /* records that are not what their stream holds */
};

static int64_t now_ms(void)
{
    return rv_real_us() / 1000;
}

static void commit(rv_evaluator *v)
{
    char err[RV_ERR_SIZE];
    if (rv_evaluation_commit(v->ev, now_ms(), err, sizeof err) != 0)
        rv_warn("evaluation", "%s; trying again", err);
}

/* Assigned partitions start where the store says they were read to; taken
 * away, what was read from them is committed first. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    rv_evaluator *v = opaque;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            int64_t at =
                rv_evaluation_offset(v->ev, parts->elems[i].topic, parts->elems[i].partition);
            parts->elems[i].offset = at >= 0 ? at : RD_KAFKA_OFFSET_BEGINNING;
        }
        rd_kafka_assign(rk, parts);
        rv_info("evaluation", "reading %d partition(s) of scores, results and labels", parts->cnt);
    } else {
        commit(v);
        rd_kafka_assign(rk, NULL);
    }
}

/* Whether request id is among those evaluated (evaluation.sample): by
 * its FNV-1a hash, so every record of it, on any host, agrees. */
static int sampled(const rv_evaluator *v, const char *id)
{
    if (v->sample_cut >= 1000000)
        return 1;
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h % 1000000 < v->sample_cut;
}

/* One record of one of the three streams into the evaluation. */
static void take(rv_evaluator *v, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    rv_eval_record *r = &v->rec;
    int ok = rv_eval_record_read(m->payload ? m->payload : "", m->len, r) == 0 && r->id && r->id[0];
    int64_t now = now_ms();
    if (ok && !sampled(v, r->id))
        ; /* not one of those evaluated */
    else if (ok && strcmp(topic, v->labels) == 0)
        ok = r->label &&
             rv_evaluation_label(v->ev, r->id, r->label, r->has_time ? r->time : 0, now) == 0;
    else if (ok) {
        const char *expected[RV_EVAL_READ_MODELS];
        rv_evaluation_answer a = {.version = r->version ? r->version : "",
                                  .n = r->n_answers,
                                  .labels = r->labels,
                                  .scores = r->scores};
        if (strcmp(topic, v->results) == 0 || (v->replies && strcmp(topic, v->replies) == 0)) {
            /* every model writes one score record, but for a request too
             * old to be scored */
            for (size_t i = 0; i < r->n_models; i++)
                if (strcmp(r->model_status[i], "expired") != 0)
                    expected[a.n_expected++] = r->models[i];
            a.expected = expected;
            a.source = RV_EVALUATION_SERVED;
            a.schedule_version = r->has_schedule_version ? (uint32_t)r->schedule_version : 0;
            a.version = "";
        } else {
            a.source = r->model;
            ok = r->model && r->status;
            a.failed = ok && strcmp(r->status, "ok") != 0; /* done, with no answer */
        }
        if (ok)
            ok = rv_evaluation_answer_of(v->ev, r->id, &a, now) == 0;
    }
    if (!ok && v->unreadable++ % 1000 == 0)
        rv_warn("evaluation", "%s [%d] at %lld: not a record of that stream (%llu so far)", topic,
                (int)m->partition, (long long)m->offset, (unsigned long long)v->unreadable);
    rv_evaluation_set_offset(v->ev, topic, m->partition, m->offset + 1);
}

static void produce(rv_evaluator *v, const char *topic, const char *key, const void *value,
                    size_t len)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(
        v->out, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_END);
    if (e)
        rv_warn("evaluation", "%s: cannot produce: %s", topic, rd_kafka_err2str(e));
}

/* An alert that changed, as the canary's are: to the alerts stream, and
 * said in the log. */
static void alert(rv_evaluator *v, const rv_eval_alert *a, rv_jw *w)
{
    char message[512];
    int canary = a->check == RV_EVAL_BELOW_CANARY;
    snprintf(message, sizeof message,
             "%s: accuracy over the last hour %.4f (%llu answers) is %sbelow %.4f (%s's accuracy "
             "minus the margin)",
             a->source, a->value, (unsigned long long)a->count, a->raised ? "" : "no longer ",
             a->threshold, canary ? "the canary" : "its first window");
    rv_alert_fields f = {.raised = a->raised,
                         .check = rv_eval_check_name(a->check),
                         .model = a->source,
                         .version = a->version,
                         .canary = a->reference,
                         .value = a->value,
                         .threshold = a->threshold,
                         .window = (uint32_t)a->count,
                         .message = message};
    rv_jw_restart(w);
    rv_record_alert(w, &f);
    if (!w->oom)
        produce(v, v->alerts_topic, a->source, w->buf, w->len);
    if (a->raised)
        rv_warn("evaluation", "alert: %s", message);
    else
        rv_info("evaluation", "clear: %s", message);
}

/* Each source's figures to the evaluation stream, then the alerts. */
static void report(rv_evaluator *v)
{
    size_t n;
    int64_t now = now_ms();
    rv_evaluation_figure *f = rv_evaluation_snapshot(v->ev, now, &n);
    if (!f)
        return;
    rv_jw w;
    rv_jw_init(&w);
    for (size_t i = 0; i < n; i++) {
        rv_jw_restart(&w);
        rv_jw_map_open(&w);
        rv_jw_kv_string(&w, "type", "evaluation");
        rv_jw_kv_int(&w, "time", now);
        rv_evaluation_figure_fields(&w, &f[i], (const char *const *)v->label_names, v->n_labels);
        rv_jw_map_close(&w);
        if (!w.oom)
            produce(v, v->figures_topic, f[i].source, w.buf, w.len);
    }
    rv_eval_alert changed[16];
    size_t k;
    while ((k = rv_eval_alerts_check(v->alerts, f, n, changed, 16)) > 0)
        for (size_t i = 0; i < k; i++)
            alert(v, &changed[i], &w);
    rv_jw_free(&w);
    rv_evaluation_figures_free(f, n);
}

static void *loop(void *arg)
{
    rv_evaluator *v = arg;
    pthread_setname_np(pthread_self(), "rv-evaluation");
    /* behind serving: a CPU both want goes to the request path first */
    int e = rv_threads_nice(gettid(), RV_BACKGROUND_NICE);
    if (e)
        rv_warn("evaluation", "cannot lower its thread's priority: %s", strerror(e));
    int64_t next = rv_mono_ms() + v->interval_ms, next_report = rv_mono_ms() + v->report_ms;
    while (!atomic_load(&v->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(v->rk, 100);
        if (m) {
            if (!m->err)
                take(v, m);
            else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                rv_warn("evaluation", "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        }
        if (rv_mono_ms() >= next || rv_evaluation_queued(v->ev) >= MAX_QUEUED) {
            commit(v);
            next = rv_mono_ms() + v->interval_ms;
        }
        if (rv_mono_ms() >= next_report) {
            report(v);
            next_report = rv_mono_ms() + v->report_ms;
        }
        rd_kafka_poll(v->out, 0);
    }
    commit(v);
    report(v);
    return NULL;
}

rv_evaluator *rv_evaluator_start(const rv_config *cfg, const char *bootstrap, char *err,
                                 size_t err_size)
{
    rv_evaluator *v = calloc(1, sizeof *v);
    char dir[4096], group[600];
    if (!v) {
        rv_errf(err, err_size, "evaluation: out of memory");
        return NULL;
    }
    snprintf(dir, sizeof dir, "%s/evaluation", cfg->state_dir);
    char reply[512];
    rv_http_reply_topic(cfg, reply, sizeof reply);
    rv_evaluation_settings s = {dir,
                                (uint64_t)cfg->evaluation.store_mb << 20,
                                (int64_t)cfg->evaluation.max_label_delay_s * 1000,
                                cfg->evaluation.n_labels,
                                (const char *const *)cfg->evaluation.labels,
                                cfg->evaluation.baseline_answers};
    v->interval_ms = (int)cfg->evaluation.interval_ms;
    v->sample_cut = (uint32_t)(cfg->evaluation.sample * 1000000 + 0.5);
    v->report_ms = (int)cfg->evaluation.report_s * 1000;
    const char *canary = NULL;
    for (size_t i = 0; i < cfg->n_models && !canary; i++)
        if (cfg->models[i].builtin && strcmp(cfg->models[i].builtin, "canary") == 0)
            canary = cfg->models[i].name;
    v->n_labels = cfg->evaluation.n_labels;
    int copied = (v->label_names = calloc(v->n_labels, sizeof *v->label_names)) != NULL;
    for (size_t i = 0; copied && i < v->n_labels; i++)
        copied = (v->label_names[i] = strdup(cfg->evaluation.labels[i])) != NULL;
    if (!(v->ev = rv_evaluation_open(&s, now_ms(), err, err_size)) ||
        !(v->scores = strdup(cfg->streams.scores)) ||
        !(v->results = strdup(cfg->streams.results)) ||
        !(v->labels = strdup(cfg->streams.labels)) ||
        (cfg->http.listen && !(v->replies = strdup(reply))) ||
        !(v->figures_topic = strdup(cfg->streams.evaluation)) ||
        !(v->alerts_topic = strdup(cfg->streams.alerts)) || !copied ||
        !(v->alerts = rv_eval_alerts_new(canary, cfg->evaluation.alert_margin,
                                         cfg->evaluation.alert_min_answers,
                                         cfg->evaluation.baseline_answers))) {
        if (v->ev)
            rv_errf(err, err_size, "evaluation: out of memory");
        rv_evaluator_stop(v);
        return NULL;
    }
    rd_kafka_conf_t *pconf = rv_kafka_conf(cfg, bootstrap, 1, err, err_size);
    if (pconf)
        rv_kafka_conf_background(pconf);
    char why[RV_ERR_SIZE];
    if (!pconf || !(v->out = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, why, sizeof why))) {
        if (pconf) {
            rd_kafka_conf_destroy(pconf);
            rv_errf(err, err_size, "evaluation: cannot create its producer: %s", why);
        }
        rv_evaluator_stop(v);
        return NULL;
    }
    snprintf(group, sizeof group, "%s.evaluation", cfg->streams.group);
    rv_group_callbacks cb = {.rebalance = on_rebalance, .opaque = v, .background = 1};
    if (!(v->rk = rv_consumer_new(cfg, bootstrap, RV_CONSUMER_GROUP, group, NULL, 0, &cb, err,
                                  err_size))) {
        rv_evaluator_stop(v);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(3);
    rd_kafka_topic_partition_list_add(t, v->scores, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(t, v->results, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(t, v->labels, RD_KAFKA_PARTITION_UA);
    if (v->replies)
        rd_kafka_topic_partition_list_add(t, v->replies, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(v->rk, t);
    rd_kafka_topic_partition_list_destroy(t);
    if (e || pthread_create(&v->thread, NULL, loop, v) != 0) {
        rv_errf(err, err_size, "evaluation: cannot start reading: %s",
                e ? rd_kafka_err2str(e) : "no thread");
        rv_evaluator_stop(v);
        return NULL;
    }
    return v;
}

void rv_evaluator_stop(rv_evaluator *v)
{
    if (!v)
        return;
    if (v->thread) {
        atomic_store(&v->stop, 1);
        pthread_join(v->thread, NULL);
    }
    if (v->rk) {
        rd_kafka_consumer_close(v->rk);
        rd_kafka_destroy(v->rk);
    }
    if (v->out) {
        rd_kafka_flush(v->out, 10000);
        rd_kafka_destroy(v->out);
    }
    rv_evaluation_close(v->ev);
    rv_eval_alerts_free(v->alerts);
    for (size_t i = 0; v->label_names && i < v->n_labels; i++)
        free(v->label_names[i]);
    free(v->label_names);
    free(v->figures_topic);
    free(v->alerts_topic);
    free(v->scores);
    free(v->results);
    free(v->labels);
    free(v->replies);
    free(v);
}

rv_evaluation *rv_evaluator_evaluation(rv_evaluator *v)
{
    return v ? v->ev : NULL;
}
