"""Device, precision and CPU threads: decided once per entry point (:func:`resolve_runtime`) and passed
down. Decided at run time, never by assumption: bf16 autocast on CUDA and on CPUs with native bf16 arithmetic,
fp32 elsewhere (emulated bf16 is slower than fp32). The torch thread count is part of it because oneDNN splits
its sums by thread: the same run with 1 and 2 threads differs in the last bits, and after a few epochs by tenths
of a point. Imports only torch and the errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ConfigError


@dataclass(frozen=True)
class Runtime:
    """Where and how a run computes: ``device``, the resolved ``precision`` (``bf16`` or ``fp32``) and the torch
    CPU ``threads`` it trains with."""

    device: torch.device
    precision: str
    threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        """What config.json's ``resolved`` section records of it (configs written before ``threads`` lack it)."""
        return {"device": str(self.device), "precision": self.precision, "channels_last": True,
                "threads": self.threads}


def resolve_runtime(device: str = "auto", precision: str = "auto", threads: int | None = None) -> Runtime:
    """The one place ``auto`` becomes a device and a precision; ``threads`` defaults to this process's torch
    threads (``torch.get_num_threads()``, which ``OMP_NUM_THREADS`` sets), the count a run here trains with."""
    dev = resolve_device(device)
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}")
    return Runtime(dev, resolve_precision(precision, dev), threads if threads is not None else torch.get_num_threads())


def use_threads(runtime: Runtime) -> None:
    """Make this process train with ``runtime.threads`` (a no-op for a runtime resolved here), so that what
    config.json records is what the run computed with."""
    if torch.get_num_threads() != runtime.threads:
        torch.set_num_threads(runtime.threads)


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
