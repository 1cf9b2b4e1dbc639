"""Cluttered scenes (after Spoerer et al. 2017's digit clutter): several items of different classes on one canvas,
partly overlapping, later items drawn over earlier ones where they have ink; the target is which classes are
present.

The first item of a scene is the batch's own item; the others are items of the pool (training: the training set;
test: the test set) of classes drawn without replacement from those the scene does not have yet, as digit clutter
draws its digits. Each item sits at a uniformly drawn position on the canvas. Every random choice is read from
uniform draws the caller gives (the run's augmentation generator in training;
:func:`~visualstreams.data.noise.keyed_uniforms` of the test index at test: one fixed scene per test item).

Imports the errors and :data:`~visualstreams.data.cover.INK`.
"""

from __future__ import annotations

import torch

from ..errors import DataError
from .cover import INK

CLUTTER_STREAM = 0xC1A7  # keys the test scenes (with the item's index)


def clutter_draws(n_items: int, n_classes: int) -> int:
    """Uniforms one scene reads: a key per class (the order classes are drawn in), one per added item (which item
    of its class), two per item (its position)."""
    return n_classes + (n_items - 1) + 2 * n_items


def clutter(items: torch.Tensor, labels: torch.Tensor, pool: torch.Tensor, pool_labels: torch.Tensor,
            n_items: int, canvas: int, draws: torch.Tensor, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Scenes (B, 1, canvas, canvas) uint8 and their targets (B, n_classes), 1.0 for each class placed.

    ``items`` (B, 1, h, w) with ``labels`` (B,) are the scenes' first items; the others come from ``pool``
    (P, 1, h, w) with ``pool_labels``; ``draws`` (B, :func:`clutter_draws`) uniforms in [0, 1).
    """
    b, _, h, w = items.shape
    dev = items.device
    draws = draws.to(dev)
    counts = torch.bincount(pool_labels, minlength=n_classes)[:n_classes]
    if int((counts > 0).sum()) < n_items:
        raise DataError(f"clutter of {n_items} items needs {n_items} classes; the data have "
                        f"{int((counts > 0).sum())} with items")
    # Classes in the order drawn: the item's own first, then the others by their keys; classes without items last.
    keys = draws[:, :n_classes] + 2.0 * (counts == 0).to(draws.dtype)[None, :]
    keys = keys.scatter(1, labels[:, None], -1.0)
    classes = torch.argsort(keys, dim=1)[:, :n_items]  # (B, n)
    if bool((counts[classes[:, 1:]] == 0).any()):
        raise DataError(f"clutter of {n_items} items needs {n_items} classes with items in the data")
    order = torch.argsort(pool_labels, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    u_item = draws[:, n_classes:n_classes + n_items - 1]
    other = classes[:, 1:]
    pick = starts[other] + (u_item * counts[other]).long().clamp(max=(counts[other] - 1).clamp(min=0))
    scene_items = torch.cat([items[:, None], pool[order[pick]]], 1)  # (B, n, 1, h, w)
    u_pos = draws[:, n_classes + n_items - 1:].view(b, n_items, 2)
    offsets = (u_pos * (canvas - w + 1)).long().clamp(max=canvas - w)  # (B, n, 2): x, y
    out = torch.zeros((b, canvas, canvas), dtype=items.dtype, device=dev)
    batch = torch.arange(b, device=dev)[:, None, None]
    for j in range(n_items):  # later items over earlier ones, where they have ink
        rows = (offsets[:, j, 1:2] + torch.arange(h, device=dev))[:, :, None]
        cols = (offsets[:, j, 0:1] + torch.arange(w, device=dev))[:, None, :]
        patch = scene_items[:, j, 0]
        out[batch, rows, cols] = torch.where(patch > INK, patch, out[batch, rows, cols])
    present = torch.zeros((b, n_classes), device=dev).scatter_(1, classes, 1.0)
    return out[:, None], present
