"""Figures of metrics by occlusion level (tables from :mod:`visualstreams.analysis.levels`): each condition's
accuracy against the level, one condition minus another at each level, and the anytime curve at each level. One
row of panels per species; a ``matplotlib.figure.Figure``, saved atomically given a path."""

from __future__ import annotations

import os

import pandas as pd
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..storage import save_figure

__all__ = ["plot_levels"]

_LESIONED = "#c0392b"
LEVEL_LABELS = {"occlusion": "occlusion (% of the item's pixels hidden)",
                "debris": "debris (% of the item's pixels covered)"}
_FONT = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10}


def _band(ax: Axes, rows: pd.DataFrame, x: str, color: str, label: str, ls: str = "-", marker: str = "o") -> None:
    rows = rows.sort_values(x)
    ax.plot(rows[x], rows["mean"], ls=ls, marker=marker, ms=4, color=color, label=label)
    lo, hi = pd.to_numeric(rows["ci_low"], errors="coerce"), pd.to_numeric(rows["ci_high"], errors="coerce")
    if lo.notna().all() and hi.notna().all():
        ax.fill_between(rows[x], lo, hi, color=color, alpha=0.18, lw=0)


def plot_levels(table: pd.DataFrame, differences: pd.DataFrame | None = None,
                anytime: pd.DataFrame | None = None, lesioned: pd.DataFrame | None = None,
                path: str | os.PathLike[str] | None = None, ylabel: str = "test accuracy (%)",
                difference_label: str = "a - b", task: str = "occlusion") -> Figure:
    """Per species (a row each): ``table`` (:func:`~visualstreams.analysis.levels.by_level`: species, mode,
    level, mean, ci_low, ci_high) as one line per condition against the level, 95% CI bands; ``lesioned`` (the
    same columns, a ``mode`` per lesioned condition) dashed red beside it; ``differences``
    (:func:`~visualstreams.analysis.levels.level_differences`) as a - b with its CI and zero; ``anytime`` (species,
    level, step, mean, ci_low, ci_high) as the accuracy at every step, one line per level. ``task`` names what the
    level is (occlusion: the share of the item's pixels hidden; debris: the share covered by other items' fragments).
    Sized to be read at a docs page's column width (11 pt text)."""
    level_label = LEVEL_LABELS.get(task, f"{task} level (%)")
    with rc_context(_FONT):  # read at the column width: matplotlib's 10 pt default shrinks to ~5 pt there
        species = list(dict.fromkeys(table["species"])) if len(table) else [""]
        ncols = 1 + (differences is not None) + (anytime is not None)
        fig = Figure(figsize=(4.6 * ncols, 3.9 * len(species)), layout="constrained")
        axes = fig.subplots(len(species), ncols, squeeze=False)
        for row, sp in zip(axes, species, strict=True):
            ax = row[0]
            sub = table[table["species"] == sp]
            for i, mode in enumerate(dict.fromkeys(sub["condition"])):
                _band(ax, sub[sub["condition"] == mode], "level", f"C{i}", str(mode))
            if lesioned is not None:
                cut = lesioned[lesioned["species"] == sp]
                for mode in dict.fromkeys(cut["condition"]):
                    _band(ax, cut[cut["condition"] == mode], "level", _LESIONED, str(mode), ls="--", marker="s")
            ax.set(xlabel=level_label, ylabel=ylabel, title=sp)
            ax.legend(fontsize=9)
            col = 1
            if differences is not None:
                ax = row[col]
                col += 1
                d = differences[differences["species"] == sp].sort_values("level")
                ax.axhline(0.0, color="0.5", lw=0.8)
                ax.errorbar(d["level"], d["diff"], yerr=[d["diff"] - d["ci_low"], d["ci_high"] - d["diff"]],
                            fmt="o-", color="k", capsize=4)
                ax.set(xlabel=level_label, ylabel=f"{difference_label} (points)",
                       title=f"{difference_label}: mean, 95% CI")
            if anytime is not None:
                ax = row[col]
                a = anytime[anytime["species"] == sp]
                for i, level in enumerate(sorted(dict.fromkeys(a["level"]))):
                    _band(ax, a[a["level"] == level], "step", f"C{i}", f"{level:g}%")
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                ax.set(xlabel="step read", ylabel=ylabel, title=f"anytime readout, by {task}")
                ax.legend(fontsize=9, title=task, title_fontsize=9)
        if path is not None:
            save_figure(path, fig)
        return fig
