"""The training engine: data resident on the device, batches cut by index, mixed precision per device.

Each run writes a run directory: ``config.json`` (everything needed to rebuild the run, written first),
``history.json`` (one entry per epoch, rewritten atomically after each) and ``model.pt`` (final weights).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import __version__
from .architecture import Architecture, default_architecture
from .connectome import Connectome, load_connectome
from .data import CLASSES, FashionMNIST, load_fashion_mnist
from .errors import ConfigError, DivergenceError, VisualStreamsError
from .model import MODES, VisualStreamsNet, build_model
from .storage import save_torch, write_json
from .tasks import Task, get_task

PRECISIONS = ("auto", "bf16", "fp32")


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
) -> list[dict[str, float]]:
    """Train ``model`` in place; returns the history (one dict per epoch)."""
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
    model.train()
    for epoch in range(1, config.epochs + 1):
        perm = torch.randperm(n, generator=order_gen).to(device)
        sums: dict[str, torch.Tensor] = {}
        t0 = time.perf_counter()
        bar = tqdm(range(steps), desc=f"{desc}epoch {epoch}/{config.epochs}", disable=not progress,
                   leave=True, unit="batch", mininterval=0.5)
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
        model.train()
    return history


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
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: exists and is not a directory")
    if not overwrite and any((path / f).exists() for f in ("config.json", "history.json", "model.pt")):
        raise ConfigError(f"{path}: already holds a run (use --overwrite to replace it)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the run directory ({exc.strerror})") from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"{path}: not writable")
    return path


def train(
    connectome: Connectome | str,
    config: TrainConfig | None = None,
    *,
    data: FashionMNIST | DeviceData | None = None,
    data_path: str | os.PathLike[str] | None = None,
    architecture: Architecture | None = None,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    desc: str | None = None,
) -> TrainResult:
    """Train one model compiled from ``connectome``; write a run directory when ``out`` is given.

    ``desc`` prefixes the progress bar (default: the connectome's name).
    """
    config = config or TrainConfig()
    conn = load_connectome(connectome)
    arch = architecture or default_architecture()
    conn.validate(arch)
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    run_dir = prepare_run_dir(out, overwrite) if out is not None else None

    dataset = data if data is not None else load_fashion_mnist(data_path)
    info: dict[str, Any] = {}
    if isinstance(dataset, FashionMNIST):
        info = dataset.info()
        dataset = dataset.subset(config.train_subset, seed=config.seed)
        dev_data = DeviceData.from_dataset(dataset, device)
    else:
        dev_data = dataset
    image_size = config.make_task().image_size
    if image_size != arch.image_size:
        arch = arch.with_image_size(image_size)

    torch.manual_seed(config.seed)
    model = build_model(conn, arch, mode=config.mode).to(device=device, memory_format=torch.channels_last)
    run_config = {
        "visualstreams": __version__,
        "name": conn.name,
        "connectome": conn.to_dict(),
        "architecture": arch.to_dict(),
        "train": asdict(config),
        "resolved": {"device": str(device), "precision": precision, "channels_last": True},
        "data": {**info, "train_used": len(dev_data.train_y)},
        "environment": environment(),
    }
    if run_dir is not None:
        write_json(run_dir / "config.json", run_config)
        on_epoch = lambda h: write_json(run_dir / "history.json", h)  # noqa: E731
    else:
        on_epoch = None
    history = fit(model, dev_data, config, precision, progress=progress,
                  desc=desc if desc is not None else f"{conn.name} ", on_epoch=on_epoch)
    if run_dir is not None:
        if "what" in config.make_task().heads:
            cm = confusion_matrix(model, dev_data.test_x, dev_data.test_y, config.make_task(),
                                  config.eval_batch_size, precision)
            write_json(run_dir / "confusion.json", {"classes": list(CLASSES), "matrix": cm.tolist()})
        save_torch(run_dir / "model.pt", {k: v.detach().cpu() for k, v in model.state_dict().items()})
    return TrainResult(model, pd.DataFrame(history), run_config, run_dir, dict(history[-1]))


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
