"""The reference figures for test_stattest: reads the cases test_stattest.c
wrote, one a line (a "ks" line followed by its two samples' lines), and
prints SciPy's figures for each, one line per case, in order:
  ks NA NB / A... / B...  ->  statistic, exact p-value, asymptotic p-value
  kolm D N M              ->  kstwobign.sf(D sqrt(N M / (N + M)))
  binom K N P             ->  binom.cdf(K, N, P)
  norm Z                  ->  norm.cdf(Z)
The exact p-value is "nan" where ks_2samp gives up on it (it warns and
falls back to the asymptotic one, e.g. equal sizes and a tiny statistic,
where its series sums to just above 1)."""
import math
import sys
import warnings

import numpy as np
from scipy import stats


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
        else:
            sys.exit(f"unknown case: {line}")
        print(" ".join(repr(float(x)) for x in out))


main()
