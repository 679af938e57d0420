/*
 * test_xgboost.c - the XGBoost plugin, loaded as the host loads it (the
 * built libxgboost_model.so through rv_module_load), against the reference
 * probabilities that Python's XGBClassifier.predict_proba wrote next to the
 * data sets (conf/data/<set>.expected.jsonl, field "xgboost"): every row of
 * breast_cancer (binary) and digits (10 classes) must agree within 1e-5.
 * Also: the create refusals (missing, corrupt, wrong feature count, unknown
 * param, wrong label count) and batch shape / missing-value handling.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "module.h"
#include "test_helpers.h"

#define PARITY_TOL 1e-5
#define BATCH 64

static char *state_dir;
static rv_module *mod;

static void setup(void)
{
    state_dir = test_tmpdir();
    char err[1024] = "";
    mod = rv_module_load(RV_PLUGIN_DIR "/libxgboost_model.so", NULL, state_dir, err, sizeof err);
    ck_assert_msg(mod != NULL, "%s", err);
}

static void teardown(void)
{
    if (mod)
        rv_module_unref(mod);
    mod = NULL;
    test_rm_rf(state_dir);
    free(state_dir);
}

static void svc_log(void *ctx, int level, const char *msg)
{
    (void)ctx, (void)level, (void)msg;
}

static int svc_emit(void *ctx, const rv_request *about, const char *stream, const void *key,
                    size_t key_len, const void *value, size_t value_len)
{
    return RV_OK;
}

static const rv_host_services services = {sizeof services, NULL, svc_log, svc_emit};

/* ---- data files ---------------------------------------------------------- */

/* Reads a whole file into a NUL-terminated buffer the caller frees. */
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* Splits a JSON-lines file into parsed objects. */
typedef struct jsonl {
    char *text;
    yajl_val *rows;
    size_t n;
} jsonl;

static void jsonl_read(jsonl *j, const char *path)
{
    j->text = read_all(path);
    j->n = 0;
    size_t cap = 1024;
    j->rows = malloc(cap * sizeof *j->rows);
    for (char *line = strtok(j->text, "\n"); line; line = strtok(NULL, "\n")) {
        char perr[256] = "";
        yajl_val v = yajl_tree_parse(line, perr, sizeof perr);
        ck_assert_msg(v && YAJL_IS_OBJECT(v), "%s line %zu: %s", path, j->n + 1, perr);
        if (j->n == cap)
            j->rows = realloc(j->rows, (cap *= 2) * sizeof *j->rows);
        j->rows[j->n++] = v;
    }
}

static void jsonl_free(jsonl *j)
{
    for (size_t i = 0; i < j->n; i++)
        yajl_tree_free(j->rows[i]);
    free(j->rows);
    free(j->text);
}

/* Feature names, in the order of the "features" list of a model JSON. */
typedef struct names {
    char **v;
    size_t n;
} names;

static void names_from_model_json(names *nm, const char *path)
{
    char *text = read_all(path);
    char perr[256] = "";
    yajl_val root = yajl_tree_parse(text, perr, sizeof perr);
    ck_assert_msg(root != NULL, "%s: %s", path, perr);
    static const char *fpath[] = {"features", NULL};
    yajl_val arr = yajl_tree_get(root, fpath, yajl_t_array);
    ck_assert_ptr_nonnull(arr);
    nm->n = YAJL_GET_ARRAY(arr)->len;
    nm->v = calloc(nm->n, sizeof *nm->v);
    for (size_t i = 0; i < nm->n; i++) {
        const char *name = YAJL_GET_STRING(YAJL_GET_ARRAY(arr)->values[i]);
        ck_assert_ptr_nonnull(name);
        nm->v[i] = strdup(name);
    }
    yajl_tree_free(root);
    free(text);
}

static void names_pixels(names *nm, size_t n)
{
    nm->n = n;
    nm->v = calloc(n, sizeof *nm->v);
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "pixel_%zu", i);
        nm->v[i] = strdup(buf);
    }
}

static void names_free(names *nm)
{
    for (size_t i = 0; i < nm->n; i++)
        free(nm->v[i]);
    free(nm->v);
}

/* ---- the plugin ----------------------------------------------------------- */

static int create(const char *model_file, const char *labels, const names *features,
                  size_t n_features, rv_model_info *info, void **inst, char *err, size_t err_size)
{
    rv_param params[3];
    size_t np = 0;
    if (model_file)
        params[np++] = (rv_param){"model_file", model_file};
    if (labels)
        params[np++] = (rv_param){"labels", labels};
    rv_create_args args = {.struct_size = sizeof args,
                           .model_name = "xgb",
                           .params = params,
                           .n_params = np,
                           .feature_names = (const char *const *)features->v,
                           .n_features = n_features,
                           .services = &services};
    return mod->desc->create(&args, info, inst, err, err_size);
}

static void model_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/conf/models/%s", RV_SOURCE_DIR, name);
}

/* Host-owned results for a batch, as the host sets them up on entry. */
typedef struct batch {
    rv_request req[BATCH * 8];
    const rv_request *reqp[BATCH * 8];
    rv_result res[BATCH * 8];
    rv_result *resp[BATCH * 8];
    rv_answer answers[BATCH * 8][16];
    char errors[BATCH * 8][256];
    double features[BATCH * 8][64];
} batch;

static void batch_reset(batch *b, size_t n, size_t n_features, uint32_t max_answers)
{
    ck_assert_uint_le(n, BATCH * 8);
    ck_assert_uint_le(max_answers, 16);
    for (size_t i = 0; i < n; i++) {
        b->req[i] = (rv_request){.id = "r",
                                 .features = b->features[i],
                                 .n_features = n_features,
                                 .offset = -1,
                                 .timestamp_ms = -1};
        b->reqp[i] = &b->req[i];
        b->errors[i][0] = '\0';
        b->res[i] = (rv_result){.status = RV_STATUS_ERROR,
                                .n_answers = 0,
                                .max_answers = max_answers,
                                .answers = b->answers[i],
                                .error = b->errors[i],
                                .error_size = sizeof b->errors[i]};
        b->resp[i] = &b->res[i];
    }
}

static int score(void *inst, batch *b, size_t n, char *err, size_t err_size)
{
    return mod->desc->score(inst, b->reqp, b->resp, n, err, err_size);
}

/* Scores every row of data/<set>.jsonl in batches of BATCH and compares
 * every class probability with the "xgboost" field of the expected file.
 * Returns the largest absolute difference seen. */
static double parity(const char *set, const char *model, const char *labels, const names *features,
                     uint32_t n_classes)
{
    char path[4096], exp_path[4096], mpath[4096], err[1024] = "";
    snprintf(path, sizeof path, "%s/conf/data/%s.jsonl", RV_SOURCE_DIR, set);
    snprintf(exp_path, sizeof exp_path, "%s/conf/data/%s.expected.jsonl", RV_SOURCE_DIR, set);
    model_path(mpath, sizeof mpath, model);
    jsonl data, expected;
    jsonl_read(&data, path);
    jsonl_read(&expected, exp_path);
    ck_assert_uint_eq(data.n, expected.n);
    ck_assert_uint_gt(data.n, 0);

    rv_model_info info;
    void *inst;
    ck_assert_msg(create(mpath, labels, features, features->n, &info, &inst, err, sizeof err) ==
                      RV_OK,
                  "%s", err);
    ck_assert_uint_eq(info.n_labels, n_classes);
    ck_assert_int_eq(mod->desc->warm(inst, err, sizeof err), RV_OK);

    batch *b = calloc(1, sizeof *b);
    double max_diff = 0;
    size_t worst_row = 0;
    for (size_t start = 0; start < data.n; start += BATCH) {
        size_t n = data.n - start < BATCH ? data.n - start : BATCH;
        batch_reset(b, n, features->n, n_classes);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < features->n; j++) {
                const char *p[] = {features->v[j], NULL};
                yajl_val v = yajl_tree_get(data.rows[start + i], p, yajl_t_number);
                b->features[i][j] = v ? YAJL_GET_DOUBLE(v) : NAN;
            }
        ck_assert_msg(score(inst, b, n, err, sizeof err) == RV_OK, "%s", err);
        for (size_t i = 0; i < n; i++) {
            size_t row = start + i;
            const rv_result *r = &b->res[i];
            ck_assert_msg(r->status == RV_STATUS_OK, "%s row %zu: %s", set, row, r->error);
            ck_assert_uint_eq(r->n_answers, n_classes);
            static const char *xp[] = {"xgboost", NULL};
            yajl_val ex = yajl_tree_get(expected.rows[row], xp, yajl_t_array);
            ck_assert_ptr_nonnull(ex);
            ck_assert_uint_eq(YAJL_GET_ARRAY(ex)->len, n_classes);
            unsigned seen = 0;
            for (uint32_t k = 0; k < r->n_answers; k++) {
                uint32_t label = r->answers[k].label;
                ck_assert_uint_lt(label, n_classes);
                seen |= 1u << label;
                if (k > 0)
                    ck_assert_msg(r->answers[k - 1].score >= r->answers[k].score,
                                  "%s row %zu: answers not best first", set, row);
                double want = YAJL_GET_DOUBLE(YAJL_GET_ARRAY(ex)->values[label]);
                double d = fabs(r->answers[k].score - want);
                if (d > max_diff) {
                    max_diff = d;
                    worst_row = row;
                }
                ck_assert_msg(d <= PARITY_TOL,
                              "%s row %zu class %s: plugin %.9g, predict_proba %.9g", set, row,
                              info.labels[label], r->answers[k].score, want);
            }
            ck_assert_uint_eq(seen, (1u << n_classes) - 1);
        }
    }
    fprintf(stderr, "xgboost parity %s: %zu rows, max abs diff %.3g (row %zu)\n", set, data.n,
            max_diff, worst_row);
    free(b);
    mod->desc->destroy(inst);
    jsonl_free(&data);
    jsonl_free(&expected);
    return max_diff;
}

START_TEST(descriptor_is_not_reentrant)
{
    ck_assert_str_eq(mod->desc->name, "xgboost");
    ck_assert_uint_eq(mod->desc->flags & RV_PLUGIN_REENTRANT, 0);
    ck_assert_ptr_nonnull(mod->desc->warm);
}
END_TEST

START_TEST(parity_binary_breast_cancer)
{
    names f;
    char p[4096];
    snprintf(p, sizeof p, "%s/conf/models/breast_cancer-linear.json", RV_SOURCE_DIR);
    names_from_model_json(&f, p);
    ck_assert_uint_eq(f.n, 30);
    double d = parity("breast_cancer", "breast_cancer-xgb.json", "malignant,benign", &f, 2);
    ck_assert_double_le(d, PARITY_TOL);
    names_free(&f);
}
END_TEST

START_TEST(parity_multiclass_digits)
{
    names f;
    names_pixels(&f, 64);
    double d = parity("digits", "digits-xgb.json", "0,1,2,3,4,5,6,7,8,9", &f, 10);
    ck_assert_double_le(d, PARITY_TOL);
    names_free(&f);
}
END_TEST

START_TEST(labels_and_default_labels)
{
    names f;
    names_pixels(&f, 64);
    char mpath[4096], err[1024] = "";
    model_path(mpath, sizeof mpath, "digits-xgb.json");
    rv_model_info info;
    void *inst;
    ck_assert_msg(create(mpath, NULL, &f, 64, &info, &inst, err, sizeof err) == RV_OK, "%s", err);
    ck_assert_uint_eq(info.n_labels, 10);
    ck_assert_str_eq(info.labels[0], "0");
    ck_assert_str_eq(info.labels[9], "9");
    mod->desc->destroy(inst);

    model_path(mpath, sizeof mpath, "breast_cancer-xgb.json");
    names f30;
    names_pixels(&f30, 30);
    ck_assert_msg(create(mpath, " malignant , benign", &f30, 30, &info, &inst, err, sizeof err) ==
                      RV_OK,
                  "%s", err);
    ck_assert_uint_eq(info.n_labels, 2);
    ck_assert_str_eq(info.labels[0], "malignant");
    ck_assert_str_eq(info.labels[1], "benign");
    mod->desc->destroy(inst);
    names_free(&f30);
    names_free(&f);
}
END_TEST

static void assert_create_fails(const char *model_file, const char *labels, size_t n_features,
                                const char *needle)
{
    names f;
    names_pixels(&f, 64);
    char err[1024] = "";
    rv_model_info info;
    void *inst = NULL;
    int rc = create(model_file, labels, &f, n_features, &info, &inst, err, sizeof err);
    ck_assert_msg(rc < 0, "create accepted %s", model_file ? model_file : "(no model_file)");
    ck_assert_msg(strstr(err, needle) != NULL, "expected '%s' in: %s", needle, err);
    names_free(&f);
}

START_TEST(missing_model_file_refused)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/nope.json", state_dir);
    assert_create_fails(p, NULL, 30, "No such file or directory");
    assert_create_fails(p, NULL, 30, p);
    assert_create_fails(NULL, NULL, 30, "params.model_file is required");
}
END_TEST

START_TEST(corrupt_model_file_refused)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/x.json", state_dir);
    test_write_file(p, "this is \x01 not {\"learner\": a model at all ]]]\n");
    assert_create_fails(p, NULL, 30, "cannot load model file");
    assert_create_fails(p, NULL, 30, p);
    /* Valid JSON, but not a model. */
    test_write_file(p, "{\"learner\": 42}\n");
    assert_create_fails(p, NULL, 30, "cannot load model file");
    /* Empty file. */
    test_write_file(p, "");
    assert_create_fails(p, NULL, 30, "cannot load model file");
}
END_TEST

START_TEST(feature_count_mismatch_refused)
{
    char mpath[4096];
    model_path(mpath, sizeof mpath, "breast_cancer-xgb.json");
    assert_create_fails(mpath, NULL, 29, "model has 30 features, the config declares 29");
    model_path(mpath, sizeof mpath, "digits-xgb.json");
    assert_create_fails(mpath, NULL, 30, "model has 64 features, the config declares 30");
}
END_TEST

START_TEST(bad_params_refused)
{
    char mpath[4096];
    model_path(mpath, sizeof mpath, "breast_cancer-xgb.json");
    assert_create_fails(mpath, "a,b,c", 30, "params.labels has 3 names, the model has 2");
    assert_create_fails(mpath, "a,", 30, "params.labels: name 2 is empty");

    names f;
    names_pixels(&f, 30);
    char err[1024] = "";
    rv_model_info info;
    void *inst;
    rv_param params[] = {{"model_file", mpath}, {"missing", "0"}};
    rv_create_args args = {.struct_size = sizeof args,
                           .model_name = "xgb",
                           .params = params,
                           .n_params = 2,
                           .feature_names = (const char *const *)f.v,
                           .n_features = 30,
                           .services = &services};
    ck_assert_int_lt(mod->desc->create(&args, &info, &inst, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "params.missing: unknown"), "%s", err);
    params[1] = (rv_param){"nthread", "zero"};
    ck_assert_int_lt(mod->desc->create(&args, &info, &inst, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "params.nthread"), "%s", err);
    params[1] = (rv_param){"nthread", "2"};
    ck_assert_msg(mod->desc->create(&args, &info, &inst, err, sizeof err) == RV_OK, "%s", err);
    mod->desc->destroy(inst);
    names_free(&f);
}
END_TEST

/* n in, n out, for sizes around the scratch buffers' growth; a row with
 * missing features (NaN) still gets answers, and a row the model cannot
 * take fails alone. */
START_TEST(batches_and_missing_values)
{
    names f;
    names_pixels(&f, 30);
    char mpath[4096], err[1024] = "";
    model_path(mpath, sizeof mpath, "breast_cancer-xgb.json");
    rv_model_info info;
    void *inst;
    ck_assert_msg(create(mpath, "malignant,benign", &f, 30, &info, &inst, err, sizeof err) == RV_OK,
                  "%s", err);
    /* Not warmed on purpose: the first score() does the lazy setup. */
    batch *b = calloc(1, sizeof *b);
    static const size_t sizes[] = {1, 2, 17, 64, 65, 300, BATCH * 8, 3};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        batch_reset(b, n, 30, 2);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < 30; j++)
                b->features[i][j] = (i % 3 == 1 && j % 2 == 0) ? NAN : (double)(i + j) / 7.0;
        for (size_t j = 0; j < 30; j++)
            b->features[n - 1][j] = NAN; /* all missing */
        ck_assert_msg(score(inst, b, n, err, sizeof err) == RV_OK, "%s", err);
        for (size_t i = 0; i < n; i++) {
            const rv_result *r = &b->res[i];
            ck_assert_msg(r->status == RV_STATUS_OK, "n=%zu row %zu: %s", n, i, r->error);
            ck_assert_uint_eq(r->n_answers, 2);
            ck_assert_uint_ne(r->answers[0].label, r->answers[1].label);
            ck_assert_double_ge(r->answers[0].score, r->answers[1].score);
            ck_assert_double_eq_tol(r->answers[0].score + r->answers[1].score, 1.0, 1e-6);
            ck_assert(r->answers[1].score >= 0 && r->answers[0].score <= 1);
        }
    }

    /* Each row alone and inside a batch: the same answer (batching does
     * not mix rows up). */
    double rows[5][30];
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 30; j++)
            rows[i][j] = (double)((i * 31 + j * 7) % 13);
    batch_reset(b, 5, 30, 1);
    for (size_t i = 0; i < 5; i++)
        memcpy(b->features[i], rows[i], sizeof rows[i]);
    ck_assert_int_eq(score(inst, b, 5, err, sizeof err), RV_OK);
    rv_answer in_batch[5];
    for (size_t i = 0; i < 5; i++) {
        ck_assert_uint_eq(b->res[i].n_answers, 1); /* max_answers = 1 */
        in_batch[i] = b->answers[i][0];
    }
    for (size_t i = 0; i < 5; i++) {
        batch_reset(b, 1, 30, 1);
        memcpy(b->features[0], rows[i], sizeof rows[i]);
        ck_assert_int_eq(score(inst, b, 1, err, sizeof err), RV_OK);
        ck_assert_uint_eq(b->answers[0][0].label, in_batch[i].label);
        ck_assert_double_eq(b->answers[0][0].score, in_batch[i].score);
    }

    /* One bad row (infinite value; wrong feature count) fails alone. */
    batch_reset(b, 4, 30, 2);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 30; j++)
            b->features[i][j] = 1.0;
    b->features[1][3] = INFINITY;
    b->req[2].n_features = 29;
    ck_assert_int_eq(score(inst, b, 4, err, sizeof err), RV_OK);
    ck_assert_int_eq(b->res[0].status, RV_STATUS_OK);
    ck_assert_int_eq(b->res[1].status, RV_STATUS_ERROR);
    ck_assert_msg(strstr(b->errors[1], "feature 3 is not a finite"), "%s", b->errors[1]);
    ck_assert_int_eq(b->res[2].status, RV_STATUS_ERROR);
    ck_assert_msg(strstr(b->errors[2], "request has 29 features"), "%s", b->errors[2]);
    ck_assert_int_eq(b->res[3].status, RV_STATUS_OK);
    ck_assert_double_eq(b->answers[0][0].score, b->answers[3][0].score);

    free(b);
    mod->desc->destroy(inst);
    names_free(&f);
}
END_TEST

Suite *xgboost_suite(void);
Suite *xgboost_suite(void)
{
    Suite *s = suite_create("xgboost");
    TCase *tc = tcase_create("plugin");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, descriptor_is_not_reentrant);
    tcase_add_test(tc, parity_binary_breast_cancer);
    tcase_add_test(tc, parity_multiclass_digits);
    tcase_add_test(tc, labels_and_default_labels);
    tcase_add_test(tc, missing_model_file_refused);
    tcase_add_test(tc, corrupt_model_file_refused);
    tcase_add_test(tc, feature_count_mismatch_refused);
    tcase_add_test(tc, bad_params_refused);
    tcase_add_test(tc, batches_and_missing_values);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(xgboost_suite());
}
