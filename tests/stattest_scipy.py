"""The reference figures for test_stattest: reads the cases test_stattest.c
wrote, one a line (a "ks" line followed by its two samples' lines), and
prints SciPy's figures for each, one line per case, in order:
  ks NA NB / A... / B...  ->  statistic, exact p-value, asymptotic p-value
  kolm D N M              ->  kstwobign.sf(D sqrt(N M / (N + M)))
  binom K N P             ->  binom.cdf(K, N, P)
  norm Z                  ->  norm.cdf(Z)
  delong N / TRUTH... / A... / B...
                          ->  AUC of A, of B, Var(AUC_A - AUC_B) by the
                              textbook DeLong, then roc_auc_score of A, of B
  paired N MARGIN / D...  ->  mean(D), norm.sf((mean - MARGIN) /
                              (std(D, ddof=1) / sqrt(N)))
The exact p-value is "nan" where ks_2samp gives up on it (it warns and
falls back to the asymptotic one, e.g. equal sizes and a tiny statistic,
where its series sums to just above 1).

DeLong here is the definition, not test_stattest's algorithm: the m x k
matrix of psi(x, y) (1 where a positive's score is above a negative's, 1/2
where equal), each positive's V10 the mean of its row, each negative's V01
the mean of its column, the AUC the mean of all, and the covariances of the
V10s and of the V01s of the two models with n - 1 (DeLong, DeLong and
Clarke-Pearson 1988): O(m k)."""
import math
import sys
import warnings

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score


def ks(na, nb, a, b):
    assert len(a) == na and len(b) == nb
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            res = stats.ks_2samp(a, b, method="exact")
            d, exact = res.statistic, res.pvalue
        except RuntimeWarning:
            d, exact = stats.ks_2samp(a, b, method="asymp").statistic, math.nan
    asymp = stats.kstwobign.sf(d * math.sqrt(na * nb / (na + nb)))
    return [d, exact, asymp]


def delong(truth, a, b):
    pos, neg = truth == 1, truth == 0
    m, k = int(pos.sum()), int(neg.sum())
    v10, v01, auc = [], [], []
    for s in (a, b):
        x, y = s[pos][:, None], s[neg][None, :]
        psi = (x > y).astype(float) + 0.5 * (x == y)
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
        auc.append(psi.mean())
    s10, s01 = np.cov(np.vstack(v10)), np.cov(np.vstack(v01))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / k
    return [auc[0], auc[1], var, roc_auc_score(truth, a), roc_auc_score(truth, b)]


def paired(n, margin, d):
    assert len(d) == n
    mean = d.mean()
    return [mean, stats.norm.sf((mean - margin) / (d.std(ddof=1) / math.sqrt(n)))]


def main():
    lines = iter(open(sys.argv[1], encoding="ascii").read().splitlines())
    for line in lines:
        f = line.split()
        if f[0] == "ks":
            a = np.array(next(lines).split(), dtype=float)
            b = np.array(next(lines).split(), dtype=float)
            out = ks(int(f[1]), int(f[2]), a, b)
        elif f[0] == "kolm":
            n, m = int(f[2]), int(f[3])
            out = [stats.kstwobign.sf(float(f[1]) * math.sqrt(n * m / (n + m)))]
        elif f[0] == "binom":
            out = [stats.binom.cdf(int(f[1]), int(f[2]), float(f[3]))]
        elif f[0] == "norm":
            out = [stats.norm.cdf(float(f[1]))]
        elif f[0] == "delong":
            truth = np.array(next(lines).split(), dtype=int)
            a = np.array(next(lines).split(), dtype=float)
            b = np.array(next(lines).split(), dtype=float)
            assert len(truth) == len(a) == len(b) == int(f[1])
            out = delong(truth, a, b)
        elif f[0] == "paired":
            out = paired(int(f[1]), float(f[2]), np.array(next(lines).split(), dtype=float))
        else:
            sys.exit(f"unknown case: {line}")
        print(" ".join(repr(float(x)) for x in out))


main()
