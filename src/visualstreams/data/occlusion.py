"""Occlusion by deletion: opaque blobs drawn over an item until they hide a stated fraction of its pixels.

Hidden pixels take the fill, :data:`FILL` = 0, Fashion-MNIST's background: what a blob hides carries no trace of
the item (no ink, no edge, no texture), and the blob itself is invisible against the background, so the part of
the item it hides is deleted, silhouette included: occlusion by deletion. The occluders are random opaque discs;
unlike the visible opaque shapes drawn over objects in Rajaei et al. 2019 (PLoS Comput Biol; their stimuli are not
reproduced here), they cannot be seen themselves. Tang et al. 2018 (PNAS) showed parts of an object through
"bubbles" instead, a window on the object rather than an occluder over it, and is not followed.

An item's pixels are those brighter than :data:`~visualstreams.data.cover.INK` (of 255). Each blob is a disc of
radius 2 to 5 pixels (drawn uniformly) centred on a pixel of the item or within :data:`SPREAD` pixels of it (drawn
uniformly among them, so the outline is hidden about as often as the inside); blobs are
added one after another until the item's hidden pixels reach ``round(level x item pixels)``, the last one cut off
in raster order at the pixel that reaches it, so **the hidden share is the level to within half a pixel** (tested).
A blob hides everything under it, background included (which is already at or near the fill). Every random choice
is read from uniform draws the caller gives (the run's augmentation generator in training;
:func:`~visualstreams.data.noise.keyed_uniforms` of the test index at test: one fixed scene per test item), and one
item's draws serve every level: a higher level adds blobs to a lower one's (the levels are nested).

Imports the data layer's keyed draws and cover bookkeeping.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .cover import CHUNK, INK, in_chunks, kept_scenes, pick_pixel, topmost_layer
from .noise import keyed_uniforms

FILL = 0  # what a hidden pixel shows: Fashion-MNIST's background
BLOBS = 64  # blobs drawn per item: enough to hide 80% of every Fashion-MNIST item (measured: 48 left 2 short)
MIN_RADIUS, MAX_RADIUS = 2.0, 5.0  # disc radii, in pixels
SPREAD = 2  # a blob is centred on the item or this many pixels from it (a square neighbourhood)
DRAWS = (BLOBS, 2)  # uniforms per item: (centre pixel, radius) for each blob
OCCLUSION_STREAM = 0x0CC2  # keys the test scenes (with the item's index)


def occlude(items: torch.Tensor, levels: torch.Tensor, draws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Occluded copies of uint8 ``items`` (B, 1, H, W) and the fraction of each item's pixels hidden (B,).

    ``levels`` (B,): the fraction to hide, each in [0, 1); ``draws`` (B, *DRAWS) uniforms in [0, 1)."""
    if len(items) > CHUNK:
        return in_chunks(occlude, {"items": items, "levels": levels, "draws": draws})
    b, _, h, w = items.shape
    dev = items.device
    k = draws.shape[1]
    draws = draws.to(dev)
    item = items[:, 0].flatten(1)  # (B, H*W)
    item_mask = item > INK
    # Centres on the item or within SPREAD pixels of it: the outline is hidden about as often as the inside.
    near = F.max_pool2d(item_mask.view(b, 1, h, w).float(), 2 * SPREAD + 1, 1, SPREAD).flatten(1) > 0
    centre = pick_pixel(near[:, None, :].expand(b, k, h * w), draws[..., 0])  # (B, K)
    radius = MIN_RADIUS + draws[..., 1] * (MAX_RADIUS - MIN_RADIUS)
    ys = torch.arange(h, device=dev).view(1, 1, h, 1)
    xs = torch.arange(w, device=dev).view(1, 1, 1, w)
    cy, cx = (centre // w)[..., None, None], (centre % w)[..., None, None]
    disc = ((ys - cy) ** 2 + (xs - cx) ** 2 <= radius[..., None, None] ** 2).flatten(2)  # (B, K, H*W)
    top, hidden = topmost_layer(disc, item_mask, levels)
    out = torch.where(top >= 0, torch.full_like(item, FILL), item).view(b, 1, h, w)
    return out, hidden


def occluded_test_items(pool: torch.Tensor, index: torch.Tensor, level: float) -> torch.Tensor:
    """The test items ``pool[index]`` at ``level`` (a fraction of their pixels hidden), each its one fixed scene:
    drawn from :func:`~visualstreams.data.noise.keyed_uniforms` of (:data:`OCCLUSION_STREAM`, its index), the same
    in every run, at any batch size."""
    index = index.reshape(-1).cpu()

    def make() -> torch.Tensor:
        draws = keyed_uniforms(OCCLUSION_STREAM, index, DRAWS)
        return occlude(pool[index.to(pool.device)], torch.full((len(index),), float(level)), draws)[0]

    return kept_scenes("occlusion", pool, index, level, make)
