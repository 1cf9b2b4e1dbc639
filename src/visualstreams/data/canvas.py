"""The what-and-where canvas: items placed at random (training) or fixed (test) positions on a larger field,
on the images' device with one scatter per batch. Imports the errors only."""

from __future__ import annotations

import torch

from ..errors import DataError

ITEM_SIZE = 28
TEST_POSITION_SEED = 20240601  # one fixed test set for every run, whatever its seed


def canvas_offsets(n: int, canvas: int, generator: torch.Generator, item: int = ITEM_SIZE) -> torch.Tensor:
    """Top-left corners (x, y) of ``n`` items placed uniformly at random on a ``canvas`` x ``canvas`` field."""
    if canvas < item:
        raise DataError(f"canvas ({canvas}px) must be at least the item size ({item}px)")
    return torch.randint(0, canvas - item + 1, (n, 2), generator=generator)


def place_on_canvas(images: torch.Tensor, offsets: torch.Tensor, canvas: int) -> torch.Tensor:
    """Paste uint8 items (B, 1, h, w) onto blank canvases (B, 1, canvas, canvas) at ``offsets`` (B, 2) = (x, y).

    One scatter for the whole batch, on the images' device (no per-item Python).
    """
    b, _, h, w = images.shape
    out = torch.zeros((b, 1, canvas, canvas), dtype=images.dtype, device=images.device)
    offsets = offsets.to(images.device)
    rows = offsets[:, 1:2] + torch.arange(h, device=images.device)  # (B, h)
    cols = offsets[:, 0:1] + torch.arange(w, device=images.device)  # (B, w)
    batch = torch.arange(b, device=images.device)[:, None, None]
    out[batch, 0, rows[:, :, None], cols[:, None, :]] = images[:, 0]
    return out


def item_centres(offsets: torch.Tensor, item: int = ITEM_SIZE) -> torch.Tensor:
    """Centre (x, y) in pixels of items whose top-left corners are ``offsets``."""
    return offsets.float() + (item - 1) / 2.0
