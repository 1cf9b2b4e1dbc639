"""Figures of representational similarity: area x area within a network, run x run per area grouped by species
and condition, and within- against between-species similarity per area with its CI. Untrained areas are hatched and
labelled. Each returns a ``matplotlib.figure.Figure``. Imports the leaves only (it draws the analysis' tables)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["plot_within_network", "plot_across_runs", "plot_species_differences"]


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _hatch_cells(ax: Any, flags: Sequence[bool]) -> None:
    """Hatch the rows and columns of a heatmap whose item is untrained."""
    from matplotlib.patches import Rectangle

    k = len(flags)
    for i, flag in enumerate(flags):
        if flag:
            for xy, w, h in (((-0.5, i - 0.5), k, 1), ((i - 0.5, -0.5), 1, k)):
                ax.add_patch(Rectangle(xy, w, h, fill=False, hatch="//", edgecolor="0.9", linewidth=0))


def _heatmap(ax: Any, mat: np.ndarray, labels: Sequence[str], annotate: bool) -> Any:
    finite = mat[np.isfinite(mat)]
    vmin = min(0.0, float(finite.min())) if finite.size else 0.0
    im = ax.imshow(mat, vmin=vmin, vmax=1.0, cmap="viridis", interpolation="nearest")
    k = len(labels)
    ax.set_xticks(range(k), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    if annotate:
        for i, j in itertools.product(range(k), range(k)):
            if np.isfinite(mat[i, j]):
                ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="black" if mat[i, j] > 0.6 * (1 + vmin) else "white")
    return im


def plot_within_network(df: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Heatmap of a ``within_network`` table; untrained areas (``df.attrs["untrained"]``) labelled and hatched."""
    untrained = set(df.attrs.get("untrained", ()))
    areas = [str(a) for a in df.index]
    labels = [f"{a} (untrained)" if a in untrained else a for a in areas]
    k = len(areas)
    fig = _figure(1.6 + 0.55 * k, 1.2 + 0.5 * k)
    ax = fig.subplots()
    im = _heatmap(ax, df.to_numpy(dtype=float), labels, annotate=k <= 12)
    _hatch_cells(ax, [a in untrained for a in areas])
    fig.colorbar(im, ax=ax, label=str(df.attrs.get("metric", "similarity")))
    ax.set_title(title or "Within one network")
    return fig


def plot_across_runs(df_long: pd.DataFrame, area: str, *, metric: str | None = None) -> Figure:
    """Run x run heatmap for one area of an ``across_runs`` table, runs grouped by condition, then species, then seed.

    Lines separate the (mode, species) groups; runs whose area is untrained are labelled and hatched. With several
    metrics in the table, ``metric`` picks one (default: the first).
    """
    sub = df_long[df_long["area"] == area]
    if "metric" in sub.columns and sub["metric"].nunique() > 1:
        sub = sub[sub["metric"] == (metric if metric is not None else sub["metric"].iloc[0])]
    if sub.empty:
        raise ValueError(f"no pairs for area {area!r} in the table")
    info = pd.concat([
        sub[[f"{c}_{s}" for c in ("run", "species", "condition", "seed", "untrained")]].set_axis(
            ["run", "species", "condition", "seed", "untrained"], axis=1) for s in ("a", "b")])
    info = info.groupby("run", sort=False).agg({"species": "first", "condition": "first", "seed": "first",
                                                "untrained": "any"}).reset_index()
    mode_rank = {m: i for i, m in enumerate(dict.fromkeys(info["condition"]))}
    species_rank = {s: i for i, s in enumerate(dict.fromkeys(info["species"]))}
    info = info.assign(_m=info["condition"].map(mode_rank), _s=info["species"].map(species_rank))
    info = info.sort_values(["_m", "_s", "seed"], kind="stable").reset_index(drop=True)
    pos = {r: i for i, r in enumerate(info["run"])}
    k = len(pos)
    mat = np.full((k, k), np.nan)
    ia, ib = sub["run_a"].map(pos).to_numpy(), sub["run_b"].map(pos).to_numpy()
    mat[ia, ib] = mat[ib, ia] = sub["similarity"].to_numpy(dtype=float)
    np.fill_diagonal(mat, 1.0)
    several_modes = len(mode_rank) > 1
    labels = [(f"{r.condition}/" if several_modes else "") + f"{r.species} s{r.seed}" + (" (untrained)" if r.untrained
                                                                                  else "")
              for r in info.itertuples()]
    fig = _figure(2.0 + 0.32 * k, 1.6 + 0.3 * k)
    ax = fig.subplots()
    im = _heatmap(ax, mat, labels, annotate=k <= 10)
    _hatch_cells(ax, info["untrained"].tolist())
    groups = list(zip(info["_m"], info["_s"], strict=True))
    for i in range(1, k):
        if groups[i] != groups[i - 1]:
            ax.axhline(i - 0.5, color="white", linewidth=1.5)
            ax.axvline(i - 0.5, color="white", linewidth=1.5)
    name = str(sub["metric"].iloc[0]) if "metric" in sub.columns else str(df_long.attrs.get("metric", "similarity"))
    fig.colorbar(im, ax=ax, label=name)
    ax.set_title(f"{area}: run x run")
    return fig


def plot_species_differences(df: pd.DataFrame) -> Figure:
    """Within- vs between-species similarity per area (top) and their difference with its CI (bottom).

    One panel per (metric, condition, pair of species) of a ``species_differences`` table, three to a row; a star
    marks a difference significant after Holm; untrained areas have hatched bars and an "(untrained)" label.
    """
    keys = [c for c in ("metric", "condition") if c in df.columns] + ["species_a", "species_b"]
    panels = list(df.groupby(keys, sort=False, dropna=False))
    if not panels:
        raise ValueError("species_differences table is empty")
    # Panels in rows of at most three (one per metric, mode and pair), each a bar chart above its differences.
    n_cols = min(3, len(panels))
    n_rows = -(-len(panels) // n_cols)
    width = 0.6 + 2.4 * max(1, df["area"].nunique()) ** 0.5
    fig = _figure(width * n_cols, 4.6 * n_rows)
    subfigs = np.atleast_1d(fig.subfigures(n_rows, n_cols, squeeze=False)).ravel()
    for k, (key, sub) in enumerate(panels):
        key = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        top, bottom = subfigs[k].subplots(2, 1, sharex=True)
        x = np.arange(len(sub))
        untrained = sub["untrained"].to_numpy(dtype=bool)
        hatch = ["//" if u else None for u in untrained]
        for offset, column, label, colour in ((-0.2, "within", "within species", "C0"),
                                              (0.2, "between", "between species", "C1")):
            bars = top.bar(x + offset, sub[column].to_numpy(dtype=float), 0.4, label=label, color=colour)
            for bar, h in zip(bars, hatch, strict=True):
                bar.set_hatch(h)
        low = np.nanmin(sub[["within", "between"]].to_numpy(dtype=float)) if len(sub) else 0.0
        if np.isfinite(low):  # similarities near 1: start the axis below the lowest bar, not at 0
            top.set_ylim(max(0.0, low - 0.05 * (1.0 - low + 0.02) - 0.01), 1.0)
        head = f"{key['species_a']} vs {key['species_b']}"
        extra = ", ".join(str(key[c]) for c in ("metric", "condition") if c in key)
        top.set_title(f"{head}" + (f" ({extra})" if extra else ""), fontsize=9)
        top.set_ylabel("mean similarity")
        diff = sub["diff"].to_numpy(dtype=float)
        err = np.vstack([diff - sub["ci_low"].to_numpy(dtype=float), sub["ci_high"].to_numpy(dtype=float) - diff])
        bottom.errorbar(x, diff, yerr=np.where(np.isfinite(err), err, 0.0), fmt="o", color="k", capsize=3)
        bottom.axhline(0.0, color="0.5", linewidth=0.8)
        for xi, d, sig in zip(x, diff, sub["significant"].to_numpy(dtype=bool), strict=True):
            if sig and np.isfinite(d):
                bottom.annotate("*", (xi, d), textcoords="offset points", xytext=(6, 0), fontsize=12)
        bottom.set_ylabel("within - between")
        labels = [f"{a}\n(untrained)" if u else str(a) for a, u in zip(sub["area"], untrained, strict=True)]
        bottom.set_xticks(x, labels, fontsize=8)
        if k == 0:
            top.legend(fontsize=7, loc="lower left")
    return fig
