/*
 * evaluator.c - the live evaluation's thread: a consumer of the scores,
 * results and labels streams (and the HTTP gateway's replies, results
 * too) in a group of its own (`<group>.evaluation`; range assignment gives
 * one member the same partition number of all of them), feeding evaluation/evaluation.c, which commits every interval_ms
 * with the offsets read. Offsets live in the evaluation's store, committed
 * with what they produced: a partition assigned is read from there (or,
 * the first time, from its start). Every report_s it writes each source's
 * figures to the evaluation stream and the alerts that changed
 * (evaluation/evaluation_alerts.h) to the alerts stream, on a producer of its
 * own. Serving never waits on it.
 *
 * In the host (rv_evaluator_start with a requests consumer), it reads
 * none of what the host writes: the host tells it each answer as it sends
 * it (rv_evaluation_tap), and each record delivered (rv_evaluator_delivered),
 * whose offsets are committed as read once their answers are taken. It
 * reads only the labels, of the partitions the host's requests consumer
 * owns (it follows that assignment every 100 ms, as the remote scores
 * reader does); and, for a partition newly owned, the answers written
 * after the store's read positions and before now (a host stopped hard,
 * or another's), from the scores, results and replies streams, until it
 * reaches where they ended.
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
#include "promoter.h"
#include "topics.h"
#include "jsonw.h"
#include "log.h"
#include "records.h"
#include "streams.h"
#include "threads.h"

#define MAX_QUEUED 65536 /* changes read and not committed: then commit at once */
#define POLL_BATCH 256   /* records taken between two looks at the clock */
#define MAX_PARTITIONS 4096

/* What the host writes and the evaluation reads back when it catches up. */
enum { OUT_SCORES, OUT_RESULTS, OUT_REPLIES, N_OUT };

/* In the host: the labels partitions that follow the requests', and where
 * each of the host's own streams is. */
typedef struct follow {
    rd_kafka_t *requests; /* the host's requests consumer; NULL once unfollowed */
    pthread_mutex_t lock; /* guards requests: the host closes it (unfollow) */
    char *requests_topic;
    unsigned char have[MAX_PARTITIONS];
    /* catching up: read to this offset (the end when assigned); -1: not */
    int64_t end[N_OUT][MAX_PARTITIONS];
    /* the last and the first offset delivered of each since the partition
     * was assigned, -1 none; written by delivery reports */
    _Atomic int64_t delivered[N_OUT][MAX_PARTITIONS], first[N_OUT][MAX_PARTITIONS];
    int64_t marked[N_OUT][MAX_PARTITIONS]; /* the read position last queued */
    int64_t snap[N_OUT][MAX_PARTITIONS];   /* take_tapped's */
} follow;

struct rv_evaluator {
    rv_evaluation *ev;
    rd_kafka_t *rk;
    char *scores, *results, *labels; /* topic names */
    char *replies;                   /* the gateway's results, or NULL: no http */
    char *site;                      /* site.name, in an rv-site header; NULL: none */
    follow *fw;                      /* in the host; NULL: a role of its own */
    int interval_ms, report_ms;
    rd_kafka_t *out; /* the figures and the alerts */
    char *figures_topic, *alerts_topic;
    char **label_names; /* the evaluation's labels */
    size_t n_labels;
    rv_eval_alerts *alerts;
    rv_promoter *promoter; /* with a promotion section */
    rv_eval_record rec;    /* the record being read (the thread's) */
    pthread_t thread;
    atomic_int stop;
    uint64_t unreadable; /* records that did not go in (said in the log) */
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

/* A record that did not go in, said for the first and every 1000th. */
static void unreadable(rv_evaluator *v, const rd_kafka_message_t *m, const char *what)
{
    if (v->unreadable++ % 1000 == 0)
        rv_warn("evaluation", "%s [%d] at %lld: %s (%llu so far)", rd_kafka_topic_name(m->rkt),
                (int)m->partition, (long long)m->offset, what, (unsigned long long)v->unreadable);
}

/* A label record: to the join, or counted as what it is instead; each
 * one either way, whatever it holds and whatever its size. */
static void take_label(rv_evaluator *v, const rd_kafka_message_t *m, int64_t now)
{
    rv_eval_record *r = &v->rec;
    rv_label_refusal why;
    int rc = rv_eval_label_read(m->payload, m->payload ? m->len : 0, r, &why);
    if (rc < 0) {
        unreadable(v, m, "a label record not read: out of memory (not counted)");
        return;
    }
    if (rc == 0) {
        if (rv_evaluation_sampled(v->ev, r->id) &&
            rv_evaluation_label(v->ev, r->id, r->label, r->has_time ? r->time : 0, now) != 0)
            unreadable(v, m, "a label not taken: out of memory (not counted)");
        return;
    }
    char what[96];
    snprintf(what, sizeof what, "not a label: counted as %s", rv_evaluation_refusal_name(why));
    unreadable(v, m,
               rv_evaluation_refuse_label(v->ev, why) == 0 ? what : "not a label: out of memory");
}

/* One record of one of the three streams into the evaluation. */
static void take(rv_evaluator *v, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    rv_eval_record *r = &v->rec;
    int64_t now = now_ms();
    if (strcmp(topic, v->labels) == 0) {
        take_label(v, m, now);
        rv_evaluation_set_offset(v->ev, topic, m->partition, m->offset + 1);
        return;
    }
    int ok = rv_eval_record_read(m->payload, m->payload ? m->len : 0, r) == RV_EVAL_READ_OK &&
             r->id && r->id[0];
    if (ok && rv_evaluation_sampled(v->ev, r->id)) {
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
            a.shed = ok && strcmp(r->status, "shed") == 0;
            a.latency_us = r->has_latency && r->latency_us > 0 && r->latency_us < UINT32_MAX
                               ? (uint32_t)r->latency_us
                               : 0;
        }
        if (ok)
            ok = rv_evaluation_answer_of(v->ev, r->id, &a, now) == 0;
    }
    if (!ok)
        unreadable(v, m, "not a record of that stream");
    rv_evaluation_set_offset(v->ev, topic, m->partition, m->offset + 1);
}

/* ---------------------------------------------------------------- in the host */

static const char *out_topic(const rv_evaluator *v, int s)
{
    return s == OUT_SCORES ? v->scores : s == OUT_RESULTS ? v->results : v->replies;
}

static int out_index(const rv_evaluator *v, const char *topic)
{
    for (int s = 0; s < N_OUT; s++)
        if (out_topic(v, s) && strcmp(out_topic(v, s), topic) == 0)
            return s;
    return -1;
}

void rv_evaluator_delivered(void *ctx, const char *topic, int32_t partition, int64_t offset)
{
    rv_evaluator *v = ctx;
    int s = v->fw ? out_index(v, topic) : -1;
    if (s < 0 || partition < 0 || partition >= MAX_PARTITIONS)
        return;
    _Atomic int64_t *d = &v->fw->delivered[s][partition];
    int64_t was = atomic_load(d);
    while (offset > was && !atomic_compare_exchange_weak(d, &was, offset))
        ;
    d = &v->fw->first[s][partition];
    was = atomic_load(d);
    while ((was < 0 || offset < was) && !atomic_compare_exchange_weak(d, &was, offset))
        ;
}

static void unassign(rv_evaluator *v, rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_error_t *e = l->cnt ? rd_kafka_incremental_unassign(v->rk, l) : NULL;
    if (e) {
        rv_warn("evaluation", "cannot stop reading: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

/* A partition of the host's streams read up to where it ended when
 * assigned: from here on its answers are tapped. */
static void caught_up(rv_evaluator *v, int s, int32_t p)
{
    v->fw->end[s][p] = -1;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, out_topic(v, s), p);
    unassign(v, l);
    rd_kafka_topic_partition_list_destroy(l);
    rv_info("evaluation", "%s [%d]: caught up, its answers now come from the host", out_topic(v, s),
            (int)p);
}

/* What the host told: its answers queued, then the read positions its
 * deliveries reached before them (an answer is tapped before its record
 * is produced, so every record delivered by then has its answer in). */
static void take_tapped(rv_evaluator *v)
{
    follow *fw = v->fw;
    for (int32_t p = 0; p < MAX_PARTITIONS; p++)
        for (int s = 0; s < N_OUT; s++)
            fw->snap[s][p] =
                fw->have[p] && fw->end[s][p] < 0 ? atomic_load(&fw->delivered[s][p]) : -1;
    rv_evaluation_take_tapped(v->ev);
    for (int32_t p = 0; p < MAX_PARTITIONS; p++)
        for (int s = 0; s < N_OUT; s++)
            if (fw->snap[s][p] >= 0 && fw->snap[s][p] + 1 > fw->marked[s][p] &&
                rv_evaluation_set_offset(v->ev, out_topic(v, s), p, fw->snap[s][p] + 1) == 0)
                fw->marked[s][p] = fw->snap[s][p] + 1;
}

/* Whether a partition catching up has reached `at`: the end it had when
 * assigned, or the first record the host itself wrote there since (its
 * answer was tapped). */
static int reached(const follow *fw, int s, int32_t p, int64_t at)
{
    int64_t first = atomic_load(&fw->first[s][p]);
    return at >= fw->end[s][p] || (first >= 0 && at >= first);
}

/* A record read: 1 when it is taken in, 0 when its answer comes from the
 * host (a partition catching up reached it). */
static int read_back(rv_evaluator *v, const rd_kafka_message_t *m)
{
    int s = out_index(v, rd_kafka_topic_name(m->rkt));
    int32_t p = m->partition;
    if (s < 0 || p < 0 || p >= MAX_PARTITIONS)
        return 1; /* a label */
    if (v->fw->end[s][p] < 0)
        return 0; /* read before it was unassigned */
    if (reached(v->fw, s, p, m->offset)) {
        caught_up(v, s, p);
        return 0;
    }
    v->fw->marked[s][p] = m->offset + 1;
    if (m->offset + 1 >= v->fw->end[s][p])
        caught_up(v, s, p);
    return 1;
}

/* Also caught up once the read position passes the end (its last records
 * may be a transaction's markers, never delivered). */
static void caught_up_by_position(rv_evaluator *v)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (int32_t p = 0; p < MAX_PARTITIONS; p++)
        for (int s = 0; s < N_OUT; s++)
            if (v->fw->end[s][p] >= 0)
                rd_kafka_topic_partition_list_add(l, out_topic(v, s), p);
    if (l->cnt > 0 && rd_kafka_position(v->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < l->cnt; i++) {
            int s = out_index(v, l->elems[i].topic);
            int32_t p = l->elems[i].partition;
            if (l->elems[i].offset >= 0 && reached(v->fw, s, p, l->elems[i].offset))
                caught_up(v, s, p);
        }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Partition p newly owned: its labels from the store's position, and what
 * the host's streams hold after the store's positions, up to their end. */
static void start_following(rv_evaluator *v, int32_t p, rd_kafka_topic_partition_list_t *add)
{
    follow *fw = v->fw;
    int64_t at = rv_evaluation_offset(v->ev, v->labels, p);
    rd_kafka_topic_partition_list_add(add, v->labels, p)->offset =
        at >= 0 ? at : RD_KAFKA_OFFSET_BEGINNING;
    for (int s = 0; s < N_OUT; s++) {
        const char *topic = out_topic(v, s);
        int64_t from = topic ? rv_evaluation_offset(v->ev, topic, p) : -1, lo = 0, hi = -1;
        fw->end[s][p] = -1;
        fw->marked[s][p] = from;
        if (!topic || rv_query_watermarks(v->rk, topic, p, &lo, &hi, 5000) != 0)
            continue;                 /* not known: what the host writes from now on */
        from = from > lo ? from : lo; /* none stored: all of it, as the role reads */
        if (hi > from) {
            fw->end[s][p] = hi;
            rd_kafka_topic_partition_list_add(add, topic, p)->offset = from;
            rv_info("evaluation", "%s [%d]: reading back the answers from %lld to %lld", topic,
                    (int)p, (long long)from, (long long)hi);
        }
    }
}

/* The labels partitions follow the requests consumer's assignment; one
 * taken away is committed first. */
static void sync_assignment(rv_evaluator *v)
{
    follow *fw = v->fw;
    unsigned char want[MAX_PARTITIONS];
    pthread_mutex_lock(&fw->lock);
    int known = fw->requests &&
                rv_assigned_partitions(fw->requests, fw->requests_topic, want, MAX_PARTITIONS) == 0;
    pthread_mutex_unlock(&fw->lock);
    if (!known)
        return;
    rd_kafka_topic_partition_list_t *add = rd_kafka_topic_partition_list_new(4),
                                    *drop = rd_kafka_topic_partition_list_new(4);
    int committed = 0;
    for (int32_t p = 0; p < MAX_PARTITIONS; p++) {
        if (want[p] && !fw->have[p]) {
            start_following(v, p, add);
            fw->have[p] = 1;
        } else if (!want[p] && fw->have[p]) {
            if (!committed++) {
                take_tapped(v);
                commit(v);
            }
            rd_kafka_topic_partition_list_add(drop, v->labels, p);
            for (int s = 0; s < N_OUT; s++)
                if (fw->end[s][p] >= 0)
                    rd_kafka_topic_partition_list_add(drop, out_topic(v, s), p);
            for (int s = 0; s < N_OUT; s++) {
                fw->end[s][p] = -1;
                atomic_store(&fw->first[s][p], -1); /* another host writes there now */
            }
            fw->have[p] = 0;
        }
    }
    rd_kafka_error_t *e = add->cnt ? rd_kafka_incremental_assign(v->rk, add) : NULL;
    if (e) {
        rv_warn("evaluation", "cannot read the labels: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        for (int i = 0; i < add->cnt; i++)
            fw->have[add->elems[i].partition] = 0; /* tried again */
    } else if (add->cnt)
        rv_info("evaluation", "reading %d partition(s): the labels and what the host wrote",
                add->cnt);
    unassign(v, drop);
    rd_kafka_topic_partition_list_destroy(add);
    rd_kafka_topic_partition_list_destroy(drop);
    caught_up_by_position(v);
}

static void produce(rv_evaluator *v, const char *topic, const char *key, const void *value,
                    size_t len)
{
    rd_kafka_headers_t *h = v->site ? rd_kafka_headers_new(1) : NULL;
    if (h)
        rd_kafka_header_add(h, "rv-site", -1, v->site, -1);
    rd_kafka_resp_err_t e =
        rd_kafka_producev(v->out, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, len),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
    if (e && h)
        rd_kafka_headers_destroy(h);
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
             "minus the margin; p = %.3g, alpha %.3g)",
             a->source, a->value, (unsigned long long)a->count, a->raised ? "" : "no longer ",
             a->threshold, canary ? "the canary" : "its first window", a->p_value, a->alpha);
    rv_alert_fields f = {.raised = a->raised,
                         .check = rv_eval_check_name(a->check),
                         .model = a->source,
                         .version = a->version,
                         .canary = a->reference,
                         .value = a->value,
                         .threshold = a->threshold,
                         .p_value = a->p_value,
                         .alpha = a->alpha,
                         .window = (uint32_t)a->count,
                         .reference_window = (uint32_t)a->reference_count,
                         .for_tests = a->for_tests,
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
    while ((k = rv_eval_alerts_check(v->alerts, f, n, rv_mono_ms(), changed, 16)) > 0)
        for (size_t i = 0; i < k; i++)
            alert(v, &changed[i], &w);
    if (v->promoter)
        rv_promoter_decide(v->promoter, v->rk, now);
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
    int64_t synced = 0;
    while (!atomic_load(&v->stop)) {
        if (v->fw && rv_mono_ms() - synced >= 100) {
            sync_assignment(v);
            take_tapped(v);
            synced = rv_mono_ms();
        }
        /* what has come, up to a bound, before the clocks are looked at
         * again: labels come thousands a second */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(v->rk, 100);
        for (int n = 0; m; m = ++n < POLL_BATCH ? rd_kafka_consumer_poll(v->rk, 0) : NULL) {
            if (!m->err) {
                if (!v->fw || read_back(v, m))
                    take(v, m);
            } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                rv_warn("evaluation", "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        }
        if (rv_mono_ms() >= next || rv_evaluation_queued(v->ev) >= MAX_QUEUED) {
            if (v->fw)
                take_tapped(v);
            commit(v);
            next = rv_mono_ms() + v->interval_ms;
        }
        if (rv_mono_ms() >= next_report) {
            report(v);
            next_report = rv_mono_ms() + v->report_ms;
        }
        rd_kafka_poll(v->out, 0);
    }
    if (v->fw)
        take_tapped(v);
    commit(v);
    report(v);
    return NULL;
}

/* In the host: a consumer in no group, assigned by sync_assignment. */
static rv_evaluator *follow_requests(rv_evaluator *v, const rv_config *cfg, const char *bootstrap,
                                     rd_kafka_t *requests, const char *group, char *err,
                                     size_t err_size)
{
    rv_group_callbacks cb = {.background = 1};
    if (!(v->fw = calloc(1, sizeof *v->fw)) ||
        !(v->fw->requests_topic = strdup(cfg->streams.requests))) {
        rv_errf(err, err_size, "evaluation: out of memory");
        rv_evaluator_stop(v);
        return NULL;
    }
    v->fw->requests = requests;
    pthread_mutex_init(&v->fw->lock, NULL);
    for (int s = 0; s < N_OUT; s++)
        for (int32_t p = 0; p < MAX_PARTITIONS; p++) {
            atomic_init(&v->fw->delivered[s][p], -1);
            atomic_init(&v->fw->first[s][p], -1);
            v->fw->end[s][p] = -1;
        }
    if (!(v->rk = rv_consumer_new(cfg, bootstrap, RV_CONSUMER_TAIL, group, NULL, 0, &cb, err,
                                  err_size))) {
        rv_evaluator_stop(v);
        return NULL;
    }
    if (pthread_create(&v->thread, NULL, loop, v) != 0) {
        rv_errf(err, err_size, "evaluation: cannot start its thread");
        rv_evaluator_stop(v);
        return NULL;
    }
    return v;
}

rv_evaluator *rv_evaluator_start(const rv_config *cfg, const char *bootstrap, rd_kafka_t *requests,
                                 char *err, size_t err_size)
{
    rv_evaluator *v = calloc(1, sizeof *v);
    char dir[4096], group[600];
    rv_alarm_policy policy = rv_alarm_policy_of(cfg);
    if (!v) {
        rv_errf(err, err_size, "evaluation: out of memory");
        return NULL;
    }
    snprintf(dir, sizeof dir, "%s/evaluation", cfg->state_dir);
    char reply[512];
    rv_topics_reply_topic(cfg, reply, sizeof reply);
    rv_evaluation_settings s = {
        .dir = dir,
        .store_bytes = (uint64_t)cfg->evaluation.store_mb << 20,
        .max_label_delay_ms = (int64_t)cfg->evaluation.max_label_delay_s * 1000,
        .n_labels = cfg->evaluation.n_labels,
        .labels = (const char *const *)cfg->evaluation.labels,
        .baseline_answers = cfg->evaluation.baseline_answers,
        .sample = cfg->evaluation.sample,
    };
    v->interval_ms = (int)cfg->evaluation.interval_ms;
    v->report_ms = (int)cfg->evaluation.report_s * 1000;
    const char *canary = rv_config_reference(cfg);
    v->n_labels = cfg->evaluation.n_labels;
    int copied = (v->label_names = calloc(v->n_labels, sizeof *v->label_names)) != NULL;
    for (size_t i = 0; copied && i < v->n_labels; i++)
        copied = (v->label_names[i] = strdup(cfg->evaluation.labels[i])) != NULL;
    if (!(v->ev = rv_evaluation_open(&s, now_ms(), err, err_size)) ||
        !(v->scores = strdup(cfg->streams.scores)) ||
        !(v->results = strdup(cfg->streams.results)) ||
        !(v->labels = strdup(cfg->streams.labels)) ||
        (cfg->http.listen && !(v->replies = strdup(reply))) ||
        (cfg->site.name && !(v->site = strdup(cfg->site.name))) ||
        !(v->figures_topic = strdup(cfg->streams.evaluation)) ||
        !(v->alerts_topic = strdup(cfg->streams.alerts)) || !copied ||
        !(v->alerts = rv_eval_alerts_new(canary, cfg->evaluation.alert_margin,
                                         cfg->evaluation.alert_min_answers,
                                         cfg->evaluation.baseline_answers, &policy))) {
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
    if (cfg->promotion.metric &&
        !(v->promoter = rv_promoter_new(cfg, v->ev, v->out, err, err_size))) {
        rv_evaluator_stop(v);
        return NULL;
    }
    snprintf(group, sizeof group, "%s.evaluation", cfg->streams.group);
    rv_group_callbacks cb = {.rebalance = on_rebalance, .opaque = v, .background = 1};
    if (requests) /* in the host: assigned as the requests are, in no group */
        return follow_requests(v, cfg, bootstrap, requests, group, err, err_size);
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
    rv_eval_record_free(&v->rec);
    rv_eval_alerts_free(v->alerts);
    rv_promoter_free(v->promoter);
    for (size_t i = 0; v->label_names && i < v->n_labels; i++)
        free(v->label_names[i]);
    free(v->label_names);
    free(v->figures_topic);
    free(v->alerts_topic);
    free(v->scores);
    free(v->results);
    free(v->labels);
    free(v->replies);
    free(v->site);
    if (v->fw) {
        free(v->fw->requests_topic);
        pthread_mutex_destroy(&v->fw->lock);
    }
    free(v->fw);
    free(v);
}

void rv_evaluator_unfollow(rv_evaluator *v)
{
    if (!v || !v->fw)
        return;
    pthread_mutex_lock(&v->fw->lock);
    v->fw->requests = NULL;
    pthread_mutex_unlock(&v->fw->lock);
}

rv_evaluation *rv_evaluator_evaluation(rv_evaluator *v)
{
    return v ? v->ev : NULL;
}

rv_promoter *rv_evaluator_promoter(rv_evaluator *v)
{
    return v ? v->promoter : NULL;
}
