/*
 * canary_monitor.c - windows, histograms and the tests of each check.
 * Scores are probabilities, so a window's scores are a 1000-bin histogram
 * over [0, 1] (differences of two, 2000 bins over [-1, 1]): exact to
 * 0.001, constant memory, no allocation per request, and the KS statistic
 * of two histograms is one pass over their bins. Must never block the
 * rendezvous thread: alerts go to a sink that only queues.
 */
#include "canary_monitor.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alarm.h"
#include "clock.h"
#include "errbuf.h"
#include "evaluation_alerts.h"
#include "log.h"
#include "records.h"
#include "stattest.h"

#define BINS 1000
#define DBINS (2 * BINS)
#define MAX_TRACKED 64

enum { CHECK_AGREEMENT, CHECK_SHIFT, CHECK_DRIFT, N_CHECKS };
static const char *const check_names[N_CHECKS] = {"agreement", "score_shift", "drift"};

typedef struct tracked {
    char name[128];
    char version[9];
    int is_canary;
    uint32_t n, agree;
    /* this window: the model's and the canary's score of the label, and
     * their difference */
    uint32_t own[BINS], canary[BINS], diff[DBINS];
    /* the first windows': the canary's scores, a model's differences */
    uint32_t ref[DBINS], ref_n, ref_windows;
    int64_t last_test_ms; /* 0: never */
    rv_alarm alarm[N_CHECKS];
    rv_canary_gauge gauge;
} tracked;

struct rv_canary_monitor {
    rv_alert_sink sink;
    void *sink_ctx;
    int64_t (*now_ms)(void *);
    void *clock_ctx;
    pthread_mutex_t lock; /* guards gauges against snapshot() */
    tracked t[MAX_TRACKED];
    size_t n;
    rv_jw jw; /* the alert record being written */
    /* the canary's settings, read once per canary version, not per request */
    char settings_of[9];
    rv_monitor_settings settings;
};

static int64_t mono_ms(void *ctx)
{
    (void)ctx;
    return rv_mono_ms();
}

rv_canary_monitor *rv_canary_monitor_new(rv_alert_sink sink, void *sink_ctx)
{
    rv_canary_monitor *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->sink = sink;
    m->sink_ctx = sink_ctx;
    m->now_ms = mono_ms;
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void rv_canary_monitor_set_clock(rv_canary_monitor *m, int64_t (*now_ms)(void *), void *ctx)
{
    m->now_ms = now_ms;
    m->clock_ctx = ctx;
}

void rv_canary_monitor_free(rv_canary_monitor *m)
{
    if (!m)
        return;
    rv_jw_free(&m->jw);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const char *param_value(const void *ctx, const char *key)
{
    const rv_model *model = ctx;
    for (size_t i = 0; i < model->n_params; i++)
        if (strcmp(model->params[i].key, key) == 0)
            return model->params[i].value;
    return NULL;
}

/* The bin of v in [lo, lo + bins / BINS). */
static int bin_of(double v, double lo, int bins)
{
    int b = (int)floor((v - lo) * BINS);
    return !(b >= 0) ? 0 : b >= bins ? bins - 1 : b;
}

static double hist_quantile(const uint32_t *h, uint32_t n, double q)
{
    uint32_t want = (uint32_t)(q * (n - 1)), seen = 0;
    for (int b = 0; b < BINS; b++) {
        seen += h[b];
        if (seen > want)
            return (b + 0.5) / BINS;
    }
    return 1.0;
}

static void reset_gauge(rv_canary_gauge *g)
{
    g->agreement = g->score_shift = g->drift = g->p_drift = NAN;
    for (int i = 0; i < RV_CANARY_DECILES; i++)
        g->q_model[i] = g->q_canary[i] = NAN;
}

static tracked *track(rv_canary_monitor *m, const rv_model *model)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->t[i].name, model->name) == 0) {
            tracked *t = &m->t[i];
            if (strcmp(t->version, model->version) != 0) {
                /* a new version starts a new reference; an alert raised on
                 * the old one stays until the new one clears it */
                rv_alarm alarm[N_CHECKS];
                memcpy(alarm, t->alarm, sizeof alarm);
                rv_canary_gauge gauge = t->gauge;
                memset(t, 0, sizeof *t);
                memcpy(t->name, gauge.model, sizeof t->name);
                memcpy(t->version, model->version, sizeof t->version);
                memcpy(t->alarm, alarm, sizeof alarm);
                t->gauge = gauge;
            }
            return t;
        }
    if (m->n == MAX_TRACKED)
        return NULL;
    tracked *t = &m->t[m->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", model->name);
    memcpy(t->version, model->version, sizeof t->version);
    snprintf(t->gauge.model, sizeof t->gauge.model, "%s", model->name);
    reset_gauge(&t->gauge);
    return t;
}

/* One test's outcome, what an alert record says of it. */
typedef struct outcome {
    int check;
    double value, threshold, p_value;
    int bad;
} outcome;

static void send_alert(rv_canary_monitor *m, const tracked *t, const char *canary, int raised,
                       const outcome *o, double alpha, const rv_alarm_policy *policy)
{
    char msg[512];
    if (t->is_canary)
        snprintf(msg, sizeof msg,
                 "canary %s %s from its reference window: KS distance %.4f, p = %.3g (alpha "
                 "%.3g) over %u requests against %u: the input data changed",
                 canary, raised ? "drifted" : "is back", o->value, o->p_value, alpha, t->n,
                 t->ref_n);
    else
        snprintf(msg, sizeof msg,
                 "model %s %s: %s %.4f (threshold %.4f), p = %.3g (alpha %.3g) over %u requests",
                 t->name, raised ? "diverges" : "recovered", check_names[o->check], o->value,
                 o->threshold, o->p_value, alpha, t->n);
    if (raised)
        rv_warn("canary", "ALERT %s", msg);
    else
        rv_info("canary", "clear %s", msg);
    rv_jw_restart(&m->jw);
    rv_alert_fields a = {
        .raised = raised,
        .check = t->is_canary && o->check == CHECK_DRIFT ? "input_drift" : check_names[o->check],
        .model = t->name,
        .version = t->version,
        .canary = canary,
        .value = o->value,
        .threshold = o->threshold,
        .p_value = o->p_value,
        .alpha = alpha,
        .window = t->n,
        .reference_window = o->check == CHECK_DRIFT ? t->ref_n : 0,
        .for_tests = policy->for_tests,
        .message = msg,
    };
    rv_record_alert(&m->jw, &a);
    if (m->sink && !m->jw.oom)
        m->sink(m->sink_ctx, t->name, m->jw.buf, m->jw.len);
}

/* The checks of a model's window (the canary's: its drift only). */
static size_t test_window(const tracked *t, double shift, double drift, double alpha,
                          const rv_monitor_settings *s, outcome *out)
{
    size_t k = 0;
    if (!t->is_canary) {
        double p = rv_binom_cdf(t->agree, t->n, s->min_agreement);
        out[k++] =
            (outcome){CHECK_AGREEMENT, (double)t->agree / t->n, s->min_agreement, p, p < alpha};
        /* each empirical distribution is within eps of its own but with
         * probability alpha / 2 (DKW, Massart's constant): the distance
         * is above the bound only when D - 2 eps is */
        double eps = sqrt(log(4 / alpha) / (2.0 * t->n));
        double gap = shift - s->max_score_shift;
        p = gap > 0 ? fmin(1, 4 * exp(-(double)t->n * gap * gap / 2)) : 1;
        out[k++] = (outcome){CHECK_SHIFT, shift, s->max_score_shift, p,
                             shift > s->max_score_shift + 2 * eps};
    }
    if (!isnan(drift)) {
        double p = rv_ks_pvalue(drift, t->n, t->ref_n, 100 * alpha);
        out[k++] = (outcome){CHECK_DRIFT, drift, alpha, p, p < alpha};
    }
    return k;
}

static void close_window(rv_canary_monitor *m, tracked *t, const rv_model *canary,
                         const rv_config *cfg)
{
    const rv_alarm_policy of = rv_alarm_policy_of(cfg), *policy = &of;
    const rv_monitor_settings *s = &m->settings;
    double shift = t->is_canary ? 0 : rv_ks_statistic_hist(t->own, t->n, t->canary, t->n, BINS);
    double drift = NAN;
    const uint32_t *now_h = t->is_canary ? t->own : t->diff;
    int bins = t->is_canary ? BINS : DBINS;
    if (t->ref_windows < s->reference_windows) {
        /* a reference of several windows: the tests against it are then
         * nearly what they would be against the distribution itself */
        for (int b = 0; b < bins; b++)
            t->ref[b] += now_h[b];
        t->ref_n += t->n;
        t->ref_windows++;
    } else
        drift = rv_ks_statistic_hist(now_h, t->n, t->ref, t->ref_n, (size_t)bins);

    int64_t now = m->now_ms(m->clock_ctx);
    int tested = 0;
    double p_drift = NAN;
    if (rv_alarm_interval_passed(t->last_test_ms, now, policy)) {
        t->last_test_ms = now;
        tested = 1;
        double alpha = rv_alarm_alpha(policy);
        outcome o[N_CHECKS];
        size_t k = test_window(t, shift, drift, alpha, s, o);
        for (size_t i = 0; i < k; i++) {
            if (o[i].check == CHECK_DRIFT)
                p_drift = o[i].p_value;
            int change = rv_alarm_step(&t->alarm[o[i].check], o[i].bad, now, policy);
            if (change != RV_ALARM_NONE)
                send_alert(m, t, canary->name, change == RV_ALARM_RAISE, &o[i], alpha, policy);
        }
    }

    double dm[RV_CANARY_DECILES], dc[RV_CANARY_DECILES];
    for (int i = 0; i < RV_CANARY_DECILES; i++) {
        dm[i] = hist_quantile(t->own, t->n, (i + 1) / 10.0);
        dc[i] = hist_quantile(t->canary, t->n, (i + 1) / 10.0);
    }
    pthread_mutex_lock(&m->lock);
    rv_canary_gauge *g = &t->gauge;
    g->agreement = (double)t->agree / t->n;
    g->score_shift = shift;
    g->drift = drift;
    if (tested) {
        g->p_drift = p_drift;
        g->tests++;
    }
    g->alerting = 0;
    g->flaps = 0;
    g->alerts[0] = '\0';
    for (int c = 0; c < N_CHECKS; c++) {
        g->flaps += t->alarm[c].flaps;
        if (t->alarm[c].firing) {
            g->alerting = 1;
            snprintf(g->alerts + strlen(g->alerts), sizeof g->alerts - strlen(g->alerts), "%s%s",
                     g->alerts[0] ? "," : "", check_names[c]);
        }
    }
    memcpy(g->q_model, dm, sizeof dm);
    memcpy(g->q_canary, dc, sizeof dc);
    pthread_mutex_unlock(&m->lock);
    t->n = t->agree = 0;
    memset(t->own, 0, sizeof t->own);
    memset(t->canary, 0, sizeof t->canary);
    memset(t->diff, 0, sizeof t->diff);
}

/* The score a slot gives to the label named `label`, 0 when not among its
 * answers. */
static double score_of(const rv_slot *s, const rv_model *m, const char *label)
{
    for (uint32_t i = 0; i < s->n_answers; i++)
        if (strcmp(m->labels[s->answers[i].label], label) == 0)
            return s->answers[i].score;
    return 0.0;
}

void rv_canary_monitor_observe(rv_canary_monitor *m, const rv_inflight *f)
{
    const rv_generation *g = f->gen;
    if (g->canary < 0)
        return;
    const rv_model *canary = g->models[g->canary];
    const rv_slot *cs = &f->slots[g->canary];
    if (atomic_load(&cs->status) != RV_SLOT_OK || cs->n_answers == 0 || canary->n_labels == 0)
        return;
    const char *ctop = canary->labels[cs->answers[0].label];
    const char *label = canary->labels[canary->n_labels - 1];
    if (strcmp(m->settings_of, canary->version) != 0) {
        char err[RV_ERR_SIZE];
        /* the canary's create refused anything this refuses */
        if (canary->builtin->monitor_settings(param_value, canary, &m->settings, err, sizeof err) !=
            0)
            rv_error("canary", "%s (the defaults apply)", err);
        memcpy(m->settings_of, canary->version, sizeof m->settings_of);
    }
    double cscore = score_of(cs, canary, label);

    for (size_t i = 0; i < g->n_models; i++) {
        const rv_model *model = g->models[i];
        const rv_slot *s = &f->slots[i];
        if (model->is_decoy || atomic_load(&s->status) != RV_SLOT_OK || s->n_answers == 0)
            continue;
        tracked *t = track(m, model);
        if (!t)
            continue;
        t->is_canary = (int)i == g->canary;
        const char *top = model->labels[s->answers[0].label];
        double own = score_of(s, model, label);
        t->agree += strcmp(top, ctop) == 0;
        t->own[bin_of(own, 0, BINS)]++;
        t->canary[bin_of(cscore, 0, BINS)]++;
        t->diff[bin_of(own - cscore, -1, DBINS)]++;
        t->n++;
        t->gauge.compared++;
        if (t->n >= m->settings.window)
            close_window(m, t, canary, g->cfg); /* the policy per window, not per request */
    }
}

size_t rv_canary_monitor_snapshot(rv_canary_monitor *m, rv_canary_gauge *out, size_t max)
{
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n && i < max; i++)
        out[i] = m->t[i].gauge;
    size_t n = m->n;
    pthread_mutex_unlock(&m->lock);
    return n;
}
