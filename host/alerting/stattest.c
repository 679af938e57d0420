/*
 * stattest.c - the statistical tests of stattest.h, each computed so that
 * it equals SciPy's figure: the KS statistic as ks_2samp takes it (each
 * gap after all ties of a value), the exact p-value on ks_2samp's lattice,
 * Kolmogorov's limit by its two series, the binomial lower tail by summing
 * its terms from Loader's saddle-point term (no lgamma differences, which
 * lose digits at a million trials) and the normal as cephes' ndtr.
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
