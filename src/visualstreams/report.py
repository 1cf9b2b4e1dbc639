"""Figures and the comparison report.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state, no display needed) and returned, so
they render inline in Jupyter and save headless.

:func:`build_report` turns a ``compare`` output directory (see :mod:`visualstreams.experiment`) into
``report.html`` (self-contained: inline CSS, figures embedded as base64 PNG, no external resources) and its
Markdown twin ``report.md`` (figures as PNG files beside it), reading nothing but the files in that directory.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch
from matplotlib.ticker import MaxNLocator

from .connectome import Connectome, ConnectomeError, topological_order
from .storage import save_figure, write_text

__all__ = [
    "plot_learning_curves",
    "plot_connectome",
    "plot_connectome_graph",
    "connectome_layout",
    "plot_final_metrics",
    "plot_per_class",
    "plot_confusion",
    "build_report",
]


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


# -- connectome graph ---------------------------------------------------------------------------------------

# The two-stream hierarchy: V1, V2, then V4 (ventral, below) / MT (dorsal, above), then IT / LIP.
_CANONICAL_LAYOUT: dict[str, tuple[float, float]] = {
    "V1": (0.0, 0.0), "V2": (1.0, 0.0), "MT": (2.0, 1.0), "LIP": (3.0, 1.0), "V4": (2.0, -1.0), "IT": (3.0, -1.0),
}
_NODE_SIZE = 900.0  # scatter marker area in points^2


def connectome_layout(connectome: Connectome) -> dict[str, tuple[float, float]]:
    """Positions (x, y) of the areas for :func:`plot_connectome_graph`.

    Areas of the canonical two-stream hierarchy sit at fixed places: V1 left, then V2, then V4 / MT, then
    IT / LIP, the ventral row (V4, IT) below the dorsal one (MT, LIP). Any other graph is laid out by
    topological depth (the longest path from an area without inputs) on x, areas of one depth spread on y.
    """
    areas = list(connectome.areas)
    if set(areas) <= set(_CANONICAL_LAYOUT):
        return {a: _CANONICAL_LAYOUT[a] for a in areas}
    adj = np.asarray(connectome.weights) > 0
    depth = {a: 0 for a in areas}
    try:
        order = topological_order(connectome)
    except ConnectomeError:  # a cycle: fall back to the file's order, one column per area
        return {a: (float(i), 0.0) for i, a in enumerate(areas)}
    for a in order:
        i = areas.index(a)
        for j in np.nonzero(adj[i])[0]:
            depth[areas[j]] = max(depth[areas[j]], depth[a] + 1)
    columns: dict[int, list[str]] = {}
    for a in areas:
        columns.setdefault(depth[a], []).append(a)
    pos = {}
    for d, members in columns.items():
        k = len(members)
        for i, a in enumerate(members):
            pos[a] = (float(d), (k - 1) / 2.0 - i)  # first in the file on top
    return pos


def _curve_points(p1: np.ndarray, p2: np.ndarray, rad: float, n: int = 25) -> np.ndarray:
    """Points of matplotlib's ``arc3,rad=rad`` curve from p1 to p2 (a quadratic Bezier), in data units."""
    d = p2 - p1
    control = (p1 + p2) / 2.0 + rad * np.array([d[1], -d[0]])
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p1 + 2 * (1 - t) * t * control + t ** 2 * p2


def _edge_rad(p1: np.ndarray, p2: np.ndarray, others: list[np.ndarray]) -> float:
    """The smallest bend that keeps an edge clear of the areas it does not connect."""
    best, best_clearance = 0.0, -1.0
    for rad in (0.0, 0.25, -0.25, 0.45, -0.45):
        pts = _curve_points(p1, p2, rad)[2:-2]
        clearance = min((float(np.min(np.linalg.norm(pts - o, axis=1))) for o in others), default=np.inf)
        if clearance > 0.3:
            return rad
        if clearance > best_clearance:
            best, best_clearance = rad, clearance
    return best


def _label_spot(curve: np.ndarray, taken: list[np.ndarray], other_curves: list[np.ndarray]) -> np.ndarray:
    """Where on an edge (a 21-point curve) to write its strength: the middle unless another label sits there or
    another edge crosses it, else a point nearer one end."""
    best, best_score = curve[10], -np.inf
    for i in (10, 8, 12, 6, 14, 7, 13):
        label_gap = min((float(np.linalg.norm(curve[i] - t)) for t in taken), default=np.inf)
        edge_gap = min((float(np.min(np.linalg.norm(c - curve[i], axis=1))) for c in other_curves), default=np.inf)
        score = min(label_gap / 0.35, edge_gap / 0.12)
        if score >= 1.0:
            return curve[i]
        if score > best_score:
            best, best_score = curve[i], score
    return best


def plot_connectome_graph(connectome: Connectome | Mapping[str, Any],
                          path: str | os.PathLike[str] | None = None) -> Figure:
    """The areas as a graph: one arrow per projection, its width by strength, the strength written on it.

    Placement follows :func:`connectome_layout` (hierarchy left to right, ventral row below dorsal).
    """
    conn = connectome if isinstance(connectome, Connectome) else Connectome.from_dict(connectome)
    pos = {a: np.asarray(p, dtype=float) for a, p in connectome_layout(conn).items()}
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    width = max(xs) - min(xs) + 1.2
    height = max(ys) - min(ys) + 1.2
    fig = Figure(figsize=(min(12.0, 1.2 + 1.45 * width), min(8.0, 0.9 + 1.25 * height)), layout="constrained")
    ax = fig.subplots()
    edges = conn.edges()
    wmax = max((w for _, _, w in edges), default=1.0) or 1.0
    radius_pt = math.sqrt(_NODE_SIZE) / 2.0
    label_spots: list[np.ndarray] = []
    rads = [_edge_rad(pos[s], pos[t], [p for a, p in pos.items() if a not in (s, t)]) for s, t, _ in edges]
    curves = [_curve_points(pos[s], pos[t], rad, 21) for (s, t, _), rad in zip(edges, rads, strict=True)]
    for k, ((s, t, w), rad) in enumerate(zip(edges, rads, strict=True)):
        arrow = FancyArrowPatch(
            tuple(pos[s]), tuple(pos[t]), connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
            mutation_scale=10 + 6 * w / wmax, lw=0.8 + 5.0 * w / wmax, color="0.25", alpha=0.8,
            shrinkA=radius_pt + 2, shrinkB=radius_pt + 2, zorder=1,
        )
        arrow.set_gid(f"edge:{s}->{t}")
        ax.add_patch(arrow)
        # Curves of the other edges, without their ends (every edge at an area meets the others there).
        others = [c[3:-3] for j, c in enumerate(curves) if j != k]
        spot = _label_spot(curves[k], label_spots, others)
        label_spots.append(spot)
        ax.text(spot[0], spot[1], f"{w:.2g}", ha="center", va="center", fontsize=8, zorder=3,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "0.7", "lw": 0.5})
    names = list(pos)
    centres = np.array([pos[a] for a in names])
    ax.scatter(centres[:, 0], centres[:, 1], s=_NODE_SIZE, c="#dbe9f6", edgecolors="#1f4e79", linewidths=1.5,
               zorder=2)
    for a in names:
        ax.text(pos[a][0], pos[a][1], a, ha="center", va="center", fontsize=9, fontweight="bold", zorder=4)
    if set(names) <= set(_CANONICAL_LAYOUT):
        x_right = max(xs) + 0.45
        if any(pos[a][1] > 0 for a in names):
            ax.text(x_right, 1.0, "dorsal\n(where)", ha="left", va="center", fontsize=8, color="0.4")
        if any(pos[a][1] < 0 for a in names):
            ax.text(x_right, -1.0, "ventral\n(what)", ha="left", va="center", fontsize=8, color="0.4")
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.95)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_aspect("equal")  # arc3 bends in display space: equal scales keep the strength labels on the curves
    ax.set_axis_off()
    ax.set_title(f"{conn.name}: projections (width = strength)", fontsize=10)
    if path is not None:
        save_figure(path, fig, dpi=120)
    return fig


# -- final metrics, per-class accuracy, confusion --------------------------------------------------------------

_METRIC_ORDER = ("test_acc", "test_loss", "test_loc_err", "test_r2")
_METRIC_LABELS = {
    "test_acc": "test accuracy (%)",
    "test_loss": "test loss",
    "test_loc_err": "test localisation error (px)",
    "test_r2": "test R² of (x, y)",
}
_METRIC_DECIMALS = {"test_acc": 2, "test_loss": 4, "test_loc_err": 2, "test_r2": 3, "hedges_g": 2}


def _metric_label(metric: str) -> str:
    return _METRIC_LABELS.get(metric, metric.replace("_", " "))


def _ordered_metrics(metrics: Sequence[str]) -> list[str]:
    seen = list(dict.fromkeys(str(m) for m in metrics))
    return [m for m in _METRIC_ORDER if m in seen] + [m for m in seen if m not in _METRIC_ORDER]


def plot_final_metrics(stats: pd.DataFrame, path: str | os.PathLike[str] | None = None,
                       runs: pd.DataFrame | None = None) -> Figure:
    """Final metrics per species: the mean as a point with its 95% CI as a bar, one panel per metric.

    ``stats`` is the ``stats.csv`` table (``mode, species, metric, n, mean, ci_low, ci_high``); modes are side
    by side in their own colours. A group with n = 1 has no CI and is drawn as a hollow point. ``runs`` (the
    finished rows of ``summary.csv``), when given, adds each seed's value as a small dot.
    """
    metrics = _ordered_metrics(stats["metric"]) if len(stats) and "metric" in stats else []
    n_panels = max(1, len(metrics))
    fig = Figure(figsize=(min(16.0, 0.8 + 3.6 * n_panels), 3.6), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False).ravel()
    if not metrics:
        axes[0].text(0.5, 0.5, "no finished runs", ha="center", va="center")
        axes[0].set_axis_off()
    else:
        stats = stats.assign(mode=stats["mode"].astype(str)) if "mode" in stats else stats.assign(mode="")
        species = list(dict.fromkeys(stats["species"].astype(str)))
        modes = list(dict.fromkeys(stats["mode"]))
        step = 0.7 / len(modes)
        offsets = (np.arange(len(modes)) - (len(modes) - 1) / 2.0) * step
        for ax, metric in zip(axes, metrics, strict=False):
            sub = stats[stats["metric"] == metric]
            for k, mode in enumerate(modes):
                color = f"C{k}"
                rows = sub[sub["mode"] == mode]
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
                        if "mode" in runs:
                            mask &= runs["mode"].astype(str) == mode
                        values = pd.to_numeric(runs.loc[mask, metric], errors="coerce").dropna().to_numpy()
                        if values.size > 1:
                            jitter = np.linspace(-0.25, 0.25, values.size) * step
                            ax.scatter(x + jitter, values, s=9, color=color, alpha=0.45, lw=0, zorder=2)
            tilt = len(species) > 3 or sum(len(sp) for sp in species) > 24
            ax.set_xticks(range(len(species)), species, rotation=30 if tilt else 0, ha="right" if tilt else "center")
            ax.set_xlim(-0.6, len(species) - 0.4)
            ax.set_title(_metric_label(metric), fontsize=10)
            ax.grid(axis="y", alpha=0.3)
            if len(modes) > 1:
                ax.legend(title="mode", fontsize=8, title_fontsize=8)
        single = "n" in stats and bool((pd.to_numeric(stats["n"], errors="coerce") == 1).any())
        fig.suptitle("Final metrics: mean and 95% CI across seeds" + (" (hollow: n = 1, no CI)" if single else ""),
                     fontsize=10)
    if path is not None:
        save_figure(path, fig, dpi=120)
    return fig


def _per_class_accuracy(matrix: Any) -> np.ndarray:
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
            ax.plot(x + off, _per_class_accuracy(m), "o", color=f"C{i}", ms=6, label=label)
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


# -- the report -------------------------------------------------------------------------------------------------

QUESTION = (
    "Do the species' connectomes change what the network learns, beyond seed-to-seed noise? "
    "Does the connectivity constraint matter at all (mode `none` = same graph, all strengths 1)?"
)

MODE_DESCRIPTIONS = {
    "gain": "each projection's strength is a fixed multiplier on the signal it carries (the notebook's scheme)",
    "learned-gain": "each multiplier starts at the projection's strength and is trained with the weights",
    "density": "the strength is the fraction of channel-to-channel connections kept (fixed random mask)",
    "none": "the control: the same graph, every present projection at strength 1",
}

_N1_NOTE = ("With n = 1 (a single seed) there is no confidence interval and no test: n = 1 cannot separate "
            "seed-to-seed noise from a difference between species or modes.")

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f; line-height: 1.5;
       max-width: 1150px; margin: 2em auto; padding: 0 1.2em; }
h1 { font-size: 1.7em; border-bottom: 2px solid #1f4e79; padding-bottom: .2em; }
h2 { font-size: 1.35em; margin-top: 2em; border-bottom: 1px solid #ccd; padding-bottom: .15em; }
h3 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: .8em 0 1.2em; font-size: .9em; }
th, td { border: 1px solid #ccd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
tr:nth-child(even) td { background: #fafbfc; }
tr.sig td { background: #fff4d6; }
code { background: #f1f1f4; padding: 0 .25em; border-radius: 3px; font-size: .92em; }
.question { font-size: 1.08em; background: #eef5fb; border-left: 4px solid #1f4e79; padding: .6em 1em; }
.note { color: #555; font-size: .93em; }
.warn { background: #fff4d6; border-left: 4px solid #d9a400; padding: .4em .8em; }
.figs { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: .6em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e3e8; }
figcaption { font-size: .88em; color: #555; }
li.sig { font-weight: 600; }
"""


def _inline_html(text: str) -> str:
    """Escape, then turn ``code`` and **bold** into tags (the only markup the report's sentences use)."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


class _Document:
    """Blocks rendered twice: to HTML (figures inlined) and to Markdown (figures as files beside it)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.html: list[str] = []
        self.md: list[str] = []
        self.figure_files: list[str] = []

    def heading(self, level: int, text: str) -> None:
        anchor = _slug(text.lower())
        self.html.append(f'<h{level} id="{anchor}">{_inline_html(text)}</h{level}>')
        self.md += ["#" * level + " " + text, ""]

    def para(self, text: str, cls: str = "") -> None:
        attr = f' class="{cls}"' if cls else ""
        self.html.append(f"<p{attr}>{_inline_html(text)}</p>")
        self.md += [f"> {text}" if cls in ("question", "warn") else text, ""]

    def bullets(self, items: Sequence[str], flags: Sequence[bool] | None = None) -> None:
        flags = list(flags) if flags is not None else [False] * len(items)
        lis = [f'<li class="sig">{_inline_html(t)}</li>' if f else f"<li>{_inline_html(t)}</li>"
               for t, f in zip(items, flags, strict=True)]
        self.html.append("<ul>" + "".join(lis) + "</ul>")
        self.md += [f"- {t}" for t in items] + [""]

    def table(self, df: pd.DataFrame, highlight: Sequence[bool] | None = None, caption: str = "") -> None:
        cols = [str(c) for c in df.columns]
        highlight = list(highlight) if highlight is not None else [False] * len(df)
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = []
        for flag, row in zip(highlight, df.itertuples(index=False), strict=True):
            cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
            body.append(f'<tr class="sig">{cells}</tr>' if flag else f"<tr>{cells}</tr>")
        cap = f"<caption class=\"note\">{_inline_html(caption)}</caption>" if caption else ""
        self.html.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
        self.md.append("| " + " | ".join(_md_cell(c) for c in cols) + " |")
        self.md.append("|" + "|".join("---" for _ in cols) + "|")
        self.md += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
        self.md.append("")
        if caption:
            self.md += [f"*{caption}*", ""]

    def figures(self, items: Sequence[tuple[Figure | Path, str, str]]) -> None:
        """Side by side in HTML: each item is (figure or an existing PNG, file name, caption)."""
        parts = []
        for fig, name, caption in items:
            target = self.out / name
            if isinstance(fig, Figure):
                save_figure(target, fig, dpi=100)
            else:
                target = Path(fig)
                name = os.path.relpath(target, self.out)
            data = base64.b64encode(target.read_bytes()).decode("ascii")
            self.figure_files.append(name)
            alt = html.escape(caption, quote=True)
            parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
                         f"<figcaption>{_inline_html(caption)}</figcaption></figure>")
            self.md += [f"![{caption}]({Path(name).as_posix()})", "", f"*{caption}*", ""]
        self.html.append('<div class="figs">' + "".join(parts) + "</div>")

    def render_html(self, title: str) -> str:
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
                + "\n".join(self.html) + "\n</body>\n</html>\n")

    def render_md(self) -> str:
        return "\n".join(self.md).rstrip() + "\n"


# -- reading the output directory ------------------------------------------------------------------------------

_STR_COLUMNS = {c: str for c in ("species", "mode", "status", "group_a", "group_b", "metric", "compare", "by",
                                 "method", "run_dir")}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _read_table(path: Path) -> pd.DataFrame:
    """A CSV as a DataFrame; a missing, empty or unreadable file is an empty table."""
    try:
        return pd.read_csv(path, dtype=_STR_COLUMNS)
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError, ValueError):
        return pd.DataFrame()


def _run_dir(out: Path, species: str, mode: str, seed: Any, recorded: Any = None) -> Path | None:
    """The run's directory inside ``out`` (by its name scheme), else the path summary.csv recorded."""
    from .experiment import run_name

    candidates = []
    with contextlib.suppress(TypeError, ValueError):
        candidates.append(out / run_name(str(species), str(mode), int(float(seed))))
    if isinstance(recorded, str) and recorded and recorded != "nan":
        candidates.append(Path(recorded))
    return next((c for c in candidates if c.is_dir()), None)


def _label(species: str, mode: str, multi_mode: bool) -> str:
    return f"{species} ({mode})" if multi_mode else str(species)


def _fmt(value: Any, metric: str) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(v):
        return "–"
    text = f"{v:.{_METRIC_DECIMALS.get(metric, 4)}f}"
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text  # no "-0.00"


def _int(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 0


def _fmt_ci(metric: str, n: Any, mean: Any, lo: Any, hi: Any) -> str:
    """``mean ± half-width [low, high]``; the value alone when n = 1 (no CI)."""
    n = _int(n)
    if n == 0 or _fmt(mean, metric) == "–":
        return "–"
    if n == 1 or _fmt(lo, metric) == "–" or _fmt(hi, metric) == "–":
        return _fmt(mean, metric)
    half = (float(hi) - float(lo)) / 2.0
    return f"{_fmt(mean, metric)} ± {_fmt(half, metric)} [{_fmt(lo, metric)}, {_fmt(hi, metric)}]"


def _fmt_p(p: Any) -> str:
    try:
        p = float(p)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    try:
        return bool(value) and not (isinstance(value, float) and math.isnan(value))
    except (TypeError, ValueError):
        return False


class _Experiment:
    """Everything the report reads from one output directory."""

    def __init__(self, out: Path) -> None:
        from .experiment import EXPERIMENT_FILE

        self.out = out
        exp = _read_json(out / EXPERIMENT_FILE)
        self.exp: dict[str, Any] = exp if isinstance(exp, dict) else {}
        self.train: dict[str, Any] = dict(self.exp.get("train") or {})
        self.summary = _read_table(out / "summary.csv")
        self.stats = _read_table(out / "stats.csv")
        tests = _read_table(out / "tests.csv")
        self.tests = tests if {"group_a", "group_b", "metric"} <= set(tests.columns) else pd.DataFrame()
        s = self.summary
        if len(s):
            if "mode" not in s:
                s["mode"] = str(self.train.get("mode", "gain"))
            if "status" not in s:
                s["status"] = "ok"
            s["status"] = s["status"].fillna("unknown")
        if len(self.stats) and "mode" not in self.stats:
            self.stats["mode"] = str(self.train.get("mode", "gain"))
        self.species = [str(x) for x in self.exp.get("species") or
                        (list(dict.fromkeys(s["species"])) if "species" in s else [])]
        self.modes = [str(x) for x in self.exp.get("modes") or
                      (list(dict.fromkeys(s["mode"])) if "mode" in s else [])]
        self.seeds = list(self.exp.get("seeds") or (sorted(set(s["seed"])) if "seed" in s else []))
        self.multi_mode = len(self.modes) > 1
        self.ok = s[s["status"] == "ok"] if len(s) else s
        self.metrics = _ordered_metrics(self.stats["metric"]) if len(self.stats) and "metric" in self.stats else []
        self.task = str(self.train.get("task", "what"))

    def run_dirs(self, rows: pd.DataFrame) -> list[tuple[Any, Path | None]]:
        return [(r, _run_dir(self.out, r.species, r.mode, r.seed, getattr(r, "run_dir", None)))
                for r in rows.itertuples(index=False)]

    def single_seed(self) -> bool:
        return len(self.stats) > 0 and "n" in self.stats and bool((self.stats["n"] == 1).any())


def _section_intro(doc: _Document, ex: _Experiment) -> None:
    doc.heading(1, "visualstreams: do connectomes change what the network learns?")
    doc.para(QUESTION, cls="question")
    doc.para(f"Report built {datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} from the output "
             f"directory `{ex.out.name or ex.out}` (experiment.json, summary.csv, stats.csv, tests.csv and the run "
             "directories); nothing else was read.", cls="note")
    t = ex.train
    task = ex.task + (f" (canvas {t['canvas']} px)" if t.get("canvas") else "")
    settings = [
        ("species", ", ".join(ex.species) or "–"),
        ("connection modes", ", ".join(ex.modes) or "–"),
        ("seeds", ", ".join(str(s) for s in ex.seeds) + f" (n = {len(ex.seeds)} per species and mode)"),
        ("task", task),
        ("recipe", t.get("recipe", "–")),
        ("epochs", t.get("epochs", "–")),
        ("batch size", t.get("batch_size", "–")),
        ("learning rate", f"{t['lr']:g} ({t.get('schedule', 'constant')} schedule)" if "lr" in t else "–"),
        ("training images", "all" if t.get("train_subset") is None else t["train_subset"]),
    ]
    doc.table(pd.DataFrame(settings, columns=["setting", "value"]))
    if ex.modes:
        doc.para("Connection modes in this comparison:")
        doc.bullets([f"`{m}`: {MODE_DESCRIPTIONS.get(m, 'custom mode')}" for m in ex.modes])


def _section_connectomes(doc: _Document, ex: _Experiment) -> None:
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
        slug = _slug(name)
        doc.figures([
            (plot_connectome(conn), f"report_connectome_{slug}.png", f"{name}: connectivity matrix"),
            (plot_connectome_graph(conn), f"report_graph_{slug}.png", f"{name}: projections as a graph"),
        ])


def _section_results(doc: _Document, ex: _Experiment) -> None:
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
    for (mode, species), sub in stats.groupby(["mode", "species"], sort=False, dropna=False):
        by_metric = {str(r.metric): r for r in sub.itertuples(index=False)}
        ns = [_int(r.n) for r in by_metric.values()]
        row: dict[str, Any] = {"mode": mode, "species": species, "n": max(ns) if ns else 0}
        for m in ex.metrics:
            r = by_metric.get(m)
            cell = _fmt_ci(m, r.n, r.mean, r.ci_low, r.ci_high) if r is not None else "–"
            if r is not None and _int(r.n) != row["n"]:
                cell += f" (n = {_int(r.n)})"
            row[_metric_label(m)] = cell
            if m in notebook:  # the notebook trained with fixed gains: beside the gain rows only
                value = notebook[m].get(species) if mode == "gain" else None
                row[f"notebook {_metric_label(m)}, 1 run"] = _fmt(value, m)
        rows.append(row)
    table = pd.DataFrame(rows)
    if not ex.multi_mode:
        table = table.drop(columns="mode")
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
        doc.para(_N1_NOTE, cls="warn")


def _histories(ex: _Experiment) -> dict[str, pd.DataFrame]:
    groups: dict[str, list[pd.DataFrame]] = {}
    for r, d in ex.run_dirs(ex.ok):
        h = pd.DataFrame(_read_json(d / "history.json") or []) if d is not None else pd.DataFrame()
        if len(h) and "epoch" in h:
            groups.setdefault(_label(r.species, r.mode, ex.multi_mode), []).append(h.assign(seed=r.seed))
    return {k: pd.concat(v, ignore_index=True) for k, v in groups.items()}


def _confusions(ex: _Experiment) -> tuple[dict[str, np.ndarray], list[str] | None, dict[str, int], list[str]]:
    """Confusion counts summed over seeds per label; the runs summed per label; runs without a readable file."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    classes: list[str] | None = None
    missing: list[str] = []
    for r, d in ex.run_dirs(ex.ok):
        label = _label(r.species, r.mode, ex.multi_mode)
        data = _read_json(d / "confusion.json") if d is not None else None
        try:
            m = np.asarray(data["matrix"], dtype=float)  # type: ignore[index]
            ok = m.ndim == 2 and m.shape[0] == m.shape[1] and (label not in sums or sums[label].shape == m.shape)
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            missing.append(f"{r.species} {r.mode} seed {r.seed}")
            continue
        sums[label] = sums[label] + m if label in sums else m
        counts[label] = counts.get(label, 0) + 1
        if classes is None and isinstance(data.get("classes"), list) and len(data["classes"]) == m.shape[0]:
            classes = [str(c) for c in data["classes"]]
    return sums, classes, counts, missing


def _section_figures(doc: _Document, ex: _Experiment) -> None:
    from .connectome import NOTEBOOK_RESULTS

    doc.heading(2, "3. Figures")
    doc.heading(3, "Learning curves")
    existing = ex.out / "learning_curves.png"
    if existing.is_file():
        doc.figures([(existing, "learning_curves.png",
                      "Learning curves: mean across seeds, band = 95% CI; stars (where drawn) = the notebook's "
                      "single run")])
    else:
        histories = _histories(ex)
        if histories:
            ref = {k: v["test_acc"] for k, v in NOTEBOOK_RESULTS.items()} if ex.task == "what" else None
            doc.figures([(plot_learning_curves(histories, reference=ref), "report_learning_curves.png",
                          "Learning curves: mean across seeds, band = 95% CI")])
        else:
            doc.para("No learning curves: no finished run has a history.", cls="note")

    doc.heading(3, "Final metrics")
    if len(ex.stats) and ex.metrics:
        doc.figures([(plot_final_metrics(ex.stats, runs=ex.ok), "report_final_metrics.png",
                      "Final test metrics per species: mean with 95% CI bar; small dots = single seeds")])
    else:
        doc.para("No finished runs.", cls="note")

    doc.heading(3, "Per-class accuracy and confusion matrices")
    sums, classes, counts, missing = _confusions(ex)
    if not sums:
        reason = (f"the task `{ex.task}` has no 'what' (classification) head"
                  if ex.task == "where" else "no run directory holds a readable confusion.json")
        doc.para(f"No confusion matrices: {reason}.", cls="note")
        return
    if missing:
        doc.para(f"confusion.json is missing or unreadable for {len(missing)} run(s) ({', '.join(missing)}); "
                 "the matrices below sum the others.", cls="warn")
    doc.figures([(plot_per_class(sums, classes), "report_per_class.png",
                  "Per-class test accuracy, from the confusion matrices summed over seeds")])
    n_cls = next(iter(sums.values())).shape[0]
    names = classes or [str(i) for i in range(n_cls)]
    per_class = pd.DataFrame({"class": names})
    for label, m in sums.items():
        per_class[label] = [_fmt(v, "test_acc") for v in _per_class_accuracy(m)]
    doc.table(per_class, caption="Per-class test accuracy (%), confusion counts summed over seeds.")
    doc.figures([(plot_confusion(m, classes, title=f"{label} (sum of {counts[label]} seed(s))"),
                  f"report_confusion_{_slug(label)}.png", f"{label}: confusion matrix, rows normalised to 100%")
                 for label, m in sums.items()])


def _section_tests(doc: _Document, ex: _Experiment) -> None:
    from .analysis.stats import describe_difference

    doc.heading(2, "4. Tests")
    tests = ex.tests
    if not len(tests):
        if len(ex.species) <= 1 and len(ex.modes) <= 1:
            why = "there is one species and one mode, so nothing to compare"
        elif not len(ex.ok):
            why = "no run finished"
        else:
            why = "tests.csv holds no comparisons"
        doc.para(f"No pairwise tests: {why}.", cls="note")
        if ex.single_seed():
            doc.para(_N1_NOTE, cls="warn")
        return
    doc.para("Each pair is compared with a Welch t-test on the final metric across seeds (difference = first "
             "minus second, 95% CI of the difference, Hedges' g). p-values are Holm-corrected within each family "
             "(one metric within one mode, or one metric within one species); a pair counts as significant when "
             "its Holm-corrected p < 0.05. Significant pairs are flagged and highlighted.", cls="note")
    kind = tests["compare"] if "compare" in tests else tests.get("by", pd.Series("species", index=tests.index))
    tests = tests.assign(_kind=kind.astype(str))
    sig = [_truthy(v) for v in tests.get("significant", pd.Series(False, index=tests.index))]
    tests = tests.assign(_sig=sig)
    # Read in order: species comparisons, then modes; strata as they came; accuracy before loss.
    rank = {m: i for i, m in enumerate(_ordered_metrics(tests["metric"]))}
    tests = (tests.assign(_k=(tests["_kind"] != "species").astype(int), _m=tests["metric"].map(rank),
                          _i=np.arange(len(tests)))
             .sort_values(["_k", "_m", "_i"], kind="stable").reset_index(drop=True))
    testable = pd.to_numeric(tests["p"], errors="coerce").notna() if "p" in tests else tests["_sig"] & False
    short = []
    for kind_name, words in (("species", "species compared within each mode"),
                             ("mode", "modes compared within each species")):
        mask = tests["_kind"] == kind_name
        if mask.any():
            n_all, n_ok, n_sig = int(mask.sum()), int((mask & testable).sum()), int((mask & tests["_sig"]).sum())
            if n_ok == 0:
                short.append(f"{words}: none of the {n_all} pairs could be tested")
                continue
            untested = f" ({n_all - n_ok} could not be tested)" if n_all > n_ok else ""
            short.append(f"{words}: {n_sig} of {n_ok} pairs significant{untested}")
    doc.para("In short (Holm-corrected, all metrics): " + "; ".join(short) + ".")
    for kind_name, stratum, title, label in (("species", "mode", "Species compared within each mode", "species"),
                                            ("mode", "species", "Modes compared within each species", "mode")):
        sub = tests[tests["_kind"] == kind_name]
        if not len(sub):
            continue
        doc.heading(3, title)
        keys = sub[stratum].astype(str) if stratum in sub else pd.Series("", index=sub.index)
        for key in dict.fromkeys(keys):
            part = sub[keys == key].sort_values(["_m", "_i"], kind="stable")
            doc.para(f"Within {stratum} `{key}`:" if key not in ("", "nan") else "All runs:")
            sentences, flags = [], []
            for _, row in part.iterrows():
                text = describe_difference(row, group_label=label)
                sentences.append(f"**Significant:** {text}" if row["_sig"] else text)
                flags.append(bool(row["_sig"]))
            doc.bullets(sentences, flags)
    if ex.single_seed():
        doc.para(_N1_NOTE, cls="warn")
    doc.heading(3, "Tests table")
    rows = []
    for _, r in tests.iterrows():
        stratum = "mode" if r["_kind"] == "species" else "species"
        metric = str(r["metric"])
        ci = (f"{_fmt(r.get('diff'), metric)} [{_fmt(r.get('ci_low'), metric)}, {_fmt(r.get('ci_high'), metric)}]"
              if _fmt(r.get("ci_low"), metric) != "–" else _fmt(r.get("diff"), metric))
        rows.append({
            "compared": r["_kind"], "within": f"{stratum} {r.get(stratum, '')}", "A": r["group_a"],
            "B": r["group_b"], "metric": metric, "n (A, B)": f"{_int(r['n_a'])}, {_int(r['n_b'])}",
            "mean A": _fmt(r.get("mean_a"), metric), "mean B": _fmt(r.get("mean_b"), metric),
            "A − B [95% CI]": ci, "Hedges' g": _fmt(r.get("hedges_g"), "hedges_g"), "p": _fmt_p(r.get("p")),
            "p (Holm)": _fmt_p(r.get("p_holm")), "significant": "yes" if r["_sig"] else "no",
        })
    doc.table(pd.DataFrame(rows), highlight=list(tests["_sig"]))


def _section_failures(doc: _Document, ex: _Experiment) -> None:
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
    cols = [c for c in ("species", "mode", "seed", "epochs", "status") if c in failed]
    doc.table(failed[cols].rename(columns={"epochs": "epochs done"}).astype(str))


def _section_reproducibility(doc: _Document, ex: _Experiment) -> None:
    doc.heading(2, "6. Reproducibility")
    doc.heading(3, "Training configuration")
    if ex.train:
        doc.table(pd.DataFrame([(k, "None" if v is None else str(v)) for k, v in ex.train.items()],
                               columns=["field", "value"]),
                  caption="experiment.json `train`; seed and mode are set per run from the seeds and modes above.")
    else:
        doc.para("experiment.json has no training configuration.", cls="warn")
    order = pd.concat([ex.ok, ex.summary[~ex.summary.index.isin(ex.ok.index)]]) if len(ex.summary) else ex.summary
    configs = [(r, _read_json(d / "config.json")) for r, d in ex.run_dirs(order) if d is not None]
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
              caption=f"From the config.json of run {first_row.species} {first_row.mode} seed {first_row.seed}.")
    devices = {str((c.get("resolved") or {}).get("device")) + " / " + str((c.get("resolved") or {}).get("precision"))
               for _, c in configs}
    if len(devices) > 1:
        doc.para(f"Runs used different devices or precisions: {', '.join(sorted(devices))}.", cls="warn")
    doc.heading(3, "Data")
    data = dict(cfg.get("data") or {})
    facts = [(k, str(data[k])) for k in ("source", "format", "train", "test", "train_used") if k in data]
    if facts:
        doc.table(pd.DataFrame(facts, columns=["", "value"]))
    checksums = data.get("checksums") or {}
    if checksums:
        doc.table(pd.DataFrame(sorted(checksums.items()), columns=["file", "MD5 (decompressed bytes)"]))
    else:
        doc.para("No data checksums recorded (the data did not come from files).", cls="note")


def _section_runs(doc: _Document, ex: _Experiment) -> None:
    if not len(ex.summary):
        return
    doc.heading(2, "Appendix: every run")
    s = ex.summary
    cols = [c for c in ("species", "mode", "seed", "status") if c in s]
    metrics = [c for c in _ordered_metrics([c for c in s.columns if c.startswith("test_")])]
    table = s[cols].astype(str).copy()
    for m in metrics:
        table[m] = [_fmt(v, m) for v in s[m]]
    for c, fmt in (("epochs", "{:.0f}"), ("seconds", "{:.1f}")):
        if c in s:
            table[c] = [fmt.format(v) if pd.notna(v) else "–" for v in pd.to_numeric(s[c], errors="coerce")]
    doc.table(table)


def build_report(out: str | os.PathLike[str]) -> Path:
    """Write ``report.html`` (self-contained) and ``report.md`` (figures as PNGs beside it) for a compare output
    directory, from the files in it alone; returns the HTML path.

    Sections: the question and settings; the connectomes (matrix, graph, source); the results table; figures
    (learning curves, final metrics, per-class accuracy, confusion matrices); the tests in words and as a
    table; failed runs; reproducibility (configuration, package versions, device, data checksums).
    """
    out = Path(out)
    ex = _Experiment(out)
    doc = _Document(out)
    sections = (("introduction", _section_intro), ("connectomes", _section_connectomes),
                ("results", _section_results), ("figures", _section_figures), ("tests", _section_tests),
                ("failed runs", _section_failures), ("reproducibility", _section_reproducibility),
                ("run list", _section_runs))
    for name, section in sections:
        try:
            section(doc, ex)
        except Exception as exc:  # a report is built after hours of training: one broken part must not sink it
            message = f"{name}: {type(exc).__name__}: {exc}"
            warnings.warn(f"report section failed ({message})", RuntimeWarning, stacklevel=2)
            doc.para(f"This part of the report could not be built ({message}).", cls="warn")
    write_text(out / "report.md", doc.render_md())
    target = out / "report.html"
    write_text(target, doc.render_html("visualstreams comparison: " + ", ".join(ex.species)))
    return target
