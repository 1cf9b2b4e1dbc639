"""Metrics by occlusion level: runs scored at several levels (``test_acc@occ0``, ``test_acc@occ20``, ...; task
``occlusion``) compared level by level.

- :func:`by_level`: each condition's mean and 95% CI over seeds at each level (one row per condition and level);
- :func:`level_differences`: condition a minus condition b at each level (Welch, as compare's tests), Holm over the
  levels of one stratum: the family a reader of "does the gap change with occlusion" reads together;
- :func:`level_slopes` and :func:`trend_difference`: each run's least-squares slope of the metric over the levels
  (points per 10 points of occlusion), and a against b on those slopes: the interaction "does a fall less steeply
  than b as occlusion rises", one test per stratum, Holm over strata;
- :func:`lesion_by_level` and :func:`lesion_trend`: lesioned minus intact, paired within each run (lesions.csv's
  ``change_*`` columns), at each level, and its slope over the levels.

The tests are SciPy's (through :mod:`.stats`); what is written here is only the reshaping by level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..errors import ConfigError
from ..metrics import parse as parse_metric
from .stats import groups_in_order, holm, mean_ci, summarize, welch_test

#: Slopes are given per this many points of occlusion (the levels' usual spacing, 0, 20, 40, 60, is twice it).
SLOPE_PER = 10.0


def level_columns(columns: Sequence[str], metric: str = "test_acc", step: int | None = None) -> dict[float, str]:
    """The columns of ``metric`` at each occlusion level, ``{0.0: "test_acc@occ0", 20.0: ...}`` in level order;
    with ``step``, those read at that step of a recurrent run (``test_acc@occ20@t2``)."""
    found = {}
    for col in columns:
        base, level, at = parse_metric(str(col))
        if base == metric and level is not None and at == step:
            found[level] = str(col)
    return dict(sorted(found.items()))


def _levels(df: pd.DataFrame, metric: str, step: int | None = None) -> dict[float, str]:
    cols = level_columns(list(df.columns), metric, step)
    if not cols:
        where = "" if step is None else f" at step {step}"
        raise ConfigError(f"no {metric}@occLEVEL columns{where}: these runs were not scored at occlusion levels "
                          "(task occlusion)")
    return cols


def by_level(df: pd.DataFrame, metric: str = "test_acc", by: Sequence[str] = ("species", "condition"),
             step: int | None = None) -> pd.DataFrame:
    """One row per ``by`` group and level: ``level, n, mean, sd, ci_low, ci_high`` over the group's runs (seeds).

    ``df``: one row per run, e.g. compare's summary.csv (its ``status == "ok"`` rows) or lesions.csv rows."""
    cols = _levels(df, metric, step)
    table = summarize(df, by=list(by), metrics=list(cols.values()))
    table = table[table["n"] > 0].copy()  # a group without the metric (a one-step run's per-step columns): no row
    level = table.pop("metric").map({col: lvl for lvl, col in cols.items()})
    table.insert(len(by), "level", level)
    return table.reset_index(drop=True)


def level_differences(df: pd.DataFrame, a: str, b: str, metric: str = "test_acc", by: str = "condition",
                      within: Sequence[str] = ("species",)) -> pd.DataFrame:
    """Condition ``a`` minus ``b`` (values of column ``by``) at each level, within each stratum.

    Columns: the ``within`` keys, ``level, n_a, n_b, mean_a, mean_b, diff`` (a - b), ``ci_low, ci_high`` (95%
    Welch CI), ``p`` (Welch), ``p_holm`` (Holm over the levels of the stratum). Strata lacking a or b are skipped."""
    cols = _levels(df, metric)
    rows = []
    for key, grp in groups_in_order(df, within):
        ga, gb = grp[grp[by] == a], grp[grp[by] == b]
        if ga.empty or gb.empty:
            continue
        family = []
        for level, col in cols.items():
            xa = pd.to_numeric(ga[col], errors="coerce").dropna().to_numpy(float)
            xb = pd.to_numeric(gb[col], errors="coerce").dropna().to_numpy(float)
            res = welch_test(xa, xb) if xa.size >= 2 and xb.size >= 2 else {
                "diff": float(np.mean(xa) - np.mean(xb)) if xa.size and xb.size else np.nan,
                "ci_low": np.nan, "ci_high": np.nan, "p": np.nan}
            family.append({**dict(zip(within, key, strict=True)), "level": level, "n_a": xa.size, "n_b": xb.size,
                           "mean_a": float(np.mean(xa)) if xa.size else np.nan,
                           "mean_b": float(np.mean(xb)) if xb.size else np.nan, "diff": res["diff"],
                           "ci_low": res["ci_low"], "ci_high": res["ci_high"], "p": res["p"]})
        for row, p in zip(family, holm([r["p"] for r in family]), strict=True):
            row["p_holm"] = float(p)
        rows += family
    return pd.DataFrame(rows)


def level_slopes(df: pd.DataFrame, metric: str = "test_acc", prefix: str = "") -> pd.Series:
    """Each row's least-squares slope of ``metric`` over the levels, per :data:`SLOPE_PER` points of occlusion
    (negative: the metric falls as occlusion rises). ``prefix`` reads another family of columns with the same
    levels, e.g. ``"change_"`` for lesions.csv's changes (``change_acc@occ20``: ``metric="acc"``)."""
    cols = _levels(df, prefix + metric)
    if len(cols) < 2:
        raise ConfigError(f"a slope over occlusion levels needs two levels or more, got {len(cols)}")
    levels = np.array(list(cols), dtype=float)
    values = df[list(cols.values())].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    # One least-squares line per row: slope = cov(level, value) / var(level) (np.polyfit row by row, vectorised).
    centred = levels - levels.mean()
    slopes = (values - values.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)
    return pd.Series(slopes * SLOPE_PER, index=df.index, name=f"slope_{prefix}{metric}")


def trend_difference(df: pd.DataFrame, a: str, b: str, metric: str = "test_acc", by: str = "condition",
                     within: Sequence[str] = ("species",)) -> pd.DataFrame:
    """Does ``a`` fall less steeply than ``b`` as occlusion rises? Welch's test on the runs' slopes
    (:func:`level_slopes`), per stratum. Columns: the ``within`` keys, ``n_a, n_b, slope_a, slope_b, diff``
    (a - b; positive: a loses less per step of occlusion), ``ci_low, ci_high, p, p_holm`` (Holm over strata)."""
    slopes = df.assign(_slope=level_slopes(df, metric))
    rows = []
    for key, grp in groups_in_order(slopes, within):
        xa = grp.loc[grp[by] == a, "_slope"].dropna().to_numpy(float)
        xb = grp.loc[grp[by] == b, "_slope"].dropna().to_numpy(float)
        if xa.size < 2 or xb.size < 2:
            continue
        res = welch_test(xa, xb)
        rows.append({**dict(zip(within, key, strict=True)), "n_a": xa.size, "n_b": xb.size,
                     "slope_a": float(xa.mean()), "slope_b": float(xb.mean()), "diff": res["diff"],
                     "ci_low": res["ci_low"], "ci_high": res["ci_high"], "p": res["p"]})
    out = pd.DataFrame(rows)
    if len(out):
        out["p_holm"] = holm(out["p"].to_numpy(float))
    return out


def _one_sample(values: np.ndarray) -> dict[str, float]:
    """Mean, 95% CI and the one-sample t-test against 0 (on within-run changes: the paired t-test)."""
    ci = mean_ci(values)
    if values.size < 2:
        p = np.nan
    elif np.ptp(values) == 0.0:  # no spread: t is 0 or infinite (SciPy would warn and give NaN)
        p = 1.0 if values[0] == 0.0 else 0.0
    else:
        p = float(sps.ttest_1samp(values, 0.0).pvalue)
    return {"n": int(ci["n"]), "mean": ci["mean"], "ci_low": ci["ci_low"], "ci_high": ci["ci_high"], "p": p}


def lesion_by_level(lesions: pd.DataFrame, metric: str = "acc",
                    by: Sequence[str] = ("species", "condition", "lesion")) -> pd.DataFrame:
    """Lesioned minus intact at each level: lesions.csv's ``change_<metric>@occL`` (each run's lesioned metric
    minus its own intact one, so the test is paired over runs). One row per ``by`` group (the intact rows
    left out) and level: ``n, mean, ci_low, ci_high, p`` (paired t), ``p_holm`` (Holm over the group's levels)."""
    cols = _levels(lesions, "change_" + metric)
    cut = lesions[lesions["lesion"] != "intact"] if "lesion" in lesions else lesions
    rows = []
    for key, grp in groups_in_order(cut, by):
        family = [{**dict(zip(by, key, strict=True)), "level": level,
                   **_one_sample(pd.to_numeric(grp[col], errors="coerce").dropna().to_numpy(float))}
                  for level, col in cols.items()]
        for row, p in zip(family, holm([r["p"] for r in family]), strict=True):
            row["p_holm"] = float(p)
        rows += family
    return pd.DataFrame(rows)


def lesion_trend(lesions: pd.DataFrame, metric: str = "acc",
                 by: Sequence[str] = ("species", "condition", "lesion")) -> pd.DataFrame:
    """Does a lesion cost more as occlusion rises? The slope of each run's change over the levels
    (:func:`level_slopes`; negative: the cost grows), its mean, 95% CI and one-sample t-test, per group."""
    cut = lesions[lesions["lesion"] != "intact"] if "lesion" in lesions else lesions
    slopes = cut.assign(_slope=level_slopes(cut, metric, prefix="change_"))
    rows = [{**dict(zip(by, key, strict=True)), **_one_sample(grp["_slope"].dropna().to_numpy(float))}
            for key, grp in groups_in_order(slopes, by)]
    return pd.DataFrame(rows)


def anytime_by_level(df: pd.DataFrame, metric: str = "test_acc",
                     by: Sequence[str] = ("species", "condition")) -> pd.DataFrame:
    """:func:`by_level` at every step the columns hold (``test_acc@occ20@t2``): the anytime curve per level, one
    row per group, level and ``step``. Empty for runs of one step (they have no per-step columns)."""
    parsed = [parse_metric(str(c)) for c in df.columns]
    steps = sorted({at for base, level, at in parsed if base == metric and level is not None and at is not None})
    frames = [by_level(df, metric, by, step=k).assign(step=k) for k in steps]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
