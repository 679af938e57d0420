/*
 * xgboost_plugin.c - scores requests with an XGBoost classifier (a model
 * file saved by XGBoost 1.x as JSON or UBJSON) through libxgboost's C API.
 *
 * params:
 *   model_file  required; the .json / .ubj file written by save_model()
 *   labels      optional; comma-separated label names, one per class
 *               (default "0".."K-1")
 *   nthread     optional; XGBoost threads per prediction call (default 1)
 * Supported objectives: binary:logistic and multi:softprob. The answers are
 * the probabilities of XGBClassifier.predict_proba (binary: [1-p, p]).
 * The config's input.features are mapped to the model's features by
 * position: the model must have been trained on columns in that order.
 *
 * What this file must never do:
 *   - predict row by row: score() makes exactly one XGBoost prediction call
 *     per batch, whatever n is;
 *   - let an XGBoost failure escape as a crash: every C API call is checked
 *     and its XGBGetLastError() text goes into the caller's error buffer;
 *   - hand the host memory it must free, or keep a pointer into a request
 *     or into XGBoost's output buffer past the call that produced it;
 *   - claim RV_PLUGIN_REENTRANT: the booster's prediction output buffer is
 *     per booster and per thread, and nobody has proven the 1.7 predictor
 *     safe for concurrent calls on one booster, so each worker gets its own
 *     instance (its own booster).
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xgboost/c_api.h>
#include <yajl/yajl_tree.h>

#include "rv_answers.h"

/* The rv_answer label is a uint32_t and probs live in one buffer; a bound
 * keeps a corrupt num_class from turning into a huge allocation. */
#define XGB_MAX_CLASSES 65536
#define XGB_MAX_THREADS 1024

/* In-place prediction, normal (probability) output, all trees; strict
 * shape makes the output (n, 1) for binary and (n, K) for softprob, so one
 * check covers both. NaN is the missing value, as on the host side.
 * Written the way the Python package writes it (json.dumps gives NaN). */
static const char PREDICT_CONFIG[] =
    "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
    "\"iteration_end\": 0, \"strict_shape\": true, \"missing\": NaN, \"cache_id\": 0}";

typedef struct xgb_model {
    BoosterHandle booster;
    size_t n_features;
    uint32_t n_classes; /* labels; 2 for binary:logistic */
    uint32_t n_outputs; /* columns XGBoost returns per row: 1 (binary) or K */
    char **labels;      /* n_classes owned strings */
    /* Scratch, grown as needed and kept, so that a steady state of batches
     * allocates nothing here. */
    double *rows;          /* rows_cap * n_features, row-major */
    unsigned char *row_ok; /* rows_cap flags: row i gets an answer */
    size_t rows_cap;
    double *probs; /* n_classes */
} xgb_model;

/* XGBoost's last error on this thread, first line only: the rest is a
 * C++ stack trace that helps nobody reading a config error. */
static void put_xgb_error(char *err, size_t err_size, const char *what)
{
    const char *msg = XGBGetLastError();
    if (!msg || !*msg)
        msg = "(no detail from XGBoost)";
    int len = (int)strcspn(msg, "\n");
    snprintf(err, err_size, "%s: %.*s", what, len, msg);
}

static void model_free(xgb_model *m)
{
    if (!m)
        return;
    if (m->booster)
        XGBoosterFree(m->booster);
    if (m->labels)
        for (uint32_t i = 0; i < m->n_classes; i++)
            free(m->labels[i]);
    free(m->labels);
    free(m->rows);
    free(m->row_ok);
    free(m->probs);
    free(m);
}

static int parse_nthread(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < 1 || v > XGB_MAX_THREADS)
        return -1;
    *out = (int)v;
    return 0;
}

/* Reads the objective name and num_class out of the learner's JSON
 * configuration. The model file itself would do too, but the saved config
 * is the same text for JSON and UBJSON models. */
static int read_objective(xgb_model *m, const char *file, char *err, size_t err_size)
{
    bst_ulong len = 0;
    const char *text = NULL;
    if (XGBoosterSaveJsonConfig(m->booster, &len, &text) != 0) {
        put_xgb_error(err, err_size, "cannot read the model's configuration");
        return RV_EMODEL;
    }
    /* yajl wants a NUL-terminated string; XGBoost's buffer is only
     * guaranteed to be len bytes. */
    char *copy = malloc((size_t)len + 1);
    if (!copy) {
        snprintf(err, err_size, "out of memory");
        return RV_ENOMEM;
    }
    memcpy(copy, text, (size_t)len);
    copy[len] = '\0';
    char perr[256] = "";
    yajl_val root = yajl_tree_parse(copy, perr, sizeof perr);
    free(copy);
    if (!root) {
        snprintf(err, err_size, "model %s: configuration is not JSON: %s", file, perr);
        return RV_EMODEL;
    }
    static const char *obj_path[] = {"learner", "objective", "name", NULL};
    static const char *ncls_path[] = {"learner", "learner_model_param", "num_class", NULL};
    const char *obj = YAJL_GET_STRING(yajl_tree_get(root, obj_path, yajl_t_string));
    const char *ncls = YAJL_GET_STRING(yajl_tree_get(root, ncls_path, yajl_t_string));
    int rc = RV_OK;
    if (!obj) {
        snprintf(err, err_size, "model %s: configuration names no objective", file);
        rc = RV_EMODEL;
    } else if (strcmp(obj, "binary:logistic") == 0) {
        m->n_classes = 2;
        m->n_outputs = 1;
    } else if (strcmp(obj, "multi:softprob") == 0) {
        char *end = NULL;
        long k = ncls ? strtol(ncls, &end, 10) : 0;
        if (!ncls || end == ncls || *end != '\0' || k < 2 || k > XGB_MAX_CLASSES) {
            snprintf(err, err_size, "model %s: multi:softprob with num_class '%s'", file,
                     ncls ? ncls : "(none)");
            rc = RV_EMODEL;
        } else {
            m->n_classes = (uint32_t)k;
            m->n_outputs = (uint32_t)k;
        }
    } else {
        snprintf(err, err_size,
                 "model %s: objective %s is not supported (binary:logistic, "
                 "multi:softprob)",
                 file, obj);
        rc = RV_EINVAL;
    }
    yajl_tree_free(root);
    return rc;
}

/* Fills m->labels from the labels param (comma-separated) or with the
 * class indices. n_classes must be known. */
static int make_labels(xgb_model *m, const char *spec, char *err, size_t err_size)
{
    m->labels = calloc(m->n_classes, sizeof *m->labels);
    if (!m->labels) {
        snprintf(err, err_size, "out of memory");
        return RV_ENOMEM;
    }
    if (!spec) {
        for (uint32_t i = 0; i < m->n_classes; i++) {
            char buf[16];
            snprintf(buf, sizeof buf, "%u", (unsigned)i);
            if (!(m->labels[i] = strdup(buf))) {
                snprintf(err, err_size, "out of memory");
                return RV_ENOMEM;
            }
        }
        return RV_OK;
    }
    size_t count = 1;
    for (const char *p = spec; *p; p++)
        count += *p == ',';
    if (count != m->n_classes) {
        snprintf(err, err_size, "params.labels has %zu names, the model has %u classes", count,
                 (unsigned)m->n_classes);
        return RV_EINVAL;
    }
    const char *p = spec;
    for (uint32_t i = 0; i < m->n_classes; i++) {
        size_t n = strcspn(p, ",");
        /* Surrounding blanks are YAML formatting, not part of a name. */
        const char *b = p, *e = p + n;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (b == e) {
            snprintf(err, err_size, "params.labels: name %u is empty", (unsigned)i + 1);
            return RV_EINVAL;
        }
        if (!(m->labels[i] = strndup(b, (size_t)(e - b)))) {
            snprintf(err, err_size, "out of memory");
            return RV_ENOMEM;
        }
        p += n + (p[n] == ',');
    }
    return RV_OK;
}

static int xgb_create(const rv_create_args *args, rv_model_info *info, void **instance, char *err,
                      size_t err_size)
{
    for (size_t i = 0; i < args->n_params; i++) {
        const char *k = args->params[i].key;
        if (strcmp(k, "model_file") != 0 && strcmp(k, "labels") != 0 && strcmp(k, "nthread") != 0) {
            snprintf(err, err_size,
                     "params.%s: unknown (xgboost params: model_file, labels, nthread)", k);
            return RV_EINVAL;
        }
    }
    const char *file = rv_param_get(args, "model_file");
    if (!file || !*file) {
        snprintf(err, err_size, "params.model_file is required (an XGBoost .json/.ubj model)");
        return RV_EINVAL;
    }
    int nthread = 1;
    const char *nt = rv_param_get(args, "nthread");
    if (nt && parse_nthread(nt, &nthread) != 0) {
        snprintf(err, err_size, "params.nthread: '%s' is not an integer in 1..%d", nt,
                 XGB_MAX_THREADS);
        return RV_EINVAL;
    }
    /* XGBoost's own message for a missing file is a dmlc stream error; say
     * it plainly first. */
    struct stat st;
    if (stat(file, &st) != 0) {
        snprintf(err, err_size, "model file %s: %s", file, strerror(errno));
        return RV_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "model file %s: not a regular file", file);
        return RV_EIO;
    }

    xgb_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, err_size, "out of memory");
        return RV_ENOMEM;
    }
    int rc;
    if (XGBoosterCreate(NULL, 0, &m->booster) != 0) {
        m->booster = NULL;
        put_xgb_error(err, err_size, "cannot create an XGBoost booster");
        rc = RV_EMODEL;
        goto fail;
    }
    if (XGBoosterLoadModel(m->booster, file) != 0) {
        char what[4200];
        snprintf(what, sizeof what, "cannot load model file %s", file);
        put_xgb_error(err, err_size, what);
        rc = RV_EIO;
        goto fail;
    }
    char ntbuf[16];
    snprintf(ntbuf, sizeof ntbuf, "%d", nthread);
    if (XGBoosterSetParam(m->booster, "nthread", ntbuf) != 0) {
        put_xgb_error(err, err_size, "cannot set nthread");
        rc = RV_EINVAL;
        goto fail;
    }
    bst_ulong nf = 0;
    if (XGBoosterGetNumFeature(m->booster, &nf) != 0) {
        put_xgb_error(err, err_size, "cannot read the model's feature count");
        rc = RV_EMODEL;
        goto fail;
    }
    if ((size_t)nf != args->n_features) {
        snprintf(err, err_size, "model %s: model has %llu features, the config declares %zu", file,
                 (unsigned long long)nf, args->n_features);
        rc = RV_EINVAL;
        goto fail;
    }
    m->n_features = args->n_features;
    if ((rc = read_objective(m, file, err, err_size)) != RV_OK)
        goto fail;
    if ((rc = make_labels(m, rv_param_get(args, "labels"), err, err_size)) != RV_OK)
        goto fail;
    if (!(m->probs = malloc(m->n_classes * sizeof *m->probs))) {
        snprintf(err, err_size, "out of memory");
        rc = RV_ENOMEM;
        goto fail;
    }
    info->labels = (const char *const *)m->labels;
    info->n_labels = m->n_classes;
    *instance = m;
    return RV_OK;

fail:
    model_free(m);
    return rc;
}

static int grow_rows(xgb_model *m, size_t n)
{
    if (n <= m->rows_cap)
        return 0;
    size_t cap = m->rows_cap ? m->rows_cap : 16;
    while (cap < n)
        cap *= 2;
    size_t width = m->n_features ? m->n_features : 1;
    if (cap > SIZE_MAX / width / sizeof(double))
        return -1;
    double *rows = realloc(m->rows, cap * width * sizeof *rows);
    if (!rows)
        return -1;
    m->rows = rows;
    unsigned char *ok = realloc(m->row_ok, cap);
    if (!ok)
        return -1; /* rows is merely bigger than rows_cap says: harmless */
    m->row_ok = ok;
    m->rows_cap = cap;
    return 0;
}

/* One in-place prediction over rows[0..n) (already in m->rows). On success
 * *out points into XGBoost's buffer, valid until the next call on this
 * booster from this thread. */
static int predict(xgb_model *m, size_t n, const float **out, char *err, size_t err_size)
{
    /* __array_interface__ of the row-major float64 matrix: XGBoost converts
     * to float32 itself, exactly as when Python hands it a numpy float64
     * array, so no float copy is needed here. */
    char iface[256];
    snprintf(iface, sizeof iface,
             "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f8\", "
             "\"version\": 3}",
             (unsigned long long)(uintptr_t)m->rows, n, m->n_features);
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    if (XGBoosterPredictFromDense(m->booster, iface, PREDICT_CONFIG, NULL, &shape, &dim, out) !=
        0) {
        put_xgb_error(err, err_size, "XGBoost prediction failed");
        return RV_EMODEL;
    }
    if (dim != 2 || shape[0] != n || shape[1] != m->n_outputs) {
        snprintf(err, err_size,
                 "XGBoost returned a prediction of shape (%llu, %llu) for %zu rows, "
                 "expected (%zu, %u)",
                 dim > 0 ? (unsigned long long)shape[0] : 0ULL,
                 dim > 1 ? (unsigned long long)shape[1] : 0ULL, n, n, (unsigned)m->n_outputs);
        return RV_EMODEL;
    }
    return RV_OK;
}

static int xgb_warm(void *instance, char *err, size_t err_size)
{
    xgb_model *m = instance;
    if (grow_rows(m, 1) != 0) {
        snprintf(err, err_size, "out of memory");
        return RV_ENOMEM;
    }
    for (size_t j = 0; j < m->n_features; j++)
        m->rows[j] = 0.0;
    const float *out;
    return predict(m, 1, &out, err, err_size);
}

static int xgb_score(void *instance, const rv_request *const *reqs, rv_result *const *results,
                     size_t n, char *err, size_t err_size)
{
    xgb_model *m = instance;
    if (grow_rows(m, n) != 0) {
        snprintf(err, err_size, "out of memory for a batch of %zu rows", n);
        return RV_ENOMEM;
    }
    /* A row that cannot be scored still takes its place in the matrix (all
     * missing), so that the batch stays one call and row i stays result i;
     * its result is marked as an error instead of taking the answer. */
    int any_ok = 0;
    for (size_t i = 0; i < n; i++) {
        double *row = m->rows + i * m->n_features;
        const rv_request *r = reqs[i];
        int bad = 0;
        if (r->n_features != m->n_features) {
            snprintf(results[i]->error, results[i]->error_size,
                     "request has %zu features, the model takes %zu", r->n_features, m->n_features);
            bad = 1;
        } else {
            for (size_t j = 0; j < m->n_features; j++) {
                double v = r->features[j];
                /* XGBoost refuses inf (and doubles beyond float range become
                 * inf), which would fail the whole batch for one row. */
                if (!isnan(v) && !(fabs(v) <= (double)FLT_MAX)) {
                    snprintf(results[i]->error, results[i]->error_size,
                             "feature %zu is not a finite float (%g)", j, v);
                    bad = 1;
                    break;
                }
                row[j] = v;
            }
        }
        if (bad) {
            for (size_t j = 0; j < m->n_features; j++)
                row[j] = NAN;
            results[i]->status = RV_STATUS_ERROR;
            results[i]->n_answers = 0;
        }
        m->row_ok[i] = !bad;
        any_ok |= !bad;
    }
    if (!any_ok)
        return RV_OK; /* every result already carries its own error */
    const float *out;
    int rc = predict(m, n, &out, err, err_size);
    if (rc != RV_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!m->row_ok[i])
            continue;
        const float *o = out + i * m->n_outputs;
        if (m->n_outputs == 1) {
            /* predict_proba's binary columns: [1 - p, p], with 1 - p
             * computed in float32 as numpy does it, so that both columns
             * are bit-identical to Python's. */
            m->probs[0] = (double)(1.0f - o[0]);
            m->probs[1] = (double)o[0];
        } else {
            for (uint32_t k = 0; k < m->n_outputs; k++)
                m->probs[k] = (double)o[k];
        }
        rv_fill_top_answers(results[i], m->probs, m->n_classes);
    }
    return RV_OK;
}

static void xgb_destroy(void *instance)
{
    model_free(instance);
}

static const rv_plugin xgb_plugin = {
    .abi = RV_ABI_HEADER_INIT,
    .name = "xgboost",
    .description = "XGBoost classifier (binary:logistic, multi:softprob) via libxgboost",
    .version = "1.0",
    .flags = 0, /* one instance per worker: see the top of the file */
    .create = xgb_create,
    .warm = xgb_warm,
    .score = xgb_score,
    .destroy = xgb_destroy,
};

RV_PLUGIN_EXPORT const rv_plugin *rv_plugin_entry(void)
{
    return &xgb_plugin;
}
