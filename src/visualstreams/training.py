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
from .data import FashionMNIST, load_fashion_mnist
from .errors import ConfigError, VisualStreamsError
from .model import VisualStreamsNet, build_model
from .storage import save_torch, write_json
from .tasks import get_task

PRECISIONS = ("auto", "bf16", "fp32")


@dataclass
class TrainConfig:
    """Hyper-parameters of one run. ``recipe`` names the preset the other fields started from."""

    recipe: str = "notebook"
    task: str = "what"
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
        get_task(self.task)

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


def _prepare(x: torch.Tensor) -> torch.Tensor:
    # uint8 -> float in [0, 1], as the notebook's pixels / 255.0; channels_last helps oneDNN and cuDNN.
    return x.float().div_(255.0).contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def evaluate(
    model: VisualStreamsNet,
    images: torch.Tensor,
    labels: torch.Tensor,
    task: str = "what",
    batch_size: int = 1000,
    precision: str = "fp32",
) -> dict[str, float]:
    """Metrics of ``model`` on uint8 ``images`` (N, 1, H, W), in large batches."""
    t = get_task(task)
    was_training = model.training
    model.eval()
    device = images.device
    sums: dict[str, torch.Tensor] = {}
    with autocast(device, precision):
        for i in range(0, len(labels), batch_size):
            out = model(_prepare(images[i:i + batch_size]), heads=t.heads)
            for k, v in t.batch_sums(out, {"label": labels[i:i + batch_size]}).items():
                sums[k] = sums[k] + v if k in sums else v
    model.train(was_training)
    return t.finalize({k: float(v) for k, v in sums.items()}, len(labels))


@torch.inference_mode()
def predict(model: VisualStreamsNet, images: torch.Tensor, batch_size: int = 1000, precision: str = "fp32",
            head: str = "what") -> torch.Tensor:
    """Raw outputs of one head for uint8 images (N, 1, H, W)."""
    model.eval()
    outs = []
    with autocast(images.device, precision):
        for i in range(0, len(images), batch_size):
            outs.append(model(_prepare(images[i:i + batch_size]), heads=(head,))[head].float())
    return torch.cat(outs)


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
    task = get_task(config.task)
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
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        t0 = time.perf_counter()
        bar = tqdm(range(steps), desc=f"{desc}epoch {epoch}/{config.epochs}", disable=not progress,
                   leave=True, unit="batch", mininterval=0.5)
        for step in bar:
            idx = perm[step * config.batch_size:(step + 1) * config.batch_size]
            x = _prepare(data.train_x[idx])
            y = data.train_y[idx]
            if config.hflip:
                flip = (torch.rand(len(idx), generator=aug_gen) < 0.5).to(device)
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            with autocast(device, precision):
                out = model(x, heads=task.heads)
                loss = task.loss(out, {"label": y}, config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            with torch.no_grad():
                sums = task.batch_sums(out, {"label": y})
                loss_sum += sums["loss"]
                correct += sums["correct"]
            if progress and step % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        train_loss = float(loss_sum) / n
        if not np.isfinite(train_loss):
            raise VisualStreamsError(f"{desc}training diverged at epoch {epoch} (loss is {train_loss})")
        test = evaluate(model, data.test_x, data.test_y, config.task, config.eval_batch_size, precision)
        entry = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_acc": 100.0 * float(correct) / n,
            "test_loss": test["loss"],
            "test_acc": test["acc"],
            "seconds": seconds,
        }
        history.append(entry)
        if progress:
            bar.write(f"{desc}epoch {epoch}: train loss {entry['train_loss']:.4f} acc {entry['train_acc']:.2f}% | "
                      f"test loss {entry['test_loss']:.4f} acc {entry['test_acc']:.2f}% | {seconds:.1f}s")
        if on_epoch is not None:
            on_epoch(history)
        model.train()
    return history


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
) -> TrainResult:
    """Train one model compiled from ``connectome``; write a run directory when ``out`` is given."""
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
    image_size = dev_data.train_x.shape[-1]
    if image_size != arch.image_size:
        arch = arch.with_image_size(image_size)

    torch.manual_seed(config.seed)
    model = build_model(conn, arch).to(device=device, memory_format=torch.channels_last)
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
    history = fit(model, dev_data, config, precision, progress=progress, desc=f"{conn.name} ", on_epoch=on_epoch)
    if run_dir is not None:
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
    model = build_model(conn, arch)
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
