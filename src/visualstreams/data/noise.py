"""Pixel noise for test items: each item its own draw, keyed by the run's seed and the item's index in the test
set, so an item gets the same noise in every run of that seed (every species, mode and step count), at any batch
size, in evaluation, lesions and probe recordings alike, and two items get different noise. Imports nothing from
visualstreams."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

# Mixed into every key so these streams never coincide with another use of (seed, index) seeding.
TEST_NOISE_STREAM = 0x7E57


def item_noise(seed: int, index: torch.Tensor | Sequence[int], shape: Sequence[int]) -> torch.Tensor:
    """Standard normal noise of ``shape`` (one item's) for each test item in ``index``: (len(index), *shape).

    One NumPy generator per item, seeded by a SeedSequence of (stream, seed, index): SeedSequence hashes the
    key into independent streams, which a single generator sliced by batch could not give at any batch size.
    About 20 us an item (0.2 s for 10,000 items), small beside an evaluation's forward passes.
    """
    idx = np.asarray(index.cpu() if isinstance(index, torch.Tensor) else index, dtype=np.int64).reshape(-1)
    out = np.empty((len(idx), *shape), dtype=np.float32)
    for k, i in enumerate(idx):
        out[k] = np.random.default_rng([TEST_NOISE_STREAM, int(seed), int(i)]).standard_normal(shape,
                                                                                               dtype=np.float32)
    return torch.from_numpy(out)


def keyed_uniforms(stream: int, index: torch.Tensor | Sequence[int], shape: Sequence[int]) -> torch.Tensor:
    """Uniform [0, 1) draws of ``shape`` for each test item in ``index``, keyed by (``stream``, index) alone: the
    same numbers for an item in every run, whatever its seed, batch size or condition (the fixed test sets of the
    occlusion and clutter tasks; the stream names the generator that maps them onto a scene)."""
    idx = np.asarray(index.cpu() if isinstance(index, torch.Tensor) else index, dtype=np.int64).reshape(-1)
    out = np.empty((len(idx), *shape), dtype=np.float32)
    for k, i in enumerate(idx):
        out[k] = np.random.default_rng([int(stream), int(i)]).random(shape, dtype=np.float32)
    return torch.from_numpy(out)
