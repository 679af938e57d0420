/*
 * test_evaluation_labels.c - every label record has one outcome: the
 * reader (evaluation/evaluator_read.h) tells a label from an empty value, a
 * value that is no JSON, JSON that is no object, an object without an id
 * a request can have or without a string label, whatever their size; the
 * records that are none are counted at the commit with the offsets, and
 * the counts are kept across a restart.
 */
#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluation.h"
#include "evaluator_read.h"
#include "test_helpers.h"

static const char *const LABELS[] = {"benign", "malignant"};
static char err[512];

/* rc and why of the label record text (NULL: no value) */
static int outcome(rv_eval_record *r, const char *text, rv_label_refusal *why)
{
    return rv_eval_label_read(text, text ? strlen(text) : 0, r, why);
}

START_TEST(each_kind_of_label_record_has_one_outcome)
{
    static const struct {
        const char *text;
        int why; /* -1: a label */
    } cases[] = {
        {NULL, RV_LABEL_EMPTY},
        {"", RV_LABEL_EMPTY},
        {" \n\t", RV_LABEL_EMPTY},
        {"{\"id\": \"r-1\", \"label\": \"ben", RV_LABEL_MALFORMED_JSON},
        {"benign, not JSON", RV_LABEL_MALFORMED_JSON},
        {"[{\"id\": \"r-1\"", RV_LABEL_MALFORMED_JSON},
        {"{\"id\": \"r-1\", \"label\": \"benign\"} {}", RV_LABEL_MALFORMED_JSON},
        {"[{\"id\": \"r-1\", \"label\": \"benign\"}]", RV_LABEL_NOT_AN_OBJECT},
        {"17", RV_LABEL_NOT_AN_OBJECT},
        {" \"r-1\"", RV_LABEL_NOT_AN_OBJECT},
        {"null", RV_LABEL_NOT_AN_OBJECT},
        {"{\"id\": 17, \"label\": \"benign\"}", RV_LABEL_BAD_ID},
        {"{\"label\": \"benign\"}", RV_LABEL_BAD_ID},
        {"{\"id\": \"\", \"label\": \"benign\"}", RV_LABEL_BAD_ID},
        {"{\"id\": [\"r-1\"], \"label\": \"benign\"}", RV_LABEL_BAD_ID},
        {"{\"id\": \"r-1\", \"label\": 1}", RV_LABEL_BAD_LABEL},
        {"{\"id\": \"r-1\"}", RV_LABEL_BAD_LABEL},
        {"{\"id\": \"r-1\", \"label\": null}", RV_LABEL_BAD_LABEL},
        {"{\"id\": \"r-1\", \"label\": \"cat\"}", -1}, /* unknown: the join says */
        {"{\"id\": \"r-1\", \"label\": \"benign\", \"time\": 5}", -1},
    };
    rv_eval_record r = {0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rv_label_refusal why = RV_LABEL_REFUSALS;
        int rc = outcome(&r, cases[i].text, &why);
        if (cases[i].why < 0)
            ck_assert_msg(rc == 0 && strcmp(r.id, "r-1") == 0, "%s: not a label", cases[i].text);
        else
            ck_assert_msg(rc == 1 && (int)why == cases[i].why, "%s: rc %d, %s", cases[i].text, rc,
                          rc == 1 ? rv_evaluation_refusal_name(why) : "a label");
    }
    ck_assert_str_eq(r.label, "benign");
    ck_assert(r.has_time && r.time == 5);
    rv_eval_record_free(&r);
}
END_TEST

/* "{"id": "<id>", "label": "<label>"}" with an id of id_len bytes and a
 * label of label_len ('i' and 'x'), in a new string. */
static char *record(size_t id_len, size_t label_len)
{
    char *s = malloc(id_len + label_len + 32), *at = s;
    at += sprintf(at, "{\"id\": \"");
    memset(at, 'i', id_len);
    at += id_len;
    at += sprintf(at, "\", \"label\": \"");
    memset(at, 'x', label_len);
    at += label_len;
    sprintf(at, "\"}");
    return s;
}

START_TEST(a_label_or_an_id_of_any_size_is_read_whole)
{
    rv_eval_record r = {0};
    rv_label_refusal why;
    char *big = record(8, 900000);
    ck_assert_int_eq(outcome(&r, big, &why), 0);
    ck_assert_uint_eq(strlen(r.label), 900000);
    free(big);
    big = record(200000, 6);
    ck_assert_int_eq(outcome(&r, big, &why), 1);
    ck_assert_int_eq(why, RV_LABEL_BAD_ID);
    ck_assert_uint_eq(strlen(r.id), 200000);
    free(big);
    big = record(RV_EVALUATION_MAX_ID + 1, 6); /* no request's: the store keeps none as long */
    ck_assert_int_eq(outcome(&r, big, &why), 1);
    ck_assert_int_eq(why, RV_LABEL_BAD_ID);
    free(big);
    big = record(RV_EVALUATION_MAX_ID, 6);
    ck_assert_int_eq(outcome(&r, big, &why), 0);
    free(big);
    /* escapes unescaped, in a store the size of the record */
    ck_assert_int_eq(outcome(&r, "{\"id\":\"r\\u00e9\",\"label\":\"\\ud83d\\ude00\"}", &why), 0);
    ck_assert_str_eq(r.id, "r\xc3\xa9");
    ck_assert_str_eq(r.label, "\xf0\x9f\x98\x80");
    rv_eval_record_free(&r);
}
END_TEST

static rv_evaluation *open_at(const char *dir)
{
    rv_evaluation_settings s = {dir, 8 << 20, 86400000, 2, LABELS, 4, 1};
    rv_evaluation *e = rv_evaluation_open(&s, 0, err, sizeof err);
    ck_assert_msg(e, "open: %s", err);
    return e;
}

static void counted(rv_evaluation *e, const uint64_t want[RV_LABEL_REFUSALS])
{
    rv_evaluation_counts c;
    rv_evaluation_counts_get(e, &c);
    for (int why = 0; why < RV_LABEL_REFUSALS; why++)
        ck_assert_msg(*rv_evaluation_refused(&c, why) == want[why], "%s: %llu, expected %llu",
                      rv_evaluation_refusal_name(why),
                      (unsigned long long)*rv_evaluation_refused(&c, why),
                      (unsigned long long)want[why]);
    ck_assert_uint_eq(c.labels, 0);
}

START_TEST(label_records_that_are_none_are_counted_with_the_offsets)
{
    char *dir = test_tmpdir();
    rv_evaluation *e = open_at(dir);
    uint64_t want[RV_LABEL_REFUSALS] = {0};
    for (int why = 0; why < RV_LABEL_REFUSALS; why++)
        for (int k = 0; k <= why; k++) {
            ck_assert_int_eq(rv_evaluation_refuse_label(e, why), 0);
            want[why]++;
        }
    ck_assert_int_eq(rv_evaluation_set_offset(e, "svc.labels", 0, 15), 0);
    counted(e, (uint64_t[RV_LABEL_REFUSALS]){0}); /* queued: not yet */
    ck_assert_msg(rv_evaluation_commit(e, 10, err, sizeof err) == 0, "commit: %s", err);
    counted(e, want);
    /* queued, never committed: read again after the restart */
    ck_assert_int_eq(rv_evaluation_refuse_label(e, RV_LABEL_EMPTY), 0);
    ck_assert_int_eq(rv_evaluation_set_offset(e, "svc.labels", 0, 16), 0);
    rv_evaluation_close(e);
    e = open_at(dir);
    counted(e, want);
    ck_assert_int_eq(rv_evaluation_offset(e, "svc.labels", 0), 15);
    rv_evaluation_close(e);
    test_rmdir(dir);
}
END_TEST

START_TEST(each_refusal_has_its_outcome_name)
{
    static const char *const names[] = {"empty", "malformed_json", "not_an_object", "bad_id",
                                        "bad_label"};
    ck_assert_int_eq(sizeof names / sizeof *names, RV_LABEL_REFUSALS);
    for (int why = 0; why < RV_LABEL_REFUSALS; why++)
        ck_assert_str_eq(rv_evaluation_refusal_name(why), names[why]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("evaluation_labels");
    TCase *tc = tcase_create("evaluation_labels");
    tcase_add_test(tc, each_kind_of_label_record_has_one_outcome);
    tcase_add_test(tc, a_label_or_an_id_of_any_size_is_read_whole);
    tcase_add_test(tc, label_records_that_are_none_are_counted_with_the_offsets);
    tcase_add_test(tc, each_refusal_has_its_outcome_name);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
