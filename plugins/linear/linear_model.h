/*
 * linear_model.h - logistic and softmax regression read from the JSON that
 * scripts/train_models.py exports from scikit-learn.
 *
 * Shared by the linear plugin and the built-in canary. Pure computation:
 * no I/O after load, no allocation while scoring, safe to call from many
 * threads on one model.
 *
 * File format:
 *   {"kind": "logistic" | "softmax", "features": [names...],
 *    "labels": [names...], "coef": [[...], ...], "intercept": [...]}
 * logistic: one coef row; P(labels[1]) = sigmoid(coef . x + intercept).
 * softmax: one row per label; P = softmax(coef . x + intercept).
 */
#ifndef RV_LINEAR_MODEL_H
#define RV_LINEAR_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct rv_linear_model {
    int softmax;
    size_t n_features;
    size_t n_labels;
    size_t n_rows; /* 1 for logistic, n_labels for softmax */
    char **labels;
    double *coef;          /* n_rows * n_features */
    double *intercept;     /* n_rows */
    size_t *feature_index; /* model feature j -> index in the host vector */
} rv_linear_model;

/* Loads path and maps its features onto the host's feature names.
 * 0 on success, else -1 with the reason in err. */
int rv_linear_load(rv_linear_model *m, const char *path, const char *const *host_features,
                   size_t n_host_features, char *err, size_t err_size);
void rv_linear_free(rv_linear_model *m);

/* Class probabilities of one feature vector into probs[n_labels].
 * Returns -1 (and the missing feature's index in *missing) on a NaN input. */
int rv_linear_predict(const rv_linear_model *m, const double *x, double *probs, size_t *missing);

/* The plugin functions shared by the linear plugin and the built-in canary.
 * create reads params.model_file and refuses any other param not named in
 * extra_params (NULL-terminated, may be NULL). */
#include "rendezvous_plugin.h"
int rv_linear_create(const rv_create_args *args, const char *const *extra_params,
                     rv_model_info *info, void **instance, char *err, size_t err_size);
int rv_linear_score(void *instance, const rv_request *const *reqs, rv_result *const *results,
                    size_t n, char *err, size_t err_size);
void rv_linear_destroy(void *instance);

#endif
