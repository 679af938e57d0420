/*
 * test_reload.c - the reloader against a pipeline without a broker: the
 * serving generation is built and started as the daemon does (its workers
 * run, but no request is ever dispatched, so nothing is produced and the
 * pipeline's output and rendezvous can stay NULL). Every failure - bad
 * YAML, a missing file, a model whose create or warm fails, a warm-up on
 * recent traffic that scores an error or takes too long - must leave the
 * serving generation as it was and say file:line and why; a good change
 * builds a new generation that shares the models that did not change.
 */
#include <check.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_cmd.h"
#include "errbuf.h"
#include "generation.h"
#include "reload.h"
#include "scoring.h"
#include "test_helpers.h"
#include "test_env.h"

static char *tmpdir;
static char cfg_path[4200];
static rv_pipeline pipe_;
static rv_generation *cur;
static rv_reloader *rl;

/* Writes the config: model a, then `extra` (lines of further models, each
 * starting at line 7), and the reload section. */
static void write_cfg(const char *extra, const char *reload)
{
    FILE *f = fopen(cfg_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "service: rl\n"                       /* 1 */
            "state_dir: state\n"                  /* 2 */
            "streams: { brokers: embedded }\n"    /* 3 */
            "input: { features: [x] }\n"          /* 4 */
            "models:\n"                           /* 5 */
            "  - { name: a, plugin: %s/ok.so }\n" /* 6 */
            "%s"                                  /* 7... */
            "rendezvous:\n"
            "  schedule: [{ model: a, within_ms: 20 }]\n"
            "reload: %s\n",
            RV_FIXTURE_DIR, extra, reload ? reload : "{ warmup_requests: 16 }");
    fclose(f);
}

static void setup(void)
{
    tmpdir = test_tmpdir();
    snprintf(cfg_path, sizeof cfg_path, "%s/c.yaml", tmpdir);
    write_cfg("", NULL);
    pipe_ = (rv_pipeline){.output = NULL, .rendezvous = NULL, .sink = rv_discard_sink};
    pipe_.recent = rv_recent_new(16);
    ck_assert_ptr_nonnull(pipe_.recent);
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(cfg_path, rv_test_env(), &errs);
    cur = cfg ? rv_generation_build(cfg, NULL, &pipe_.sink, 1, &errs) : NULL;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  | %s\n", errs.lines[i]);
    rv_errors_clear(&errs);
    ck_assert_ptr_nonnull(cur);
    char err[RV_ERR_SIZE];
    ck_assert_msg(rv_generation_warm_and_start(cur, &pipe_, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_nonnull(cur->models[0]->workers);
    rl = rv_reloader_new(cfg_path, rv_test_env(), NULL, &pipe_, 2);
    ck_assert_ptr_nonnull(rl);
}

static void teardown(void)
{
    rv_reloader_free(rl);
    rv_generation_unref(cur);
    rv_recent_free(pipe_.recent);
    test_rm_rf(tmpdir);
    free(tmpdir);
}

/* Asks for a reload and waits for its outcome (1 or -1). */
static int reload(rv_generation **out)
{
    *out = (rv_generation *)1; /* must be overwritten */
    rv_reloader_request(rl, cur);
    for (int i = 0; i < 4000; i++) {
        int rc = rv_reloader_poll(rl, out, cur);
        if (rc != 0)
            return rc;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("no reload outcome within 20 s");
    return 0;
}

static const char *last_error(void)
{
    static char buf[RV_ERR_SIZE];
    rv_reloader_last_error(rl, buf, sizeof buf);
    return buf;
}

/* The serving generation is the one it was, whole, and still scores. */
static void assert_serving_unchanged(const rv_generation *before, const rv_model *a)
{
    ck_assert_ptr_eq(cur, before);
    ck_assert_uint_eq(cur->id, 1);
    ck_assert_uint_eq(cur->n_models, 1);
    ck_assert_ptr_eq(cur->models[0], a);
    ck_assert_int_eq(atomic_load(&cur->refs), 1);
    ck_assert_int_eq(atomic_load(&a->refs), 1); /* the failed build let go of it */
    ck_assert_ptr_nonnull(a->workers);
    ck_assert_int_eq(rv_generation_find(cur, "a"), 0);
    ck_assert_int_eq(rv_generation_find(cur, "b"), -1);

    rv_score_batch sb;
    ck_assert_int_eq(rv_score_batch_init(&sb, 1), 0);
    double x = 2.0;
    rv_request req = {.id = "probe", .features = &x, .n_features = 1, .offset = -1};
    rv_answer room[RV_MAX_ANSWERS];
    rv_slot slot = {.answers = room, .max_answers = RV_MAX_ANSWERS};
    sb.reqs[0] = &req;
    sb.slots[0] = &slot;
    rv_model_score(cur->models[0], cur->models[0]->instances[0], &sb, 1);
    ck_assert_int_eq(sb.status[0], RV_SLOT_OK);
    ck_assert_uint_eq(slot.n_answers, 3);
    ck_assert_str_eq(a->labels[slot.answers[0].label], "yes");
    ck_assert_double_eq(slot.answers[0].score, 0.75);
    rv_slot_clear(&slot);
    rv_score_batch_free(&sb);
}

/* last_error starts with "<cfg_path>:<line>:" and contains what. */
static void assert_error_at(int line, const char *what)
{
    const char *e = last_error();
    char prefix[4300];
    snprintf(prefix, sizeof prefix, "%s:%d:", cfg_path, line);
    ck_assert_msg(strncmp(e, prefix, strlen(prefix)) == 0, "error \"%s\" does not start with %s", e,
                  prefix);
    ck_assert_msg(strstr(e, what) != NULL, "error \"%s\" lacks \"%s\"", e, what);
}

/* A good reload after a failure: the reloader itself is not stuck. */
static void assert_recovers(void)
{
    write_cfg("  - { name: b, plugin: " RV_FIXTURE_DIR "/ok_b.so }\n", NULL);
    rv_generation *g;
    ck_assert_int_eq(reload(&g), 1);
    ck_assert_ptr_nonnull(g);
    ck_assert_str_eq(last_error(), "");
    ck_assert_uint_eq(g->n_models, 2);
    rv_generation_unref(g);
}

START_TEST(bad_yaml_keeps_the_old_generation)
{
    const rv_generation *before = cur;
    const rv_model *a = cur->models[0];
    test_write_file(cfg_path, "service: rl\n"
                              "streams: { brokers: embedded }\n"
                              "models: [ { name: a, plugin: x.so }\n"
                              "input: { features: [x] }\n");
    rv_generation *g;
    ck_assert_int_eq(reload(&g), -1);
    ck_assert_ptr_null(g);
    const char *e = last_error();
    unsigned line = 0, col = 0;
    char rest[64] = "";
    size_t plen = strlen(cfg_path);
    ck_assert_msg(strncmp(e, cfg_path, plen) == 0 &&
                      sscanf(e + plen, ":%u:%u: %63s", &line, &col, rest) == 3,
                  "error \"%s\" does not start with %s:LINE:COLUMN", e, cfg_path);
    ck_assert_msg(line >= 3 && line <= 5, "line %u in \"%s\"", line, e);
    ck_assert_str_eq(rest, "(yaml):");
    assert_serving_unchanged(before, a);
    assert_recovers();
}
END_TEST

START_TEST(schema_error_keeps_the_old_generation)
{
    const rv_generation *before = cur;
    const rv_model *a = cur->models[0];
    write_cfg("  - { name: b, plugin: " RV_FIXTURE_DIR "/ok_b.so, instances: two }\n", NULL);
    rv_generation *g;
    ck_assert_int_eq(reload(&g), -1);
    ck_assert_ptr_null(g);
    assert_error_at(7, "models[1].instances");
    assert_serving_unchanged(before, a);
}
END_TEST

START_TEST(missing_config_file_keeps_the_old_generation)
{
    const rv_generation *before = cur;
    const rv_model *a = cur->models[0];
    ck_assert_int_eq(unlink(cfg_path), 0);
    rv_generation *g;
    ck_assert_int_eq(reload(&g), -1);
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(last_error(), cfg_path) && strstr(last_error(), "cannot open"), "%s",
                  last_error());
    assert_serving_unchanged(before, a);
    assert_recovers();
}
END_TEST

START_TEST(failing_warm_keeps_the_old_generation)
{
    const rv_generation *before = cur;
    const rv_model *a = cur->models[0];
    write_cfg("  - name: b\n"
              "    plugin: " RV_FIXTURE_DIR "/ok_b.so\n"
              "    params: { fail_warm: \"true\" }\n",
              NULL);
    rv_generation *g;
    ck_assert_int_eq(reload(&g), -1);
    ck_assert_ptr_null(g);
    assert_error_at(7, "models[1] (b): warm failed");
    ck_assert_msg(strstr(last_error(), "fixture refuses to warm"), "%s", last_error());
    assert_serving_unchanged(before, a);
    assert_recovers();
}
END_TEST

START_TEST(failing_create_keeps_the_old_generation)
{
    const rv_generation *before = cur;
    const rv_model *a = cur->models[0];
    write_cfg("  - { name: b, plugin: " RV_FIXTURE_DIR "/ok_b.so }\n"
              "  - { name: c, plugin: " RV_FIXTURE_DIR
              "/ok.so, params: { fail_create: \"true\" } }\n",
              NULL);
    rv_generation *g;
    ck_assert_int_eq(reload(&g), -1);
    ck_assert_ptr_null(g);
    assert_error_at(8, "models[2] (c): create failed");
    assert_serving_unchanged(before, a);
}
END_TEST

START_TEST(abi_mismatch_keeps_the_old_generation)
{
    const rv_generation *before = cur;
    const rv_model *a = cur->models[0];
    write_cfg("  - { name: b, plugin: " RV_FIXTURE_DIR "/major_mismatch.so }\n", NULL);
    rv_generation *g;
    ck_assert_int_eq(reload(&g), -1);
    ck_assert_ptr_null(g);
    assert_error_at(7, "models[1] (b)");
    assert_serving_unchanged(before, a);
}
END_TEST

START_TEST(good_change_reuses_unchanged_models)
{
    rv_model *a = cur->models[0];
    write_cfg("  - { name: b, plugin: " RV_FIXTURE_DIR "/ok_b.so }\n", NULL);
    rv_generation *g;
    ck_assert_int_eq(reload(&g), 1);
    ck_assert_ptr_nonnull(g);
    ck_assert_ptr_ne(g, cur);
    ck_assert_str_eq(last_error(), "");
    ck_assert_uint_eq(g->id, 2);
    ck_assert_uint_eq(g->schedule_version, cur->schedule_version + 1);
    ck_assert_uint_eq(g->n_models, 2);
    ck_assert_uint_eq(g->n_reused, 1);
    ck_assert_ptr_eq(g->models[0], a); /* shared, warm, not rebuilt */
    ck_assert_int_eq(atomic_load(&a->refs), 2);
    ck_assert_str_eq(g->models[1]->name, "b");
    ck_assert_ptr_nonnull(g->models[1]->workers); /* started before it is handed over */
    ck_assert_int_eq(atomic_load(&g->refs), 1);
    ck_assert_int_eq(atomic_load(&cur->refs), 1);

    /* the swap: the old generation goes, the shared model stays */
    rv_generation_unref(cur);
    cur = g;
    ck_assert_int_eq(atomic_load(&a->refs), 1);
    ck_assert_ptr_nonnull(a->workers);

    /* the same file again: everything is reused */
    ck_assert_int_eq(reload(&g), 1);
    ck_assert_uint_eq(g->id, 3);
    ck_assert_uint_eq(g->n_reused, 2);
    ck_assert_ptr_eq(g->models[0], cur->models[0]);
    ck_assert_ptr_eq(g->models[1], cur->models[1]);
    rv_generation_unref(cur);
    cur = g;

    /* a changed param makes a new model of the same name */
    write_cfg("  - { name: b, plugin: " RV_FIXTURE_DIR "/ok_b.so, params: { score: \"0.5\" } }\n",
              NULL);
    rv_model *old_b = cur->models[1];
    ck_assert_int_eq(reload(&g), 1);
    ck_assert_uint_eq(g->n_reused, 1);
    ck_assert_ptr_eq(g->models[0], cur->models[0]);
    ck_assert_ptr_ne(g->models[1], old_b);
    ck_assert_str_ne(g->models[1]->version, old_b->version);
    rv_generation_unref(cur);
    cur = g;
}
END_TEST

START_TEST(queued_reload_runs_after_the_first)
{
    write_cfg("  - { name: b, plugin: " RV_FIXTURE_DIR "/ok_b.so }\n", NULL);
    rv_reloader_request(rl, cur);
    rv_reloader_request(rl, cur); /* while the first builds: queued */
    rv_generation *first = NULL, *second = NULL;
    int rc = 0;
    for (int i = 0; i < 4000 && rc == 0; i++) {
        rc = rv_reloader_poll(rl, &first, cur);
        if (rc == 0) {
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    ck_assert_int_eq(rc, 1);
    /* the queued one builds against the first's result */
    rc = 0;
    for (int i = 0; i < 4000 && rc == 0; i++) {
        rc = rv_reloader_poll(rl, &second, first);
        if (rc == 0) {
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_ne(first, second);
    ck_assert_uint_eq(second->n_reused, 2);
    ck_assert_ptr_eq(second->models[1], first->models[1]);
    ck_assert_uint_eq(second->schedule_version, first->schedule_version + 1);
    /* nothing more is queued */
    rv_generation *none = NULL;
    ck_assert_int_eq(rv_reloader_poll(rl, &none, second), 0);
    rv_generation_unref(first);
    rv_generation_unref(second);
}
END_TEST

static void add_recent(int n)
{
    for (int i = 0; i < n; i++) {
        char id[16], body[32];
        snprintf(id, sizeof id, "r-%d", i);
        snprintf(body, sizeof body, "{\"x\": %d}", i + 1);
        rv_recent_add(pipe_.recent, id, body, strlen(body));
    }
}

START_TEST(warm_up_on_recent_traffic_fails_on_an_error)
{
    const rv_generation *before = cur;
    const rv_model *a = cur->models[0];
    add_recent(3);
    write_cfg("  - { name: c, plugin: " RV_FIXTURE_DIR "/ok.so, params: { error: always } }\n",
              NULL);
    rv_generation *g;
    ck_assert_int_eq(reload(&g), -1);
    ck_assert_ptr_null(g);
    assert_error_at(7, "model c: warm-up on recent traffic failed: request r-0 scored error: "
                       "fixture always errors");
    assert_serving_unchanged(before, a);
}
END_TEST

START_TEST(warm_up_on_recent_traffic_passes)
{
    add_recent(3);
    /* a body the new schema refuses is left out of the warm-up */
    rv_recent_add(pipe_.recent, "r-bad", "not json", 8);
    write_cfg("  - { name: c, plugin: " RV_FIXTURE_DIR "/ok.so, params: { score: \"0.5\" } }\n",
              NULL);
    rv_generation *g;
    ck_assert_int_eq(reload(&g), 1);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(g->n_reused, 1);
    ck_assert_ptr_nonnull(g->models[1]->workers);
    rv_generation_unref(g);
}
END_TEST

START_TEST(warm_up_without_recent_requests_accepts_anything)
{
    /* no warm-up requests configured: the always-failing model goes live */
    add_recent(3);
    write_cfg("  - { name: c, plugin: " RV_FIXTURE_DIR "/ok.so, params: { error: always } }\n",
              "{ warmup_requests: 0 }");
    rv_generation *g;
    ck_assert_int_eq(reload(&g), 1);
    rv_generation_unref(g);
}
END_TEST

START_TEST(warm_up_over_budget_fails)
{
    const rv_generation *before = cur;
    const rv_model *a = cur->models[0];
    add_recent(6);
    write_cfg("  - name: c\n"
              "    plugin: " RV_FIXTURE_DIR "/ok.so\n"
              "    params: { sleep_ms: \"40\" }\n"
              "    max_batch: 1\n",
              "{ warmup_requests: 16, warmup_budget_ms: 60 }");
    rv_generation *g;
    ck_assert_int_eq(reload(&g), -1);
    ck_assert_ptr_null(g);
    assert_error_at(7, "model c: warm-up too slow");
    ck_assert_msg(strstr(last_error(), "reload.warmup_budget_ms"), "%s", last_error());
    assert_serving_unchanged(before, a);
}
END_TEST

static Suite *reload_suite(void)
{
    Suite *s = suite_create("reload");
    TCase *tc = tcase_create("reloader");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, bad_yaml_keeps_the_old_generation);
    tcase_add_test(tc, schema_error_keeps_the_old_generation);
    tcase_add_test(tc, missing_config_file_keeps_the_old_generation);
    tcase_add_test(tc, failing_warm_keeps_the_old_generation);
    tcase_add_test(tc, failing_create_keeps_the_old_generation);
    tcase_add_test(tc, abi_mismatch_keeps_the_old_generation);
    tcase_add_test(tc, good_change_reuses_unchanged_models);
    tcase_add_test(tc, queued_reload_runs_after_the_first);
    tcase_add_test(tc, warm_up_on_recent_traffic_fails_on_an_error);
    tcase_add_test(tc, warm_up_on_recent_traffic_passes);
    tcase_add_test(tc, warm_up_without_recent_requests_accepts_anything);
    tcase_add_test(tc, warm_up_over_budget_fails);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(reload_suite());
}
