"""The training engine: data resident on the device, batches cut by index, mixed precision per device.

Each run writes a run directory: ``config.json`` (everything needed to rebuild the run, written first),
``history.json`` (one entry per epoch, rewritten atomically after each), ``checkpoint.pt`` while it runs
and ``model.pt`` (final weights).

Nothing lost: ``checkpoint.pt`` is rewritten atomically at the end of every epoch and, with
``checkpoint_every=K``, every K optimizer steps. It holds everything the loop needs to continue exactly
(see :func:`fit`), so :func:`resume_run` (``visualstreams train --resume RUN_DIR``) finishes an interrupted run
with the same weights and history (bar the ``seconds`` field) as a run that was never interrupted. On the CPU
the continuation is bitwise identical: every kernel the loop uses there (convolutions, linear layers, Adam,
the reductions of the loss and metric sums) is deterministic for a given number of threads, and nothing in the
loop draws from an RNG that the checkpoint does not restore. The number of threads does matter (1 and 2
threads differ by about 1e-6 after a few steps), so the checkpoint records it and resuming with another
number warns; set ``OMP_NUM_THREADS`` (or ``torch.set_num_threads``) as the run had it. On CUDA, cuDNN may
pick non-deterministic convolution algorithms (and bf16 autocast is the default there), so a resumed GPU run
can differ from an uninterrupted one in the last bits, as two uninterrupted GPU runs can; the CUDA path is
not covered by the tests. Once ``model.pt`` is written the checkpoint is deleted: a finished run needs
only its weights, and a stale checkpoint beside them could only mislead.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import __version__
from .architecture import Architecture, architecture_for
from .connectome import Connectome, load_connectome
from .data import CLASSES, FashionMNIST, load_fashion_mnist
from .errors import ConfigError, DivergenceError, VisualStreamsError
from .model import MODES, VisualStreamsNet, build_model, count_parameters
from .storage import check_writable, format_bytes, free_bytes, remove_temporaries, save_torch, write_json
from .tasks import Task, get_task

PRECISIONS = ("auto", "bf16", "fp32")
CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = "visualstreams-checkpoint"
CHECKPOINT_VERSION = 1
# What a run writes besides config.json; a replaced run's are removed first (see train()).
RUN_OUTPUTS = ("history.json", CHECKPOINT_FILE, "confusion.json", "model.pt")
RUN_FILES = ("config.json", *RUN_OUTPUTS, "lesions.csv")  # everything written into a run directory


class RunFinished(VisualStreamsError):
    """Raised by :func:`resume_run` for a run that has nothing left to do (the CLI prints it and exits 0)."""


@dataclass
class TrainConfig:
    """Hyper-parameters of one run. ``recipe`` names the preset the other fields started from."""

    recipe: str = "notebook"
    task: str = "what"
    canvas: int | None = None  # canvas size for where tasks (default 56); None keeps 28x28 items for "what"
    where_weight: float = 1.0
    noise: float = 0.0
    mode: str = "gain"
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    schedule: str = "constant"  # "constant" or "onecycle" (lr is then the peak)
    label_smoothing: float = 0.0
    hflip: bool = False
    seed: int = 0
    train_subset: int | None = None
    device: str = "auto"
    precision: str = "auto"
    eval_batch_size: int = 1000

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (self.lr > 0 and np.isfinite(self.lr), f"learning rate must be a positive number, got {self.lr}"),
            (self.schedule in ("constant", "onecycle"), f"unknown schedule {self.schedule!r} (constant, onecycle)"),
            (0 <= self.label_smoothing < 1, f"label smoothing must be in [0, 1), got {self.label_smoothing}"),
            (self.train_subset is None or self.train_subset >= 1,
             f"train subset must be >= 1 image, got {self.train_subset}"),
            (self.precision in PRECISIONS, f"unknown precision {self.precision!r} ({', '.join(PRECISIONS)})"),
            (self.eval_batch_size >= 1, f"eval batch size must be >= 1, got {self.eval_batch_size}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        if self.mode not in MODES:
            raise ConfigError(f"unknown connection mode {self.mode!r} (modes: {', '.join(MODES)})")
        self.make_task()

    def make_task(self) -> Task:
        return get_task(self.task, self.canvas, self.where_weight, self.noise)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Recipes are small dicts of TrainConfig fields. `notebook` keeps results comparable with the notebook;
# `fast` trades its exact recipe for wall time: bigger batches, a one-cycle schedule (warm-up, then
# cosine decay from a higher peak), label smoothing and horizontal flips (clothes are left-right symmetric).
RECIPES: dict[str, dict[str, Any]] = {
    "notebook": {"epochs": 5, "batch_size": 64, "lr": 1e-3, "schedule": "constant", "label_smoothing": 0.0,
                 "hflip": False},
    "fast": {"epochs": 3, "batch_size": 128, "lr": 3e-3, "schedule": "onecycle", "label_smoothing": 0.1,
             "hflip": True},
}


def make_config(recipe: str = "notebook", **overrides: Any) -> TrainConfig:
    """A TrainConfig from a recipe, with the given fields overridden (``None`` means keep the recipe's)."""
    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r} (recipes: {', '.join(RECIPES)})")
    values = {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
    unknown = set(values) - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise ConfigError(f"unknown training option {sorted(unknown)[0]!r}")
    return TrainConfig(recipe=recipe, **values)


# -- device and precision ------------------------------------------------------------------------------------
def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r} (auto, cpu, cuda, cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but CUDA is not available here")
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"unsupported device {device!r} (auto, cpu, cuda, cuda:N)")
    return dev


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slow."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError:
        pass
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """bf16 autocast on CUDA and on CPUs with native bf16; fp32 elsewhere."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


def autocast(device: torch.device, precision: str) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


# -- the engine -------------------------------------------------------------------------------------------------
@dataclass
class DeviceData:
    """The dataset on the training device: uint8 images (N, 1, H, W), int64 labels."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    @classmethod
    def from_dataset(cls, data: FashionMNIST, device: torch.device) -> DeviceData:
        return cls(data.train_images.unsqueeze(1).to(device), data.train_labels.to(device),
                   data.test_images.unsqueeze(1).to(device), data.test_labels.to(device))


@torch.inference_mode()
def evaluate(
    model: VisualStreamsNet,
    images: torch.Tensor,
    labels: torch.Tensor,
    task: Task | str = "what",
    batch_size: int = 1000,
    precision: str = "fp32",
) -> dict[str, float]:
    """Metrics of ``model`` on uint8 items (N, 1, 28, 28), in large batches (test positions are fixed)."""
    t = get_task(task) if isinstance(task, str) else task
    was_training = model.training
    model.eval()
    device = images.device
    offsets = t.test_offsets(len(labels))
    sums: dict[str, torch.Tensor] = {}
    with autocast(device, precision):
        for i in range(0, len(labels), batch_size):
            sl = slice(i, i + batch_size)
            x, targets = t.make_batch(images[sl], labels[sl], offsets=None if offsets is None else offsets[sl])
            for k, v in t.batch_sums(model(x, heads=t.heads), targets).items():
                sums[k] = sums[k] + v if k in sums else v
    model.train(was_training)
    return t.finalize(sums, len(labels))


def fit(
    model: VisualStreamsNet,
    data: DeviceData,
    config: TrainConfig,
    precision: str,
    progress: bool = True,
    desc: str = "",
    on_epoch: Any = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    state: dict[str, Any] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place; returns the history (one dict per epoch).

    ``checkpoint``: a path to rewrite atomically at the end of every epoch and, when ``checkpoint_every`` is
    K >= 1, after every K-th optimizer step (counted across epochs; ``None`` or 0: epoch ends only). It holds
    (see :func:`checkpoint_state`): the model, optimizer and scheduler states, the epoch and the steps of it
    done, the history so far, the partial sums and seconds of the epoch in progress, that epoch's
    permutation, and the states of the shuffling and augmentation generators and of torch's global RNGs.
    ``state``: such a checkpoint (see :func:`read_checkpoint`) to continue from, with ``model`` already
    holding its weights; the loop then picks up at the step after the one it was written at.
    """
    if checkpoint_every is not None and checkpoint_every < 0:
        raise ConfigError(f"checkpoint_every must be >= 0 steps, got {checkpoint_every}")
    task = config.make_task()
    device = data.train_x.device
    n = len(data.train_y)
    steps = (n + config.batch_size - 1) // config.batch_size
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = (
        torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.epochs * steps)
        if config.schedule == "onecycle" else None
    )
    # Shuffling and augmentation draw from their own CPU generators, so a run's data order depends on the
    # seed alone (not on the device or on how many random numbers the model's initialisation used).
    order_gen = torch.Generator().manual_seed(config.seed)
    aug_gen = torch.Generator().manual_seed(config.seed + 1)
    history: list[dict[str, float]] = []
    first_epoch, first_step = 1, 0
    perm: torch.Tensor | None = None
    sums: dict[str, torch.Tensor] = {}
    seconds_before = 0.0
    if state is not None:
        _check_state(state, config, n, steps)
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        order_gen.set_state(state["order_gen"])
        aug_gen.set_state(state["aug_gen"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        history = [dict(h) for h in state["history"]]
        if state["step"] >= steps:  # written at an epoch's end: the next one starts afresh
            first_epoch = state["epoch"] + 1
        else:
            first_epoch, first_step = state["epoch"], state["step"]
            perm = state["perm"].to(device)
            sums = {k: v.to(device) for k, v in state["sums"].items()}
            seconds_before = float(state["seconds"])

    def save(epoch: int, step: int, seconds: float) -> None:
        assert checkpoint is not None
        mid_epoch = step < steps
        save_torch(checkpoint, checkpoint_state(
            model, optimizer, scheduler, config, epoch=epoch, step=step, history=history,
            sums=sums if mid_epoch else {}, seconds=seconds if mid_epoch else 0.0,
            perm=perm if mid_epoch else None, order_gen=order_gen, aug_gen=aug_gen,
            checkpoint_every=checkpoint_every))

    model.train()
    for epoch in range(first_epoch, config.epochs + 1):
        if epoch != first_epoch or perm is None:
            perm = torch.randperm(n, generator=order_gen).to(device)
            sums, seconds_before, first_step = {}, 0.0, 0
        # The seconds of a resumed epoch are those before its checkpoint plus those after the restart.
        t0 = time.perf_counter() - seconds_before
        bar = tqdm(range(first_step, steps), desc=f"{desc}epoch {epoch}/{config.epochs}", disable=not progress,
                   leave=True, unit="batch", mininterval=0.5, initial=first_step, total=steps)
        for step in bar:
            idx = perm[step * config.batch_size:(step + 1) * config.batch_size]
            items = data.train_x[idx]
            if config.hflip:
                flip = (torch.rand(len(idx), generator=aug_gen) < 0.5).to(device)
                items = torch.where(flip[:, None, None, None], items.flip(-1), items)
            x, targets = task.make_batch(items, data.train_y[idx], generator=aug_gen)
            with autocast(device, precision):
                out = model(x, heads=task.heads)
                loss = task.loss(out, targets, config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            with torch.no_grad():
                for k, v in task.batch_sums(out, targets).items():
                    sums[k] = sums[k] + v if k in sums else v
            if progress and step % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            done = (epoch - 1) * steps + step + 1
            # An epoch's last step is left to the epoch-end checkpoint, written a moment later.
            if checkpoint is not None and checkpoint_every and done % checkpoint_every == 0 and step + 1 < steps:
                save(epoch, step + 1, time.perf_counter() - t0)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        train = task.finalize(sums, n)
        if not np.isfinite(train["loss"]):
            raise DivergenceError(f"{desc}training diverged at epoch {epoch} (loss is {train['loss']}); "
                                  "the run directory keeps the epochs before it")
        test = evaluate(model, data.test_x, data.test_y, task, config.eval_batch_size, precision)
        entry: dict[str, float] = {"epoch": epoch}
        entry.update({f"train_{k}": v for k, v in train.items()})
        entry.update({f"test_{k}": v for k, v in test.items()})
        entry["seconds"] = seconds
        history.append(entry)
        if progress:
            bar.write(f"{desc}epoch {epoch}: " + " ".join(
                f"{k} {v:.4f}" for k, v in entry.items() if k not in ("epoch", "seconds")) + f" | {seconds:.1f}s")
        if on_epoch is not None:
            on_epoch(history)
        if checkpoint is not None:
            save(epoch, steps, seconds)
        model.train()
    return history


# -- checkpoints --------------------------------------------------------------------------------------------------
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
    model: VisualStreamsNet,
    optimizer: torch.optim.Optimizer,
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
    """The loop's whole state after ``step`` steps of ``epoch`` (``step`` = steps per epoch: the epoch is over).

    Only tensors, dicts, lists, numbers, strings and None, so that ``torch.load(..., weights_only=True)``
    reads it back (the RNG states are uint8 tensors). The permutation is stored rather than regenerated:
    ``order_gen`` has already moved past it.
    """
    device = next(model.parameters()).device
    return _cpu({
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "visualstreams": __version__,
        "train": asdict(config),
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


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; anything else gets a one-line :class:`VisualStreamsError`."""
    path = Path(path)
    bad = f"{path}: is corrupt or not a visualstreams checkpoint"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise VisualStreamsError(f"{path}: no checkpoint there") from None
    except Exception as exc:  # truncated zips, foreign pickles, ...: each raises its own type, none is a bug
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:100]
        if "Weights only load failed" in detail:  # torch's first line is advice on weights_only, not the cause
            detail = "not a file of plain tensors and data"
        raise VisualStreamsError(f"{bad} ({detail})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise VisualStreamsError(f"{bad} (no {CHECKPOINT_FORMAT!r} marker)")
    if state.get("version") != CHECKPOINT_VERSION:
        raise VisualStreamsError(f"{path}: checkpoint version {state.get('version')!r} is not supported "
                                 f"(this visualstreams {__version__} reads version {CHECKPOINT_VERSION})")
    missing = sorted(CHECKPOINT_KEYS - set(state))
    if missing:
        raise VisualStreamsError(f"{bad} ({missing[0]!r} missing)")
    return state


def _check_state(state: dict[str, Any], config: TrainConfig, n: int, steps: int) -> None:
    """Refuse a checkpoint that cannot continue this loop (another config, other data, inconsistent)."""
    if state["train"] != asdict(config):
        raise VisualStreamsError("checkpoint belongs to another run (its train config differs)")
    epoch, step, history = state["epoch"], state["step"], state["history"]
    ok = (isinstance(epoch, int) and isinstance(step, int) and isinstance(history, list)
          and 1 <= epoch <= config.epochs and 0 <= step <= steps
          and len(history) == (epoch if step >= steps else epoch - 1))
    if ok and step < steps:
        perm = state["perm"]
        ok = isinstance(perm, torch.Tensor) and perm.shape == (n,) and isinstance(state["sums"], dict)
    if not ok:
        raise VisualStreamsError(f"checkpoint does not fit this run ({n} training images, {steps} steps per "
                                 f"epoch, {config.epochs} epochs; it says epoch {epoch}, step {step})")


@torch.inference_mode()
def confusion_matrix(model: VisualStreamsNet, images: torch.Tensor, labels: torch.Tensor, task: Task,
                     batch_size: int = 1000, precision: str = "fp32", n_classes: int = 10) -> torch.Tensor:
    """Counts (true class, predicted class) of the "what" head on the test items (fixed positions)."""
    model.eval()
    offsets = task.test_offsets(len(labels))
    counts = torch.zeros(n_classes * n_classes, dtype=torch.long, device=labels.device)
    with autocast(images.device, precision):
        for i in range(0, len(labels), batch_size):
            sl = slice(i, i + batch_size)
            x, _ = task.make_batch(images[sl], labels[sl], offsets=None if offsets is None else offsets[sl])
            pred = model(x, heads=("what",))["what"].argmax(1)
            counts += torch.bincount(labels[sl] * n_classes + pred, minlength=n_classes * n_classes)
    return counts.view(n_classes, n_classes).cpu()


# -- runs ---------------------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    model: VisualStreamsNet
    history: pd.DataFrame
    config: dict[str, Any]
    run_dir: Path | None = None
    final: dict[str, float] = field(default_factory=dict)
    # (epoch, steps of it done) of the checkpoint a resumed run continued from; None for a run from step 0
    resumed_from: tuple[int, int] | None = None


def environment() -> dict[str, Any]:
    return {
        "visualstreams": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
        "cpu_bf16": cpu_has_fast_bf16(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def prepare_run_dir(out: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Create ``out``; refuse to overwrite a finished or started run unless asked."""
    path = Path(out)
    if not overwrite and any((path / f).exists() for f in ("config.json", "history.json", "model.pt")):
        hint = "--resume to continue it or " if (path / CHECKPOINT_FILE).is_file() else ""
        raise ConfigError(f"{path}: already holds a run (use {hint}--overwrite to replace it)")
    return ensure_writable_dir(path)


def ensure_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` if needed and check, by writing a file, that results can be written into it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the directory ({exc.strerror})") from None
    try:
        check_writable(path)
    except OSError as exc:
        raise ConfigError(f"{path}: not writable ({exc.strerror})") from None
    return path


def run_disk_bytes(n_params: int) -> int:
    """Disk a run needs at most: model.pt, and checkpoint.pt (weights and Adam's two moments) twice over while
    its replacement is written, plus the JSON files and some slack."""
    return 4 * n_params * (1 + 2 * 3) + 2_000_000


def check_room(path: str | os.PathLike[str], need: int, what: str) -> None:
    """Refuse to start work whose results would not fit on the disk holding ``path``."""
    existing = Path(path).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = free_bytes(existing)
    if free < need:
        raise ConfigError(f"{path}: {format_bytes(free)} free on its disk, {what} needs about "
                          f"{format_bytes(need)}; free some space or choose another output directory")


def _device_data(
    data: FashionMNIST | DeviceData | None, data_path: str | os.PathLike[str] | None, config: TrainConfig,
    device: torch.device,
) -> tuple[DeviceData, dict[str, Any]]:
    dataset = data if data is not None else load_fashion_mnist(data_path)
    if isinstance(dataset, FashionMNIST):
        info = dataset.info()
        return DeviceData.from_dataset(dataset.subset(config.train_subset, seed=config.seed), device), info
    return dataset, {}


def _build(conn: Connectome, arch: Architecture, config: TrainConfig, device: torch.device) -> VisualStreamsNet:
    # Seeded right before the build, so the initial weights (and density masks) depend on the seed alone.
    torch.manual_seed(config.seed)
    return build_model(conn, arch, mode=config.mode).to(device=device, memory_format=torch.channels_last)


def train(
    connectome: Connectome | str,
    config: TrainConfig | None = None,
    *,
    data: FashionMNIST | DeviceData | None = None,
    data_path: str | os.PathLike[str] | None = None,
    architecture: Architecture | str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    desc: str | None = None,
    checkpoint_every: int | None = None,
) -> TrainResult:
    """Train one model compiled from ``connectome``; write a run directory when ``out`` is given.

    ``desc`` prefixes the progress bar (default: the connectome's name). With ``out``, ``checkpoint.pt`` is
    written at every epoch's end and, with ``checkpoint_every=K``, every K optimizer steps; it does not change
    the results. An interrupted run is continued by :func:`resume_run`. With ``overwrite``, the outputs of the
    run being replaced are deleted first, so none of them can pass for this run's.
    """
    run = start_run(connectome, config, data=data, data_path=data_path, architecture=architecture, out=out,
                    overwrite=overwrite, checkpoint_every=checkpoint_every)
    return _run(run.model, run.data, run.train_config, run.precision, run.config, run.run_dir, progress,
                desc if desc is not None else f"{run.config['name']} ", checkpoint_every)


@dataclass
class StartedRun:
    """A run about to train: its model (seeded initial weights), data on the device, and its config.json."""

    model: VisualStreamsNet
    data: DeviceData
    train_config: TrainConfig
    precision: str
    config: dict[str, Any]
    run_dir: Path | None


def start_run(
    connectome: Connectome | str,
    config: TrainConfig | None = None,
    *,
    data: FashionMNIST | DeviceData | None = None,
    data_path: str | os.PathLike[str] | None = None,
    architecture: Architecture | str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    checkpoint_every: int | None = None,
    resolved: dict[str, Any] | None = None,
) -> StartedRun:
    """Everything :func:`train` does before its loop: checks, run directory, model, data and config.json.

    ``resolved`` adds entries to config.json's ``resolved`` section (e.g. how many models trained at once).
    """
    config = config or TrainConfig()
    conn = load_connectome(connectome)
    arch = architecture_for(conn, architecture)
    conn.validate(arch)
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    if checkpoint_every is not None and checkpoint_every < 0:
        raise ConfigError(f"checkpoint_every must be >= 0 steps, got {checkpoint_every}")
    run_dir = prepare_run_dir(out, overwrite) if out is not None else None

    dev_data, info = _device_data(data, data_path, config, device)
    image_size = config.make_task().image_size
    if image_size != arch.image_size:
        arch = arch.with_image_size(image_size)

    model = _build(conn, arch, config, device)
    if run_dir is not None:
        check_room(run_dir, run_disk_bytes(count_parameters(model)), "the run")
    run_config = {
        "visualstreams": __version__,
        "name": conn.name,
        "connectome": conn.to_dict(),
        "architecture": arch.to_dict(),
        "train": asdict(config),
        "resolved": {"device": str(device), "precision": precision, "channels_last": True, **(resolved or {})},
        "data": {**info, "train_used": len(dev_data.train_y)},
        "environment": environment(),
    }
    if run_dir is not None:
        for name in RUN_OUTPUTS:
            (run_dir / name).unlink(missing_ok=True)
        write_json(run_dir / "config.json", run_config)
    return StartedRun(model, dev_data, config, precision, run_config, run_dir)


def _run(
    model: VisualStreamsNet, dev_data: DeviceData, config: TrainConfig, precision: str, run_config: dict[str, Any],
    run_dir: Path | None, progress: bool, desc: str, checkpoint_every: int | None,
    state: dict[str, Any] | None = None,
) -> TrainResult:
    """The loop and the run directory's outputs, shared by a fresh run and a resumed one."""
    if run_dir is not None:
        on_epoch = lambda h: write_json(run_dir / "history.json", h)  # noqa: E731
        checkpoint: Path | None = run_dir / CHECKPOINT_FILE
    else:
        on_epoch, checkpoint = None, None
    history = fit(model, dev_data, config, precision, progress=progress, desc=desc, on_epoch=on_epoch,
                  checkpoint=checkpoint, checkpoint_every=checkpoint_every, state=state)
    return finish_run(model, dev_data, config, precision, run_config, run_dir, history,
                      (state["epoch"], state["step"]) if state is not None else None)


def finish_run(
    model: VisualStreamsNet, dev_data: DeviceData, config: TrainConfig, precision: str, run_config: dict[str, Any],
    run_dir: Path | None, history: list[dict[str, float]], resumed: tuple[int, int] | None = None,
) -> TrainResult:
    """A trained run's outputs: confusion.json and model.pt, then the checkpoint goes."""
    if run_dir is not None:
        if "what" in config.make_task().heads:
            cm = confusion_matrix(model, dev_data.test_x, dev_data.test_y, config.make_task(),
                                  config.eval_batch_size, precision)
            write_json(run_dir / "confusion.json", {"classes": list(CLASSES), "matrix": cm.tolist()})
        save_torch(run_dir / "model.pt", {k: v.detach().cpu() for k, v in model.state_dict().items()})
        # Only now is the checkpoint redundant; a crash before this line resumes at the last epoch's end.
        (run_dir / CHECKPOINT_FILE).unlink(missing_ok=True)
    return TrainResult(model, pd.DataFrame(history), run_config, run_dir, dict(history[-1]), resumed)


def resume_run(
    run_dir: str | os.PathLike[str],
    *,
    data: FashionMNIST | DeviceData | None = None,
    data_path: str | os.PathLike[str] | None = None,
    progress: bool = True,
    checkpoint_every: int | None = None,
    desc: str | None = None,
) -> TrainResult:
    """Continue an interrupted run from ``run_dir/checkpoint.pt``; returns what :func:`train` would have.

    The connectome, architecture and train config are rebuilt from ``config.json``; the data must be the run's
    (default: the directory it was read from, when that still exists; else as :func:`train` finds it). On the
    CPU the finished run has the same weights, bit for bit, and the same history (bar ``seconds``, which counts
    the time spent in each epoch before the last checkpoint and after the restart) as an uninterrupted run.
    ``checkpoint_every`` defaults to the interval the run was started with.

    Raises :class:`RunFinished` for a finished run, and :class:`VisualStreamsError` for a corrupt or foreign
    checkpoint, or for a started run without one (at least one epoch finished and the state of the loop is
    lost: retrain it). When no epoch had finished and no checkpoint was written, the run starts over from
    step 0, which is equivalent (``resumed_from`` is then None).
    """
    run_dir = Path(run_dir)
    try:
        run_config = json.loads((run_dir / "config.json").read_text())
        config = TrainConfig.from_dict(run_config["train"])
        conn = Connectome.from_dict(run_config["connectome"])
        arch = Architecture.from_dict(run_config["architecture"])
    except FileNotFoundError:
        raise VisualStreamsError(f"{run_dir}: not a run directory (config.json missing)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise VisualStreamsError(f"{run_dir}/config.json: corrupt or not a run's config") from None
    try:
        history = json.loads((run_dir / "history.json").read_text())
    except FileNotFoundError:
        history = []
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise VisualStreamsError(f"{run_dir}/history.json: corrupt") from None
    if (run_dir / "model.pt").is_file() and len(history) == config.epochs:
        # A checkpoint here outlived a crash between writing model.pt and deleting it: it is stale.
        (run_dir / CHECKPOINT_FILE).unlink(missing_ok=True)
        raise RunFinished(f"{run_dir}: already finished ({_plural(config.epochs, 'epoch')}, model.pt written); "
                          "nothing to resume")
    path = run_dir / CHECKPOINT_FILE
    state = read_checkpoint(path) if path.exists() else None
    if state is None and history:
        raise VisualStreamsError(f"{run_dir}: no {CHECKPOINT_FILE} to resume from, though "
                                 f"{_plural(len(history), 'epoch')} finished; retrain the run (train --overwrite)")
    if state is not None and state["train"] != run_config["train"]:
        raise VisualStreamsError(f"{path}: belongs to another run (its train config differs from config.json)")

    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    recorded = run_config.get("resolved", {})
    if recorded.get("precision") != precision or str(recorded.get("device", device)).split(":")[0] != device.type:
        warnings.warn(f"{run_dir}: started on {recorded.get('device')} in {recorded.get('precision')}, resumed on "
                      f"{device} in {precision}; the result will not match an uninterrupted run bit for bit",
                      stacklevel=2)
    data_info = run_config.get("data", {})
    if data is None and data_path is None and Path(str(data_info.get("source", ""))).is_dir():
        data_path = data_info["source"]  # the run's own data, unless told otherwise
    dev_data, info = _device_data(data, data_path, config, device)
    # Checksums are compared only between files of the same format (the IDX and CSV releases differ).
    if (info.get("format") == data_info.get("format") and info.get("checksums") and data_info.get("checksums")
            and info["checksums"] != data_info["checksums"]):
        raise VisualStreamsError(f"{run_dir}: the data differ from the run's (other checksums); "
                                 "resume with its data (--data)")
    if len(dev_data.train_y) != data_info.get("train_used", len(dev_data.train_y)):
        raise VisualStreamsError(f"{run_dir}: the data differ from the run's ({len(dev_data.train_y)} training "
                                 f"images, the run used {data_info['train_used']}); resume with its data (--data)")

    # A killed run can leave the temporary file of an atomic write behind; nothing else writes here now.
    remove_temporaries(run_dir, RUN_FILES)
    model = _build(conn, arch, config, device)
    if state is not None:
        try:  # fit() checks again; here the message can name the file
            _check_state(state, config, len(dev_data.train_y), -(-len(dev_data.train_y) // config.batch_size))
        except VisualStreamsError as exc:
            raise VisualStreamsError(f"{path}: {exc}") from None
        try:
            model.load_state_dict(state["model"])
        except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
            raise VisualStreamsError(f"{path}: not this run's weights "
                                     f"({(str(exc).splitlines() or [''])[0][:100]})") from None
        if checkpoint_every is None:
            checkpoint_every = state.get("checkpoint_every")
        threads = state.get("threads")
        if device.type == "cpu" and isinstance(threads, int) and threads != torch.get_num_threads():
            warnings.warn(f"{path}: written with {threads} CPU threads, resumed with {torch.get_num_threads()}; "
                          f"the result will differ from an uninterrupted run in the last bits (set "
                          f"OMP_NUM_THREADS={threads} to match it)", stacklevel=2)
        # history.json may be an epoch ahead of the checkpoint (a crash between the two writes): the
        # checkpoint's history is the one the loop continues, so the file is brought back in line with it.
        write_json(run_dir / "history.json", state["history"])
    else:
        for name in RUN_OUTPUTS:
            (run_dir / name).unlink(missing_ok=True)
    return _run(model, dev_data, config, precision, run_config, run_dir, progress,
                desc if desc is not None else f"{conn.name} ", checkpoint_every, state)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def load_run(run_dir: str | os.PathLike[str], device: str = "cpu") -> TrainResult:
    """Rebuild a finished run from its directory (weights loaded with ``weights_only=True``)."""
    run_dir = Path(run_dir)
    try:
        config = json.loads((run_dir / "config.json").read_text())
        history = json.loads((run_dir / "history.json").read_text())
    except FileNotFoundError as exc:
        raise VisualStreamsError(f"{run_dir}: not a run directory ({Path(exc.filename).name} missing)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise VisualStreamsError(f"{run_dir}: config.json or history.json is corrupt") from None
    conn = Connectome.from_dict(config["connectome"])
    arch = Architecture.from_dict(config["architecture"])
    model = build_model(conn, arch, mode=config["train"].get("mode", "gain"))
    try:
        state = torch.load(run_dir / "model.pt", map_location=device, weights_only=True)
        model.load_state_dict(state)
    except FileNotFoundError:
        raise VisualStreamsError(f"{run_dir}: model.pt missing (the run did not finish)") from None
    except (RuntimeError, KeyError, EOFError, ValueError) as exc:
        raise VisualStreamsError(f"{run_dir}/model.pt: unreadable or not this model's weights "
                                 f"({str(exc).splitlines()[0][:120]})") from None
    model.to(device)
    return TrainResult(model, pd.DataFrame(history), config, run_dir, dict(history[-1]) if history else {})
