/*
 * test_control.c - rv_control_apply(): a schedule change on the control
 * stream against a real generation (two fixture plugins, the canary and the
 * decoy). A valid change makes a new generation with the schedule version
 * raised and the entries mapped to the right models, sharing the models;
 * every record the config loader would refuse is refused with a message
 * that names the entry, and the serving generation is left as it was.
 */
#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_cmd.h"
#include "control.h"
#include "errbuf.h"
#include "generation.h"
#include "test_helpers.h"
#include "test_env.h"

static char *tmpdir;
static rv_generation *gen;

static const char weights_json[] = "{\"kind\": \"logistic\", \"features\": [\"x\"], "
                                   "\"labels\": [\"no\", \"yes\"], \"coef\": [[1.0]], "
                                   "\"intercept\": [0.0]}\n";

static void setup(void)
{
    tmpdir = test_tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/w.json", tmpdir);
    test_write_file(p, weights_json);
    char cfg_path[4200];
    snprintf(cfg_path, sizeof cfg_path, "%s/c.yaml", tmpdir);
    FILE *f = fopen(cfg_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "service: ctl\n"
            "state_dir: state\n"
            "streams: { brokers: embedded }\n"
            "input: { features: [x] }\n"
            "models:\n"
            "  - { name: a, plugin: %s/ok.so }\n"
            "  - { name: b, plugin: %s/ok_b.so }\n"
            "  - { name: canary, builtin: canary, params: { model_file: w.json } }\n"
            "  - { name: decoy, builtin: decoy }\n"
            "rendezvous:\n"
            "  schedule: [{ model: a, within_ms: 20 }, { model: b, within_ms: 40 }]\n",
            RV_FIXTURE_DIR, RV_FIXTURE_DIR);
    fclose(f);
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(cfg_path, rv_test_env(), &errs);
    gen = cfg ? rv_generation_build(cfg, NULL, &rv_discard_sink, 1, &errs) : NULL;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  | %s\n", errs.lines[i]);
    rv_errors_clear(&errs);
    ck_assert_ptr_nonnull(gen);
    ck_assert_uint_eq(gen->n_models, 4);
    ck_assert_uint_eq(gen->schedule_version, 1);
}

static void teardown(void)
{
    rv_generation_unref(gen);
    test_rm_rf(tmpdir);
    free(tmpdir);
}

static int model(const char *name)
{
    int i = rv_generation_find(gen, name);
    ck_assert_msg(i >= 0, "no model %s", name);
    return i;
}

/* The serving generation's state, to compare before and after. */
typedef struct snapshot {
    uint64_t id, schedule_version;
    size_t n_schedule, schedule[8];
    uint32_t within_ms[8];
    int refs, model_refs[8];
    rv_model *models[8];
    const rv_config *cfg;
} snapshot;

static snapshot snap(const rv_generation *g)
{
    snapshot s = {.id = g->id,
                  .schedule_version = g->schedule_version,
                  .n_schedule = g->n_schedule,
                  .refs = atomic_load(&g->refs),
                  .cfg = g->cfg};
    for (size_t i = 0; i < g->n_schedule && i < 8; i++) {
        s.schedule[i] = g->schedule[i];
        s.within_ms[i] = g->within_ms[i];
    }
    for (size_t i = 0; i < g->n_models && i < 8; i++) {
        s.models[i] = g->models[i];
        s.model_refs[i] = atomic_load(&g->models[i]->refs);
    }
    return s;
}

static void assert_unchanged(const snapshot *b, const rv_generation *g)
{
    snapshot now = snap(g);
    ck_assert_uint_eq(now.id, b->id);
    ck_assert_uint_eq(now.schedule_version, b->schedule_version);
    ck_assert_uint_eq(now.n_schedule, b->n_schedule);
    for (size_t i = 0; i < b->n_schedule && i < 8; i++) {
        ck_assert_uint_eq(now.schedule[i], b->schedule[i]);
        ck_assert_uint_eq(now.within_ms[i], b->within_ms[i]);
    }
    ck_assert_int_eq(now.refs, b->refs);
    ck_assert_ptr_eq(now.cfg, b->cfg);
    ck_assert_uint_eq(g->n_models, 4);
    for (size_t i = 0; i < g->n_models; i++) {
        ck_assert_ptr_eq(now.models[i], b->models[i]);
        ck_assert_int_eq(now.model_refs[i], b->model_refs[i]);
    }
}

static rv_generation *apply(const char *record, char *err)
{
    err[0] = '\0';
    return rv_control_apply(gen, record, strlen(record), err, RV_ERR_SIZE);
}

START_TEST(valid_change_raises_version_and_maps_entries)
{
    snapshot before = snap(gen);
    char err[RV_ERR_SIZE];
    rv_generation *d = apply("{\"schedule\": [{\"model\": \"b\", \"within_ms\": 10}, "
                             "{\"model\": \"canary\", \"within_ms\": 30}, "
                             "{\"model\": \"a\", \"within_ms\": 30}]}",
                             err);
    ck_assert_msg(d != NULL, "refused: %s", err);
    ck_assert_ptr_ne(d, gen);
    ck_assert_uint_eq(d->schedule_version, 2);
    ck_assert_uint_eq(d->n_schedule, 3);
    ck_assert_uint_eq(d->schedule[0], (size_t)model("b"));
    ck_assert_uint_eq(d->schedule[1], (size_t)model("canary"));
    ck_assert_uint_eq(d->schedule[2], (size_t)model("a"));
    ck_assert_uint_eq(d->within_ms[0], 10);
    ck_assert_uint_eq(d->within_ms[1], 30);
    ck_assert_uint_eq(d->within_ms[2], 30);
    ck_assert_str_eq(d->models[d->schedule[0]]->name, "b");
    ck_assert_str_eq(d->models[d->schedule[2]]->name, "a");
    /* the same models, config and roles: nothing is rebuilt */
    ck_assert_uint_eq(d->n_models, gen->n_models);
    for (size_t i = 0; i < gen->n_models; i++) {
        ck_assert_ptr_eq(d->models[i], gen->models[i]);
        ck_assert_int_eq(atomic_load(&gen->models[i]->refs), 2);
    }
    ck_assert_ptr_eq(d->cfg, gen->cfg);
    ck_assert_ptr_eq(d->features, gen->features);
    ck_assert_int_eq(d->canary, gen->canary);
    ck_assert_int_eq(d->decoy, gen->decoy);
    ck_assert_uint_eq(d->id, gen->id);
    /* the serving generation still has its own schedule */
    ck_assert_uint_eq(gen->schedule_version, 1);
    ck_assert_uint_eq(gen->n_schedule, 2);
    ck_assert_uint_eq(gen->schedule[0], (size_t)model("a"));
    ck_assert_uint_eq(gen->within_ms[1], 40);

    /* a change on top of a change raises the version again */
    rv_generation *d2 = rv_control_apply(
        d, "{\"schedule\": [{\"model\": \"a\", \"within_ms\": 5}]}",
        strlen("{\"schedule\": [{\"model\": \"a\", \"within_ms\": 5}]}"), err, sizeof err);
    ck_assert_msg(d2 != NULL, "refused: %s", err);
    ck_assert_uint_eq(d2->schedule_version, 3);
    ck_assert_uint_eq(d2->n_schedule, 1);
    ck_assert_uint_eq(d2->schedule[0], (size_t)model("a"));
    ck_assert_uint_eq(d2->within_ms[0], 5);

    /* the derived generations hold the config: it outlives the original */
    rv_generation_unref(d);
    rv_generation_unref(d2);
    for (size_t i = 0; i < gen->n_models; i++)
        ck_assert_int_eq(atomic_load(&gen->models[i]->refs), 1);
    assert_unchanged(&before, gen);
}
END_TEST

START_TEST(derived_generation_outlives_the_original)
{
    char err[RV_ERR_SIZE];
    rv_generation *d = apply("{\"schedule\": [{\"model\": \"b\", \"within_ms\": 0}]}", err);
    ck_assert_msg(d != NULL, "refused: %s", err);
    rv_generation_unref(gen);
    gen = NULL;
    /* everything the derived generation points at is still there */
    ck_assert_str_eq(d->cfg->service, "ctl");
    ck_assert_str_eq(d->models[d->schedule[0]]->name, "b");
    ck_assert_int_eq(rv_generation_find(d, "decoy"), d->decoy);
    gen = d; /* released by teardown */
}
END_TEST

START_TEST(record_is_read_to_its_length_only)
{
    /* a record is bytes with a length, not a C string */
    const char *text = "{\"schedule\": [{\"model\": \"b\", \"within_ms\": 7}]}trailing garbage";
    size_t len = strlen("{\"schedule\": [{\"model\": \"b\", \"within_ms\": 7}]}");
    char err[RV_ERR_SIZE] = "";
    rv_generation *d = rv_control_apply(gen, text, len, err, sizeof err);
    ck_assert_msg(d != NULL, "refused: %s", err);
    ck_assert_uint_eq(d->within_ms[0], 7);
    rv_generation_unref(d);

    /* and the same bytes with the garbage are not JSON */
    d = rv_control_apply(gen, text, strlen(text), err, sizeof err);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(err, "not valid JSON") != NULL, "message: %s", err);
}
END_TEST

START_TEST(largest_within_ms_is_accepted)
{
    char err[RV_ERR_SIZE];
    rv_generation *d = apply("{\"schedule\": [{\"model\": \"a\", \"within_ms\": 0}, "
                             "{\"model\": \"b\", \"within_ms\": 4294967295}]}",
                             err);
    ck_assert_msg(d != NULL, "refused: %s", err);
    ck_assert_uint_eq(d->within_ms[0], 0);
    ck_assert_uint_eq(d->within_ms[1], 4294967295u);
    rv_generation_unref(d);
}
END_TEST

/* Each refused record, with what its message must contain. */
static const struct refusal {
    const char *record;
    const char *message[2];
} refusals[] = {
    {"not json at all", {"not valid JSON", NULL}},
    {"", {"not valid JSON", NULL}},
    {"{\"schedule\": [{\"model\": \"a\", \"within_ms\": 1}", {"not valid JSON", NULL}},
    {"{}", {"expected {\"schedule\"", NULL}},
    {"{\"shedule\": [{\"model\": \"a\", \"within_ms\": 1}]}", {"expected {\"schedule\"", NULL}},
    {"[{\"model\": \"a\", \"within_ms\": 1}]", {"expected {\"schedule\"", NULL}},
    {"{\"schedule\": {\"model\": \"a\", \"within_ms\": 1}}", {"expected {\"schedule\"", NULL}},
    {"{\"schedule\": []}", {"at least one entry", NULL}},
    {"{\"schedule\": [{\"model\": \"a\", \"within_ms\": 1}, {\"model\": \"zz\", \"within_ms\": "
     "2}]}",
     {"schedule[1]", "no serving model named 'zz'"}},
    {"{\"schedule\": [{\"model\": \"decoy\", \"within_ms\": 1}]}",
     {"schedule[0]", "the decoy is never chosen: 'decoy'"}},
    {"{\"schedule\": [{\"model\": \"a\", \"within_ms\": 1}, {\"model\": \"b\", \"within_ms\": 2}, "
     "{\"model\": \"a\", \"within_ms\": 3}]}",
     {"schedule[2]", "model 'a' is listed twice"}},
    {"{\"schedule\": [{\"model\": \"a\", \"within_ms\": 20}, {\"model\": \"b\", \"within_ms\": "
     "10}]}",
     {"schedule[1]", "within_ms 10 is less than the entry before it (20)"}},
    {"{\"schedule\": [{\"model\": \"a\", \"within_ms\": -1}]}",
     {"schedule[0]", "non-negative integer"}},
    {"{\"schedule\": [{\"model\": \"a\", \"within_ms\": 1}, {\"model\": \"b\", \"within_ms\": "
     "2.5}]}",
     {"schedule[1]", "non-negative integer"}},
    {"{\"schedule\": [{\"model\": \"a\", \"within_ms\": \"20\"}]}",
     {"schedule[0]", "non-negative integer"}},
    {"{\"schedule\": [{\"model\": \"a\", \"within_ms\": 4294967296}]}",
     {"schedule[0]", "non-negative integer"}},
    {"{\"schedule\": [{\"model\": \"a\", \"within_ms\": 99999999999999999999999}]}",
     {"schedule[0]", "non-negative integer"}},
    {"{\"schedule\": [{\"model\": \"a\"}]}", {"schedule[0]", "within_ms"}},
    {"{\"schedule\": [{\"within_ms\": 3}]}", {"schedule[0]", "needs \"model\""}},
    {"{\"schedule\": [{\"model\": 7, \"within_ms\": 3}]}", {"schedule[0]", "needs \"model\""}},
    {"{\"schedule\": [\"a\"]}", {"schedule[0]", "needs \"model\""}},
    {"{\"schedule\": [{\"model\": \"a\", \"within_ms\": 1}, null]}", {"schedule[1]", NULL}},
};

START_TEST(refused_record_names_the_entry_and_keeps_the_generation)
{
    const struct refusal *r = &refusals[_i];
    snapshot before = snap(gen);
    char err[RV_ERR_SIZE];
    memset(err, 0, sizeof err);
    rv_generation *d = apply(r->record, err);
    if (d)
        rv_generation_unref(d);
    ck_assert_msg(d == NULL, "accepted: %s", r->record);
    ck_assert_msg(err[0] != '\0', "refused without a message: %s", r->record);
    for (int k = 0; k < 2; k++)
        if (r->message[k])
            ck_assert_msg(strstr(err, r->message[k]) != NULL,
                          "record %s: message \"%s\" lacks \"%s\"", r->record, err, r->message[k]);
    assert_unchanged(&before, gen);
    /* and it still takes a valid change afterwards */
    d = apply("{\"schedule\": [{\"model\": \"b\", \"within_ms\": 1}]}", err);
    ck_assert_msg(d != NULL, "refused after a refusal: %s", err);
    ck_assert_uint_eq(d->schedule_version, 2);
    rv_generation_unref(d);
}
END_TEST

START_TEST(message_is_cut_to_the_buffer)
{
    char err[16];
    memset(err, 'X', sizeof err);
    const char *rec = "{\"schedule\": [{\"model\": \"a-model-name-that-does-not-exist\", "
                      "\"within_ms\": 1}]}";
    rv_generation *d = rv_control_apply(gen, rec, strlen(rec), err, sizeof err);
    ck_assert_ptr_null(d);
    ck_assert_uint_eq(strlen(err), sizeof err - 1);
    ck_assert_msg(strncmp(err, "schedule[0]", 11) == 0, "message: %s", err);
}
END_TEST

static Suite *control_suite(void)
{
    Suite *s = suite_create("control");
    TCase *tc = tcase_create("apply");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, valid_change_raises_version_and_maps_entries);
    tcase_add_test(tc, derived_generation_outlives_the_original);
    tcase_add_test(tc, record_is_read_to_its_length_only);
    tcase_add_test(tc, largest_within_ms_is_accepted);
    tcase_add_loop_test(tc, refused_record_names_the_entry_and_keeps_the_generation, 0,
                        (int)(sizeof refusals / sizeof refusals[0]));
    tcase_add_test(tc, message_is_cut_to_the_buffer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(control_suite());
}
