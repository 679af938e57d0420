/*
 * stattest.h - the statistical tests the alerts decide with: the
 * two-sample Kolmogorov-Smirnov test (its statistic from sorted samples or
 * from histograms over the same bins, its p-value exact for small samples
 * and asymptotic for large ones), the binomial lower tail and the normal
 * distribution, DeLong's test of two AUCs and the paired z-test. Pure
 * functions; none allocates but rv_ks_pvalue_exact (one row of n + 1
 * doubles) and rv_delong_paired (its ranks). Each equals SciPy's to 1e-9
 * (tests/test_stattest.c, against values SciPy computed).
 */
#ifndef RV_STATTEST_H
#define RV_STATTEST_H

#include <stddef.h>
#include <stdint.h>

/* D = sup |F_a(x) - F_b(x)|, the two empirical distributions' largest gap
 * (scipy.stats.ks_2samp's statistic). a and b sorted ascending, na, nb >= 1. */
double rv_ks_statistic(const double *a, size_t na, const double *b, size_t nb);

/* The same for two histograms over the same `bins` bins (a value's bin is
 * its rank): what rv_ks_statistic gives for samples whose values are the
 * bins' (ties and all). na, nb: the histograms' totals, >= 1. */
double rv_ks_statistic_hist(const uint32_t *a, uint64_t na, const uint32_t *b, uint64_t nb,
                            size_t bins);

/* P(D >= d) under the null (the two samples from one continuous
 * distribution), two-sided: exactly, as scipy.stats.ks_2samp(method=
 * "exact") computes it (d rounded to the lattice of n and m first). Visits
 * only the band |i/n - j/m| < d: O(n m d) time. NaN when out of memory, or
 * for a NaN d, an n or m of 0, or n m above 2^62. */
double rv_ks_pvalue_exact(double d, uint64_t n, uint64_t m);

/* The same by Kolmogorov's limit: scipy.stats.kstwobign.sf(d sqrt(n m /
 * (n + m))). O(1). */
double rv_ks_pvalue_asymp(double d, uint64_t n, uint64_t m);

/* The p-value the alerts use: exact while n m <= RV_KS_EXACT_MAX, else
 * asymptotic; the exact one is only computed when the asymptotic one is
 * below `screen` (above it, the asymptotic one is returned: where the
 * difference cannot change a decision at a level far below screen). */
#define RV_KS_EXACT_MAX 4000000u
double rv_ks_pvalue(double d, uint64_t n, uint64_t m, double screen);

/* P(X <= k) for X ~ Binomial(n, p) (scipy.stats.binom.cdf). */
double rv_binom_cdf(uint64_t k, uint64_t n, double p);

/* The standard normal distribution function (scipy.stats.norm.cdf). */
double rv_norm_cdf(double z);

/* Two models' AUCs on the same n requests (truth[i] 1: positive, 0:
 * negative; a[i], b[i] their scores for the positive label) and the
 * variance of their difference, by DeLong, DeLong and Clarke-Pearson
 * (1988), computed with midranks (Sun and Xu, 2014): ties count one half.
 * 0, or -1 when a class is empty or out of memory. */
typedef struct rv_delong {
    double auc_a, auc_b;
    double var_diff; /* Var(AUC_a - AUC_b) */
} rv_delong;
int rv_delong_paired(const unsigned char *truth, const double *a, const double *b, size_t n,
                     rv_delong *out);

/* The one-sided paired test of H0 "mean(d) <= margin" on per-request
 * differences d (n >= 2): the large-sample z-test, p = 1 - Phi((mean(d) -
 * margin) / (sd(d) / sqrt(n))), sd with n - 1. With d = 1[a wrong] - 1[b
 * wrong] and margin 0 this is McNemar's test in its large-sample form.
 * *mean gets mean(d). A zero spread: p is 0 when mean(d) > margin, else 1. */
double rv_paired_p(const double *d, size_t n, double margin, double *mean);

#endif
