/*
 * test_stats.c - the latency histograms: a percentile is within 1/64 of the
 * exact nearest-rank value of the same samples (exact under 32 us), the
 * Prometheus buckets count exactly the values under each power of two, and
 * the summary lines are Prometheus' summary format.
 */
#include <check.h>

#include <math.h>
#include <stdlib.h>

#include "prom.h"
#include "stats.h"
#include "test_helpers.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Distributions of latencies: uniform small, log-uniform over 1 us..10 s,
 * and a bimodal one (most fast, a tail slow). */
static int64_t sample(uint64_t *rng, int kind)
{
    uint64_t r = test_xorshift(rng);
    switch (kind) {
    case 0: return (int64_t)(r % 100);
    case 1: return (int64_t)exp((double)(r % 1000000) / 1000000.0 * log(1e7));
    default: return r % 100 ? 200 + (int64_t)(r % 300) : 50000 + (int64_t)(r % 500000);
    }
}

START_TEST(percentiles_within_a_sixty_fourth)
{
    enum { N = 100000 };
    static int64_t v[N];
    static rv_latency_hist h;
    memset(&h, 0, sizeof h);
    uint64_t rng = 0x243f6a8885a308d3ull + (uint64_t)_i;
    for (int i = 0; i < N; i++) {
        v[i] = sample(&rng, _i);
        rv_latency_add(&h, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_i64);
    static const double qs[] = {0.0001, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0};
    for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
        size_t rank = (size_t)ceil(qs[k] * N); /* nearest rank, 1-based */
        double exact = (double)v[rank - 1], got = rv_latency_quantile(&h, qs[k]);
        if (exact < 32)
            ck_assert_msg(got == exact, "q %g: %g, exactly %g", qs[k], got, exact);
        else
            ck_assert_msg(fabs(got - exact) <= exact / 64, "q %g: %g, exactly %g", qs[k], got,
                          exact);
    }
    for (int b = 0; b < RV_LATENCY_BUCKETS; b++) {
        uint64_t below = 0;
        while (below < N && v[below] < (int64_t)1 << b)
            below++;
        ck_assert_uint_eq(rv_latency_below_pow2(&h, b), below);
    }
    ck_assert_uint_eq(atomic_load(&h.count), N);
}
END_TEST

START_TEST(empty_and_out_of_range)
{
    static rv_latency_hist h;
    memset(&h, 0, sizeof h);
    ck_assert(rv_latency_quantile(&h, 0.99) == 0);
    rv_latency_add(&h, -5); /* a clock step: counted as 0 */
    ck_assert(rv_latency_quantile(&h, 0.5) == 0);
    rv_latency_add(&h, INT64_MAX); /* past the last slot: kept in it */
    ck_assert(rv_latency_quantile(&h, 1.0) > 1e10);
    ck_assert_uint_eq(atomic_load(&h.count), 2);
}
END_TEST

START_TEST(summary_lines)
{
    rv_text t = {0};
    static const double q[] = {0.5, 0.99};
    static const double v[] = {0.000125, 0.0025};
    rv_prom_label l[] = {{"model", "a"}};
    rv_prom_family(&t, "x_seconds", "summary", "Things.");
    rv_prom_summary(&t, "x_seconds", l, 1, q, v, 2, 1.5, 12);
    ck_assert(!t.oom);
    ck_assert_str_eq(t.p, "# HELP x_seconds Things.\n"
                          "# TYPE x_seconds summary\n"
                          "x_seconds{model=\"a\",quantile=\"0.5\"} 0.000125\n"
                          "x_seconds{model=\"a\",quantile=\"0.99\"} 0.0025\n"
                          "x_seconds_sum{model=\"a\"} 1.5\n"
                          "x_seconds_count{model=\"a\"} 12\n");
    rv_text_free(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("latency");
    tcase_add_loop_test(tc, percentiles_within_a_sixty_fourth, 0, 3);
    tcase_add_test(tc, empty_and_out_of_range);
    tcase_add_test(tc, summary_lines);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
