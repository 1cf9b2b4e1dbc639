"""Architectures: what block each area is, where the input enters and which area feeds each head.

The default is the notebook's network: V1 32 channels, V2 64, V4 128, IT 256, MT 128, LIP 256; 3x3
convolutions with ReLU; 2x2 max-pooling after V1, V2, IT and LIP; a 10-class "what" head on IT and an
(x, y) "where" head on LIP. Which areas exist and how they are wired comes from the connectome.

Connectomes with other areas (macaque TEO, TEpd, 7A ...) compile too: the compile step
(:func:`visualstreams.network.compile.compile_network`) gives every area the architecture does not list the
block of its hierarchy level (its longest path from the input area:
level 0 like V1, 1 like V2, 2 like V4/MT, 3 and above like IT/LIP), and an architecture file (JSON or TOML,
:func:`load_architecture`) sets blocks and heads explicitly::

    name = "macaque-8"
    [areas.TEpd]
    channels = 256
    pool = false
    [heads.what]
    area = "TEpd"
    outputs = 10
    [heads.where]
    area = "7A"
    outputs = 2

Imports the errors only: what a connectome does with an architecture is the compile step's business.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class AreaSpec:
    """One area's block: a ``kernel_size`` convolution to ``channels``, ReLU, then optional 2x2 max-pool; or, with
    ``size`` (blocks derived from the anatomy, :mod:`~visualstreams.network.anatomy_blocks`), a max-pool to a
    ``size`` x ``size`` map (adaptive: any ratio; never larger than its input)."""

    channels: int
    pool: bool = False
    kernel_size: int = 3
    size: int | None = None

    def __post_init__(self) -> None:
        if self.channels < 1 or self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ConfigError(f"area block needs channels >= 1 and an odd kernel size, got {self}")
        if self.size is not None and (self.pool or isinstance(self.size, bool) or not isinstance(self.size, int)
                                      or self.size < 1):
            raise ConfigError(f"an area's map size is a whole number >= 1, in place of pool, got {self}")

    def to_dict(self) -> dict[str, Any]:
        # a block without a map size is written as before map sizes existed
        return {k: v for k, v in asdict(self).items() if k != "size" or v is not None}


@dataclass(frozen=True)
class HeadSpec:
    """A linear read-out of ``area``'s flattened activity into ``outputs`` numbers."""

    area: str
    outputs: int


@dataclass(frozen=True)
class Architecture:
    """Blocks by area name, heads by name, the input area and the image.

    What it sets, compiling keeps; what it leaves out is completed for each connectome: a head it does not
    name reads the area the connectome suggests (published full presets name theirs), else the notebook's (IT,
    LIP); ``input_area=None`` means V1, or the connectome's suggestion when it has no V1 (the mouse's VISp).
    An architecture file sets just what it lists; :func:`default_architecture` and one rebuilt from a run's
    config.json set everything.
    """

    areas: Mapping[str, AreaSpec]
    heads: Mapping[str, HeadSpec]
    input_area: str | None = None
    in_channels: int = 1
    image_size: int = 28
    name: str = "custom"
    eye_size: int | None = None  # the image averaged down to this many pixels a side before the input area

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_area": self.input_area,
            "in_channels": self.in_channels,
            "image_size": self.image_size,
            **({"eye_size": self.eye_size} if self.eye_size is not None else {}),
            "areas": {a: s.to_dict() for a, s in self.areas.items()},
            "heads": {h: asdict(s) for h, s in self.heads.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Architecture:
        try:
            return cls(
                areas={a: AreaSpec(**s) for a, s in data["areas"].items()},
                heads={h: HeadSpec(**s) for h, s in data["heads"].items()},
                input_area=data.get("input_area", "V1"),
                in_channels=int(data.get("in_channels", 1)),
                image_size=int(data.get("image_size", 28)),
                name=str(data.get("name", "custom")),
                eye_size=None if data.get("eye_size") is None else int(data["eye_size"]),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"architecture: malformed description ({exc})") from None

    def with_image_size(self, image_size: int) -> Architecture:
        return self.replace(image_size=image_size)

    def replace(self, **changes: Any) -> Architecture:
        fields = {"areas": dict(self.areas), "heads": dict(self.heads), "input_area": self.input_area,
                  "in_channels": self.in_channels, "image_size": self.image_size, "name": self.name,
                  "eye_size": self.eye_size}
        return Architecture(**{**fields, **changes})


NOTEBOOK_AREAS: dict[str, AreaSpec] = {
    "V1": AreaSpec(32, pool=True),
    "V2": AreaSpec(64, pool=True),
    "V4": AreaSpec(128),
    "IT": AreaSpec(256, pool=True),
    "MT": AreaSpec(128),
    "LIP": AreaSpec(256, pool=True),
}


NOTEBOOK_HEADS: dict[str, HeadSpec] = {"what": HeadSpec("IT", 10), "where": HeadSpec("LIP", 2)}
NOTEBOOK_INPUT = "V1"


def default_architecture(image_size: int = 28) -> Architecture:
    """The notebook's two-stream network (see the module docstring)."""
    return Architecture(
        areas=dict(NOTEBOOK_AREAS),
        heads=dict(NOTEBOOK_HEADS),
        input_area="V1",
        image_size=image_size,
        name="notebook",
    )


def block_for_level(level: int) -> AreaSpec:
    """The default block of an area ``level`` steps above the input, following the notebook's pattern.

    Channels double per level from 32 up to 256; pooling after levels 0, 1 and 3 (as after V1, V2 and
    IT/LIP), never above, so a 28-pixel image keeps at least 3x3 however deep the hierarchy goes.
    """
    return AreaSpec(min(32 * 2 ** max(level, 0), 256), pool=level in (0, 1, 3))


_AREA_KEYS = {"channels", "pool", "kernel_size", "size"}
_TOP_KEYS = {"name", "input_area", "in_channels", "image_size", "eye_size", "areas", "heads"}


def load_architecture(path: str | os.PathLike[str]) -> Architecture:
    """Read an architecture file (``.json`` or ``.toml``): just what it sets. Compiling gives the areas it omits
    their level's block, and the heads and input area it omits their defaults (see :class:`Architecture`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or 'not UTF-8 text'})") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise ConfigError(f"{path}: architecture files end in .json or .toml")
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        return _architecture_from_file(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _architecture_from_file(data: Any) -> Architecture:
    if not isinstance(data, dict):
        raise ConfigError("expected a table/object at the top")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} (keys: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("areas", "heads"):
        if not isinstance(data.get(key, {}), dict):
            raise ConfigError(f"'{key}' must be a table of area or head names")
    areas: dict[str, AreaSpec] = {}
    for area, spec in dict(data.get("areas", {})).items():
        if not isinstance(spec, dict) or set(spec) - _AREA_KEYS:
            raise ConfigError(f"area {area!r}: expected keys among {', '.join(sorted(_AREA_KEYS))}")
        channels, kernel = spec.get("channels", 64), spec.get("kernel_size", 3)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (channels, kernel)):
            raise ConfigError(f"area {area!r}: channels and kernel_size must be whole numbers")
        if not isinstance(spec.get("pool", False), bool):
            raise ConfigError(f"area {area!r}: pool must be true or false")
        size = spec.get("size")
        if size is not None and (spec.get("pool") or isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ConfigError(f"area {area!r}: size is a map size >= 1, in place of pool")
        try:
            areas[area] = AreaSpec(channels, spec.get("pool", False), kernel, size)
        except ConfigError:
            raise ConfigError(f"area {area!r}: needs channels >= 1 and an odd kernel_size") from None
    heads: dict[str, HeadSpec] = {}
    for head, spec in dict(data.get("heads", {})).items():
        if head not in NOTEBOOK_HEADS:
            raise ConfigError(f"unknown head {head!r} (heads: what, where)")
        wanted = NOTEBOOK_HEADS[head].outputs
        area = spec.get("area") if isinstance(spec, dict) else spec
        outputs = spec.get("outputs", wanted) if isinstance(spec, dict) else wanted
        if not isinstance(area, str) or type(outputs) is not int or outputs != wanted:
            raise ConfigError(f"head {head!r}: needs an area name (and outputs = {wanted})")
        heads[head] = HeadSpec(area, outputs)
    input_area = data.get("input_area")
    if input_area is not None and not isinstance(input_area, str):
        raise ConfigError("input_area must be an area name")
    for key in ("in_channels", "image_size", "eye_size"):
        if key in data and not (isinstance(data[key], int) and not isinstance(data[key], bool) and data[key] >= 1):
            raise ConfigError(f"{key} must be a whole number >= 1")
    return Architecture(areas, heads, input_area, int(data.get("in_channels", 1)),
                        int(data.get("image_size", 28)), str(data.get("name", "custom")), data.get("eye_size"))
