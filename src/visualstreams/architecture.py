"""Architectures: what block each area is, where the input enters and which area feeds each head.

The default is the notebook's network: V1 32 channels, V2 64, V4 128, IT 256, MT 128, LIP 256; 3x3
convolutions with ReLU; 2x2 max-pooling after V1, V2, IT and LIP; a 10-class "what" head on IT and an
(x, y) "where" head on LIP. Which areas exist and how they are wired comes from the connectome.

Connectomes with other areas (macaque TEO, TEpd, 7A ...) compile too: :func:`architecture_for` gives every
area the architecture does not list the block of its hierarchy level (its longest path from the input area:
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
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .connectome import Connectome


@dataclass(frozen=True)
class AreaSpec:
    """One area's block: a ``kernel_size`` convolution to ``channels``, ReLU, then optional 2x2 max-pool."""

    channels: int
    pool: bool = False
    kernel_size: int = 3

    def __post_init__(self) -> None:
        if self.channels < 1 or self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ConfigError(f"area block needs channels >= 1 and an odd kernel size, got {self}")


@dataclass(frozen=True)
class HeadSpec:
    """A linear read-out of ``area``'s flattened activity into ``outputs`` numbers."""

    area: str
    outputs: int


@dataclass(frozen=True)
class Architecture:
    areas: Mapping[str, AreaSpec]
    heads: Mapping[str, HeadSpec]
    input_area: str = "V1"
    in_channels: int = 1
    image_size: int = 28
    name: str = "custom"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_area": self.input_area,
            "in_channels": self.in_channels,
            "image_size": self.image_size,
            "areas": {a: asdict(s) for a, s in self.areas.items()},
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
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"architecture: malformed description ({exc})") from None

    def with_image_size(self, image_size: int) -> Architecture:
        return self.replace(image_size=image_size)

    def replace(self, **changes: Any) -> Architecture:
        fields = {"areas": dict(self.areas), "heads": dict(self.heads), "input_area": self.input_area,
                  "in_channels": self.in_channels, "image_size": self.image_size, "name": self.name,
                  "extra": dict(self.extra)}
        return Architecture(**{**fields, **changes})


NOTEBOOK_AREAS: dict[str, AreaSpec] = {
    "V1": AreaSpec(32, pool=True),
    "V2": AreaSpec(64, pool=True),
    "V4": AreaSpec(128),
    "IT": AreaSpec(256, pool=True),
    "MT": AreaSpec(128),
    "LIP": AreaSpec(256, pool=True),
}


def default_architecture(image_size: int = 28) -> Architecture:
    """The notebook's two-stream network (see the module docstring)."""
    return Architecture(
        areas=dict(NOTEBOOK_AREAS),
        heads={"what": HeadSpec("IT", 10), "where": HeadSpec("LIP", 2)},
        image_size=image_size,
        name="notebook",
    )


def block_for_level(level: int) -> AreaSpec:
    """The default block of an area ``level`` steps above the input, following the notebook's pattern.

    Channels double per level from 32 up to 256; pooling after levels 0, 1 and 3 (as after V1, V2 and
    IT/LIP), never above, so a 28-pixel image keeps at least 3x3 however deep the hierarchy goes.
    """
    return AreaSpec(min(32 * 2 ** max(level, 0), 256), pool=level in (0, 1, 3))


def hierarchy_levels(connectome: Connectome, input_area: str = "V1") -> dict[str, int]:
    """Each area's level: its longest path from ``input_area`` (areas it cannot reach are left out)."""
    from .connectome import find_cycle, reachable, topological_order

    if input_area not in connectome.areas or find_cycle(connectome):
        return {}
    reach = reachable(connectome, input_area)
    level = {input_area: 0}
    for area in topological_order(connectome):
        ups = [level[s] + 1 for s in connectome.sources(area) if s in level]
        if area != input_area and area in reach and ups:
            level[area] = max(ups)
    return level


def architecture_for(connectome: Connectome, architecture: Architecture | str | os.PathLike[str] | None = None,
                     ) -> Architecture:
    """``architecture`` (a path is read by :func:`load_architecture`) completed for ``connectome``.

    Without one, a connectome over the notebook's six areas gets the notebook's network, and any other gets
    :func:`block_for_level` for every area (the notebook's named blocks assume the notebook's depths: its
    pooled LIP block four levels up a macaque hierarchy would leave 1x1 maps). With one, the areas it lists
    keep their blocks and the others get their level's. Heads the architecture file does not set come from
    the connectome's ``extra["heads"]`` (published full presets name theirs), else the notebook's IT and LIP;
    likewise the input area from ``extra["input_area"]`` when the connectome has no V1 (the mouse's VISp).
    """
    if architecture is None:
        arch = default_architecture()
        if not set(connectome.areas) <= set(arch.areas):
            arch = arch.replace(areas={}, name="by-level")
    elif isinstance(architecture, Architecture):
        arch = architecture
    else:
        arch = load_architecture(architecture)
    # What the caller set stays: a file's own heads and input area; everything of an Architecture object
    # (e.g. one rebuilt from a run's config.json); nothing when no architecture was given.
    if "heads_from_file" in arch.extra:
        fixed_heads, fixed_input = set(arch.extra["heads_from_file"]), bool(arch.extra.get("input_from_file"))
    elif isinstance(architecture, Architecture):
        fixed_heads, fixed_input = set(arch.heads), True
    else:
        fixed_heads, fixed_input = set(), False
    hint = connectome.extra.get("input_area")
    if arch.input_area not in connectome.areas and hint in connectome.areas and not fixed_input:
        arch = arch.replace(input_area=hint)  # a preset under its source's names (the mouse's VISp)
    missing = [a for a in connectome.areas if a not in arch.areas]
    hinted = {h: a for h, a in dict(connectome.extra.get("heads", {})).items() if a in connectome.areas}
    heads = dict(arch.heads)
    for head, area in hinted.items():
        if head not in fixed_heads and head in heads:
            heads[head] = HeadSpec(area, heads[head].outputs)
    if not missing and heads == dict(arch.heads):
        return arch
    levels = hierarchy_levels(connectome, arch.input_area)
    # An area the input cannot reach has no level; validation reports it, so any block will do here.
    areas = {**arch.areas, **{a: block_for_level(levels.get(a, 3)) for a in missing}}
    return Architecture(areas, heads, arch.input_area, arch.in_channels, arch.image_size, arch.name,
                        dict(arch.extra))


_AREA_KEYS = {"channels", "pool", "kernel_size"}
_TOP_KEYS = {"name", "input_area", "in_channels", "image_size", "areas", "heads"}


def load_architecture(path: str | os.PathLike[str]) -> Architecture:
    """Read an architecture file (``.json`` or ``.toml``); areas it omits get their level's block in
    :func:`architecture_for`, heads it omits are the notebook's (``what`` on IT, ``where`` on LIP)."""
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
        try:
            areas[area] = AreaSpec(channels, spec.get("pool", False), kernel)
        except ConfigError:
            raise ConfigError(f"area {area!r}: needs channels >= 1 and an odd kernel_size") from None
    heads = {"what": HeadSpec("IT", 10), "where": HeadSpec("LIP", 2)}
    given: dict[str, str] = {}
    for head, spec in dict(data.get("heads", {})).items():
        if head not in heads:
            raise ConfigError(f"unknown head {head!r} (heads: what, where)")
        area = spec.get("area") if isinstance(spec, dict) else spec
        outputs = spec.get("outputs", heads[head].outputs) if isinstance(spec, dict) else heads[head].outputs
        if not isinstance(area, str) or type(outputs) is not int or outputs != heads[head].outputs:
            raise ConfigError(f"head {head!r}: needs an area name (and outputs = {heads[head].outputs})")
        heads[head] = HeadSpec(area, outputs)
        given[head] = area
    input_area = data.get("input_area", "V1")
    if not isinstance(input_area, str):
        raise ConfigError("input_area must be an area name")
    for key in ("in_channels", "image_size"):
        if key in data and not (isinstance(data[key], int) and data[key] >= 1):
            raise ConfigError(f"{key} must be a whole number >= 1")
    # Areas the file does not list get their level's block in architecture_for.
    return Architecture(areas, heads, input_area, int(data.get("in_channels", 1)),
                        int(data.get("image_size", 28)), str(data.get("name", "custom")),
                        {"heads_from_file": given, "input_from_file": "input_area" in data})
