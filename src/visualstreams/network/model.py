"""The network as an ``nn.Module``, built from a compiled spec: one convolutional block per area, one pathway
per projection, areas addressed by name (``model.areas["V4"]``).

Convention (documented in docs/network.md): a projection A -> B of strength w multiplies the activity A sends
to B by w. An area with several inputs sums them: ``input(B) = sum_A w_AB * adapt_AB(output(A))``; which
input is primary and which need an adapter (resample, then a learned 1x1 convolution) is decided by
:func:`~visualstreams.network.compile.compile_network`. So the mouse's V1->V4 and V1->MT shortcuts are real
pathways.

Unrolled in time (``spec.steps`` >= 2; conventions in docs/recurrence.md, from BLT networks): at every step t the
feedforward projections carry the outputs of step t (one feedforward sweep per step, as in a BLT network); each
feedback or lateral projection A -> B carries A's output of step t-1, resampled to B's convolution output size and
projected by its own learned 1x1 convolution to B's channels, scaled by its gain and added to B's convolution
output before the ReLU. At t = 0 no area has a previous output (the state starts at zero), so step 0 is exactly
the feedforward network; heads read the last step. Nothing is normalised per step unless ``spec.step_norm``
(below; T = 4 trains without it: docs/recurrence.md). With every feedback and lateral gain at 0 each step repeats
the feedforward network's output exactly. With intrinsic recurrence (``spec.intrinsic``) every area also adds a
3x3 convolution (no bias) of its own rectified map of step t-1, taken before its pooling (so at its own
resolution: in BLT networks pooling belongs to the bottom-up path into the next layer), to its convolution output
before the ReLU. With per-step normalisation (``spec.step_norm``) every area's sum is normalised by a GroupNorm of
its own step (CORnet-S normalises each step with its own BatchNorm; a GroupNorm keeps no running statistics)
before the ReLU.

The notebook scaled V1's output by V1->V2 (as here) but scaled V4, IT, MT and LIP *outputs* by their
incoming strengths. Because ReLU is positively homogeneous, ``w * relu(Wx + b) = relu(W(wx) + wb)``:
the two conventions span the same functions and differ only by how a bias is parameterised.

Imports torch and the network's own spec; never training, data or tasks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..connectome import Connectome
from ..errors import ConfigError
from ..metrics import at_step as step_name
from .architecture import Architecture, AreaSpec
from .compile import INTRINSIC_KERNEL, Adapter, CompiledNetwork, compile_network, norm_groups
from .modes import MODES
from .reference import ReferenceNetwork

__all__ = ["MODES", "AreaBlock", "ProjectionAdapter", "RecurrentAdapter", "VisualStreamsNet", "build_model",
           "build_network", "count_parameters"]


class AreaBlock(nn.Module):
    """conv(k x k) -> ReLU -> optional 2x2 max-pool, or a max-pool to the block's map size (``out_size``, the
    compiled area's size: an anatomy-derived block's, never larger than its input)."""

    def __init__(self, in_channels: int, spec: AreaSpec, out_size: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, spec.channels, spec.kernel_size, padding=spec.kernel_size // 2)
        self.pool: nn.Module = nn.MaxPool2d(2, 2) if spec.pool else nn.Identity()
        if spec.size is not None:
            self.pool = nn.AdaptiveMaxPool2d(out_size or spec.size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu(self.conv(x)))


class ProjectionAdapter(nn.Module):
    """Adapts a non-primary source to its target's input: resample, then 1x1 conv if channels differ."""

    def __init__(self, adapter: Adapter) -> None:
        super().__init__()
        self.out_size = adapter.size
        self.proj = (
            nn.Conv2d(adapter.in_channels, adapter.out_channels, 1, bias=False)
            if adapter.in_channels != adapter.out_channels else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-1]
        if size > self.out_size:
            x = F.adaptive_max_pool2d(x, self.out_size)
        elif size < self.out_size:
            x = F.interpolate(x, size=(self.out_size, self.out_size), mode="nearest")
        return self.proj(x)


class RecurrentAdapter(nn.Module):
    """A feedback or lateral projection: a 1x1 convolution to the target's channels and a resample to the target's
    convolution output size. Resample + 1x1 rather than a transposed convolution (BLT's choice) because the presets'
    size ratios are not one fixed stride (1 to 8 between areas of one network) and the feedforward adapters already
    resample this way: one mechanism for bringing a source to a target."""

    def __init__(self, adapter: Adapter) -> None:
        super().__init__()
        self.out_size = adapter.size
        self.proj = nn.Conv2d(adapter.in_channels, adapter.out_channels, 1, bias=False)

    def weight(self, gain: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # The gain scales the (tiny) 1x1 weights, not the target-sized signal: the same product, far fewer numbers.
        return self.proj.weight * gain if mask is None else self.proj.weight * mask * gain

    def forward(self, x: torch.Tensor, gain: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """This projection alone (the network sums an area's projections of one source size in one convolution,
        which equals the sum of these)."""
        return bring(x, self.weight(gain, mask), self.out_size)


def bring(x: torch.Tensor, weight: torch.Tensor, out_size: int) -> torch.Tensor:
    """``x`` through the 1x1 ``weight`` at ``out_size``. Nearest upsampling and a 1x1 convolution commute exactly,
    so a smaller source is convolved first, at its own size (measured: several times cheaper for feedback into
    V1); a larger one is max-pooled first."""
    size = x.shape[-1]
    if size > out_size:
        return F.conv2d(F.adaptive_max_pool2d(x, out_size), weight)
    y = F.conv2d(x, weight)
    return F.interpolate(y, size=(out_size, out_size), mode="nearest") if size < out_size else y


def group_norm(z: torch.Tensor, norm: nn.GroupNorm) -> torch.Tensor:
    """``norm(z)``, written out: torch's group_norm asks for a channels_last tensor's memory format, which vmap (the
    stacked engine's) cannot answer; the same statistics by reshaping, equal to it to rounding (tested against
    F.group_norm)."""
    b, c, h, w = z.shape
    x = z.reshape(b, norm.num_groups, -1)
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    x = ((x - mean) * torch.rsqrt(var + norm.eps)).reshape(b, c, h, w)
    return x * norm.weight.view(1, c, 1, 1) + norm.bias.view(1, c, 1, 1)


def conv1x1(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``F.conv2d(x, weight)`` for a 1x1 ``weight``, as one matrix product over the channels: the same sums (in
    another order), and its backward two matrix products, which beat oneDNN's backward of these small 1x1
    convolutions (measured on the CPU, bf16: forward + backward 30% less over the macaque's feedback shapes). A
    channels_last ``x`` (the engine's) is already the (pixels, channels) matrix; the result is channels_last too."""
    b, c, h, w = x.shape
    y = x.permute(0, 2, 3, 1).reshape(b * h * w, c) @ weight.reshape(weight.shape[0], c).t()
    return y.view(b, h, w, -1).permute(0, 3, 1, 2)


def add_feedback(z: torch.Tensor, groups: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """``z`` plus ``bring(x, weight, size of z)`` of every group ``(x, weight)``, the groups in their order. A 1x1
    source is one value per channel over the whole target, so it is added to the smallest other group before that
    group's upsampling: the same values, one target-sized upsampling and addition fewer (measured: the costliest
    feedback into V1 and V2 of the macaque), the sums rounded in another order."""
    out_size = z.shape[-1]
    ys = [conv1x1(F.adaptive_max_pool2d(x, out_size) if x.shape[-1] > out_size else x, w) for x, w in groups]
    points = [i for i, y in enumerate(ys) if y.shape[-1] == 1 < out_size]
    rest = [i for i in range(len(ys)) if i not in points]
    if points and rest:
        into = min(rest, key=lambda i: ys[i].shape[-1])
        for i in points:
            ys[into] = ys[into] + ys[i]
    for i in rest or points:
        y = ys[i]
        z = z + (F.interpolate(y, size=(out_size, out_size), mode="nearest") if y.shape[-1] < out_size else y)
    return z


class VisualStreamsNet(nn.Module):
    """A network built from a :class:`~visualstreams.network.compile.CompiledNetwork` (``spec``)."""

    def __init__(self, spec: CompiledNetwork) -> None:
        super().__init__()
        if not isinstance(spec, CompiledNetwork):
            raise TypeError("VisualStreamsNet takes a CompiledNetwork; use build_model(connectome, ...) instead")
        self.spec = spec
        self.connectome: Connectome = spec.connectome
        self.architecture: Architecture = spec.architecture
        self.mode = spec.mode
        self.silenced: set[str] = set()  # lesioned areas: their output is replaced by zeros
        self.silenced_from: dict[str, int] = {}  # areas silenced from a step on (recurrent networks)
        self.order: list[str] = spec.order
        self.edges: list[tuple[str, str]] = spec.edges
        # For each area: [(source, edge index, adapter key or None)], primary source first.
        self.inputs: dict[str, list[tuple[str, int, str | None]]] = {
            a.name: [(p.source, p.index, p.key if p.adapter is not None else None) for p in a.inputs]
            for a in spec.areas
        }
        self.areas = nn.ModuleDict()
        self.projections = nn.ModuleDict()
        # Modules are created in the compiled order (each area, then the adapters of its inputs), as before the
        # spec existed: the seed's initial weights depend on that order.
        for area in spec.areas:
            for p in area.inputs:
                if p.adapter is not None:
                    self.projections[p.key] = ProjectionAdapter(p.adapter)
            self.areas[area.name] = AreaBlock(area.in_channels, area.block, area.size)
        gains = torch.tensor([p.gain for p in spec.projections], dtype=torch.float32)
        if self.mode == "learned-gain":
            self.strengths = nn.Parameter(gains)
        else:
            self.register_buffer("strengths", gains)
        if self.mode == "density":
            # One fixed mask per projection over the target block's (out, in) channel pairs, keeping
            # round(strength x out x in) of them; drawn from the global RNG, so the run's seed fixes it.
            for p in (p for p in spec.projections if not p.recurrent):
                self._add_density_mask(p.index, self.areas[p.target].conv, p.strength)
        self.heads = nn.ModuleDict({h.name: nn.Linear(h.in_features, h.outputs) for h in spec.heads})
        # The recurrent inputs of an area, grouped by the sources' size: a group's sources are concatenated and go
        # through one 1x1 convolution (their weights side by side) and one resample, which equals the sum of the
        # projections one by one (the convolution is linear, the resample per channel) at a fraction of the cost.
        self._recurrent_groups: dict[str, list[list[tuple[str, int, str]]]] = {}
        for a in spec.areas:
            groups: dict[int, list[tuple[str, int, str]]] = {}
            for p in a.recurrent:
                groups.setdefault(spec.area(p.source).size, []).append((p.source, p.index, p.key))
            self._recurrent_groups[a.name] = list(groups.values())
        # Feedback and lateral modules come last, after everything a one-step network has: so a T-step network
        # starts from the one-step network's initial weights (and density masks) of the same seed.
        self.recurrent = nn.ModuleDict()
        for p in spec.recurrent_projections:
            assert p.adapter is not None
            self.recurrent[p.key] = RecurrentAdapter(p.adapter)
        if self.mode == "density":
            for p in spec.recurrent_projections:
                self._add_density_mask(p.index, self.recurrent[p.key].proj, p.strength)
        # Intrinsic recurrence after everything else: the same seed starts the feedback network's weights alike.
        self.intrinsic = nn.ModuleDict({a.name: nn.Conv2d(a.channels, a.channels, INTRINSIC_KERNEL,
                                                          padding=INTRINSIC_KERNEL // 2, bias=False)
                                        for a in spec.areas} if spec.intrinsic else {})
        # Per-step normalisation (spec.step_norm) last of all, for the same reason; GroupNorm draws nothing (scale 1,
        # shift 0), and it has no running statistics: training and evaluation compute the same thing.
        self.norms = nn.ModuleDict({a.name: nn.ModuleList(nn.GroupNorm(norm_groups(a.channels), a.channels)
                                                          for _ in range(spec.steps))
                                    for a in spec.areas} if spec.step_norm else {})
        self.area_shapes = spec.area_shapes
        # A species' eye (anatomy-derived networks): the image averaged down to the pixels its acuity resolves.
        eye = spec.architecture.eye_size
        self.eye: nn.Module = nn.AdaptiveAvgPool2d(eye) if eye is not None and eye < spec.image_size else nn.Identity()
        self._head_areas = {h.name: h.area for h in spec.heads}
        self._needed_cache: dict[tuple[str, ...], list[str]] = {}

    def _add_density_mask(self, index: int, conv: nn.Conv2d, strength: float) -> None:
        n_out, n_in = conv.out_channels, conv.in_channels
        keep = torch.zeros(n_out * n_in)
        keep[torch.randperm(n_out * n_in)[: round(min(strength, 1.0) * n_out * n_in)]] = 1.0
        self.register_buffer(f"density_mask_{index}", keep.view(n_out, n_in, 1, 1))

    # -- wiring queries -------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """The steps the network runs: its spec's (the model keeps no copy of its own). To run trained weights for
        another number of steps, give the model a spec of that many (as ``lesion --steps`` does)."""
        return self.spec.steps

    @property
    def head_names(self) -> tuple[str, ...]:
        return tuple(self.heads.keys())

    def edge_index(self, source: str, target: str) -> int:
        try:
            return self.edges.index((source, target))
        except ValueError:
            raise ConfigError(f"no projection {source}->{target} in this model") from None

    def needed_areas(self, heads: Sequence[str]) -> list[str]:
        """Areas that the given heads depend on, in computation order (others are skipped)."""
        key = tuple(heads)
        if key not in self._needed_cache:
            unknown = [h for h in heads if h not in self.heads]
            if unknown:
                raise ConfigError(f"unknown head {unknown[0]!r} (heads: {', '.join(self.heads)})")
            self._needed_cache[key] = self.spec.needed_areas(key)
        return self._needed_cache[key]

    # -- forward ------------------------------------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, heads: Iterable[str] | None = None, return_areas: bool = False,
        every_step: bool = False,
    ) -> Any:
        """Run the areas the requested heads need (all heads by default).

        Returns ``{head: output}``, or ``(outputs, activities)`` with ``return_areas=True``: ``{area: output}``,
        each ``(batch, channels, height, width)`` as ``spec.area_shapes`` gives it; a network of several steps
        adds ``{"AREA@t<k>": output at step k}`` for every step, and ``{area: ...}`` is then the last step's.
        ``every_step=True``: the outputs are a list, the heads applied to every step's areas, ``[{head: output at
        step 0}, ..., {head: output at the last step}]`` (one entry for a one-step network); the last entry is
        the same numbers as the default's outputs, bit for bit.
        """
        heads = tuple(heads) if heads is not None else self.head_names
        x = self.eye(x)
        if self.steps > 1:
            return self._unrolled(x, heads, return_areas, every_step)
        acts: dict[str, torch.Tensor] = {}
        for area in self.needed_areas(heads):
            wiring = self.inputs[area]
            if self.norms:  # the block's convolution, its step's norm, then its ReLU and pooling
                block = self.areas[area]
                z = (block.conv(x) if not wiring else self._density_preactivation(area, acts)
                     if self.mode == "density" else block.conv(self._feedforward_input(area, acts)))
                out = block.pool(torch.relu(group_norm(z, self.norms[area][0])))
            elif not wiring:
                out = self.areas[area](x)
            elif self.mode == "density":
                out = self._density_block(area, acts)
            else:
                out = self.areas[area](self._feedforward_input(area, acts))
            acts[area] = torch.zeros_like(out) if area in self.silenced or area in self.silenced_from else out
        out = {h: self.heads[h](acts[self._head_areas[h]].flatten(1)) for h in heads}
        result: Any = [out] if every_step else out
        return (result, acts) if return_areas else result

    def _unrolled(self, x: torch.Tensor, heads: tuple[str, ...], return_areas: bool, every_step: bool = False) -> Any:
        needed = self.needed_areas(heads)
        # The last step computes only what its heads read: its other areas (here the dorsal ones, under "what")
        # would feed only a step that never comes. Every area when their activities are asked for.
        last = needed if return_areas else self._feedforward_needed(heads)
        # Each group's weights (gain x mask x weight, side by side) once per forward, not once per step: the
        # same products, and one gradient accumulation into them instead of T - 1.
        weights = {area: [self._group_weight(group) for group in self._recurrent_groups[area]] for area in needed}
        stepwise: dict[str, torch.Tensor] = {}
        per_step: list[dict[str, torch.Tensor]] = []  # every step's head outputs (every_step only)
        prev: dict[str, torch.Tensor] = {}
        maps: dict[str, torch.Tensor] = {}  # each area's rectified map before pooling (intrinsic recurrence's input)
        first: torch.Tensor | None = None  # the input area's convolution of the image: the same at every step
        for t in range(self.steps):
            acts: dict[str, torch.Tensor] = {}
            for area in needed if t < self.steps - 1 else last:
                block = self.areas[area]
                if not self.inputs[area]:
                    if first is None:
                        first = block.conv(x)
                    z = first
                elif self.mode == "density":
                    z = self._density_preactivation(area, acts)
                else:
                    z = block.conv(self._feedforward_input(area, acts))
                if t > 0 and weights[area]:
                    z = add_feedback(z, [(self._group_source(group, prev), weight) for group, weight
                                         in zip(self._recurrent_groups[area], weights[area], strict=True)])
                if t > 0 and self.intrinsic:
                    z = z + self.intrinsic[area](maps[area])
                if self.norms:
                    z = group_norm(z, self.norms[area][t])
                rectified = torch.relu(z)
                out = block.pool(rectified)
                if area in self.silenced or self.silenced_from.get(area, self.steps) <= t:
                    out, rectified = torch.zeros_like(out), torch.zeros_like(rectified)
                if self.intrinsic:
                    maps[area] = rectified
                acts[area] = out
                if return_areas:
                    stepwise[step_name(area, t)] = out
            prev = acts
            if every_step and t < self.steps - 1:  # the last step's heads are applied below, as without every_step
                per_step.append({h: self.heads[h](acts[self._head_areas[h]].flatten(1)) for h in heads})
        outputs = {h: self.heads[h](prev[self._head_areas[h]].flatten(1)) for h in heads}
        result: Any = [*per_step, outputs] if every_step else outputs
        return (result, {**prev, **stepwise}) if return_areas else result

    def _feedforward_needed(self, heads: tuple[str, ...]) -> list[str]:
        """The areas the heads read through feedforward projections alone (a one-step network's needed areas)."""
        key = ("feedforward", *heads)
        if key not in self._needed_cache:
            need: set[str] = set()
            stack = [self._head_areas[h] for h in heads]
            while stack:
                a = stack.pop()
                if a not in need:
                    need.add(a)
                    stack.extend(src for src, _, _ in self.inputs[a])
            self._needed_cache[key] = [a for a in self.needed_areas(heads) if a in need]
        return self._needed_cache[key]

    def _group_weight(self, group: list[tuple[str, int, str]]) -> torch.Tensor:
        density = self.mode == "density"
        weights = [self.recurrent[key].weight(self.strengths[k], getattr(self, f"density_mask_{k}") if density
                                              else None) for _, k, key in group]
        return weights[0] if len(weights) == 1 else torch.cat(weights, 1)

    @staticmethod
    def _group_source(group: list[tuple[str, int, str]], prev: dict[str, torch.Tensor]) -> torch.Tensor:
        return prev[group[0][0]] if len(group) == 1 else torch.cat([prev[src] for src, _, _ in group], 1)

    def _recurrent_group(self, group: list[tuple[str, int, str]], prev: dict[str, torch.Tensor],
                         out_size: int) -> torch.Tensor:
        """A group's sum of projections at ``out_size`` (what the forward adds to the target, materialised)."""
        return bring(self._group_source(group, prev), self._group_weight(group), out_size)

    def _feedforward_input(self, area: str, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        inp = None
        for src, k, key in self.inputs[area]:
            sig = acts[src] if key is None else self.projections[key](acts[src])
            sig = sig * self.strengths[k]
            inp = sig if inp is None else inp + sig
        assert inp is not None
        return inp


    def _density_block(self, area: str, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.areas[area].pool(torch.relu(self._density_preactivation(area, acts)))

    def _density_preactivation(self, area: str, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        # conv is linear, so each projection can go through its own masked copy of the weights and the
        # results summed: the masks make the channel connectivity of each projection sparse on its own.
        conv = self.areas[area].conv
        total = None
        for src, k, key in self.inputs[area]:
            sig = acts[src] if key is None else self.projections[key](acts[src])
            weight = conv.weight * getattr(self, f"density_mask_{k}")
            y = F.conv2d(sig * self.strengths[k], weight, None, conv.stride, conv.padding)
            total = y if total is None else total + y
        assert total is not None
        return total + conv.bias.view(1, -1, 1, 1)

    def set_strength(self, source: str, target: str, value: float) -> None:
        """Change one projection's multiplier in place (0 removes its influence exactly)."""
        with torch.no_grad():
            self.strengths[self.edge_index(source, target)] = value


def build_model(
    connectome: Connectome | str | CompiledNetwork,
    architecture: Architecture | str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    mode: str | None = None,
    steps: int | None = None,
) -> VisualStreamsNet:
    """The one factory: a network from a connectome (preset name, file or object) or an already compiled spec.

    ``architecture`` (an :class:`Architecture` or a JSON/TOML file) defaults to the notebook's; areas it
    does not list get the default block of their hierarchy level (see
    :func:`~visualstreams.network.compile.compile_network`, which this calls)."""
    return VisualStreamsNet(compile_network(connectome, architecture, image_size, mode, steps))


def build_network(spec: CompiledNetwork | ReferenceNetwork) -> nn.Module:
    """The ``nn.Module`` of a run's spec, its weights drawn from torch's global generator: a connectome's
    :class:`VisualStreamsNet`, or the reference model a :class:`~visualstreams.network.reference.ReferenceNetwork`
    builds."""
    return spec.build() if isinstance(spec, ReferenceNetwork) else VisualStreamsNet(spec)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
