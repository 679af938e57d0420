/*
 * linear_plugin.c - logistic and softmax regression from a JSON weights file
 * exported from scikit-learn (see linear_model.h for the format).
 * params: model_file (required).
 * Reentrant: the weights are read-only after create, so all workers share
 * one instance.
 */
#include "linear_model.h"

static int linear_create(const rv_create_args *args, rv_model_info *info, void **instance,
                         char *err, size_t err_size)
{
    return rv_linear_create(args, NULL, info, instance, err, err_size);
}

static const rv_plugin linear_plugin = {
    .abi = RV_ABI_HEADER_INIT,
    .name = "linear",
    .description = "logistic / softmax regression exported from scikit-learn",
    .version = "1.0",
    .flags = RV_PLUGIN_REENTRANT,
    .create = linear_create,
    .score = rv_linear_score,
    .destroy = rv_linear_destroy,
};

RV_PLUGIN_EXPORT const rv_plugin *rv_plugin_entry(void)
{
    return &linear_plugin;
}
