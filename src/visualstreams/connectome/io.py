"""Connectome files and comparisons: labelled CSV matrices, CSV and JSON edge lists (read, write), and the diff of
two connectomes. Imports the Connectome type and the leaves; never the registry, presets or networks.

An edge list gives each projection a row (CSV: a header ``source,target,strength`` and optionally ``direction``;
JSON: ``{"edges": [{"source": ..., "target": ..., "strength": ..., "direction": ...}]}``); ``direction`` is
``feedforward``, ``feedback`` or ``lateral``, and where it is left out (or empty) the graph's rule decides
(:func:`visualstreams.graph.classify`). A matrix has no room for directions: the rule decides them all. Columns
other than these are ignored, so a preset's shipped table reads as an edge list too (human-hcp's holds the
feedforward and lateral tracts; the preset adds each tract's reverse in code).
"""

from __future__ import annotations

import json
import os
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConnectomeError
from ..storage import write_json, write_text
from .core import Connectome

if TYPE_CHECKING:  # imported where used: the connectome commands start without it
    import pandas as pd

_META_KEYS = ("name", "species", "source", "measure", "notes")


def read_csv(path: str | os.PathLike[str]) -> Connectome:
    """Read a labelled matrix (rows = source, columns = target); ``# key: value`` lines carry metadata."""
    import pandas as pd
    path = Path(path)
    text = _read_text(path)
    meta: dict[str, str] = {}
    body: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            key, sep, value = stripped.lstrip("#").partition(":")
            if sep and key.strip().lower() in (*_META_KEYS, "areas"):
                meta[key.strip().lower()] = value.strip()
            continue
        if stripped:
            body.append(line)
    if not body:
        raise ConnectomeError(f"{path}: empty connectome file")
    if body[0].split(",")[0].strip().strip('"').lower() == "source":
        return _read_edge_list(path, "\n".join(body), meta)
    meta.pop("areas", None)
    try:
        df = pd.read_csv(StringIO("\n".join(body)), index_col=0)
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


def _read_edge_list(path: Path, text: str, meta: dict[str, str]) -> Connectome:


    import pandas as pd
    try:
        df = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise ConnectomeError(f"{path}: not a CSV edge list ({str(exc).splitlines()[0]})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("source", "target", "strength") if c not in df.columns]
    if missing:
        raise ConnectomeError(f"{path}: an edge list needs the columns source, target, strength (no {missing[0]!r})")
    edges, directions, seen = [], {}, set()
    # "# areas: V1, V2, ..." fixes the order (and keeps an area without projections), as a matrix's header does
    areas = [a.strip() for a in meta.pop("areas", "").split(",") if a.strip()]
    for k, r in enumerate(df.itertuples(index=False), start=2):
        s, t = str(r.source).strip(), str(r.target).strip()
        if not _is_number(r.strength):
            raise ConnectomeError(f"{path}: line {k}: strength {r.strength!r} of {s}->{t} is not a number")
        areas += [a for a in (s, t) if a not in areas]
        w = float(r.strength)
        if (s, t) in seen:
            raise ConnectomeError(f"{path}: line {k}: {s}->{t} is listed twice")
        seen.add((s, t))
        if w != 0:
            edges.append((s, t, w))
            d = str(getattr(r, "direction", "")).strip().lower()
            if d:
                directions[(s, t)] = d
    name = meta.pop("name", "") or path.stem
    try:
        return Connectome.from_edges(edges, areas=areas, name=name, directions=directions, **meta)
    except ConnectomeError as exc:
        raise ConnectomeError(f"{path}: {_strip_prefix(str(exc))}") from None


def write_csv(connectome: Connectome, path: str | os.PathLike[str]) -> None:
    """A labelled matrix, or an edge list with a ``direction`` column when the connectome gives directions (a
    matrix could not keep them)."""
    import pandas as pd
    lines = [f"# {k}: {v}" for k, v in connectome.metadata().items() if k in _META_KEYS and v]
    if connectome.directions:
        lines.append(f"# areas: {', '.join(connectome.areas)}")
        rows = [{"source": s, "target": t, "strength": v, "direction": connectome.directions.get((s, t), "")}
                for s, t, v in connectome.edges()]
        body = pd.DataFrame(rows, columns=["source", "target", "strength", "direction"]).to_csv(
            index=False, float_format="%.10g")
        write_text(path, "\n".join(lines) + ("\n" if lines else "") + body)
        return
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




def diff_connectomes(a: Connectome, b: Connectome) -> pd.DataFrame:
    """Projections present in either connectome, on the areas they share: strengths side by side, and the direction
    the data give it (the first connectome's, else the second's; empty where neither gives one)."""
    import pandas as pd
    shared = [x for x in a.areas if x in b.areas]
    rows = []
    for s in shared:
        for t in shared:
            va, vb = a.strength(s, t), b.strength(s, t)
            if va > 0 or vb > 0:
                rows.append({"source": s, "target": t, a.name: va, b.name: vb, "difference": vb - va,
                             "only_in": a.name if vb == 0 else b.name if va == 0 else "",
                             "direction": a.directions.get((s, t)) or b.directions.get((s, t)) or ""})
    cols = ["source", "target", a.name, b.name, "difference", "only_in", "direction"]
    return pd.DataFrame(rows, columns=cols)
