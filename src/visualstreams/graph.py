"""Graph algorithms on connectomes, on networkx: reachability, cycles, topological order, hierarchy levels,
layers for drawing, and the feedforward / feedback / lateral class of a projection.

A leaf: it works on a ``networkx.DiGraph`` whose nodes are area names in the connectome's order and whose edges
carry ``strength`` (:func:`digraph`), and imports nothing from visualstreams. Ties are broken by the node order,
so every result is deterministic and follows the file the connectome came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np


def digraph(areas: Sequence[str], weights: np.ndarray) -> nx.DiGraph:
    """The projections (strength > 0) as a directed graph; nodes in ``areas`` order, edges in row-major order."""
    g = nx.DiGraph()
    g.add_nodes_from(areas)
    rows, cols = np.nonzero(np.asarray(weights) > 0)
    g.add_weighted_edges_from(((areas[i], areas[j], float(weights[i, j])) for i, j in zip(rows, cols, strict=True)),
                              weight="strength")
    return g


def reachable(g: nx.DiGraph, start: str) -> set[str]:
    """Areas reachable from ``start`` (``start`` included)."""
    return {start} | nx.descendants(g, start)


def find_cycle(g: nx.DiGraph) -> list[str] | None:
    """One directed cycle as a list of areas, the first repeated at the end; None for an acyclic graph."""
    try:
        edges = nx.find_cycle(g, orientation="original")
    except nx.NetworkXNoCycle:
        return None
    return [e[0] for e in edges] + [edges[0][0]]


def path(g: nx.DiGraph, start: str, end: str) -> list[str]:
    """A shortest path from ``start`` to ``end``, both included; [] when there is none."""
    try:
        return list(nx.shortest_path(g, start, end))
    except nx.NetworkXNoPath:
        return []


def _position(g: nx.DiGraph) -> dict[str, int]:
    return {a: i for i, a in enumerate(g.nodes)}


def topological_order(g: nx.DiGraph) -> list[str]:
    """Every source before its targets; among areas that are ready together, the earlier in the file first.

    Raises ``networkx.NetworkXUnfeasible`` on a cycle.
    """
    pos = _position(g)
    return list(nx.lexicographical_topological_sort(g, key=pos.__getitem__))


def levels(g: nx.DiGraph, root: str) -> dict[str, int]:
    """Each area's hierarchy level: the longest path to it from ``root`` (0). Areas ``root`` cannot reach are
    left out; so is everything when the graph has a cycle or lacks ``root`` (no level is defined then)."""
    if root not in g or not nx.is_directed_acyclic_graph(g):
        return {}
    reach = reachable(g, root)
    level = {root: 0}
    for area in topological_order(g):
        ups = [level[s] + 1 for s in g.predecessors(area) if s in level]
        if area != root and area in reach and ups:
            level[area] = max(ups)
    return level


def layers(g: nx.DiGraph) -> list[list[str]]:
    """Areas by depth (the longest path from any area without inputs), each layer in the file's order.

    Raises ``networkx.NetworkXUnfeasible`` on a cycle.
    """
    pos = _position(g)
    return [sorted(layer, key=pos.__getitem__) for layer in nx.topological_generations(g)]


DIRECTIONS: tuple[str, ...] = ("feedforward", "feedback", "lateral")


def classify(g: nx.DiGraph, root: str, given: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """Every edge's direction: ``given`` where it names one, else the graph's rule.

    The rule: a depth-first search from ``root`` (then from the other areas, in the file's order) along the edges
    not given as feedback or lateral; an edge that returns to an area still on the search's path closes a cycle
    and is ``feedback``, every other edge is ``feedforward``. So an acyclic graph is all feedforward (as every
    file was before recurrence), an edge into ``root`` is feedback, and the feedforward edges never form a cycle
    unless ``given`` marks a cycle's every edge feedforward (the caller reports that).
    """
    out: dict[tuple[str, str], str] = {}
    ff = nx.DiGraph()
    ff.add_nodes_from(g.nodes)
    for s, t in g.edges:
        d = given.get((s, t))
        if d is None or d == "feedforward":
            ff.add_edge(s, t)
        else:
            out[(s, t)] = d
    state: dict[str, int] = {}  # 1: on the search's path, 2: finished
    starts = ([root] if root in ff else []) + [a for a in ff.nodes if a != root]
    for start in starts:
        if start in state:
            continue
        # Iterative, so a long chain of areas cannot hit Python's recursion limit.
        state[start] = 1
        stack = [(start, iter(list(ff.successors(start))))]
        while stack:
            node, successors = stack[-1]
            nxt = next(successors, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                continue
            edge = (node, nxt)
            if state.get(nxt) == 1:
                out[edge] = given.get(edge, "feedback")
            else:
                out[edge] = given.get(edge, "feedforward")
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(list(ff.successors(nxt)))))
    return {e: out[e] for e in g.edges}  # in the graph's (row-major) order


def direction(source: str, target: str, levels: Mapping[str, float]) -> str:
    """``feedforward`` (level rises), ``feedback`` (level falls) or ``lateral`` (same level)."""
    ls, lt = levels[source], levels[target]
    return "feedforward" if ls < lt else "feedback" if ls > lt else "lateral"
