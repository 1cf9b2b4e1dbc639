"""Digit debris (after Spoerer et al. 2017): fragments of other items drawn over an item until they cover a stated
fraction of its pixels. A fragment is drawn only where it has ink, so the item's interior goes under other items'
ink but its silhouette stays whole at every level (tested) and new ink appears around it; the task that hides the
item, silhouette included, is :mod:`~visualstreams.data.occlusion`.

An item's pixels are those brighter than :data:`~visualstreams.data.cover.INK` (of 255). Each fragment is a square
of 6 to 9 pixels cut from another item of the pool (training: the training set; test: the test set), centred on
one of that item's pixels, and drawn over the item centred on one of the item's pixels, where the fragment has ink
(its own dark background is not drawn). Fragments are added one after another, later ones on top, until the item's
covered pixels reach ``round(level x item pixels)``; the last fragment is cut off, in raster order, at the pixel
that reaches it, so the coverage is the level to within half a pixel where the fragments reach it (tested; at 80%
every Fashion-MNIST test item but one, left one pixel short). Fragments that fall where the item has
no ink stay: debris over the background too. Every random choice is read from uniform draws the caller gives (the
run's augmentation generator in training; :func:`~visualstreams.data.noise.keyed_uniforms` of the test index at
test, so each test item has one fixed scene), and one item's draws serve every level: a higher level adds
fragments to the lower one's (the levels are nested).

Until visualstreams 0.2 this was task ``occlusion``; run directories written before then rebuild it as ``debris``.

Imports the errors and the data layer's keyed draws and cover bookkeeping.
"""

from __future__ import annotations

import torch

from ..errors import DataError
from .cover import CHUNK, INK, in_chunks, kept_scenes, pick_pixel, topmost_layer
from .noise import keyed_uniforms

FRAGMENTS = 48  # fragments drawn per item: enough to cover 80% of every Fashion-MNIST item (measured)
MIN_SIZE, MAX_SIZE = 6, 9  # fragment sides, in pixels (Spoerer's debris: 6-9 px)
DRAWS = (FRAGMENTS, 4)  # uniforms per item: (source, size, source pixel, target pixel) for each fragment
DEBRIS_STREAM = 0x0CC1  # keys the test scenes (with the item's index); the value of the task's first version


def debris(items: torch.Tensor, levels: torch.Tensor, pool: torch.Tensor, position: torch.Tensor,
           draws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Copies of uint8 ``items`` (B, 1, H, W) under debris and the fraction of each item's pixels covered (B,).

    ``levels`` (B,): the fraction to cover, each in [0, 1); ``pool`` (P, 1, H, W) the items fragments are cut
    from, ``position`` (B,) each item's own place in it (its fragments come from the others); ``draws``
    (B, *DRAWS) uniforms in [0, 1).
    """
    if len(items) > CHUNK:
        return in_chunks(debris, {"items": items, "levels": levels, "position": position, "draws": draws},
                         pool=pool)
    b, _, h, w = items.shape
    dev = items.device
    k = draws.shape[1]
    draws = draws.to(dev)
    p = len(pool)
    if p < 2:
        raise DataError("debris needs at least two items to cut fragments from")
    # Another item of the pool for each fragment: (own place + 1 .. P-1) mod P.
    src = (position.to(dev)[:, None] + 1 + (draws[..., 0] * (p - 1)).long().clamp(max=p - 2)) % p  # (B, K)
    size = (MIN_SIZE + (draws[..., 1] * (MAX_SIZE - MIN_SIZE + 1)).int().clamp(max=MAX_SIZE - MIN_SIZE))
    source = pool[src][:, :, 0].flatten(2)  # (B, K, H*W)
    src_pixel = pick_pixel(source > INK, draws[..., 2]).int()  # (B, K)
    item = items[:, 0].flatten(1)  # (B, H*W)
    item_mask = item > INK
    dst_pixel = pick_pixel(item_mask[:, None, :].expand(b, k, h * w), draws[..., 3]).int()
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
    top, coverage = topmost_layer(inside & (value > INK), item_mask, levels)  # a fragment is drawn where it has ink
    shown = torch.gather(value, 1, top.clamp(min=0)[:, None, :]).squeeze(1)
    out = torch.where(top >= 0, shown, item).view(b, 1, h, w)
    return out.to(items.dtype), coverage


def debris_test_items(pool: torch.Tensor, index: torch.Tensor, level: float) -> torch.Tensor:
    """The test items ``pool[index]`` under debris at ``level`` (a fraction of their pixels), each its one fixed
    scene: drawn from :func:`~visualstreams.data.noise.keyed_uniforms` of (:data:`DEBRIS_STREAM`, its index), the
    same in every run, at any batch size."""
    index = index.reshape(-1).cpu()

    def make() -> torch.Tensor:
        draws = keyed_uniforms(DEBRIS_STREAM, index, DRAWS)
        return debris(pool[index.to(pool.device)], torch.full((len(index),), float(level)), pool, index, draws)[0]

    return kept_scenes("debris", pool, index, level, make)
