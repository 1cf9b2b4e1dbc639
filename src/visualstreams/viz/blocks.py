"""The anatomy-derived networks side by side (:func:`plot_anatomy_blocks`): for each species every area's channels
(bar) and map size (label), from its derivation, so that a reader sees how its anatomy shaped its network. Returns a
``matplotlib.figure.Figure`` (inline in Jupyter, saved headless). Imports the network layer and the leaves."""

from __future__ import annotations

import os
from collections.abc import Sequence

from matplotlib.figure import Figure

from ..network.anatomy_blocks import Derivation
from ..storage import save_figure

__all__ = ["plot_anatomy_blocks"]


def plot_anatomy_blocks(derivations: Sequence[Derivation], names: Sequence[str] | None = None,
                        path: str | os.PathLike[str] | None = None) -> Figure:
    """One panel a derivation (``names``: their titles, default the species): each area's channels as a bar, in
    computation order, labelled with its map size and kernel; the eye's pixels in the title."""
    names = list(names) if names is not None else [d.anatomy.species for d in derivations]
    fig = Figure(figsize=(4.2 * len(derivations), 3.6), layout="constrained")
    axes = fig.subplots(1, len(derivations), squeeze=False, sharey=True)[0]
    for ax, d, name in zip(axes, derivations, names, strict=True):
        rows = [r for r in d.rows if r["area"] != "eye"]
        areas = [r["area"] for r in rows]
        bars = ax.bar(areas, [r["channels"] for r in rows], color="#5b8db8")
        for bar, r in zip(bars, rows, strict=True):
            ax.annotate(f"{r['size']}x{r['size']}\nk{r['kernel_size']}", (bar.get_x() + bar.get_width() / 2,
                        bar.get_height()), ha="center", va="bottom", fontsize=8)
        ax.set_title(f"{name}: eye {d.architecture.eye_size} px, {d.field_degrees:g} deg", fontsize=10)
        ax.set_xlabel("area (label: map size, kernel)")
        ax.margins(y=0.2)
    axes[0].set_ylabel("channels")
    if path is not None:
        save_figure(path, fig)
    return fig
