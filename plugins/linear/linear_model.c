/*
 * linear_model.c - load and evaluate logistic/softmax regressions.
 * Must never allocate or lock in rv_linear_predict(): it runs per request.
 */
#include "linear_model.h"

#include "rv_answers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

static char *read_file(const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "cannot open model file %s", path);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0, r;
    char chunk[65536];
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + r + 1 > cap) {
            cap = (len + r + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                snprintf(err, err_size, "out of memory reading %s", path);
                return NULL;
            }
            buf = nb;
        }
        memcpy(buf + len, chunk, r);
        len += r;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    else
        buf[len] = '\0';
    return buf;
}

static int number_array(yajl_val arr, double *out, size_t n)
{
    if (!YAJL_IS_ARRAY(arr) || arr->u.array.len != n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!YAJL_IS_NUMBER(arr->u.array.values[i]))
            return -1;
        out[i] = YAJL_GET_DOUBLE(arr->u.array.values[i]);
    }
    return 0;
}

int rv_linear_load(rv_linear_model *m, const char *path, const char *const *host_features,
                   size_t n_host_features, char *err, size_t err_size)
{
    memset(m, 0, sizeof *m);
    char *text = read_file(path, err, err_size);
    if (!text)
        return -1;
    char perr[256];
    yajl_val root = yajl_tree_parse(text, perr, sizeof perr);
    free(text);
    if (!root) {
        snprintf(err, err_size, "model file %s is not valid JSON: %s", path, perr);
        return -1;
    }
    const char *p_kind[] = {"kind", NULL}, *p_feat[] = {"features", NULL},
               *p_lab[] = {"labels", NULL}, *p_coef[] = {"coef", NULL},
               *p_int[] = {"intercept", NULL};
    yajl_val kind = yajl_tree_get(root, p_kind, yajl_t_string);
    yajl_val feats = yajl_tree_get(root, p_feat, yajl_t_array);
    yajl_val labels = yajl_tree_get(root, p_lab, yajl_t_array);
    yajl_val coef = yajl_tree_get(root, p_coef, yajl_t_array);
    yajl_val icpt = yajl_tree_get(root, p_int, yajl_t_array);
    const char *bad = !kind     ? "kind"
                      : !feats  ? "features"
                      : !labels ? "labels"
                      : !coef   ? "coef"
                      : !icpt   ? "intercept"
                                : NULL;
    if (bad) {
        snprintf(err, err_size, "model file %s: missing or mistyped \"%s\"", path, bad);
        goto fail;
    }
    if (strcmp(kind->u.string, "logistic") == 0)
        m->softmax = 0;
    else if (strcmp(kind->u.string, "softmax") == 0)
        m->softmax = 1;
    else {
        snprintf(err, err_size, "model file %s: kind \"%s\" is neither logistic nor softmax", path,
                 kind->u.string);
        goto fail;
    }
    m->n_features = feats->u.array.len;
    m->n_labels = labels->u.array.len;
    m->n_rows = m->softmax ? m->n_labels : 1;
    if (m->n_features == 0 || m->n_labels < 2 || coef->u.array.len != m->n_rows ||
        icpt->u.array.len != m->n_rows) {
        snprintf(err, err_size,
                 "model file %s: inconsistent shape (%zu features, %zu labels, "
                 "%zu coef rows, %zu intercepts)",
                 path, m->n_features, m->n_labels, coef->u.array.len, icpt->u.array.len);
        goto fail;
    }
    if (m->n_features != n_host_features) {
        snprintf(err, err_size, "model file %s has %zu features, the config declares %zu", path,
                 m->n_features, n_host_features);
        goto fail;
    }
    m->labels = calloc(m->n_labels, sizeof *m->labels);
    m->coef = calloc(m->n_rows * m->n_features, sizeof *m->coef);
    m->intercept = calloc(m->n_rows, sizeof *m->intercept);
    m->feature_index = calloc(m->n_features, sizeof *m->feature_index);
    if (!m->labels || !m->coef || !m->intercept || !m->feature_index) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < m->n_labels; i++) {
        yajl_val l = labels->u.array.values[i];
        if (!YAJL_IS_STRING(l) || !(m->labels[i] = strdup(l->u.string))) {
            snprintf(err, err_size, "model file %s: labels[%zu] is not a string", path, i);
            goto fail;
        }
    }
    for (size_t j = 0; j < m->n_features; j++) {
        yajl_val f = feats->u.array.values[j];
        size_t k = n_host_features;
        if (YAJL_IS_STRING(f))
            for (k = 0; k < n_host_features; k++)
                if (strcmp(host_features[k], f->u.string) == 0)
                    break;
        if (k == n_host_features) {
            snprintf(err, err_size,
                     "model file %s: feature \"%s\" is not among the config's input.features", path,
                     YAJL_IS_STRING(f) ? f->u.string : "?");
            goto fail;
        }
        m->feature_index[j] = k;
    }
    for (size_t r = 0; r < m->n_rows; r++)
        if (number_array(coef->u.array.values[r], m->coef + r * m->n_features, m->n_features) !=
            0) {
            snprintf(err, err_size, "model file %s: coef[%zu] is not %zu numbers", path, r,
                     m->n_features);
            goto fail;
        }
    if (number_array(icpt, m->intercept, m->n_rows) != 0) {
        snprintf(err, err_size, "model file %s: intercept is not %zu numbers", path, m->n_rows);
        goto fail;
    }
    yajl_tree_free(root);
    return 0;
fail:
    yajl_tree_free(root);
    rv_linear_free(m);
    return -1;
}

void rv_linear_free(rv_linear_model *m)
{
    if (m->labels)
        for (size_t i = 0; i < m->n_labels; i++)
            free(m->labels[i]);
    free(m->labels);
    free(m->coef);
    free(m->intercept);
    free(m->feature_index);
    memset(m, 0, sizeof *m);
}

int rv_linear_predict(const rv_linear_model *m, const double *x, double *probs, size_t *missing)
{
    for (size_t j = 0; j < m->n_features; j++)
        if (isnan(x[m->feature_index[j]])) {
            *missing = m->feature_index[j];
            return -1;
        }
    for (size_t r = 0; r < m->n_rows; r++) {
        const double *w = m->coef + r * m->n_features;
        double z = m->intercept[r];
        for (size_t j = 0; j < m->n_features; j++)
            z += w[j] * x[m->feature_index[j]];
        probs[r] = z;
    }
    if (!m->softmax) {
        /* scikit-learn's expit, in its numerically stable form. */
        double z = probs[0];
        double p = z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
        probs[0] = 1.0 - p;
        probs[1] = p;
        return 0;
    }
    double mx = probs[0];
    for (size_t r = 1; r < m->n_rows; r++)
        if (probs[r] > mx)
            mx = probs[r];
    double sum = 0;
    for (size_t r = 0; r < m->n_rows; r++) {
        probs[r] = exp(probs[r] - mx);
        sum += probs[r];
    }
    for (size_t r = 0; r < m->n_rows; r++)
        probs[r] /= sum;
    return 0;
}

#define MAX_LABELS 1024

int rv_linear_create(const rv_create_args *args, const char *const *extra_params,
                     rv_model_info *info, void **instance, char *err, size_t err_size)
{
    const char *file = rv_param_get(args, "model_file");
    if (!file) {
        snprintf(err, err_size, "params.model_file is required (a linear model JSON)");
        return RV_EINVAL;
    }
    for (size_t i = 0; i < args->n_params; i++) {
        const char *k = args->params[i].key;
        int known = strcmp(k, "model_file") == 0;
        for (size_t e = 0; extra_params && extra_params[e] && !known; e++)
            known = strcmp(k, extra_params[e]) == 0;
        if (!known) {
            snprintf(err, err_size, "params.%s: unknown param", k);
            return RV_EINVAL;
        }
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

int rv_linear_score(void *instance, const rv_request *const *reqs, rv_result *const *results,
                    size_t n, char *err, size_t err_size)
{
    const rv_linear_model *m = instance;
    double probs[MAX_LABELS];
    (void)err, (void)err_size; /* no whole-batch failure: rows fail alone */
    for (size_t i = 0; i < n; i++) {
        size_t missing;
        if (rv_linear_predict(m, reqs[i]->features, probs, &missing) != 0) {
            snprintf(results[i]->error, results[i]->error_size, "feature %zu is missing", missing);
            continue;
        }
        rv_fill_top_answers(results[i], probs, m->n_labels);
    }
    return RV_OK;
}

void rv_linear_destroy(void *instance)
{
    rv_linear_free(instance);
    free(instance);
}
