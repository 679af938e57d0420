/*
 * test_loader.c - the plugin loader against real shared objects: one
 * fixture per ABI contract path, the private content-named copy, builtins,
 * create/warm failures through a real generation build, and overwriting a
 * loaded plugin file in place.
 */
#include <check.h>
#include <math.h>
#include <sys/stat.h>

#include "generation.h"
#include "module.h"
#include "test_helpers.h"
#include "test_env.h"

static char *state_dir;

static void setup(void)
{
    state_dir = test_tmpdir();
}

static void teardown(void)
{
    test_rm_rf(state_dir);
    free(state_dir);
}

static rv_module *load_fixture(const char *name, char *err, size_t err_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.so", RV_FIXTURE_DIR, name);
    return rv_module_load(path, NULL, state_dir, err, err_size);
}

START_TEST(ok_plugin_loads_from_private_copy)
{
    char err[1024] = "";
    rv_module *m = load_fixture("ok", err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    ck_assert_str_eq(m->desc->name, "fixture");
    char expected[4200];
    snprintf(expected, sizeof expected, "%s/plugins/%s.so", state_dir, m->sha256);
    ck_assert_str_eq(m->loaded_path, expected);
    struct stat st;
    ck_assert_int_eq(stat(expected, &st), 0);
    char sha[65];
    ck_assert_int_eq(rv_sha256_file(m->source_path, sha, err, sizeof err), 0);
    ck_assert_str_eq(sha, m->sha256);
    rv_module_unref(m);
}
END_TEST

static void assert_refused(const char *fixture, const char *needle)
{
    char err[1024] = "";
    rv_module *m = load_fixture(fixture, err, sizeof err);
    ck_assert_msg(m == NULL, "%s was accepted", fixture);
    ck_assert_msg(strstr(err, needle) != NULL, "%s: expected '%s' in: %s", fixture, needle, err);
    ck_assert_msg(strstr(err, fixture) != NULL, "error does not name the file: %s", err);
}

START_TEST(bad_magic_refused)
{
    assert_refused("bad_magic", "ABI check failed: magic: plugin has 0x12345678");
}
END_TEST

START_TEST(major_mismatch_refused)
{
    assert_refused("major_mismatch", "ABI check failed: major version: plugin has 2, host has 1");
}
END_TEST

START_TEST(newer_minor_refused)
{
    assert_refused("newer_minor", "ABI check failed: minor version: plugin has 1.99");
}
END_TEST

START_TEST(short_struct_refused)
{
    assert_refused("short_struct", "ABI check failed: struct size: plugin declares 16 bytes");
}
END_TEST

START_TEST(missing_entry_refused)
{
    assert_refused("no_entry", "no entry symbol rv_plugin_entry()");
}
END_TEST

START_TEST(not_a_shared_object_refused)
{
    assert_refused("not_elf", "dlopen failed");
}
END_TEST

START_TEST(missing_file_refused)
{
    assert_refused("does_not_exist", "cannot open");
}
END_TEST

/* The table refuses what the host could not use: a name taken twice, a
 * reference model without the canary monitor's settings, a full table. */
START_TEST(builtin_table_refuses)
{
    rv_builtins t = {0};
    const rv_builtin *canary = rv_builtins_find(rv_test_env()->builtins, "canary");
    ck_assert_ptr_nonnull(canary);
    ck_assert_int_eq(rv_builtins_add(&t, canary), 0);
    ck_assert_int_eq(rv_builtins_add(&t, canary), -1);
    rv_builtin no_settings = {
        .name = "ref", .descriptor = canary->descriptor, .props = RV_BUILTIN_REFERENCE};
    ck_assert_int_eq(rv_builtins_add(&t, &no_settings), -1);
    static char names[RV_BUILTINS_MAX][8];
    static rv_builtin more[RV_BUILTINS_MAX];
    for (size_t i = 0; i < RV_BUILTINS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "b%zu", i);
        more[i] = (rv_builtin){.name = names[i], .descriptor = canary->descriptor};
    }
    for (size_t i = 0; i + 1 < RV_BUILTINS_MAX; i++)
        ck_assert_int_eq(rv_builtins_add(&t, &more[i]), 0);
    ck_assert_int_eq(rv_builtins_add(&t, &more[RV_BUILTINS_MAX - 1]), -1);
    ck_assert_ptr_eq(rv_builtins_find(&t, "b0"), &more[0]);
    ck_assert(rv_builtin_is_path_param(rv_builtins_find(rv_test_env()->builtins, "decoy"), "dir"));
    ck_assert(!rv_builtin_is_path_param(canary, "dir"));
}
END_TEST

START_TEST(builtins_pass_the_same_checks)
{
    char err[512];
    const rv_builtins *t = rv_test_env()->builtins;
    rv_module *c = rv_module_builtin(rv_builtins_find(t, "canary"), err, sizeof err);
    rv_module *d = rv_module_builtin(rv_builtins_find(t, "decoy"), err, sizeof err);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_null(rv_builtins_find(t, "oracle"));
    char names[64];
    rv_builtins_join(t, names, sizeof names);
    ck_assert_str_eq(names, "canary, decoy");
    rv_module_unref(c);
    rv_module_unref(d);
}
END_TEST

/* Scores one request on an instance and returns label index 2's name,
 * which the fixture sets to the tag of the code that runs. */
static const char *score_tag(const rv_plugin *p, void *inst, const rv_model_info *info)
{
    double x = 1.0;
    rv_request req = {.id = "r1",
                      .body = (const uint8_t *)"{}",
                      .body_len = 2,
                      .features = &x,
                      .n_features = 1,
                      .offset = -1};
    rv_answer answers[4];
    char errbuf[128] = "";
    rv_result res = {RV_STATUS_ERROR, 0, 4, answers, errbuf, sizeof errbuf};
    const rv_request *reqs[1] = {&req};
    rv_result *results[1] = {&res};
    char err[256];
    ck_assert_int_eq(p->score(inst, reqs, results, 1, err, sizeof err), RV_OK);
    ck_assert_int_eq(res.status, RV_STATUS_OK);
    ck_assert_uint_eq(res.n_answers, 3);
    return info->labels[2];
}

START_TEST(overwritten_plugin_file_loads_new_code_and_old_keeps_working)
{
    char path[4200], err[1024] = "", src_a[4096], src_b[4096];
    snprintf(path, sizeof path, "%s/model.so", state_dir);
    snprintf(src_a, sizeof src_a, "%s/ok.so", RV_FIXTURE_DIR);
    snprintf(src_b, sizeof src_b, "%s/ok_b.so", RV_FIXTURE_DIR);
    const char *feat[] = {"x"};
    rv_create_args args = {
        .struct_size = sizeof args, .model_name = "m", .feature_names = feat, .n_features = 1};

    ck_assert_int_eq(test_copy_file(src_a, path), 0);
    rv_module *a = rv_module_load(path, NULL, state_dir, err, sizeof err);
    ck_assert_msg(a != NULL, "%s", err);
    rv_model_info info_a;
    void *inst_a;
    ck_assert_int_eq(a->desc->create(&args, &info_a, &inst_a, err, sizeof err), RV_OK);
    ck_assert_str_eq(score_tag(a->desc, inst_a, &info_a), "fixture-a");

    /* Rewrite the same path with other code, as `cp new.so model.so` does. */
    ck_assert_int_eq(test_copy_file(src_b, path), 0);
    rv_module *b = rv_module_load(path, NULL, state_dir, err, sizeof err);
    ck_assert_msg(b != NULL, "%s", err);
    ck_assert_str_ne(a->sha256, b->sha256);
    /* Pinned to a's digest, the file (b's code now) is refused with both. */
    ck_assert_ptr_null(rv_module_load(path, a->sha256, state_dir, err, sizeof err));
    ck_assert_msg(strstr(err, "refused") && strstr(err, a->sha256) && strstr(err, b->sha256), "%s",
                  err);
    rv_module *pinned = rv_module_load(path, b->sha256, state_dir, err, sizeof err);
    ck_assert_msg(pinned != NULL, "%s", err);
    rv_module_unref(pinned);
    rv_model_info info_b;
    void *inst_b;
    ck_assert_int_eq(b->desc->create(&args, &info_b, &inst_b, err, sizeof err), RV_OK);
    ck_assert_str_eq(score_tag(b->desc, inst_b, &info_b), "fixture-b");

    /* The old instance still runs the old code. */
    ck_assert_str_eq(score_tag(a->desc, inst_a, &info_a), "fixture-a");
    a->desc->destroy(inst_a);
    rv_module_unref(a);
    ck_assert_str_eq(score_tag(b->desc, inst_b, &info_b), "fixture-b");
    b->desc->destroy(inst_b);
    rv_module_unref(b);
}
END_TEST

/* Builds a generation from a one-model config with the given params. */
static rv_generation *build_with_params(const char *params, const rv_generation *previous,
                                        rv_errors *errs)
{
    char conf[4200], text[8192];
    snprintf(conf, sizeof conf, "%s/service.yaml", state_dir);
    snprintf(text, sizeof text,
             "service: t\n"
             "state_dir: %s\n"
             "streams: {brokers: embedded}\n"
             "input: {features: [x]}\n"
             "models:\n"
             "  - name: m\n"
             "    plugin: %s/ok.so\n"
             "    instances: 2\n"
             "    params: {%s}\n"
             "rendezvous:\n"
             "  schedule: [{model: m, within_ms: 10}]\n",
             state_dir, RV_FIXTURE_DIR, params);
    test_write_file(conf, text);
    rv_config *cfg = rv_config_load(conf, rv_test_env(), errs);
    ck_assert_msg(cfg != NULL, "%s", errs->n ? errs->lines[0] : "?");
    return rv_generation_build(cfg, previous, NULL, 1, errs);
}

START_TEST(create_failure_is_reported_with_file_and_line)
{
    rv_errors errs = {0};
    rv_generation *g = build_with_params("fail_create: 'true'", NULL, &errs);
    ck_assert_ptr_null(g);
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_msg(strstr(errs.lines[0], "service.yaml:6: models[0] (m): create failed") &&
                      strstr(errs.lines[0], "fail_create: true"),
                  "%s", errs.lines[0]);
    rv_errors_clear(&errs);
}
END_TEST

START_TEST(warm_failure_is_reported)
{
    rv_errors errs = {0};
    rv_generation *g = build_with_params("fail_warm: 'true'", NULL, &errs);
    ck_assert_ptr_null(g);
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_msg(strstr(errs.lines[0], "warm failed") && strstr(errs.lines[0], "fail_warm: true"),
                  "%s", errs.lines[0]);
    rv_errors_clear(&errs);
}
END_TEST

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, c;
    if (!f)
        return 0;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

START_TEST(generation_builds_instances_and_reuses_unchanged_models)
{
    rv_errors errs = {0};
    char params[4200], log[4200];
    snprintf(log, sizeof log, "%s/creates.log", state_dir);
    snprintf(params, sizeof params, "create_log_dir: %s", state_dir);
    rv_generation *g1 = build_with_params(params, NULL, &errs);
    ck_assert_msg(g1 != NULL, "%s", errs.n ? errs.lines[0] : "?");
    ck_assert_uint_eq(g1->models[0]->n_created, 2);
    ck_assert_str_eq(g1->models[0]->labels[2], "fixture-a");
    ck_assert_uint_eq(strlen(g1->models[0]->version), 8);
    ck_assert_int_eq(count_lines(log), 2);

    /* Same config again, beside g1: the model is shared, nothing created. */
    rv_generation *g2 = build_with_params(params, g1, &errs);
    ck_assert_ptr_nonnull(g2);
    ck_assert_ptr_eq(g2->models[0], g1->models[0]);
    ck_assert_uint_eq(g2->n_reused, 1);
    ck_assert_int_eq(count_lines(log), 2);

    /* A changed param builds a new model with another version. */
    char params2[4300];
    snprintf(params2, sizeof params2, "%s, shift: '0.1'", params);
    rv_generation *g3 = build_with_params(params2, g2, &errs);
    ck_assert_ptr_nonnull(g3);
    ck_assert_ptr_ne(g3->models[0], g2->models[0]);
    ck_assert_str_ne(g3->models[0]->version, g2->models[0]->version);
    ck_assert_int_eq(count_lines(log), 4);
    rv_generation_unref(g1);
    rv_generation_unref(g2);
    rv_generation_unref(g3);
    ck_assert_uint_eq(errs.n, 0);
}
END_TEST

Suite *loader_suite(void);
Suite *loader_suite(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("abi");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ok_plugin_loads_from_private_copy);
    tcase_add_test(tc, bad_magic_refused);
    tcase_add_test(tc, major_mismatch_refused);
    tcase_add_test(tc, newer_minor_refused);
    tcase_add_test(tc, short_struct_refused);
    tcase_add_test(tc, missing_entry_refused);
    tcase_add_test(tc, not_a_shared_object_refused);
    tcase_add_test(tc, missing_file_refused);
    tcase_add_test(tc, builtins_pass_the_same_checks);
    tcase_add_test(tc, builtin_table_refuses);
    tcase_add_test(tc, overwritten_plugin_file_loads_new_code_and_old_keeps_working);
    tcase_add_test(tc, create_failure_is_reported_with_file_and_line);
    tcase_add_test(tc, warm_failure_is_reported);
    tcase_add_test(tc, generation_builds_instances_and_reuses_unchanged_models);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(loader_suite());
}
