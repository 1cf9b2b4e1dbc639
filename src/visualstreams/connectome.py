"""Connectomes: directed, weighted graphs over named visual areas.

Convention: ``weights[i, j]`` is the strength of the projection from ``areas[i]`` (source, row) to
``areas[j]`` (target, column), as the notebook printed its matrices. A strength of 0 means no
projection. Presets live in a registry; :func:`load_connectome` is the one factory for presets and files.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import ConnectomeError
from .storage import write_json, write_text

if TYPE_CHECKING:
    from .architecture import Architecture

CANONICAL_AREAS: tuple[str, ...] = ("V1", "V2", "V4", "IT", "MT", "LIP")

NOTEBOOK_CITATION = (
    "Estimates after Felleman & Van Essen (1991) Cereb Cortex 1:1-47 and Kaas (2001) "
    "Curr Opin Neurobiol 11:498-504, as written in the course notebook (not measured data)"
)
NOTEBOOK_MEASURE = "relative projection strength in [0, 1], estimated by hand (unitless)"


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

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_edges(
        cls,
        edges: Iterable[tuple[str, str, float]],
        areas: Iterable[str] | None = None,
        **meta: Any,
    ) -> Connectome:
        """Build from ``(source, target, strength)`` triples; ``areas`` fixes the order."""
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
        }
        fields.update(changes)
        return Connectome(**fields)

    def to_frame(self) -> pd.DataFrame:
        """The labelled matrix: rows are sources, columns are targets."""
        return pd.DataFrame(self.weights, index=list(self.areas), columns=list(self.areas))

    def pathways(self) -> pd.DataFrame:
        """One row per projection: source, target, pathway name and strength."""
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
            "edges": [{"source": s, "target": t, "strength": v} for s, t, v in self.edges()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "custom") -> Connectome:
        if not isinstance(data, Mapping) or "edges" not in data:
            raise ConnectomeError(f"connectome {name!r}: expected a JSON object with an 'edges' list")
        edges = []
        for k, e in enumerate(data["edges"]):
            try:
                edges.append((str(e["source"]), str(e["target"]), float(e["strength"])))
            except (KeyError, TypeError, ValueError):
                raise ConnectomeError(
                    f"connectome {name!r}: edge {k} needs 'source', 'target' and a numeric 'strength'"
                ) from None
        meta = {k: str(data.get(k, "")) for k in ("species", "source", "measure", "notes")}
        return cls.from_edges(
            edges,
            areas=data.get("areas"),
            name=str(data.get("name") or name),
            extra=dict(data.get("extra") or {}),
            **meta,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Connectome):
            return NotImplemented
        return (
            self.areas == other.areas
            and np.array_equal(self.weights, other.weights)
            and self.metadata() == other.metadata()
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Connectome({self.name!r}, areas={list(self.areas)}, edges={len(self.edges())})"

    # -- validation against an architecture -------------------------------------------------------
    def validate(self, architecture: Architecture | None = None) -> Connectome:
        """Check the graph can be compiled: input area present, acyclic, reachable, heads present.

        Raises :class:`ConnectomeError` with a one-line message naming the problem.
        """
        from .architecture import architecture_for

        arch = architecture_for(self, architecture)  # areas it does not list get their level's default block
        if arch.input_area not in self.areas:
            raise ConnectomeError(f"connectome {self.name!r}: input area {arch.input_area!r} is missing")
        cycle = find_cycle(self)
        if cycle:
            raise ConnectomeError(
                f"connectome {self.name!r}: cycle {' -> '.join(cycle)} (recurrent connections are not supported)"
            )
        reach = reachable(self, arch.input_area)
        for head, spec in arch.heads.items():
            if spec.area not in self.areas:
                raise ConnectomeError(
                    f"connectome {self.name!r}: area {spec.area!r} for the {head!r} head is missing"
                )
        cut = [a for a in self.areas if a not in reach]
        if cut:
            raise ConnectomeError(
                f"connectome {self.name!r}: area {cut[0]!r} cannot be reached from the input area "
                f"{arch.input_area!r}"
            )
        return self


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
    odd = [a for a in areas if not a or "." in a or a != a.strip()]
    if odd:  # areas become module names (model.areas["V4"]): no dots, no blanks at the ends
        raise ConnectomeError(f"connectome {name!r}: area name {odd[0]!r} is empty, has a dot or surrounding spaces")
    taken = [a for a in areas if a in _reserved_names()]
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


def reachable(connectome: Connectome, start: str) -> set[str]:
    """Areas reachable from ``start`` along present projections (including ``start``)."""
    seen = {start}
    stack = [start]
    while stack:
        a = stack.pop()
        i = connectome.index(a)
        for j in np.nonzero(connectome.weights[i] > 0)[0]:
            b = connectome.areas[j]
            if b not in seen:
                seen.add(b)
                stack.append(b)
    return seen


def find_cycle(connectome: Connectome) -> list[str] | None:
    """One directed cycle as a list of areas (first repeated at the end), or None."""
    adj = connectome.weights > 0
    n = len(connectome.areas)
    state = [0] * n  # 0 unvisited, 1 on stack, 2 done
    parent = [-1] * n

    for root in range(n):
        if state[root]:
            continue
        stack = [(root, iter(np.nonzero(adj[root])[0]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                continue
            if state[nxt] == 1:
                cyc = [nxt]
                cur = node
                while cur != nxt:
                    cyc.append(cur)
                    cur = parent[cur]
                cyc.reverse()
                names = [connectome.areas[nxt]] + [connectome.areas[k] for k in cyc[:-1]]
                return names + [connectome.areas[nxt]]
            if state[nxt] == 0:
                parent[nxt] = node
                state[nxt] = 1
                stack.append((nxt, iter(np.nonzero(adj[nxt])[0])))
    return None


def topological_order(connectome: Connectome) -> list[str]:
    """Areas ordered so every source comes before its targets (ties keep the file's order)."""
    adj = connectome.weights > 0
    indeg = adj.sum(axis=0).tolist()
    ready = [i for i in range(len(indeg)) if indeg[i] == 0]
    order: list[int] = []
    while ready:
        i = ready.pop(0)
        order.append(i)
        for j in np.nonzero(adj[i])[0]:
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(int(j))
        ready.sort()
    if len(order) != len(indeg):
        raise ConnectomeError(f"connectome {connectome.name!r}: has a cycle")
    return [connectome.areas[i] for i in order]


def diff_connectomes(a: Connectome, b: Connectome) -> pd.DataFrame:
    """Projections present in either connectome, on the areas they share: strengths side by side."""
    shared = [x for x in a.areas if x in b.areas]
    rows = []
    for s in shared:
        for t in shared:
            va, vb = a.strength(s, t), b.strength(s, t)
            if va > 0 or vb > 0:
                rows.append({"source": s, "target": t, a.name: va, b.name: vb, "difference": vb - va,
                             "only_in": a.name if vb == 0 else b.name if va == 0 else ""})
    cols = ["source", "target", a.name, b.name, "difference", "only_in"]
    return pd.DataFrame(rows, columns=cols)


# -- file I/O ---------------------------------------------------------------------------------------
_META_KEYS = ("name", "species", "source", "measure", "notes")


def read_csv(path: str | os.PathLike[str]) -> Connectome:
    """Read a labelled matrix (rows = source, columns = target); ``# key: value`` lines carry metadata."""
    path = Path(path)
    text = _read_text(path)
    meta: dict[str, str] = {}
    body: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            key, sep, value = stripped.lstrip("#").partition(":")
            if sep and key.strip().lower() in _META_KEYS:
                meta[key.strip().lower()] = value.strip()
            continue
        if stripped:
            body.append(line)
    if not body:
        raise ConnectomeError(f"{path}: empty connectome file")
    import io

    try:
        df = pd.read_csv(io.StringIO("\n".join(body)), index_col=0)
    except (pd.errors.ParserError, ValueError) as exc:
        raise ConnectomeError(f"{path}: not a labelled CSV matrix ({str(exc).splitlines()[0]})") from None
    if df.shape[1] == 0 or df.shape[0] == 0:
        raise ConnectomeError(f"{path}: needs a header row of target areas and one row per source area")
    df.index = [str(i).strip() for i in df.index]
    df.columns = [str(c).strip() for c in df.columns]
    name = meta.pop("name", "") or path.stem
    if df.shape[0] != df.shape[1]:
        raise ConnectomeError(f"{path}: matrix is not square ({df.shape[0]} rows, {df.shape[1]} columns)")
    rows, cols = list(df.index), list(df.columns)
    if rows != cols:
        if sorted(rows) != sorted(cols):
            only = sorted(set(rows) ^ set(cols))
            raise ConnectomeError(
                f"{path}: row and column labels differ ({', '.join(only[:4])} not in both)"
            )
        df = df.loc[cols, cols]  # same areas, different order: align rows to the column order
    try:
        values = df.apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
    except (ValueError, TypeError):
        bad = next(
            (f"{r}->{c} = {df.loc[r, c]!r}" for r in df.index for c in df.columns if not _is_number(df.loc[r, c])),
            "a cell",
        )
        raise ConnectomeError(f"{path}: {bad} is not a number") from None
    try:
        return Connectome(tuple(cols), values, name=name, **meta)
    except ConnectomeError as exc:
        raise ConnectomeError(f"{path}: {_strip_prefix(str(exc))}") from None


def write_csv(connectome: Connectome, path: str | os.PathLike[str]) -> None:
    lines = [f"# {k}: {v}" for k, v in connectome.metadata().items() if k in _META_KEYS and v]
    body = connectome.to_frame().to_csv(float_format="%.10g")
    write_text(path, "\n".join(lines) + ("\n" if lines else "") + body)


def read_json(path: str | os.PathLike[str]) -> Connectome:
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise ConnectomeError(f"{path}: empty connectome file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConnectomeError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        return Connectome.from_dict(data, name=path.stem)
    except ConnectomeError as exc:
        raise ConnectomeError(f"{path}: {_strip_prefix(str(exc))}") from None


def write_json_connectome(connectome: Connectome, path: str | os.PathLike[str]) -> None:
    write_json(path, connectome.to_dict())


def save_connectome(connectome: Connectome, path: str | os.PathLike[str]) -> None:
    """Write as CSV or JSON, chosen by the file suffix."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        write_csv(connectome, path)
    elif suffix == ".json":
        write_json_connectome(connectome, path)
    else:
        raise ConnectomeError(f"{path}: connectome files end in .csv or .json")


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConnectomeError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConnectomeError(f"{path}: is a directory, not a connectome file") from None
    except OSError as exc:
        raise ConnectomeError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConnectomeError(f"{path}: unreadable (not UTF-8 text)") from None


def _is_number(x: Any) -> bool:
    try:
        float(x)
    except (TypeError, ValueError):
        return False
    return not (isinstance(x, str) and not x.strip())


def _strip_prefix(msg: str) -> str:
    # "connectome 'x': problem" -> "problem", so file errors name the file once.
    return msg.split(": ", 1)[1] if msg.startswith("connectome ") and ": " in msg else msg


# -- presets ------------------------------------------------------------------------------------------
_PRESETS: dict[str, Callable[[], Connectome]] = {}


def register_connectome(name: str, factory: Callable[[], Connectome], *, overwrite: bool = False) -> None:
    """Add a preset; ``factory`` builds it on demand."""
    if name in _PRESETS and not overwrite:
        raise ValueError(f"connectome preset {name!r} already registered")
    _PRESETS[name] = factory


def list_connectomes() -> pd.DataFrame:
    """The registered presets with species, source and what the strengths measure."""
    rows = []
    for name in _PRESETS:
        c = _PRESETS[name]()
        rows.append({"name": name, "species": c.species, "areas": len(c.areas), "edges": len(c.edges()),
                     "measure": c.measure, "source": c.source})
    return pd.DataFrame(rows)


def preset_names() -> list[str]:
    return list(_PRESETS)


def load_connectome(name_or_path: str | os.PathLike[str] | Connectome) -> Connectome:
    """The one factory: a preset name (``"mouse"``), a ``.csv``/``.json`` file, or a Connectome."""
    if isinstance(name_or_path, Connectome):
        return name_or_path
    key = str(name_or_path)
    if key in _PRESETS:
        return _PRESETS[key]()
    path = Path(key)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path)
    if suffix == ".json":
        return read_json(path)
    if path.exists():
        raise ConnectomeError(f"{path}: connectome files end in .csv or .json")
    raise ConnectomeError(f"unknown connectome {key!r}: not a preset ({', '.join(_PRESETS)}) nor a .csv/.json file")


def _notebook(species: str, edges: dict[tuple[str, str], float], notes: str = "") -> Callable[[], Connectome]:
    def build() -> Connectome:
        return Connectome.from_edges(
            [(s, t, v) for (s, t), v in edges.items()],
            areas=CANONICAL_AREAS,
            name=species,
            species=species,
            source=NOTEBOOK_CITATION,
            measure=NOTEBOOK_MEASURE,
            notes=notes,
        )

    return build


# The notebook's matrices, value for value (seed notebook, cell "Creating the Data").
NOTEBOOK_CONNECTIVITY: dict[str, dict[tuple[str, str], float]] = {
    "human": {("V1", "V2"): 0.90, ("V2", "V4"): 0.75, ("V4", "IT"): 0.80, ("V2", "MT"): 0.70, ("MT", "LIP"): 0.75},
    "marmoset": {("V1", "V2"): 0.85, ("V2", "V4"): 0.70, ("V4", "IT"): 0.75, ("V2", "MT"): 0.65, ("MT", "LIP"): 0.70},
    "mouse": {
        ("V1", "V2"): 0.75, ("V2", "V4"): 0.60, ("V4", "IT"): 0.65, ("V2", "MT"): 0.55, ("MT", "LIP"): 0.60,
        ("V1", "V4"): 0.30, ("V1", "MT"): 0.35,
    },
}

for _sp, _edges in NOTEBOOK_CONNECTIVITY.items():
    register_connectome(
        _sp,
        _notebook(
            _sp,
            _edges,
            notes="V1->V4 and V1->MT shortcuts (ignored by the notebook's hard-coded model)" if _sp == "mouse" else "",
        ),
    )

# The notebook's reported single-run results (5 epochs, Adam 1e-3, batch 64), for side-by-side tables.
NOTEBOOK_RESULTS: dict[str, dict[str, float]] = {
    "human": {"test_acc": 92.50, "test_loss": 0.2062},
    "marmoset": {"test_acc": 91.52, "test_loss": 0.2244},
    "mouse": {"test_acc": 91.94, "test_loss": 0.2194},
}

from . import published as _published  # noqa: E402,F401  (registers the published-data presets)
