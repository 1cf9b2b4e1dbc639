"""What a predictivity analysis's scores say across runs (:mod:`.predictivity`, step 5 and its statistics): the
best area per region over seeds, each run's areas read at one step, and the tests between species and between
conditions, Holm-corrected within each family."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .predictivity import PredictivityResult, ceiled, held_out_halves, score_kinds


def best_areas(result: PredictivityResult, by: Sequence[str] = ("species", "condition")) -> pd.DataFrame:
    """Across the seeds of each species and condition: per region, the name with the highest mean score over runs
    on the even-numbered splits, its mean on the odd-numbered ones (:func:`held_out_halves`: the choice inflates
    the score it reports less) with a 95% CI over runs (t, as accuracy's), the runner-up, and the share of runs
    whose own best it was."""
    from .stats import mean_ci

    kinds = score_kinds(result.summary)
    ceilings = result.summary.drop_duplicates("region").set_index("region")["ceiling"]
    halves = held_out_halves(result.scores).merge(result.runs, on="run")
    for half in ("select", "report"):  # each half's score as the region reads it (ceiled, or r)
        halves[f"score_{half}"] = [ceiled(r, ceilings[reg]) if kinds[str(reg)] == "ceiled" else r
                                   for r, reg in zip(halves[f"r_{half}"], halves["region"], strict=True)]
    rows = []
    best = result.best.merge(result.runs, on="run")
    for key, grp in halves.groupby([*by, "region"], sort=False):
        col = kinds[str(key[-1])]
        # chosen on the even splits' means over runs, reported on the odd splits': less lifted by the choice
        chosen = grp.groupby("name", sort=False)["score_select"].mean().sort_values(ascending=False, kind="stable")
        reported = grp.groupby("name", sort=False)["score_report"].mean()
        top = str(chosen.index[0])
        ci = mean_ci(grp.loc[grp["name"] == top, "score_report"].to_numpy())
        sel = np.ones(len(best), dtype=bool)
        for c, v in zip([*by, "region"], key, strict=True):
            sel &= best[c].to_numpy() == v
        won = best.loc[sel, "best"]
        runner = str(chosen.index[1]) if len(chosen) > 1 else None
        rows.append({**dict(zip([*by, "region"], key, strict=True)), "best": top, "score": col,
                     "mean": float(reported[top]), "ci_low": ci.get("ci_low", math.nan),
                     "ci_high": ci.get("ci_high", math.nan), "n_runs": int(grp["run"].nunique()),
                     "runner_up": runner,
                     "runner_up_mean": float(reported[runner]) if runner is not None else math.nan,
                     "share_of_runs": float(np.mean(won == top)) if len(won) else math.nan})
    return pd.DataFrame(rows)


def step_views(result: PredictivityResult) -> dict[str, pd.DataFrame]:
    """Each run's areas read at one step, so that one-step and recurrent runs meet area by area (``IT`` and
    ``IT@t3`` otherwise never do): ``last step`` (the area's output at the run's last step, what the heads read;
    r over every split) and ``best step`` (the step with the highest mean r on the even-numbered splits, scored on
    the odd-numbered ones: less lifted by the choice, the halves sharing stimuli). A one-step network's area is its
    own at both. Rows as the summary's, ``name`` the area."""
    s = result.summary
    last = s[s["step"] == s["steps"] - 1].assign(name=lambda d: d["area"])
    halves = held_out_halves(result.scores).merge(
        s[["run", "name", "region", "area", "step", "species", "condition", "seed", "steps", "ceiling", "ceiled"]],
        on=["run", "name", "region"])
    chosen = halves.loc[halves.groupby(["run", "area", "region"], sort=False)["r_select"].idxmax()].copy()
    usable = chosen["region"].astype(str).map(score_kinds(s)) == "ceiled"
    chosen["r"] = chosen["r_report"]
    chosen["ceiled"] = np.where(usable, ceiled(chosen["r"], chosen["ceiling"]), np.nan)
    return {"last step": last, "best step": chosen.assign(name=lambda d: d["area"])}


def predictivity_tests(result: PredictivityResult, alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Across seeds, as accuracy is compared: the score (ceiled where a region's ceiling allows it, else r) per
    species, condition, area and region with its mean and 95% CI over runs (``summarize``), and every pair of
    species within a condition, area and region (Welch's test, its CI and Hedges' g: ``pairwise_tests``), and every
    pair of conditions within a species, area and region, the conditions' areas read at a stated step
    (:func:`step_views`: the last step, and the best step chosen on held-out splits; the ``correspondence``
    column), so that a one-step network and a recurrent one are compared area by area. Holm's correction runs over
    each whole family: all pairs, areas and regions of one condition (of one species and correspondence, for
    conditions), the tests a reader scans together. Returns (stats, tests); tests carry a plain ``sentence``."""
    from .stats import describe_difference, holm, pairwise_tests, summarize

    kinds = score_kinds(result.summary)
    views = step_views(result)

    def by_kind(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
        """The table's rows for each score kind, the score column named for the sentences."""
        out = []
        for kind in dict.fromkeys(kinds.values()):  # each region's own score: ceiled where its ceiling allows
            label = "ceiled_score" if kind == "ceiled" else kind  # "the difference in ceiled score of ..."
            regions = [r for r, k in kinds.items() if k == kind]
            out.append((label, table[table["region"].astype(str).isin(regions)].rename(columns={kind: label})))
        return out

    stats = pd.concat([summarize(part, by=["species", "condition", "name", "region"], metrics=[label])
                       for label, part in by_kind(result.summary)], ignore_index=True)
    joined = []
    plan = [("species", "condition", "the same area and step", result.summary)]
    plan += [("condition", "species", name, view) for name, view in views.items()]
    for by, family, correspondence, table in plan:
        if result.summary[by].nunique() < 2:
            continue
        parts = [pairwise_tests(part, by=by, metric=label, within=[family, "name", "region"], alpha=alpha)
                 for label, part in by_kind(table)]
        t = pd.concat(parts, ignore_index=True)
        if not len(t):
            continue
        # Holm over the whole family (every pair, area and region of one condition or species), whatever score
        # each region reads
        for _, idx in t.groupby(family, sort=False).groups.items():
            t.loc[idx, "p_holm"] = holm(t.loc[idx, "p"].to_numpy(dtype=float))
        t["significant"] = t["p_holm"] < alpha
        at = "" if by == "species" else f" at its {correspondence}"
        t["sentence"] = [f"area {r['name']}{at}, region {r['region']} ({r[family]}): " + describe_difference(r, by)
                         for _, r in t.iterrows()]
        joined.append(t.assign(compared=by, correspondence=correspondence))
    tests = pd.concat(joined, ignore_index=True) if joined else pd.DataFrame()
    return stats, tests
