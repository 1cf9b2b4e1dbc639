"""Statistics for comparing the final metrics of seeds across species and modes, on SciPy.

SciPy computes the distributions and tests (``scipy.stats.t`` for the CIs, ``ttest_ind(equal_var=False)`` for
Welch's test, ``permutation_test``); this module keeps what SciPy does not: the zero-variance cases made exact,
Hedges' g, Holm's step-down correction (six lines; SciPy has none, statsmodels would be a heavy dependency for
it), and the DataFrame front ends (``summarize``, ``pairwise_tests``, ``describe_difference``) over a results
table with one row per run (columns such as ``species``, ``seed``, ``mode``, ``test_acc``, ``test_loss``).

Sign convention throughout: a difference is ``a - b`` (``mean(a) - mean(b)``), and a positive Hedges' g means
``a`` is larger. Imports SciPy, pandas and the leaves (errors, format) only.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import metrics
from ..errors import ConfigError
from ..format import ci_decimals, format_number, p_clause

__all__ = [
    "mean_ci",
    "welch_test",
    "permutation_test",
    "hedges_g",
    "holm",
    "summarize",
    "groups_in_order",
    "pairwise_tests",
    "describe_difference",
]


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
    half = float(sps.t.ppf(0.5 + 0.5 * confidence, n - 1)) * sd / math.sqrt(n)
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
    with warnings.catch_warnings():
        # SciPy warns of "catastrophic cancellation" for nearly equal values (seeds that agree to many digits);
        # the statistic is still right, and the exactly-equal case is handled above.
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.ttest_ind(x, y, equal_var=False)
        ci = res.confidence_interval(confidence)
    return {"diff": diff, "se": math.sqrt(se2), "df": float(res.df), "t": float(res.statistic),
            "p": min(1.0, float(res.pvalue)), "ci_low": float(ci.low), "ci_high": float(ci.high)}


_PERM_STATISTICS = ("mean_diff", "welch_t")


def _abs_mean_diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.abs(np.mean(x, axis=axis) - np.mean(y, axis=axis))


def _abs_welch_t(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    # Zero spread in both relabeled groups: 0 when the means agree, infinitely extreme otherwise.
    diff = np.mean(x, axis=axis) - np.mean(y, axis=axis)
    se2 = np.var(x, axis=axis, ddof=1) / x.shape[axis] + np.var(y, axis=axis, ddof=1) / y.shape[axis]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(diff) / np.sqrt(se2)
    return np.where(se2 > 0.0, t, np.where(np.abs(diff) > 0.0, np.inf, 0.0))


def permutation_test(a: Any, b: Any, n_permutations: int = 10000, seed: int = 0,
                     statistic: str = "mean_diff") -> float:
    """Two-sided permutation test of exchangeability of a and b (``scipy.stats.permutation_test``); the p-value.

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
    x, y = _as_sample(a, "a"), _as_sample(b, "b")
    min_n = 2 if statistic == "welch_t" else 1
    if x.size < min_n or y.size < min_n:
        raise ValueError(f"permutation_test ({statistic}) needs at least {min_n} value(s) per group, "
                         f"got {x.size} and {y.size}")
    # Centring shrinks rounding error in the sums; both statistics are shift-free.
    pooled = np.concatenate([x, y])
    centre = pooled.mean()
    scale = float(np.max(np.abs(pooled - centre))) or 1.0
    base = _abs_mean_diff if statistic == "mean_diff" else _abs_welch_t

    def rounded(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        # Splits whose statistic ties mathematically differ by rounding (accuracies are multiples of 0.01), and
        # SciPy's own tie tolerance is relative to the observed value only; rounding to 1e-9 of the data's scale
        # (a monotone map, so the test is unchanged) makes such ties exact.
        s = base(u, v, axis=axis)
        ref = scale if statistic == "mean_diff" else 1.0
        return np.where(np.isfinite(s), np.round(s / ref, 9), s)

    # The statistic is already two-sided (an absolute value), so its upper tail is the two-sided p-value.
    res = sps.permutation_test((x - centre, y - centre), rounded, permutation_type="independent", vectorized=True,
                               n_resamples=int(n_permutations), alternative="greater", rng=np.random.default_rng(seed))
    return float(res.pvalue)


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


def groups_in_order(df: pd.DataFrame, keys: Sequence[str]) -> list[tuple[tuple[Hashable, ...], pd.DataFrame]]:
    """``(key, rows)`` per group of ``keys``, in order of first appearance; NaN keys form their own group rather
    than vanishing, and no keys make the whole table one group with key ``()``."""
    keys = list(keys)
    if not keys:
        return [((), df)]
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
    for key, sub in groups_in_order(df, keys):
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

    With ``within`` (e.g. ``"condition"``) pairs are formed inside each stratum only. Missing metric values are
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
    stratified = groups_in_order(df, strata)
    rows: list[dict[str, Any]] = []
    for stratum_key, stratum in stratified:
        groups = groups_in_order(stratum, [by])
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


def describe_difference(row: Mapping[str, Any] | pd.Series, group_label: str | None = None) -> str:
    """One plain-English sentence for a reviewer from one ``pairwise_tests`` row.

    Example: "The human-mouse difference in test accuracy of 0.40 points (95% CI -0.52 to 1.32) is not
    significant (Welch t-test, p = 0.31, Holm-corrected p = 0.62; n = 5 per species)." Differences are in
    the metric's unit (percentage points for accuracies; :mod:`visualstreams.metrics`). Significance follows
    the Holm-corrected p (the row's ``significant`` column when present, else ``p_holm < 0.05``).
    ``group_label`` (default: the row's ``by`` column, else "group") names what n is counted per.
    """
    a, b, metric = row["group_a"], row["group_b"], str(row["metric"])
    label = group_label or (str(row["by"]) if "by" in row and isinstance(row["by"], str) else "group")
    n_a, n_b = int(row["n_a"]), int(row["n_b"])
    n_text = f"n = {n_a} per {label}" if n_a == n_b else f"n = {n_a} {a}, {n_b} {b}"
    what = f"The {a}-{b} difference in {metrics.label(metric)}"
    diff, lo, hi, p, p_holm = (float(row[k]) for k in ("diff", "ci_low", "ci_high", "p", "p_holm"))
    if math.isnan(p):
        return f"{what} could not be tested (each {label} needs at least 2 runs; {n_text})."
    dec = ci_decimals(diff, 0.5 * (hi - lo))
    unit = f" {metrics.info(metric).difference_unit}" if metrics.info(metric).difference_unit else ""
    ci_text = f"95% CI {format_number(lo, dec)} to {format_number(hi, dec)}" if math.isfinite(lo) else "no CI"
    significant = bool(row["significant"]) if "significant" in row else p_holm < 0.05
    verdict = "is significant" if significant else "is not significant"
    test = _TEST_NAMES.get(str(row.get("method", "welch")), str(row.get("method")))
    return (f"{what} of {format_number(diff, dec)}{unit} ({ci_text}) {verdict} "
            f"({test}, p {p_clause(p)}, Holm-corrected p {p_clause(p_holm)}; {n_text}).")
