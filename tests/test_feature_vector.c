/*
 * test_feature_vector.c - bodies into feature vectors: declared fields by
 * name, missing and null as NaN, other keys ignored at any depth, and a
 * precise reason for every body that must go to dead-letter.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "feature_vector.h"
#include "test_helpers.h"

static char *names[] = {"amount", "hour", "merchant_risk"};

static int parse(const char *body, double *out, char *err)
{
    rv_feature_index *ix = rv_feature_index_new(names, 3);
    int rc = rv_features_parse(ix, (const uint8_t *)body, strlen(body), out, err, 256);
    rv_feature_index_free(ix);
    return rc;
}

START_TEST(fields_by_name_missing_is_nan)
{
    double v[3];
    char err[256];
    ck_assert_int_eq(parse("{\"hour\": 13, \"extra\": {\"amount\": 5, \"x\": [1, {\"a\": 2}]},"
                           " \"amount\": 12.5e1, \"note\": \"x\"}",
                           v, err),
                     0);
    ck_assert_double_eq(v[0], 125.0);
    ck_assert_double_eq(v[1], 13.0);
    ck_assert(isnan(v[2]));
    ck_assert_int_eq(parse("{\"merchant_risk\": null, \"amount\": -1}", v, err), 0);
    ck_assert(isnan(v[2]));
    ck_assert_double_eq(v[0], -1.0);
}
END_TEST

/* The next feature in config order is tried first: every order, a key that
 * is a prefix of a feature name, a nested key named like the next feature
 * and a repeated key give the same vector as the table alone would. */
START_TEST(any_key_order_same_vector)
{
    static const char *const bodies[] = {
        "{\"amount\": 1, \"hour\": 2, \"merchant_risk\": 3}",
        "{\"merchant_risk\": 3, \"hour\": 2, \"amount\": 1}",
        "{\"hour\": 2, \"merchant_risk\": 3, \"amount\": 1}",
        "{\"amount\": 1, \"hou\": 9, \"hour\": 2, \"merchant_risk\": 3}",
        "{\"amount\": 1, \"x\": {\"hour\": 9}, \"hour\": 2, \"merchant_risk\": 3}",
        "{\"amount\": 7, \"hour\": 2, \"amount\": 1, \"merchant_risk\": 3}",
        "{\"amount\": 1, \"hour\": 2, \"merchant_risk\": 3, \"hour\": 2}",
    };
    for (size_t b = 0; b < sizeof bodies / sizeof *bodies; b++) {
        double v[3];
        char err[256];
        ck_assert_msg(parse(bodies[b], v, err) == 0, "%s: %s", bodies[b], err);
        ck_assert_msg(v[0] == 1.0 && v[1] == 2.0 && v[2] == 3.0, "%s: %g %g %g", bodies[b], v[0],
                      v[1], v[2]);
    }
}
END_TEST

static void assert_rejected(const char *body, const char *reason)
{
    double v[3];
    char err[256] = "";
    ck_assert_msg(parse(body, v, err) != 0, "accepted: %s", body);
    ck_assert_msg(strstr(err, reason) != NULL, "for %s expected '%s', got '%s'", body, reason, err);
}

START_TEST(bad_bodies_have_reasons)
{
    assert_rejected("", "empty body");
    assert_rejected("  \n ", "empty body");
    assert_rejected("not json", "body is not valid JSON");
    assert_rejected("{\"amount\": 1", "body is not valid JSON");
    assert_rejected("[1, 2]", "body is a JSON array, expected an object");
    assert_rejected("42", "body is a JSON number, expected an object");
    assert_rejected("{\"amount\": \"12\"}", "feature 'amount' is a string, expected a number");
    assert_rejected("{\"hour\": true}", "feature 'hour' is a boolean, expected a number");
    assert_rejected("{\"hour\": [1]}", "feature 'hour' is a array, expected a number");
    assert_rejected("{\"hour\": {\"v\": 1}}", "feature 'hour' is a object, expected a number");
}
END_TEST

START_TEST(many_features_hash_lookup)
{
    char *many[200];
    char buf[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(buf[i], sizeof buf[i], "f%d", i);
        many[i] = buf[i];
    }
    rv_feature_index *ix = rv_feature_index_new(many, 200);
    char body[8192] = "{";
    for (int i = 199; i >= 0; i--)
        snprintf(body + strlen(body), sizeof body - strlen(body), "\"f%d\":%d%s", i, i,
                 i ? "," : "}");
    double v[200];
    char err[256];
    ck_assert_int_eq(rv_features_parse(ix, (const uint8_t *)body, strlen(body), v, err, 256), 0);
    for (int i = 0; i < 200; i++)
        ck_assert_double_eq(v[i], i);
    rv_feature_index_free(ix);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("feature_vector");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, fields_by_name_missing_is_nan);
    tcase_add_test(tc, any_key_order_same_vector);
    tcase_add_test(tc, bad_bodies_have_reasons);
    tcase_add_test(tc, many_features_hash_lookup);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
