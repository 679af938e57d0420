/*
 * stattest.c - the statistical tests of stattest.h, each computed so that
 * it equals SciPy's figure: the KS statistic as ks_2samp takes it (each
 * gap after all ties of a value), the exact p-value on ks_2samp's lattice,
 * Kolmogorov's limit by its two series, the binomial lower tail by summing
 * its terms from Loader's saddle-point term (no lgamma differences, which
 * lose digits at a million trials) and the normal as cephes' ndtr; then
 * DeLong's two correlated AUCs by one sort per model, and the paired
 * z-test.
 */
#include "stattest.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#define SQRT_2PI 2.50662827463100050241576528481104525
#define LN_2PI 1.83787706640934548356065947281123527
#define LN_SQRT_2PI 0.918938533204672741780329736405617640
#define TINY (DBL_EPSILON / 16) /* a term below this share of the sum adds nothing */

double rv_ks_statistic(const double *a, size_t na, const double *b, size_t nb)
{
    double d = 0;
    size_t i = 0, j = 0;
    while (i < na && j < nb) {
        /* the gap right of v: every sample <= v counted, ties of both */
        double v = a[i] < b[j] ? a[i] : b[j];
        while (i < na && a[i] <= v)
            i++;
        while (j < nb && b[j] <= v)
            j++;
        double g = fabs((double)i / (double)na - (double)j / (double)nb);
        if (g > d)
            d = g;
    }
    /* past the end of either sample the gap only closes */
    return d;
}

double rv_ks_statistic_hist(const uint32_t *a, uint64_t na, const uint32_t *b, uint64_t nb,
                            size_t bins)
{
    double d = 0;
    uint64_t ca = 0, cb = 0;
    for (size_t i = 0; i < bins; i++) {
        ca += a[i];
        cb += b[i];
        double g = fabs((double)ca / (double)na - (double)cb / (double)nb);
        if (g > d)
            d = g;
    }
    return d;
}

static uint64_t gcd64(uint64_t x, uint64_t y)
{
    while (y) {
        uint64_t t = x % y;
        x = y;
        y = t;
    }
    return x;
}

/* A path from (0,0) to (n,m) is inside while |i m/g - j n/g| < h at every
 * point. The probability of each point is carried forward, a row over i for
 * each j, and only the band's part of the row is visited. What leaves the
 * band is summed as it leaves: a sum of positive terms keeps the small
 * p-values relatively exact, where 1 - P(inside) would not. */
double rv_ks_pvalue_exact(double d, uint64_t n, uint64_t m)
{
    if (isnan(d) || n == 0 || m == 0 || m > (UINT64_MAX >> 2) / n)
        return NAN;
    uint64_t g = gcd64(n, m), lcm = n / g * m;
    /* ks_2samp's rounding to the lattice (np.round: half to even) */
    double hd = nearbyint(d * (double)lcm);
    if (hd <= 0)
        return 1.0;
    int64_t h = hd > (double)lcm ? (int64_t)lcm + 1 : (int64_t)hd;
    int64_t mg = (int64_t)(m / g), ng = (int64_t)(n / g), N = (int64_t)n, M = (int64_t)m;

    double *row = calloc(n + 1, sizeof *row);
    if (!row)
        return NAN;
    row[0] = 1;
    double out = 0;
    int64_t plo = 0, phi = 0; /* the previous row's band */
    for (int64_t j = 0; j <= M; j++) {
        int64_t c = j * ng;
        int64_t lo = c - h < 0 ? 0 : (c - h) / mg + 1;
        int64_t hi = (c + h - 1) / mg;
        if (hi > N)
            hi = N;
        /* what steps up from the previous row out of this one's band */
        for (int64_t i = plo; i <= phi; i++)
            if (i < lo || i > hi) {
                out += row[i];
                row[i] = 0;
            }
        double carry = 0;
        for (int64_t i = lo; i <= hi; i++) {
            double v = row[i] + carry;
            int64_t rest = (N - i) + (M - j);
            if (rest == 0) { /* (n, m): arrived inside */
                carry = 0;
                break;
            }
            double r = v / (double)rest;
            carry = r * (double)(N - i);
            row[i] = r * (double)(M - j);
        }
        out += carry; /* to (hi + 1, j), past the band (0 when hi == n) */
        plo = lo;
        phi = hi;
    }
    free(row);
    return out < 0 ? 0 : out > 1 ? 1 : out;
}

/* Kolmogorov's distribution's upper tail, 1 - K(x). Below x = 1 the
 * theta series of K converges fast, above it the alternating one of 1 - K;
 * both to a double's precision within a few terms. */
static double kolmogorov_sf(double x)
{
    if (isnan(x))
        return NAN;
    if (x <= 0)
        return 1.0;
    if (x < 1) {
        double w = M_PI * M_PI / (8 * x * x), s = 0;
        for (int k = 1; k < 100; k++) {
            double t = exp(-(double)((2 * k - 1) * (2 * k - 1)) * w);
            s += t;
            if (t <= s * TINY)
                break;
        }
        return 1 - SQRT_2PI / x * s;
    }
    double s = 0;
    for (int k = 1; k < 100; k++) {
        double t = exp(-2.0 * k * k * x * x);
        s += k % 2 ? t : -t;
        if (t <= s * TINY)
            break;
    }
    return s <= 0 ? 0 : 2 * s;
}

double rv_ks_pvalue_asymp(double d, uint64_t n, uint64_t m)
{
    double en = (double)n * (double)m / ((double)n + (double)m);
    return kolmogorov_sf(d * sqrt(en));
}

double rv_ks_pvalue(double d, uint64_t n, uint64_t m, double screen)
{
    double p = rv_ks_pvalue_asymp(d, n, m);
    if (p < screen && n > 0 && m <= RV_KS_EXACT_MAX / n)
        return rv_ks_pvalue_exact(d, n, m);
    return p;
}

/* log(n!) - log(sqrt(2 pi n) (n/e)^n), Stirling's formula's error (Loader,
 * "Fast and accurate computation of binomial probabilities", 2000): by
 * lgamma where it is small enough to keep every digit, else its series. */
static double stirlerr(double n)
{
    static const double S0 = 1.0 / 12, S1 = 1.0 / 360, S2 = 1.0 / 1260, S3 = 1.0 / 1680,
                        S4 = 1.0 / 1188;
    if (n <= 15)
        return lgamma(n + 1) - (n + 0.5) * log(n) + n - LN_SQRT_2PI;
    double nn = n * n;
    if (n > 500)
        return (S0 - S1 / nn) / n;
    if (n > 80)
        return (S0 - (S1 - S2 / nn) / nn) / n;
    if (n > 35)
        return (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n;
    return (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n;
}

/* x log(x / np) + np - x without the cancellation near x = np. */
static double bd0(double x, double np)
{
    if (fabs(x - np) < 0.1 * (x + np)) {
        double v = (x - np) / (x + np), s = (x - np) * v, ej = 2 * x * v;
        v *= v;
        for (int j = 1; j < 1000; j++) {
            ej *= v;
            double s1 = s + ej / (2 * j + 1);
            if (s1 == s)
                return s1;
            s = s1;
        }
        return s;
    }
    return x * log(x / np) + np - x;
}

/* P(X = x), X ~ Binomial(n, p), q = 1 - p, 0 < p < 1: Loader's form. */
static double binom_pmf(double x, double n, double p, double q)
{
    if (x == 0)
        return exp(p < 0.1 ? -bd0(n, n * q) - n * p : n * log(q));
    if (x == n)
        return exp(q < 0.1 ? -bd0(n, n * p) - n * q : n * log(p));
    double lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n * p) - bd0(n - x, n * q);
    double lf = LN_2PI + log(x) + log1p(-x / n);
    return exp(lc - 0.5 * lf);
}

/* Below the mode the terms fall going down, above it going up: the side
 * away from the mode is summed, from k, until a term adds nothing. */
double rv_binom_cdf(uint64_t k, uint64_t n, double p)
{
    if (isnan(p) || p < 0 || p > 1)
        return NAN;
    if (k >= n || p == 0)
        return 1.0;
    if (p == 1)
        return 0.0;
    double q = 1 - p, dn = (double)n;
    double mode = floor((dn + 1) * p);
    if ((double)k < mode) {
        double t = binom_pmf((double)k, dn, p, q), s = t, qp = q / p;
        for (uint64_t i = k; i > 0 && t > s * TINY; i--) {
            t *= (double)i / (double)(n - i + 1) * qp;
            s += t;
        }
        return s > 1 ? 1 : s;
    }
    double t = binom_pmf((double)(k + 1), dn, p, q), s = t, pq = p / q;
    for (uint64_t i = k + 1; i < n && t > s * TINY; i++) {
        t *= (double)(n - i) / (double)(i + 1) * pq;
        s += t;
    }
    return s > 1 ? 0 : 1 - s;
}

/* As cephes' ndtr: the argument scaled by 1/sqrt(2), erfc on either side
 * so that the lower tail keeps its digits. */
double rv_norm_cdf(double z)
{
    return 0.5 * erfc(-z * M_SQRT1_2);
}

/* ---- DeLong's test of two correlated AUCs, and the paired z-test */

typedef struct scored {
    double v;
    size_t i; /* the request */
} scored;

/* Ascending, a NaN below every number (and equal to another NaN): an order
 * qsort can rely on whatever the scores. */
static int by_score(const void *x, const void *y)
{
    double a = ((const scored *)x)->v, b = ((const scored *)y)->v;
    if (isnan(a) || isnan(b))
        return !isnan(a) - !isnan(b);
    return (a > b) - (a < b);
}

/* One model's structural components, v[i] for request i: a positive's V10,
 * the share of the negatives it outranks (ties 1/2), a negative's V01, the
 * share of the positives that outrank it. By midranks (Sun and Xu): a
 * positive's V10 is (Tz - Tx) / k, its midrank among all less its midrank
 * among the positives, over k; a negative's V01 is 1 - (Tz - Ty) / m. In a
 * group of equal scores after P positives and Q negatives, holding p
 * positives and q negatives, Tz = P + Q + (p + q + 1) / 2, Tx = P + (p +
 * 1) / 2 and Ty = Q + (q + 1) / 2: Tz - Tx = Q + q / 2 and Tz - Ty = P + p
 * / 2, sums of halves, exact. One sort: O(n log n). */
static void delong_components(const unsigned char *truth, const double *score, size_t n, size_t m,
                              size_t k, scored *s, double *v)
{
    for (size_t i = 0; i < n; i++) {
        s[i].v = score[i];
        s[i].i = i;
    }
    qsort(s, n, sizeof *s, by_score);
    size_t below_pos = 0, below_neg = 0; /* P, Q */
    for (size_t g = 0, e; g < n; g = e) {
        size_t p = 0, q = 0;
        for (e = g; e < n && by_score(&s[g], &s[e]) == 0; e++)
            truth[s[e].i] ? p++ : q++;
        double tzx = (double)below_neg + 0.5 * (double)q; /* Tz - Tx */
        double tzy = (double)below_pos + 0.5 * (double)p; /* Tz - Ty */
        for (size_t j = g; j < e; j++)
            v[s[j].i] = truth[s[j].i] ? tzx / (double)k : 1 - tzy / (double)m;
        below_pos += p;
        below_neg += q;
    }
}

/* The sample covariances (n - 1) of the two models' components over one
 * class, Var(a) + Var(b) - 2 Cov(a, b), taken as the variance of a - b
 * (the same, without the cancellation of close models), and the mean of
 * a's and of b's. A class of one has no spread to estimate: 0. */
static double class_var_diff(const unsigned char *truth, unsigned char cls, const double *va,
                             const double *vb, size_t n, size_t count, double *mean_a,
                             double *mean_b)
{
    double sa = 0, sb = 0;
    for (size_t i = 0; i < n; i++)
        if (!truth[i] == !cls) {
            sa += va[i];
            sb += vb[i];
        }
    double ma = sa / (double)count, mb = sb / (double)count, ss = 0;
    for (size_t i = 0; i < n; i++)
        if (!truth[i] == !cls) {
            double dd = (va[i] - ma) - (vb[i] - mb);
            ss += dd * dd;
        }
    *mean_a = ma;
    *mean_b = mb;
    return count < 2 ? 0 : ss / (double)(count - 1);
}

int rv_delong_paired(const unsigned char *truth, const double *a, const double *b, size_t n,
                     rv_delong *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += truth[i] != 0;
    size_t k = n - m;
    if (m == 0 || k == 0)
        return -1;
    scored *s = malloc(n * sizeof *s);
    double *va = malloc(n * sizeof *va), *vb = malloc(n * sizeof *vb);
    if (!s || !va || !vb) {
        free(s);
        free(va);
        free(vb);
        return -1;
    }
    delong_components(truth, a, n, m, k, s, va);
    delong_components(truth, b, n, m, k, s, vb);
    double ma, mb, na, nb;
    double v10 = class_var_diff(truth, 1, va, vb, n, m, &ma, &mb);
    double v01 = class_var_diff(truth, 0, va, vb, n, k, &na, &nb);
    out->auc_a = ma; /* the mean V10 */
    out->auc_b = mb;
    out->var_diff = v10 / (double)m + v01 / (double)k;
    free(s);
    free(va);
    free(vb);
    return 0;
}

/* The mean by a sum and its correction (the sum of what is left over), the
 * deviations from it squared: both to a few ulps where n is large. */
double rv_paired_p(const double *d, size_t n, double margin, double *mean)
{
    if (n < 2) { /* no sd */
        *mean = n ? d[0] : NAN;
        return NAN;
    }
    size_t same = 1;
    while (same < n && d[same] == d[0])
        same++;
    if (same == n) { /* no spread: the mean is d[0] exactly */
        *mean = d[0];
        return d[0] > margin ? 0 : 1;
    }
    double s = 0, r = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        s += d[i];
    double mu = s / (double)n;
    for (size_t i = 0; i < n; i++)
        r += d[i] - mu;
    mu += r / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (d[i] - mu) * (d[i] - mu);
    *mean = mu;
    double se = sqrt(ss / (double)(n - 1) / (double)n);
    if (!(se > 0)) /* spread too small for a double: as none */
        return isnan(se) ? NAN : mu > margin ? 0 : 1;
    return rv_norm_cdf(-(mu - margin) / se);
}
