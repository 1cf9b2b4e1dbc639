"""The comparison report: :func:`build_report` turns a ``compare`` output directory into ``report.html``
(self-contained) and its Markdown twin ``report.md``, reading nothing but the files in that directory.

The sections below fill a :class:`~visualstreams.report.document.Document` with blocks; Jinja2 templates
render it. Imports figures, analysis and the run/compare directory types; never training or experiments.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import metrics
from ..analysis import levels
from ..connectome import Connectome
from ..errors import ConfigError, ConnectomeError
from ..format import MISSING, format_metric
from ..metrics import split_step
from ..network.config import NetworkConfig, describe_condition, parse_condition
from ..network.modes import DEFAULT_MODE
from ..runs.rundir import CompareDir, RunDir
from ..tasks import LEVEL_TASKS
from ..viz import (
    plot_anytime,
    plot_confusion,
    plot_connectome,
    plot_connectome_graph,
    plot_final_metrics,
    plot_learning_curves,
    plot_per_class,
)
from ..viz.levels import plot_levels
from ..viz.results import final_metrics, per_class_accuracy
from .document import Document, slug
from .document import as_int as _int
from .pairwise import N1_NOTE, section_tests
from .predictivity import section_predictivity
from .similarity import section_representations

__all__ = ["build_report", "QUESTION"]

QUESTION = (
    "Do the species' connectomes change what the network learns, beyond seed-to-seed noise? "
    "Does the connectivity constraint matter at all (mode `none` = same graph, all strengths 1)?"
)





_STR_COLUMNS = {c: str for c in ("species", "condition", "status", "group_a", "group_b", "metric", "compare", "by",
                                 "method", "run_dir")}


def _run_dir(cdir: CompareDir, species: str, mode: str, seed: Any, recorded: Any = None) -> RunDir | None:
    """The run's directory inside the compare directory (by its name scheme), else the path summary.csv
    recorded."""
    candidates = []
    with contextlib.suppress(TypeError, ValueError):
        candidates.append(cdir.run(str(species), str(mode), int(float(seed))))
    if isinstance(recorded, str) and recorded and recorded != "nan":
        candidates.append(RunDir(recorded))
    return next((c for c in candidates if c.path.is_dir()), None)


def _label(species: str, mode: str, multi_mode: bool) -> str:
    return f"{species} ({mode})" if multi_mode else str(species)


def _fmt_ci(metric: str, n: Any, mean: Any, lo: Any, hi: Any) -> str:
    """``mean ± half-width [low, high]``; the value alone when n = 1 (no CI)."""
    n = _int(n)
    if n == 0 or format_metric(mean, metric) == MISSING:
        return MISSING
    if n == 1 or format_metric(lo, metric) == MISSING or format_metric(hi, metric) == MISSING:
        return format_metric(mean, metric)
    half = (float(hi) - float(lo)) / 2.0
    return (f"{format_metric(mean, metric)} ± {format_metric(half, metric)} "
            f"[{format_metric(lo, metric)}, {format_metric(hi, metric)}]")


class _Experiment:
    """Everything the report reads from one output directory."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.cdir = cdir = CompareDir(out)
        self.exp: dict[str, Any] = cdir.read_experiment()
        self.train: dict[str, Any] = dict(self.exp.get("train") or {})
        # A summary without a mode column is of one mode: experiment.json's (its train section held it before the
        # network config was split)
        self.sweep_mode = str((self.exp.get("modes") or [self.train.get("mode", DEFAULT_MODE)])[0])
        self.summary = cdir.read_table(CompareDir.SUMMARY, _STR_COLUMNS)
        self.stats = cdir.read_table(CompareDir.STATS, _STR_COLUMNS)
        tests = cdir.read_table(CompareDir.TESTS, _STR_COLUMNS)
        self.tests = tests if {"group_a", "group_b", "metric"} <= set(tests.columns) else pd.DataFrame()
        s = self.summary
        if len(s):
            if "condition" not in s:
                s["condition"] = self.sweep_mode
            if "status" not in s:
                s["status"] = "ok"
            s["status"] = s["status"].fillna("unknown")
        if len(self.stats) and "condition" not in self.stats:
            self.stats["condition"] = self.sweep_mode
        self.species = [str(x) for x in self.exp.get("species") or
                        (list(dict.fromkeys(s["species"])) if "species" in s else [])]
        # The summary's mode is the condition (gain, gain-T4, ...): it says how many there are, even when one mode
        # ran at several step counts; experiment.json's modes are the raw connection modes.
        self.modes = ([str(x) for x in dict.fromkeys(s["condition"])] if len(s) and "condition" in s else
                      [str(x) for x in self.exp.get("modes") or []])
        self.seeds = list(self.exp.get("seeds") or (sorted(set(s["seed"])) if "seed" in s else []))
        self.multi_mode = len(self.modes) > 1
        self.ok = s[s["status"] == "ok"] if len(s) else s
        self.metrics = (final_metrics(metrics.in_order(self.stats["metric"])) if len(self.stats) and "metric" in
                        self.stats else [])
        # Metrics read at every step of recurrent runs (test_acc@t0 ..): the anytime figure, not the tables.
        self.step_metrics = ([m for m in map(str, self.stats["metric"]) if split_step(m)[1] is not None]
                             if len(self.stats) and "metric" in self.stats else [])
        self.task = str(self.train.get("task", "what"))

    def run_dirs(self, rows: pd.DataFrame) -> list[tuple[Any, RunDir | None]]:
        return [(r, _run_dir(self.cdir, r.species, r.condition, r.seed, getattr(r, "run_dir", None)))
                for r in rows.itertuples(index=False)]

    def single_seed(self) -> bool:
        return len(self.stats) > 0 and "n" in self.stats and bool((self.stats["n"] == 1).any())


def _section_intro(doc: Document, ex: _Experiment) -> None:
    doc.heading(1, "visualstreams: do connectomes change what the network learns?")
    doc.para(QUESTION, cls="question")
    doc.para(f"Report built {datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} from the output "
             f"directory `{ex.out.name or ex.out}` (experiment.json, summary.csv, stats.csv, tests.csv and the run "
             "directories, and the similarity_*.csv tables where an analysis of representations was made); nothing "
             "else was read.", cls="note")
    t = ex.train
    task = ex.task + (f" (canvas {t['canvas']} px)" if t.get("canvas") else "")
    settings = [
        ("species", ", ".join(ex.species) or MISSING),
        *([("reference models", ", ".join(str(m) for m in ex.exp["models"]))] if ex.exp.get("models") else []),
        ("conditions", ", ".join(ex.modes) or MISSING),
        ("seeds", ", ".join(str(s) for s in ex.seeds) + f" (n = {len(ex.seeds)} per species and mode)"),
        ("task", task),
        ("recipe", t.get("recipe", MISSING)),
        ("epochs", t.get("epochs", MISSING)),
        ("batch size", t.get("batch_size", MISSING)),
        ("learning rate", f"{t['lr']:g} ({t.get('schedule', 'constant')} schedule)" if "lr" in t else MISSING),
        ("training images", "all" if t.get("train_subset") is None else t["train_subset"]),
    ]
    doc.table(pd.DataFrame(settings, columns=["setting", "value"]))
    if ex.modes:
        doc.para("Conditions in this comparison (connection mode, steps, twins; reference models):")
        doc.bullets([f"`{m}`: {describe_condition(m)}" for m in ex.modes])


def _section_connectomes(doc: Document, ex: _Experiment) -> None:
    doc.heading(2, "1. The connectomes")
    dicts = ex.exp.get("connectomes") or []
    if not dicts:
        doc.para("experiment.json lists no connectomes.", cls="note")
        return
    doc.para("Rows are source areas, columns targets; a strength multiplies (mode `gain`) the activity one area "
             "sends to another. The graph places V1 left, then V2, then V4 / MT, then IT / LIP, the ventral "
             "('what') row below the dorsal ('where') row; arrow widths follow the strengths.")
    names = ex.species if len(ex.species) == len(dicts) else [str(d.get("name", f"connectome {i}"))
                                                               for i, d in enumerate(dicts)]
    for name, data in zip(names, dicts, strict=True):
        doc.heading(3, name)
        try:
            conn = Connectome.from_dict(data, name=name).replace(name=name)
        except ConnectomeError as exc:
            doc.para(f"Could not read this connectome: {exc}", cls="warn")
            continue
        facts = [(k, v) for k, v in (("species", conn.species), ("source", conn.source),
                                     ("measure", conn.measure), ("notes", conn.notes),
                                     ("licence", conn.extra.get("licence", ""))) if v]
        if not conn.source:
            facts.append(("source", "not given (a custom connectome)"))
        facts.append(("projections", f"{len(conn.edges())} between {len(conn.areas)} areas"))
        doc.table(pd.DataFrame([(k, str(v)) for k, v in facts], columns=["", name]))
        doc.figures([
            (plot_connectome(conn), CompareDir.report_figure("connectome", slug(name)), f"{name}: connectivity matrix"),
            (plot_connectome_graph(conn), CompareDir.report_figure("graph", slug(name)),
             f"{name}: projections as a graph"),
        ])


def _section_results(doc: Document, ex: _Experiment) -> None:
    doc.heading(2, "2. Results")
    if not len(ex.stats) or not ex.metrics:
        doc.para("No run finished, so there are no results to show.", cls="warn")
        return
    stats = ex.stats
    notebook = {}
    for m in ex.metrics:
        col = f"notebook_{m}"
        if col in ex.summary and ex.summary[col].notna().any():
            notebook[m] = ex.summary.dropna(subset=[col]).groupby("species")[col].first().to_dict()
    rows = []
    for (mode, species), sub in stats.groupby(["condition", "species"], sort=False, dropna=False):
        by_metric = {str(r.metric): r for r in sub.itertuples(index=False)}
        ns = [_int(r.n) for r in by_metric.values()]
        row: dict[str, Any] = {"condition": mode, "species": species, "n": max(ns) if ns else 0}
        for m in ex.metrics:
            r = by_metric.get(m)
            cell = _fmt_ci(m, r.n, r.mean, r.ci_low, r.ci_high) if r is not None else MISSING
            if r is not None and _int(r.n) != row["n"]:
                cell += f" (n = {_int(r.n)})"
            row[metrics.label(m, unit=True)] = cell
            if m in notebook:  # the notebook trained with fixed gains: beside the gain rows only
                value = notebook[m].get(species) if mode == "gain" else None
                row[f"notebook {metrics.label(m, unit=True)}, 1 run"] = format_metric(value, m)
        rows.append(row)
    table = pd.DataFrame(rows)
    if not ex.multi_mode:
        table = table.drop(columns="condition")
    if (table["n"] == 1).all():
        caption = "Each value is a single run (n = 1), so there is no confidence interval."
    else:
        caption = "Mean across seeds ± half-width of the 95% t confidence interval [its bounds]."
        if (table["n"] == 1).any():
            caption += " A value alone comes from a single run (n = 1, no interval)."
    if notebook:
        caption += (" The notebook columns are the course notebook's single run (fixed gains, 5 epochs, Adam 1e-3, "
                    "batch 64), shown beside the `gain` rows for reference; one run has no error bar.")
    doc.table(table, caption=caption)
    if ex.single_seed():
        doc.para(N1_NOTE, cls="warn")


def _histories(ex: _Experiment) -> dict[str, pd.DataFrame]:
    groups: dict[str, list[pd.DataFrame]] = {}
    for r, d in ex.run_dirs(ex.ok):
        h = pd.DataFrame(d.read_history(strict=False)) if d is not None else pd.DataFrame()
        if len(h) and "epoch" in h:
            groups.setdefault(_label(r.species, r.condition, ex.multi_mode), []).append(h.assign(seed=r.seed))
    return {k: pd.concat(v, ignore_index=True) for k, v in groups.items()}


def _confusions(ex: _Experiment) -> tuple[dict[str, np.ndarray], list[str] | None, dict[str, int], list[str]]:
    """Confusion counts summed over seeds per label; the runs summed per label; runs without a readable file."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    classes: list[str] | None = None
    missing: list[str] = []
    for r, d in ex.run_dirs(ex.ok):
        label = _label(r.species, r.condition, ex.multi_mode)
        data = d.read_confusion() if d is not None else None
        try:
            m = np.asarray(data["matrix"], dtype=float)  # type: ignore[index]
            ok = m.ndim == 2 and m.shape[0] == m.shape[1] and (label not in sums or sums[label].shape == m.shape)
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            missing.append(f"{r.species} {r.condition} seed {r.seed}")
            continue
        sums[label] = sums[label] + m if label in sums else m
        counts[label] = counts.get(label, 0) + 1
        if classes is None and isinstance(data.get("classes"), list) and len(data["classes"]) == m.shape[0]:
            classes = [str(c) for c in data["classes"]]
    return sums, classes, counts, missing


def _levels_figure(doc: Document, ex: _Experiment) -> None:
    """Accuracy against the level (occlusion or debris) per condition; where a recurrent condition (MODE-T<k>) has its
    matched twin (MODE-BF<k>), their difference at each level; the recurrent runs' anytime curve per level."""
    modes = [str(m) for m in dict.fromkeys(ex.ok["condition"])]
    pair = None
    for m in modes:  # the first recurrent condition whose used-parameter twin was trained beside it
        try:
            c = parse_condition(m)
        except ConfigError:  # a label that names no network (a hand-edited table's) has no twin
            continue
        twin = (NetworkConfig(c.mode, twin_of=c.steps, intrinsic=c.intrinsic, step_norm=c.step_norm).label
                if c.steps > 1 else None)
        if c.steps > 1 and twin in modes:
            pair = (m, twin)
            break
    diffs = levels.level_differences(ex.ok, *pair) if pair else None
    anytime = levels.anytime_by_level(ex.ok)
    caption = (f"Test accuracy at each {ex.task} level: mean with 95% CI band across seeds"
               + (f"; {pair[0]} - {pair[1]} at each level (Welch 95% CI)" if pair else "")
               + ("; the recurrent runs' accuracy at every step, one line per level" if len(anytime) else ""))
    doc.heading(3, f"Accuracy by {ex.task} level")
    doc.figures([(plot_levels(levels.by_level(ex.ok), differences=diffs, anytime=anytime if len(anytime) else None,
                              difference_label=f"{pair[0]} - {pair[1]}" if pair else "a - b", task=ex.task),
                  CompareDir.report_figure("occlusion_levels"), caption)])


def _section_figures(doc: Document, ex: _Experiment) -> None:
    doc.heading(2, "3. Figures")
    doc.heading(3, "Learning curves")
    existing = ex.cdir.file(CompareDir.CURVES)
    if existing.is_file():
        stars = "; stars = the notebook's single run" if _notebook_reference(ex) else ""  # Fashion-MNIST sweeps only
        doc.figures([(existing, CompareDir.CURVES, f"Learning curves: mean across seeds, band = 95% CI{stars}")])
    else:
        histories = _histories(ex)
        if histories:
            ref = _notebook_reference(ex) if ex.task == "what" else None
            doc.figures([(plot_learning_curves(histories, reference=ref), CompareDir.report_figure("learning_curves"),
                          "Learning curves: mean across seeds, band = 95% CI")])
        else:
            doc.para("No learning curves: no finished run has a history.", cls="note")

    doc.heading(3, "Final metrics")
    if len(ex.stats) and ex.metrics:
        doc.figures([(plot_final_metrics(ex.stats, runs=ex.ok), CompareDir.report_figure("final_metrics"),
                      "Final test metrics per species: mean with 95% CI bar; small dots = single seeds")])
    else:
        doc.para("No finished runs.", cls="note")

    if any(split_step(m)[0] == "test_acc" for m in ex.step_metrics):
        doc.heading(3, "Accuracy at every step (anytime readout)")
        doc.figures([(plot_anytime(ex.stats), CompareDir.report_figure("anytime"),
                      "Test accuracy of the heads read at each step of the recurrent runs: mean with 95% CI band "
                      "across seeds; dashed: the one-step runs")])

    if ex.task in LEVEL_TASKS and len(ex.ok) and levels.level_columns(list(ex.ok.columns)):
        _levels_figure(doc, ex)

    doc.heading(3, "Per-class accuracy and confusion matrices")
    sums, classes, counts, missing = _confusions(ex)
    if not sums:
        reason = (f"the task `{ex.task}` has no 'what' (classification) head" if ex.task == "where" else
                  "the task `clutter` names several classes per image" if ex.task == "clutter" else
                  "no run directory holds a readable confusion.json")
        doc.para(f"No confusion matrices: {reason}.", cls="note")
        return
    if missing:
        doc.para(f"confusion.json is missing or unreadable for {len(missing)} run(s) ({', '.join(missing)}); "
                 "the matrices below sum the others.", cls="warn")
    doc.figures([(plot_per_class(sums, classes), CompareDir.report_figure("per_class"),
                  "Per-class test accuracy, from the confusion matrices summed over seeds")])
    n_cls = next(iter(sums.values())).shape[0]
    names = classes or [str(i) for i in range(n_cls)]
    per_class = pd.DataFrame({"class": names})
    for label, m in sums.items():
        per_class[label] = [format_metric(v, "test_acc") for v in per_class_accuracy(m)]
    doc.table(per_class, caption="Per-class test accuracy (%), confusion counts summed over seeds.")
    doc.figures([(plot_confusion(m, classes, title=f"{label} (sum of {counts[label]} seed(s))"),
                  CompareDir.report_figure("confusion", slug(label)),
                  f"{label}: confusion matrix, rows normalised to 100%")
                 for label, m in sums.items()])


def _section_failures(doc: Document, ex: _Experiment) -> None:
    doc.heading(2, "5. Failed runs")
    s = ex.summary
    if not len(s):
        doc.para("summary.csv is missing or empty.", cls="warn")
        return
    failed = s[s["status"] != "ok"]
    if not len(failed):
        doc.para(f"None: all {len(s)} runs finished.")
        return
    doc.para(f"{len(failed)} of {len(s)} runs did not finish; they are left out of the statistics and tests.",
             cls="warn")
    cols = [c for c in ("species", "condition", "seed", "epochs", "status") if c in failed]
    doc.table(failed[cols].rename(columns={"epochs": "epochs done"}).astype(str))


def _section_reproducibility(doc: Document, ex: _Experiment) -> None:
    doc.heading(2, "6. Reproducibility")
    doc.heading(3, "Training configuration")
    if ex.train:
        doc.table(pd.DataFrame([(k, "None" if v is None else str(v)) for k, v in ex.train.items()],
                               columns=["field", "value"]),
                  caption="experiment.json `train`; seed and condition are set per run from the seeds and conditions "
                          "above.")
    else:
        doc.para("experiment.json has no training configuration.", cls="warn")
    order = pd.concat([ex.ok, ex.summary[~ex.summary.index.isin(ex.ok.index)]]) if len(ex.summary) else ex.summary
    configs = [(r, _read_config(d)) for r, d in ex.run_dirs(order) if d is not None]
    configs = [(r, c) for r, c in configs if isinstance(c, dict)]
    if not configs:
        doc.para("No run directory holds a readable config.json: package versions, device and data checksums are "
                 "unknown.", cls="warn")
        return
    first_row, cfg = configs[0]
    doc.heading(3, "Environment")
    env = dict(cfg.get("environment") or {})
    resolved = dict(cfg.get("resolved") or {})
    rows = [(k, str(v)) for k, v in env.items()]
    rows += [(f"resolved {k}", str(v)) for k, v in resolved.items()]
    doc.table(pd.DataFrame(rows, columns=["", "value"]),
              caption=f"From the config.json of run {first_row.species} {first_row.condition} seed {first_row.seed}.")
    devices = {str((c.get("resolved") or {}).get("device")) + " / " + str((c.get("resolved") or {}).get("precision"))
               for _, c in configs}
    if len(devices) > 1:
        doc.para(f"Runs used different devices or precisions: {', '.join(sorted(devices))}.", cls="warn")
    doc.heading(3, "Data")
    data = dict(cfg.get("data") or {})
    # An image set's info says more (its name, split, channels, size and classes); Fashion-MNIST's has none of these.
    facts = [(k, str(data[k])) for k in ("dataset", "source", "format", "split", "channels", "size", "classes", "train",
                                         "test", "train_used") if k in data]
    if facts:
        doc.table(pd.DataFrame(facts, columns=["", "value"]))
    checksums = data.get("checksums") or {}
    if checksums:
        doc.table(pd.DataFrame(sorted(checksums.items()), columns=["file", "MD5 (decompressed bytes)"]))
    else:
        doc.para("No data checksums recorded (the data did not come from files).", cls="note")


def _section_runs(doc: Document, ex: _Experiment) -> None:
    if not len(ex.summary):
        return
    doc.heading(2, "Appendix: every run")
    s = ex.summary
    cols = [c for c in ("species", "condition", "seed", "status") if c in s]
    table = s[cols].astype(str).copy()
    for m in metrics.in_order([c for c in s.columns if c.startswith("test_")]):
        table[m] = [format_metric(v, m) for v in s[m]]
    for c, fmt in (("epochs", "{:.0f}"), ("seconds", "{:.1f}")):
        if c in s:
            table[c] = [fmt.format(v) if pd.notna(v) else MISSING for v in pd.to_numeric(s[c], errors="coerce")]
    doc.table(table)


def _section_brains(doc: Document, ex: _Experiment) -> None:
    """Neural predictivity (``compare --recordings``), from its files in the compare directory, where it ran."""
    section_predictivity(doc, ex.cdir.path, level=3)


def build_report(out: str | os.PathLike[str]) -> Path:
    """Write ``report.html`` (self-contained) and ``report.md`` (figures as PNGs beside it) for a compare output
    directory, from the files in it alone; returns the HTML path.

    Sections: the question and settings; the connectomes (matrix, graph, source); the results table; figures
    (learning curves, final metrics, per-class accuracy, confusion matrices); the tests in words and as a
    table; failed runs; reproducibility (configuration, package versions, device, data checksums).
    """
    out = Path(out)
    ex = _Experiment(out)
    doc = Document(out)
    sections = (("introduction", _section_intro), ("connectomes", _section_connectomes),
                ("results", _section_results), ("figures", _section_figures), ("tests", section_tests),
                ("representations", section_representations), ("brains", _section_brains),
                ("failed runs", _section_failures),
                ("reproducibility", _section_reproducibility),
                ("run list", _section_runs))
    for name, section in sections:
        try:
            section(doc, ex)
        except Exception as exc:  # a report is built after hours of training: one broken part must not sink it
            message = f"{name}: {type(exc).__name__}: {exc}"
            warnings.warn(f"report section failed ({message})", RuntimeWarning, stacklevel=2)
            doc.para(f"This part of the report could not be built ({message}).", cls="warn")
    ex.cdir.write_text(CompareDir.REPORT_MD, doc.render_md())
    return ex.cdir.write_text(CompareDir.REPORT_HTML, doc.render_html("visualstreams comparison: "
                                                                     + ", ".join(ex.species)))


def _read_config(run_dir: RunDir) -> dict[str, Any] | None:
    try:
        return run_dir.read_config()
    except Exception:  # noqa: BLE001  (an unreadable config.json only leaves a gap in the report)
        return None


def _notebook_reference(ex: _Experiment) -> dict[str, float] | None:
    """The notebook's single-run accuracies, as summary.csv recorded them beside each species."""
    s = ex.summary
    if "notebook_test_acc" not in s or not s["notebook_test_acc"].notna().any():
        return None
    return s.dropna(subset=["notebook_test_acc"]).groupby("species")["notebook_test_acc"].first().to_dict()
