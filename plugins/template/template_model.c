/*
 * template_model.c - a complete model plugin to copy when writing your own.
 *
 * It scores a request as a logistic function of a weighted sum of the
 * features, with weights from params (w_<feature>: number, bias: number),
 * and answers two labels. Replace the arithmetic in template_score() with
 * your model; keep the shape:
 *   - one exported function, rv_plugin_entry(), returning a constant
 *     descriptor (build with -fvisibility=hidden so that nothing else is
 *     exported);
 *   - create() takes everything it needs and gives it all back on failure;
 *   - score() reads borrowed requests and writes into host-owned results,
 *     never allocating memory that the host would free.
 *
 * Build outside the Rendezvous tree:
 *   cc $(pkg-config --cflags rendezvous-plugin) -shared -o libmymodel.so \
 *      template_model.c -lm
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rendezvous_plugin.h>

typedef struct template_model {
    size_t n_features;
    double bias;
    double *weights; /* one per configured feature */
    const char *labels[2];
} template_model;

static const char *param(const rv_create_args *args, const char *key)
{
    for (size_t i = 0; i < args->n_params; i++)
        if (strcmp(args->params[i].key, key) == 0)
            return args->params[i].value;
    return NULL;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && *end == '\0' ? 0 : -1;
}

static int template_create(const rv_create_args *args, rv_model_info *info, void **instance,
                           char *err, size_t err_size)
{
    template_model *m = calloc(1, sizeof *m);
    if (!m || !(m->weights = calloc(args->n_features ? args->n_features : 1, sizeof *m->weights))) {
        free(m);
        snprintf(err, err_size, "out of memory");
        return RV_ENOMEM;
    }
    m->n_features = args->n_features;
    const char *v = param(args, "bias");
    if (v && parse_double(v, &m->bias) != 0) {
        snprintf(err, err_size, "params.bias: '%s' is not a number", v);
        goto fail;
    }
    for (size_t i = 0; i < args->n_features; i++) {
        char key[256];
        snprintf(key, sizeof key, "w_%s", args->feature_names[i]);
        if ((v = param(args, key)) && parse_double(v, &m->weights[i]) != 0) {
            snprintf(err, err_size, "params.%s: '%s' is not a number", key, v);
            goto fail;
        }
    }
    m->labels[0] = "negative";
    m->labels[1] = "positive";
    info->labels = m->labels;
    info->n_labels = 2;
    *instance = m;
    return RV_OK;
fail:
    free(m->weights);
    free(m);
    return RV_EINVAL;
}

static int template_score(void *instance, const rv_request *const *requests,
                          rv_result *const *results, size_t n, char *err, size_t err_size)
{
    const template_model *m = instance;
    (void)err, (void)err_size; /* whole-batch failures cannot happen here */
    for (size_t r = 0; r < n; r++) {
        const rv_request *req = requests[r];
        rv_result *res = results[r];
        double z = m->bias;
        for (size_t i = 0; i < m->n_features; i++) {
            double x = req->features[i];
            if (isnan(x))
                x = 0.0; /* this template treats a missing feature as 0 */
            z += m->weights[i] * x;
        }
        double p = 1.0 / (1.0 + exp(-z));
        uint32_t best = p >= 0.5;
        res->answers[0] = (rv_answer){best, best ? p : 1.0 - p};
        res->n_answers = 1;
        if (res->max_answers > 1) {
            res->answers[1] = (rv_answer){!best, best ? 1.0 - p : p};
            res->n_answers = 2;
        }
        res->status = RV_STATUS_OK;
    }
    return RV_OK;
}

static void template_destroy(void *instance)
{
    template_model *m = instance;
    free(m->weights);
    free(m);
}

static const rv_plugin template_plugin = {
    .abi = RV_ABI_HEADER_INIT,
    .name = "template",
    .description = "logistic function of weighted features (a template to copy)",
    .version = "1.0",
    .flags = RV_PLUGIN_REENTRANT,
    .create = template_create,
    .warm = NULL,
    .score = template_score,
    .destroy = template_destroy,
};

RV_PLUGIN_EXPORT const rv_plugin *rv_plugin_entry(void)
{
    return &template_plugin;
}
