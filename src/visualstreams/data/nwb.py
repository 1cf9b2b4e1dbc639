"""Small shared pieces of reading NWB sessions (:mod:`.allen`, :mod:`.allen_neuropixels`): an HDF5 value as text,
and a response window checked."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ConfigError


def text(value: Any) -> str:
    """An HDF5 string (bytes, a one-element array or str) as str."""
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else b""
    return value.decode() if isinstance(value, bytes) else str(value)


def check_window(window_ms: tuple[float, float]) -> tuple[float, float]:
    """A response window (start, end) in ms after onset, finite and start < end; else a one-line refusal."""
    start, end = (float(x) for x in window_ms)
    if not (math.isfinite(start) and math.isfinite(end) and end > start):
        raise ConfigError(f"response window must be START < END in ms, got {start:g}-{end:g}")
    return start, end
