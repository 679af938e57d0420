/*
 * measures.h - how good a model's answers were, once the true labels are
 * known: accuracy, log loss, Brier score, ROC AUC, a reliability table
 * with its expected calibration error, and precision and recall per label.
 * Each is defined as scikit-learn defines it (named at each field), so
 * that a figure here can be checked against it.
 *
 * An accumulator takes answers one at a time and merges with another
 * (windows are made of buckets): every figure but the AUC is a sum; the
 * AUC needs the scores' order, kept as a sorted table of distinct scores
 * with their positive and negative counts - exact up to a number of
 * distinct scores per label (RV_MEASURES_MAX_SCORES by default), then coarsened (scores
 * cut to fewer significant bits, which keeps their order) with a bound on
 * the error it can cause. No clocks, no locks; one thread at a time.
 */
#ifndef RV_MEASURES_H
#define RV_MEASURES_H

#include <stddef.h>
#include <stdint.h>

#define RV_MEASURES_BINS 10          /* reliability table: [0, 0.1), ..., [0.9, 1] */
#define RV_MEASURES_MAX_SCORES 65536 /* distinct scores kept exactly per label */

/* One bin of the reliability table: the answers whose top probability
 * fell in it, their mean top probability and how often the top label
 * was the true one. */
typedef struct rv_calibration_bin {
    uint64_t count;
    double confidence;
    double accuracy;
} rv_calibration_bin;

/* Measures of the answers over n_labels labels. An undefined figure (no
 * answer, a label never predicted or never true, AUC with one class
 * only) is NAN. */
typedef struct rv_measures {
    uint64_t count;
    /* the top label (the most probable, the first of equals) is the true
     * one: accuracy_score(y, argmax(p)) */
    double accuracy;
    /* mean -log p(true label), p clipped to [DBL_EPSILON, 1 - DBL_EPSILON]
     * and each answer's probabilities then scaled to sum to 1: log_loss */
    double log_loss;
    /* two labels: mean (p(label 1) - [true label is 1])^2, as
     * brier_score_loss of label 1; more: mean over answers of the sum over
     * labels of (p - [true])^2 (scikit-learn >= 1.7's multi-class one) */
    double brier;
    /* two labels: roc_auc_score of label 1 (the second declared label is
     * the positive one); more: one-vs-rest, the mean over the labels
     * that were both true and false at least once (multi_class="ovr",
     * average="macro" when every label occurred) */
    double auc;
    /* 0 while every score was kept exactly; else the most the AUC can be
     * off by (pairs the coarsening made equal, counted half) */
    double auc_error;
    /* sum over bins of count/n * |accuracy - confidence| */
    double ece;
    rv_calibration_bin bins[RV_MEASURES_BINS];
    size_t n_labels;
    /* per label: precision_score / recall_score with average=None, NAN
     * where scikit-learn would divide by zero. Owned: rv_measures_clear. */
    double *precision;
    double *recall;
} rv_measures;

typedef struct rv_measures_acc rv_measures_acc;

/* An empty accumulator of answers over n_labels (>= 1) labels, keeping at
 * most max_scores distinct scores per label exactly (0: the default,
 * RV_MEASURES_MAX_SCORES; a merge keeps into's); NULL when out of memory. */
rv_measures_acc *rv_measures_acc_new(size_t n_labels, size_t max_scores);
void rv_measures_acc_free(rv_measures_acc *a);
size_t rv_measures_acc_labels(const rv_measures_acc *a);
uint64_t rv_measures_acc_count(const rv_measures_acc *a);

/* Adds one answer: p the probability of each label, truth the index of
 * the true one (< n_labels). 0, or -1 when out of memory (nothing added). */
int rv_measures_acc_add(rv_measures_acc *a, const double *p, uint32_t truth);
/* The same answer added to each of accs[0..n) (same labels; NULL ones
 * skipped), its figures worked out once. 0, or -1 when one could not take
 * it (out of memory; the others have it). */
int rv_measures_acc_add_to(rv_measures_acc *const *accs, size_t n, const double *p, uint32_t truth);

/* Adds every answer of from (same number of labels) to into. 0, or -1
 * when out of memory or the labels differ (into unchanged). */
int rv_measures_acc_merge(rv_measures_acc *into, rv_measures_acc *from);

/* The measures of everything added so far. 0, or -1 when out of memory
 * (m then holds nothing to clear). */
int rv_measures_get(rv_measures_acc *a, rv_measures *m);

/* The measures of n answers in one call: p holds n rows of n_labels
 * probabilities, truth each answer's true label. 0 or -1 as above. */
int rv_measures_compute(size_t n_labels, size_t n, const double *p, const uint32_t *truth,
                        rv_measures *m);

/* Frees what rv_measures_get allocated in m. */
void rv_measures_clear(rv_measures *m);

/* A score and whether its answer was a positive, to rank. */
typedef struct rv_ranked {
    double score;
    int positive;
} rv_ranked;

/* Sorts v by score, ascending (a radix sort on the doubles' bits, in
 * linear time; qsort when out of memory for it). */
void rv_measures_sort(rv_ranked *v, size_t n);

/* The ROC AUC of n ranked scores: the Mann-Whitney statistic, ties counted
 * half (roc_auc_score). Sorts v by score. NAN unless both kinds occur. */
double rv_measures_auc(rv_ranked *v, size_t n);

#endif
