"""Figures of neural predictivity: an area x region heatmap per species and condition (the mean over its runs),
each cell annotated. Returns a ``matplotlib.figure.Figure``. Imports the leaves only (it draws the analysis'
tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["plot_predictivity"]

_LABELS = {"ceiled": "ceiled score (r\u00b2 / ceiling)", "r": "r (median over neuroids)"}


def plot_predictivity(summary: pd.DataFrame, value: str | None = None, title: str | None = None) -> Figure:
    """``summary``: :attr:`PredictivityResult.summary` (one row per run, name and region). ``value``: ``ceiled``
    (default where any region has a usable ceiling) or ``r``. One panel per species and condition; rows are the
    areas (and steps ``AREA@tK``) in network order, columns the regions; each cell is the mean over runs."""
    if value is None:
        value = "ceiled" if summary["ceiled"].notna().any() else "r"
    groups = list(summary.groupby(["species", "condition"], sort=False))
    names = list(dict.fromkeys(summary["name"]))
    regions = list(dict.fromkeys(summary["region"]))
    width = 1.2 + 0.9 * len(regions)
    fig = Figure(figsize=(max(3.2, width * len(groups) + 0.8), 0.9 + 0.38 * len(names)), layout="constrained")
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    finite = summary[value].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    vmax = max(1.0, float(finite.max())) if finite.size else 1.0
    im = None
    for ax, ((species, condition), grp) in zip(axes, groups, strict=True):
        mat = (grp.groupby(["name", "region"], sort=False)[value].mean().unstack()
               .reindex(index=names, columns=regions).to_numpy(dtype=float))
        im = ax.imshow(mat, vmin=min(0.0, float(np.nanmin(mat)) if np.isfinite(mat).any() else 0.0), vmax=vmax,
                       cmap="magma", aspect="auto", interpolation="nearest")
        for i in range(mat.shape[0]):
            for j in range(mat.shape[1]):
                text = "n/a" if not np.isfinite(mat[i, j]) else f"{mat[i, j]:.2f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="black" if np.isfinite(mat[i, j]) and mat[i, j] > 0.6 * vmax else "white")
        ax.set_xticks(range(len(regions)), regions, fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xlabel("recorded region", fontsize=8)
        n = grp["run"].nunique()
        ax.set_title(f"{species} ({condition}), {n} run{'s' if n > 1 else ''}", fontsize=9)
    if im is not None:
        fig.colorbar(im, ax=list(axes), shrink=0.8, label=_LABELS.get(value, value))
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
