/*
 * promotion.h - deciding on paired evidence that a challenger should serve
 * in place of the champion (or that a promoted model should be put back):
 * both models' answers to the same labelled requests, one metric, a
 * one-sided paired test of H0 "the challenger beats the champion by at most
 * the margin" (docs/evaluating.md):
 *   auc                       DeLong's test of two correlated AUCs (two labels);
 *   accuracy, brier, log_loss the paired z-test on the per-request
 *                             differences of the loss (for accuracy, McNemar's
 *                             test in its large-sample form).
 * A race is group-sequential: a look after every min_labels pairs (and at
 * those points only), at most max_labels / min_labels looks, each at alpha /
 * looks (Bonferroni), so that an equal challenger wins a race with
 * probability at most alpha; after the last look the race is lost. Pure.
 */
#ifndef RV_PROMOTION_H
#define RV_PROMOTION_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RV_METRIC_ACCURACY,
    RV_METRIC_AUC,
    RV_METRIC_BRIER,
    RV_METRIC_LOG_LOSS,
    RV_METRICS
} rv_metric;

/* "accuracy", "auc", "brier", "log_loss"; RV_METRICS for another name. */
rv_metric rv_metric_from_name(const char *name);
const char *rv_metric_name(rv_metric m);
/* Whether a larger value is better (accuracy, auc). */
int rv_metric_higher_is_better(rv_metric m);

typedef struct rv_promotion_policy {
    rv_metric metric;
    double margin;       /* in the metric's units: how much better, at least */
    double alpha;        /* a race's probability of promoting a challenger that is not */
    uint32_t min_labels; /* pairs before the first look, and between two */
    uint32_t max_labels; /* a race's pairs at most (a multiple of min_labels) */
} rv_promotion_policy;

/* One labelled request both models answered. */
typedef struct rv_pair {
    unsigned char positive;  /* two labels: the truth is the positive one */
    unsigned char a_correct; /* the champion's top label is the truth */
    unsigned char b_correct; /* the challenger's */
    double a_pos, b_pos;     /* P(positive label) (two labels; else 0) */
    double a_truth, b_truth; /* P(the true label) */
    double a_brier, b_brier; /* as the evaluation's Brier score: (p_pos - y)^2 with two
                               * labels, else the sum over them */
} rv_pair;

typedef struct rv_promotion_look {
    int decided;            /* the race ends at this look */
    int better;             /* ... with the challenger better by the margin */
    double champion, value; /* the metric: the champion's, the challenger's */
    double p_value;         /* the test's */
    double alpha_look;      /* this look's level: alpha / looks */
    uint32_t look, looks;   /* this look (1..), of how many */
    size_t labels;          /* pairs looked at */
} rv_promotion_look;

/* The looks a race has: max_labels / min_labels, at least 1. */
uint32_t rv_promotion_looks(const rv_promotion_policy *p);

/* The look of a race after its first n pairs (n = look x min_labels).
 * Returns 0, or -1: fewer than two pairs, AUC with one class only, or out
 * of memory. */
int rv_promotion_look_at(const rv_promotion_policy *p, const rv_pair *pairs, size_t n,
                         rv_promotion_look *out);

#endif
