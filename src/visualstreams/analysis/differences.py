"""Do runs of two species differ more than seeds of one species do? The test of the representational
similarity across runs (:func:`species_differences`), on the long table of
:func:`~visualstreams.analysis.representations.across_runs`: within- minus between-species similarity, a
bootstrap CI over seeds (runs where no seed is shared), a permutation test over run labels that keeps runs of one
seed together, Holm's correction and a plain sentence.
Imports numpy, pandas, the statistics and the leaves."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
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


def _arrangements(counts: Counter[int], length: int) -> Iterator[tuple[int, ...]]:
    """Every distinct ordering of the multiset ``counts`` (value -> multiplicity, ``length`` in all)."""
    if length == 0:
        yield ()
        return
    for value in sorted(counts):
        if counts[value]:
            counts[value] -= 1
            for rest in _arrangements(counts, length - 1):
                yield (value, *rest)
            counts[value] += 1


@dataclass(frozen=True)
class _SeedDesign:
    """The runs of one comparison grouped by seed: what the permutation test exchanges and the bootstrap resamples.

    Under the null the group labels carry no information, but runs that share a seed are not independent (they
    share initial weights, so each is about as similar to every other run as its seed-mate is). The data's
    distribution is then only invariant under permutations that keep seeds together: relabelling the runs within
    a seed, and exchanging whole seeds with the same number of runs. The relabellings are the observed labelling's
    images under those: each seed keeps its number of runs, and each size of seed its multiset of group-a counts.
    Runs paired by seed (one run of each group per seed, seeds 0..k-1 for both) get the 2^k within-seed swaps;
    runs with seeds of their own (singletons) get every split, the ordinary two-sample permutation test.

    ``classes``: per seed size m (ascending), the seeds' runs (K x m run indices, seeds in order of first run) and
    the number of group-a runs of each seed (K,) in the observed labelling.
    """

    n: int
    classes: tuple[tuple[np.ndarray, np.ndarray], ...]

    @classmethod
    def build(cls, seeds: np.ndarray, labels: np.ndarray) -> _SeedDesign:
        codes, _ = pd.factorize(pd.Series(seeds), use_na_sentinel=True)
        missing = codes < 0  # a run without a seed shares it with no other run (as S's masks treat NaN seeds)
        codes[missing] = codes.max(initial=-1) + 1 + np.arange(int(missing.sum()))
        blocks = [np.flatnonzero(codes == c) for c in dict.fromkeys(codes)]
        classes = []
        for m in sorted({len(b) for b in blocks}):
            runs = np.array([b for b in blocks if len(b) == m])
            classes.append((runs, labels[runs].sum(axis=1).astype(int)))
        return cls(len(seeds), tuple(classes))

    @property
    def paired(self) -> bool:
        """Whether some seed has runs of both groups (then seeds, not runs, are the units)."""
        return any(((c > 0) & (c < runs.shape[1])).any() for runs, c in self.classes)

    def size(self) -> int:
        """The number of distinct relabellings (the observed one included)."""
        total = 1
        for runs, c in self.classes:
            k, m = runs.shape
            total *= math.factorial(k) // math.prod(math.factorial(v) for v in Counter(c.tolist()).values())
            total *= math.prod(math.comb(m, int(v)) for v in c)
        return total

    def mirrored(self) -> bool:
        """Whether swapping the two groups' labels is itself a relabelling (it leaves the pooled statistic)."""
        return all(sorted(c) == sorted(runs.shape[1] - c) for runs, c in self.classes)

    def exact(self) -> Iterator[np.ndarray]:
        """Chunks (P, n) of every distinct relabelling, each once."""
        per_class = []
        for runs, c in self.classes:
            k, m = runs.shape
            rows = []
            for counts in _arrangements(Counter(c.tolist()), k):  # seeds exchanged ...
                for pick in itertools.product(*(itertools.combinations(range(m), v) for v in counts)):  # ... runs
                    row = np.zeros((k, m))
                    for j, chosen in enumerate(pick):
                        row[j, list(chosen)] = 1.0
                    rows.append(row.ravel())
            per_class.append((np.array(rows), runs.ravel()))
        combos = itertools.product(*(range(len(rows)) for rows, _ in per_class))
        while chunk := list(itertools.islice(combos, _PERM_CHUNK)):
            picks = np.asarray(chunk)
            lab = np.zeros((len(chunk), self.n))
            for j, (rows, cols) in enumerate(per_class):
                lab[:, cols] = rows[picks[:, j]]
            yield lab

    def random(self, n_permutations: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """Chunks of ``n_permutations`` relabellings drawn uniformly (with replacement)."""
        for start in range(0, n_permutations, _PERM_CHUNK):
            size = min(_PERM_CHUNK, n_permutations - start)
            lab = np.zeros((size, self.n))
            for runs, c in self.classes:
                k, m = runs.shape
                counts = rng.permuted(np.broadcast_to(c.astype(float), (size, k)), axis=1)  # seeds exchanged
                if m == 1:  # no draw for singletons: unpaired designs keep the random stream of b5cab0f
                    chosen = counts[:, :, None]
                else:  # a random counts[j] of seed j's runs are group a
                    rank = rng.random((size, k, m)).argsort(axis=2).argsort(axis=2)
                    chosen = (rank < counts[:, :, None]).astype(float)
                lab[:, runs.ravel()] = chosen.reshape(size, k * m)
            yield lab

    def bootstrap(self, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
        """(n_bootstrap, n) run indices: seeds drawn with replacement, each with all its runs, within each kind of
        seed (its size and group-a count, so that group sizes stay fixed); with seeds of their own, runs within
        each group."""
        kinds = sorted({(runs.shape[1], int(v)) for runs, c in self.classes for v in c},
                       key=lambda kind: (kind[0], -kind[1]))  # unpaired: group a's runs, then b's, as b5cab0f
        parts = []
        for m, v in kinds:
            runs, c = next((r, cc) for r, cc in self.classes if r.shape[1] == m)
            units = runs[c == v]
            parts.append(units[rng.integers(0, len(units), (n_bootstrap, len(units)))].reshape(n_bootstrap, -1))
        return np.concatenate(parts, axis=1)


def _test_pair(sim: np.ndarray, seeds: np.ndarray, n_a: int, *, include_same_seed: bool, n_permutations: int,
               n_bootstrap: int, confidence: float, alternative: str, rng: np.random.Generator) -> dict[str, Any]:
    """Statistics of one (area, species pair); runs 0..n_a-1 are species a. ``sim`` n x n with NaN diagonal."""
    n = sim.shape[0]
    design = _PairDesign.build(sim, seeds, include_same_seed)
    observed = np.zeros((1, n))
    observed[0, :n_a] = 1.0
    within, between, diff, within_a, within_b = (float(v[0]) for v in design.stats(observed))
    a, b = observed, 1.0 - observed
    units = _SeedDesign.build(seeds, observed[0])
    out: dict[str, Any] = {
        "n_within_pairs": int(round(0.5 * float((_rowdot(a, design.within_c, a) + _rowdot(b, design.within_c, b))[0]))),
        "n_between_pairs": int(round(float(_rowdot(a, design.between_c, b)[0]))),
        "within": within, "within_a": within_a, "within_b": within_b, "between": between, "diff": diff,
        "ci_low": math.nan, "ci_high": math.nan, "p": math.nan, "p_min": math.nan, "permutations": 0,
        "exact": False, "paired_by_seed": units.paired,
    }
    if not math.isfinite(diff):
        return out

    # Permutation test: relabel the runs as the seeds allow (_SeedDesign), recompute within - between from S.
    # Every relabelling scores the same pairs: different seeds only (same-seed between-group pairs too with
    # include_same_seed, and relabelling within seeds keeps their number fixed). Not scipy.stats.permutation_test:
    # its permutation types are all-independent or all-paired, and the statistic is one of the run x run matrix.
    tol = 1e-9 * max(1.0, float(np.nanmax(np.abs(sim))))
    total_labellings = units.size()
    exact = total_labellings <= n_permutations
    count = total = 0
    for lab in (units.exact() if exact else units.random(n_permutations, rng)):
        d = design.stats(lab)[2]
        ok = np.isfinite(d)  # a relabelling with no within or no between pairs cannot be scored
        extreme = (np.abs(d) >= abs(diff) - tol) if alternative == "two-sided" else (d >= diff - tol)
        count += int(np.count_nonzero(extreme & ok))
        total += int(np.count_nonzero(ok))
    out["p"] = count / total if exact else (count + 1) / (total + 1)
    # The smallest p any data could give: the observed labelling (and its mirror image, when that is a
    # relabelling, which has the same pooled statistic) always counts.
    out["p_min"] = (2.0 if units.mirrored() else 1.0) / total if exact else 1.0 / (total + 1)
    out["permutations"], out["exact"] = total, exact

    # Bootstrap: resample seeds (each with its runs) where runs are paired by seed, else runs within each group;
    # recompute from S. A unit drawn twice never pairs with its own copy (S's diagonal is NaN; copies share a seed).
    if n_bootstrap > 0:
        idx = units.bootstrap(n_bootstrap, rng)
        s_boot = sim[idx[:, :, None], idx[:, None, :]]
        seed_boot = seeds[idx]
        diff_seed = seed_boot[:, :, None] != seed_boot[:, None, :]
        valid = np.isfinite(s_boot)
        lab_boot = observed[0][idx]
        same_group = lab_boot[:, :, None] == lab_boot[:, None, :]
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
                        holm_within: Sequence[str] = ("metric", "condition"), group: str = "species",
                        name_strata: Sequence[str] = ()) -> pd.DataFrame:
    """Within- against between-species similarity for each (metric, condition, area, pair of species).

    ``pairs``: the long table of ``across_runs`` (columns ``area, run_a, run_b, species_a, species_b, seed_a,
    seed_b, similarity``; ``mode_a, mode_b, metric, untrained`` used when present). Only pairs of runs in the
    same condition are used; every pair of species is compared within each condition.

    * ``within``: mean similarity over within-species pairs with different seeds, pooled over both species'
      pairs (each pair weighs the same, so the species with more runs weighs more); ``within_a``/``within_b``
      give each species' own mean. ``between``: mean over pairs of one run of each species with different seeds,
      or all of them with ``include_same_seed=True`` (same-seed runs share initial weights, which inflates their
      similarity; the row's ``same_seed_included`` and sentence say so). ``diff = within - between``: positive
      when the species differ more than seeds of one species do.
    * ``p``: permutation test of exchangeable species labels, respecting the seeds. Runs of one seed share their
      initial weights, so they are not independent: under the null the labels may only be relabelled within a
      seed and whole seeds exchanged with seeds of as many runs. With runs paired by seed (compare's design: seeds
      0..k-1 for every species) that is the 2^k swaps of each seed's two runs; with seeds of their own it is every
      split of the runs (group sizes kept), the ordinary two-sample test; mixed designs get both. Every
      relabelling scores the same kind of pairs: within and between means over pairs of different seeds only
      (plus the same-seed between pairs with ``include_same_seed``, whose number no relabelling changes), so a
      same-seed pair never enters a "within" mean. Exact when the relabellings number <= ``n_permutations``
      (each once, the observed one included; p = count / total), else ``n_permutations`` random ones from
      ``default_rng([seed, row])`` with p = (count + 1) / (n_permutations + 1). ``alternative``: ``"greater"``
      (diff > 0 only: the species differ more than seeds do; the default, since the question is one-sided) or
      ``"two-sided"`` (|diff|). Relabelings without any within or between pair are not scored.
      ``paired_by_seed``: whether some seed has runs of both species (then seeds are the units). Designs with no
      shared seed give the same numbers as commit b5cab0f, which relabelled every run freely.
    * CI (``confidence``): percentile bootstrap (``n_bootstrap`` times), the statistic recomputed from the run x run
      matrix: seeds resampled with replacement, each with all its runs, where runs are paired by seed (the seed is
      the independent unit), else runs within each species (in general: seeds within each kind of seed, its run
      count and species-a count, so group sizes stay fixed). Chosen over a t-interval because pairs are not
      independent (each run is in many pairs), so a t-interval over pairs would be far too narrow, and the
      ratio-of-sums statistic has no simple variance formula. With few seeds (3-6) the bootstrap distribution is
      coarse and the interval tends to be narrow: it is descriptive, the permutation p is the test.
    * ``p_holm``: Holm across areas and species pairs within one (metric, mode) (``holm_within``), untrained areas
      in a family of their own; ``significant``: p_holm < alpha.
    * ``p_min``: the smallest p the test can give with these runs (the observed split and its mirror image over all
      relabellings): 2 / 2^k for k seeds paired by seed (0.0625 for 5, 0.031 for 6, 0.0039 for 9), 2 / C(2k, k)
      for k runs per species with seeds of their own (0.0079 for 5, 0.0022 for 6); ``p_holm_min``: the smallest
      p_holm any row of the family can reach (family size x the smallest p_min). When it is >= alpha nothing can
      be significant and the sentence says so instead of "do not differ": with 12 tests per family, paired runs
      need at least 9 seeds (unpaired, 6 runs per species).

    Columns: ``metric`` (if in ``pairs``), ``condition, area, species_a, species_b, n_runs_a, n_runs_b,
    n_within_pairs, n_between_pairs, within, within_a, within_b, between, diff, ci_low, ci_high, p, p_holm,
    significant, p_min, p_holm_min, permutations, exact, paired_by_seed, same_seed_included, untrained,
    sentence``. A row that
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
    if "condition_a" not in df.columns:
        df["condition_a"] = df["condition_b"] = "-"
    same_mode = (df["condition_a"] == df["condition_b"]) | (df["condition_a"].isna() & df["condition_b"].isna())
    df = df[same_mode].assign(condition=lambda t: t["condition_a"])
    has_metric = "metric" in df.columns
    strata = ["metric", "condition", "area"] if has_metric else ["condition", "area"]
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

    columns = [*(["metric"] if has_metric else []), "condition", "area", "species_a", "species_b", "n_runs_a",
               "n_runs_b", "n_within_pairs", "n_between_pairs", "within", "within_a", "within_b", "between", "diff",
               "ci_low", "ci_high", "p", "p_holm", "significant", "p_min", "p_holm_min", "permutations", "exact",
               "paired_by_seed", "same_seed_included", "untrained", "sentence"]
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
    label = [c for c in ("condition", "metric")
             if c in out.columns and (out[c].nunique(dropna=False) > 1 or c in name_strata)]
    out["sentence"] = [_sentence(r, label, alpha, group) for r in out.to_dict("records")]
    return out[columns]


def mode_differences(pairs: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """The same test with the roles of species and condition swapped: for each species, area and pair of
    conditions (connection modes, step counts, twins), do runs of two conditions differ more than seeds of one do?
    (Does ``gain`` change what the areas compute, compared with ``none``, the same graph at strength 1?) Options
    and columns as :func:`species_differences`, with ``species`` naming the stratum and
    ``condition_a``/``condition_b`` the compared conditions. Holm's family is every area, species and pair of
    conditions of one metric (untrained areas apart).
    """
    swap = {"species_a": "condition_a", "species_b": "condition_b", "condition_a": "species_a",
            "condition_b": "species_b"}
    out = species_differences(pairs.rename(columns=swap), holm_within=("metric",), group="condition",
                              name_strata=("condition",), **options)
    return out.rename(columns={"condition": "species", "species_a": "condition_a", "species_b": "condition_b"})
