/*
 * canary.c - the built-in reference model: a logistic or softmax regression
 * from a weights file (params: model_file). It is scored like any model; the
 * canary monitor compares the others with it. It must stay boring: no state
 * beyond its weights, so that a divergence means the others or the data
 * changed, not the canary.
 */
#include <stdlib.h>
#include <stdio.h>

#include "builtins.h"
#include "linear_model.h"
#include "rv_answers.h"

static int canary_create(const rv_create_args *args, rv_model_info *info,
                         void **instance, char *err, size_t err_size)
{
    const char *file = rv_param_get(args, "model_file");
    if (!file) {
        snprintf(err, err_size, "canary needs params.model_file (a linear model JSON)");
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
    info->labels = (const char *const *)m->labels;
    info->n_labels = (uint32_t)m->n_labels;
    *instance = m;
    return RV_OK;
}

static int canary_score(void *instance, const rv_request *const *reqs,
                        rv_result *const *results, size_t n, char *err, size_t err_size)
{
    const rv_linear_model *m = instance;
    double probs[256];
    if (m->n_labels > 256) {
        snprintf(err, err_size, "too many labels");
        return RV_EMODEL;
    }
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

static void canary_destroy(void *instance)
{
    rv_linear_free(instance);
    free(instance);
}

static const rv_plugin canary_plugin = {
    .abi = RV_ABI_HEADER_INIT,
    .name = "canary",
    .description = "built-in reference model (linear weights file)",
    .version = "1",
    .flags = RV_PLUGIN_REENTRANT,
    .create = canary_create,
    .score = canary_score,
    .destroy = canary_destroy,
};

const rv_plugin *rv_builtin_canary(void) { return &canary_plugin; }
