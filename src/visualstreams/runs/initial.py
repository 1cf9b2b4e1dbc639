"""A run's initial weights: drawn from its seed (every run's), or read from a state dict the user has (``weights``:
torchvision's or CORnet's published file for a reference model, another run's ``model.pt`` for a connectome's
network), and whether it trains at all (``untrained``: the network scored as it starts, the field's control).
config.json records both in its ``init`` section (absent: seeded and trained, as every run before); nothing is
downloaded. Imports the engine and the network's reference models."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..engine import evaluate
from ..errors import ConfigError, VisualStreamsError
from ..network.reference import ReferenceNet, unwrap_state_dict


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The state dict in ``path`` (tensors only: ``weights_only``), unwrapped from a checkpoint's
    ``{"state_dict": ...}`` and DataParallel's ``module.`` prefix (CORnet's published files have both)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: no such weights file")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (a pickle, a zip or a tensor error: one line whichever)
        raise ConfigError(f"{path}: not a state dict torch can read with weights_only "
                          f"({(str(exc).splitlines() or [''])[0][:100]})") from None
    data = unwrap_state_dict(data) if isinstance(data, Mapping) else data
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ConfigError(f"{path}: not a state dict (a mapping of parameter names to tensors)")
    return dict(data)


def load_initial_weights(model: torch.nn.Module, path: str | os.PathLike[str],
                         sha256: str | None = None) -> dict[str, Any]:
    """Load ``path`` into ``model`` (refused in one line where it does not fit, naming the first key or shape that
    differs); ``sha256``: the file must still be the one a run recorded. Returns config.json's record of it."""
    p = Path(path).resolve()
    state = read_state_dict(p)
    digest = _sha256(p)
    if sha256 is not None and digest != sha256:
        raise VisualStreamsError(f"{p}: not the weights file the run started from (its SHA-256 differs)")
    if isinstance(model, ReferenceNet):
        model.load_weights(state)
    else:
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            why = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc))
            raise ConfigError(f"{path}: these weights do not fit the network ({why[:160]})") from None
    return {"weights": str(p), "sha256": digest}


def score_untrained(model: torch.nn.Module, data: Any, config: Any, precision: str) -> list[dict[str, float]]:
    """An untrained run's history: one entry, epoch 0, its test metrics as the network starts."""
    start = time.perf_counter()
    test = evaluate(model, data.test_x, data.test_y, config.make_task(), config.eval_batch_size, precision)
    return [{"epoch": 0, **{f"test_{k}": v for k, v in test.items()}, "seconds": time.perf_counter() - start}]


__all__ = ["load_initial_weights", "read_state_dict", "score_untrained"]
