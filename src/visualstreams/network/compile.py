"""Compile once: (connectome, architecture or file, image size, mode) -> one validated, immutable network spec.

:func:`compile_network` is the only place that completes an architecture for a connectome (blocks by
hierarchy level for the areas it does not list, heads and input area from the connectome's hints or the
notebook's), validates the pair (input area present, acyclic, every area reachable, head areas present, nothing
pooled away) and decides the wiring: the order of the areas, each block's input channels and size, each
projection's index, gain and adapter, and the heads' input sizes. Everything downstream (the model, training,
stacking, compare, lesions, the disk-room check) takes the :class:`CompiledNetwork`, parameter counts included.

Wiring rule (documented in docs/network.md): the *primary* input of an area is its deepest feedforward source
(highest hierarchy level; ties go to the stronger projection, then to the earlier area); it sets the block's
input channels and spatial size. Every other feedforward source is resampled to that size and, if its channel
count differs, projected by a learned 1x1 convolution: its adapter.

Recurrence (``steps`` >= 2): every projection has a direction (:func:`~visualstreams.connectome.projection_directions`);
the feedforward ones make the network above, computed once per step; each feedback or lateral projection carries
its source's output of the previous step into its target, resampled to the target's convolution output size and
projected by a learned 1x1 convolution to the target's channels, added before the target's ReLU. ``steps`` = 1
compiles the feedforward projections only: exactly the network of every run before recurrence existed.
``intrinsic`` (steps >= 2) gives every area a recurrence within itself besides: a learned 3x3 convolution of its
own rectified map of the previous step, added before its ReLU (the lateral connections of BLT networks and
CORnet-RT's within-area state; conventions in docs/recurrence.md).

Imports the connectome layer and the leaves; never torch modules, data, tasks or training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from ..connectome import (
    Connectome,
    feedforward_part,
    hierarchy_levels,
    load_connectome,
    projection_directions,
    topological_order,
)
from ..errors import ConfigError
from ..metrics import at_step as step_name
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
from .modes import DEFAULT_MODE, DEFAULT_STEPS, MODES, check_mode, check_steps, gain_of
from .validation import validate_pair


@dataclass(frozen=True)
class Adapter:
    """How a source reaches its target: resampled to ``size``, then a 1x1 convolution from ``in_channels`` to
    ``out_channels`` when they differ. A non-primary feedforward source reaches its target's input; a feedback or
    lateral source (``recurrent``) its convolution's output, always through a 1x1 convolution (its learned weights)."""

    in_channels: int
    out_channels: int
    size: int
    recurrent: bool = False

    @property
    def convolves(self) -> bool:
        return self.recurrent or self.in_channels != self.out_channels

    @property
    def n_parameters(self) -> int:
        return self.in_channels * self.out_channels if self.convolves else 0


@dataclass(frozen=True)
class Projection:
    """One projection: ``index`` in the model's strength vector, the connectome's ``strength`` and the ``gain``
    the mode gives it (1 under ``none`` and ``density``); ``adapter`` is None for a primary or matching input.
    ``direction`` is feedforward, feedback or lateral; the last two carry the previous step's output."""

    source: str
    target: str
    index: int
    strength: float
    gain: float
    primary: bool
    adapter: Adapter | None = None
    direction: str = "feedforward"

    @property
    def key(self) -> str:
        """The module name of its adapter (``model.projections["V1_to_V4"]``)."""
        return f"{self.source}_to_{self.target}"

    @property
    def recurrent(self) -> bool:
        return self.direction != "feedforward"


@dataclass(frozen=True)
class Area:
    """One area's block with its input and output shapes, its feedforward inputs (primary first) and its
    feedback and lateral inputs (``recurrent``, empty in a one-step network)."""

    name: str
    block: AreaSpec
    level: int
    in_channels: int
    in_size: int
    inputs: tuple[Projection, ...]
    recurrent: tuple[Projection, ...] = ()

    @property
    def channels(self) -> int:
        return self.block.channels

    @property
    def size(self) -> int:
        if self.block.size is not None:
            return min(self.block.size, self.in_size)
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
    projections: tuple[Projection, ...]  # by index: the feedforward ones, then (steps >= 2) feedback and lateral
    heads: tuple[Head, ...]
    steps: int = DEFAULT_STEPS  # time steps the network is unrolled over; 1 is the feedforward network
    intrinsic: bool = False  # every area's 3x3 recurrence within itself (steps >= 2)
    step_norm: bool = False  # a GroupNorm per area and step on the convolution's output, before the ReLU

    @property
    def recurrent_projections(self) -> tuple[Projection, ...]:
        """Feedback and lateral projections (none when ``steps`` is 1)."""
        return tuple(p for p in self.projections if p.recurrent)

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

    # What the pipeline asks of any network it trains (a reference model's spec answers the same): its name in
    # tables, its input channels, whether runs of it can be stacked, its config.json record (the model it builds:
    # network.model.build_network).
    stackable = True

    @property
    def name(self) -> str:
        return self.connectome.name

    @property
    def in_channels(self) -> int:
        return self.architecture.in_channels

    def record(self) -> dict[str, Any]:
        """What a run's config.json records of the network beside its ``network`` config, and rebuilds it from."""
        return {"connectome": self.connectome.to_dict(), "architecture": self.architecture.to_dict()}

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
        """Trainable parameters of the model built from this spec (blocks, adapters, heads, learned gains,
        intrinsic recurrence): every one, used by a task or not (see :meth:`parameters_used`)."""
        return self._count({a.name for a in self.areas}, {a.name for a in self.areas} if self.steps > 1 else set(),
                           {h.name for h in self.heads}, {(a.name, t) for a in self.areas for t in range(self.steps)})

    def _count(self, areas: set[str], later: set[str], heads: set[str], computed: set[tuple[str, int]]) -> int:
        """Parameters of the blocks of ``areas`` and their feedforward inputs, the recurrent inputs (and intrinsic
        recurrence) of ``later`` (areas computed at a step after the first), ``heads``, and the per-step norms of
        the ``computed`` (area, step) pairs."""
        n = sum(a.n_parameters for a in self.areas if a.name in areas)
        n += sum(p.adapter.n_parameters for p in self.projections if p.adapter is not None
                 and (p.target in later if p.recurrent else p.target in areas))
        n += sum(h.in_features * h.outputs + h.outputs for h in self.heads if h.name in heads)
        if self.intrinsic:
            n += sum(intrinsic_parameters(a.channels) for a in self.areas if a.name in later)
        if self.mode == "learned-gain":
            n += sum(1 for p in self.projections if (p.target in later if p.recurrent else p.target in areas))
        if self.step_norm:  # a scale and a shift per channel, per area and step
            n += sum(2 * self.area(a).channels for a, _ in computed)
        return n

    def parameters_used(self, heads: tuple[str, ...] | list[str], every_step: bool = False) -> int:
        """Trainable parameters that the outputs of ``heads`` depend on: those a loss on these heads trains (the
        others get no gradient; tested by counting gradients). ``every_step``: the heads read every step (a loss
        at every step, ``--loss-steps all``), else the last only.

        Counted over (area, step): the heads read their areas at the last step (or every step); an area at step t
        reads its feedforward sources at t and, for t >= 1, its feedback and lateral sources (and itself, with
        intrinsic recurrence) at t - 1. A one-step network under the "what" task leaves its dorsal areas out; a
        recurrent one uses those whose feedback reaches the ventral stream in time."""
        for h in heads:
            self.head(h)  # an unknown head: one line
        ff = {a.name: [p.source for p in a.inputs] for a in self.areas}
        rec = {a.name: [p.source for p in a.recurrent] + ([a.name] if self.intrinsic else []) for a in self.areas}
        last = self.steps - 1
        stack = [(self.head(h).area, t) for h in heads for t in (range(self.steps) if every_step else (last,))]
        seen: set[tuple[str, int]] = set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            area, t = node
            stack.extend((s, t) for s in ff[area])
            if t > 0:
                stack.extend((s, t - 1) for s in rec[area])
        return self._count({a for a, _ in seen}, {a for a, t in seen if t > 0}, set(heads), seen)

    def needed_areas(self, heads: tuple[str, ...] | list[str]) -> list[str]:
        """Areas that the given heads depend on, in computation order (others are skipped)."""
        need: set[str] = set()
        stack = [self.head(h).area for h in heads]
        inputs = {a.name: a.inputs + a.recurrent for a in self.areas}
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
                tuple((h.name, h.area, h.outputs) for h in self.heads), self.mode,
                *((self.steps,) if self.steps > 1 else ()), *(("intrinsic",) if self.intrinsic else ()),
                *(("step_norm",) if self.step_norm else ()))

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
        steps = f", steps={self.steps}" if self.steps > 1 else ""
        steps += ", intrinsic" if self.intrinsic else ""
        steps += ", step norm" if self.step_norm else ""
        return (f"CompiledNetwork({self.connectome.name!r}, mode={self.mode!r}{steps}, areas={self.order}, "
                f"projections={len(self.projections)}, parameters={self.n_parameters:,})")

    def activation_names(self) -> list[str]:
        """The keys of ``model(x, return_areas=True)[1]``: each area's name (its last step), and with
        ``steps`` >= 2 also ``AREA@t<k>`` for every step k = 0 .. steps-1 (``IT@t0`` is the feedforward sweep)."""
        names = list(self.order)
        if self.steps > 1:
            names += [step_name(a, t) for t in range(self.steps) for a in self.order]
        return names


INTRINSIC_KERNEL = 3  # the within-area recurrent convolution's kernel (BLT's lateral 3x3)


def norm_groups(channels: int) -> int:
    """Groups of an area's per-step GroupNorm: as many as CORnet-RT's 32 with at least 2 channels a group (the
    largest divisor of the channels that allows it: V1's 32 channels 16 groups, IT's 256 32; a widened twin's 287
    channels 7). One channel a group would erase what is constant over the map: the block's bias, and feedback
    from a 1x1 area, whose gradients are then rounding noise that Adam turns into full steps."""
    return max((g for g in range(1, 33) if channels % g == 0 and channels // g >= 2), default=1)


def intrinsic_parameters(channels: int) -> int:
    """An area's intrinsic recurrence: a 3x3 convolution from its channels to its channels, no bias."""
    return channels * channels * INTRINSIC_KERNEL ** 2


ArchitectureLike = Architecture | str | os.PathLike[str] | None


def compile_network(
    connectome: Connectome | str | os.PathLike[str] | CompiledNetwork,
    architecture: ArchitectureLike = None,
    image_size: int | None = None,
    mode: str | None = None,
    steps: int | None = None,
    in_channels: int | None = None,
    classes: int | None = None,
    intrinsic: bool | None = None,
    step_norm: bool | None = None,
) -> CompiledNetwork:
    """The one compile step (see the module docstring). ``connectome`` is a preset name, a file or a
    Connectome; ``architecture`` an :class:`Architecture`, a ``.json``/``.toml`` file or None (the notebook's
    network for six-area connectomes, blocks by level for others); ``image_size`` overrides the architecture's,
    ``in_channels`` its input channels (1 grey, 3 RGB) and ``classes`` the outputs of its "what" head (the data's
    classes); ``steps`` >= 2 unrolls the network in time with its feedback and lateral projections, and
    ``intrinsic`` adds every area's recurrence within itself; ``step_norm`` a GroupNorm per area and step on the
    convolution's output, before the ReLU (at any number of steps, so a twin can have it too). Left out (None),
    they are the network's defaults (:data:`~visualstreams.network.modes.DEFAULT_MODE`, ``DEFAULT_STEPS``, no
    intrinsic recurrence, no norms); a compiled network passes through as it is, and any argument given that
    differs from its own is refused (never silently ignored).

    Raises :class:`ConnectomeError` or :class:`ConfigError` with a one-line message naming the problem.
    """
    if isinstance(connectome, CompiledNetwork):
        what = next((h.outputs for h in connectome.heads if h.name == "what"), None)
        own = {"architecture": None, "image size": connectome.image_size,
               "input channels": connectome.architecture.in_channels, "classes": what, "mode": connectome.mode,
               "steps": connectome.steps, "intrinsic": connectome.intrinsic, "step norm": connectome.step_norm}
        asked = {"architecture": architecture, "image size": image_size, "input channels": in_channels,
                 "classes": classes, "mode": mode, "steps": steps, "intrinsic": intrinsic, "step norm": step_norm}
        conflicts = [k for k, v in asked.items() if v is not None and v != own[k]]
        if conflicts:
            said = "; ".join("an architecture of its own" if k == "architecture" else f"{k} {own[k]}, not {asked[k]}"
                             for k in conflicts)
            raise ConfigError(f"a compiled network keeps what it was compiled with ({said}): compile the "
                              "connectome again to change it")
        return connectome
    mode = DEFAULT_MODE if mode is None else mode
    steps = check_steps(DEFAULT_STEPS if steps is None else steps)
    intrinsic, step_norm = bool(intrinsic), bool(step_norm)
    check_mode(mode)
    if intrinsic and steps < 2:
        raise ConfigError("intrinsic recurrence acts from one step to the next: it needs --steps 2 or more")
    conn = load_connectome(connectome)
    arch, directions = _complete(conn, architecture)
    if image_size is not None and image_size != arch.image_size:
        arch = arch.replace(image_size=image_size)
    if in_channels is not None and in_channels != arch.in_channels:
        arch = arch.replace(in_channels=in_channels)
    what = arch.heads.get("what")
    if classes is not None and what is not None and what.outputs != classes:
        arch = arch.replace(heads={**arch.heads, "what": HeadSpec(what.area, classes)})
    ff = feedforward_part(conn, directions)
    validate_pair(conn, ff, arch, directions, steps)
    levels = hierarchy_levels(ff, arch.input_area)  # type: ignore[arg-type]
    areas: list[Area] = []
    projections: list[Projection] = []
    built: dict[str, Area] = {}
    for name in topological_order(ff):
        block = arch.areas[name]
        if name == arch.input_area:
            in_ch, in_size, inputs = arch.in_channels, min(arch.eye_size or arch.image_size, arch.image_size), ()
        else:
            srcs = ff.sources(name)
            order = list(built)
            primary = max(srcs, key=lambda s: (levels[s], ff.strength(s, name), -order.index(s)))
            in_ch, in_size = built[primary].channels, built[primary].size
            wiring = []
            for src in [primary] + [s for s in srcs if s != primary]:
                s_area = built[src]
                adapter = None
                if src != primary and (s_area.channels != in_ch or s_area.size != in_size):
                    adapter = Adapter(s_area.channels, in_ch, in_size)
                w = ff.strength(src, name)
                p = Projection(src, name, len(projections), w, gain_of(mode, w), src == primary, adapter)
                projections.append(p)
                wiring.append(p)
            inputs = tuple(wiring)
        area = Area(name, block, levels[name], in_ch, in_size, inputs)
        if area.size < 1:
            raise ConfigError(f"area {name}: the image ({arch.image_size}px) is pooled away before it")
        built[name] = area
        areas.append(area)
    if steps > 1:
        # Feedback and lateral projections, in the connectome's row-major order, after every feedforward one (so
        # the feedforward part's indices, modules and initial weights are those of the one-step network).
        extra: dict[str, list[Projection]] = {a: [] for a in built}
        for (src, tgt), d in directions.items():
            if d == "feedforward":
                continue
            target, w = built[tgt], conn.strength(src, tgt)
            adapter = Adapter(built[src].channels, target.channels, target.in_size, recurrent=True)
            p = Projection(src, tgt, len(projections), w, gain_of(mode, w), False, adapter, d)
            projections.append(p)
            extra[tgt].append(p)
        areas = [replace(a, recurrent=tuple(extra[a.name])) for a in areas]
        built = {a.name: a for a in areas}
    heads = tuple(Head(h, s.area, s.outputs, built[s.area].channels * built[s.area].size ** 2)
                  for h, s in arch.heads.items())
    return CompiledNetwork(conn, arch, mode, tuple(areas), tuple(projections), heads, steps, bool(intrinsic),
                           bool(step_norm))


def _complete(connectome: Connectome,
              architecture: ArchitectureLike) -> tuple[Architecture, dict[tuple[str, str], str]]:
    """``architecture`` (a path is read by :func:`load_architecture`) completed for ``connectome``, and every
    projection's direction (searched from the input area it settles on).

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
    input_area = arch.input_area if arch.input_area is not None else default_input_area(connectome)
    if isinstance(architecture, Architecture) and arch.heads:
        heads = dict(arch.heads)  # an Architecture object's heads are kept as given (one rebuilt from a run's too)
    else:
        hinted = {h: a for h, a in dict(connectome.extra.get("heads", {})).items() if a in connectome.areas}
        heads = {h: arch.heads.get(h) or HeadSpec(hinted.get(h, d.area), d.outputs)
                 for h, d in NOTEBOOK_HEADS.items()}
    missing = [a for a in connectome.areas if a not in arch.areas]
    directions = projection_directions(connectome, input_area)
    # Levels along the feedforward projections (a cycle among them has none; validation reports it).
    levels = hierarchy_levels(feedforward_part(connectome, directions), input_area)
    # An area the input cannot reach has no level; validation reports it, so any block will do here.
    areas = {**arch.areas, **{a: block_for_level(levels.get(a, 3)) for a in missing}}
    return Architecture(areas, heads, input_area, arch.in_channels, arch.image_size, arch.name,
                        arch.eye_size), directions


def default_input_area(connectome: Connectome) -> str:
    """Where the image enters when the architecture does not say: V1, or the connectome's suggestion when it has no
    V1 (the mouse's VISp)."""
    hint = connectome.extra.get("input_area")
    return hint if NOTEBOOK_INPUT not in connectome.areas and hint in connectome.areas else NOTEBOOK_INPUT


__all__ = ["Adapter", "Area", "CompiledNetwork", "Head", "MODES", "Projection", "check_steps", "compile_network",
           "default_architecture", "default_input_area", "intrinsic_parameters", "norm_groups"]
