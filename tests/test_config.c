/*
 * test_config.c - the config loader: a full round trip, the defaults, the
 * configs of config_cases.h refused one by one, and the mistakes that need
 * more than a text (files, paths, the error list), each pinned to its exact
 * file:line:column and key path, because a message that points at the
 * wrong place costs the user more than no message.
 */
#include "config.h"
#include "config_cases.h"

#include <check.h>

#include "test_helpers.h"
#include "test_env.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef RV_SOURCE_DIR
#error "RV_SOURCE_DIR must name the source tree"
#endif

#define CONFIGS RV_SOURCE_DIR "/tests/configs"

/* Per-test state; each test runs in its own forked process. */
static char tmpdir[PATH_MAX];
static char cfg_path[PATH_MAX + 16];
static rv_errors errs;

static void setup(void)
{
    char *d = test_tmpdir();
    snprintf(tmpdir, sizeof tmpdir, "%s", d);
    free(d);
    snprintf(cfg_path, sizeof cfg_path, "%s/c.yaml", tmpdir);
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/p.so", tmpdir);
    test_write_file(p, "");
    snprintf(p, sizeof p, "%s/w.json", tmpdir);
    test_write_file(p, "{}");
    memset(&errs, 0, sizeof errs);
}

static void teardown(void)
{
    rv_errors_clear(&errs);
    test_rm_rf(tmpdir);
}

static rv_config *load_text(const char *yaml)
{
    test_write_file(cfg_path, yaml);
    return rv_config_load(cfg_path, rv_test_env(), &errs);
}

static void dump_errors(void)
{
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  | %s\n", errs.lines[i]);
}

/* Asserts a line "FILE:LINE:COL: KPATH: ..." containing `reason`. */
static void expect_error_in(const char *file, int line, int col, const char *kpath,
                            const char *reason)
{
    char prefix[PATH_MAX + 600];
    snprintf(prefix, sizeof prefix, "%s:%d:%d: %s: ", file, line, col, kpath);
    for (size_t i = 0; i < errs.n; i++) {
        if (!strncmp(errs.lines[i], prefix, strlen(prefix)) &&
            (!reason || strstr(errs.lines[i] + strlen(prefix), reason)))
            return;
    }
    dump_errors();
    ck_abort_msg("no error line starting '%s' and containing '%s' among %zu", prefix,
                 reason ? reason : "", errs.n);
}

static void expect_error(int line, int col, const char *kpath, const char *reason)
{
    expect_error_in(cfg_path, line, col, kpath, reason);
}

static void expect_n_errors(size_t n)
{
    if (errs.n != n)
        dump_errors();
    ck_assert_uint_eq(errs.n, n);
}

static void expect_fails(const char *yaml, size_t n_errors)
{
    rv_config *c = load_text(yaml);
    if (c)
        rv_config_free(c);
    ck_assert_ptr_null(c);
    expect_n_errors(n_errors);
}

/* ------------------------------------------------------------ valid files */

START_TEST(valid_round_trip)
{
    rv_config *c = rv_config_load(CONFIGS "/valid.yaml", rv_test_env(), &errs);
    if (!c)
        dump_errors();
    ck_assert_ptr_nonnull(c);
    expect_n_errors(0);

    char dir[PATH_MAX], want[PATH_MAX + 64];
    ck_assert_ptr_nonnull(realpath(CONFIGS, dir));
    ck_assert_str_eq(c->path, CONFIGS "/valid.yaml");
    ck_assert_str_eq(c->dir, dir);
    ck_assert_str_eq(c->service, "fraud");
    snprintf(want, sizeof want, "%s/var/state", dir);
    ck_assert_str_eq(c->state_dir, want);
    ck_assert(c->watch);

    ck_assert_str_eq(c->streams.brokers, "kafka1:9092,kafka2:9092");
    ck_assert_str_eq(c->streams.requests, "in.requests");
    ck_assert_str_eq(c->streams.scores, "out.scores");
    ck_assert_str_eq(c->streams.results, "out.results");
    ck_assert_str_eq(c->streams.archive, "out.archive");
    ck_assert_str_eq(c->streams.alerts, "out.alerts");
    ck_assert_str_eq(c->streams.dead_letter, "out.dlq");
    ck_assert_str_eq(c->streams.control, "ctl");
    ck_assert_str_eq(c->streams.group, "fraud-group");
    ck_assert_uint_eq(c->streams.partitions, 8);
    ck_assert_uint_eq(c->streams.n_kafka, 2);
    ck_assert_str_eq(c->streams.kafka[0].key, "security.protocol");
    ck_assert_str_eq(c->streams.kafka[0].value, "SASL_SSL");
    ck_assert_str_eq(c->streams.kafka[1].key, "linger.ms");
    ck_assert_str_eq(c->streams.kafka[1].value, "5");

    ck_assert_str_eq(c->input.format, "json");
    ck_assert_uint_eq(c->input.n_features, 3);
    ck_assert_str_eq(c->input.features[0], "amount");
    ck_assert_str_eq(c->input.features[1], "hour");
    ck_assert_str_eq(c->input.features[2], "merchant_risk");
    ck_assert_uint_eq(c->input.max_body_bytes, 4096);

    ck_assert_uint_eq(c->n_models, 4);
    const rv_model_conf *m = &c->models[0];
    ck_assert_str_eq(m->name, "gbdt-v7");
    snprintf(want, sizeof want, "%s/data/fake_plugin", dir);
    ck_assert_str_eq(m->plugin, want);
    ck_assert_ptr_null(m->builtin);
    ck_assert_uint_eq(m->n_params, 4);
    ck_assert_str_eq(m->params[0].key, "model_file");
    snprintf(want, sizeof want, "%s/data/weights.json", dir);
    ck_assert_str_eq(m->params[0].value, want);
    ck_assert_str_eq(m->params[1].key, "depth");
    ck_assert_str_eq(m->params[1].value, "6");
    ck_assert_str_eq(m->params[2].key, "ratio");
    ck_assert_str_eq(m->params[2].value, "0.50"); /* as written, not reformatted */
    ck_assert_str_eq(m->params[3].key, "missing");
    ck_assert_str_eq(m->params[3].value, "data/nope.json"); /* no such file: as written */
    ck_assert_uint_eq(m->instances, 2);
    ck_assert_uint_eq(m->max_batch, 64);
    ck_assert_uint_eq(m->queue_size, 100);
    ck_assert_int_eq(m->line, 23);

    m = &c->models[1];
    ck_assert_str_eq(m->name, "logreg-v3");
    snprintf(want, sizeof want, "%s/data/fake_plugin", dir); /* "./data//" cleaned */
    ck_assert_str_eq(m->plugin, want);
    ck_assert_uint_eq(m->n_params, 1);
    ck_assert_str_eq(m->params[0].key, "weights");
    snprintf(want, sizeof want, "%s/data/weights.json", dir);
    ck_assert_str_eq(m->params[0].value, want);
    ck_assert_uint_eq(m->instances, 1);
    ck_assert_uint_eq(m->max_batch, 32);
    ck_assert_uint_eq(m->queue_size, 1024);
    ck_assert_int_eq(m->line, 29);

    m = &c->models[2];
    ck_assert_str_eq(m->name, "canary");
    ck_assert_ptr_null(m->plugin);
    ck_assert_str_eq(m->builtin, "canary");
    ck_assert_uint_eq(m->n_params, 0);
    ck_assert_int_eq(m->line, 33);

    m = &c->models[3];
    ck_assert_str_eq(m->name, "decoy");
    ck_assert_str_eq(m->builtin, "decoy");
    ck_assert_uint_eq(m->n_params, 1);
    ck_assert_str_eq(m->params[0].value, "data/"); /* a directory is not a file */
    ck_assert_int_eq(m->line, 34);

    ck_assert_uint_eq(c->rendezvous.n_schedule, 2);
    ck_assert_str_eq(c->rendezvous.schedule[0].model, "gbdt-v7");
    ck_assert_uint_eq(c->rendezvous.schedule[0].within_ms, 20);
    ck_assert_str_eq(c->rendezvous.schedule[1].model, "logreg-v3");
    ck_assert_uint_eq(c->rendezvous.schedule[1].within_ms, 40);
    ck_assert(c->rendezvous.has_default);
    ck_assert_str_eq(c->rendezvous.default_label, "review");
    ck_assert_double_eq(c->rendezvous.default_score, 0.5);
    ck_assert_uint_eq(c->rendezvous.max_in_flight, 500);
    ck_assert_uint_eq(c->reload.warmup_requests, 50);
    ck_assert_uint_eq(c->reload.warmup_budget_ms, 2500);
    ck_assert_str_eq(c->http.listen, "127.0.0.1:8080");

    ck_assert_ptr_eq(rv_config_model(c, "decoy"), &c->models[3]);
    ck_assert_ptr_eq(rv_config_model(c, "gbdt-v7"), &c->models[0]);
    ck_assert_ptr_null(rv_config_model(c, "gbdt"));
    rv_config_free(c);
}
END_TEST

START_TEST(minimal_defaults)
{
    rv_config *c = rv_config_load(CONFIGS "/minimal.yaml", rv_test_env(), &errs);
    if (!c)
        dump_errors();
    ck_assert_ptr_nonnull(c);
    char dir[PATH_MAX], want[PATH_MAX + 64];
    ck_assert_ptr_nonnull(realpath(CONFIGS, dir));
    snprintf(want, sizeof want, "%s/state", dir);
    ck_assert_str_eq(c->state_dir, want);
    ck_assert(!c->watch);
    ck_assert_str_eq(c->streams.brokers, "embedded");
    ck_assert_str_eq(c->streams.requests, "mini.requests");
    ck_assert_str_eq(c->streams.scores, "mini.scores");
    ck_assert_str_eq(c->streams.results, "mini.results");
    ck_assert_str_eq(c->streams.archive, "mini.archive");
    ck_assert_str_eq(c->streams.alerts, "mini.alerts");
    ck_assert_str_eq(c->streams.dead_letter, "mini.dead-letter");
    ck_assert_str_eq(c->streams.control, "mini.control");
    ck_assert_str_eq(c->streams.group, "mini-rendezvous");
    ck_assert_uint_eq(c->streams.partitions, 4);
    ck_assert_uint_eq(c->streams.n_kafka, 0);
    ck_assert_str_eq(c->input.format, "json");
    ck_assert_uint_eq(c->input.n_features, 1);
    ck_assert_uint_eq(c->input.max_body_bytes, 65536);
    ck_assert_uint_eq(c->n_models, 1);
    ck_assert_uint_eq(c->models[0].instances, 1);
    ck_assert_uint_eq(c->models[0].max_batch, 32);
    ck_assert_uint_eq(c->models[0].queue_size, 1024);
    ck_assert_uint_eq(c->models[0].n_params, 0);
    ck_assert_ptr_null(c->models[0].params);
    ck_assert_uint_eq(c->rendezvous.n_schedule, 1);
    ck_assert_uint_eq(c->rendezvous.schedule[0].within_ms, 0);
    ck_assert(!c->rendezvous.has_default);
    ck_assert_ptr_null(c->rendezvous.default_label);
    ck_assert_uint_eq(c->rendezvous.max_in_flight, 10000);
    ck_assert_uint_eq(c->reload.warmup_requests, 200);
    ck_assert_uint_eq(c->reload.warmup_budget_ms, 10000);
    ck_assert_uint_eq(c->archive.max_mb, 10240); /* the decoy's files are bounded */
    ck_assert_uint_eq(c->archive.max_age_s, 604800);
    ck_assert_ptr_null(c->http.listen);
    rv_config_free(c);
}
END_TEST

START_TEST(params_resolve_existing_files)
{
    char abs_w[PATH_MAX + 16], yaml[4 * PATH_MAX];
    snprintf(abs_w, sizeof abs_w, "%s/w.json", tmpdir);
    snprintf(yaml, sizeof yaml,
             "service: s\n" BASE_STREAMS_TO_MODELS "models:\n"
             "  - name: m\n"
             "    plugin: %s/p.so\n" /* absolute plugin path */
             "    params:\n"
             "      rel: w.json\n"
             "      abs: %s\n"
             "      dotted: ./w.json\n"
             "      dir: .\n"
             "      none: nothing.json\n"
             "      empty: ''\n"
             "      quoted: \"42\"\n"
             "rendezvous:\n"
             "  schedule: [{model: m, within_ms: 1}]\n",
             tmpdir, abs_w);
    rv_config *c = load_text(yaml);
    if (!c)
        dump_errors();
    ck_assert_ptr_nonnull(c);
    char real[PATH_MAX], want[PATH_MAX + 16];
    ck_assert_ptr_nonnull(realpath(tmpdir, real));
    snprintf(want, sizeof want, "%s/w.json", real);
    const rv_model_conf *m = rv_config_model(c, "m");
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->n_params, 7);
    ck_assert_str_eq(m->params[0].value, want);
    ck_assert_str_eq(m->params[1].value, abs_w);
    ck_assert_str_eq(m->params[2].value, want);
    ck_assert_str_eq(m->params[3].value, ".");
    ck_assert_str_eq(m->params[4].value, "nothing.json");
    ck_assert_str_eq(m->params[5].value, "");
    ck_assert_str_eq(m->params[6].value, "42");
    snprintf(want, sizeof want, "%s/p.so", tmpdir);
    ck_assert_str_eq(m->plugin, want);
    rv_config_free(c);
}
END_TEST

/* ------------------------------------------------------------ error classes */

/* ------------------------------------------------------------ refused files */

/* Each of config_cases.h's configs: refused, with its errors where it says. */
START_TEST(bad_config)
{
    const struct bad_config *b = &bad_configs[_i];
    fprintf(stderr, "bad config: %s\n", b->name);
    expect_fails(b->yaml, b->n_errors);
    for (size_t e = 0; e < 16 && b->errors[e].kpath; e++)
        expect_error(b->errors[e].line, b->errors[e].col, b->errors[e].kpath, b->errors[e].reason);
}
END_TEST

/* A remote model needs its labels and may not be a builtin; labels are for
 * remote models only; a valid one loads with its labels. */
START_TEST(remote_models)
{
    expect_fails("service: s\n" BASE_STREAMS_TO_MODELS "models:\n"
                 "  - { name: r, remote: true }\n"
                 "  - { name: c, builtin: canary, remote: true, labels: [a] }\n"
                 "  - { name: d, builtin: decoy, labels: [a] }\n"
                 "  - { name: e, remote: true, labels: [x, x] }\n"
                 "rendezvous:\n"
                 "  schedule: [{ model: r, within_ms: 5 }]\n",
                 4);
    expect_error(7, 5, "models[0]", "missing required key: labels");
    expect_error(8, 16, "models[1]", "cannot be remote");
    expect_error(9, 32, "models[2]", "labels are only for a remote model");
    expect_error(10, 42, "models[3].labels[1]", "duplicate label 'x'");
    rv_errors_clear(&errs);
    rv_config *c = load_text("service: s\n" BASE_STREAMS_TO_MODELS "models:\n"
                             "  - { name: r, remote: true, labels: [no, yes] }\n"
                             "rendezvous:\n"
                             "  schedule: [{ model: r, within_ms: 5 }]\n");
    if (!c)
        dump_errors();
    ck_assert_ptr_nonnull(c);
    ck_assert(c->models[0].remote);
    ck_assert_uint_eq(c->models[0].n_labels, 2);
    ck_assert_str_eq(c->models[0].labels[1], "yes");
    ck_assert_ptr_null(c->models[0].plugin);
    rv_config_free(c);
}
END_TEST

/* A secret in a file: the file must be there at load (an error at its
 * line otherwise), and its path is kept absolute, never its content. */
START_TEST(kafka_secret_files)
{
    const char *tail = "input:\n"
                       "  features: [a]\n"
                       "models:\n"
                       "  - { name: m, plugin: p.so }\n"
                       "rendezvous:\n"
                       "  schedule: [{ model: m, within_ms: 5 }]\n";
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "service: s\nstreams:\n  brokers: embedded\n"
             "  kafka_files: { sasl.password: missing.pass }\n%s",
             tail);
    expect_fails(yaml, 1);
    expect_error(4, 33, "streams.kafka_files.sasl.password", "cannot read the file 'missing.pass'");
    rv_errors_clear(&errs);
    char pass[PATH_MAX + 16];
    snprintf(pass, sizeof pass, "%s/kafka.pass", tmpdir);
    test_write_file(pass, "s3cret\n");
    snprintf(yaml, sizeof yaml,
             "service: s\nstreams:\n  brokers: embedded\n"
             "  kafka_files: { sasl.password: kafka.pass }\n%s",
             tail);
    rv_config *c = load_text(yaml);
    if (!c)
        dump_errors();
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->streams.n_kafka_files, 1);
    ck_assert_str_eq(c->streams.kafka_files[0].key, "sasl.password");
    ck_assert_str_eq(c->streams.kafka_files[0].value, pass);
    rv_config_free(c);
}
END_TEST

/* A control key shorter than 16 bytes is refused; a TLS key file of any
 * size is the TLS library's to judge. */
START_TEST(a_secret_needs_sixteen_bytes)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/short.key", tmpdir);
    test_write_file(path, "0123456789\n");
    const char *yaml =
        "service: s\nstreams: {brokers: embedded}\ninput: {features: [a]}\n"
        "models: [{name: m, plugin: p.so}]\n"
        "rendezvous: {schedule: [{model: m, within_ms: 5}]}\n"
        "http: {listen: \"127.0.0.1:1\", cert_file: short.key, key_file: short.key}\n"
        "control: {key_file: short.key}\n";
    expect_fails(yaml, 1);
    expect_error(7, 21, "control.key_file", "a key needs at least 16");
}
END_TEST

START_TEST(plugin_not_found_names_resolved_path)
{
    char want[PATH_MAX + 100], real[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(tmpdir, real));
    expect_fails("service: s\n" BASE_STREAMS_TO_MODELS "models:\n"
                 "  - name: m\n"
                 "    plugin: plugins/nope.so\n"
                 "  - name: d\n"
                 "    plugin: .\n"
                 "rendezvous:\n"
                 "  schedule: [{model: m, within_ms: 1}]\n",
                 2);
    snprintf(want, sizeof want,
             "plugin 'plugins/nope.so' not found (resolved to %s/plugins/nope.so): "
             "No such file or directory",
             real);
    expect_error(8, 13, "models[0].plugin", want);
    snprintf(want, sizeof want, "(resolved to %s) is not a regular file", real);
    expect_error(10, 13, "models[1].plugin", want);
}
END_TEST

START_TEST(default_without_label_or_bad_score)
{
    expect_fails("service: s\n" BASE_STREAMS_TO_MODELS "models: [{ name: m, plugin: p.so }]\n"
                 "rendezvous:\n"
                 "  schedule: [{model: m, within_ms: 1}]\n"
                 "  default: { score: 0.5 }\n",
                 1);
    expect_error(9, 12, "rendezvous.default.label", "missing required key");
    rv_errors_clear(&errs);

    expect_fails("service: s\n" BASE_STREAMS_TO_MODELS "models: [{ name: m, plugin: p.so }]\n"
                 "rendezvous:\n"
                 "  schedule: [{model: m, within_ms: 1}]\n"
                 "  default:\n"
                 "    label: review\n"
                 "    score: high\n",
                 1);
    expect_error(11, 12, "rendezvous.default.score", "expected a number, got 'high'");
    rv_errors_clear(&errs);

    expect_fails("service: s\n" BASE_STREAMS_TO_MODELS "models: [{ name: m, plugin: p.so }]\n"
                 "rendezvous:\n"
                 "  schedule: [{model: m, within_ms: 1}]\n"
                 "  default: { label: [x], score: .nan }\n",
                 2);
    expect_error(9, 21, "rendezvous.default.label", "expected a string, got a sequence");
    expect_error(9, 33, "rendezvous.default.score", "expected a number, got '.nan'");
}
END_TEST

START_TEST(yaml_syntax_error)
{
    expect_fails("service: s\n"
                 "streams:\n"
                 "  brokers: embedded\n"
                 "   bad: indent\n",
                 1);
    expect_error(4, 7, "(yaml)", "mapping values are not allowed in this context");
    rv_errors_clear(&errs);

    expect_fails("service: [a, b\n"
                 "streams: x\n",
                 1);
    /* libyaml stops where the flow sequence cannot go on, and says where it began. */
    expect_error(2, 8, "(yaml)",
                 "did not find expected ',' or ']' while parsing a flow sequence (line 1, "
                 "column 10)");
}
END_TEST

START_TEST(empty_root_and_extra_document)
{
    expect_fails("# only a comment\n", 1);
    expect_error(1, 1, "(root)", "the file is empty");
    rv_errors_clear(&errs);

    expect_fails("- a\n- b\n", 1);
    expect_error(1, 1, "(root)", "expected a mapping at the top of the file, got a sequence");
    rv_errors_clear(&errs);

    expect_fails("service: s\n" BASE_STREAMS_TO_MODELS "models: [{ name: m, plugin: p.so }]\n"
                 "rendezvous: { schedule: [{model: m, within_ms: 1}] }\n"
                 "---\n"
                 "service: t\n",
                 1);
    expect_error(9, 1, "(yaml)", "a second YAML document");
}
END_TEST

START_TEST(five_mistakes_all_reported_in_file_order)
{
    const char *file = CONFIGS "/five_mistakes.yaml";
    rv_config *c = rv_config_load(file, rv_test_env(), &errs);
    ck_assert_ptr_null(c);
    expect_n_errors(5);
    expect_error_in(file, 5, 3, "streams.partitons", "unknown key 'partitons'");
    expect_error_in(file, 7, 28, "input.features[2]", "duplicate feature 'amount'");
    expect_error_in(file, 10, 13, "models[0].plugin", "not found");
    expect_error_in(file, 11, 16, "models[0].instances", "expected a positive integer, got 'two'");
    expect_error_in(file, 17, 16, "rendezvous.schedule[1].model", "no model named 'svm'");
    /* In file order, which is the order a user fixes them in. */
    ck_assert_ptr_nonnull(strstr(errs.lines[0], "streams.partitons"));
    ck_assert_ptr_nonnull(strstr(errs.lines[1], "input.features[2]"));
    ck_assert_ptr_nonnull(strstr(errs.lines[2], "models[0].plugin"));
    ck_assert_ptr_nonnull(strstr(errs.lines[3], "models[0].instances"));
    ck_assert_ptr_nonnull(strstr(errs.lines[4], "rendezvous.schedule[1].model"));
}
END_TEST

START_TEST(missing_file)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/absent.yaml", tmpdir);
    rv_config *c = rv_config_load(path, rv_test_env(), &errs);
    ck_assert_ptr_null(c);
    expect_n_errors(1);
    char want[PATH_MAX + 100];
    snprintf(want, sizeof want, "%s: cannot open config file: No such file or directory", path);
    ck_assert_str_eq(errs.lines[0], want);
}
END_TEST

START_TEST(directory_instead_of_file)
{
    rv_config *c = rv_config_load(tmpdir, rv_test_env(), &errs);
    ck_assert_ptr_null(c);
    expect_n_errors(1);
    char want[PATH_MAX + 100];
    snprintf(want, sizeof want, "%s: cannot read config file: Is a directory", tmpdir);
    ck_assert_str_eq(errs.lines[0], want);
}
END_TEST

START_TEST(errors_append_to_caller_list)
{
    rv_errors_add(&errs, "first %d", 1);
    rv_config *c =
        rv_config_load(RV_SOURCE_DIR "/tests/configs/does-not-exist.yaml", rv_test_env(), &errs);
    ck_assert_ptr_null(c);
    ck_assert_uint_eq(errs.n, 2);
    ck_assert_str_eq(errs.lines[0], "first 1");
    rv_errors_clear(&errs);
    ck_assert_uint_eq(errs.n, 0);
    ck_assert_ptr_null(errs.lines);
    rv_errors_clear(&errs); /* twice is harmless */

    /* A successful load adds nothing. */
    c = rv_config_load(CONFIGS "/minimal.yaml", rv_test_env(), &errs);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(errs.n, 0);
    rv_config_free(c);
    rv_config_free(NULL);
    ck_assert_ptr_null(rv_config_model(NULL, "m"));
}
END_TEST

START_TEST(relative_config_path_resolves_against_its_dir)
{
    ck_assert_int_eq(chdir(RV_SOURCE_DIR "/tests"), 0);
    rv_config *c = rv_config_load("configs/valid.yaml", rv_test_env(), &errs);
    if (!c)
        dump_errors();
    ck_assert_ptr_nonnull(c);
    char dir[PATH_MAX], want[PATH_MAX + 64];
    ck_assert_ptr_nonnull(realpath(CONFIGS, dir));
    ck_assert_str_eq(c->path, "configs/valid.yaml");
    ck_assert_str_eq(c->dir, dir);
    snprintf(want, sizeof want, "%s/data/fake_plugin", dir);
    ck_assert_str_eq(c->models[0].plugin, want);
    rv_config_free(c);
}
END_TEST

/* ${NAME} from the environment, in any scalar, typed as the text it
 * becomes; $${ is a literal ${; an unset or malformed name is refused
 * where it is written. */
START_TEST(environment_variables)
{
    setenv("RV_TEST_POD", "host-7", 1);
    setenv("RV_TEST_PARTITIONS", "12", 1);
    rv_config *c = load_text("service: mini\n"
                             "streams:\n"
                             "  brokers: embedded\n"
                             "  partitions: ${RV_TEST_PARTITIONS}\n"
                             "  kafka: {group.instance.id: \"${RV_TEST_POD}\", client.id: "
                             "\"a-$${x}-${RV_TEST_POD}\"}\n"
                             "input: {features: [x]}\n"
                             "models: [{name: m, builtin: canary}]\n"
                             "rendezvous: {schedule: [{model: m, within_ms: 0}]}\n");
    if (!c)
        dump_errors();
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->streams.partitions, 12);
    ck_assert_uint_eq(c->streams.n_kafka, 2);
    ck_assert_str_eq(c->streams.kafka[0].value, "host-7");
    ck_assert_str_eq(c->streams.kafka[1].value, "a-${x}-host-7");
    rv_config_free(c);
    unsetenv("RV_TEST_UNSET");
    expect_fails("service: ${RV_TEST_UNSET}\n"
                 "streams: {brokers: embedded}\n"
                 "input: {features: [\"${1X}\", \"${}\", \"${A\"]}\n"
                 "models: [{name: m, builtin: canary}]\n"
                 "rendezvous: {schedule: [{model: m, within_ms: 0}]}\n",
                 5); /* and the service name as written is not one */
    expect_error(1, 10, "(environment)", "RV_TEST_UNSET is not set in the environment");
    expect_error(3, 20, "(environment)", "write $${ for a literal ${");
    expect_error(3, 29, "(environment)", "write $${ for a literal ${");
    expect_error(3, 36, "(environment)", "write $${ for a literal ${");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, bad_config, 0, (int)(sizeof bad_configs / sizeof *bad_configs));
    tcase_add_test(tc, valid_round_trip);
    tcase_add_test(tc, minimal_defaults);
    tcase_add_test(tc, params_resolve_existing_files);
    tcase_add_test(tc, plugin_not_found_names_resolved_path);
    tcase_add_test(tc, default_without_label_or_bad_score);
    tcase_add_test(tc, yaml_syntax_error);
    tcase_add_test(tc, empty_root_and_extra_document);
    tcase_add_test(tc, five_mistakes_all_reported_in_file_order);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, directory_instead_of_file);
    tcase_add_test(tc, errors_append_to_caller_list);
    tcase_add_test(tc, relative_config_path_resolves_against_its_dir);
    tcase_add_test(tc, remote_models);
    tcase_add_test(tc, kafka_secret_files);
    tcase_add_test(tc, a_secret_needs_sixteen_bytes);
    tcase_add_test(tc, environment_variables);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(config_suite());
}
