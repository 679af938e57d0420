/*
 * evaluation_alerts.c - the accuracy alerts of the live evaluation: per
 * source and check, raised or not, and the transitions of each report.
 */
#include "evaluation_alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct raised {
    char source[128];
    unsigned checks; /* 1 << rv_eval_check */
} raised;

struct rv_eval_alerts {
    char *canary;
    double margin;
    uint64_t min_answers, baseline;
    raised *r;
    size_t n;
};

rv_eval_alerts *rv_eval_alerts_new(const char *canary, double margin, uint64_t min_answers,
                                   uint64_t baseline_answers)
{
    rv_eval_alerts *a = calloc(1, sizeof *a);
    if (!a || (canary && !(a->canary = strdup(canary)))) {
        free(a);
        return NULL;
    }
    a->margin = margin;
    a->min_answers = min_answers;
    a->baseline = baseline_answers;
    return a;
}

void rv_eval_alerts_free(rv_eval_alerts *a)
{
    if (!a)
        return;
    free(a->canary);
    free(a->r);
    free(a);
}

const char *rv_eval_check_name(rv_eval_check c)
{
    static const char *const names[] = {"accuracy_below_canary", "accuracy_below_first"};
    return c < RV_EVAL_CHECKS ? names[c] : "?";
}

static const rv_evaluation_figure *find(const rv_evaluation_figure *f, size_t n, const char *source,
                                        rv_eval_window w)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].window == w && f[i].schedule_version == 0 && strcmp(f[i].source, source) == 0)
            return &f[i];
    return NULL;
}

/* The source's state; NULL when out of memory. */
static raised *state_of(rv_eval_alerts *a, const char *source)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->r[i].source, source) == 0)
            return &a->r[i];
    raised *grown = realloc(a->r, (a->n + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    a->r = grown;
    raised *s = &a->r[a->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->source, sizeof s->source, "%s", source);
    return s;
}

size_t rv_eval_alerts_check(rv_eval_alerts *a, const rv_evaluation_figure *f, size_t n,
                            rv_eval_alert *out, size_t max)
{
    const rv_evaluation_figure *canary = a->canary ? find(f, n, a->canary, RV_EVAL_HOUR) : NULL;
    if (canary && canary->m.count < a->min_answers)
        canary = NULL;
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        const rv_evaluation_figure *hour = &f[i];
        if (hour->window != RV_EVAL_HOUR || hour->schedule_version != 0 ||
            hour->m.count < a->min_answers || (a->canary && strcmp(hour->source, a->canary) == 0))
            continue;
        const rv_evaluation_figure *first = find(f, n, hour->source, RV_EVAL_FIRST);
        const rv_evaluation_figure *refs[RV_EVAL_CHECKS] = {
            canary, first && first->m.count >= a->baseline ? first : NULL};
        raised *st = state_of(a, hour->source);
        for (int c = 0; st && c < RV_EVAL_CHECKS && k < max; c++) {
            if (!refs[c])
                continue; /* nothing to compare with: as it was */
            double threshold = refs[c]->m.accuracy - a->margin;
            int below = hour->m.accuracy < threshold;
            if (below == !!(st->checks & (1u << c)))
                continue;
            st->checks ^= 1u << c;
            rv_eval_alert *x = &out[k++];
            memset(x, 0, sizeof *x);
            x->raised = below;
            x->check = (rv_eval_check)c;
            snprintf(x->source, sizeof x->source, "%s", hour->source);
            snprintf(x->version, sizeof x->version, "%s", hour->version);
            snprintf(x->reference, sizeof x->reference, "%s", refs[c]->source);
            x->value = hour->m.accuracy;
            x->threshold = threshold;
            x->count = hour->m.count;
        }
    }
    return k;
}
