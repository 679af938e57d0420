/*
 * test_stattest.c - the statistical tests against SciPy: the cases are
 * written to a file, tests/stattest_scipy.py (Debian's python3-scipy)
 * prints SciPy's figures for them, and each of ours must be within 1e-9
 * of SciPy's (absolute; relative for values below 1e-6). The KS cases are
 * samples from fixed seeds: equal and unequal sizes, several shapes, ties
 * (values on a 0.001 grid, as 1000 bins over [0,1] give), histograms,
 * identical samples (D = 0), disjoint ones (D = 1) and random interleavings
 * of small samples (many lattice points of d). DeLong's AUCs and variance
 * against the textbook O(m k) definition in NumPy and scikit-learn's
 * roc_auc_score (scores on 0.01 and 0.1 grids, unbalanced classes, 20 to
 * 5000 requests), the paired z-test against scipy.stats.norm.sf. Cases
 * worked by hand and the exact/asymptotic switch need no SciPy.
 */
#include <check.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stattest.h"
#include "test_helpers.h"

/* Within 1e-9 of SciPy: absolute, relative below 1e-6. Below 1e-300,
 * where doubles run out of digits, two tiny values agree. */
static int near(double ours, double ref)
{
    if (isnan(ref))
        return isnan(ours);
    if (fabs(ref) < 1e-300 && fabs(ours) < 1e-300)
        return 1;
    return fabs(ours - ref) <= 1e-9 * (fabs(ref) < 1e-6 ? fabs(ref) : 1);
}

static double uniform(uint64_t *s)
{
    return (double)(test_xorshift(s) >> 11) * 0x1p-53;
}

static double normal(uint64_t *s) /* Box-Muller */
{
    double u = uniform(s), v = uniform(s);
    return sqrt(-2 * log1p(-u)) * cos(2 * M_PI * v);
}

static int by_value(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* ---- the reference: cases written, SciPy run once, its lines read back */

typedef struct scipy_run {
    char *dir, path[512];
    FILE *cases;
    char *out, *at; /* SciPy's output, its next line */
} scipy_run;

static void scipy_open(scipy_run *r)
{
    r->dir = test_tmpdir();
    snprintf(r->path, sizeof r->path, "%s/cases.txt", r->dir);
    ck_assert_ptr_nonnull(r->cases = fopen(r->path, "w"));
}

static void scipy_run_cases(scipy_run *r)
{
    ck_assert_int_eq(fclose(r->cases), 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/stattest_scipy.py %s", RV_SOURCE_DIR,
             r->path);
    FILE *py = popen(cmd, "r");
    ck_assert_ptr_nonnull(py);
    size_t cap = 1 << 16, len = 0, got;
    ck_assert_ptr_nonnull(r->out = malloc(cap));
    while ((got = fread(r->out + len, 1, cap - len - 1, py)) > 0)
        if ((len += got) + 1 == cap)
            ck_assert_ptr_nonnull(r->out = realloc(r->out, cap *= 2));
    r->out[len] = '\0';
    ck_assert_msg(pclose(py) == 0, "the reference failed:\n%s", r->out);
    r->at = r->out;
}

/* The next line's k figures. */
static void scipy_next(scipy_run *r, double *v, int k)
{
    for (int i = 0; i < k; i++) {
        char *end;
        v[i] = strtod(r->at, &end);
        ck_assert_msg(end != r->at, "the reference's output is short: '%.60s'", r->at);
        r->at = end;
    }
    ck_assert_msg(*r->at == '\n', "the reference's line is long: '%.60s'", r->at);
    r->at++;
}

static void scipy_close(scipy_run *r)
{
    ck_assert_msg(*r->at == '\0', "the reference's output is long: '%.60s'", r->at);
    unlink(r->path);
    rmdir(r->dir);
    free(r->dir);
    free(r->out);
}

static void write_sample(FILE *f, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, i ? " %.17g" : "%.17g", v[i]);
    fputc('\n', f);
}

/* ---- two-sample cases */

typedef enum { UNIFORM, NORMAL, EXPO, GRID, COARSE } shape;

/* A value of that shape; `shift` moves, scales or skews it. GRID: on the
 * 0.001 grid of [0,1] (1000 bins), COARSE: on a 0.05 one (ties galore). */
static double draw(uint64_t *s, shape k, double shift)
{
    switch (k) {
    case UNIFORM: return uniform(s) + shift;
    case NORMAL: return normal(s) + shift;
    case EXPO: return -log1p(-uniform(s)) * (1 + shift);
    case GRID: return round(pow(uniform(s), 1 + shift) * 1000) / 1000;
    case COARSE: return round(pow(uniform(s), 1 + shift) * 20) / 20;
    }
    return NAN;
}

typedef struct ks_case {
    char what[80];
    double *a, *b; /* sorted */
    size_t na, nb;
} ks_case;

#define KS_CASES 256

static ks_case *ks_add(ks_case *c, size_t *nc, size_t na, size_t nb, const char *what)
{
    ck_assert_uint_lt(*nc, KS_CASES);
    ks_case *k = &c[(*nc)++];
    snprintf(k->what, sizeof k->what, "%s, %zu vs %zu", what, na, nb);
    k->na = na;
    k->nb = nb;
    ck_assert_ptr_nonnull(k->a = malloc(na * sizeof *k->a));
    ck_assert_ptr_nonnull(k->b = malloc(nb * sizeof *k->b));
    return k;
}

static const struct ks_spec {
    size_t na, nb;
    shape ka, kb;
    double shift_b;
    const char *what;
} ks_specs[] = {
    {37, 53, UNIFORM, UNIFORM, 0, "uniform, one distribution"},
    {37, 53, NORMAL, NORMAL, 1.2, "normal, shifted"},
    {50, 50, UNIFORM, UNIFORM, 0.25, "uniform, shifted"},
    {1000, 1000, NORMAL, NORMAL, 0, "normal, one distribution"},
    {1000, 1000, NORMAL, NORMAL, 0.22, "normal, shifted 0.22"},
    {1000, 1000, NORMAL, NORMAL, 0.30, "normal, shifted 0.30"},
    {1000, 1000, NORMAL, NORMAL, 0.36, "normal, shifted 0.36"},
    {1000, 1000, NORMAL, NORMAL, 0.45, "normal, shifted 0.45"},
    {600, 1400, EXPO, EXPO, 0, "exponential, one distribution"},
    {600, 1400, EXPO, EXPO, 0.15, "exponential, scaled"},
    {600, 1400, NORMAL, UNIFORM, -0.5, "normal against uniform"},
    {300, 700, NORMAL, NORMAL, 0.4, "normal, shifted"},
    {1000, 1000, GRID, GRID, 0, "0.001 grid, one distribution"},
    {1000, 1000, GRID, GRID, 0.2, "0.001 grid, skewed"},
    {600, 1400, GRID, GRID, 0.1, "0.001 grid, skewed"},
    {37, 53, GRID, GRID, 0.5, "0.001 grid, skewed"},
    {37, 53, COARSE, COARSE, 0.3, "0.05 grid, skewed"},
    {400, 400, COARSE, COARSE, 0.1, "0.05 grid, skewed"},
    {1, 1, UNIFORM, UNIFORM, 0, "one value each"},
    {1, 9, UNIFORM, UNIFORM, 0, "one value against nine"},
};

static size_t ks_cases(ks_case *c)
{
    size_t nc = 0;
    uint64_t seed = 0x5eed5;
    for (size_t s = 0; s < sizeof ks_specs / sizeof *ks_specs; s++) {
        const struct ks_spec *p = &ks_specs[s];
        ks_case *k = ks_add(c, &nc, p->na, p->nb, p->what);
        for (size_t i = 0; i < p->na; i++)
            k->a[i] = draw(&seed, p->ka, 0);
        for (size_t i = 0; i < p->nb; i++)
            k->b[i] = draw(&seed, p->kb, p->shift_b);
    }
    /* identical: the same values, also each twice over (D = 0, p = 1) */
    static const size_t same[][2] = {{200, 200}, {100, 200}, {1000, 1000}, {700, 2100}};
    for (size_t s = 0; s < 4; s++) {
        ks_case *k = ks_add(c, &nc, same[s][0], same[s][1], "identical");
        for (size_t i = 0; i < k->na; i++)
            k->a[i] = draw(&seed, s < 2 ? NORMAL : GRID, 0);
        for (size_t i = 0; i < k->nb; i++)
            k->b[i] = k->a[i % k->na];
    }
    /* disjoint: every a below every b (D = 1) */
    static const size_t apart[][2] = {{5, 7}, {37, 53}, {1000, 1000}, {600, 1400}, {40, 40}};
    for (size_t s = 0; s < 5; s++) {
        ks_case *k = ks_add(c, &nc, apart[s][0], apart[s][1], "disjoint");
        for (size_t i = 0; i < k->na; i++)
            k->a[i] = uniform(&seed);
        for (size_t i = 0; i < k->nb; i++)
            k->b[i] = 2 + uniform(&seed);
    }
    /* small samples interleaved at random: the values are the positions */
    static const size_t small[][2] = {{3, 5}, {7, 7}, {8, 12}, {10, 15}, {2, 9}, {13, 13}};
    for (size_t s = 0; s < 6; s++)
        for (int r = 0; r < 30; r++) {
            size_t na = small[s][0], nb = small[s][1], ia = 0, ib = 0;
            ks_case *k = ks_add(c, &nc, na, nb, "interleaved");
            for (size_t pos = 0; pos < na + nb; pos++) {
                /* a's turn with the chance of its share of what is left */
                if (ib == nb || (ia < na && uniform(&seed) * (double)(na + nb - pos) <
                                                (double)(na - ia) * (r % 3 ? 1 : 0.5)))
                    k->a[ia++] = (double)pos;
                else
                    k->b[ib++] = (double)pos;
            }
        }
    for (size_t i = 0; i < nc; i++) {
        qsort(c[i].a, c[i].na, sizeof *c[i].a, by_value);
        qsort(c[i].b, c[i].nb, sizeof *c[i].b, by_value);
    }
    return nc;
}

/* Statistic, exact and asymptotic p-values, and the switch between them,
 * each as SciPy's; the exact one wherever ks_2samp gives one. */
START_TEST(ks_as_scipy)
{
    static ks_case c[KS_CASES];
    size_t nc = ks_cases(c), exact = 0;
    scipy_run r;
    scipy_open(&r);
    for (size_t i = 0; i < nc; i++) {
        fprintf(r.cases, "ks %zu %zu\n", c[i].na, c[i].nb);
        write_sample(r.cases, c[i].a, c[i].na);
        write_sample(r.cases, c[i].b, c[i].nb);
    }
    scipy_run_cases(&r);
    for (size_t i = 0; i < nc; i++) {
        double ref[3], d = rv_ks_statistic(c[i].a, c[i].na, c[i].b, c[i].nb);
        scipy_next(&r, ref, 3);
        ck_assert_msg(near(d, ref[0]), "%s: D %.17g, SciPy %.17g", c[i].what, d, ref[0]);
        ck_assert_msg(rv_ks_statistic(c[i].b, c[i].nb, c[i].a, c[i].na) == d, "%s", c[i].what);
        double pe = rv_ks_pvalue_exact(d, c[i].na, c[i].nb);
        double pa = rv_ks_pvalue_asymp(d, c[i].na, c[i].nb);
        if (!isnan(ref[1])) {
            exact++;
            ck_assert_msg(near(pe, ref[1]), "%s: D %g, exact p %.17g, SciPy %.17g", c[i].what, d,
                          pe, ref[1]);
        }
        ck_assert_msg(near(pa, ref[2]), "%s: D %g, asymptotic p %.17g, SciPy %.17g", c[i].what, d,
                      pa, ref[2]);
        double p = rv_ks_pvalue(d, c[i].na, c[i].nb, 1e-2);
        ck_assert_msg(near(p, pa < 1e-2 ? ref[1] : ref[2]), "%s: p %.17g", c[i].what, p);
        if (strncmp(c[i].what, "disjoint", 8) == 0)
            ck_assert(d == 1);
        if (strncmp(c[i].what, "identical", 9) == 0)
            ck_assert(d == 0 && pe == 1 && pa == 1);
        free(c[i].a);
        free(c[i].b);
    }
    scipy_close(&r);
    /* SciPy gives up only where D is a few lattice steps of equal sizes */
    ck_assert_msg(exact + 10 >= nc, "SciPy's exact p-value for only %zu of %zu", exact, nc);
}
END_TEST

/* Histograms over the same bins: the statistic of the samples the bins
 * stand for (values the bin indexes), ties and all, and its p-values. */
START_TEST(histograms_as_scipy)
{
    static const struct {
        size_t bins;
        uint64_t na, nb;
        double skew;
    } h[] = {{1000, 1000, 1000, 0}, {1000, 1000, 1000, 0.2}, {1000, 600, 1400, 0.1},
             {1000, 37, 53, 0.5},   {10, 400, 700, 0.3},     {1000, 5000, 3000, 0.05},
             {1, 5, 7, 0},          {3, 20, 20, 4},          {1000, 2000, 2000, 0}};
    enum { H = sizeof h / sizeof *h };
    static uint32_t ha[H][1000], hb[H][1000];
    uint64_t seed = 0x5eed6;
    scipy_run r;
    scipy_open(&r);
    for (size_t c = 0; c < H; c++) {
        for (uint64_t i = 0; i < h[c].na + h[c].nb; i++) {
            int in_a = i < h[c].na;
            size_t bin = (size_t)(pow(uniform(&seed), in_a ? 1 : 1 + h[c].skew) * h[c].bins);
            (in_a ? ha : hb)[c][bin < h[c].bins ? bin : h[c].bins - 1]++;
        }
        fprintf(r.cases, "ks %" PRIu64 " %" PRIu64 "\n", h[c].na, h[c].nb);
        for (int s = 0; s < 2; s++) {
            const uint32_t *v = s ? hb[c] : ha[c];
            const char *sep = "";
            for (size_t b = 0; b < h[c].bins; b++)
                for (uint32_t k = 0; k < v[b]; k++, sep = " ")
                    fprintf(r.cases, "%s%zu", sep, b);
            fputc('\n', r.cases);
        }
    }
    scipy_run_cases(&r);
    for (size_t c = 0; c < H; c++) {
        double ref[3], d = rv_ks_statistic_hist(ha[c], h[c].na, hb[c], h[c].nb, h[c].bins);
        scipy_next(&r, ref, 3);
        ck_assert_msg(near(d, ref[0]), "histograms %zu: D %.17g, SciPy %.17g", c, d, ref[0]);
        /* the same as the samples at the bins' middles */
        double *a = malloc(h[c].na * sizeof *a), *b = malloc(h[c].nb * sizeof *b);
        ck_assert(a && b);
        for (size_t bin = 0, i = 0, j = 0; bin < h[c].bins; bin++) {
            for (uint32_t k = 0; k < ha[c][bin]; k++)
                a[i++] = ((double)bin + 0.5) / (double)h[c].bins;
            for (uint32_t k = 0; k < hb[c][bin]; k++)
                b[j++] = ((double)bin + 0.5) / (double)h[c].bins;
        }
        ck_assert(rv_ks_statistic(a, h[c].na, b, h[c].nb) == d);
        free(a);
        free(b);
        double pe = rv_ks_pvalue_exact(d, h[c].na, h[c].nb);
        ck_assert_msg(near(pe, ref[1]), "histograms %zu: exact p %.17g, SciPy %.17g", c, pe,
                      ref[1]);
        double pa = rv_ks_pvalue_asymp(d, h[c].na, h[c].nb);
        ck_assert_msg(near(pa, ref[2]), "histograms %zu: asymptotic p %.17g, SciPy %.17g", c, pa,
                      ref[2]);
    }
    scipy_close(&r);
}
END_TEST

/* Kolmogorov's limit over its whole range, the binomial lower tail from
 * one trial to a million (far tails relatively), the normal distribution
 * from 1e-300 up. */
START_TEST(limits_binomial_normal_as_scipy)
{
    enum { KOLM = 700, BINOM = 1200, NORM = 260 };
    static double kd[KOLM], bp[BINOM], nz[NORM];
    static uint64_t kn[KOLM], km[KOLM], bk[BINOM], bn[BINOM];
    static const uint64_t sizes[][2] = {{1000, 1000}, {37, 53}, {600, 1400}, {1, 1}};
    scipy_run r;
    scipy_open(&r);
    for (size_t i = 0; i < KOLM; i++) {
        kn[i] = sizes[i % 4][0];
        km[i] = sizes[i % 4][1];
        double x = (double)(i / 4) * 0.07, en = (double)kn[i] * km[i] / (double)(kn[i] + km[i]);
        kd[i] = (i % 8 == 1 ? x + 0.01 : i == 0 ? -0.1 : x) / sqrt(en);
        fprintf(r.cases, "kolm %.17g %" PRIu64 " %" PRIu64 "\n", kd[i], kn[i], km[i]);
    }
    static const uint64_t trials[] = {1, 7, 30, 100, 1000, 54321, 1000000};
    static const double prob[] = {1e-6, 0.001, 0.05, 0.3, 0.5, 0.7, 0.999};
    static const double sd_off[] = {-12, -9, -7, -5, -3, -1, 0, 1, 3, 1e9};
    size_t nb = 0;
    for (size_t t = 0; t < 7; t++)
        for (size_t q = 0; q < 7; q++)
            for (size_t z = 0; z < 10; z++) {
                double n = (double)trials[t], p = prob[q], mu = n * p;
                double k = floor(mu + sd_off[z] * sqrt(mu * (1 - p)));
                ck_assert_uint_lt(nb, BINOM);
                bk[nb] = k < 0 ? 0 : k > n ? trials[t] : (uint64_t)k;
                bn[nb] = trials[t];
                bp[nb] = p;
                fprintf(r.cases, "binom %" PRIu64 " %" PRIu64 " %.17g\n", bk[nb], bn[nb], p);
                nb++;
            }
    for (size_t i = 0; i < NORM; i++) {
        nz[i] = i < 250 ? -37.5 + 0.19 * (double)i : (double)i - 255;
        fprintf(r.cases, "norm %.17g\n", nz[i]);
    }
    scipy_run_cases(&r);
    double ref;
    for (size_t i = 0; i < KOLM; i++) {
        scipy_next(&r, &ref, 1);
        double p = rv_ks_pvalue_asymp(kd[i], kn[i], km[i]);
        ck_assert_msg(near(p, ref), "asymptotic, d %.17g, %" PRIu64 " vs %" PRIu64 ": %.17g, %.17g",
                      kd[i], kn[i], km[i], p, ref);
    }
    for (size_t i = 0; i < nb; i++) {
        scipy_next(&r, &ref, 1);
        double p = rv_binom_cdf(bk[i], bn[i], bp[i]);
        ck_assert_msg(near(p, ref), "binomial (%" PRIu64 ", %" PRIu64 ", %g): %.17g, SciPy %.17g",
                      bk[i], bn[i], bp[i], p, ref);
    }
    for (size_t i = 0; i < NORM; i++) {
        scipy_next(&r, &ref, 1);
        ck_assert_msg(near(rv_norm_cdf(nz[i]), ref), "normal at %g: %.17g, SciPy %.17g", nz[i],
                      rv_norm_cdf(nz[i]), ref);
    }
    scipy_close(&r);
}
END_TEST

/* Small cases by hand: the paths of 3 and 3 values that leave the band. */
START_TEST(small_cases_by_hand)
{
    double a[] = {1, 2, 3}, b[] = {4, 5, 6}, c[] = {1, 2, 2, 3};
    ck_assert(rv_ks_statistic(a, 3, b, 3) == 1);
    ck_assert(rv_ks_statistic(a, 3, a, 3) == 0);
    ck_assert(fabs(rv_ks_statistic(a, 3, c, 4) - 1.0 / 12) < 1e-15); /* 1/3 - 1/4 at 1 */
    /* of the 20 paths of 3 and 3 steps: 2 reach |i - j| = 3, 12 reach 2 */
    ck_assert(fabs(rv_ks_pvalue_exact(1, 3, 3) - 0.1) < 1e-15);
    ck_assert(fabs(rv_ks_pvalue_exact(2.0 / 3, 3, 3) - 0.6) < 1e-15);
    ck_assert(rv_ks_pvalue_exact(1.0 / 3, 3, 3) == 1);
    ck_assert(rv_ks_pvalue_exact(0, 3, 3) == 1);
    ck_assert(rv_ks_pvalue_exact(1, 1, 1) == 1);
    /* d is rounded to the lattice first, as ks_2samp does */
    ck_assert(rv_ks_pvalue_exact(2.0 / 3 + 1e-9, 3, 3) == rv_ks_pvalue_exact(2.0 / 3, 3, 3));
    ck_assert(rv_ks_pvalue_exact(0.1, 3, 3) == 1);
    ck_assert(isnan(rv_ks_pvalue_exact(NAN, 3, 3)));
    ck_assert(rv_ks_pvalue_asymp(0, 10, 10) == 1 && rv_ks_pvalue_asymp(-1, 10, 10) == 1);
    ck_assert(rv_ks_pvalue_asymp(1, 100000, 100000) == 0);
    /* bins that only one side fills, and empty ones */
    uint32_t ha[] = {0, 2, 0, 1, 0}, hb[] = {0, 0, 0, 1, 3};
    ck_assert(fabs(rv_ks_statistic_hist(ha, 3, hb, 4, 5) - 0.75) < 1e-15); /* 1 - 1/4 */
    ck_assert(rv_ks_statistic_hist(ha, 3, ha, 3, 5) == 0);
    ck_assert(rv_binom_cdf(3, 10, 0) == 1 && rv_binom_cdf(0, 10, 0) == 1);
    ck_assert(rv_binom_cdf(9, 10, 1) == 0 && rv_binom_cdf(10, 10, 1) == 1);
    ck_assert(rv_binom_cdf(10, 10, 0.3) == 1 && rv_binom_cdf(11, 10, 0.3) == 1);
    ck_assert(rv_binom_cdf(0, 0, 0.3) == 1);
    ck_assert(fabs(rv_binom_cdf(1, 3, 0.5) - 0.5) < 1e-15);
    ck_assert(fabs(rv_binom_cdf(0, 2, 0.1) - 0.81) < 1e-15);
    ck_assert(isnan(rv_binom_cdf(1, 3, NAN)) && isnan(rv_binom_cdf(1, 3, 1.5)));
    ck_assert(rv_norm_cdf(0) == 0.5 && rv_norm_cdf(-INFINITY) == 0 && rv_norm_cdf(INFINITY) == 1);
}
END_TEST

/* rv_ks_pvalue: exact while n m <= RV_KS_EXACT_MAX and the asymptotic
 * p-value is below the screen, else the asymptotic one. */
START_TEST(the_switch_between_exact_and_asymptotic)
{
    double d = 0.1; /* at 1000 vs 1000, p near 2e-4 */
    double pe = rv_ks_pvalue_exact(d, 1000, 1000), pa = rv_ks_pvalue_asymp(d, 1000, 1000);
    ck_assert(pe != pa && pa < 1e-2);
    ck_assert(rv_ks_pvalue(d, 1000, 1000, 1e-2) == pe);
    ck_assert(rv_ks_pvalue(d, 1000, 1000, pa) == pa); /* not below the screen */
    ck_assert(rv_ks_pvalue(d, 1000, 1000, 1e-6) == pa);
    /* n m = RV_KS_EXACT_MAX is still exact, one more is not */
    ck_assert(RV_KS_EXACT_MAX == 2000u * 2000u);
    d = 0.07;
    pe = rv_ks_pvalue_exact(d, 2000, 2000);
    pa = rv_ks_pvalue_asymp(d, 2000, 2000);
    ck_assert(pe != pa && pa < 1e-2);
    ck_assert(rv_ks_pvalue(d, 2000, 2000, 1e-2) == pe);
    ck_assert(rv_ks_pvalue(d, 2000, 2001, 1e-2) == rv_ks_pvalue_asymp(d, 2000, 2001));
    ck_assert(rv_ks_pvalue(d, 4000001, 1, 1.0) == rv_ks_pvalue_asymp(d, 4000001, 1));
    ck_assert(rv_ks_pvalue(d, 5000, 5000, 1.0) == rv_ks_pvalue_asymp(d, 5000, 5000));
    /* the two differ by more than the test's tolerance at the far tail */
    ck_assert(fabs(pe - pa) > 1e-9 * pe);
}
END_TEST

/* ---- DeLong's paired AUCs and the paired z-test */

/* A variance within 1e-9 of the reference's, relatively; below 1e-18 (the
 * reference's own cancellation of equal models) two agree. */
static int near_rel(double ours, double ref)
{
    return fabs(ours - ref) <= 1e-9 * fabs(ref) + 1e-18;
}

static const struct delong_spec {
    size_t n;
    double rate;            /* the share of positives */
    double grid;            /* the scores rounded to it; 0: as drawn */
    double mu_a, mu_b, rho; /* each model's separation, their noises' correlation */
    const char *what;
} delong_specs[] = {
    {20, 0.5, 0, 1, 1.2, 0.5, "20, balanced"},
    {20, 0.3, 0.01, 0.8, 1, 0.3, "20, 0.01 grid"},
    {37, 0.5, 0.1, 1, 1, 0.5, "37, 0.1 grid"},
    {200, 0.4, 0.01, 1, 1.3, 0.6, "200, 0.01 grid"},
    {500, 0.5, 0.1, 0.7, 0.9, 0.8, "500, 0.1 grid (ties galore)"},
    {1000, 0.05, 0.01, 1, 1.2, 0.5, "1000, 5 % positive, 0.01 grid"},
    {1000, 0.4, 0.01, 1, 1, 0.95, "1000, close models, 0.01 grid"},
    {3000, 0.9, 0, 1.5, 1.4, 0.4, "3000, 90 % positive"},
    {5000, 0.4, 0.01, 1.04, 1.28, 0, "5000, independent models, 0.01 grid"},
    {5000, 0.02, 0, 2, 1.5, 0.5, "5000, 2 % positive"},
    {5000, 0.5, 0.01, 0.5, 0.6, 0.7, "5000, balanced, 0.01 grid"},
    {2000, 0.3, 0.01, 40, 1, 0.5, "2000, a separates perfectly"},
    {2000, 0.3, 0.01, 0, 1, 0, "2000, a is 0.5 everywhere"},
    {2000, 0.3, 0.01, 1, 1, 1, "2000, the same model twice"},
};

typedef struct paired_case {
    size_t n;
    enum { ACCURACY, GAUSS, SKEWED } kind;
    double x, y, margin; /* ACCURACY: P(a wrong), P(b wrong); else mean, sd */
} paired_case;

static const paired_case paired_cases[] = {
    {2, GAUSS, 0, 1, 0},
    {20, GAUSS, 0.3, 1, 0},
    {500, ACCURACY, 0.15, 0.1, 0},
    {500, ACCURACY, 0.15, 0.1, 0.01},
    {2000, ACCURACY, 0.15, 0.15, 0},
    {2000, ACCURACY, 0.1, 0.15, 0.01},
    {5000, ACCURACY, 0.3, 0.05, 0},
    {1000, SKEWED, 0.02, 0.3, 0.01},
    {3000, SKEWED, -0.01, 0.5, -0.02},
    {5000, GAUSS, 0.5, 1, 0},
    {5000, GAUSS, 0.6, 1, 0.001},
    {5000, GAUSS, -0.01, 0.2, -0.02},
};

/* The scores of two models of the positive label: logistic(+-mu + noise),
 * the noises N(0, 1) with correlation rho, on the spec's grid. */
static void delong_case(uint64_t *seed, const struct delong_spec *c, unsigned char *t, double *a,
                        double *b)
{
    for (size_t i = 0; i < c->n; i++) {
        t[i] = uniform(seed) < c->rate;
        double za = normal(seed), zb = c->rho * za + sqrt(1 - c->rho * c->rho) * normal(seed);
        double sign = t[i] ? 1 : -1;
        a[i] = 1 / (1 + exp(-(sign * c->mu_a + (c->mu_a > 0 ? za : 0))));
        b[i] = 1 / (1 + exp(-(sign * c->mu_b + zb)));
        if (c->grid > 0) {
            a[i] = round(a[i] / c->grid) * c->grid;
            b[i] = round(b[i] / c->grid) * c->grid;
        }
    }
}

START_TEST(delong_and_paired_as_scipy)
{
    enum { D = sizeof delong_specs / sizeof *delong_specs };
    enum { P = sizeof paired_cases / sizeof *paired_cases };
    static unsigned char t[D][5000];
    static double a[D][5000], b[D][5000], d[P][5000];
    uint64_t seed = 0x5eed7;
    scipy_run r;
    scipy_open(&r);
    for (size_t c = 0; c < D; c++) {
        const struct delong_spec *s = &delong_specs[c];
        delong_case(&seed, s, t[c], a[c], b[c]);
        fprintf(r.cases, "delong %zu\n", s->n);
        for (size_t i = 0; i < s->n; i++)
            fprintf(r.cases, i ? " %d" : "%d", t[c][i]);
        fputc('\n', r.cases);
        write_sample(r.cases, a[c], s->n);
        write_sample(r.cases, b[c], s->n);
    }
    for (size_t c = 0; c < P; c++) {
        const paired_case *p = &paired_cases[c];
        for (size_t i = 0; i < p->n; i++) {
            if (p->kind == ACCURACY)
                d[c][i] = (uniform(&seed) < p->x) - (double)(uniform(&seed) < p->y);
            else if (p->kind == GAUSS)
                d[c][i] = p->x + p->y * normal(&seed);
            else /* a difference of two exponentials' squares: a long tail */
                d[c][i] = p->x + p->y * (pow(-log1p(-uniform(&seed)), 2) - 2);
        }
        fprintf(r.cases, "paired %zu %.17g\n", p->n, p->margin);
        write_sample(r.cases, d[c], p->n);
    }
    scipy_run_cases(&r);
    for (size_t c = 0; c < D; c++) {
        const struct delong_spec *s = &delong_specs[c];
        double ref[5];
        rv_delong o;
        scipy_next(&r, ref, 5);
        ck_assert_int_eq(rv_delong_paired(t[c], a[c], b[c], s->n, &o), 0);
        ck_assert_msg(near(o.auc_a, ref[0]) && near(o.auc_a, ref[3]),
                      "%s: AUC a %.17g, DeLong's %.17g, scikit-learn's %.17g", s->what, o.auc_a,
                      ref[0], ref[3]);
        ck_assert_msg(near(o.auc_b, ref[1]) && near(o.auc_b, ref[4]),
                      "%s: AUC b %.17g, DeLong's %.17g, scikit-learn's %.17g", s->what, o.auc_b,
                      ref[1], ref[4]);
        ck_assert_msg(near_rel(o.var_diff, ref[2]), "%s: Var(AUC a - AUC b) %.17g, DeLong's %.17g",
                      s->what, o.var_diff, ref[2]);
        /* the two models swapped: the same variance */
        rv_delong w;
        ck_assert_int_eq(rv_delong_paired(t[c], b[c], a[c], s->n, &w), 0);
        ck_assert(w.auc_a == o.auc_b && w.auc_b == o.auc_a && near_rel(w.var_diff, o.var_diff));
        if (s->mu_a >= 40) /* perfect */
            ck_assert(o.auc_a == 1);
        if (s->mu_a == 0) /* one score */
            ck_assert(o.auc_a == 0.5);
        if (s->rho == 1) /* the same model */
            ck_assert(o.auc_a == o.auc_b && o.var_diff == 0);
    }
    for (size_t c = 0; c < P; c++) {
        const paired_case *p = &paired_cases[c];
        double ref[2], mean, pv = rv_paired_p(d[c], p->n, p->margin, &mean);
        scipy_next(&r, ref, 2);
        ck_assert_msg(fabs(mean - ref[0]) <= 1e-12 * (1 + fabs(ref[0])),
                      "paired %zu: mean %.17g, NumPy's %.17g", c, mean, ref[0]);
        ck_assert_msg(near(pv, ref[1]), "paired %zu (n %zu, margin %g): p %.17g, SciPy's %.17g", c,
                      p->n, p->margin, pv, ref[1]);
    }
    scipy_close(&r);
}
END_TEST

/* DeLong and the paired test on cases small enough to work by hand. */
START_TEST(delong_and_paired_by_hand)
{
    /* a: the positives' V10 1 and 1/2, the negatives' V01 1/2 and 1; b:
     * 3/4 and 3/4 (one tie each), 1/2 and 1. Both AUCs 3/4; the V10s'
     * differences 1/4 and -1/4, variance 1/8 over 2; the V01s' none. */
    unsigned char t[] = {1, 1, 0, 0};
    double a[] = {0.9, 0.4, 0.5, 0.1}, b[] = {0.5, 0.5, 0.5, 0.1};
    rv_delong o;
    ck_assert_int_eq(rv_delong_paired(t, a, b, 4, &o), 0);
    ck_assert(o.auc_a == 0.75 && o.auc_b == 0.75 && o.var_diff == 0.0625);
    ck_assert_int_eq(rv_delong_paired(t, a, a, 4, &o), 0);
    ck_assert(o.auc_a == 0.75 && o.var_diff == 0);
    /* one positive: its class has no spread to estimate, only the
     * negatives' V01s count (differences 1, -1, 0: variance 1, over 3) */
    unsigned char t1[] = {1, 0, 0, 0};
    double a1[] = {0.5, 0.1, 0.6, 0.2}, b1[] = {0.5, 0.7, 0.1, 0.2};
    ck_assert_int_eq(rv_delong_paired(t1, a1, b1, 4, &o), 0);
    ck_assert(fabs(o.auc_a - 2.0 / 3) < 1e-15 && fabs(o.auc_b - 2.0 / 3) < 1e-15);
    ck_assert(fabs(o.var_diff - 1.0 / 3) < 1e-15);
    /* a NaN score ranks below every number */
    double an[] = {NAN, 0.4, 0.5, 0.1};
    ck_assert_int_eq(rv_delong_paired(t, an, a, 4, &o), 0);
    ck_assert(o.auc_a == 0.25 && o.auc_b == 0.75);
    /* a class empty, or no requests */
    unsigned char none[] = {0, 0, 0, 0}, all[] = {1, 2, 1, 1};
    ck_assert_int_eq(rv_delong_paired(none, a, b, 4, &o), -1);
    ck_assert_int_eq(rv_delong_paired(all, a, b, 4, &o), -1);
    ck_assert_int_eq(rv_delong_paired(t, a, b, 0, &o), -1);

    /* no spread: p 0 above the margin, else 1; the mean exact */
    double mean, z[] = {0, 0, 0}, up[] = {0.02, 0.02, 0.02}, at[] = {0.1, 0.1, 0.1, 0.1};
    ck_assert(rv_paired_p(z, 3, 0, &mean) == 1 && mean == 0);
    ck_assert(rv_paired_p(z, 3, -0.01, &mean) == 0);
    ck_assert(rv_paired_p(up, 3, 0.01, &mean) == 0 && mean == 0.02);
    ck_assert(rv_paired_p(at, 4, 0.1, &mean) == 1 && mean == 0.1);
    /* 1 and -1: mean 0, sd sqrt 2, z 0 */
    double pm[] = {1, -1};
    ck_assert(rv_paired_p(pm, 2, 0, &mean) == 0.5 && mean == 0);
    /* below two differences there is no sd */
    ck_assert(isnan(rv_paired_p(up, 1, 0, &mean)) && mean == 0.02);
    double nan[] = {0, NAN, 1};
    ck_assert(isnan(rv_paired_p(nan, 3, 0, &mean)));
}
END_TEST

static Suite *stattest_suite(void)
{
    Suite *s = suite_create("stattest");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ks_as_scipy);
    tcase_add_test(tc, histograms_as_scipy);
    tcase_add_test(tc, limits_binomial_normal_as_scipy);
    tcase_add_test(tc, small_cases_by_hand);
    tcase_add_test(tc, the_switch_between_exact_and_asymptotic);
    tcase_add_test(tc, delong_and_paired_as_scipy);
    tcase_add_test(tc, delong_and_paired_by_hand);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stattest_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
