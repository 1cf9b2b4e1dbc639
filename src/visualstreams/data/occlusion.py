"""Occluded items ("digit debris", after Spoerer et al. 2017): fragments of other items drawn over an item until
they cover a stated fraction of its pixels.

An item's pixels are those brighter than :data:`INK` (of 255). Each fragment is a square of 6 to 9 pixels cut
from another item of the pool (training: the training set; test: the test set), centred on one of that item's
pixels, and drawn over the item centred on one of the item's pixels, where the fragment has ink (its own dark
background is not drawn). Fragments are added one after another, later ones on top, until the item's covered
pixels reach ``round(level x item pixels)``; the last fragment is cut off, in raster order, at the pixel that
reaches it, so the coverage is the level to within one pixel (tested). Fragments that fall where the item has no
ink stay: debris over the background too. Every random choice is read from uniform draws the caller gives (the
run's augmentation generator in training; :func:`~visualstreams.data.noise.keyed_uniforms` of the test index at
test, so each test item has one fixed scene), and one item's draws serve every level: a higher level adds
fragments to the lower one's (the levels are nested).

Imports the errors and the data layer's keyed draws.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

from ..errors import DataError
from .noise import keyed_uniforms

INK = 25  # a pixel brighter than this (of 255) is part of an item or of a fragment
FRAGMENTS = 48  # fragments drawn per item: enough to cover 80% of every Fashion-MNIST item (measured)
MIN_SIZE, MAX_SIZE = 6, 9  # fragment sides, in pixels (Spoerer's debris: 6-9 px)
DRAWS = (FRAGMENTS, 4)  # uniforms per item: (source, size, source pixel, target pixel) for each fragment
OCCLUSION_STREAM = 0x0CC1  # keys the test scenes (with the item's index)
CHUNK = 128  # items composed at once: bounds the (items, fragments, 28, 28) intermediates


def _pick_pixel(mask: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Flat index of the pixel chosen by ``u`` in [0, 1) among the True pixels of each mask (..., H*W); the
    centre pixel where a mask is empty."""
    counts = torch.cumsum(mask, -1, dtype=torch.int32)
    n = counts[..., -1:]
    rank = ((u.unsqueeze(-1) * n).floor().int().minimum((n - 1).clamp(min=0)) + 1).contiguous()
    pick = torch.searchsorted(counts, rank).squeeze(-1)
    side = int(round(mask.shape[-1] ** 0.5))
    return torch.where(n.squeeze(-1) > 0, pick.clamp(max=mask.shape[-1] - 1), (side // 2) * side + side // 2)


def occlude(items: torch.Tensor, levels: torch.Tensor, pool: torch.Tensor, position: torch.Tensor,
            draws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Occluded copies of uint8 ``items`` (B, 1, H, W) and the fraction of each item's pixels covered (B,).

    ``levels`` (B,): the fraction to cover, each in [0, 1); ``pool`` (P, 1, H, W) the items fragments are cut
    from, ``position`` (B,) each item's own place in it (its fragments come from the others); ``draws``
    (B, *DRAWS) uniforms in [0, 1).
    """
    if len(items) > CHUNK:
        parts = [occlude(items[i:i + CHUNK], levels[i:i + CHUNK], pool, position[i:i + CHUNK], draws[i:i + CHUNK])
                 for i in range(0, len(items), CHUNK)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    b, _, h, w = items.shape
    dev = items.device
    k = draws.shape[1]
    draws = draws.to(dev)
    p = len(pool)
    if p < 2:
        raise DataError("occlusion needs at least two items to cut fragments from")
    # Another item of the pool for each fragment: (own place + 1 .. P-1) mod P.
    src = (position.to(dev)[:, None] + 1 + (draws[..., 0] * (p - 1)).long().clamp(max=p - 2)) % p  # (B, K)
    size = (MIN_SIZE + (draws[..., 1] * (MAX_SIZE - MIN_SIZE + 1)).int().clamp(max=MAX_SIZE - MIN_SIZE))
    source = pool[src][:, :, 0].flatten(2)  # (B, K, H*W)
    src_pixel = _pick_pixel(source > INK, draws[..., 2]).int()  # (B, K)
    item = items[:, 0].flatten(1)  # (B, H*W)
    item_mask = item > INK
    dst_pixel = _pick_pixel(item_mask[:, None, :].expand(b, k, h * w), draws[..., 3]).int()
    half = size // 2

    def corner(pixel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # top-left of a fragment centred on the pixel, kept inside the image
        r, c = pixel // w, pixel % w
        return (r - half).clamp(min=0).minimum(h - size), (c - half).clamp(min=0).minimum(w - size)

    sr, sc = corner(src_pixel)
    tr, tc = corner(dst_pixel)
    ys = torch.arange(h, device=dev, dtype=torch.int32).view(1, 1, h, 1)
    xs = torch.arange(w, device=dev, dtype=torch.int32).view(1, 1, 1, w)
    dy, dx = ys - tr[..., None, None], xs - tc[..., None, None]  # (B, K, H, 1), (B, K, 1, W)
    edge = size[..., None, None]
    inside = (((dy >= 0) & (dy < edge)) & ((dx >= 0) & (dx < edge))).flatten(2)  # (B, K, H*W), one broadcast
    flat = ((sr[..., None, None] + dy).clamp(0, h - 1) * w + (sc[..., None, None] + dx).clamp(0, w - 1)).flatten(2)
    value = torch.gather(source, 2, flat.long())  # (B, K, H*W): each fragment where it would be drawn
    ink = inside & (value > INK)  # where each fragment is drawn whole
    # The first fragment over each pixel (K: none); the item's pixels covered after fragment j are those whose
    # first fragment is <= j, so the coverage after each fragment is a cumulative histogram of first fragments.
    countdown = torch.arange(k, 0, -1, device=dev, dtype=torch.uint8)[None, :, None]  # K .. 1
    first = k - (ink.to(torch.uint8) * countdown).amax(1).long()  # (B, H*W); an amax is far cheaper than argmax
    hist = torch.zeros((b, k + 1), dtype=torch.int32, device=dev)
    hist.scatter_add_(1, first, item_mask.int())
    counts = torch.cumsum(hist[:, :k], 1, dtype=torch.int32)  # (B, K), non-decreasing
    n_item = item_mask.sum(-1, dtype=torch.int32)
    target = torch.round(levels.to(dev).float() * n_item.float()).int()  # (B,)
    full = (counts < target[:, None]).sum(1, dtype=torch.int32)  # fragments drawn whole: those before the one
    before = torch.where(full > 0, counts.gather(1, (full.long() - 1).clamp(min=0)[:, None]).squeeze(1), 0)
    need = target - before  # item pixels the last, cut fragment must add (0 at level 0)
    last = full.clamp(max=k - 1).long()
    last_ink = ink.gather(1, last[:, None, None].expand(b, 1, h * w)).squeeze(1)  # (B, H*W)
    new = last_ink & item_mask & (first >= full[:, None])  # item pixels it is the first to cover
    rank = torch.cumsum(new, 1, dtype=torch.int32)
    # The raster position of the need-th new pixel: the cut; none of the last fragment when nothing is needed,
    # or when every fragment is drawn whole (the target was not reached).
    cut = torch.searchsorted(rank, need[:, None].contiguous()).squeeze(1)
    cut = torch.where((need > 0) & (full < k), cut, -1)
    raster = torch.arange(h * w, device=dev)[None, :]
    # The topmost fragment drawn over each pixel: the last whole one, or the cut one where it is drawn.
    order = torch.arange(1, k + 1, device=dev, dtype=torch.uint8)[None, :, None]
    whole = (ink & (order <= full[:, None, None].to(torch.uint8))).to(torch.uint8) * order
    top = whole.amax(1).long() - 1  # (B, H*W): -1 for none
    top = torch.where(last_ink & (raster <= cut[:, None]), last[:, None], top)
    shown = torch.gather(value, 1, top.clamp(min=0)[:, None, :]).squeeze(1)
    out = torch.where(top >= 0, shown, item).view(b, 1, h, w)
    coverage = ((top >= 0) & item_mask).sum(1).float() / n_item.clamp(min=1).float()
    return out.to(items.dtype), coverage


# Test scenes are fixed (keyed by the item's index) and cost about 0.4 ms an item: each evaluation of every epoch
# would redraw the same ones, so they are kept per pool tensor (dropped with it) and per (level, indices).
# Keyed by the pool's id while it lives (a finalizer drops its entry when it goes, before the id can be reused);
# not a WeakKeyDictionary, whose lookups would compare tensors elementwise.
_SCENES: dict[int, dict[tuple[Any, ...], torch.Tensor]] = {}
_SCENES_PER_POOL = 64


def occluded_test_items(pool: torch.Tensor, index: torch.Tensor, level: float) -> torch.Tensor:
    """The test items ``pool[index]`` at ``level`` (a fraction of their pixels), each its one fixed scene: drawn
    from :func:`~visualstreams.data.noise.keyed_uniforms` of (:data:`OCCLUSION_STREAM`, its index), the same in
    every run, at any batch size."""
    index = index.reshape(-1).cpu()
    key = (float(level), pool._version, index.numpy().tobytes())
    if id(pool) not in _SCENES:
        _SCENES[id(pool)] = {}
        weakref.finalize(pool, _SCENES.pop, id(pool), None)
    cache = _SCENES[id(pool)]
    if key not in cache:
        if len(cache) >= _SCENES_PER_POOL:
            cache.pop(next(iter(cache)))
        items = pool[index.to(pool.device)]
        draws = keyed_uniforms(OCCLUSION_STREAM, index, DRAWS)
        cache[key] = occlude(items, torch.full((len(index),), float(level)), pool, index, draws)[0]
    return cache[key]
