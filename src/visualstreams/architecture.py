"""Architectures: what block each area is, where the input enters and which area feeds each head.

The default is the notebook's network: V1 32 channels, V2 64, V4 128, IT 256, MT 128, LIP 256; 3x3
convolutions with ReLU; 2x2 max-pooling after V1, V2, IT and LIP; a 10-class "what" head on IT and an
(x, y) "where" head on LIP. Which areas exist and how they are wired comes from the connectome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import ConfigError


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
        return Architecture(dict(self.areas), dict(self.heads), self.input_area, self.in_channels, image_size,
                            self.name)


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
