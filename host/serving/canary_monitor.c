/*
 * canary_monitor.c - windows, quantile sketches and alert state. Scores are
 * probabilities, so the sketch is a 1000-bin histogram over [0, 1]: exact
 * to 0.001, constant memory, no allocation per request. Must never block
 * the rendezvous thread: alerts go to a sink that only queues.
 */
#include "canary_monitor.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "log.h"
#include "records.h"

#define BINS 1000
#define MAX_TRACKED 64

enum { CHECK_AGREEMENT, CHECK_SHIFT, CHECK_DRIFT, N_CHECKS };
static const char *const check_names[N_CHECKS] = {"agreement", "score_shift", "drift"};

typedef struct sketch {
    uint32_t bin[BINS];
    uint32_t n;
} sketch;

typedef struct tracked {
    char name[128];
    char version[9];
    int is_canary;
    uint32_t n, agree;
    sketch own, canary; /* the model's and the canary's score of the canary's top label */
    int has_reference;
    double ref_q[3];        /* the model's quantiles in its first window */
    double ref_canary_q[3]; /* the canary's, on the same requests */
    int alert[N_CHECKS];
    rv_canary_gauge gauge;
} tracked;

struct rv_canary_monitor {
    rv_alert_sink sink;
    void *sink_ctx;
    pthread_mutex_t lock; /* guards gauges against snapshot() */
    tracked t[MAX_TRACKED];
    size_t n;
    rv_jw jw; /* the alert record being written */
    /* the canary's settings, read once per canary version, not per request */
    char settings_of[9];
    rv_monitor_settings settings;
};

static const double qs[3] = {0.1, 0.5, 0.9};

rv_canary_monitor *rv_canary_monitor_new(rv_alert_sink sink, void *sink_ctx)
{
    rv_canary_monitor *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->sink = sink;
    m->sink_ctx = sink_ctx;
    pthread_mutex_init(&m->lock, NULL);
    return m;
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

static void sketch_add(sketch *s, double v)
{
    int b = (int)(v * BINS);
    if (!(b >= 0))
        b = 0;
    if (b >= BINS)
        b = BINS - 1;
    s->bin[b]++;
    s->n++;
}

static double sketch_quantile(const sketch *s, double q)
{
    uint32_t want = (uint32_t)(q * (s->n - 1)), seen = 0;
    for (int b = 0; b < BINS; b++) {
        seen += s->bin[b];
        if (seen > want)
            return (b + 0.5) / BINS;
    }
    return 1.0;
}

static tracked *track(rv_canary_monitor *m, const rv_model *model)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->t[i].name, model->name) == 0) {
            if (strcmp(m->t[i].version, model->version) != 0) {
                /* a new version starts a new reference */
                tracked fresh = {0};
                memcpy(fresh.name, m->t[i].name, sizeof fresh.name);
                memcpy(fresh.version, model->version, sizeof fresh.version);
                fresh.gauge = m->t[i].gauge;
                m->t[i] = fresh;
            }
            return &m->t[i];
        }
    if (m->n == MAX_TRACKED)
        return NULL;
    tracked *t = &m->t[m->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", model->name);
    memcpy(t->version, model->version, sizeof t->version);
    snprintf(t->gauge.model, sizeof t->gauge.model, "%s", model->name);
    t->gauge.agreement = t->gauge.score_shift = t->gauge.drift = NAN;
    for (int i = 0; i < RV_CANARY_DECILES; i++)
        t->gauge.q_model[i] = t->gauge.q_canary[i] = NAN;
    return t;
}

static void send_alert(rv_canary_monitor *m, const tracked *t, const char *canary, int check,
                       int raised, double value, double threshold, uint32_t window)
{
    char msg[512];
    if (t->is_canary)
        snprintf(msg, sizeof msg,
                 "canary %s %s from its reference window: %.4f (threshold "
                 "%.4f): the input data changed",
                 canary, raised ? "drifted" : "is back", value, threshold);
    else
        snprintf(msg, sizeof msg, "model %s %s: %s %.4f (threshold %.4f) over %u requests", t->name,
                 raised ? "diverges" : "recovered", check_names[check], value, threshold, window);
    if (raised)
        rv_warn("canary", "ALERT %s", msg);
    else
        rv_info("canary", "clear %s", msg);
    rv_jw_restart(&m->jw);
    rv_alert_fields a = {
        .raised = raised,
        .check = t->is_canary && check == CHECK_DRIFT ? "input_drift" : check_names[check],
        .model = t->name,
        .version = t->version,
        .canary = canary,
        .value = value,
        .threshold = threshold,
        .window = window,
        .message = msg,
    };
    rv_record_alert(&m->jw, &a);
    if (m->sink && !m->jw.oom)
        m->sink(m->sink_ctx, t->name, m->jw.buf, m->jw.len);
}

static void judge(rv_canary_monitor *m, tracked *t, const char *canary, int check, double value,
                  int bad, double threshold, uint32_t window)
{
    if (bad != t->alert[check]) {
        t->alert[check] = bad;
        send_alert(m, t, canary, check, bad, value, threshold, window);
    }
}

static void quantiles(const sketch *s, double *out)
{
    for (int i = 0; i < 3; i++)
        out[i] = sketch_quantile(s, qs[i]);
}

static void close_window(rv_canary_monitor *m, tracked *t, const rv_model *canary, uint32_t window,
                         double min_agreement, double max_shift)
{
    double agreement = (double)t->agree / t->n;
    double mq[3], cq[3];
    quantiles(&t->own, mq);
    quantiles(&t->canary, cq);
    double shift = 0, drift = NAN;
    if (!t->is_canary)
        for (int i = 0; i < 3; i++)
            shift = fmax(shift, fabs(mq[i] - cq[i]));
    if (!t->has_reference) {
        memcpy(t->ref_q, mq, sizeof mq);
        memcpy(t->ref_canary_q, cq, sizeof cq);
        t->has_reference = 1;
    } else {
        /* The canary's drift is the input's; a model's drift is how far it
         * moved beyond what the canary moved on the same requests, so a
         * model that follows the canary through an input change is fine. */
        drift = 0;
        for (int i = 0; i < 3; i++) {
            double own = mq[i] - t->ref_q[i];
            double input = t->is_canary ? 0 : cq[i] - t->ref_canary_q[i];
            drift = fmax(drift, fabs(own - input));
        }
    }
    if (!t->is_canary) {
        judge(m, t, canary->name, CHECK_AGREEMENT, agreement, agreement < min_agreement,
              min_agreement, window);
        judge(m, t, canary->name, CHECK_SHIFT, shift, shift > max_shift, max_shift, window);
    }
    if (!isnan(drift))
        judge(m, t, canary->name, CHECK_DRIFT, drift, drift > max_shift, max_shift, window);

    double dm[RV_CANARY_DECILES], dc[RV_CANARY_DECILES];
    for (int i = 0; i < RV_CANARY_DECILES; i++) {
        dm[i] = sketch_quantile(&t->own, (i + 1) / 10.0);
        dc[i] = sketch_quantile(&t->canary, (i + 1) / 10.0);
    }
    pthread_mutex_lock(&m->lock);
    t->gauge.agreement = agreement;
    t->gauge.score_shift = shift;
    t->gauge.drift = drift;
    t->gauge.alerting = t->alert[0] || t->alert[1] || t->alert[2];
    t->gauge.alerts[0] = '\0';
    for (int c = 0; c < N_CHECKS; c++)
        if (t->alert[c])
            snprintf(t->gauge.alerts + strlen(t->gauge.alerts),
                     sizeof t->gauge.alerts - strlen(t->gauge.alerts), "%s%s",
                     t->gauge.alerts[0] ? "," : "", check_names[c]);
    memcpy(t->gauge.q_model, dm, sizeof dm);
    memcpy(t->gauge.q_canary, dc, sizeof dc);
    pthread_mutex_unlock(&m->lock);
    t->n = t->agree = 0;
    memset(&t->own, 0, sizeof t->own);
    memset(&t->canary, 0, sizeof t->canary);
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
    if (atomic_load(&cs->status) != RV_SLOT_OK || cs->n_answers == 0)
        return;
    const char *ctop = canary->labels[cs->answers[0].label];
    if (strcmp(m->settings_of, canary->version) != 0) {
        char err[RV_ERR_SIZE];
        /* the canary's create refused anything this refuses */
        if (canary->builtin->monitor_settings(param_value, canary, &m->settings, err, sizeof err) !=
            0)
            rv_error("canary", "%s (the defaults apply)", err);
        memcpy(m->settings_of, canary->version, sizeof m->settings_of);
    }
    uint32_t window = m->settings.window;
    double min_agreement = m->settings.min_agreement, max_shift = m->settings.max_score_shift;

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
        t->agree += strcmp(top, ctop) == 0;
        sketch_add(&t->own, score_of(s, model, ctop));
        sketch_add(&t->canary, cs->answers[0].score);
        t->n++;
        t->gauge.compared++;
        if (t->n >= window)
            close_window(m, t, canary, window, min_agreement, max_shift);
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
