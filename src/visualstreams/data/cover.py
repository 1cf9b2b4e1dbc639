"""What the occlusion and debris generators share: an item's pixels, a pixel drawn among them, layers added one on
top of another until they cover a stated share of the item's pixels (the last one cut), and the fixed test scenes
kept per pool.

Both generators (:mod:`~visualstreams.data.occlusion`, :mod:`~visualstreams.data.debris`) draw K layers over an
item (blobs, or fragments of other items) and stop where the item's covered pixels reach ``round(level x item
pixels)``; they differ in each layer's shape and in what it shows (the fill, or the fragment's ink).

Imports the data layer's keyed draws.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch

INK = 25  # a pixel brighter than this (of 255) is part of an item (or of a debris fragment)
CHUNK = 128  # items composed at once: bounds the (items, layers, H, W) intermediates


def pick_pixel(mask: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Flat index of the pixel chosen by ``u`` in [0, 1) among the True pixels of each mask (..., H*W); the
    centre pixel where a mask is empty."""
    counts = torch.cumsum(mask, -1, dtype=torch.int32)
    n = counts[..., -1:]
    rank = ((u.unsqueeze(-1) * n).floor().int().minimum((n - 1).clamp(min=0)) + 1).contiguous()
    pick = torch.searchsorted(counts, rank).squeeze(-1)
    side = int(round(mask.shape[-1] ** 0.5))
    return torch.where(n.squeeze(-1) > 0, pick.clamp(max=mask.shape[-1] - 1), (side // 2) * side + side // 2)


def topmost_layer(drawn: torch.Tensor, item_mask: torch.Tensor,
                  levels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Layers added in order until they cover ``levels`` (B,) of each item's pixels.

    ``drawn`` (B, K, H*W): where each of K layers would be drawn; ``item_mask`` (B, H*W) the item's pixels. Layers
    are added one on top of another until the item's covered pixels reach ``round(level x item pixels)``; the
    last one is cut off, in raster order, at the pixel that reaches it, so the cover is the level to within half
    a pixel (unless all K layers together cover less). Returns the topmost layer drawn at each pixel (B, H*W;
    -1 for none) and the share of each item's pixels covered (B,).
    """
    b, k, n_px = drawn.shape
    dev = drawn.device
    # The first layer over each pixel (K: none); the item's pixels covered after layer j are those whose first
    # layer is <= j, so the cover after each layer is a cumulative histogram of first layers.
    countdown = torch.arange(k, 0, -1, device=dev, dtype=torch.uint8)[None, :, None]  # K .. 1
    first = k - (drawn.to(torch.uint8) * countdown).amax(1).long()  # (B, H*W); an amax is far cheaper than argmax
    hist = torch.zeros((b, k + 1), dtype=torch.int32, device=dev)
    hist.scatter_add_(1, first, item_mask.int())
    counts = torch.cumsum(hist[:, :k], 1, dtype=torch.int32)  # (B, K), non-decreasing
    n_item = item_mask.sum(-1, dtype=torch.int32)
    target = torch.round(levels.to(dev).float() * n_item.float()).int()  # (B,)
    full = (counts < target[:, None]).sum(1, dtype=torch.int32)  # layers drawn whole: those before the one
    before = torch.where(full > 0, counts.gather(1, (full.long() - 1).clamp(min=0)[:, None]).squeeze(1), 0)
    need = target - before  # item pixels the last, cut layer must add (0 at level 0)
    last = full.clamp(max=k - 1).long()
    last_drawn = drawn.gather(1, last[:, None, None].expand(b, 1, n_px)).squeeze(1)  # (B, H*W)
    new = last_drawn & item_mask & (first >= full[:, None])  # item pixels it is the first to cover
    rank = torch.cumsum(new, 1, dtype=torch.int32)
    # The raster position of the need-th new pixel: the cut; none of the last layer when nothing is needed, or
    # when every layer is drawn whole (the target was not reached).
    cut = torch.searchsorted(rank, need[:, None].contiguous()).squeeze(1)
    cut = torch.where((need > 0) & (full < k), cut, -1)
    raster = torch.arange(n_px, device=dev)[None, :]
    # The topmost layer drawn over each pixel: the last whole one, or the cut one where it is drawn.
    order = torch.arange(1, k + 1, device=dev, dtype=torch.uint8)[None, :, None]
    whole = (drawn & (order <= full[:, None, None].to(torch.uint8))).to(torch.uint8) * order
    top = whole.amax(1).long() - 1  # (B, H*W): -1 for none
    top = torch.where(last_drawn & (raster <= cut[:, None]), last[:, None], top)
    coverage = ((top >= 0) & item_mask).sum(1).float() / n_item.clamp(min=1).float()
    return top, coverage


def in_chunks(compose: Callable[..., tuple[torch.Tensor, torch.Tensor]], split: dict[str, torch.Tensor],
              **fixed: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``compose(**split, **fixed)`` over :data:`CHUNK` items at a time (each tensor of ``split`` cut along its
    first axis), the results concatenated."""
    n = len(next(iter(split.values())))
    parts = [compose(**{k: t[i:i + CHUNK] for k, t in split.items()}, **fixed) for i in range(0, n, CHUNK)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


# Test scenes are fixed (keyed by the item's index) and cost about 0.4 ms an item: each evaluation of every epoch
# would redraw the same ones, so they are kept per pool tensor (dropped with it) and per (generator, level,
# indices). Keyed by the pool's id while it lives (a finalizer drops its entry when it goes, before the id can be
# reused); not a WeakKeyDictionary, whose lookups would compare tensors elementwise.
_SCENES: dict[int, dict[tuple[Any, ...], torch.Tensor]] = {}
_SCENES_PER_POOL = 64


def kept_scenes(kind: str, pool: torch.Tensor, index: torch.Tensor, level: float,
                make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """The test scenes of ``kind`` (the generator) for ``pool[index]`` at ``level``: ``make()`` the first time,
    then the kept tensor."""
    key = (kind, float(level), pool._version, index.reshape(-1).cpu().numpy().tobytes())
    if id(pool) not in _SCENES:
        _SCENES[id(pool)] = {}
        weakref.finalize(pool, _SCENES.pop, id(pool), None)
    cache = _SCENES[id(pool)]
    if key not in cache:
        if len(cache) >= _SCENES_PER_POOL:
            cache.pop(next(iter(cache)))
        cache[key] = make()
    return cache[key]
