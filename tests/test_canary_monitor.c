/*
 * test_canary_monitor.c - the canary monitor on synthetic requests. A real
 * generation (fixture model "a", the canary with its params, the decoy)
 * gives the models, labels, versions and settings; each request is an
 * rv_inflight made by hand whose slots hold the answers we choose. The
 * alert records go to a sink that keeps them, and are read back as JSON.
 * The monitor's clock is this test's: a second passes at each window, and
 * the config's alerts section (by default every window tested, raised and
 * cleared at the first test) is each case's.
 */
#include <check.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "canary_monitor.h"
#include "check_cmd.h"
#include "generation.h"
#include "test_helpers.h"
#include "test_env.h"

static char *tmpdir;
static rv_generation *gen;
static rv_canary_monitor *mon;

#define MAX_RECORDS 64
static struct captured {
    char key[128];
    char json[2048];
} records[MAX_RECORDS];
static size_t n_records;

static void capture(void *ctx, const char *key, const void *record, size_t len)
{
    ck_assert_ptr_eq(ctx, &n_records);
    ck_assert_uint_lt(n_records, MAX_RECORDS);
    ck_assert_uint_lt(len, sizeof records[0].json);
    struct captured *c = &records[n_records++];
    snprintf(c->key, sizeof c->key, "%s", key);
    memcpy(c->json, record, len);
    c->json[len] = '\0';
}

static const char weights_json[] = "{\"kind\": \"logistic\", \"features\": [\"x\"], "
                                   "\"labels\": [\"no\", \"yes\"], \"coef\": [[1.0]], "
                                   "\"intercept\": [0.0]}\n";

static int64_t fake_now;

static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now += 500; /* a and the canary each close a window: 1 s */
}

/* Builds the generation; canary_params is the inside of the canary's
 * params mapping besides model_file (may be ""), alerts the inside of the
 * config's alerts section (NULL: every window tested, for 1). */
static void build_alerts(const char *canary_params, const char *alerts)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/w.json", tmpdir);
    test_write_file(p, weights_json);
    snprintf(p, sizeof p, "%s/c.yaml", tmpdir);
    /* a reference of one window unless the case says otherwise */
    const char *sep = strstr(canary_params, "reference_windows") ? ", "
                      : *canary_params                           ? ", reference_windows: 1, "
                                                                 : ", reference_windows: 1";
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "service: mon\n"
            "state_dir: state\n"
            "streams: { brokers: embedded }\n"
            "input: { features: [x] }\n"
            "models:\n"
            "  - { name: a, plugin: %s/ok.so }\n"
            "  - { name: decoy, builtin: decoy }\n"
            "  - { name: canary, builtin: canary, params: { model_file: w.json%s%s } }\n"
            "rendezvous:\n"
            "  schedule: [{ model: a, within_ms: 20 }]\n"
            "alerts: { %s }\n",
            RV_FIXTURE_DIR, sep, canary_params,
            alerts ? alerts : "test_interval_s: 1, for: 1, keep_firing_for_s: 0");
    fclose(f);
    rv_errors errs = {0};
    rv_config *cfg = rv_config_load(p, rv_test_env(), &errs);
    gen = cfg ? rv_generation_build(cfg, NULL, &rv_discard_sink, 1, &errs) : NULL;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  | %s\n", errs.lines[i]);
    rv_errors_clear(&errs);
    ck_assert_ptr_nonnull(gen);
    ck_assert_int_eq(gen->canary, 2);
    ck_assert_int_eq(gen->decoy, 1);
}

static void build(const char *canary_params)
{
    build_alerts(canary_params, NULL);
}

static void setup(void)
{
    tmpdir = test_tmpdir();
    n_records = 0;
    mon = rv_canary_monitor_new(capture, &n_records);
    ck_assert_ptr_nonnull(mon);
    fake_now = 1000000;
    rv_canary_monitor_set_clock(mon, fake_clock, NULL);
}

static void teardown(void)
{
    rv_canary_monitor_free(mon);
    rv_generation_unref(gen);
    gen = NULL;
    test_rm_rf(tmpdir);
    free(tmpdir);
}

static uint32_t label_index(const rv_model *m, const char *label)
{
    for (uint32_t i = 0; i < m->n_labels; i++)
        if (strcmp(m->labels[i], label) == 0)
            return i;
    ck_abort_msg("model %s has no label %s", m->name, label);
    return 0;
}

/* Sets a slot to an ok answer: top label first with score p, the other of
 * yes/no with 1 - p. */
static void answer(rv_slot *s, const rv_model *m, const char *top, double p)
{
    const char *other = strcmp(top, "yes") == 0 ? "no" : "yes";
    s->n_answers = 2;
    s->answers[0] = (rv_answer){label_index(m, top), p};
    s->answers[1] = (rv_answer){label_index(m, other), 1.0 - p};
    atomic_store(&s->status, RV_SLOT_OK);
}

/* One request seen by the monitor: the canary answers canary_top with
 * 0.75, model a answers a_top with a_p (a_status other than ok: no
 * answer), the decoy recorded it. */
static void observe(const char *canary_top, const char *a_top, double a_p, int a_status)
{
    rv_inflight *f = rv_inflight_blank(gen);
    ck_assert_ptr_nonnull(f);
    answer(&f->slots[gen->canary], gen->models[gen->canary], canary_top, 0.75);
    if (a_status == RV_SLOT_OK)
        answer(&f->slots[0], gen->models[0], a_top, a_p);
    else
        atomic_store(&f->slots[0].status, a_status);
    atomic_store(&f->slots[gen->decoy].status, RV_SLOT_OK); /* no answers: never compared */
    rv_canary_monitor_observe(mon, f);
    rv_inflight_blank_free(f);
}

static void observe_n(int n, const char *canary_top, const char *a_top, double a_p)
{
    for (int i = 0; i < n; i++)
        observe(canary_top, a_top, a_p, RV_SLOT_OK);
}

/* What a message names a check by. */
static const char *t_or(const char *check)
{
    return strcmp(check, "input_drift") == 0 ? "from its reference window" : check;
}

/* A captured record's field, as text ("" when absent). */
static const char *field(size_t rec, const char *name)
{
    static char buf[1024];
    char err[256];
    ck_assert_uint_lt(rec, n_records);
    yajl_val root = yajl_tree_parse(records[rec].json, err, sizeof err);
    ck_assert_msg(root != NULL, "record %zu is not JSON (%s): %s", rec, err, records[rec].json);
    const char *path[] = {name, NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_any);
    buf[0] = '\0';
    if (YAJL_IS_STRING(v))
        snprintf(buf, sizeof buf, "%s", YAJL_GET_STRING(v));
    else if (YAJL_IS_INTEGER(v))
        snprintf(buf, sizeof buf, "%lld", YAJL_GET_INTEGER(v));
    else if (YAJL_IS_DOUBLE(v))
        snprintf(buf, sizeof buf, "%.4f", YAJL_GET_DOUBLE(v));
    else if (v)
        snprintf(buf, sizeof buf, "?");
    yajl_tree_free(root);
    return buf;
}

static void dump_records(void)
{
    for (size_t i = 0; i < n_records; i++)
        fprintf(stderr, "  record %zu [%s]: %s\n", i, records[i].key, records[i].json);
}

/* Record rec is a `type` of `check` for `model` with these fields. */
static void assert_record_of(size_t rec, const char *model, const char *type, const char *check,
                             const char *value, const char *threshold, const char *window)
{
    if (rec >= n_records)
        dump_records();
    ck_assert_msg(rec < n_records, "record %zu expected, %zu captured", rec, n_records);
    ck_assert_str_eq(records[rec].key, model);
    ck_assert_str_eq(field(rec, "type"), type);
    ck_assert_str_eq(field(rec, "check"), check);
    ck_assert_str_eq(field(rec, "model"), model);
    ck_assert_str_eq(field(rec, "version"), gen->models[strcmp(model, "a") ? 2 : 0]->version);
    ck_assert_str_eq(field(rec, "canary"), "canary");
    ck_assert_str_eq(field(rec, "value"), value);
    if (threshold)
        ck_assert_str_eq(field(rec, "threshold"), threshold);
    ck_assert_str_eq(field(rec, "window"), window);
    ck_assert_str_eq(field(rec, "for"), "1");
    ck_assert_msg(*field(rec, "p_value") && *field(rec, "alpha"), "no p_value or alpha: %s",
                  records[rec].json);
    ck_assert_msg(strstr(field(rec, "message"), t_or(check)) != NULL, "message: %s",
                  field(rec, "message"));
}

static void assert_record(size_t rec, const char *type, const char *check, const char *value,
                          const char *threshold, const char *window)
{
    assert_record_of(rec, "a", type, check, value, threshold, window);
}

/* The model's gauge, NULL when the monitor does not track it. */
static const rv_canary_gauge *find_gauge(const char *model)
{
    static rv_canary_gauge gs[8];
    size_t n = rv_canary_monitor_snapshot(mon, gs, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        if (strcmp(gs[i].model, model) == 0)
            return &gs[i];
    return NULL;
}

static const rv_canary_gauge *gauge_of(const char *model)
{
    const rv_canary_gauge *g = find_gauge(model);
    ck_assert_msg(g != NULL, "no gauge for %s", model);
    return g;
}

START_TEST(agreeing_model_raises_nothing)
{
    build("window: 10");
    /* same top label and same score as the canary: agreement 1, shift 0,
     * no drift, over three full windows */
    observe_n(30, "yes", "yes", 0.75);
    if (n_records)
        dump_records();
    ck_assert_uint_eq(n_records, 0);
    const rv_canary_gauge *ga = gauge_of("a");
    ck_assert_double_eq(ga->agreement, 1.0);
    ck_assert_double_eq_tol(ga->score_shift, 0.0, 1e-9);
    ck_assert_double_eq_tol(ga->drift, 0.0, 1e-9);
    ck_assert_double_eq_tol(ga->p_drift, 1.0, 1e-9);
    ck_assert_int_eq(ga->alerting, 0);
    ck_assert_uint_eq(ga->compared, 30);
    ck_assert_uint_eq(ga->tests, 3);
    ck_assert_uint_eq(gauge_of("canary")->compared, 30);
    /* the decoy is never tracked */
    rv_canary_gauge gs[8];
    ck_assert_uint_eq(rv_canary_monitor_snapshot(mon, gs, 8), 2);
}
END_TEST

START_TEST(disagreement_over_a_window_alerts_then_clears)
{
    /* max_score_shift 1: the shift never alerts; a answering "no" where
     * the canary answers "yes" also moves a's scores from its first
     * window's: drift, after agreement */
    build("window: 50, min_agreement: 0.5, max_score_shift: 1");
    observe_n(50, "yes", "yes", 0.75); /* the first window: agreement 1 */
    ck_assert_uint_eq(n_records, 0);
    /* none of 50 agree: P(X <= 0 | 50, 0.5) = 8.9e-16, below alpha
     * (0.01 a day / 86400 tests a day) */
    observe_n(49, "yes", "no", 0.75);
    ck_assert_uint_eq(n_records, 0);
    observe_n(1, "yes", "no", 0.75);
    ck_assert_uint_eq(n_records, 2);
    assert_record(0, "alert", "agreement", "0.0000", "0.5000", "50");
    ck_assert_str_eq(field(0, "p_value"), "0.0000");
    assert_record(1, "alert", "drift", "1.0000", NULL, "50");
    ck_assert_str_eq(field(1, "reference_window"), "50");
    ck_assert_int_eq(gauge_of("a")->alerting, 1);
    ck_assert_str_eq(gauge_of("a")->alerts, "agreement,drift");
    ck_assert_double_eq(gauge_of("a")->agreement, 0.0);
    /* still disagreeing: no second alert */
    observe_n(50, "yes", "no", 0.75);
    ck_assert_uint_eq(n_records, 2);
    /* agreeing again over the next window: both clear */
    observe_n(50, "yes", "yes", 0.75);
    if (n_records != 4)
        dump_records();
    ck_assert_uint_eq(n_records, 4);
    assert_record(2, "clear", "agreement", "1.0000", "0.5000", "50");
    assert_record(3, "clear", "drift", "0.0000", NULL, "50");
    ck_assert_int_eq(gauge_of("a")->alerting, 0);
    ck_assert_uint_eq(gauge_of("a")->compared, 200);
}
END_TEST

START_TEST(a_dip_the_counts_cannot_tell_from_chance_is_not_an_alert)
{
    build("window: 100, min_agreement: 0.8, max_score_shift: 1");
    /* 75 of 100 agree: below 0.8, but P(X <= 75 | 100, 0.8) = 0.11 */
    observe_n(75, "yes", "yes", 0.75);
    observe_n(25, "no", "yes", 0.75);
    ck_assert_uint_eq(n_records, 0);
    ck_assert_double_eq_tol(gauge_of("a")->agreement, 0.75, 1e-12);
    /* 50 of 100: P = 1.7e-11 */
    observe_n(50, "yes", "yes", 0.75);
    observe_n(50, "no", "yes", 0.75);
    ck_assert_uint_ge(n_records, 1);
    assert_record(0, "alert", "agreement", "0.5000", "0.8000", "100");
}
END_TEST

START_TEST(window_param_is_honoured)
{
    build("window: 20, max_score_shift: 1");
    observe_n(19, "no", "yes", 0.75);
    ck_assert_uint_eq(n_records, 0);
    ck_assert_msg(isnan(gauge_of("a")->agreement), "a window closed before 20 requests");
    observe_n(1, "no", "yes", 0.75);
    ck_assert_uint_eq(n_records, 1);
    /* default min_agreement 0.9 */
    assert_record(0, "alert", "agreement", "0.0000", "0.9000", "20");
}
END_TEST

START_TEST(default_window_is_1000)
{
    build("max_score_shift: 1");
    observe_n(999, "no", "yes", 0.75);
    ck_assert_uint_eq(n_records, 0);
    observe_n(1, "no", "yes", 0.75);
    ck_assert_uint_eq(n_records, 1);
    assert_record(0, "alert", "agreement", "0.0000", "0.9000", "1000");
}
END_TEST

START_TEST(requests_without_both_answers_are_not_compared)
{
    build("window: 10, max_score_shift: 1");
    /* the model errored or was shed: not compared */
    for (int i = 0; i < 15; i++)
        observe("yes", NULL, 0, i % 2 ? RV_SLOT_ERROR : RV_SLOT_SHED);
    ck_assert_ptr_null(find_gauge("a"));
    ck_assert_uint_eq(gauge_of("canary")->compared, 15);
    /* the canary errored: nothing is compared at all */
    rv_inflight *f = rv_inflight_blank(gen);
    ck_assert_ptr_nonnull(f);
    atomic_store(&f->slots[gen->canary].status, RV_SLOT_ERROR);
    answer(&f->slots[0], gen->models[0], "no", 0.75);
    for (int i = 0; i < 20; i++)
        rv_canary_monitor_observe(mon, f);
    rv_inflight_blank_free(f);
    ck_assert_ptr_null(find_gauge("a"));
    ck_assert_uint_eq(gauge_of("canary")->compared, 15);
    ck_assert_uint_eq(n_records, 0);
    /* 9 disagreeing that count, 5 errors between them: no window yet */
    observe_n(9, "yes", "no", 0.75);
    for (int i = 0; i < 5; i++)
        observe("yes", NULL, 0, RV_SLOT_ERROR);
    ck_assert_uint_eq(n_records, 0);
    observe_n(1, "yes", "no", 0.75);
    ck_assert_uint_eq(n_records, 1);
    assert_record(0, "alert", "agreement", "0.0000", "0.9000", "10");
}
END_TEST

START_TEST(score_shift_alerts_past_its_threshold_and_the_windows_error)
{
    build("window: 100, max_score_shift: 0.125");
    /* same top label, but a scores yes at 0.5 where the canary says 0.75:
     * KS distance 1, above 0.125 + 2 eps (eps = 0.29 at n = 100) */
    observe_n(100, "yes", "yes", 0.5);
    if (n_records != 1)
        dump_records();
    ck_assert_uint_eq(n_records, 1);
    assert_record(0, "alert", "score_shift", "1.0000", "0.1250", "100");
    /* back to the canary's scores: the shift clears, but a's reference is
     * its first window, the shifted one: a moved from it while the canary
     * did not, which is drift */
    observe_n(100, "yes", "yes", 0.75);
    if (n_records != 3)
        dump_records();
    ck_assert_uint_eq(n_records, 3);
    assert_record(1, "clear", "score_shift", "0.0000", "0.1250", "100");
    assert_record(2, "alert", "drift", "1.0000", NULL, "100");
}
END_TEST

START_TEST(the_canary_drifting_is_input_drift_and_a_model_following_it_is_not)
{
    build("window: 50, max_score_shift: 1");
    observe_n(50, "yes", "yes", 0.75); /* the references */
    /* the canary and a both now answer "no" 0.75 (yes at 0.25): the
     * canary's scores moved, a's against the canary's did not */
    observe_n(50, "no", "no", 0.75);
    if (n_records != 1)
        dump_records();
    ck_assert_uint_eq(n_records, 1);
    assert_record_of(0, "canary", "alert", "input_drift", "1.0000", NULL, "50");
    ck_assert_int_eq(gauge_of("a")->alerting, 0);
    ck_assert_double_eq_tol(gauge_of("a")->drift, 0.0, 1e-12);
    observe_n(50, "yes", "yes", 0.75);
    ck_assert_uint_eq(n_records, 2);
    assert_record_of(1, "canary", "clear", "input_drift", "0.0000", NULL, "50");
}
END_TEST

/* The records of check `check`, in order: their indexes into records. */
static size_t records_of(const char *check, size_t *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n_records && k < max; i++)
        if (strcmp(field(i, "check"), check) == 0)
            out[k++] = i;
    return k;
}

START_TEST(an_alert_needs_its_evidence_for_tests_in_a_row_and_is_held_while_it_flaps)
{
    build_alerts("window: 20, max_score_shift: 1",
                 "test_interval_s: 1, for: 3, keep_firing_for_s: 0");
    size_t at[8];
    observe_n(40, "no", "yes", 0.75); /* two windows of evidence: pending */
    ck_assert_uint_eq(records_of("agreement", at, 8), 0);
    observe_n(20, "no", "yes", 0.75); /* the third: raised */
    ck_assert_uint_eq(records_of("agreement", at, 8), 1);
    ck_assert_str_eq(field(at[0], "type"), "alert");
    ck_assert_str_eq(field(at[0], "for"), "3");
    /* gone for two windows, back for one, gone for two: held, not sent */
    observe_n(40, "yes", "yes", 0.75);
    observe_n(20, "no", "yes", 0.75);
    observe_n(40, "yes", "yes", 0.75);
    ck_assert_uint_eq(records_of("agreement", at, 8), 1);
    ck_assert_uint_ge(gauge_of("a")->flaps, 1);
    ck_assert_int_eq(gauge_of("a")->alerting, 1);
    observe_n(20, "yes", "yes", 0.75); /* gone a third time in a row: cleared */
    ck_assert_uint_eq(records_of("agreement", at, 8), 2);
    ck_assert_str_eq(field(at[1], "type"), "clear");
}
END_TEST

START_TEST(windows_are_tested_at_most_every_test_interval)
{
    /* a window closes each second (this test's clock), tested every 5th:
     * at 0.5 s, 5.5 s, 10.5 s, ... */
    build_alerts("window: 10, max_score_shift: 1",
                 "test_interval_s: 5, for: 1, keep_firing_for_s: 0");
    observe_n(110, "yes", "yes", 0.75);
    ck_assert_uint_eq(gauge_of("a")->tests, 3);
    /* evidence in windows that are not tested raises nothing */
    observe_n(30, "no", "yes", 0.75);
    ck_assert_uint_eq(records_of("agreement", (size_t[1]){0}, 1), 0);
    observe_n(20, "yes", "yes", 0.75);
    ck_assert_uint_eq(records_of("agreement", (size_t[1]){0}, 1), 0);
    ck_assert_uint_eq(gauge_of("a")->tests, 4);
}
END_TEST

START_TEST(keep_firing_for_holds_the_clear)
{
    /* a second a window, cleared no sooner than 5 s after last seen */
    build_alerts("window: 10, max_score_shift: 1",
                 "test_interval_s: 1, for: 1, keep_firing_for_s: 5");
    size_t at[8];
    observe_n(10, "no", "yes", 0.75);
    ck_assert_uint_eq(records_of("agreement", at, 8), 1);
    observe_n(40, "yes", "yes", 0.75); /* 4 s since */
    ck_assert_uint_eq(records_of("agreement", at, 8), 1);
    observe_n(10, "yes", "yes", 0.75); /* 5 s */
    ck_assert_uint_eq(records_of("agreement", at, 8), 2);
    ck_assert_str_eq(field(at[1], "type"), "clear");
}
END_TEST

START_TEST(the_reference_is_the_first_reference_windows_windows)
{
    build("window: 20, reference_windows: 3, max_score_shift: 1");
    observe_n(60, "yes", "yes", 0.75); /* the reference: three windows */
    ck_assert_msg(isnan(gauge_of("canary")->drift), "a drift before the reference was whole");
    observe_n(20, "no", "no", 0.75); /* the canary moved: tested against 60 */
    ck_assert_uint_eq(n_records, 1);
    assert_record_of(0, "canary", "alert", "input_drift", "1.0000", NULL, "20");
    ck_assert_str_eq(field(0, "reference_window"), "60");
}
END_TEST

static Suite *canary_monitor_suite(void)
{
    Suite *s = suite_create("canary_monitor");
    TCase *tc = tcase_create("windows");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, agreeing_model_raises_nothing);
    tcase_add_test(tc, disagreement_over_a_window_alerts_then_clears);
    tcase_add_test(tc, a_dip_the_counts_cannot_tell_from_chance_is_not_an_alert);
    tcase_add_test(tc, window_param_is_honoured);
    tcase_add_test(tc, default_window_is_1000);
    tcase_add_test(tc, requests_without_both_answers_are_not_compared);
    tcase_add_test(tc, score_shift_alerts_past_its_threshold_and_the_windows_error);
    tcase_add_test(tc, the_canary_drifting_is_input_drift_and_a_model_following_it_is_not);
    tcase_add_test(tc, an_alert_needs_its_evidence_for_tests_in_a_row_and_is_held_while_it_flaps);
    tcase_add_test(tc, windows_are_tested_at_most_every_test_interval);
    tcase_add_test(tc, keep_firing_for_holds_the_clear);
    tcase_add_test(tc, the_reference_is_the_first_reference_windows_windows);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(canary_monitor_suite());
}
