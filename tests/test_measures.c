/*
 * test_measures.c - the measures of answers against true labels: small
 * cases worked by hand (perfect, inverted, ties, undefined figures), then
 * random answers from a fixed seed, two labels and four, with ties and
 * zero probabilities, against scikit-learn's figures for the same answers
 * (tests/measures_sklearn.py, Debian's python3-sklearn) within 1e-9.
 */
#include <check.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measures.h"
#include "test_helpers.h"

#define CLOSE(a, b) (fabs((a) - (b)) <= 1e-9 * fmax(1.0, fabs(b)))

static int by_score(const void *a, const void *b)
{
    double x = ((const rv_ranked *)a)->score, y = ((const rv_ranked *)b)->score;
    return (x > y) - (x < y);
}

/* The radix sort orders as qsort does: probabilities with ties, all equal,
 * negatives, zeros of both signs, subnormals, infinities, few and many. */
START_TEST(the_sort_orders_as_qsort)
{
    static const double odd[] = {0.0, -0.0, 1e-310, -1e-310, INFINITY, -INFINITY,
                                 1.0, -1.0, 0.5,    1e300,   -1e300,   0.25};
    srand(7);
    size_t sizes[] = {0, 1, 2, 3, 17, 4096, 10000};
    for (int kind = 0; kind < 4; kind++)
        for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
            size_t n = sizes[z];
            rv_ranked *v = malloc((n + 1) * sizeof *v), *w = malloc((n + 1) * sizeof *w);
            for (size_t i = 0; i < n; i++) {
                double x = kind == 0   ? (double)rand() / RAND_MAX
                           : kind == 1 ? (double)(rand() % 20) / 19 /* many ties */
                           : kind == 2 ? 0.375                      /* all equal */
                                       : odd[(size_t)rand() % (sizeof odd / sizeof *odd)] *
                                             (1 + rand() % 3);
                v[i] = w[i] = (rv_ranked){x, rand() & 1};
            }
            rv_measures_sort(v, n);
            qsort(w, n, sizeof *w, by_score);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(v[i].score == w[i].score, "kind %d, n %zu, at %zu: %g, not %g", kind,
                              n, i, v[i].score, w[i].score);
            /* the same entries, not only the same scores: each run of equal
             * scores has as many positives (ties may come in any order) */
            for (size_t i = 0, j; i < n; i = j) {
                size_t pv = 0, pw = 0;
                for (j = i; j < n && v[j].score == v[i].score; j++) {
                    pv += (size_t)v[j].positive;
                    pw += (size_t)w[j].positive;
                }
                ck_assert_uint_eq(pv, pw);
            }
            free(v);
            free(w);
        }
}
END_TEST

START_TEST(perfect_and_inverted_answers)
{
    double p[] = {0.9, 0.1, 0.2, 0.8, 0.7, 0.3, 0.4, 0.6};
    uint32_t right[] = {0, 1, 0, 1}, wrong[] = {1, 0, 1, 0};
    rv_measures m;
    ck_assert_int_eq(rv_measures_compute(2, 4, p, right, &m), 0);
    ck_assert_uint_eq(m.count, 4);
    ck_assert(CLOSE(m.accuracy, 1.0));
    ck_assert(CLOSE(m.auc, 1.0));
    ck_assert(CLOSE(m.brier, (0.01 + 0.04 + 0.09 + 0.16) / 4));
    ck_assert(CLOSE(m.log_loss, -(log(0.9) + log(0.8) + log(0.7) + log(0.6)) / 4));
    ck_assert(CLOSE(m.precision[0], 1.0) && CLOSE(m.recall[1], 1.0));
    /* tops 0.9, 0.8 / 0.7 / 0.6: bins 9, 8, 7, 6, each right */
    ck_assert_uint_eq(m.bins[9].count, 1);
    ck_assert_uint_eq(m.bins[6].count, 1);
    ck_assert(CLOSE(m.ece, (0.1 + 0.2 + 0.3 + 0.4) / 4));
    rv_measures_clear(&m);
    ck_assert_int_eq(rv_measures_compute(2, 4, p, wrong, &m), 0);
    ck_assert(CLOSE(m.accuracy, 0.0));
    ck_assert(CLOSE(m.auc, 0.0));
    rv_measures_clear(&m);
}
END_TEST

START_TEST(ties_count_half)
{
    double p[] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    uint32_t truth[] = {0, 1, 1};
    rv_measures m;
    ck_assert_int_eq(rv_measures_compute(2, 3, p, truth, &m), 0);
    ck_assert(CLOSE(m.auc, 0.5));
    /* equal probabilities: the first label is the top one */
    ck_assert(CLOSE(m.accuracy, 1.0 / 3));
    rv_measures_clear(&m);
}
END_TEST

START_TEST(undefined_figures_are_nan)
{
    rv_measures m;
    ck_assert_int_eq(rv_measures_compute(3, 0, NULL, NULL, &m), 0);
    ck_assert(isnan(m.accuracy) && isnan(m.log_loss) && isnan(m.brier) && isnan(m.auc));
    ck_assert(isnan(m.ece) && isnan(m.precision[2]) && isnan(m.recall[0]));
    rv_measures_clear(&m);
    /* only label 0 is ever true, so no label is both true and false: no
     * AUC; labels 1 and 2 are never predicted, 2 is never true */
    double p[] = {0.6, 0.4, 0.0, 0.7, 0.3, 0.0};
    uint32_t truth[] = {0, 0};
    ck_assert_int_eq(rv_measures_compute(3, 2, p, truth, &m), 0);
    ck_assert(isnan(m.auc));
    ck_assert(isnan(m.precision[1]) && isnan(m.precision[2]) && isnan(m.recall[2]));
    ck_assert(CLOSE(m.precision[0], 1.0));
    /* a zero probability is clipped, not infinite */
    ck_assert(isfinite(m.log_loss));
    rv_measures_clear(&m);
}
END_TEST

/* n random answers over k labels: the true label drawn first, then integer
 * weights 0..20 with the true label's raised at random, scaled to sum 1 -
 * so that probabilities tie and some are zero. */
static void random_answers(uint64_t *seed, size_t k, size_t n, double *p, uint32_t *truth)
{
    for (size_t i = 0; i < n; i++) {
        truth[i] = (uint32_t)(test_xorshift(seed) % k);
        double sum = 0, *row = p + i * k;
        for (size_t j = 0; j < k; j++) {
            row[j] = (double)(test_xorshift(seed) % 21);
            if (j == truth[i])
                row[j] += (double)(test_xorshift(seed) % 15);
            sum += row[j];
        }
        if (sum == 0)
            row[0] = sum = 1;
        for (size_t j = 0; j < k; j++)
            row[j] /= sum;
    }
}

/* scikit-learn's figure called name in the reference's output. */
static double reference(const char *out, const char *name)
{
    char want[64];
    snprintf(want, sizeof want, "\n%s ", name);
    const char *at = strstr(out, want);
    ck_assert_msg(at, "no %s in the reference's output:\n%s", name, out);
    return strtod(at + strlen(want), NULL);
}

static void same(double ours, double theirs, const char *name, size_t k)
{
    ck_assert_msg((isnan(ours) && isnan(theirs)) || CLOSE(ours, theirs),
                  "%zu labels, %s: ours %.17g, scikit-learn %.17g", k, name, ours, theirs);
}

static void against_sklearn(size_t k, size_t n, uint64_t seed)
{
    double *p = malloc(n * k * sizeof *p);
    uint32_t *truth = malloc(n * sizeof *truth);
    ck_assert(p && truth);
    random_answers(&seed, k, n, p, truth);
    char *dir = test_tmpdir(), csv[512], cmd[2048];
    snprintf(csv, sizeof csv, "%s/answers.csv", dir);
    FILE *f = fopen(csv, "w");
    ck_assert(f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%u", truth[i]);
        for (size_t j = 0; j < k; j++)
            fprintf(f, ",%.17g", p[i * k + j]);
        fputc('\n', f);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/measures_sklearn.py %s", RV_SOURCE_DIR,
             csv);
    FILE *py = popen(cmd, "r");
    ck_assert(py);
    char out[8192] = "\n";
    size_t len = fread(out + 1, 1, sizeof out - 2, py);
    out[len + 1] = '\0';
    ck_assert_msg(pclose(py) == 0, "the reference failed:\n%s", out);

    rv_measures m;
    ck_assert_int_eq(rv_measures_compute(k, n, p, truth, &m), 0);
    same(m.accuracy, reference(out, "accuracy"), "accuracy", k);
    same(m.log_loss, reference(out, "log_loss"), "log loss", k);
    same(m.brier, reference(out, "brier"), "Brier", k);
    same(m.auc, reference(out, "auc"), "AUC", k);
    same(m.ece, reference(out, "ece"), "ECE", k);
    for (size_t j = 0; j < k; j++) {
        char name[32];
        snprintf(name, sizeof name, "precision%zu", j);
        same(m.precision[j], reference(out, name), name, k);
        snprintf(name, sizeof name, "recall%zu", j);
        same(m.recall[j], reference(out, name), name, k);
    }
    rv_measures_clear(&m);
    unlink(csv);
    rmdir(dir);
    free(dir);
    free(p);
    free(truth);
}

START_TEST(two_labels_as_sklearn)
{
    against_sklearn(2, 20000, 0x5eed1);
}
END_TEST

START_TEST(four_labels_as_sklearn)
{
    against_sklearn(4, 20000, 0x5eed2);
}
END_TEST

/* Answers split over three accumulators and merged measure the same as
 * all of them in one, and as all of them added to two at once (and to no
 * NULL one). */
START_TEST(merged_buckets_measure_as_one)
{
    enum { N = 9000, K = 3 };
    static double p[N * K];
    static uint32_t truth[N];
    uint64_t seed = 0x5eed3;
    random_answers(&seed, K, N, p, truth);
    rv_measures_acc *part[3], *all = rv_measures_acc_new(K, 0);
    rv_measures_acc *twice[3] = {NULL, rv_measures_acc_new(K, 0), rv_measures_acc_new(K, 0)};
    for (int j = 0; j < 3; j++)
        ck_assert_ptr_nonnull(part[j] = rv_measures_acc_new(K, 0));
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(rv_measures_acc_add(part[i % 3], p + i * K, truth[i]), 0);
        ck_assert_int_eq(rv_measures_acc_add(all, p + i * K, truth[i]), 0);
        ck_assert_int_eq(rv_measures_acc_add_to(twice, 3, p + i * K, truth[i]), 0);
    }
    for (int j = 1; j < 3; j++) {
        rv_measures x, y;
        ck_assert_int_eq(rv_measures_get(twice[j], &x), 0);
        ck_assert_int_eq(rv_measures_get(all, &y), 0);
        ck_assert(x.count == y.count && x.accuracy == y.accuracy && x.log_loss == y.log_loss);
        ck_assert(x.brier == y.brier && x.ece == y.ece && x.auc == y.auc);
        rv_measures_clear(&x);
        rv_measures_clear(&y);
        rv_measures_acc_free(twice[j]);
    }
    ck_assert_int_eq(rv_measures_acc_merge(part[0], part[1]), 0);
    ck_assert_int_eq(rv_measures_acc_merge(part[0], part[2]), 0);
    rv_measures a, b;
    ck_assert_int_eq(rv_measures_get(part[0], &a), 0);
    ck_assert_int_eq(rv_measures_get(all, &b), 0);
    ck_assert_uint_eq(a.count, N);
    ck_assert(CLOSE(a.accuracy, b.accuracy) && CLOSE(a.log_loss, b.log_loss));
    ck_assert(CLOSE(a.brier, b.brier) && CLOSE(a.ece, b.ece));
    ck_assert(a.auc == b.auc && a.auc_error == 0);
    for (int k = 0; k < K; k++)
        ck_assert(a.precision[k] == b.precision[k] && a.recall[k] == b.recall[k]);
    rv_measures_clear(&a);
    rv_measures_clear(&b);
    rv_measures_acc *other = rv_measures_acc_new(2, 0);
    ck_assert_int_eq(rv_measures_acc_merge(all, other), -1);
    rv_measures_acc_free(other);
    for (int j = 0; j < 3; j++)
        rv_measures_acc_free(part[j]);
    rv_measures_acc_free(all);
}
END_TEST

/* More distinct scores than are kept exactly: the AUC is then within its
 * stated error of the exact one (all scores ranked). */
START_TEST(coarsened_scores_stay_within_the_stated_error)
{
    enum { N = 300000 };
    double *p = malloc(2 * N * sizeof *p);
    uint32_t *truth = malloc(N * sizeof *truth);
    rv_ranked *v = malloc(N * sizeof *v);
    ck_assert(p && truth && v);
    uint64_t seed = 0x5eed4;
    for (size_t i = 0; i < N; i++) {
        truth[i] = (uint32_t)(test_xorshift(&seed) % 2);
        double u = (double)(test_xorshift(&seed) >> 11) / 9007199254740992.0;
        p[2 * i + 1] = truth[i] ? sqrt(u) : u; /* positives score higher */
        p[2 * i] = 1 - p[2 * i + 1];
        v[i] = (rv_ranked){p[2 * i + 1], truth[i] == 1};
    }
    rv_measures m;
    ck_assert_int_eq(rv_measures_compute(2, N, p, truth, &m), 0);
    double exact = rv_measures_auc(v, N);
    ck_assert(m.auc_error > 0 && m.auc_error < 0.01);
    ck_assert_msg(fabs(m.auc - exact) <= m.auc_error, "AUC %.12f, exact %.12f, error %.3g", m.auc,
                  exact, m.auc_error);
    rv_measures_clear(&m);
    /* a bucket of a window keeps fewer: a wider bound, still kept */
    rv_measures_acc *small = rv_measures_acc_new(2, 256);
    for (size_t i = 0; i < N; i++)
        ck_assert_int_eq(rv_measures_acc_add(small, p + 2 * i, truth[i]), 0);
    ck_assert_int_eq(rv_measures_get(small, &m), 0);
    ck_assert(m.auc_error > 0 && fabs(m.auc - exact) <= m.auc_error);
    rv_measures_clear(&m);
    rv_measures_acc_free(small);
    free(p);
    free(truth);
    free(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("measures");
    TCase *tc = tcase_create("measures");
    tcase_add_test(tc, the_sort_orders_as_qsort);
    tcase_add_test(tc, perfect_and_inverted_answers);
    tcase_add_test(tc, ties_count_half);
    tcase_add_test(tc, undefined_figures_are_nan);
    tcase_add_test(tc, two_labels_as_sklearn);
    tcase_add_test(tc, four_labels_as_sklearn);
    tcase_add_test(tc, merged_buckets_measure_as_one);
    tcase_add_test(tc, coarsened_scores_stay_within_the_stated_error);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
