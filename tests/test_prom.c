/*
 * test_prom.c - the Prometheus text writer: exact lines, label values
 * escaped once whatever their length, numbers that read back exactly,
 * cumulative histogram buckets ending in +Inf.
 */
#include <check.h>

#include <math.h>
#include <string.h>

#include "prom.h"
#include "test_helpers.h"

START_TEST(family_and_plain_samples)
{
    rv_text t = {0};
    rv_prom_family(&t, "x_total", "counter", "Things.");
    rv_prom_counter(&t, "x_total", NULL, 0, 18446744073709551615ULL);
    rv_prom_gauge(&t, "g", NULL, 0, 0.1);
    rv_prom_gauge(&t, "g", NULL, 0, NAN);
    rv_prom_gauge(&t, "g", NULL, 0, -INFINITY);
    rv_prom_gauge(&t, "g", NULL, 0, 3);
    ck_assert_str_eq(rv_text_str(&t), "# HELP x_total Things.\n"
                                      "# TYPE x_total counter\n"
                                      "x_total 18446744073709551615\n"
                                      "g 0.1\n"
                                      "g NaN\n"
                                      "g -Inf\n"
                                      "g 3\n");
    ck_assert(!t.oom);
    rv_text_free(&t);
}
END_TEST

START_TEST(label_values_are_escaped)
{
    rv_text t = {0};
    rv_prom_label l[] = {{"model", "a\"b\\c\nd"}, {"status", ""}};
    rv_prom_counter(&t, "m", l, 2, 7);
    ck_assert_str_eq(rv_text_str(&t), "m{model=\"a\\\"b\\\\c\\nd\",status=\"\"} 7\n");
    rv_text_free(&t);

    /* A long name is written whole, not cut at a buffer's size. */
    char name[5000];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    name[2500] = '"';
    rv_prom_label one[] = {{"model", name}};
    rv_prom_gauge(&t, "q", one, 1, 1);
    ck_assert_uint_eq(t.len, strlen("q{model=\"\"} 1\n") + sizeof name - 1 + 1);
    ck_assert(strstr(rv_text_str(&t), "nn\\\"nn") != NULL);
    rv_text_free(&t);
}
END_TEST

START_TEST(histogram_is_cumulative)
{
    rv_text t = {0};
    uint64_t counts[] = {1, 0, 2, 4};
    double upper[] = {0.001, 0.002, 0.004, 99};
    rv_prom_label l[] = {{"model", "a"}};
    rv_prom_histogram(&t, "h_seconds", l, 1, counts, upper, 4, 0.25);
    rv_prom_histogram(&t, "e", NULL, 0, counts, upper, 2, 0);
    ck_assert_str_eq(rv_text_str(&t), "h_seconds_bucket{model=\"a\",le=\"0.001\"} 1\n"
                                      "h_seconds_bucket{model=\"a\",le=\"0.002\"} 1\n"
                                      "h_seconds_bucket{model=\"a\",le=\"0.004\"} 3\n"
                                      "h_seconds_bucket{model=\"a\",le=\"+Inf\"} 7\n"
                                      "h_seconds_sum{model=\"a\"} 0.25\n"
                                      "h_seconds_count{model=\"a\"} 7\n"
                                      "e_bucket{le=\"0.001\"} 1\n"
                                      "e_bucket{le=\"+Inf\"} 1\n"
                                      "e_sum 0\n"
                                      "e_count 1\n");
    rv_text_free(&t);
}
END_TEST

/* Every finite double is written so that it reads back as itself. */
START_TEST(numbers_read_back_exactly)
{
    uint64_t bits = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 100000; i++) {
        bits ^= bits << 13, bits ^= bits >> 7, bits ^= bits << 17;
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        rv_text t = {0};
        rv_prom_gauge(&t, "g", NULL, 0, v);
        ck_assert_msg(strtod(rv_text_str(&t) + 2, NULL) == v, "%s", rv_text_str(&t));
        rv_text_free(&t);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prom");
    TCase *tc = tcase_create("writer");
    tcase_add_test(tc, family_and_plain_samples);
    tcase_add_test(tc, label_values_are_escaped);
    tcase_add_test(tc, histogram_is_cumulative);
    tcase_add_test(tc, numbers_read_back_exactly);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
