"""Statistics for comparing final metrics of seeds across species, with no dependency beyond numpy and pandas.

Two layers:

* Distribution functions (Student t and normal). The t distribution is computed exactly through the regularized
  incomplete beta function (a continued fraction evaluated with Lentz's method), so any ``df > 0`` works,
  including the non-integer degrees of freedom of Welch's test; the quantile inverts the survival function
  with a safeguarded Newton/bisection root finder. Accuracy is about 1e-12 relative or better.
* Tests on arrays (``mean_ci``, ``welch_test``, ``permutation_test``, ``hedges_g``, ``holm``) and their
  DataFrame front ends (``summarize``, ``pairwise_tests``, ``describe_difference``) over a results table with
  one row per run (columns such as ``species``, ``seed``, ``mode``, ``test_acc``, ``test_loss``).

Sign convention throughout: a difference is ``a - b`` (``mean(a) - mean(b)``), and a positive Hedges' g means
``a`` is larger.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = [
    "betainc",
    "normal_cdf",
    "normal_sf",
    "normal_ppf",
    "t_pdf",
    "t_cdf",
    "t_sf",
    "t_ppf",
    "t_isf",
    "mean_ci",
    "welch_test",
    "permutation_test",
    "hedges_g",
    "holm",
    "summarize",
    "pairwise_tests",
    "describe_difference",
]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_EPS = 1e-16  # continued-fraction convergence: one part in 1e16 per factor
_TINY = 1e-300  # Lentz's method replaces exact zeros by this so no division by zero can happen
_MAX_CF_ITER = 100_000  # the fraction needs O(sqrt(max(a, b))) terms; df up to ~1e9 stays well inside


# -- special functions ---------------------------------------------------------------------------------


def _lgamma_correction(x: float) -> float:
    """``lgamma(x) - ((x - 0.5) log x - x + log sqrt(2 pi))`` for x >= 10, by the Stirling series.

    Needed because ``lgamma(a) - lgamma(a + b)`` for large ``a`` (large df) cancels catastrophically: at
    df = 1e6 the naive difference loses ~6e-10 relative accuracy, the series keeps full precision.
    """
    inv = 1.0 / x
    inv2 = inv * inv
    # Bernoulli-number coefficients B_2k / (2k (2k - 1)); seven terms give < 1e-16 at x = 10.
    coeffs = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)
    total = 0.0
    power = inv
    for c in coeffs:
        total += c * power
        power *= inv2
    return total


def _log_beta(a: float, b: float) -> float:
    """``log B(a, b)``, accurate also when one or both arguments are large (the scheme of R's ``lbeta``)."""
    p, q = min(a, b), max(a, b)
    if p >= 10.0:
        corr = _lgamma_correction(p) + _lgamma_correction(q) - _lgamma_correction(p + q)
        return (-0.5 * math.log(q) + _LOG_SQRT_2PI + corr + (p - 0.5) * math.log(p / (p + q))
                + q * math.log1p(-p / (p + q)))
    if q >= 10.0:
        corr = _lgamma_correction(q) - _lgamma_correction(p + q)
        return math.lgamma(p) + corr + p - p * math.log(p + q) + (q - 0.5) * math.log1p(-p / (p + q))
    return math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)


def _lentz_step(aa: float, c: float, d: float) -> tuple[float, float, float]:
    """One modified-Lentz update for a continued-fraction term ``aa``; returns (c, d, factor)."""
    d = 1.0 + aa * d
    if abs(d) < _TINY:
        d = _TINY
    c = 1.0 + aa / c
    if abs(c) < _TINY:
        c = _TINY
    d = 1.0 / d
    return c, d, d * c


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction for I_x(a, b) (Numerical Recipes ``betacf``), by the modified Lentz method."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_CF_ITER + 1):
        m2 = 2 * m
        # Even and odd terms of the continued fraction, each one modified-Lentz update.
        c, d, delta = _lentz_step(m * (b - m) * x / ((qam + m2) * (a + m2)), c, d)
        h *= delta
        c, d, delta = _lentz_step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), c, d)
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b}, x={x})")


def _betainc_pair(a: float, b: float, x: float, xc: float, log_x: float | None = None) -> tuple[float, float]:
    """``(I_x(a, b), 1 - I_x(a, b))`` with ``xc = 1 - x`` passed in separately.

    Taking ``xc`` from the caller keeps precision when x is within rounding of 1, returning both tails lets
    callers use whichever is small without the cancellation of ``1 - I``, and ``log_x`` (optional) keeps the
    prefactor right when x itself underflows (the t tail at |t| > 1e154).
    """
    if xc <= 0.0:
        return 1.0, 0.0
    if log_x is None:
        if x <= 0.0:
            return 0.0, 1.0
        log_x = math.log(x) if x < 0.5 else math.log1p(-xc)
    log_xc = math.log(xc) if xc < 0.5 else math.log1p(-x)
    # Prefactor x^a (1-x)^b / B(a, b), in logs so huge a or b cannot overflow.
    log_front = a * log_x + b * log_xc - _log_beta(a, b)
    # The fraction converges fast only for x < (a+1)/(a+b+2); otherwise use I_x(a, b) = 1 - I_{1-x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0):
        val = math.exp(log_front) * _beta_cf(a, b, x) / a
        return val, 1.0 - val
    val = math.exp(log_front) * _beta_cf(b, a, xc) / b
    return 1.0 - val, val


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not (a > 0 and b > 0):
        raise ValueError(f"betainc needs a > 0 and b > 0, got a={a}, b={b}")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc needs 0 <= x <= 1, got {x}")
    return _betainc_pair(float(a), float(b), float(x), 1.0 - float(x))[0]


def normal_cdf(x: float) -> float:
    """Standard normal CDF, via ``math.erfc`` (the complement keeps precision in the lower tail)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_sf(x: float) -> float:
    """Standard normal survival function 1 - CDF, accurate in the upper tail."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def normal_ppf(q: float) -> float:
    """Standard normal quantile (the standard library's Wichura AS241, ~1e-16 relative)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile needs 0 <= q <= 1, got {q}")
    if q == 0.0:
        return -math.inf
    if q == 1.0:
        return math.inf
    return NormalDist().inv_cdf(q)


# Fisher's large-df expansion of the t survival function: for x >= 0,
#   sf(x) = Phi_bar(x) + phi(x) * sum_k x * R_k(x^2) / df^k,
# row k holding the coefficients of x^1, x^3, ... of the k-th odd polynomial. They were derived exactly (rational
# arithmetic) by expanding the t density as phi(x) * exp(series in 1/df), using the Stirling series for the
# normalising constant, and integrating each term by parts; the Phi_bar terms cancel exactly, as they must.
# Needed because the incomplete-beta route takes x = df / (df + t^2), which for huge df is within rounding of 1
# and loses ~eps * df / t^2 relative accuracy (4e-10 at df = 1e7). Checked against mpmath: < 1e-13 relative
# whenever t^4 < df / 4.
_FISHER = (
    (1/4, 1/4),
    (-1/32, -5/96, -7/96, 1/32),
    (-5/128, -1/128, 1/64, 7/192, -11/384, 1/384),
    (21/2048, 61/6144, -71/30720, -313/30720, -2141/92160, 445/18432, -25/6144, 1/6144),
    (399/8192, 119/8192, 1/2048, 19/6144, 83/12288, 333/20480, -1879/92160, 49/10240, -133/368640, 1/122880),
    (-869/65536, -2465/196608, 137/196608, 1949/1376256, -12805/6193152, -146047/30965760, -75113/6193152,
     231253/13271040, -135149/26542080, 107/196608, -23/983040, 1/2949120),
    (-39325/262144, -12529/262144, -861/131072, -449/131072, -829/786432, 1279/786432, 10349/2949120,
     21711/2293760, -1245961/82575360, 549373/106168320, -51971/74317824, 1067/24772608, -11/9175040,
     1/82575360),
)
_FISHER_MIN_DF = 1000.0  # below this the incomplete beta is accurate to ~1e-13 and the series needs tiny |t|


def _fisher_correction(x: float, df: float) -> float:
    """``phi(x) * sum_k x R_k(x^2) / df^k`` for x >= 0: the amount by which the t upper tail exceeds the normal."""
    x2 = x * x
    total = 0.0
    for coeffs in reversed(_FISHER):  # Horner in 1/df over Horner in x^2
        poly = 0.0
        for c in reversed(coeffs):
            poly = poly * x2 + c
        total = total / df + poly * x
    total /= df
    return total * math.exp(-0.5 * x2 - _LOG_SQRT_2PI)


def _check_df(df: float) -> float:
    df = float(df)
    if not df > 0:  # also rejects NaN
        raise ValueError(f"degrees of freedom must be > 0, got {df}")
    return df


def t_pdf(x: float, df: float) -> float:
    """Density of Student's t with ``df`` degrees of freedom (``df = inf`` gives the normal)."""
    df = _check_df(df)
    if math.isinf(df):
        return math.exp(-0.5 * x * x - _LOG_SQRT_2PI)
    ax = abs(x)
    if math.isinf(ax):
        return 0.0
    # log(1 + x^2/df), written so that x^2 cannot overflow for |x| > 1e154.
    log_term = math.log1p(ax * ax / df) if ax < 1e150 else 2.0 * math.log(ax) - math.log(df) + math.log1p(df / ax / ax)
    return math.exp(-0.5 * (df + 1.0) * log_term - 0.5 * math.log(df) - _log_beta(0.5 * df, 0.5))


def _t_tails(x: float, df: float) -> tuple[float, float]:
    """``(cdf, sf)`` of Student's t at x, each accurate in its own small tail."""
    df = _check_df(df)
    if math.isnan(x):
        return math.nan, math.nan
    if math.isinf(df):
        return normal_cdf(x), normal_sf(x)
    if x == 0.0:
        return 0.5, 0.5
    if math.isinf(x):
        return (1.0, 0.0) if x > 0 else (0.0, 1.0)
    x2 = x * x
    if df >= _FISHER_MIN_DF and x2 * x2 < 0.25 * df:
        ax = abs(x)
        corr = _fisher_correction(ax, df)
        upper, lower = normal_sf(ax) + corr, normal_cdf(ax) - corr
        return (lower, upper) if x > 0 else (upper, lower)
    # P(|T| > |x|) = I_u(df/2, 1/2) with u = df/(df+x^2); u and 1-u are formed without computing 1 - small.
    if x2 < df:
        z = x2 / df
        u, uc, log_u = 1.0 / (1.0 + z), z / (1.0 + z), -math.log1p(z)
    else:
        ax = abs(x)
        z = df / ax / ax  # not df / x2: x2 overflows for |x| > 1e154 while the tail is still representable
        u, uc = z / (1.0 + z), 1.0 / (1.0 + z)
        log_u = math.log(df) - 2.0 * math.log(ax) - math.log1p(z)
    two_tail, inner = _betainc_pair(0.5 * df, 0.5, u, uc, log_u)
    upper = 0.5 * two_tail  # P(T > |x|)
    lower = 0.5 + 0.5 * inner  # P(T < |x|), from the complement to avoid 1 - upper
    return (lower, upper) if x > 0 else (upper, lower)


def t_cdf(x: float, df: float) -> float:
    """Student's t CDF P(T <= x) for any ``df > 0`` (non-integer allowed; ``inf`` is the normal)."""
    return _t_tails(x, df)[0]


def t_sf(x: float, df: float) -> float:
    """Student's t survival function P(T > x), accurate far into the upper tail."""
    return _t_tails(x, df)[1]


def t_isf(p: float, df: float) -> float:
    """Inverse survival function: the x with P(T > x) = p."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {p}")
    df = _check_df(df)
    if p == 0.5:
        return 0.0
    if p > 0.5:
        # Symmetry. t_ppf only passes p <= 0.5, so this path is for direct callers.
        return -t_isf(1.0 - p, df)
    if p == 0.0:
        return math.inf
    if math.isinf(df):
        return -normal_ppf(p)
    if df == 1.0:
        return 1.0 / math.tan(math.pi * p)  # Cauchy, closed form; cot(pi p) keeps precision as p -> 0
    if df == 2.0:
        return (1.0 - 2.0 * p) / math.sqrt(2.0 * p * (1.0 - p))

    log_p = math.log(p)

    def g(x: float) -> tuple[float, float]:
        # log(sf) - log(p): decreasing, root is the answer. Logs make Newton converge in the far tail too,
        # where sf itself is exponentially flat and Newton on it creeps.
        s = t_sf(x, df)
        return (math.log(s) - log_p if s > 0.0 else -math.inf), s

    # Bracket the root: g(0) > 0, so grow hi until g(hi) <= 0 (heavy tails can need a huge x).
    lo, hi = 0.0, 1.0
    while g(hi)[0] > 0.0:
        lo, hi = hi, hi * 2.0
        if math.isinf(hi):
            return math.inf  # beyond the largest float
    # Start from the normal quantile (close for moderate and large df), or mid-bracket if it falls outside.
    x = -normal_ppf(p)
    if not lo < x < hi:
        x = 0.5 * (lo + hi)
    for _ in range(400):
        gx, s = g(x)
        if gx == 0.0:
            return x
        if gx > 0.0:
            lo = x
        else:
            hi = x
        dens = t_pdf(x, df)
        # Newton on log sf, whose derivative is -pdf/sf; bisection whenever that leaves the bracket.
        x_new = x + gx * s / dens if s > 0.0 and dens > 0.0 else math.nan
        if not lo < x_new < hi:
            x_new = 0.5 * (lo + hi)
        if abs(x_new - x) <= 2e-16 * abs(x) or hi - lo <= 2e-16 * hi:
            return x_new
        x = x_new
    return x


def t_ppf(q: float, df: float) -> float:
    """Student's t quantile (inverse CDF) for any ``df > 0``; ``t_ppf(0.975, 4) = 2.7764451051977987``."""
    q = float(q)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile needs 0 <= q <= 1, got {q}")
    # Work with the smaller tail probability so small q keeps its precision.
    if q < 0.5:
        return -t_isf(q, df)
    return t_isf(1.0 - q, df)


# -- array-level tests ---------------------------------------------------------------------------------


def _as_sample(values: Any, name: str = "values") -> np.ndarray:
    """A 1-D float array of finite values; missing or infinite values are an error here, not dropped."""
    arr = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; drop them first")
    return arr


def _mean_var(x: np.ndarray) -> tuple[float, float]:
    """Mean and unbiased variance; a constant sample gets exactly its value and exactly 0.

    Without this, rounding makes the variance of e.g. ``[0.1] * 5`` about 1e-34 rather than 0, and a t
    statistic built from it is noise instead of a clean zero-variance case.
    """
    if x.size and x.min() == x.max():
        return float(x[0]), (0.0 if x.size > 1 else math.nan)
    return float(np.mean(x)), (float(np.var(x, ddof=1)) if x.size > 1 else math.nan)


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    return float(confidence)


def mean_ci(values: Any, confidence: float = 0.95) -> dict[str, float]:
    """Mean with a t-based confidence interval: ``mean +- t_{(1+c)/2, n-1} * sd / sqrt(n)``, sd with ddof=1.

    Returns ``n, mean, sd, ci_low, ci_high, half_width``. One value gives its mean and NaN for the rest
    (no spread can be estimated); no values is an error.
    """
    confidence = _check_confidence(confidence)
    x = _as_sample(values)
    n = x.size
    if n == 0:
        raise ValueError("mean_ci needs at least one value")
    mean, var = _mean_var(x)
    if n == 1:
        return {"n": 1, "mean": mean, "sd": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "half_width": math.nan}
    sd = math.sqrt(var)
    half = t_ppf(0.5 + 0.5 * confidence, n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half, "half_width": half}


def welch_test(a: Any, b: Any, confidence: float = 0.95) -> dict[str, float]:
    """Welch's unequal-variance t-test of mean(a) = mean(b), two-sided.

    Returns ``diff = mean(a) - mean(b)``, ``se``, ``df`` (Welch-Satterthwaite), ``t``, ``p`` and the Welch
    confidence interval of the difference ``ci_low, ci_high``. Each group needs at least two values.

    If both groups have zero variance the test degenerates: ``p = 1.0`` when the means are equal and
    ``p = 0.0`` when they differ (t is 0 or +-inf), ``df`` is NaN and the CI collapses to ``[diff, diff]``.
    No division-by-zero warning is raised.
    """
    confidence = _check_confidence(confidence)
    x, y = _as_sample(a, "a"), _as_sample(b, "b")
    if x.size < 2 or y.size < 2:
        raise ValueError(f"welch_test needs at least 2 values per group, got {x.size} and {y.size}")
    mean_a, var_a = _mean_var(x)
    mean_b, var_b = _mean_var(y)
    diff = mean_a - mean_b
    va, vb = var_a / x.size, var_b / y.size  # squared standard errors of each mean
    se2 = va + vb
    if se2 == 0.0:
        t = 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
        return {"diff": diff, "se": 0.0, "df": math.nan, "t": t, "p": 1.0 if diff == 0.0 else 0.0,
                "ci_low": diff, "ci_high": diff}
    se = math.sqrt(se2)
    df = se2 * se2 / (va * va / (x.size - 1) + vb * vb / (y.size - 1))
    t = diff / se
    p = min(1.0, 2.0 * t_sf(abs(t), df))
    half = t_ppf(0.5 + 0.5 * confidence, df) * se
    return {"diff": diff, "se": se, "df": df, "t": t, "p": p, "ci_low": diff - half, "ci_high": diff + half}


_PERM_STATISTICS = ("mean_diff", "welch_t")
_PERM_CHUNK = 4096  # relabelings evaluated per batch: bounds memory, and fixed so a seed gives one answer


def _perm_stats(masks: np.ndarray, pooled: np.ndarray, n_a: int, statistic: str) -> np.ndarray:
    """|statistic| for each relabeling; ``masks`` is (k, N) boolean, True = assigned to group a."""
    n_b = pooled.size - n_a
    m = masks.astype(float)
    sum_a = m @ pooled
    sum_b = pooled.sum() - sum_a
    diff = sum_a / n_a - sum_b / n_b
    if statistic == "mean_diff":
        return np.abs(diff)
    sq = pooled * pooled
    ss_a = m @ sq - sum_a * sum_a / n_a
    ss_b = (sq.sum() - m @ sq) - sum_b * sum_b / n_b
    se2 = np.maximum(ss_a, 0.0) / (n_a * (n_a - 1)) + np.maximum(ss_b, 0.0) / (n_b * (n_b - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(diff) / np.sqrt(se2)
    # Zero spread in both relabeled groups: treat as 0 when the means agree, infinitely extreme otherwise.
    return np.where(se2 > 0.0, t, np.where(np.abs(diff) > 0.0, np.inf, 0.0))


def permutation_test(a: Any, b: Any, n_permutations: int = 10000, seed: int = 0,
                     statistic: str = "mean_diff") -> float:
    """Two-sided permutation test of exchangeability of a and b; returns the p-value.

    ``statistic`` is ``"mean_diff"`` (|mean(a) - mean(b)|) or ``"welch_t"`` (|Welch t|, more robust to unequal
    variances; needs >= 2 values per group). When the number of distinct splits C(n_a + n_b, n_a) is at most
    ``n_permutations`` every split is enumerated and p is exact (count / total, the observed split included);
    otherwise ``n_permutations`` random relabelings from ``numpy.random.default_rng(seed)`` are drawn and
    ``p = (count + 1) / (n_permutations + 1)``, which is never 0 and is valid (Phipson & Smyth 2010).
    """
    if statistic not in _PERM_STATISTICS:
        raise ConfigError(f"unknown statistic {statistic!r}; choose from {', '.join(_PERM_STATISTICS)}")
    if int(n_permutations) != n_permutations or n_permutations < 1:
        raise ConfigError(f"n_permutations must be a positive integer, got {n_permutations}")
    n_permutations = int(n_permutations)
    x, y = _as_sample(a, "a"), _as_sample(b, "b")
    min_n = 2 if statistic == "welch_t" else 1
    if x.size < min_n or y.size < min_n:
        raise ValueError(f"permutation_test ({statistic}) needs at least {min_n} value(s) per group, "
                         f"got {x.size} and {y.size}")
    n_a = x.size
    pooled = np.concatenate([x, y])
    pooled = pooled - pooled.mean()  # centring shrinks rounding error in the sums; the statistics are shift-free
    n = pooled.size
    observed_mask = np.zeros((1, n), dtype=bool)
    observed_mask[0, :n_a] = True
    observed = _perm_stats(observed_mask, pooled, n_a, statistic)[0]
    # Splits whose statistic equals the observed one mathematically can differ by rounding; count them as ties.
    scale = float(np.max(np.abs(pooled))) if n else 0.0
    threshold = observed - 1e-9 * (scale if statistic == "mean_diff" else max(observed, 1.0))

    total = math.comb(n, n_a)
    count = 0
    if total <= n_permutations:
        combos = itertools.combinations(range(n), n_a)
        while True:
            chunk = list(itertools.islice(combos, _PERM_CHUNK))
            if not chunk:
                break
            masks = np.zeros((len(chunk), n), dtype=bool)
            masks[np.repeat(np.arange(len(chunk)), n_a), np.asarray(chunk).ravel()] = True
            count += int(np.count_nonzero(_perm_stats(masks, pooled, n_a, statistic) >= threshold))
        return count / total
    rng = np.random.default_rng(seed)
    base = np.zeros(n, dtype=bool)
    base[:n_a] = True
    done = 0
    while done < n_permutations:
        k = min(_PERM_CHUNK, n_permutations - done)
        masks = rng.permuted(np.broadcast_to(base, (k, n)), axis=1)
        count += int(np.count_nonzero(_perm_stats(masks, pooled, n_a, statistic) >= threshold))
        done += k
    return (count + 1) / (n_permutations + 1)


def hedges_g(a: Any, b: Any) -> float:
    """Hedges' g: (mean(a) - mean(b)) / pooled SD, times J = 1 - 3 / (4 (n_a + n_b) - 9).

    NaN when undefined: fewer than 3 values in total (no pooled SD) or a pooled SD of zero.
    """
    x, y = _as_sample(a, "a"), _as_sample(b, "b")
    n_a, n_b = x.size, y.size
    if n_a < 1 or n_b < 1 or n_a + n_b < 3:
        return math.nan
    mean_a, var_a = _mean_var(x)
    mean_b, var_b = _mean_var(y)
    # A single-value group contributes no variance (weight n - 1 = 0), so its NaN variance is replaced by 0.
    ss = (n_a - 1) * (var_a if n_a > 1 else 0.0) + (n_b - 1) * (var_b if n_b > 1 else 0.0)
    pooled_sd = math.sqrt(ss / (n_a + n_b - 2))
    if pooled_sd == 0.0:
        return math.nan
    j = 1.0 - 3.0 / (4.0 * (n_a + n_b) - 9.0)
    return j * (mean_a - mean_b) / pooled_sd


def holm(pvalues: Any) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values, in the input order.

    Sorted ascending, the i-th smallest (1-based) becomes max over j <= i of (m - j + 1) p_(j), capped at 1,
    so the adjusted values are monotone in the raw ones. NaN entries stay NaN and do not count towards m.
    """
    p = np.asarray(pvalues, dtype=float).ravel()
    valid = ~np.isnan(p)
    if np.any((p[valid] < 0.0) | (p[valid] > 1.0)):
        raise ValueError("p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(valid)
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


# -- DataFrame front ends ------------------------------------------------------------------------------


def _as_list(keys: str | Sequence[str]) -> list[str]:
    return [keys] if isinstance(keys, str) else list(keys)


def _require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ConfigError(f"results table has no column(s) {', '.join(map(repr, missing))}; "
                          f"it has {', '.join(map(str, df.columns))}")


def _groups(df: pd.DataFrame, keys: list[str]) -> list[tuple[tuple[Hashable, ...], pd.DataFrame]]:
    """Groups in order of first appearance; NaN keys form their own group rather than vanishing."""
    out = []
    for key, sub in df.groupby(keys, sort=False, dropna=False):
        out.append((key if isinstance(key, tuple) else (key,), sub))
    return out


def summarize(df: pd.DataFrame, by: str | Sequence[str] = "species",
              metrics: str | Sequence[str] = ("test_acc", "test_loss"), confidence: float = 0.95) -> pd.DataFrame:
    """One row per group and metric: the ``by`` column(s), ``metric, n, mean, sd, ci_low, ci_high``.

    Groups keep their order of first appearance. Missing values (NaN) are dropped per metric, so ``n`` counts
    the runs that have that metric; a group with none gets ``n = 0`` and NaN statistics.
    """
    keys, metric_list = _as_list(by), _as_list(metrics)
    _require_columns(df, keys + metric_list)
    rows = []
    for key, sub in _groups(df, keys):
        for metric in metric_list:
            values = pd.to_numeric(sub[metric]).dropna().to_numpy(dtype=float)
            if values.size:
                ci = mean_ci(values, confidence)
            else:
                ci = {"n": 0, "mean": math.nan, "sd": math.nan, "ci_low": math.nan, "ci_high": math.nan}
            rows.append({**dict(zip(keys, key, strict=True)), "metric": metric, "n": ci["n"], "mean": ci["mean"],
                         "sd": ci["sd"], "ci_low": ci["ci_low"], "ci_high": ci["ci_high"]})
    columns = [*keys, "metric", "n", "mean", "sd", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)


_METHODS = ("welch", "permutation")


def _compare_pair(a: np.ndarray, b: np.ndarray, method: str, n_permutations: int, seed: int,
                  statistic: str) -> dict[str, float]:
    """diff, Welch CI, Hedges' g and p for one pair; NaN where a group is too small to test."""
    out = {"diff": math.nan, "ci_low": math.nan, "ci_high": math.nan, "hedges_g": math.nan, "p": math.nan}
    if a.size and b.size:
        out["diff"] = float(np.mean(a) - np.mean(b))
        out["hedges_g"] = hedges_g(a, b)
    if a.size >= 2 and b.size >= 2:
        w = welch_test(a, b)
        out.update(diff=w["diff"], ci_low=w["ci_low"], ci_high=w["ci_high"], p=w["p"])
        if method == "permutation":
            out["p"] = permutation_test(a, b, n_permutations=n_permutations, seed=seed, statistic=statistic)
    return out


def pairwise_tests(df: pd.DataFrame, by: str = "species", metric: str | Sequence[str] = "test_acc",
                   method: str = "welch", within: str | Sequence[str] | None = None, alpha: float = 0.05,
                   n_permutations: int = 10000, seed: int = 0, statistic: str = "mean_diff") -> pd.DataFrame:
    """Every pair of ``by`` groups (order of first appearance), tested on each metric.

    Columns: the ``within`` column(s) if given, ``group_a, group_b, metric, n_a, n_b, mean_a, mean_b, diff``
    (a - b), ``ci_low, ci_high`` (95% Welch CI of the difference, whatever the method), ``hedges_g``, ``p``
    (Welch t-test, or a permutation test with ``n_permutations``, ``seed`` and ``statistic``), ``p_holm``
    (Holm across all pairs of one metric within one stratum), ``significant`` (``p_holm < alpha``), and
    ``method`` and ``by`` so that ``describe_difference`` can word a row on its own.

    With ``within`` (e.g. ``"mode"``) pairs are formed inside each stratum only. Missing metric values are
    dropped; a pair in which a group has fewer than 2 values gets NaN statistics and is left out of Holm.
    """
    if method not in _METHODS:
        raise ConfigError(f"unknown method {method!r}; choose from {', '.join(_METHODS)}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")
    if not isinstance(by, str):
        raise ConfigError("pairwise_tests takes one column for by; put further factors in within")
    strata, metric_list = ([] if within is None else _as_list(within)), _as_list(metric)
    _require_columns(df, [by, *strata, *metric_list])
    stratified = _groups(df, strata) if strata else [((), df)]
    rows: list[dict[str, Any]] = []
    for stratum_key, stratum in stratified:
        groups = _groups(stratum, [by])
        for m in metric_list:
            family: list[dict[str, Any]] = []
            for (ka, ga), (kb, gb) in itertools.combinations(groups, 2):
                a = pd.to_numeric(ga[m]).dropna().to_numpy(dtype=float)
                b = pd.to_numeric(gb[m]).dropna().to_numpy(dtype=float)
                res = _compare_pair(a, b, method, n_permutations, seed, statistic)
                family.append({
                    **dict(zip(strata, stratum_key, strict=True)),
                    "group_a": ka[0], "group_b": kb[0], "metric": m, "n_a": a.size, "n_b": b.size,
                    "mean_a": float(np.mean(a)) if a.size else math.nan,
                    "mean_b": float(np.mean(b)) if b.size else math.nan,
                    **res,
                })
            # One Holm family per (stratum, metric): the pairs a reviewer would read together.
            adjusted = holm([r["p"] for r in family])
            for r, ph in zip(family, adjusted, strict=True):
                r["p_holm"] = float(ph)
                r["significant"] = bool(ph < alpha)  # NaN compares False: untestable is not significant
                r["method"] = method
                r["by"] = by
            rows.extend(family)
    columns = [*strata, "group_a", "group_b", "metric", "n_a", "n_b", "mean_a", "mean_b", "diff", "ci_low",
               "ci_high", "hedges_g", "p", "p_holm", "significant", "method", "by"]
    return pd.DataFrame(rows, columns=columns)


# -- wording -------------------------------------------------------------------------------------------

_TEST_NAMES = {"welch": "Welch t-test", "permutation": "permutation test"}


def _metric_label(metric: str) -> str:
    """``test_acc`` -> ``test accuracy``, ``test_loss`` -> ``test loss``."""
    if metric.endswith("_acc"):
        metric = metric[: -len("_acc")] + " accuracy"
    elif metric == "acc":
        metric = "accuracy"
    return metric.replace("_", " ")


def _format_p(p: float) -> str:
    """APA-like: ``< 0.001``; three decimals below 0.1 (so 0.063 is not shown as 0.06); otherwise two."""
    if p < 0.001:
        return "< 0.001"
    return f"= {p:.3f}" if p < 0.1 else f"= {p:.2f}"


def _decimals(diff: float, half_width: float) -> int:
    """Enough decimals to resolve the CI (two significant digits of its half-width), at least 2, at most 6."""
    ref = half_width if math.isfinite(half_width) and half_width > 0 else abs(diff)
    if not math.isfinite(ref) or ref == 0:
        return 2
    return int(min(6, max(2, 1 - math.floor(math.log10(ref)))))


def _fmt(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    # "-0.00" reads as a sign the rounding destroyed; print zero without it.
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text


def describe_difference(row: Mapping[str, Any] | pd.Series, group_label: str | None = None) -> str:
    """One plain-English sentence for a reviewer from one ``pairwise_tests`` row.

    Example: "The human-mouse difference in test accuracy of 0.40 points (95% CI -0.52 to 1.32) is not
    significant (Welch t-test, p = 0.31, Holm-corrected p = 0.62; n = 5 per species)." Accuracy metrics
    (names ending in ``_acc``) are in percentage points; other metrics have no unit. Significance follows
    the Holm-corrected p (the row's ``significant`` column when present, else ``p_holm < 0.05``).
    ``group_label`` (default: the row's ``by`` column, else "group") names what n is counted per.
    """
    a, b, metric = row["group_a"], row["group_b"], str(row["metric"])
    label = group_label or (str(row["by"]) if "by" in row and isinstance(row["by"], str) else "group")
    n_a, n_b = int(row["n_a"]), int(row["n_b"])
    n_text = f"n = {n_a} per {label}" if n_a == n_b else f"n = {n_a} {a}, {n_b} {b}"
    what = f"The {a}-{b} difference in {_metric_label(metric)}"
    diff, lo, hi, p, p_holm = (float(row[k]) for k in ("diff", "ci_low", "ci_high", "p", "p_holm"))
    if math.isnan(p):
        return f"{what} could not be tested (each {label} needs at least 2 runs; {n_text})."
    dec = _decimals(diff, 0.5 * (hi - lo))
    unit = " points" if metric.endswith("_acc") or metric == "acc" else ""
    ci_text = f"95% CI {_fmt(lo, dec)} to {_fmt(hi, dec)}" if math.isfinite(lo) else "no CI"
    significant = bool(row["significant"]) if "significant" in row else p_holm < 0.05
    verdict = "is significant" if significant else "is not significant"
    test = _TEST_NAMES.get(str(row.get("method", "welch")), str(row.get("method")))
    return (f"{what} of {_fmt(diff, dec)}{unit} ({ci_text}) {verdict} "
            f"({test}, p {_format_p(p)}, Holm-corrected p {_format_p(p_holm)}; {n_text}).")
