"""Compile once: (connectome, architecture or file, image size, mode) -> one validated, immutable network spec.

:func:`compile_network` is the only place that completes an architecture for a connectome (blocks by
hierarchy level for the areas it does not list, heads and input area from the connectome's hints or the
notebook's), validates the pair (input area present, acyclic, every area reachable, head areas present, nothing
pooled away) and decides the wiring: the order of the areas, each block's input channels and size, each
projection's index, gain and adapter, and the heads' input sizes. The model
(:class:`~visualstreams.network.model.VisualStreamsNet`), training, stacking, compare, lesions and the disk-room
check all take a :class:`CompiledNetwork`; parameter counts come from it, never from building a model.

Wiring rule (documented in the README): the *primary* input of an area is its deepest source (highest
hierarchy level; ties go to the stronger projection, then to the earlier area); it sets the block's input
channels and spatial size. Every other source is resampled to that size and, if its channel count differs,
projected by a learned 1x1 convolution: its adapter.

Imports the connectome layer and the leaves; never torch modules, data, tasks or training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..connectome import Connectome, find_cycle, hierarchy_levels, load_connectome, reachable, topological_order
from ..errors import ConfigError, ConnectomeError
from .architecture import (
    NOTEBOOK_AREAS,
    NOTEBOOK_HEADS,
    NOTEBOOK_INPUT,
    Architecture,
    AreaSpec,
    HeadSpec,
    block_for_level,
    default_architecture,
    load_architecture,
)
from .modes import MODES, check_mode, gain_of


@dataclass(frozen=True)
class Adapter:
    """How a non-primary source reaches its target's input: resampled to ``size``, then a 1x1 convolution from
    ``in_channels`` to ``out_channels`` when they differ."""

    in_channels: int
    out_channels: int
    size: int

    @property
    def n_parameters(self) -> int:
        return self.in_channels * self.out_channels if self.in_channels != self.out_channels else 0


@dataclass(frozen=True)
class Projection:
    """One projection: ``index`` in the model's strength vector, the connectome's ``strength`` and the ``gain``
    the mode gives it (1 under ``none`` and ``density``); ``adapter`` is None for a primary or matching input."""

    source: str
    target: str
    index: int
    strength: float
    gain: float
    primary: bool
    adapter: Adapter | None = None

    @property
    def key(self) -> str:
        """The module name of its adapter (``model.projections["V1_to_V4"]``)."""
        return f"{self.source}_to_{self.target}"


@dataclass(frozen=True)
class Area:
    """One area's block with its input and output shapes, and its inputs (primary first)."""

    name: str
    block: AreaSpec
    level: int
    in_channels: int
    in_size: int
    inputs: tuple[Projection, ...]

    @property
    def channels(self) -> int:
        return self.block.channels

    @property
    def size(self) -> int:
        return self.in_size // 2 if self.block.pool else self.in_size

    @property
    def n_parameters(self) -> int:
        k = self.block.kernel_size
        return self.in_channels * self.channels * k * k + self.channels


@dataclass(frozen=True)
class Head:
    """A linear read-out of ``area``'s flattened output (``in_features`` numbers) into ``outputs``."""

    name: str
    area: str
    outputs: int
    in_features: int


@dataclass(frozen=True, eq=False)
class CompiledNetwork:
    """Everything needed to build the network, decided once. Immutable; compare with :attr:`key`."""

    connectome: Connectome
    architecture: Architecture  # complete: a block for every area, heads and input area set, the image size
    mode: str
    areas: tuple[Area, ...]  # in computation order
    projections: tuple[Projection, ...]  # by index
    heads: tuple[Head, ...]

    @property
    def order(self) -> list[str]:
        return [a.name for a in self.areas]

    @property
    def input_area(self) -> str:
        assert self.architecture.input_area is not None
        return self.architecture.input_area

    @property
    def image_size(self) -> int:
        return self.architecture.image_size

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(p.source, p.target) for p in self.projections]

    def area(self, name: str) -> Area:
        for a in self.areas:
            if a.name == name:
                return a
        raise ConfigError(f"unknown area {name!r} (areas: {', '.join(self.order)})")

    def head(self, name: str) -> Head:
        for h in self.heads:
            if h.name == name:
                return h
        raise ConfigError(f"unknown head {name!r} (heads: {', '.join(h.name for h in self.heads)})")

    @property
    def area_shapes(self) -> dict[str, tuple[int, int, int]]:
        """Each area's output shape (channels, height, width) for one image."""
        return {a.name: (a.channels, a.size, a.size) for a in self.areas}

    @cached_property
    def n_parameters(self) -> int:
        """Trainable parameters of the model built from this spec (blocks, adapters, heads, learned gains)."""
        n = sum(a.n_parameters for a in self.areas)
        n += sum(p.adapter.n_parameters for p in self.projections if p.adapter is not None)
        n += sum(h.in_features * h.outputs + h.outputs for h in self.heads)
        return n + (len(self.projections) if self.mode == "learned-gain" else 0)

    def needed_areas(self, heads: tuple[str, ...] | list[str]) -> list[str]:
        """Areas that the given heads depend on, in computation order (others are skipped)."""
        need: set[str] = set()
        stack = [self.head(h).area for h in heads]
        inputs = {a.name: a.inputs for a in self.areas}
        while stack:
            a = stack.pop()
            if a not in need:
                need.add(a)
                stack.extend(p.source for p in inputs[a])
        return [a for a in self.order if a in need]

    @cached_property
    def structure(self) -> tuple[Any, ...]:
        """What must agree for models to be stacked: blocks and their shapes, wiring, adapters, heads and mode."""
        return (tuple((a.name, a.block, a.in_channels, a.in_size) for a in self.areas),
                tuple((p.source, p.target, p.adapter) for p in self.projections),
                tuple((h.name, h.area, h.outputs) for h in self.heads), self.mode)

    @cached_property
    def key(self) -> tuple[Any, ...]:
        """Equal exactly when two specs build the same network from the same seed: the structure and the
        strengths as the mode uses them (gains; under ``density`` the strengths fix the masks)."""
        used = tuple(p.strength if self.mode == "density" else p.gain for p in self.projections)
        return (self.structure, used, self.architecture.in_channels)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompiledNetwork) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return (f"CompiledNetwork({self.connectome.name!r}, mode={self.mode!r}, areas={self.order}, "
                f"projections={len(self.projections)}, parameters={self.n_parameters:,})")


ArchitectureLike = Architecture | str | os.PathLike[str] | None


def compile_network(
    connectome: Connectome | str | os.PathLike[str] | CompiledNetwork,
    architecture: ArchitectureLike = None,
    image_size: int | None = None,
    mode: str = "gain",
) -> CompiledNetwork:
    """The one compile step (see the module docstring). ``connectome`` is a preset name, a file or a
    Connectome; ``architecture`` an :class:`Architecture`, a ``.json``/``.toml`` file or None (the notebook's
    network for six-area connectomes, blocks by level for others); ``image_size`` overrides the architecture's.

    Raises :class:`ConnectomeError` or :class:`ConfigError` with a one-line message naming the problem.
    """
    if isinstance(connectome, CompiledNetwork):
        asked = (architecture is not None or (image_size is not None and image_size != connectome.image_size)
                 or mode != "gain" and mode != connectome.mode)
        if asked:
            raise ConfigError("a compiled network is compiled already: its architecture, image size and mode are "
                              "its own (compile the connectome again to change them)")
        return connectome
    check_mode(mode)
    conn = load_connectome(connectome)
    arch = _complete(conn, architecture)
    if image_size is not None and image_size != arch.image_size:
        arch = arch.replace(image_size=image_size)
    _validate(conn, arch)
    levels = hierarchy_levels(conn, arch.input_area)  # type: ignore[arg-type]
    areas: list[Area] = []
    projections: list[Projection] = []
    built: dict[str, Area] = {}
    for name in topological_order(conn):
        block = arch.areas[name]
        if name == arch.input_area:
            in_ch, in_size, inputs = arch.in_channels, arch.image_size, ()
        else:
            srcs = conn.sources(name)
            order = list(built)
            primary = max(srcs, key=lambda s: (levels[s], conn.strength(s, name), -order.index(s)))
            in_ch, in_size = built[primary].channels, built[primary].size
            wiring = []
            for src in [primary] + [s for s in srcs if s != primary]:
                s_area = built[src]
                adapter = None
                if src != primary and (s_area.channels != in_ch or s_area.size != in_size):
                    adapter = Adapter(s_area.channels, in_ch, in_size)
                w = conn.strength(src, name)
                p = Projection(src, name, len(projections), w, gain_of(mode, w), src == primary, adapter)
                projections.append(p)
                wiring.append(p)
            inputs = tuple(wiring)
        area = Area(name, block, levels[name], in_ch, in_size, inputs)
        if area.size < 1:
            raise ConfigError(f"area {name}: the image ({arch.image_size}px) is pooled away before it")
        built[name] = area
        areas.append(area)
    heads = tuple(Head(h, s.area, s.outputs, built[s.area].channels * built[s.area].size ** 2)
                  for h, s in arch.heads.items())
    return CompiledNetwork(conn, arch, mode, tuple(areas), tuple(projections), heads)


def _complete(connectome: Connectome, architecture: ArchitectureLike) -> Architecture:
    """``architecture`` (a path is read by :func:`load_architecture`) completed for ``connectome``.

    Without one, a connectome over the notebook's six areas gets the notebook's network, and any other gets
    :func:`block_for_level` for every area (the notebook's named blocks assume the notebook's depths: its pooled
    LIP block four levels up a macaque hierarchy would leave 1x1 maps). With one, the areas it lists keep their
    blocks and the others get their level's. Heads and input area it does not set: see :class:`Architecture`.
    """
    if architecture is None:
        notebook = set(connectome.areas) <= set(NOTEBOOK_AREAS)
        arch = Architecture(dict(NOTEBOOK_AREAS) if notebook else {}, {}, None,
                            name="notebook" if notebook else "by-level")
    elif isinstance(architecture, Architecture):
        arch = architecture
    else:
        arch = load_architecture(architecture)
    input_area = arch.input_area
    if input_area is None:
        hint = connectome.extra.get("input_area")
        input_area = hint if NOTEBOOK_INPUT not in connectome.areas and hint in connectome.areas else NOTEBOOK_INPUT
    if isinstance(architecture, Architecture) and arch.heads:
        heads = dict(arch.heads)  # an Architecture object's heads are kept as given (one rebuilt from a run's too)
    else:
        hinted = {h: a for h, a in dict(connectome.extra.get("heads", {})).items() if a in connectome.areas}
        heads = {h: arch.heads.get(h) or HeadSpec(hinted.get(h, d.area), d.outputs)
                 for h, d in NOTEBOOK_HEADS.items()}
    missing = [a for a in connectome.areas if a not in arch.areas]
    levels = hierarchy_levels(connectome, input_area)
    # An area the input cannot reach has no level; validation reports it, so any block will do here.
    areas = {**arch.areas, **{a: block_for_level(levels.get(a, 3)) for a in missing}}
    return Architecture(areas, heads, input_area, arch.in_channels, arch.image_size, arch.name)


def _validate(conn: Connectome, arch: Architecture) -> None:
    if arch.input_area not in conn.areas:
        raise ConnectomeError(f"connectome {conn.name!r}: input area {arch.input_area!r} is missing")
    cycle = find_cycle(conn)
    if cycle:
        raise ConnectomeError(
            f"connectome {conn.name!r}: cycle {' -> '.join(cycle)} (recurrent connections are not supported)"
        )
    for head, spec in arch.heads.items():
        if spec.area not in conn.areas:
            raise ConnectomeError(f"connectome {conn.name!r}: area {spec.area!r} for the {head!r} head is missing")
    reach = reachable(conn, arch.input_area)  # type: ignore[arg-type]
    cut = [a for a in conn.areas if a not in reach]
    if cut:
        raise ConnectomeError(
            f"connectome {conn.name!r}: area {cut[0]!r} cannot be reached from the input area {arch.input_area!r}"
        )


__all__ = ["Adapter", "Area", "CompiledNetwork", "Head", "MODES", "Projection", "compile_network",
           "default_architecture"]
