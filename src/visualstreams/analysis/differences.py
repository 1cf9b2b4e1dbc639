"""Do runs of two species differ more than seeds of one species do? The test of the representational
similarity across runs (:func:`species_differences`), on the long table of
:func:`~visualstreams.analysis.representations.across_runs`: within- minus between-species similarity, a
bootstrap CI over runs, a permutation test over run labels, Holm's correction and a plain sentence.
Imports numpy, pandas, the statistics and the leaves."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..format import ci_decimals, format_number, p_clause
from .stats import holm

_PERM_CHUNK = 20_000  # relabelings evaluated per vectorised step


def _rowdot(a: np.ndarray, m: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a_k' M b_k for each row k of a and b (P x n each), M n x n."""
    return np.einsum("kn,kn->k", a @ m, b)


@dataclass(frozen=True)
class _PairDesign:
    """One (area, species pair): S (n x n, NaN where no pair), masks of the pairs that count.

    ``within_w``/``within_c``: similarity and indicator of pairs eligible as within-species pairs (different
    seeds); ``between_w``/``between_c``: the same for between-species pairs (different seeds unless same-seed
    pairs are included). Which pairs are within or between depends on the labels, passed separately.
    """

    within_w: np.ndarray
    within_c: np.ndarray
    between_w: np.ndarray
    between_c: np.ndarray

    @classmethod
    def build(cls, sim: np.ndarray, seeds: np.ndarray, include_same_seed: bool) -> _PairDesign:
        n = sim.shape[0]
        valid = np.isfinite(sim) & ~np.eye(n, dtype=bool)
        diff_seed = seeds[:, None] != seeds[None, :]
        within = valid & diff_seed
        between = valid & (diff_seed | include_same_seed)
        return cls(np.where(within, sim, 0.0), within.astype(float), np.where(between, sim, 0.0),
                   between.astype(float))

    def stats(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(within, between, diff, within_a, within_b) for each labelling, labels (P, n) of 1 (a) and 0 (b)."""
        a, b = labels, 1.0 - labels
        sum_a, cnt_a = _rowdot(a, self.within_w, a), _rowdot(a, self.within_c, a)
        sum_b, cnt_b = _rowdot(b, self.within_w, b), _rowdot(b, self.within_c, b)
        with np.errstate(invalid="ignore", divide="ignore"):
            within = (sum_a + sum_b) / (cnt_a + cnt_b)
            between = _rowdot(a, self.between_w, b) / _rowdot(a, self.between_c, b)
            return within, between, within - between, sum_a / cnt_a, sum_b / cnt_b


def _relabelings(n: int, n_a: int, n_permutations: int, rng: np.random.Generator) -> tuple[Iterable[np.ndarray], bool]:
    """Chunks of labellings (P, n) with n_a ones: every split if C(n, n_a) <= n_permutations, else random ones."""
    if math.comb(n, n_a) <= n_permutations:
        def exact() -> Iterable[np.ndarray]:
            combos = itertools.combinations(range(n), n_a)
            while chunk := list(itertools.islice(combos, _PERM_CHUNK)):
                lab = np.zeros((len(chunk), n))
                lab[np.repeat(np.arange(len(chunk)), n_a), np.asarray(chunk).ravel()] = 1.0
                yield lab
        return exact(), True

    def random() -> Iterable[np.ndarray]:
        base = np.zeros(n)
        base[:n_a] = 1.0
        for start in range(0, n_permutations, _PERM_CHUNK):
            size = min(_PERM_CHUNK, n_permutations - start)
            yield rng.permuted(np.broadcast_to(base, (size, n)), axis=1)
    return random(), False


def _test_pair(sim: np.ndarray, seeds: np.ndarray, n_a: int, *, include_same_seed: bool, n_permutations: int,
               n_bootstrap: int, confidence: float, alternative: str, rng: np.random.Generator) -> dict[str, Any]:
    """Statistics of one (area, species pair); runs 0..n_a-1 are species a. ``sim`` n x n with NaN diagonal."""
    n = sim.shape[0]
    design = _PairDesign.build(sim, seeds, include_same_seed)
    observed = np.zeros((1, n))
    observed[0, :n_a] = 1.0
    within, between, diff, within_a, within_b = (float(v[0]) for v in design.stats(observed))
    a, b = observed, 1.0 - observed
    out: dict[str, Any] = {
        "n_within_pairs": int(round(0.5 * float((_rowdot(a, design.within_c, a) + _rowdot(b, design.within_c, b))[0]))),
        "n_between_pairs": int(round(float(_rowdot(a, design.between_c, b)[0]))),
        "within": within, "within_a": within_a, "within_b": within_b, "between": between, "diff": diff,
        "ci_low": math.nan, "ci_high": math.nan, "p": math.nan, "p_min": math.nan, "permutations": 0,
        "exact": False,
    }
    if not math.isfinite(diff):
        return out

    # Permutation test: relabel the runs (group sizes kept), recompute within - between from S.
    tol = 1e-9 * max(1.0, float(np.nanmax(np.abs(sim))))
    chunks, exact = _relabelings(n, n_a, n_permutations, rng)
    count = total = 0
    for lab in chunks:
        d = design.stats(lab)[2]
        ok = np.isfinite(d)  # a relabelling with no within or no between pairs cannot be scored
        extreme = (np.abs(d) >= abs(diff) - tol) if alternative == "two-sided" else (d >= diff - tol)
        count += int(np.count_nonzero(extreme & ok))
        total += int(np.count_nonzero(ok))
    out["p"] = count / total if exact else (count + 1) / (total + 1)
    # The smallest p any data could give: the observed split (and, with equal group sizes, its mirror image,
    # which has the same pooled statistic) always counts.
    out["p_min"] = (2.0 if 2 * n_a == n else 1.0) / total if exact else 1.0 / (total + 1)
    out["permutations"], out["exact"] = total, exact

    # Run bootstrap: resample runs with replacement within each species, recompute from S. A run drawn twice
    # never pairs with its own copy (S's diagonal is NaN; the copies also share a seed).
    if n_bootstrap > 0:
        idx = np.concatenate([rng.integers(0, n_a, (n_bootstrap, n_a)),
                              rng.integers(n_a, n, (n_bootstrap, n - n_a))], axis=1)
        s_boot = sim[idx[:, :, None], idx[:, None, :]]
        seed_boot = seeds[idx]
        diff_seed = seed_boot[:, :, None] != seed_boot[:, None, :]
        valid = np.isfinite(s_boot)
        same_group = (observed[0][:, None] == observed[0][None, :])[None]
        w_mask = valid & diff_seed & same_group
        b_mask = valid & (diff_seed | include_same_seed) & ~same_group
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(w_mask, s_boot, 0.0).sum((1, 2)) / w_mask.sum((1, 2))
            bt = np.where(b_mask, s_boot, 0.0).sum((1, 2)) / b_mask.sum((1, 2))
        boots = (w - bt)[np.isfinite(w - bt)]
        if boots.size >= 0.5 * n_bootstrap:
            tail = 50.0 * (1.0 - confidence)
            out["ci_low"], out["ci_high"] = (float(v) for v in np.percentile(boots, [tail, 100.0 - tail]))
    return out


def _sentence(row: Mapping[str, Any], label: Sequence[str], alpha: float, group: str = "species") -> str:
    """One plain sentence for a species_differences row; ``label`` names the columns to show after the area."""
    where = f"{row['area']}" + (f" ({', '.join(str(row[c]) for c in label)})" if label else "")
    a, b = row["species_a"], row["species_b"]
    notes = []
    if row.get("same_seed_included"):
        notes.append("same-seed pairs included")
    if row.get("untrained"):
        notes.append("untrained area: its similarity reflects the shared initialisation scheme, not learning; "
                     "tested in a family of its own")
    note = f" ({'; '.join(notes)})" if notes else ""
    if not math.isfinite(row["p"]):
        return (f"{where}: {a} and {b} could not be compared: it needs runs of one {group} with different seeds "
                f"and between-species pairs ({row['n_within_pairs']} within, {row['n_between_pairs']} between)"
                f"{note}.")
    diff, lo, hi = row["diff"], row["ci_low"], row["ci_high"]
    dec = ci_decimals(diff, 0.5 * (hi - lo))
    ci = (f" [{format_number(lo, dec)}, {format_number(hi, dec)}]" if math.isfinite(lo) and math.isfinite(hi)
          else " (no CI)")
    numbers = f"{format_number(diff, dec)}{ci}, p_holm {p_clause(row['p_holm'])}"
    if not row["significant"] and row["p_holm_min"] >= alpha:
        verdict = (f"cannot be shown to differ beyond seed-to-seed spread with these run counts (p_holm cannot "
                   f"fall below {row['p_holm_min']:.2g})")
    elif not row["significant"]:
        verdict = "do not differ beyond seed-to-seed spread"
    elif diff > 0:
        verdict = f"differ more than seeds of one {group} do"
    else:
        verdict = f"are more alike than seeds of one {group} are"
    return f"{where}: {a} and {b} networks {verdict}, {numbers}{note}"


def species_differences(pairs: pd.DataFrame, *, n_permutations: int = 10000, seed: int = 0,
                        include_same_seed: bool = False, alpha: float = 0.05, n_bootstrap: int = 2000,
                        confidence: float = 0.95, alternative: str = "greater",
                        holm_within: Sequence[str] = ("metric", "mode"), group: str = "species",
                        name_strata: Sequence[str] = ()) -> pd.DataFrame:
    """Within- against between-species similarity for each (metric, mode, area, pair of species).

    ``pairs``: the long table of ``across_runs`` (columns ``area, run_a, run_b, species_a, species_b, seed_a,
    seed_b, similarity``; ``mode_a, mode_b, metric, untrained`` used when present). Only pairs of runs in the
    same mode are used; every pair of species is compared within each mode.

    * ``within``: mean similarity over within-species pairs with different seeds, pooled over both species'
      pairs (each pair weighs the same, so the species with more runs weighs more); ``within_a``/``within_b``
      give each species' own mean. ``between``: mean over pairs of one run of each species with different seeds,
      or all of them with ``include_same_seed=True`` (same-seed runs share initial weights, which inflates their
      similarity; the row's ``same_seed_included`` and sentence say so). ``diff = within - between``: positive
      when the species differ more than seeds of one species do.
    * CI (``confidence``): percentile bootstrap over runs, resampled with replacement within each species
      (``n_bootstrap`` times), the statistic recomputed from the run x run matrix. Chosen over a t-interval because
      pairs are not independent (each run is in many pairs), so a t-interval over pairs would be far too narrow,
      and the ratio-of-sums statistic has no simple variance formula; runs are the independent units. With few
      runs per species (3-5) the bootstrap distribution is coarse and the interval tends to be narrow: it is
      descriptive, the permutation p is the test.
    * ``p``: permutation test of exchangeable species labels. The labels of the two species' runs are shuffled
      (group sizes kept, seeds staying with their runs) and within - between recomputed from the precomputed
      similarities, vectorised over relabelings. Exact when C(n_a + n_b, n_a) <= ``n_permutations`` (all splits,
      the observed one included; p = count / total), else ``n_permutations`` random relabelings from
      ``default_rng([seed, row])`` with p = (count + 1) / (n_permutations + 1). ``alternative``: ``"greater"``
      (diff > 0 only: the species differ more than seeds do; the default, since the question is one-sided) or
      ``"two-sided"`` (|diff|). Relabelings without any within or between pair are
      not scored.
    * ``p_holm``: Holm across areas and species pairs within one (metric, mode) (``holm_within``), untrained areas
      in a family of their own; ``significant``: p_holm < alpha.
    * ``p_min``: the smallest p the test can give with these run counts (2 / C(2k, k) for k runs per species:
      0.029 for 4, 0.0079 for 5, 0.0022 for 6); ``p_holm_min``: the smallest p_holm any row of the family can
      reach (family size x the smallest p_min). When it is >= alpha nothing can be significant and the sentence
      says so instead of "do not differ": with 6 areas and 3 species pairs (18 tests) significance needs at
      least 6 runs per species.

    Columns: ``metric`` (if in ``pairs``), ``mode, area, species_a, species_b, n_runs_a, n_runs_b,
    n_within_pairs, n_between_pairs, within, within_a, within_b, between, diff, ci_low, ci_high, p, p_holm,
    significant, p_min, p_holm_min, permutations, exact, same_seed_included, untrained, sentence``. A row that
    cannot be tested (no within or no between pairs) has NaN statistics and is left out of Holm.
    """
    required = ["area", "run_a", "run_b", "species_a", "species_b", "seed_a", "seed_b", "similarity"]
    missing = [c for c in required if c not in pairs.columns]
    if missing:
        raise ConfigError(f"pairs table lacks column(s) {', '.join(missing)}")
    if alternative not in ("two-sided", "greater"):
        raise ConfigError(f"unknown alternative {alternative!r}; choose two-sided or greater")
    if not 0.0 < alpha < 1.0 or not 0.0 < confidence < 1.0:
        raise ConfigError("alpha and confidence must lie strictly between 0 and 1")
    if int(n_permutations) != n_permutations or n_permutations < 1 or n_bootstrap < 0:
        raise ConfigError("n_permutations must be a positive integer and n_bootstrap >= 0")
    df = pairs.copy()
    if "mode_a" not in df.columns:
        df["mode_a"] = df["mode_b"] = "-"
    same_mode = (df["mode_a"] == df["mode_b"]) | (df["mode_a"].isna() & df["mode_b"].isna())
    df = df[same_mode].assign(mode=lambda t: t["mode_a"])
    has_metric = "metric" in df.columns
    strata = ["metric", "mode", "area"] if has_metric else ["mode", "area"]
    if "untrained" not in df.columns:
        df["untrained"] = False

    rows: list[dict[str, Any]] = []
    for key, sub in df.groupby(strata, sort=False, dropna=False):
        key = dict(zip(strata, key, strict=True))
        side_a = sub[["run_a", "species_a", "seed_a"]].set_axis(["run", "species", "seed"], axis=1)
        side_b = sub[["run_b", "species_b", "seed_b"]].set_axis(["run", "species", "seed"], axis=1)
        run_info = pd.concat([side_a, side_b]).drop_duplicates()
        if run_info["run"].duplicated().any():
            raise ValueError(f"a run appears with two species or seeds in area {key['area']!r}")
        run_info = run_info.reset_index(drop=True)
        pos = {r: i for i, r in enumerate(run_info["run"])}
        full = np.full((len(pos), len(pos)), np.nan)
        ia, ib = sub["run_a"].map(pos).to_numpy(), sub["run_b"].map(pos).to_numpy()
        full[ia, ib] = full[ib, ia] = sub["similarity"].to_numpy(dtype=float)
        np.fill_diagonal(full, np.nan)
        for sp_a, sp_b in itertools.combinations(list(dict.fromkeys(run_info["species"])), 2):
            sel = np.r_[np.flatnonzero(run_info["species"] == sp_a), np.flatnonzero(run_info["species"] == sp_b)]
            n_a = int((run_info["species"] == sp_a).sum())
            involved = set(run_info["run"].to_numpy()[sel])
            untrained = bool(sub.loc[sub["run_a"].isin(involved) & sub["run_b"].isin(involved), "untrained"].any())
            rng = np.random.default_rng([seed, len(rows)])
            stats = _test_pair(full[np.ix_(sel, sel)], run_info["seed"].to_numpy()[sel], n_a,
                               include_same_seed=include_same_seed, n_permutations=int(n_permutations),
                               n_bootstrap=int(n_bootstrap), confidence=confidence, alternative=alternative, rng=rng)
            rows.append({**key, "species_a": sp_a, "species_b": sp_b, "n_runs_a": n_a, "n_runs_b": len(sel) - n_a,
                         **stats, "same_seed_included": include_same_seed, "untrained": untrained})

    columns = [*(["metric"] if has_metric else []), "mode", "area", "species_a", "species_b", "n_runs_a",
               "n_runs_b", "n_within_pairs", "n_between_pairs", "within", "within_a", "within_b", "between", "diff",
               "ci_low", "ci_high", "p", "p_holm", "significant", "p_min", "p_holm_min", "permutations", "exact",
               "same_seed_included", "untrained", "sentence"]
    out = pd.DataFrame(rows, columns=[c for c in columns if c not in ("p_holm", "significant", "p_holm_min",
                                                                       "sentence")])
    out["p_holm"] = out["p_holm_min"] = np.nan
    # Untrained areas (their similarity is the shared initialisation, not learning) form a family of their own,
    # so they cost the trained areas no power.
    family = [c for c in holm_within if c in out.columns and (c != "metric" or has_metric)] + ["untrained"]
    for _, fam in out.groupby(family, sort=False, dropna=False):
        out.loc[fam.index, "p_holm"] = holm(fam["p"].to_numpy(dtype=float))
        tested = fam["p"].notna()
        if tested.any():  # every adjusted p is at least m x the smallest raw p, which is at least its p_min
            out.loc[fam.index[tested], "p_holm_min"] = min(1.0, tested.sum() * fam.loc[tested, "p_min"].min())
    out["significant"] = out["p_holm"] < alpha
    label = [c for c in ("mode", "metric")
             if c in out.columns and (out[c].nunique(dropna=False) > 1 or c in name_strata)]
    out["sentence"] = [_sentence(r, label, alpha, group) for r in out.to_dict("records")]
    return out[columns]


def mode_differences(pairs: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """The same test with the roles of species and mode swapped: for each species, area and pair of connection
    modes, do runs of two modes differ more than seeds of one mode do? (Does ``gain`` change what the areas
    compute, compared with ``none``, the same graph at strength 1?) Options and columns as
    :func:`species_differences`, with ``species`` naming the stratum and ``mode_a``/``mode_b`` the compared modes.
    Holm's family is every area, species and pair of modes of one metric (untrained areas apart).
    """
    swap = {"species_a": "mode_a", "species_b": "mode_b", "mode_a": "species_a", "mode_b": "species_b"}
    out = species_differences(pairs.rename(columns=swap), holm_within=("metric",), group="mode",
                              name_strata=("mode",), **options)
    return out.rename(columns={"mode": "species", "species_a": "mode_a", "species_b": "mode_b"})
