"""The preset registry and the one factory, :func:`load_connectome`. Imports no preset: presets register
themselves from their own modules (``connectome/presets``), which the package ``__init__`` imports."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConnectomeError, did_you_mean
from .core import Connectome
from .io import read_csv, read_json

if TYPE_CHECKING:  # imported where used: the connectome commands start without it
    import pandas as pd

_PRESETS: dict[str, Callable[[], Connectome]] = {}


def register_connectome(name: str, factory: Callable[[], Connectome], *, overwrite: bool = False) -> None:
    """Add a preset; ``factory`` builds it on demand."""
    if name in _PRESETS and not overwrite:
        raise ValueError(f"connectome preset {name!r} already registered")
    _PRESETS[name] = factory


def preset_records() -> list[dict[str, object]]:
    """:func:`list_connectomes` as plain records, one dict per preset (``connectome list`` prints them without
    loading pandas, so that it starts at once)."""
    rows = []
    for name in _PRESETS:
        c = _PRESETS[name]()
        recurrent = sum(d != "feedforward" for d in c.directions.values())
        rows.append({"name": name, "species": c.species, "areas": len(c.areas), "edges": len(c.edges()),
                     "recurrent": recurrent, "measure": c.measure, "source": c.source})
    return rows


def list_connectomes() -> pd.DataFrame:
    """The registered presets with species, source and what the strengths measure; ``edges`` counts every
    projection, ``recurrent`` those the data call feedback or lateral (used by networks of two steps or more)."""
    import pandas as pd

    return pd.DataFrame(preset_records())


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
    raise ConnectomeError(f"unknown connectome {key!r}{did_you_mean(key, _PRESETS)}: not a preset "
                          f"({', '.join(_PRESETS)}) nor a .csv/.json file")
