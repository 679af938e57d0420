/*
 * canary.c - the built-in reference model: a logistic or softmax regression
 * from a weights file (params: model_file), evaluated by the linear
 * plugin's code. It is scored like any model; the canary monitor compares
 * the others with it and reads its own params (window, min_agreement,
 * max_score_shift). It must stay boring: no state beyond its weights, so
 * that a divergence means the others or the data changed, not the canary.
 */
#include "builtins.h"
#include "linear_model.h"

static int canary_create(const rv_create_args *args, rv_model_info *info, void **instance,
                         char *err, size_t err_size)
{
    static const char *const monitor_params[] = {"window", "min_agreement", "max_score_shift",
                                                 NULL};
    return rv_linear_create(args, monitor_params, info, instance, err, err_size);
}

static const rv_plugin canary_plugin = {
    .abi = RV_ABI_HEADER_INIT,
    .name = "canary",
    .description = "built-in reference model (linear weights file)",
    .version = "1",
    .flags = RV_PLUGIN_REENTRANT,
    .create = canary_create,
    .score = rv_linear_score,
    .destroy = rv_linear_destroy,
};

const rv_plugin *rv_builtin_canary(void) { return &canary_plugin; }
