/*
 * promoter.c - the races, their looks, the guardrails and the records of
 * promotion by evidence (promoter.h).
 */
#include "promoter.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "evaluation_internal.h"
#include "log.h"
#include "promotion.h"

#define MAX_MODELS 32
#define MAX_LOG 64

typedef struct race {
    char challenger[128], champion[128];
    char challenger_version[64], champion_version[64];
    int rollback;   /* the replaced model racing the promoted one */
    int done;       /* decided; runs again when a version changes */
    rv_pair *pairs; /* the race's first pairs, up to max_labels */
    size_t n;
    uint32_t looks;
    int64_t started_ms;
    rv_eval_answer_stats at_start; /* the challenger's counts when the race started */
} race;

/* A decision, as its record says it. */
typedef struct decision {
    char action[16]; /* promote, rollback, not_promoted, blocked, kept, proposed */
    char challenger[128], champion[128];
    char reason[160];
    int applied;
    rv_promotion_look look;
    double error_rate, shed_rate, p99_ms;
    int64_t time_ms;
} decision;

struct rv_promoter {
    rv_promotion_policy policy;
    int apply;
    double max_error_rate, max_shed_rate;
    int64_t cooldown_ms, hold_ms, last_change_ms;
    char *labels_topic, *alerts_topic, *control_topic, *key_file;
    rv_evaluation *ev;
    rd_kafka_t *out;
    size_t n_labels;
    /* the schedule, as this decider knows it */
    size_t n_sched;
    char sched[MAX_MODELS][128];
    uint32_t within[MAX_MODELS];
    char before[MAX_MODELS][128]; /* the schedule before the last promotion */
    size_t n_before;
    char pinned[MAX_MODELS][128];
    size_t n_pinned;
    race races[MAX_MODELS]; /* one per challenger; the last may be the rollback's */
    size_t n_races;
    pthread_mutex_t race_lock; /* races: written by joined() and decide(), read by json() */
    pthread_mutex_t lock;      /* log; taken after race_lock, never before */
    decision log[MAX_LOG];
    size_t n_log;
};

static int is_pinned(const rv_promoter *p, const char *model)
{
    for (size_t i = 0; i < p->n_pinned; i++)
        if (!strcmp(p->pinned[i], model))
            return 1;
    return 0;
}

/* A race from its start: no pairs, the challenger's counts as they are. */
static void start_race(rv_promoter *p, race *r, int64_t now)
{
    r->n = 0;
    r->looks = 0;
    r->started_ms = now;
    rv_evaluation_answer_stats(p->ev, r->challenger, &r->at_start);
}

/* Every race starts again: the champion changed. The challengers are the
 * models of the schedule and the others scored (races[] as configured);
 * the champion races no one. */
static void restart_all(rv_promoter *p, int64_t now)
{
    for (size_t i = 0; i < p->n_races; i++) {
        race *r = &p->races[i];
        if (r->rollback)
            continue;
        snprintf(r->champion, sizeof r->champion, "%s", p->sched[0]);
        r->done = !strcmp(r->challenger, p->sched[0]) || is_pinned(p, p->sched[0]);
        r->champion_version[0] = r->challenger_version[0] = '\0';
        start_race(p, r, now);
    }
}

void rv_promoter_free(rv_promoter *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_races; i++)
        free(p->races[i].pairs);
    free(p->labels_topic);
    free(p->alerts_topic);
    free(p->control_topic);
    free(p->key_file);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->race_lock);
    free(p);
}

/* A request's answers: each race whose two models answered takes a pair. */
static void joined(void *ctx, const rv_eval_sample *x, size_t n)
{
    rv_promoter *p = ctx;
    pthread_mutex_lock(&p->race_lock);
    for (size_t r = 0; r < p->n_races; r++) {
        race *rc = &p->races[r];
        if (rc->done || rc->n >= p->policy.max_labels)
            continue;
        const rv_eval_sample *a = NULL, *b = NULL;
        for (size_t i = 0; i < n; i++) {
            if (!strcmp(x[i].source, rc->champion))
                a = &x[i];
            else if (!strcmp(x[i].source, rc->challenger))
                b = &x[i];
        }
        if (!a || !b)
            continue;
        if (strcmp(rc->champion_version, a->version) ||
            strcmp(rc->challenger_version, b->version)) {
            /* a new version of either: a new race */
            snprintf(rc->champion_version, sizeof rc->champion_version, "%s", a->version);
            snprintf(rc->challenger_version, sizeof rc->challenger_version, "%s", b->version);
            rc->n = 0; /* its pairs only: the guardrails count from the race's start */
            rc->looks = 0;
        }
        uint32_t t = a->truth;
        rv_pair *q = &rc->pairs[rc->n++];
        memset(q, 0, sizeof *q);
        q->positive = p->n_labels == 2 && t == 1;
        for (int side = 0; side < 2; side++) {
            const double *pr = side ? b->p : a->p;
            size_t top = 0;
            double brier = 0;
            for (size_t k = 0; k < p->n_labels; k++) {
                if (pr[k] > pr[top])
                    top = k;
                brier += (pr[k] - (k == t)) * (pr[k] - (k == t));
            }
            if (p->n_labels == 2) /* as the evaluation's measures: the positive label's */
                brier = (pr[1] - (t == 1)) * (pr[1] - (t == 1));
            *(side ? &q->b_correct : &q->a_correct) = top == t;
            *(side ? &q->b_pos : &q->a_pos) = p->n_labels == 2 ? pr[1] : 0;
            *(side ? &q->b_truth : &q->a_truth) = pr[t];
            *(side ? &q->b_brier : &q->a_brier) = brier;
        }
    }
    pthread_mutex_unlock(&p->race_lock);
}

rv_promoter *rv_promoter_new(const rv_config *cfg, rv_evaluation *ev, rd_kafka_t *out, char *err,
                             size_t err_size)
{
    if (!cfg->promotion.metric) {
        snprintf(err, err_size, "no promotion section");
        return NULL;
    }
    rv_promoter *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_size, "promotion: out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->race_lock, NULL);
    p->policy = (rv_promotion_policy){.metric = rv_metric_from_name(cfg->promotion.metric),
                                      .margin = cfg->promotion.margin,
                                      .alpha = cfg->promotion.alpha,
                                      .min_labels = cfg->promotion.min_labels,
                                      .max_labels = cfg->promotion.max_labels};
    p->apply = !strcmp(cfg->promotion.mode, "apply");
    p->max_error_rate = cfg->promotion.max_error_rate;
    p->max_shed_rate = cfg->promotion.max_shed_rate;
    p->cooldown_ms = (int64_t)cfg->promotion.cooldown_s * 1000;
    p->hold_ms = (int64_t)cfg->promotion.hold_s * 1000;
    p->last_change_ms = INT64_MIN / 2;
    p->ev = ev;
    p->out = out;
    p->n_labels = cfg->evaluation.n_labels;
    for (size_t i = 0; i < cfg->rendezvous.n_schedule && p->n_sched < MAX_MODELS;
         i++, p->n_sched++) {
        snprintf(p->sched[i], sizeof p->sched[i], "%s", cfg->rendezvous.schedule[i].model);
        p->within[i] = cfg->rendezvous.schedule[i].within_ms;
    }
    for (size_t i = 0; i < cfg->promotion.n_pinned && i < MAX_MODELS; i++, p->n_pinned++)
        snprintf(p->pinned[i], sizeof p->pinned[i], "%s", cfg->promotion.pinned[i]);
    int ok = (p->labels_topic = strdup(cfg->streams.labels)) &&
             (p->alerts_topic = strdup(cfg->streams.alerts)) &&
             (p->control_topic = strdup(cfg->streams.control)) &&
             (!cfg->control.key_file || (p->key_file = strdup(cfg->control.key_file)));
    /* a race for every model that answers but the builtins; one more for
     * the rollback's */
    for (size_t i = 0; ok && i < cfg->n_models && p->n_races < MAX_MODELS - 1; i++) {
        if (cfg->models[i].builtin)
            continue;
        race *r = &p->races[p->n_races++];
        snprintf(r->challenger, sizeof r->challenger, "%s", cfg->models[i].name);
        ok = (r->pairs = calloc(p->policy.max_labels, sizeof *r->pairs)) != NULL;
    }
    race *rb = &p->races[p->n_races];
    ok = ok && (rb->pairs = calloc(p->policy.max_labels, sizeof *rb->pairs)) != NULL;
    rb->rollback = rb->done = 1; /* idle until a promotion */
    if (!ok) {
        rv_promoter_free(p);
        snprintf(err, err_size, "promotion: out of memory");
        return NULL;
    }
    p->n_races++;
    restart_all(p, 0);
    rv_evaluation_count_answers(ev);
    rv_evaluation_on_joined(ev, joined, p);
    return p;
}

static int reads_partition_0(rd_kafka_t *reader, const char *topic)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    int yes = 0;
    if (rd_kafka_assignment(reader, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a)
        yes = rd_kafka_topic_partition_list_find(a, topic, 0) != NULL;
    if (a)
        rd_kafka_topic_partition_list_destroy(a);
    return yes;
}

/* The decision's record: to the alerts stream, in the log, in the list. */
/* A decision's fields, as its record and GET /v1/promotions give them. */
static void decision_fields(const rv_promoter *p, const decision *d, rv_jw *w)
{
    rv_jw_kv_string(w, "action", d->action);
    rv_jw_kv_string(w, "mode", p->apply ? "apply" : "propose");
    rv_jw_kv_bool(w, "applied", d->applied);
    rv_jw_kv_string(w, "challenger", d->challenger);
    rv_jw_kv_string(w, "champion", d->champion);
    rv_jw_kv_string(w, "metric", rv_metric_name(p->policy.metric));
    const char *names[] = {"value", "champion_value", "p_value", "alpha"};
    double values[] = {d->look.value, d->look.champion, d->look.p_value, d->look.alpha_look};
    for (size_t i = 0; i < 4; i++) {
        rv_jw_string(w, names[i]);
        rv_jw_double(w, values[i]);
    }
    rv_jw_kv_int(w, "look", d->look.look);
    rv_jw_kv_int(w, "looks", d->look.looks);
    rv_jw_kv_int(w, "labels", (int64_t)d->look.labels);
    rv_jw_string(w, "error_rate");
    rv_jw_double(w, d->error_rate);
    rv_jw_string(w, "shed_rate");
    rv_jw_double(w, d->shed_rate);
    rv_jw_string(w, "latency_p99_ms");
    rv_jw_double(w, d->p99_ms);
    rv_jw_kv_string(w, "reason", d->reason);
    rv_jw_kv_int(w, "time", d->time_ms);
}

static void tell(rv_promoter *p, const decision *d)
{
    rv_jw w;
    rv_jw_init(&w);
    rv_jw_map_open(&w);
    rv_jw_kv_string(&w, "type", "promotion");
    decision_fields(p, d, &w);
    rv_jw_map_close(&w);
    if (!w.oom && p->out &&
        rd_kafka_producev(p->out, RD_KAFKA_V_TOPIC(p->alerts_topic),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(d->challenger, strlen(d->challenger)),
                          RD_KAFKA_V_VALUE(w.buf, w.len), RD_KAFKA_V_END) != 0)
        rv_warn("promotion", "cannot write the decision to %s", p->alerts_topic);
    rv_jw_free(&w);
    rv_info("promotion", "%s %s (champion %s): %s", d->action, d->challenger, d->champion,
            d->reason);
    pthread_mutex_lock(&p->lock);
    if (p->n_log == MAX_LOG)
        memmove(p->log, p->log + 1, (MAX_LOG - 1) * sizeof *p->log);
    else
        p->n_log++;
    p->log[p->n_log - 1] = *d;
    pthread_mutex_unlock(&p->lock);
}

/* The control record putting `first` first, the others after it in their
 * order (each no sooner than the one before). 0, or -1. */
static int write_schedule(rv_promoter *p, const char *first)
{
    rv_jw w;
    rv_jw_init(&w);
    rv_jw_map_open(&w);
    rv_jw_string(&w, "schedule");
    rv_jw_array_open(&w);
    uint32_t at = p->within[0];
    for (size_t i = 0, k = 0; i <= p->n_sched; i++) {
        const char *m = i == 0 ? first : p->sched[i - 1];
        if (i > 0 && !strcmp(m, first))
            continue;
        uint32_t within = k < p->n_sched ? p->within[k] : p->within[p->n_sched - 1];
        at = within > at ? within : at;
        k++;
        rv_jw_map_open(&w);
        rv_jw_kv_string(&w, "model", m);
        rv_jw_kv_int(&w, "within_ms", at);
        rv_jw_map_close(&w);
    }
    rv_jw_array_close(&w);
    rv_jw_map_close(&w);
    int rc = -1;
    char mac[RV_SHA256_HEX], header[sizeof "sha256=" + RV_SHA256_HEX], why[256];
    size_t key_len = 0;
    char *key = p->key_file ? rv_file_read(p->key_file, &key_len, why, sizeof why) : NULL;
    if (p->key_file && !key)
        rv_error("promotion", "cannot sign the schedule: control.key_file: %s", why);
    else if (!w.oom) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(1);
        if (key) {
            if (key_len && key[key_len - 1] == '\n')
                key_len--;
            rv_hmac_sha256_hex(key, key_len, w.buf, w.len, mac);
            snprintf(header, sizeof header, "sha256=%s", mac);
            rd_kafka_header_add(h, "rv-signature", -1, header, -1);
        }
        rc = rd_kafka_producev(p->out, RD_KAFKA_V_TOPIC(p->control_topic),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_VALUE(w.buf, w.len), RD_KAFKA_V_HEADERS(h),
                               RD_KAFKA_V_END) == 0
                 ? 0
                 : -1;
        if (rc != 0)
            rd_kafka_headers_destroy(h);
    }
    free(key);
    rv_jw_free(&w);
    if (rc != 0)
        return -1;
    /* the schedule as the hosts now have it */
    memcpy(p->before, p->sched, sizeof p->sched);
    p->n_before = p->n_sched;
    size_t k = 0;
    char next[MAX_MODELS][128];
    snprintf(next[k++], sizeof next[0], "%s", first);
    for (size_t i = 0; i < p->n_sched && k < MAX_MODELS; i++)
        if (strcmp(p->sched[i], first))
            snprintf(next[k++], sizeof next[0], "%s", p->sched[i]);
    memcpy(p->sched, next, sizeof next);
    p->n_sched = k < p->n_sched ? p->n_sched : k;
    return 0;
}

/* The challenger's error rate, shed rate and latency p99 over its race. A
 * shed answer is not an error of the model's (max_shed_rate bounds them,
 * looser): a challenger scores at background priority, so its queue is the
 * first to fill on a busy host, and a model too slow to keep up shows in
 * the latency of its answers (which counts the wait in its queue). */
static void guard_figures(rv_promoter *p, race *r, decision *d)
{
    rv_eval_answer_stats now;
    rv_evaluation_answer_stats(p->ev, r->challenger, &now);
    /* since the race started; all of them when none came since (its pairs'
     * answers all came before its first look) */
    const rv_eval_answer_stats *since = now.answers > r->at_start.answers ? &r->at_start : NULL;
    uint64_t answers = now.answers - (since ? since->answers : 0),
             failed = now.failed - (since ? since->failed : 0),
             shed = now.shed - (since ? since->shed : 0);
    d->error_rate = answers ? (double)(failed - shed) / (double)answers : 0;
    d->shed_rate = answers ? (double)shed / (double)answers : 0;
    d->p99_ms = rv_eval_latency_quantile(&now, since, 0.99);
}

static void decide_race(rv_promoter *p, race *r, int64_t now)
{
    if (r->rollback && now - r->started_ms >= p->hold_ms) {
        decision d = {.time_ms = now, .look = {.labels = r->n}};
        snprintf(d.action, sizeof d.action, "kept");
        snprintf(d.challenger, sizeof d.challenger, "%s", r->challenger);
        snprintf(d.champion, sizeof d.champion, "%s", r->champion);
        snprintf(d.reason, sizeof d.reason, "%s not found better in hold_s", r->challenger);
        r->done = 1;
        tell(p, &d);
        return;
    }
    if (r->n < (size_t)(r->looks + 1) * p->policy.min_labels)
        return;
    rv_promotion_policy policy = p->policy;
    if (r->rollback)
        policy.margin = 0; /* put back if merely better */
    decision d = {.time_ms = now};
    snprintf(d.challenger, sizeof d.challenger, "%s", r->challenger);
    snprintf(d.champion, sizeof d.champion, "%s", r->champion);
    if (rv_promotion_look_at(&policy, r->pairs, (size_t)(r->looks + 1) * policy.min_labels,
                             &d.look) != 0) {
        r->looks++;
        return; /* one class only so far (AUC): the next look */
    }
    r->looks++;
    guard_figures(p, r, &d);
    if (!d.look.better) {
        if (!d.look.decided)
            return;
        if (r->rollback) { /* within hold_s: a new race, on the newest labels */
            int64_t started = r->started_ms;
            start_race(p, r, now);
            r->started_ms = started; /* hold_s counts from the promotion */
            return;
        }
        r->done = 1;
        snprintf(d.action, sizeof d.action, r->rollback ? "kept" : "not_promoted");
        snprintf(d.reason, sizeof d.reason, "not better by %g after %zu labels (p = %.3g)",
                 policy.margin, d.look.labels, d.look.p_value);
        tell(p, &d);
        return;
    }
    const char *why = NULL;
    char text[160];
    if (!r->rollback && d.error_rate > p->max_error_rate) {
        snprintf(text, sizeof text, "better, but its error rate %.4f is above %g", d.error_rate,
                 p->max_error_rate);
        why = text;
    } else if (!r->rollback && d.shed_rate > p->max_shed_rate) {
        snprintf(text, sizeof text, "better, but its shed rate %.4f is above %g", d.shed_rate,
                 p->max_shed_rate);
        why = text;
    } else if (!r->rollback && !(d.p99_ms <= p->within[0])) {
        if (isnan(d.p99_ms))
            snprintf(text, sizeof text, "better, but no latency of its answers is known");
        else
            snprintf(text, sizeof text, "better, but its latency p99 %.3g ms is not within %u ms",
                     d.p99_ms, p->within[0]);
        why = text;
    }
    if (why) {
        r->done = 1;
        snprintf(d.action, sizeof d.action, "blocked");
        snprintf(d.reason, sizeof d.reason, "%s", why);
        tell(p, &d);
        return;
    }
    if (!r->rollback && now - p->last_change_ms < p->cooldown_ms) {
        snprintf(d.action, sizeof d.action, "blocked");
        snprintf(d.reason, sizeof d.reason, "better, but the last change was less than %llds ago",
                 (long long)(p->cooldown_ms / 1000));
        tell(p, &d); /* the race goes on: a later look may act */
        return;
    }
    r->done = 1;
    snprintf(d.action, sizeof d.action, r->rollback ? "rollback" : "promote");
    snprintf(d.reason, sizeof d.reason, "%s by more than %g: %.4f against %.4f (p = %.3g)",
             r->rollback ? "the replaced model is better" : "better", policy.margin, d.look.value,
             d.look.champion, d.look.p_value);
    char replaced[128];
    snprintf(replaced, sizeof replaced, "%s", r->champion);
    d.applied = p->apply && write_schedule(p, r->challenger) == 0;
    if (p->apply && !d.applied)
        snprintf(d.reason + strlen(d.reason), sizeof d.reason - strlen(d.reason),
                 "; the control record could not be written");
    tell(p, &d);
    if (!d.applied)
        return; /* proposed: the schedule stays; the race is over */
    p->last_change_ms = now;
    restart_all(p, now);
    race *rb = &p->races[p->n_races - 1];
    if (r->rollback) {
        rb->done = 1;
        return;
    }
    /* for hold_s the replaced model races the promoted one back */
    snprintf(rb->challenger, sizeof rb->challenger, "%s", replaced);
    snprintf(rb->champion, sizeof rb->champion, "%s", p->sched[0]);
    rb->champion_version[0] = rb->challenger_version[0] = '\0';
    rb->done = 0;
    start_race(p, rb, now);
}

void rv_promoter_decide(rv_promoter *p, rd_kafka_t *reader, int64_t now_ms)
{
    if (!reads_partition_0(reader, p->labels_topic))
        return;
    pthread_mutex_lock(&p->race_lock);
    for (size_t i = 0; i < p->n_races; i++)
        if (!p->races[i].done)
            decide_race(p, &p->races[i], now_ms);
    pthread_mutex_unlock(&p->race_lock);
}

void rv_promoter_json(rv_promoter *p, rv_jw *w)
{
    pthread_mutex_lock(&p->race_lock);
    pthread_mutex_lock(&p->lock);
    rv_jw_map_open(w);
    rv_jw_kv_string(w, "metric", rv_metric_name(p->policy.metric));
    rv_jw_kv_string(w, "mode", p->apply ? "apply" : "propose");
    rv_jw_kv_string(w, "champion", p->sched[0]);
    rv_jw_string(w, "races");
    rv_jw_array_open(w);
    for (size_t i = 0; i < p->n_races; i++) {
        const race *r = &p->races[i];
        if (r->rollback && r->done)
            continue;
        rv_jw_map_open(w);
        rv_jw_kv_string(w, "challenger", r->challenger);
        rv_jw_kv_string(w, "champion", r->champion);
        rv_jw_kv_bool(w, "rollback", r->rollback);
        rv_jw_kv_bool(w, "done", r->done);
        rv_jw_kv_int(w, "labels", (int64_t)r->n);
        rv_jw_kv_int(w, "looks", r->looks);
        rv_jw_map_close(w);
    }
    rv_jw_array_close(w);
    rv_jw_string(w, "decisions");
    rv_jw_array_open(w);
    for (size_t i = 0; i < p->n_log; i++) {
        rv_jw_map_open(w);
        decision_fields(p, &p->log[i], w);
        rv_jw_map_close(w);
    }
    rv_jw_array_close(w);
    rv_jw_map_close(w);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->race_lock);
}
