"""Compile a connectome into a network: one convolutional block per area, one pathway per projection.

Convention (documented in the README): a projection A -> B of strength w multiplies the activity A sends
to B by w. An area with several inputs sums them: ``input(B) = sum_A w_AB * adapt_AB(output(A))``. The
*primary* input (the deepest source, i.e. the one furthest from V1; ties go to the stronger projection)
sets the block's input channels and spatial size; every other source is resampled to that size
(adaptive max-pool when larger, nearest-neighbour when smaller) and, if its channel count differs,
projected by a learned 1x1 convolution. So the mouse's V1->V4 and V1->MT shortcuts are real pathways.

The notebook scaled V1's output by V1->V2 (as here) but scaled V4, IT, MT and LIP *outputs* by their
incoming strengths. Because ReLU is positively homogeneous, ``w * relu(Wx + b) = relu(W(wx) + wb)``:
the two conventions span the same functions and differ only by how a bias is parameterised.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .architecture import Architecture, AreaSpec, architecture_for
from .connectome import Connectome, load_connectome, topological_order
from .errors import ConfigError


class AreaBlock(nn.Module):
    """conv(k x k) -> ReLU -> optional 2x2 max-pool."""

    def __init__(self, in_channels: int, spec: AreaSpec) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, spec.channels, spec.kernel_size, padding=spec.kernel_size // 2)
        self.pool = nn.MaxPool2d(2, 2) if spec.pool else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu(self.conv(x)))


class Projection(nn.Module):
    """Adapts a non-primary source to its target's input: resample, then 1x1 conv if channels differ."""

    def __init__(self, in_channels: int, out_channels: int, out_size: int) -> None:
        super().__init__()
        self.out_size = out_size
        self.proj = (
            nn.Conv2d(in_channels, out_channels, 1, bias=False) if in_channels != out_channels else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-1]
        if size > self.out_size:
            x = F.adaptive_max_pool2d(x, self.out_size)
        elif size < self.out_size:
            x = F.interpolate(x, size=(self.out_size, self.out_size), mode="nearest")
        return self.proj(x)


# How a projection's strength acts (see the README):
#   gain          a fixed multiplier on the signal (the notebook's scheme; the default)
#   learned-gain  a multiplier initialised from the strength and trained with the weights
#   density       the fraction of channel-to-channel connections kept, by a fixed random mask; no multiplier
#   none          the control: the same graph with every present projection at strength 1
MODES = ("gain", "learned-gain", "density", "none")


class VisualStreamsNet(nn.Module):
    """A network compiled from a connectome; areas are addressed by name (``model.areas["V4"]``)."""

    def __init__(self, connectome: Connectome, architecture: Architecture | None = None, mode: str = "gain") -> None:
        super().__init__()
        if mode not in MODES:
            raise ConfigError(f"unknown connection mode {mode!r} (modes: {', '.join(MODES)})")
        arch = architecture_for(connectome, architecture)
        connectome.validate(arch)
        self.connectome = connectome
        self.architecture = arch
        self.mode = mode
        self.silenced: set[str] = set()  # lesioned areas: their output is replaced by zeros
        self.order: list[str] = topological_order(connectome)
        depth = _depths(connectome, self.order)

        self.areas = nn.ModuleDict()
        self.projections = nn.ModuleDict()
        self.edges: list[tuple[str, str]] = []
        # For each area: [(source, edge index, projection key or None)], primary source first.
        self.inputs: dict[str, list[tuple[str, int, str | None]]] = {}
        channels: dict[str, int] = {}
        size: dict[str, int] = {}
        strengths = []
        for area in self.order:
            spec = arch.areas[area]
            if area == arch.input_area:
                in_ch, in_size = arch.in_channels, arch.image_size
                self.inputs[area] = []
            else:
                srcs = connectome.sources(area)
                primary = max(srcs, key=lambda s: (depth[s], connectome.strength(s, area), -self.order.index(s)))
                in_ch, in_size = channels[primary], size[primary]
                wiring = []
                for src in [primary] + [s for s in srcs if s != primary]:
                    key = None
                    if src != primary and (channels[src] != in_ch or size[src] != in_size):
                        key = f"{src}_to_{area}"
                        self.projections[key] = Projection(channels[src], in_ch, in_size)
                    wiring.append((src, len(self.edges), key))
                    self.edges.append((src, area))
                    strengths.append(connectome.strength(src, area))
                self.inputs[area] = wiring
            self.areas[area] = AreaBlock(in_ch, spec)
            channels[area] = spec.channels
            size[area] = in_size // 2 if spec.pool else in_size
            if size[area] < 1:
                raise ConfigError(f"area {area}: the image ({arch.image_size}px) is pooled away before it")
        gains = torch.tensor([1.0 if mode in ("none", "density") else w for w in strengths], dtype=torch.float32)
        if mode == "learned-gain":
            self.strengths = nn.Parameter(gains)
        else:
            self.register_buffer("strengths", gains)
        if mode == "density":
            # One fixed mask per projection over the target block's (out, in) channel pairs, keeping
            # round(strength x out x in) of them; drawn from the global RNG, so the run's seed fixes it.
            for k, ((_, target), w) in enumerate(zip(self.edges, strengths, strict=True)):
                conv = self.areas[target].conv
                n_out, n_in = conv.out_channels, conv.in_channels
                keep = torch.zeros(n_out * n_in)
                keep[torch.randperm(n_out * n_in)[: round(min(w, 1.0) * n_out * n_in)]] = 1.0
                self.register_buffer(f"density_mask_{k}", keep.view(n_out, n_in, 1, 1))
        self.heads = nn.ModuleDict(
            {h: nn.Linear(channels[s.area] * size[s.area] ** 2, s.outputs) for h, s in arch.heads.items()}
        )
        self.area_shapes = {a: (channels[a], size[a], size[a]) for a in self.order}
        self._needed_cache: dict[tuple[str, ...], list[str]] = {}

    # -- wiring queries -------------------------------------------------------------------------------
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
            need: set[str] = set()
            stack = [self.architecture.heads[h].area for h in heads]
            while stack:
                a = stack.pop()
                if a not in need:
                    need.add(a)
                    stack.extend(s for s, _, _ in self.inputs[a])
            self._needed_cache[key] = [a for a in self.order if a in need]
        return self._needed_cache[key]

    # -- forward ------------------------------------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, heads: Iterable[str] | None = None, return_areas: bool = False
    ) -> dict[str, torch.Tensor] | tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Run the areas the requested heads need (all heads by default).

        Returns ``{head: output}``, or ``(outputs, {area: activity})`` with ``return_areas=True``.
        """
        heads = tuple(heads) if heads is not None else self.head_names
        acts: dict[str, torch.Tensor] = {}
        for area in self.needed_areas(heads):
            wiring = self.inputs[area]
            if not wiring:
                out = self.areas[area](x)
            elif self.mode == "density":
                out = self._density_block(area, acts)
            else:
                inp = None
                for src, k, key in wiring:
                    sig = acts[src] if key is None else self.projections[key](acts[src])
                    sig = sig * self.strengths[k]
                    inp = sig if inp is None else inp + sig
                out = self.areas[area](inp)
            acts[area] = torch.zeros_like(out) if area in self.silenced else out
        out = {h: self.heads[h](acts[self.architecture.heads[h].area].flatten(1)) for h in heads}
        return (out, acts) if return_areas else out


    def _density_block(self, area: str, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        # conv is linear, so each projection can go through its own masked copy of the weights and the
        # results summed: the masks make the channel connectivity of each projection sparse on its own.
        block = self.areas[area]
        conv = block.conv
        total = None
        for src, k, key in self.inputs[area]:
            sig = acts[src] if key is None else self.projections[key](acts[src])
            weight = conv.weight * getattr(self, f"density_mask_{k}")
            y = F.conv2d(sig * self.strengths[k], weight, None, conv.stride, conv.padding)
            total = y if total is None else total + y
        assert total is not None
        total = total + conv.bias.view(1, -1, 1, 1)
        return block.pool(torch.relu(total))

    def set_strength(self, source: str, target: str, value: float) -> None:
        """Change one projection's multiplier in place (0 removes its influence exactly)."""
        with torch.no_grad():
            self.strengths[self.edge_index(source, target)] = value


def _depths(connectome: Connectome, order: list[str]) -> dict[str, int]:
    """Longest path length from any source-less area."""
    depth = {a: 0 for a in order}
    for a in order:
        for s in connectome.sources(a):
            depth[a] = max(depth[a], depth[s] + 1)
    return depth


def build_model(
    connectome: Connectome | str,
    architecture: Architecture | str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    mode: str = "gain",
) -> VisualStreamsNet:
    """The one factory: compile a connectome (preset name, file or object) into a network.

    ``architecture`` (an :class:`Architecture` or a JSON/TOML file) defaults to the notebook's; areas it
    does not list get the default block of their hierarchy level (see :func:`architecture_for`)."""
    conn = load_connectome(connectome)
    arch = architecture_for(conn, architecture)
    if image_size is not None and image_size != arch.image_size:
        arch = arch.with_image_size(image_size)
    return VisualStreamsNet(conn, arch, mode)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
