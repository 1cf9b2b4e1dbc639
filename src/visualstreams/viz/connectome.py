"""Figures of connectomes: the labelled matrix as a heatmap and the areas as a graph (laid out by hierarchy,
with networkx). Each returns a ``matplotlib.figure.Figure`` (no pyplot state: renders inline in Jupyter and
saves headless). Imports the connectome layer and the leaves."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import networkx as nx
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from .. import graph
from ..connectome import Connectome, feedforward_part, projection_directions
from ..network.compile import default_input_area
from ..storage import save_figure

# How each direction is drawn: feedforward solid and straight where it can be; feedback dashed, curving back
# on the other side; lateral dotted.
_EDGE_STYLE: dict[str, dict[str, Any]] = {
    "feedforward": {"color": "0.25", "linestyle": "-"},
    "feedback": {"color": "#c0392b", "linestyle": (0, (4, 2))},
    "lateral": {"color": "#7d3c98", "linestyle": (0, (1, 1.5))},
}


def directions_of(connectome: Connectome) -> dict[tuple[str, str], str]:
    """Each projection's direction, searched from the input area the compile step would choose where the data give
    none."""
    return projection_directions(connectome, default_input_area(connectome))

__all__ = ["plot_connectome", "plot_connectome_graph", "connectome_layout"]


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
    g = feedforward_part(connectome, directions_of(connectome)).graph()  # depth along feedforward projections
    try:
        layer_of = {a: d for d, layer in enumerate(graph.layers(g)) for a in layer}
    except nx.NetworkXUnfeasible:  # a cycle: fall back to the file's order, one column per area
        return {a: (float(i), 0.0) for i, a in enumerate(areas)}
    nx.set_node_attributes(g, layer_of, "layer")
    # networkx spreads each layer evenly and centres it, scaling both axes by one factor; rescaled so that
    # neighbouring layers (and so neighbouring areas of one layer) are one unit apart, as the node and arrow sizes
    # assume, with the file's first area on top.
    raw = nx.multipartite_layout(g, subset_key="layer", align="vertical")
    xs = sorted({round(float(p[0]), 9) for p in raw.values()})
    step = xs[1] - xs[0] if len(xs) > 1 else 1.0
    return {a: (float(round((p[0] - xs[0]) / step)), round(float(-p[1] / step), 9) + 0.0) for a, p in raw.items()}


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
    """The areas as a graph: one arrow per projection, its width by strength, the strength written on it;
    feedforward arrows solid, feedback dashed (red) and curving back, lateral dotted (purple), with a legend when
    there are feedback or lateral ones.

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
    kinds = directions_of(conn)
    wmax = max((w for _, _, w in edges), default=1.0) or 1.0
    radius_pt = math.sqrt(_NODE_SIZE) / 2.0
    label_spots: list[np.ndarray] = []
    # A feedback or lateral arrow bends the other way from its feedforward partner (arc3 bends to the right of
    # travel, so the same rad on the reverse edge lands on the other side): the two never overlap.
    rads = [_edge_rad(pos[s], pos[t], [p for a, p in pos.items() if a not in (s, t)])
            if kinds[(s, t)] == "feedforward" else 0.35 for s, t, _ in edges]
    curves = [_curve_points(pos[s], pos[t], rad, 21) for (s, t, _), rad in zip(edges, rads, strict=True)]
    for k, ((s, t, w), rad) in enumerate(zip(edges, rads, strict=True)):
        style = _EDGE_STYLE[kinds[(s, t)]]
        arrow = FancyArrowPatch(
            tuple(pos[s]), tuple(pos[t]), connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
            mutation_scale=10 + 6 * w / wmax, lw=0.8 + 5.0 * w / wmax, color=style["color"],
            linestyle=style["linestyle"], alpha=0.8, shrinkA=radius_pt + 2, shrinkB=radius_pt + 2, zorder=1,
        )
        arrow.set_gid(f"edge:{s}->{t}:{kinds[(s, t)]}")
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
    shown = [d for d in _EDGE_STYLE if d in kinds.values()]
    if shown != ["feedforward"] and shown:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], lw=1.5, **_EDGE_STYLE[d]) for d in shown]
        ax.legend(handles, shown, loc="lower left", fontsize=7, frameon=False, bbox_to_anchor=(0.0, -0.08))
    if path is not None:
        save_figure(path, fig, dpi=120)
    return fig
