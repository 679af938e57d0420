/*
 * linear_plugin.c - logistic and softmax regression from a JSON weights file
 * exported from scikit-learn (see linear_model.h for the format).
 * params: model_file (required).
 * Reentrant: the weights are read-only after create, so all workers share
 * one instance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linear_model.h"
#include "rv_answers.h"

#define MAX_LABELS 1024

static int linear_create(const rv_create_args *args, rv_model_info *info,
                         void **instance, char *err, size_t err_size)
{
    const char *file = rv_param_get(args, "model_file");
    if (!file) {
        snprintf(err, err_size, "params.model_file is required (a linear model JSON)");
        return RV_EINVAL;
    }
    for (size_t i = 0; i < args->n_params; i++)
        if (strcmp(args->params[i].key, "model_file") != 0) {
            snprintf(err, err_size, "params.%s: unknown (linear params: model_file)",
                     args->params[i].key);
            return RV_EINVAL;
        }
    rv_linear_model *m = malloc(sizeof *m);
    if (!m) {
        snprintf(err, err_size, "out of memory");
        return RV_ENOMEM;
    }
    if (rv_linear_load(m, file, args->feature_names, args->n_features, err, err_size) != 0) {
        free(m);
        return RV_EIO;
    }
    if (m->n_labels > MAX_LABELS) {
        snprintf(err, err_size, "model file %s has %zu labels, at most %d supported", file,
                 m->n_labels, MAX_LABELS);
        rv_linear_free(m);
        free(m);
        return RV_EINVAL;
    }
    info->labels = (const char *const *)m->labels;
    info->n_labels = (uint32_t)m->n_labels;
    *instance = m;
    return RV_OK;
}

static int linear_score(void *instance, const rv_request *const *reqs,
                        rv_result *const *results, size_t n, char *err, size_t err_size)
{
    const rv_linear_model *m = instance;
    double probs[MAX_LABELS];
    for (size_t i = 0; i < n; i++) {
        size_t missing;
        if (rv_linear_predict(m, reqs[i]->features, probs, &missing) != 0) {
            snprintf(results[i]->error, results[i]->error_size,
                     "feature %zu is missing", missing);
            continue;
        }
        rv_fill_top_answers(results[i], probs, m->n_labels);
    }
    return RV_OK;
}

static void linear_destroy(void *instance)
{
    rv_linear_free(instance);
    free(instance);
}

static const rv_plugin linear_plugin = {
    .abi = RV_ABI_HEADER_INIT,
    .name = "linear",
    .description = "logistic / softmax regression exported from scikit-learn",
    .version = "1.0",
    .flags = RV_PLUGIN_REENTRANT,
    .create = linear_create,
    .score = linear_score,
    .destroy = linear_destroy,
};

RV_PLUGIN_EXPORT const rv_plugin *rv_plugin_entry(void) { return &linear_plugin; }
