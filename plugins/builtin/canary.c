/*
 * canary.c - the built-in reference model: a logistic or softmax regression
 * from a weights file (params: model_file), evaluated by the linear
 * plugin's code. It is scored like any model; the canary monitor compares
 * the others with it, with the settings its params give (window,
 * reference_windows, min_agreement, max_score_shift), checked here at
 * create. It must stay
 * boring: no state beyond its weights, so that a divergence means the
 * others or the data changed, not the canary.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "builtins.h"
#include "linear_model.h"
#include "rv_answers.h"

/* A number written whole (no trailing text), finite. */
static int parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Parses the monitor's params, each read by get (NULL: absent, the
 * default applies). 0, or -1 with "params.<key>: reason" in err. create
 * refuses what this refuses, so the monitor never sees a bad value. */
static int settings_parse(rv_param_lookup get, const void *ctx, rv_monitor_settings *out, char *err,
                          size_t err_size)
{
    *out = (rv_monitor_settings){
        .window = 1000, .min_agreement = 0.9, .max_score_shift = 0.1, .reference_windows = 5};
    static const struct {
        const char *key;
        double lo, hi;
    } counts[] = {{"window", 10, 1e9}, {"reference_windows", 1, 1000}};
    uint32_t *count_out[] = {&out->window, &out->reference_windows};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        const char *v = get(ctx, counts[i].key);
        double w;
        if (!v)
            continue;
        if (parse_number(v, &w) != 0 || w != floor(w) || w < counts[i].lo || w > counts[i].hi) {
            snprintf(err, err_size, "params.%s: '%s' is not an integer from %.0f to %.0f",
                     counts[i].key, v, counts[i].lo, counts[i].hi);
            return -1;
        }
        *count_out[i] = (uint32_t)w;
    }
    const char *min_agreement = get(ctx, "min_agreement");
    if (min_agreement && (parse_number(min_agreement, &out->min_agreement) != 0 ||
                          out->min_agreement < 0 || out->min_agreement > 1)) {
        snprintf(err, err_size, "params.min_agreement: '%s' is not a number from 0 to 1",
                 min_agreement);
        return -1;
    }
    const char *max_score_shift = get(ctx, "max_score_shift");
    if (max_score_shift && (parse_number(max_score_shift, &out->max_score_shift) != 0 ||
                            out->max_score_shift < 0 || out->max_score_shift > 1)) {
        snprintf(err, err_size, "params.max_score_shift: '%s' is not a number from 0 to 1",
                 max_score_shift);
        return -1;
    }
    return 0;
}

static const char *create_param(const void *ctx, const char *key)
{
    return rv_param_get(ctx, key);
}

static int canary_create(const rv_create_args *args, rv_model_info *info, void **instance,
                         char *err, size_t err_size)
{
    static const char *const monitor_params[] = {"window", "reference_windows", "min_agreement",
                                                 "max_score_shift", NULL};
    rv_monitor_settings settings;
    if (settings_parse(create_param, args, &settings, err, err_size) != 0)
        return RV_EINVAL;
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

const rv_plugin *rv_builtin_canary(void)
{
    return &canary_plugin;
}

/* The canary monitor's settings, from the params of the model it serves. */
static int monitor_settings(rv_param_lookup get, const void *ctx, rv_monitor_settings *out,
                            char *err, size_t err_size)
{
    return settings_parse(get, ctx, out, err, err_size);
}

const rv_builtin rv_builtin_canary_entry = {
    .name = "canary",
    .descriptor = &canary_plugin,
    .props = RV_BUILTIN_REFERENCE,
    .monitor_settings = monitor_settings,
};
