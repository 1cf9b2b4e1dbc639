"""Figures: learning curves and connectivity heatmaps.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state, no display needed) and returned, so
they render inline in Jupyter and save headless.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .connectome import Connectome
from .storage import save_figure


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
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        ax_loss.plot(h["epoch"], h["train_loss"], "--", color=color, alpha=0.7)
        ax_loss.plot(h["epoch"], h["test_loss"], "-o", color=color, label=name, ms=3)
        ax_acc.plot(h["epoch"], h["test_acc"], "-o", color=color, label=name, ms=3)
        if reference and name in reference:
            ax_acc.plot([h["epoch"].max()], [reference[name]], "*", color=color, ms=11, mec="k",
                        label=f"{name} (notebook)")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss (dashed: train, solid: test)")
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
