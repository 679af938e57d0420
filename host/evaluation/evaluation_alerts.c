/*
 * evaluation_alerts.c - the accuracy alerts of the live evaluation: per
 * source and check, the alarm, and the alerts each report's test sends.
 */
#include "evaluation_alerts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stattest.h"

typedef struct source_alarms {
    char source[128];
    rv_alarm alarm[RV_EVAL_CHECKS];
} source_alarms;

struct rv_eval_alerts {
    char *canary;
    double margin;
    uint64_t min_answers, baseline;
    rv_alarm_policy policy;
    source_alarms *s;
    size_t n;
};

rv_alarm_policy rv_alarm_policy_of(const rv_config *cfg)
{
    return (rv_alarm_policy){
        .false_alarms_per_day = cfg->alerts.false_alarms_per_day,
        .test_interval_ms = (int64_t)cfg->alerts.test_interval_s * 1000,
        .for_tests = cfg->alerts.for_tests,
        .keep_firing_ms = (int64_t)cfg->alerts.keep_firing_for_s * 1000,
    };
}

rv_eval_alerts *rv_eval_alerts_new(const char *canary, double margin, uint64_t min_answers,
                                   uint64_t baseline_answers, const rv_alarm_policy *policy)
{
    rv_eval_alerts *a = calloc(1, sizeof *a);
    if (!a || (canary && !(a->canary = strdup(canary)))) {
        free(a);
        return NULL;
    }
    a->margin = margin;
    a->min_answers = min_answers;
    a->baseline = baseline_answers;
    a->policy = *policy;
    return a;
}

void rv_eval_alerts_free(rv_eval_alerts *a)
{
    if (!a)
        return;
    free(a->canary);
    free(a->s);
    free(a);
}

const char *rv_eval_check_name(rv_eval_check c)
{
    static const char *const names[] = {"accuracy_below_canary", "accuracy_below_first"};
    return c < RV_EVAL_CHECKS ? names[c] : "?";
}

double rv_eval_below_p(double accuracy, uint64_t n, double reference, uint64_t n_reference,
                       double margin)
{
    double gap = accuracy - (reference - margin);
    double se = sqrt(accuracy * (1 - accuracy) / (double)n +
                     reference * (1 - reference) / (double)n_reference);
    if (!(se > 0)) /* both all right, or all wrong: no spread to weigh the gap by */
        return gap < 0 ? 0 : 1;
    return rv_norm_cdf(gap / se);
}

static const rv_evaluation_figure *find(const rv_evaluation_figure *f, size_t n, const char *source,
                                        rv_eval_window w)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].window == w && f[i].schedule_version == 0 && strcmp(f[i].source, source) == 0)
            return &f[i];
    return NULL;
}

/* The source's alarms; NULL when out of memory. */
static source_alarms *alarms_of(rv_eval_alerts *a, const char *source)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->s[i].source, source) == 0)
            return &a->s[i];
    source_alarms *grown = realloc(a->s, (a->n + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    a->s = grown;
    source_alarms *s = &a->s[a->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->source, sizeof s->source, "%s", source);
    return s;
}

size_t rv_eval_alerts_check(rv_eval_alerts *a, const rv_evaluation_figure *f, size_t n,
                            int64_t now_ms, rv_eval_alert *out, size_t max)
{
    const rv_evaluation_figure *canary = a->canary ? find(f, n, a->canary, RV_EVAL_HOUR) : NULL;
    if (canary && canary->m.count < a->min_answers)
        canary = NULL;
    double alpha = rv_alarm_alpha(&a->policy);
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        const rv_evaluation_figure *hour = &f[i];
        if (hour->window != RV_EVAL_HOUR || hour->schedule_version != 0 ||
            hour->m.count < a->min_answers || (a->canary && strcmp(hour->source, a->canary) == 0))
            continue;
        const rv_evaluation_figure *first = find(f, n, hour->source, RV_EVAL_FIRST);
        const rv_evaluation_figure *refs[RV_EVAL_CHECKS] = {
            canary, first && first->m.count >= a->baseline ? first : NULL};
        source_alarms *st = alarms_of(a, hour->source);
        for (int c = 0; st && c < RV_EVAL_CHECKS && k < max; c++) {
            rv_alarm *alarm = &st->alarm[c];
            if (!refs[c] || !rv_alarm_due(alarm, now_ms, &a->policy))
                continue; /* nothing to compare with, or tested lately: as it was */
            double p = rv_eval_below_p(hour->m.accuracy, hour->m.count, refs[c]->m.accuracy,
                                       refs[c]->m.count, a->margin);
            int change = rv_alarm_step(alarm, p < alpha, now_ms, &a->policy);
            if (change == RV_ALARM_NONE)
                continue;
            rv_eval_alert *x = &out[k++];
            memset(x, 0, sizeof *x);
            x->raised = change == RV_ALARM_RAISE;
            x->check = (rv_eval_check)c;
            snprintf(x->source, sizeof x->source, "%s", hour->source);
            snprintf(x->version, sizeof x->version, "%s", hour->version);
            snprintf(x->reference, sizeof x->reference, "%s", refs[c]->source);
            x->value = hour->m.accuracy;
            x->threshold = refs[c]->m.accuracy - a->margin;
            x->p_value = p;
            x->alpha = alpha;
            x->for_tests = a->policy.for_tests;
            x->count = hour->m.count;
            x->reference_count = refs[c]->m.count;
        }
    }
    return k;
}
