"""A representational-similarity analysis on disk: its four tables and its figures, written into a compare
directory (or any output directory) with the names :class:`~visualstreams.runs.CompareDir` gives them, and the
report's section on representations, which reads them back. Imports figures, the analysis and the directory types."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.representations import SimilarityResult
from ..format import format_number, format_p
from ..runs.rundir import CompareDir
from ..viz.similarity import plot_across_runs, plot_species_differences, plot_within_network
from .document import Document, as_int, truthy

__all__ = ["write_similarity", "section_representations"]

_STR = {c: str for c in ("species", "condition", "metric", "area", "species_a", "species_b", "run", "run_a", "run_b",
                         "untrained_areas", "sentence")}


def write_similarity(result: SimilarityResult, out: str | os.PathLike[str]) -> list[Path]:
    """Write the tables and figures of ``result`` into ``out``; returns the files written."""
    cdir = CompareDir(out).prepare()
    cdir.remove_similarity()  # this analysis replaces any earlier one: no stale figure of another species stays
    written = []
    for name, table in ((CompareDir.SIMILARITY_RUNS, result.runs), (CompareDir.SIMILARITY_WITHIN, result.within),
                        (CompareDir.SIMILARITY_PAIRS, result.across),
                        (CompareDir.SIMILARITY_SPECIES, result.differences),
                        (CompareDir.SIMILARITY_MODES, result.mode_differences)):
        cdir.write_table(name, table)
        written.append(cdir.file(name))
    metric = result.metrics[0]
    # Within a network: the mean over each species' runs (in each mode) of the area x area matrix.
    for (species, mode), runs in result.within.groupby(["species", "condition"], sort=False):
        sub = runs[runs["metric"] == metric]
        square = sub.groupby(["area_a", "area_b"], sort=False)["similarity"].mean().unstack()
        square = square.loc[result.areas, result.areas].rename_axis(index="area", columns="area")
        square.attrs["metric"] = metric
        square.attrs["untrained"] = sorted(set(sub.loc[sub["untrained_a"], "area_a"]))
        fig = plot_within_network(square, title=f"{species} ({mode}): {metric}, mean over {sub['run'].nunique()} "
                                                "run(s)")
        written.append(cdir.save_figure(CompareDir.similarity_figure("within", f"{species}_{mode}"), fig, dpi=100))
    if len(result.across):
        for m in result.metrics:
            for area in result.areas:
                fig = plot_across_runs(result.across, area, metric=m)
                written.append(cdir.save_figure(CompareDir.similarity_figure("pairs", f"{m}_{area}"), fig, dpi=100))
    if len(result.differences):
        fig = plot_species_differences(result.differences)
        written.append(cdir.save_figure(CompareDir.similarity_figure("species"), fig, dpi=100))
    return written


def said_once(rows: pd.DataFrame, group: str, alpha: float = 0.05) -> tuple[list[str], list[bool]]:
    """The rows' sentences and significance flags, with the nulls that no data could have turned (too few runs for
    Holm's p to fall below ``alpha``: ``p_holm_min``) said once per pair, stratum (the mode, for species; the
    species, for modes), untrained flag and bound, instead of once per area; the other sentences as they are.
    Each area's numbers stay in the table below the sentences."""
    flags = [truthy(v) for v in rows.get("significant", pd.Series(False, index=rows.index))]
    bound = pd.to_numeric(rows.get("p_holm_min", pd.Series(np.nan, index=rows.index)), errors="coerce")
    limited = (~np.array(flags, dtype=bool)) & (bound >= alpha).to_numpy()
    if limited.sum() < 2:  # one such sentence reads as it is
        return [str(t) for t in rows["sentence"]], flags
    sentences = [str(t) for t, cut in zip(rows["sentence"], limited, strict=True) if not cut]
    kept = [f for f, cut in zip(flags, limited, strict=True) if not cut]
    stratum = "species" if group == "condition" else "condition"
    part_rows = rows[limited].assign(
        _stratum=rows[stratum].astype(str) if stratum in rows else "",
        _untrained=[truthy(v) for v in rows.get("untrained", pd.Series(False, index=rows.index))[limited]],
        _bound=bound[limited])
    keys = [f"{group}_a", f"{group}_b", "_stratum", "_untrained", "_bound"]
    for (first, second, where, untrained, floor), part in part_rows.groupby(keys, sort=False):
        areas = ", ".join(dict.fromkeys(part["area"].astype(str)))
        note = ("; untrained areas: their similarity reflects the shared initialisation scheme, not learning"
                if untrained else "")
        sentences.append(f"{areas}{f' ({where})' if where else ''}: {first} and {second} networks cannot be shown "
                         f"to differ beyond seed-to-seed spread with these run counts: with so few runs Holm's p "
                         f"cannot fall below {floor:.2g}, whatever the data ({len(part)} comparisons{note}; each "
                         "one's numbers are in the table)")
        kept.append(False)
    return sentences, kept


def section_representations(doc: Document, ex: Any) -> None:
    cdir = ex.cdir
    pairs = cdir.read_table(CompareDir.SIMILARITY_PAIRS, _STR)
    skipped = cdir.similarity_skipped()
    if not len(pairs) and skipped:  # asked for and failed: the section says it is missing, and why
        doc.heading(2, "Representations: do the areas compute the same things?")
        doc.para(f"This section is missing: the representational-similarity analysis failed ({skipped}). The "
                 "training results are complete; once the cause is fixed, the same compare command with --resume "
                 "redoes the analysis and this report (finished runs are kept, not retrained).", cls="warn")
        return
    if not len(pairs):
        return  # no analysis of representations in this directory (one seed, or --no-similarity)
    doc.heading(2, "Representations: do the areas compute the same things?")
    runs = cdir.read_table(CompareDir.SIMILARITY_RUNS, _STR)
    species = cdir.read_table(CompareDir.SIMILARITY_SPECIES, _STR)
    metrics = list(dict.fromkeys(pairs["metric"].astype(str)))
    doc.para("Each area's activations on one fixed probe set of test images (the same for every run) were compared "
             "across runs: linear CKA with the unbiased (debiased HSIC) estimator, and RSA (correlation-distance "
             "RDMs compared by Spearman correlation). Networks of one species that differ only in their seed already "
             "differ (Mehrer et al. 2020), so a species difference counts only beyond that spread: for each area and "
             "pair of species, the mean within-species similarity (runs of one species, different seeds) minus the "
             "mean between-species similarity (different seeds: same-seed runs share their initial weights), with a "
             "95% bootstrap CI over seeds and a one-sided permutation test over run labels within seeds (runs where "
             "no seed is shared), Holm-corrected across areas and pairs within each metric and mode.", cls="note")
    untrained = sorted({a for v in runs.get("untrained_areas", pd.Series(dtype=str)).dropna() for a in
                        str(v).split(",") if a})
    if untrained:
        doc.para(f"Untrained areas: {', '.join(untrained)} (the task never trains them; they keep their initial "
                 "weights, so their similarity reflects the shared start, not learning). They are marked in the "
                 "tables and hatched in the figures.", cls="warn")
    if len(species) and "sentence" in species:
        flags = [truthy(v) for v in species.get("significant", pd.Series(False, index=species.index))]
        for metric in metrics:
            mask = species["metric"].astype(str) == metric if "metric" in species else pd.Series(True,
                                                                                             index=species.index)
            doc.para(f"Metric `{metric}`:")
            doc.bullets(*said_once(species[mask.to_numpy()], "species"))
        table = pd.DataFrame({
            "metric": species.get("metric", ""), "condition": species["condition"], "area": species["area"],
            "A": species["species_a"], "B": species["species_b"],
            "runs (A, B)": [f"{as_int(a)}, {as_int(b)}" for a, b in zip(species["n_runs_a"], species["n_runs_b"],
                                                                   strict=True)],
            "within": [format_number(v, 3) for v in species["within"]],
            "between": [format_number(v, 3) for v in species["between"]],
            "within − between [95% CI]": [f"{format_number(d, 3)} [{format_number(lo, 3)}, {format_number(hi, 3)}]"
                                          for d, lo, hi in zip(species["diff"], species["ci_low"],
                                                               species["ci_high"], strict=True)],
            "p": [format_p(v) for v in species["p"]], "p (Holm)": [format_p(v) for v in species["p_holm"]],
            "untrained": ["yes" if truthy(v) else "" for v in species.get("untrained", [False] * len(species))],
        })
        doc.table(table, highlight=flags, caption="Within- minus between-species similarity; positive: the species "
                  "differ more than seeds of one species do. p: one-sided permutation test over run labels, "
                  "within seeds where runs are paired by seed.")
        figure = cdir.file(CompareDir.similarity_figure("species"))
        if figure.is_file():
            doc.figures([(figure, figure.name, "Within- vs between-species similarity per area, and their "
                          "difference with its 95% CI")])
    else:
        doc.para("One species only: the run x run similarities are below, with no species to test.", cls="note")
    modes = cdir.read_table(CompareDir.SIMILARITY_MODES, _STR)
    if len(modes) and "sentence" in modes:
        doc.heading(3, "Conditions, within each species")
        doc.para("The same test with the roles swapped: do runs under two conditions (e.g. the connection modes "
                 "`gain` and `none`, the same graph with every strength 1) differ more than seeds under one do?")
        metric_of = modes["metric"].astype(str) if "metric" in modes else pd.Series("", index=modes.index)
        for metric in dict.fromkeys(metric_of):
            mask = (metric_of == metric).to_numpy()
            doc.para(f"Metric `{metric}`:")
            doc.bullets(*said_once(modes[mask], "condition"))
    within = sorted(cdir.path.glob(CompareDir.similarity_figure("within", "X").replace("_X.", "_*.")))
    if within:
        doc.figures([(f, f.name, f"Area x area similarity within the networks ({f.stem.split('_', 2)[-1]})")
                     for f in within])
    first = [cdir.file(CompareDir.similarity_figure("pairs", f"{metrics[0]}_{a}"))
             for a in dict.fromkeys(pairs["area"].astype(str))]
    first = [f for f in first if f.is_file()]
    if first:
        doc.figures([(f, f.name, f"{metrics[0]}, run x run: {f.stem.rsplit('_', 1)[-1]}") for f in first])
