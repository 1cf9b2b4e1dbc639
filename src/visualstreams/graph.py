"""Graph algorithms on connectomes, on networkx: reachability, cycles, topological order, hierarchy levels,
layers for drawing, and the feedforward / feedback / lateral class of a projection.

A leaf: it works on a ``networkx.DiGraph`` whose nodes are area names in the connectome's order and whose edges
carry ``strength`` (:func:`digraph`), and imports nothing from visualstreams. Ties are broken by the node order,
so every result is deterministic and follows the file the connectome came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where it is called: the connectome commands start without networkx
    import networkx as nx


def digraph(areas: Sequence[str], weights: np.ndarray) -> nx.DiGraph:
    """The projections (strength > 0) as a directed graph; nodes in ``areas`` order, edges in row-major order."""
    import networkx as nx
    g = nx.DiGraph()
    g.add_nodes_from(areas)
    rows, cols = np.nonzero(np.asarray(weights) > 0)
    g.add_weighted_edges_from(((areas[i], areas[j], float(weights[i, j])) for i, j in zip(rows, cols, strict=True)),
                              weight="strength")
    return g


def reachable(g: nx.DiGraph, start: str) -> set[str]:
    """Areas reachable from ``start`` (``start`` included)."""
    import networkx as nx
    return {start} | nx.descendants(g, start)


def find_cycle(g: nx.DiGraph) -> list[str] | None:
    """One directed cycle as a list of areas, the first repeated at the end; None for an acyclic graph."""
    import networkx as nx
    try:
        edges = nx.find_cycle(g, orientation="original")
    except nx.NetworkXNoCycle:
        return None
    return [e[0] for e in edges] + [edges[0][0]]


def path(g: nx.DiGraph, start: str, end: str) -> list[str]:
    """A shortest path from ``start`` to ``end``, both included; [] when there is none."""
    import networkx as nx
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
    import networkx as nx
    pos = _position(g)
    return list(nx.lexicographical_topological_sort(g, key=pos.__getitem__))


def levels(g: nx.DiGraph, root: str) -> dict[str, int]:
    """Each area's hierarchy level: the longest path to it from ``root`` (0). Areas ``root`` cannot reach are
    left out; so is everything when the graph has a cycle or lacks ``root`` (no level is defined then)."""
    import networkx as nx
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
    import networkx as nx
    pos = _position(g)
    return [sorted(layer, key=pos.__getitem__) for layer in nx.topological_generations(g)]


DIRECTIONS: tuple[str, ...] = ("feedforward", "feedback", "lateral")


def classify(g: nx.DiGraph, root: str, given: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """Every edge's direction: ``given`` where it names one, else the graph's rule.

    The rule, on the edges not given as feedback or lateral: an edge between two strongly connected components
    (no cycle passes through it) is ``feedforward``; inside a component (a cycle), each area's level is its
    shortest-path distance (in projections) from ``root``, and an edge from a lower to a higher level is
    ``feedforward``, between equal levels ``lateral``, from higher to lower ``feedback``. Areas of a cycle that
    ``root`` does not reach share one level (their edges are lateral). Both parts depend on the graph alone, not on
    the order of its rows or columns. So an acyclic graph is all feedforward (as every file was before recurrence),
    an edge into ``root`` from the areas it reaches is feedback, two areas that project to each other from the
    same distance are lateral both ways, and the feedforward edges never form a cycle (levels rise along them)
    unless ``given`` marks a cycle's every edge feedforward (the caller reports that).
    """
    import networkx as nx
    out: dict[tuple[str, str], str] = {}
    ff = nx.DiGraph()
    ff.add_nodes_from(g.nodes)
    for s, t in g.edges:
        d = given.get((s, t))
        if d is None or d == "feedforward":
            ff.add_edge(s, t)
        else:
            out[(s, t)] = d
    component = {a: k for k, part in enumerate(nx.strongly_connected_components(ff)) for a in part}
    distance = nx.single_source_shortest_path_length(ff, root) if root in ff else {}
    unreached = len(ff)  # longer than any path: one shared level for every area root cannot reach
    for s, t in ff.edges:
        if (s, t) in given:
            out[(s, t)] = given[(s, t)]
        elif component[s] != component[t]:
            out[(s, t)] = "feedforward"
        else:
            out[(s, t)] = direction(s, t, {s: distance.get(s, unreached), t: distance.get(t, unreached)})
    return {e: out[e] for e in g.edges}  # in the graph's (row-major) order


def direction(source: str, target: str, levels: Mapping[str, float]) -> str:
    """``feedforward`` (level rises), ``feedback`` (level falls) or ``lateral`` (same level)."""
    ls, lt = levels[source], levels[target]
    return "feedforward" if ls < lt else "feedback" if ls > lt else "lateral"
