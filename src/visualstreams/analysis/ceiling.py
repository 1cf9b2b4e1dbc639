"""The stimulus splits, correlations and split-half ceiling of neural predictivity (:mod:`.predictivity`, steps 2
and 3): Brain-Score's splits drawn the way its benchmarks draw them, Pearson r per column, Spearman-Brown, and the
reliability of a region's mean responses over repetitions."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data.recordings import Recordings, group_means
from ..errors import ConfigError


def stimulus_splits(n_stimuli: int, n_splits: int = 10, train_fraction: float = 0.9, seed: int = 1,
                    strata: Sequence[Any] | None = None, ids: Sequence[Any] | None = None,
                    notes: list[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test indices of the stimuli: ``StratifiedShuffleSplit`` by ``strata`` (object names) where given
    and every object has two stimuli or more, else ``ShuffleSplit``; both seeded (Brain-Score: seed 1).

    ``ids``: the stimuli's ids; the splits are then drawn over the stimuli sorted by id, as Brain-Score draws them
    (its benchmarks average the repetitions, which orders the stimuli by id), so that the same seed gives the same
    test sets whatever order a table lists them in. Where stratification was asked for and cannot be done, a
    sentence saying why goes to ``notes``."""
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    n_test = n_stimuli - math.floor(n_stimuli * train_fraction)
    if n_stimuli * train_fraction < 3 or n_test < 3:
        raise ConfigError(f"{n_stimuli} stimuli at train fraction {train_fraction} leave fewer than 3 to train or "
                          "to test on")
    order = (np.argsort(np.asarray(ids).astype(str), kind="stable") if ids is not None
             else np.arange(n_stimuli))
    kwargs = {"n_splits": n_splits, "train_size": train_fraction, "random_state": seed}
    split: Any = ShuffleSplit(**kwargs)
    args: list[Any] = []
    if strata is not None:
        sorted_strata = [list(strata)[i] for i in order]
        counts = pd.Series(sorted_strata).value_counts()
        if counts.min() >= 2 and len(counts) <= n_test:
            split, args = StratifiedShuffleSplit(**kwargs), [sorted_strata]
        elif notes is not None:
            why = (f"object {counts.idxmin()!r} has a single stimulus" if counts.min() < 2 else
                   f"{len(counts)} objects do not fit in {n_test} test stimuli")
            notes.append(f"splits are not stratified by object_name: {why}")
    return [(np.sort(order[a]), np.sort(order[b])) for a, b in split.split(np.zeros(n_stimuli), *args)]


def pearson_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``a`` with the same column of ``b`` (SciPy's, vectorised); NaN where a column
    is constant."""
    from scipy import stats

    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(stats.pearsonr(a.astype(np.float64), b.astype(np.float64), axis=0).statistic)


def spearman_brown(r: np.ndarray | float, n: float = 2.0) -> np.ndarray | float:
    """The reliability of ``n`` times the data from the reliability ``r`` of a part: n r / (1 + (n - 1) r)."""
    return n * r / (1 + (n - 1) * r)


def halves_reliability(r: np.ndarray, a: float, b: float, n: float) -> np.ndarray:
    """The reliability of the mean of ``n`` repetitions from the correlation ``r`` between the means of two
    disjoint halves of ``a`` and ``b`` repetitions (classical test theory: a k-repetition mean has reliability
    k rho / (1 + (k - 1) rho), and two such means correlate as the square root of the product of theirs). With
    a = b = n / 2 it is the Spearman-Brown correction with n = 2; with an odd number of repetitions (a = b - 1)
    it corrects to all n of them, where Spearman-Brown on equal halves corrects to n - 1 (R = 5: 0.800 for a true
    0.833). Solved for the single-repetition rho, sign kept."""
    r = np.asarray(r, dtype=np.float64)
    r2 = r ** 2
    qa = a * b - r2 * (a - 1) * (b - 1)
    qb = r2 * (a + b - 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (qb + np.sqrt(qb ** 2 + 4 * qa * r2)) / (2 * qa)
    return np.sign(r) * spearman_brown(rho, n)


def split_half_ceiling(rec: Recordings, n_splits: int = 10, seed: int = 0,
                       time_bin: int | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Split-half reliability per region (see the module docstring): a table (region, split, ceiling, n_neuroids,
    n_stimuli) and each neuroid's mean corrected reliability. Stimuli with fewer than 2 repetitions are left out;
    with none left, a one-line error."""
    reps = rec.repetitions()
    usable = np.flatnonzero(reps >= 2)
    if len(usable) < 3:
        raise ConfigError(f"{rec.source or 'recordings'}: fewer than two repetitions of "
                          f"{'every' if not len(usable) else 'most'} stimulus: no split-half ceiling "
                          "(give recordings with repetitions, or --no-ceiling)")
    values = rec.over_time(time_bin)
    pres = np.flatnonzero(np.isin(rec.stimulus_index, usable))
    stim = rec.stimulus_index[pres]
    remap = np.full(len(reps), -1)
    remap[usable] = np.arange(len(usable))
    group = remap[stim]
    # Each stimulus's repetitions split in two: floor(R / 2) and the rest; the correlation of the halves' means is
    # corrected to the mean of all R (halves_reliability; Brain-Score instead splits the repetition labels once for
    # every stimulus and corrects with n = 2, which is exact for an even R alike)
    half = reps[stim] // 2
    size_a, size_b = float(np.mean(reps[usable] // 2)), float(np.mean(reps[usable] - reps[usable] // 2))
    size_n = float(np.mean(reps[usable]))
    rng = np.random.default_rng(seed)
    per_neuroid = np.zeros(values.shape[1])
    rows = []
    for k in range(n_splits):
        order = np.lexsort((rng.random(len(pres)), group))  # a random order within each stimulus
        rank = np.empty(len(pres), dtype=int)
        starts = np.r_[0, np.flatnonzero(np.diff(group[order])) + 1]
        counts = np.diff(np.r_[starts, len(pres)])
        rank[order] = np.arange(len(pres)) - np.repeat(starts, counts)
        a, b = rank < half, rank >= half
        mean_a = group_means(values[pres[a]], group[a], len(usable))
        mean_b = group_means(values[pres[b]], group[b], len(usable))
        corrected = halves_reliability(pearson_columns(mean_a, mean_b), size_a, size_b, size_n)
        per_neuroid += np.nan_to_num(corrected) / n_splits
        for region in rec.regions:
            sel = rec.region == region
            rows.append({"region": region, "split": k, "ceiling": float(np.nanmedian(corrected[sel])),
                         "n_neuroids": int(sel.sum()), "n_stimuli": len(usable)})
    return pd.DataFrame(rows), per_neuroid
