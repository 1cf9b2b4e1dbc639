"""Figures: learning curves and connectivity heatmaps.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state, no display needed) and returned, so
they render inline in Jupyter and save headless.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .connectome import Connectome
from .storage import save_figure, write_text


def plot_learning_curves(
    histories: Mapping[str, pd.DataFrame],
    path: str | os.PathLike[str] | None = None,
    reference: Mapping[str, float] | None = None,
) -> Figure:
    """Loss (train dashed, test solid) and test accuracy per epoch, one colour per model.

    ``reference`` maps a model name to a final test accuracy to mark (for example the notebook's).
    """
    from .analysis.stats import mean_ci

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
            by_epoch = h.groupby("epoch")[key]
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


def plot_connectome(connectome: Connectome, path: str | os.PathLike[str] | None = None) -> Figure:
    """The labelled matrix as a heatmap (rows: source, columns: target), strengths written in the cells."""
    w = connectome.weights
    n = len(connectome.areas)
    fig = Figure(figsize=(1.0 + 0.7 * n, 0.6 + 0.6 * n), layout="constrained")
    ax = fig.subplots()
    vmax = float(w.max()) if w.max() > 0 else 1.0
    im = ax.imshow(np.where(w > 0, w, np.nan), cmap="viridis", vmin=0, vmax=vmax)
    ax.set_xticks(range(n), connectome.areas, rotation=45 if n > 8 else 0)
    ax.set_yticks(range(n), connectome.areas)
    ax.set(xlabel="target", ylabel="source", title=f"{connectome.name}")
    if n <= 12:
        for i, j in zip(*np.nonzero(w), strict=True):
            ax.text(j, i, f"{w[i, j]:.2g}", ha="center", va="center", fontsize=8,
                    color="w" if w[i, j] < 0.6 * vmax else "k")
    fig.colorbar(im, ax=ax, shrink=0.8, label=connectome.measure.split("(")[0][:40] or "strength")
    if path is not None:
        save_figure(path, fig, dpi=120)
    return fig


def build_report(out: str | os.PathLike[str]) -> Path:
    """Write ``report.md`` from a compare output directory (tables only; figures sit beside it)."""
    out = Path(out)
    parts = ["# visualstreams comparison", ""]
    for name in ("stats.csv", "tests.csv", "summary.csv"):
        path = out / name
        if path.is_file() and path.stat().st_size > 1:
            parts += [f"## {name}", "", "```", pd.read_csv(path).to_string(index=False), "```", ""]
    target = out / "report.md"
    write_text(target, "\n".join(parts))
    return target
