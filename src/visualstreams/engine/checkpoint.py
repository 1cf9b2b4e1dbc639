"""Checkpoints: the training loop's whole state in one file of plain tensors and data, read back with
``weights_only=True``; the format, its version and the checks that a checkpoint fits the run continuing it.
The file's name and place are the run directory's business (:mod:`visualstreams.runs.rundir`).
Imports the engine's config and the leaves; never the loop or run directories."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..errors import ConfigError, VisualStreamsError
from .config import TrainConfig

CHECKPOINT_FORMAT = "visualstreams-checkpoint"
CHECKPOINT_VERSION = 1


def _cpu(obj: Any) -> Any:
    """``obj`` with every tensor moved to the CPU, so a GPU run's checkpoint also resumes on a CPU machine."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_cpu(v) for v in obj)
    return obj


def checkpoint_state(
    model: torch.nn.Module,
    optimizer: Any,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    config: TrainConfig,
    *,
    epoch: int,
    step: int,
    history: list[dict[str, float]],
    sums: dict[str, torch.Tensor],
    seconds: float,
    perm: torch.Tensor | None,
    order_gen: torch.Generator,
    aug_gen: torch.Generator,
    checkpoint_every: int | None = None,
) -> dict[str, Any]:
    """The loop's whole state after ``step`` batches of ``epoch`` (``step`` = batches per epoch: the epoch is over;
    the key keeps its name, the files' format).

    Only tensors, dicts, lists, numbers, strings and None, so that ``torch.load(..., weights_only=True)``
    reads it back (the RNG states are uint8 tensors). The permutation is stored rather than regenerated:
    ``order_gen`` has already moved past it.
    """
    device = next(model.parameters()).device
    return _cpu({
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "visualstreams": __version__,
        "train": config.to_dict(),
        "network": config.network.to_dict(),
        "epoch": epoch,
        "step": step,
        "checkpoint_every": checkpoint_every,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "history": [dict(h) for h in history],
        "sums": dict(sums),
        "seconds": float(seconds),
        "perm": perm,
        "order_gen": order_gen.get_state(),
        "aug_gen": aug_gen.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),  # CPU reductions split work by thread: the count changes low bits
    })


CHECKPOINT_KEYS = frozenset(("train", "epoch", "step", "model", "optimizer", "scheduler", "history", "sums",
                             "seconds", "perm", "order_gen", "aug_gen", "torch_rng"))


def check_checkpoint_every(checkpoint_every: int | None) -> None:
    """``checkpoint_every``: None or 0 (epoch ends only) or a whole number of batches, else a one-line error."""
    if checkpoint_every is not None and checkpoint_every < 0:
        raise ConfigError(f"checkpoint_every must be >= 0 batches, got {checkpoint_every}")


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; anything else gets a one-line :class:`VisualStreamsError`."""
    path = Path(path)
    bad = f"{path}: is corrupt or not a visualstreams checkpoint"
    # Nothing can continue from it; what can be done instead, said once.
    remedy = "nothing can resume from it: put back a good copy, or train the run again from the start (--overwrite)"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise VisualStreamsError(f"{path}: no checkpoint there") from None
    except Exception as exc:  # truncated zips, foreign pickles, ...: each raises its own type, none is a bug
        raise VisualStreamsError(f"{bad} ({_cause(exc)}); {remedy}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise VisualStreamsError(f"{bad} (no {CHECKPOINT_FORMAT!r} marker); {remedy}")
    if state.get("version") != CHECKPOINT_VERSION:
        raise VisualStreamsError(f"{path}: checkpoint version {state.get('version')!r} is not supported "
                                 f"(this visualstreams {__version__} reads version {CHECKPOINT_VERSION})")
    missing = sorted(CHECKPOINT_KEYS - set(state))
    if missing:
        raise VisualStreamsError(f"{bad} ({missing[0]!r} missing); {remedy}")
    return state


def _cause(exc: Exception) -> str:
    """torch's reason in a few whole words: its first sentence, without the advice it appends."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if "Weights only load failed" in text:  # torch's first line is advice on weights_only, not the cause
        return "not a file of plain tensors and data"
    sentence = text.split(". ")[0].rstrip(".")
    if len(sentence) > 120:  # cut at a word, never mid-word
        sentence = sentence[:120].rsplit(" ", 1)[0] + " ..."
    return sentence


def of_config(state: dict[str, Any], config: TrainConfig) -> bool:
    """The checkpoint ``state`` was written by a run of ``config``: its train and network configs read back equal
    (fields added since it was written have their defaults there, crop_pad none before it existed; one written
    before the network config was split holds the network's fields in ``train`` and no input), whichever layout
    each was saved in."""
    try:
        saved = TrainConfig.from_dict(state["train"], state.get("visualstreams"), state.get("network"))
    except (ConfigError, TypeError, AttributeError, KeyError):
        return False
    return saved.to_dict() == config.to_dict() and saved.network.recorded_for(config.network)


def check_state(state: dict[str, Any], config: TrainConfig, n: int, batches: int) -> None:
    """Refuse a checkpoint that cannot continue this loop (another config, other data, inconsistent)."""
    if not of_config(state, config):
        raise VisualStreamsError("checkpoint belongs to another run (its train or network config differs)")
    epoch, done, history = state["epoch"], state["step"], state["history"]
    ok = (isinstance(epoch, int) and isinstance(done, int) and isinstance(history, list)
          and 1 <= epoch <= config.epochs and 0 <= done <= batches
          and len(history) == (epoch if done >= batches else epoch - 1))
    if ok and done < batches:
        perm = state["perm"]
        ok = isinstance(perm, torch.Tensor) and perm.shape == (n,) and isinstance(state["sums"], dict)
    if not ok:
        raise VisualStreamsError(f"checkpoint does not fit this run ({n} training images, {batches} batches per "
                                 f"epoch, {config.epochs} epochs; it says epoch {epoch}, batch {done})")
