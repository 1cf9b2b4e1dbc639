"""Figures of results: learning curves, final metrics with CIs, per-class accuracy, confusion matrices and
lesion effects. Each returns a ``matplotlib.figure.Figure`` (no pyplot state: renders inline in Jupyter and
saves headless) and, given a path, saves it atomically. Imports the analysis layer (CIs) and the leaves."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .. import metrics as metric_names
from ..analysis.stats import mean_ci
from ..metrics import in_order, split_step
from ..storage import save_figure

__all__ = ["plot_learning_curves", "plot_final_metrics", "plot_per_class", "plot_confusion", "plot_lesions",
           "plot_anytime", "per_class_accuracy", "final_metrics"]


def plot_learning_curves(
    histories: Mapping[str, pd.DataFrame],
    path: str | os.PathLike[str] | None = None,
    reference: Mapping[str, float] | None = None,
) -> Figure:
    """Loss (train dashed, test solid) and test accuracy per epoch, one colour per model.

    ``reference`` maps a model name to a final test accuracy to mark (for example the notebook's).
    """
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    acc_key = next((k for k in ("test_acc", "test_r2") if all(k in h for h in histories.values())), None)
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        # Several seeds stacked in one frame: draw the mean and a band for the 95% CI across seeds.
        n_seeds = h["seed"].nunique() if "seed" in h else 1
        label = f"{name} (n={n_seeds})" if n_seeds > 1 else name
        for ax, key, style in ((ax_loss, "train_loss", "--"), (ax_loss, "test_loss", "-o"), (ax_acc, acc_key, "-o")):
            if key is None:
                continue
            # epochs not scored (--test-every) have no test metrics: drawn where they are
            by_epoch = h.dropna(subset=[key]).groupby("epoch")[key]
            mean = by_epoch.mean()
            ax.plot(mean.index, mean.values, style, color=color, ms=3, alpha=0.7 if style == "--" else 1,
                    label=None if style == "--" else label)
            if n_seeds > 1 and style != "--":
                cis = [mean_ci(v.to_numpy()) for _, v in by_epoch]
                ax.fill_between(mean.index, [c["ci_low"] for c in cis], [c["ci_high"] for c in cis], color=color,
                                alpha=0.2, lw=0)
        if reference and name in reference and acc_key == "test_acc":
            ax_acc.plot([h["epoch"].max()], [reference[name]], "*", color=color, ms=11, mec="k",
                        label=f"{name} (notebook)")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss (dashed: train, solid: test)")
    if acc_key == "test_r2":
        ax_acc.set(xlabel="epoch", ylabel="test R^2 of (x, y)", title="Localisation (R^2)")
    else:
        ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if path is not None:
        save_figure(path, fig, dpi=120)
    return fig


def final_metrics(metrics: Sequence[str]) -> list[str]:
    """The metrics of a run's end, without those of single steps (``test_acc@t2``: :func:`plot_anytime` draws
    them)."""
    return [m for m in metrics if split_step(str(m))[1] is None]


def plot_anytime(stats: pd.DataFrame, path: str | os.PathLike[str] | None = None, metric: str = "test_acc",
                 ) -> Figure:
    """The "anytime" curve: ``metric`` read at every step of the recurrent runs (``test_acc@t0`` .. from
    ``stats.csv``), mean and 95% CI band across seeds, one line per condition and species; the one-step runs of the
    same table as dashed horizontal lines at their ``metric``, the feedforward reference."""
    fig = Figure(figsize=(6.4, 4), layout="constrained")
    ax = fig.subplots()
    stats = stats.assign(condition=stats["condition"].astype(str) if "condition" in stats else "")
    parsed = [split_step(str(m)) for m in stats["metric"]] if len(stats) else []
    stats = stats.assign(_base=[b for b, _ in parsed], _step=[s for _, s in parsed])
    # A one-step run's stats rows for the per-step metrics are empty (NaN: it has none): not a curve.
    stepped = stats[(stats["_base"] == metric) & stats["_step"].notna()
                    & pd.to_numeric(stats["mean"], errors="coerce").notna()]
    curves = list(dict.fromkeys(zip(stepped["condition"], stepped["species"].astype(str), strict=True)))
    for i, (mode, species) in enumerate(curves):
        rows = stepped[(stepped["condition"] == mode)
                       & (stepped["species"].astype(str) == species)].sort_values("_step")
        x = rows["_step"].astype(int).to_numpy()
        ax.plot(x, rows["mean"], "-o", color=f"C{i}", ms=4, label=f"{species} ({mode})" if mode else species)
        lo, hi = pd.to_numeric(rows["ci_low"], errors="coerce"), pd.to_numeric(rows["ci_high"], errors="coerce")
        if lo.notna().all() and hi.notna().all():
            ax.fill_between(x, lo, hi, color=f"C{i}", alpha=0.2, lw=0)
    flat = stats[(stats["metric"] == metric)]
    flat = flat[~flat.set_index(["condition", "species"]).index.isin(curves)]
    for j, r in enumerate(flat.itertuples(index=False)):
        ax.axhline(float(r.mean), color=f"C{len(curves) + j}", ls="--", lw=1,
                   label=f"{r.species} ({r.condition}), one step" if r.condition else f"{r.species}, one step")
    if not curves:
        ax.text(0.5, 0.5, "no run of several steps", ha="center", va="center", transform=ax.transAxes)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="step read (the heads on that step's areas)", ylabel=metric_names.label(metric, unit=True),
           title="Anytime readout: mean and 95% CI across seeds")
    ax.grid(alpha=0.3)
    if curves or len(flat):
        ax.legend(fontsize=8)
    if path is not None:
        save_figure(path, fig, dpi=120)
    return fig


def plot_final_metrics(stats: pd.DataFrame, path: str | os.PathLike[str] | None = None,
                       runs: pd.DataFrame | None = None) -> Figure:
    """Final metrics per species: the mean as a point with its 95% CI as a bar, one panel per metric.

    ``stats`` is the ``stats.csv`` table (``condition, species, metric, n, mean, ci_low, ci_high``); conditions are side
    by side in their own colours. A group with n = 1 has no CI and is drawn as a hollow point. ``runs`` (the
    finished rows of ``summary.csv``), when given, adds each seed's value as a small dot.
    """
    metrics = final_metrics(in_order(stats["metric"])) if len(stats) and "metric" in stats else []
    n_panels = max(1, len(metrics))
    fig = Figure(figsize=(min(16.0, 0.8 + 3.6 * n_panels), 3.6), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False).ravel()
    if not metrics:
        axes[0].text(0.5, 0.5, "no finished runs", ha="center", va="center")
        axes[0].set_axis_off()
    else:
        stats = stats.assign(condition=stats["condition"].astype(str) if "condition" in stats else "")
        species = list(dict.fromkeys(stats["species"].astype(str)))
        modes = list(dict.fromkeys(stats["condition"]))
        step = 0.7 / len(modes)
        offsets = (np.arange(len(modes)) - (len(modes) - 1) / 2.0) * step
        for ax, metric in zip(axes, metrics, strict=False):
            sub = stats[stats["metric"] == metric]
            for k, mode in enumerate(modes):
                color = f"C{k}"
                rows = sub[sub["condition"] == mode]
                label = mode if len(modes) > 1 else None
                for r in rows.itertuples(index=False):
                    x = species.index(str(r.species)) + offsets[k]
                    has_ci = math.isfinite(float(r.ci_low)) and math.isfinite(float(r.ci_high))
                    if has_ci:
                        ax.errorbar([x], [r.mean], yerr=[[r.mean - r.ci_low], [r.ci_high - r.mean]], fmt="o",
                                    color=color, capsize=4, ms=6, label=label, zorder=3)
                    else:
                        ax.plot([x], [r.mean], "o", mfc="white", mec=color, ms=7, label=label, zorder=3)
                    label = None
                    if runs is not None and metric in runs and len(runs):
                        mask = runs["species"].astype(str) == str(r.species)
                        if "condition" in runs:
                            mask &= runs["condition"].astype(str) == mode
                        values = pd.to_numeric(runs.loc[mask, metric], errors="coerce").dropna().to_numpy()
                        if values.size > 1:
                            jitter = np.linspace(-0.25, 0.25, values.size) * step
                            ax.scatter(x + jitter, values, s=9, color=color, alpha=0.45, lw=0, zorder=2)
            tilt = len(species) > 3 or sum(len(sp) for sp in species) > 24
            ax.set_xticks(range(len(species)), species, rotation=30 if tilt else 0, ha="right" if tilt else "center")
            ax.set_xlim(-0.6, len(species) - 0.4)
            ax.set_title(metric_names.label(metric, unit=True), fontsize=10)
            ax.grid(axis="y", alpha=0.3)
            if len(modes) > 1:
                ax.legend(title="condition", fontsize=8, title_fontsize=8)
        single = "n" in stats and bool((pd.to_numeric(stats["n"], errors="coerce") == 1).any())
        fig.suptitle("Final metrics: mean and 95% CI across seeds" + (" (hollow: n = 1, no CI)" if single else ""),
                     fontsize=10)
    if path is not None:
        save_figure(path, fig, dpi=120)
    return fig


def per_class_accuracy(matrix: Any) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    rows = m.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rows > 0, 100.0 * np.diag(m) / rows, np.nan)


def plot_per_class(confusions: Mapping[str, Any], classes: Sequence[str] | None = None,
                   path: str | os.PathLike[str] | None = None) -> Figure:
    """Per-class test accuracy (diagonal over row sum of each confusion matrix), one colour per model.

    ``confusions`` maps a label (a species, or "species (mode)") to a square count matrix, rows = true class.
    """
    items = [(str(k), np.asarray(v, dtype=float)) for k, v in confusions.items()]
    n_classes = items[0][1].shape[0] if items else 0
    classes = list(classes) if classes is not None else [str(i) for i in range(n_classes)]
    fig = Figure(figsize=(max(6.5, 1.5 + 0.75 * n_classes), 3.9), layout="constrained")
    ax = fig.subplots()
    if not items:
        ax.text(0.5, 0.5, "no confusion matrices", ha="center", va="center")
        ax.set_axis_off()
    else:
        step = min(0.16, 0.7 / len(items))
        x = np.arange(n_classes)
        for i, (label, m) in enumerate(items):
            off = (i - (len(items) - 1) / 2.0) * step
            ax.plot(x + off, per_class_accuracy(m), "o", color=f"C{i}", ms=6, label=label)
        ax.set_xticks(x, classes, rotation=30, ha="right")
        ax.set(ylabel="accuracy (%)", title="Per-class test accuracy (confusion matrices summed over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if path is not None:
        save_figure(path, fig, dpi=120)
    return fig


def plot_confusion(matrix: Any, classes: Sequence[str] | None = None, title: str = "",
                   path: str | os.PathLike[str] | None = None) -> Figure:
    """A confusion matrix, row-normalised (each true class sums to 100%); rows = true, columns = predicted."""
    m = np.asarray(matrix, dtype=float)
    n = m.shape[0]
    rows = m.sum(axis=1, keepdims=True)
    norm = np.divide(100.0 * m, rows, out=np.zeros_like(m), where=rows > 0)
    classes = list(classes) if classes is not None else [str(i) for i in range(n)]
    fig = Figure(figsize=(1.8 + 0.42 * n, 1.3 + 0.4 * n), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=100)
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    if n <= 15:
        for i, j in zip(*np.nonzero(norm >= 0.5), strict=True):
            ax.text(j, i, f"{norm[i, j]:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 60 else "black")
    ax.set(xlabel="predicted", ylabel="true", title=title or "Confusion matrix")
    fig.colorbar(im, ax=ax, shrink=0.8, label="% of the true class")
    if path is not None:
        save_figure(path, fig, dpi=120)
    return fig


def plot_lesions(df: pd.DataFrame, path: str | os.PathLike[str] | None = None) -> Figure:
    """Change of each test metric under each lesion; bars are means over runs, error bars 95% CIs."""
    changes = [c for c in df.columns if c.startswith("change_") and c != "change_loss"]
    lesions = [x for x in dict.fromkeys(df["lesion"]) if x != "intact"]
    fig = Figure(figsize=(max(6, 0.45 * len(lesions) * len(changes) + 3), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(changes)))
    for ax, col in zip(axes, changes, strict=True):
        means, errs, colors = [], [], []
        for lesion in lesions:
            values = df.loc[df["lesion"] == lesion, col].to_numpy(dtype=float)
            ci = mean_ci(values)
            means.append(ci["mean"])
            errs.append(0.0 if np.isnan(ci["half_width"]) else ci["half_width"])
            kind = df.loc[df["lesion"] == lesion, "kind"].iloc[0]
            colors.append("C3" if kind == "area" else "C0")
        ax.bar(range(len(lesions)), means, yerr=errs, color=colors, capsize=3)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(range(len(lesions)), lesions, rotation=60, ha="right", fontsize=8)
        metric = col.removeprefix("change_")
        unit = {"acc": "accuracy (points)", "loc_err": "localisation error (px)", "r2": "R^2"}.get(metric, metric)
        ax.set(title=f"change in {unit}", ylabel="lesioned - intact")
        ax.grid(axis="y", alpha=0.3)
    n = df["run"].nunique() if "run" in df else 1
    fig.suptitle(f"Lesions (red: areas, blue: projections; n = {n} run{'s' if n > 1 else ''})")
    if path is not None:
        save_figure(path, fig, dpi=120)
    return fig
