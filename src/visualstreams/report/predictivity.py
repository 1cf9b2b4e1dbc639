"""A neural-predictivity analysis on disk: its tables, its heatmap and its report (``predictivity.md``), written
with the names :class:`~visualstreams.runs.PredictDir` gives them; and the compare report's section on brains,
which reads them back. Imports figures, the analysis and the directory types."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis.best_areas import best_areas, predictivity_tests
from ..analysis.predictivity import PredictivityResult
from ..format import format_number
from ..runs.rundir import PredictDir
from ..storage import write_json, write_text
from ..viz.predictivity import plot_predictivity
from .document import Document

__all__ = ["write_predictivity", "section_predictivity", "best_area_sentences"]


def best_area_sentences(groups: pd.DataFrame) -> list[str]:
    """One line per species, condition and region: the best area, its score with a 95% CI over runs, the
    runner-up, and the share of runs whose own best it was."""
    out = []
    for r in groups.itertuples():
        ci = (f" (95% CI {format_number(r.ci_low, 3)} to {format_number(r.ci_high, 3)})"
              if math.isfinite(r.ci_low) else "")
        runner = (f"; runner-up {r.runner_up} {format_number(r.runner_up_mean, 3)}"
                  if isinstance(r.runner_up, str) else "")
        share = f"; best in {r.share_of_runs:.0%} of {r.n_runs} run(s)" if math.isfinite(r.share_of_runs) else ""
        out.append(f"{r.species} ({r.condition}), {r.region}: best area {r.best}, {r.score} "
                   f"{format_number(r.mean, 3)}{ci}{runner}{share}")
    return out


def write_predictivity(result: PredictivityResult, out: str | os.PathLike[str],
                       record: dict[str, Any] | None = None) -> list[Path]:
    """Write the tables, the heatmap and ``predictivity.md`` of ``result`` into ``out``; ``record`` (the
    recordings, runs and options) goes into ``predict.json`` with the config. Returns the files written."""
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    groups = best_areas(result)
    stats, tests = predictivity_tests(result)
    tables = ((PredictDir.SCORES, result.scores), (PredictDir.SUMMARY, result.summary),
              (PredictDir.CEILINGS, result.ceilings), (PredictDir.SIMILARITY, result.similarity),
              (PredictDir.BEST, result.best), (PredictDir.BEST_GROUPS, groups), (PredictDir.STATS, stats),
              (PredictDir.TESTS, tests))
    written = []
    for name, table in tables:
        write_text(target / name, table.to_csv(index=False))
        written.append(target / name)
    write_json(target / PredictDir.CONFIG, {"config": result.config.to_dict(), "recordings": result.recordings,
                                            "notes": result.notes, **(record or {})})
    written.append(target / PredictDir.CONFIG)
    doc = Document(target)
    doc.heading(1, "Neural predictivity")
    section_predictivity(doc, target, level=2)
    write_text(target / PredictDir.REPORT, doc.render_md())
    written += [target / PredictDir.HEATMAP, target / PredictDir.REPORT]
    return written


def _fmt(value: Any, decimals: int = 3) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return f"{value:.{decimals}f}" if math.isfinite(value) else "n/a"


def _read(directory: Path, name: str) -> pd.DataFrame:
    try:
        return pd.read_csv(directory / name, keep_default_na=True)
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return pd.DataFrame()


def section_predictivity(doc: Document, directory: str | os.PathLike[str], level: int = 2) -> bool:
    """Blocks on the predictivity analysis in ``directory`` (its files alone: the compare report reads them as
    it reads the rest): the heatmap, ceilings, the best area per region, the scores with CIs, the tests, the
    notes. Returns False (and adds nothing) where there is none."""
    import json

    directory = Path(directory)
    summary = _read(directory, PredictDir.SUMMARY)
    if not len(summary):
        return False
    try:
        record = json.loads((directory / PredictDir.CONFIG).read_text())
    except (OSError, ValueError):
        record = {}
    cfg, rec = record.get("config", {}), record.get("recordings", {})
    if level > 2:
        doc.heading(level - 1, "Neural predictivity")
    method = (f"PLS with {cfg.get('n_components', 25)} components" if cfg.get("method", "pls") == "pls"
              else "ridge, its penalty chosen by leave-one-out inside each training split")
    neuroids = ", ".join(f"{k} {v}" for k, v in rec.get("neuroids", {}).items())
    doc.para(f"{rec.get('source') or 'Recordings'}: {rec.get('stimuli')} stimuli; neuroids {neuroids}. "
             f"Regression: {method}; {cfg.get('n_splits')} splits, train fraction {cfg.get('train_fraction')}; "
             "Pearson r per neuroid on held-out stimuli, median over the region's neuroids, mean over splits. "
             "Ceiling: split-half over repetitions, Spearman-Brown corrected; ceiled score = r^2 / ceiling "
             f"(explained variance, as Brain-Score reports it). {_degrees_sentence(cfg)}")
    col = "ceiled" if summary["ceiled"].notna().any() else "r"
    fig = plot_predictivity(summary, col)
    doc.figures([(fig, PredictDir.HEATMAP, f"{col} per area and region, mean over runs")])
    doc.heading(level, "Ceilings")
    ceil = _read(directory, PredictDir.CEILINGS)
    for c in ("ceiling", "ceiling_sem"):
        if c in ceil:
            ceil[c] = ceil[c].map(_fmt)
    doc.table(ceil)
    doc.heading(level, "Best area per region")
    doc.bullets(best_area_sentences(_read(directory, PredictDir.BEST_GROUPS)))
    doc.heading(level, "Scores per area and region (mean and 95% CI over runs)")
    stats = _read(directory, PredictDir.STATS)
    for c in ("mean", "ci_low", "ci_high"):
        stats[c] = stats[c].map(_fmt)
    doc.table(stats[["species", "condition", "name", "region", "metric", "n", "mean", "ci_low", "ci_high"]])
    tests = _read(directory, PredictDir.TESTS)
    if len(tests):
        doc.heading(level, "Differences (Welch's test; Holm over each family of areas, regions and pairs)")
        sig = tests[tests["significant"].astype(str).str.lower() == "true"]
        doc.bullets(list(sig["sentence"]) or [f"No difference survives Holm's correction ({len(tests)} tests)."])
    if record.get("notes"):
        doc.heading(level, "Notes")
        doc.bullets(record["notes"])
    return True


def _degrees_sentence(cfg: dict) -> str:
    """How much of each stimulus the networks saw: the stimuli's visual angle against the network's field."""
    sd, fd = cfg.get("stimulus_degrees"), cfg.get("field_degrees")
    if not isinstance(sd, (int, float)) or not isinstance(fd, (int, float)) or sd <= 0 or fd <= 0:
        return f"Stimuli cover {sd} of the network's {fd} degrees of visual angle."
    if sd > fd:
        return (f"Stimuli span {sd:g} degrees and the network's input {fd:g}: the networks saw the central "
                f"{fd:g} degrees of each ({fd / sd:.0%} of its width), the rest cropped (--field-degrees widens the "
                "field).")
    return (f"Stimuli span {sd:g} of the network's {fd:g} degrees of visual angle"
            + (f", centred on the background ({sd / fd:.0%} of the field's width)." if sd < fd else "."))
