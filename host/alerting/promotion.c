/*
 * promotion.c - a race's look: the metric of both models on the pairs and
 * the paired test (promotion.h).
 */
#include "promotion.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stattest.h"

static const char *const names[RV_METRICS] = {"accuracy", "auc", "brier", "log_loss"};

rv_metric rv_metric_from_name(const char *name)
{
    for (int m = 0; m < RV_METRICS; m++)
        if (name && strcmp(name, names[m]) == 0)
            return (rv_metric)m;
    return RV_METRICS;
}

const char *rv_metric_name(rv_metric m)
{
    return m < RV_METRICS ? names[m] : "?";
}

int rv_metric_higher_is_better(rv_metric m)
{
    return m == RV_METRIC_ACCURACY || m == RV_METRIC_AUC;
}

uint32_t rv_promotion_looks(const rv_promotion_policy *p)
{
    uint32_t k = p->min_labels ? p->max_labels / p->min_labels : 1;
    return k ? k : 1;
}

/* A request's loss by one model: lower is better. */
static double loss(rv_metric m, const rv_pair *x, int b)
{
    switch (m) {
    case RV_METRIC_ACCURACY: return b ? !x->b_correct : !x->a_correct;
    case RV_METRIC_BRIER: return b ? x->b_brier : x->a_brier;
    default: {
        double p = b ? x->b_truth : x->a_truth;
        return -log(p > DBL_EPSILON ? p : DBL_EPSILON); /* as the evaluation clips */
    }
    }
}

int rv_promotion_look_at(const rv_promotion_policy *p, const rv_pair *pairs, size_t n,
                         rv_promotion_look *out)
{
    memset(out, 0, sizeof *out);
    out->looks = rv_promotion_looks(p);
    out->look = p->min_labels ? (uint32_t)(n / p->min_labels) : 1;
    out->alpha_look = p->alpha / out->looks;
    out->labels = n;
    if (n < 2)
        return -1;
    if (p->metric == RV_METRIC_AUC) {
        unsigned char *truth = malloc(n);
        double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        rv_delong d;
        int rc = truth && a && b ? 0 : -1;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            truth[i] = pairs[i].positive;
            a[i] = pairs[i].a_pos;
            b[i] = pairs[i].b_pos;
        }
        if (rc == 0)
            rc = rv_delong_paired(truth, a, b, n, &d);
        free(truth);
        free(a);
        free(b);
        if (rc != 0)
            return -1;
        out->champion = d.auc_a;
        out->value = d.auc_b;
        double gap = d.auc_b - d.auc_a - p->margin;
        out->p_value = d.var_diff > 0 ? rv_norm_cdf(-gap / sqrt(d.var_diff)) : gap > 0 ? 0 : 1;
    } else {
        double *d = malloc(n * sizeof *d), la = 0, lb = 0, mean;
        if (!d)
            return -1;
        for (size_t i = 0; i < n; i++) {
            double a = loss(p->metric, &pairs[i], 0), b = loss(p->metric, &pairs[i], 1);
            la += a;
            lb += b;
            d[i] = a - b; /* > 0: the challenger lost less */
        }
        out->p_value = rv_paired_p(d, n, p->margin, &mean);
        free(d);
        la /= (double)n;
        lb /= (double)n;
        /* accuracy is 1 - the mean loss; the others are the mean loss */
        out->champion = p->metric == RV_METRIC_ACCURACY ? 1 - la : la;
        out->value = p->metric == RV_METRIC_ACCURACY ? 1 - lb : lb;
    }
    out->better = out->p_value < out->alpha_look;
    out->decided = out->better || out->look >= out->looks;
    return 0;
}
