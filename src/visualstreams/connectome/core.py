"""The Connectome: a directed, weighted graph over named visual areas, with where its numbers come from.

Convention: ``weights[i, j]`` is the strength of the projection from ``areas[i]`` (source, row) to
``areas[j]`` (target, column), as the notebook printed its matrices. A strength of 0 means no projection.
This module owns the type and its structural checks (square, finite, non-negative, no self-loops, names that
can name modules); whether a graph compiles into a network (input area, heads, acyclic, reachable) is decided by
``visualstreams.network.compile``.

Every projection has a direction, ``feedforward``, ``feedback`` or ``lateral``: given per edge in
``directions`` (published presets take it from the data; a user's file may give it), else decided by the graph's
rule (:func:`visualstreams.graph.classify`: inside a cycle, levels by distance from the input area, lower to
higher feedforward, equal lateral, higher to lower feedback; an acyclic graph is all feedforward; the order of a
file's rows changes nothing). Imports only the leaves (errors, graph); never I/O, presets or
networks.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import graph
from ..errors import ConnectomeError
from ..graph import DIRECTIONS

if TYPE_CHECKING:  # imported where used: the connectome commands start without them
    import networkx as nx
    import pandas as pd

CANONICAL_AREAS: tuple[str, ...] = ("V1", "V2", "V4", "IT", "MT", "LIP")
# The one table of the canonical areas' hierarchy levels (presets from published data and siibra's undirected
# tracts take their direction from it).
CANONICAL_LEVELS: dict[str, int] = {"V1": 0, "V2": 1, "V4": 2, "MT": 2, "IT": 3, "LIP": 3}


@dataclass(frozen=True)
class Connectome:
    """A directed, weighted graph over named areas, with where its numbers come from."""

    areas: tuple[str, ...]
    weights: np.ndarray
    name: str = "custom"
    species: str = ""
    source: str = ""
    measure: str = ""
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # (source, target) -> "feedforward" | "feedback" | "lateral", where the data say; other edges follow the rule
    directions: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        areas = tuple(str(a) for a in self.areas)
        try:
            w = np.array(self.weights, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConnectomeError(f"connectome {self.name!r}: strengths must be numbers ({exc})") from None
        object.__setattr__(self, "areas", areas)
        object.__setattr__(self, "weights", w)
        w.setflags(write=False)
        _check_matrix(areas, w, self.name)
        object.__setattr__(self, "directions", _check_directions(areas, w, self.directions, self.name))

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_edges(
        cls,
        edges: Iterable[tuple[str, str, float]],
        areas: Iterable[str] | None = None,
        **meta: Any,
    ) -> Connectome:
        """Build from ``(source, target, strength)`` triples; ``areas`` fixes the order (``directions=`` and the
        other fields pass through)."""
        edges = list(edges)
        order = list(areas) if areas is not None else []
        for s, t, _ in edges:
            for a in (s, t):
                if a not in order:
                    order.append(a)
        index = {a: i for i, a in enumerate(order)}
        w = np.zeros((len(order), len(order)))
        for s, t, v in edges:
            w[index[s], index[t]] = v
        return cls(tuple(order), w, **meta)

    # -- queries --------------------------------------------------------------------------------
    def index(self, area: str) -> int:
        try:
            return self.areas.index(area)
        except ValueError:
            raise ConnectomeError(
                f"unknown area {area!r} in connectome {self.name!r} (areas: {', '.join(self.areas)})"
            ) from None

    def strength(self, source: str, target: str) -> float:
        return float(self.weights[self.index(source), self.index(target)])

    def edges(self) -> list[tuple[str, str, float]]:
        """Present projections (strength > 0) in row-major order."""
        rows, cols = np.nonzero(self.weights > 0)
        return [(self.areas[i], self.areas[j], float(self.weights[i, j])) for i, j in zip(rows, cols, strict=True)]

    def graph(self) -> nx.DiGraph:
        """The projections as a ``networkx.DiGraph`` (nodes in area order, edge attribute ``strength``)."""
        return graph.digraph(self.areas, self.weights)

    def sources(self, area: str) -> list[str]:
        j = self.index(area)
        return [self.areas[i] for i in np.nonzero(self.weights[:, j] > 0)[0]]

    def with_strength(self, source: str, target: str, value: float) -> Connectome:
        """A copy with one projection's strength changed (0 removes it)."""
        w = self.weights.copy()
        w[self.index(source), self.index(target)] = value
        return self.replace(weights=w)

    def replace(self, **changes: Any) -> Connectome:
        fields = {
            "areas": self.areas,
            "weights": self.weights,
            "name": self.name,
            "species": self.species,
            "source": self.source,
            "measure": self.measure,
            "notes": self.notes,
            "extra": dict(self.extra),
            "directions": dict(self.directions),
        }
        fields.update(changes)
        return Connectome(**fields)

    def to_frame(self) -> pd.DataFrame:
        """The labelled matrix: rows are sources, columns are targets."""
        import pandas as pd
        return pd.DataFrame(self.weights, index=list(self.areas), columns=list(self.areas))

    def pathways(self) -> pd.DataFrame:
        """One row per projection: source, target, pathway name and strength."""
        import pandas as pd
        rows = [{"pathway": f"{s}_to_{t}", "source": s, "target": t, "strength": v} for s, t, v in self.edges()]
        return pd.DataFrame(rows, columns=["pathway", "source", "target", "strength"])

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "species": self.species,
            "source": self.source,
            "measure": self.measure,
            "notes": self.notes,
            **({"extra": self.extra} if self.extra else {}),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON edge-list form (what :func:`read_json` reads)."""
        return {
            **self.metadata(),
            "areas": list(self.areas),
            "edges": [{"source": s, "target": t, "strength": v,
                       **({"direction": self.directions[(s, t)]} if (s, t) in self.directions else {})}
                      for s, t, v in self.edges()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "custom") -> Connectome:
        if not isinstance(data, Mapping) or "edges" not in data:
            raise ConnectomeError(f"connectome {name!r}: expected a JSON object with an 'edges' list")
        edges = []
        directions: dict[tuple[str, str], str] = {}
        for k, e in enumerate(data["edges"]):
            try:
                edges.append((str(e["source"]), str(e["target"]), float(e["strength"])))
            except (KeyError, TypeError, ValueError):
                raise ConnectomeError(
                    f"connectome {name!r}: edge {k} needs 'source', 'target' and a numeric 'strength'"
                ) from None
            if str(e.get("direction") or "").strip():
                directions[edges[-1][:2]] = str(e["direction"]).strip().lower()  # as the CSV reader does
        meta = {k: str(data.get(k, "")) for k in ("species", "source", "measure", "notes")}
        return cls.from_edges(
            edges,
            areas=data.get("areas"),
            name=str(data.get("name") or name),
            extra=dict(data.get("extra") or {}),
            directions=directions,
            **meta,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Connectome):
            return NotImplemented
        return (
            self.areas == other.areas
            and np.array_equal(self.weights, other.weights)
            and self.metadata() == other.metadata()
            and dict(self.directions) == dict(other.directions)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Connectome({self.name!r}, areas={list(self.areas)}, edges={len(self.edges())})"


@functools.cache
def _reserved_names() -> frozenset[str]:
    from torch import nn

    return frozenset(dir(nn.ModuleDict()))


def _check_matrix(areas: tuple[str, ...], w: np.ndarray, name: str) -> None:
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ConnectomeError(f"connectome {name!r}: matrix is not square (shape {tuple(w.shape)})")
    if w.shape[0] != len(areas):
        raise ConnectomeError(f"connectome {name!r}: {len(areas)} area names for a {w.shape[0]}x{w.shape[0]} matrix")
    if w.shape[0] == 0:
        raise ConnectomeError(f"connectome {name!r}: no areas")
    dup = sorted({a for a in areas if areas.count(a) > 1})
    if dup:
        raise ConnectomeError(f"connectome {name!r}: area {dup[0]!r} appears twice")
    folded: dict[str, str] = {}
    for a in areas:
        other = folded.setdefault(a.casefold(), a)
        if other != a:  # "mt" beside "MT" would be a seventh area, a dead end, in silence
            raise ConnectomeError(f"connectome {name!r}: areas {other!r} and {a!r} differ only in case; one area "
                                  "spelt two ways? (area names are case-sensitive: spell it one way)")
    odd = [a for a in areas if not a or "." in a or a != a.strip()]
    if odd:  # areas become module names (model.areas["V4"]): no dots, no blanks at the ends
        raise ConnectomeError(f"connectome {name!r}: area name {odd[0]!r} is empty, has a dot or surrounding spaces")
    # Every attribute of a module dict but T_destination begins in lower case or "_": an area named like V1, VISp
    # or LIP cannot be one, and is checked without importing torch (so that the command line starts at once).
    maybe = [a for a in areas if not re.fullmatch(r"[A-Z0-9][A-Za-z0-9]*", a)]
    taken = [a for a in maybe if a in _reserved_names()]
    if taken:
        raise ConnectomeError(f"connectome {name!r}: area name {taken[0]!r} is reserved (a method of the model's "
                              "module dict); rename the area")
    bad = ~np.isfinite(w)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ConnectomeError(f"connectome {name!r}: {areas[i]}->{areas[j]} is {w[i, j]} (NaN or infinite)")
    if (w < 0).any():
        i, j = np.argwhere(w < 0)[0]
        raise ConnectomeError(f"connectome {name!r}: {areas[i]}->{areas[j]} is negative ({w[i, j]:g})")
    diag = np.nonzero(np.diag(w))[0]
    if diag.size:
        a = areas[diag[0]]
        raise ConnectomeError(f"connectome {name!r}: self-loop {a}->{a} ({w[diag[0], diag[0]]:g})")


def _check_directions(areas: tuple[str, ...], w: np.ndarray, given: Mapping[Any, str],
                      name: str) -> dict[tuple[str, str], str]:
    """The given directions of present projections, checked, in row-major order (a direction for an absent
    projection is dropped: setting a strength to 0 removes the projection and its direction together)."""
    index = {a: i for i, a in enumerate(areas)}
    out: dict[tuple[str, str], str] = {}
    for (s, t), d in dict(given).items():
        for a in (s, t):
            if a not in index:
                raise ConnectomeError(f"connectome {name!r}: direction given for {s}->{t}, but {a!r} is not an area")
        if d not in DIRECTIONS:
            raise ConnectomeError(f"connectome {name!r}: {s}->{t} has unknown direction {d!r} "
                                  f"(directions: {', '.join(DIRECTIONS)})")
        if w[index[s], index[t]] > 0:
            out[(s, t)] = d
    return dict(sorted(out.items(), key=lambda kv: (index[kv[0][0]], index[kv[0][1]])))


def projection_directions(connectome: Connectome, input_area: str) -> dict[tuple[str, str], str]:
    """Every present projection's direction: the connectome's own where given, else the rule of
    :func:`visualstreams.graph.classify` with levels counted from ``input_area`` (in row-major order)."""
    return graph.classify(connectome.graph(), input_area, connectome.directions)


def feedforward_part(connectome: Connectome, directions: Mapping[tuple[str, str], str]) -> Connectome:
    """The same connectome with only its feedforward projections (what a one-step network is compiled from)."""
    w = connectome.weights.copy()
    for (s, t), d in directions.items():
        if d != "feedforward":
            w[connectome.index(s), connectome.index(t)] = 0.0
    return connectome.replace(weights=w, directions={})


def reachable(connectome: Connectome, start: str) -> set[str]:
    """Areas reachable from ``start`` along present projections (including ``start``)."""
    connectome.index(start)
    return graph.reachable(connectome.graph(), start)


def find_cycle(connectome: Connectome) -> list[str] | None:
    """One directed cycle as a list of areas (first repeated at the end), or None."""
    return graph.find_cycle(connectome.graph())


def topological_order(connectome: Connectome) -> list[str]:
    """Areas ordered so every source comes before its targets (ties keep the file's order)."""
    import networkx as nx
    try:
        return graph.topological_order(connectome.graph())
    except nx.NetworkXUnfeasible:
        raise ConnectomeError(f"connectome {connectome.name!r}: has a cycle") from None


def hierarchy_levels(connectome: Connectome, root: str) -> dict[str, int]:
    """Each area's longest path from ``root`` along the feedforward projections (areas it cannot reach that way are
    left out; nothing when feedforward projections form a cycle, or ``root`` is not an area)."""
    if root not in connectome.areas:
        return {}
    ff = feedforward_part(connectome, projection_directions(connectome, root))
    return graph.levels(ff.graph(), root)
