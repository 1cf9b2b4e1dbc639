"""CORnet-Z, CORnet-RT and CORnet-S (Kubilius et al. 2018, bioRxiv 408385; 2019, NeurIPS), written from the
published architecture with its module names, so a state dict of the published models loads (keys and shapes
tested), and with its initialisation. Each area ends in an ``output`` module whose output is the area's (per step,
where it recurs), as Brain-Score's CORnet commitments read them.

- CORnet-Z: per area a convolution (V1 7x7 at stride 2; 3x3 above), ReLU, 3x3 max-pool at stride 2; 64, 128,
  256, 512 channels.
- CORnet-RT (5 steps): per area an input convolution (V1 7x7 at stride 4; 3x3 at stride 2 above), GroupNorm(32),
  ReLU, added to the area's state, then a 3x3 convolution, GroupNorm(32), ReLU: the new state and output. At step
  0 only V1 sees the image (every other area's input is zero); at step t every area reads the output of step t-1 of
  the area below, so the image reaches IT at step 3.
- CORnet-S: V1 two convolutions (7x7 at stride 2 with a max-pool; 3x3) with batch norm; V2, V4, IT a 1x1 input
  convolution, then 2, 4 and 2 steps of a bottleneck (1x1 to 4x the channels, 3x3 at stride 2 on the first step
  and 1 after, 1x1 back) with a batch norm of its own per step, added to a skip (a strided 1x1 with batch norm on
  the first step, the state after).

Every CORnet ends in an average pool and a linear read-out (``decoder.linear``). Imports torch only.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

# CORnet's areas: the four regions Brain-Score's vision benchmarks record, to which every reference model is mapped
# (reference.REGIONS, the Brain-Score export's regions)
AREAS = ("V1", "V2", "V4", "IT")
CHANNELS = (64, 128, 256, 512)
RT_STEPS = 5
S_STEPS = {"V2": 2, "V4": 4, "IT": 2}


class Decoder(nn.Sequential):
    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(channels, classes)
        self.output = nn.Identity()


class BlockZ(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2)
        self.nonlin = nn.ReLU()
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.output = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.pool(self.nonlin(self.conv(x))))


class CORnetZ(nn.Sequential):
    def __init__(self, classes: int, in_channels: int, channels: tuple[int, ...] = CHANNELS) -> None:
        super().__init__()
        ins = (in_channels, *channels[:-1])
        for i, area in enumerate(AREAS):
            self.add_module(area, BlockZ(ins[i], channels[i], 7 if i == 0 else 3, 2 if i == 0 else 1))
        self.decoder = Decoder(channels[-1], classes)
        for m in self.modules():  # the published initialisation
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.constant_(m.bias, 0)


class BlockRT(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, out_size: int) -> None:
        super().__init__()
        self.out_channels, self.out_size = out_channels, out_size
        self.conv_input = nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2)
        self.norm_input = nn.GroupNorm(32, out_channels)
        self.nonlin_input = nn.ReLU()
        self.conv1 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm1 = nn.GroupNorm(32, out_channels)
        self.nonlin1 = nn.ReLU()
        self.output = nn.Identity()

    def forward(self, x: torch.Tensor | None, state: torch.Tensor | None, batch: int) -> torch.Tensor:
        if x is None:  # step 0 above V1: no input yet
            x = torch.zeros(batch, self.out_channels, self.out_size, self.out_size,
                            device=self.conv1.weight.device, dtype=self.conv1.weight.dtype)
        else:
            x = self.nonlin_input(self.norm_input(self.conv_input(x)))
        if state is not None:
            x = x + state
        return self.output(self.nonlin1(self.norm1(self.conv1(x))))


class CORnetRT(nn.Module):
    def __init__(self, classes: int, in_channels: int, image_size: int, steps: int = RT_STEPS,
                 channels: tuple[int, ...] = CHANNELS) -> None:
        super().__init__()
        self.steps = steps
        size, ins = image_size, (in_channels, *channels[:-1])
        for i, area in enumerate(AREAS):
            kernel, stride = (7, 4) if i == 0 else (3, 2)
            size = (size + 2 * (kernel // 2) - kernel) // stride + 1
            setattr(self, area, BlockRT(ins[i], channels[i], kernel, stride, size))
        self.decoder = Decoder(channels[-1], classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        states: dict[str, torch.Tensor] = {}
        for area in AREAS:  # step 0: the image into V1 only
            states[area] = getattr(self, area)(image if area == "V1" else None, None, len(image))
        for _ in range(1, self.steps):
            below = {"V1": image, **{AREAS[i + 1]: states[AREAS[i]] for i in range(len(AREAS) - 1)}}
            states = {area: getattr(self, area)(below[area], states[area], len(image)) for area in AREAS}
        return self.decoder(states["IT"])


class BlockS(nn.Module):
    scale = 4

    def __init__(self, in_channels: int, out_channels: int, steps: int) -> None:
        super().__init__()
        self.steps = steps
        wide = out_channels * self.scale
        self.conv_input = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.skip = nn.Conv2d(out_channels, out_channels, 1, stride=2, bias=False)
        self.norm_skip = nn.BatchNorm2d(out_channels)
        self.conv1 = nn.Conv2d(out_channels, wide, 1, bias=False)
        self.nonlin1 = nn.ReLU()
        self.conv2 = nn.Conv2d(wide, wide, 3, stride=2, padding=1, bias=False)
        self.nonlin2 = nn.ReLU()
        self.conv3 = nn.Conv2d(wide, out_channels, 1, bias=False)
        self.nonlin3 = nn.ReLU()
        self.output = nn.Identity()
        for t in range(steps):  # a batch norm per step (the published model's: "for training to work well")
            self.add_module(f"norm1_{t}", nn.BatchNorm2d(wide))
            self.add_module(f"norm2_{t}", nn.BatchNorm2d(wide))
            self.add_module(f"norm3_{t}", nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_input(x)
        for t in range(self.steps):
            skip = self.norm_skip(self.skip(x)) if t == 0 else x
            y = self.nonlin1(getattr(self, f"norm1_{t}")(self.conv1(x)))
            # the 3x3 convolution strides on the first step only (the published model sets conv2.stride each step)
            y = F.conv2d(y, self.conv2.weight, stride=2 if t == 0 else 1, padding=1)
            y = self.nonlin2(getattr(self, f"norm2_{t}")(y))
            y = getattr(self, f"norm3_{t}")(self.conv3(y))
            x = self.output(self.nonlin3(y + skip))
        return x


class CORnetS(nn.Sequential):
    def __init__(self, classes: int, in_channels: int, channels: tuple[int, ...] = CHANNELS) -> None:
        super().__init__()
        self.V1 = nn.Sequential()
        c = channels[0]
        for name, module in (("conv1", nn.Conv2d(in_channels, c, 7, 2, 3, bias=False)),
                             ("norm1", nn.BatchNorm2d(c)), ("nonlin1", nn.ReLU()), ("pool", nn.MaxPool2d(3, 2, 1)),
                             ("conv2", nn.Conv2d(c, c, 3, 1, 1, bias=False)), ("norm2", nn.BatchNorm2d(c)),
                             ("nonlin2", nn.ReLU()), ("output", nn.Identity())):
            self.V1.add_module(name, module)
        for i, area in enumerate(AREAS[1:], start=1):
            self.add_module(area, BlockS(channels[i - 1], channels[i], S_STEPS[area]))
        self.decoder = Decoder(channels[-1], classes)
        for m in self.modules():  # the published initialisation (its linear read-out keeps torch's default)
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


def build_cornet(name: str, classes: int, in_channels: int, image_size: int,
                 ch: Callable[[int], int] = round) -> nn.Module:
    """CORnet ``name`` (``cornet-z``, ``cornet-rt``, ``cornet-s``) for ``classes`` classes; ``ch``: each area's
    channels from the published ones (CORnet-RT's in multiples of 32: its group norms have 32 groups)."""
    if name == "cornet-z":
        return CORnetZ(classes, in_channels, tuple(ch(c) for c in CHANNELS))
    if name == "cornet-rt":
        groups = tuple(max(32, 32 * round(ch(c) / 32)) for c in CHANNELS)
        return CORnetRT(classes, in_channels, image_size, channels=groups)
    return CORnetS(classes, in_channels, tuple(ch(c) for c in CHANNELS))


__all__ = ["AREAS", "CORnetRT", "CORnetS", "CORnetZ", "build_cornet"]
