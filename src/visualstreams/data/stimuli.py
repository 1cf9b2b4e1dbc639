"""Stimuli as a network sees them: image files of any size, grey or RGB, made into its input.

The rule (the same for ``predict``, the known-answer recordings and the Brain-Score plugin's preprocessing):

1. Pillow reads the file and converts it to the network's channels (``L`` for a grey input area, ``RGB`` for a
   colour one).
2. The network's input spans ``field_degrees`` of visual angle (default 8, Brain-Score's ``visual_degrees``); a
   stimulus shown at ``stimulus_degrees`` is resized (Lanczos, aspect kept, its longer side) to
   ``round(size * stimulus_degrees / field_degrees)`` pixels, ``size`` being the network's input size (the canvas
   where its task uses one).
3. It is centred on a ``background`` canvas of ``size`` x ``size`` (default 0, black: the networks were trained on
   items on black); a stimulus larger than the field is centre-cropped.

Returns one uint8 array (n, channels, size, size). Imports Pillow, NumPy and the errors only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError

FIELD_DEGREES = 8.0  # Brain-Score's default visual_degrees of a model's field of view


def stimulus_pixels(size: int, stimulus_degrees: float = FIELD_DEGREES, field_degrees: float = FIELD_DEGREES) -> int:
    """The stimulus's longer side in input pixels: ``round(size * stimulus_degrees / field_degrees)``, at least 1."""
    for label, value in (("stimulus degrees", stimulus_degrees), ("field degrees", field_degrees)):
        if not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"{label} must be a finite number > 0, got {value}")
    if size < 1:
        raise ConfigError(f"input size must be >= 1 pixel, got {size}")
    return max(1, round(size * stimulus_degrees / field_degrees))


def place_stimulus(image: object, *, size: int, channels: int, stimulus_degrees: float = FIELD_DEGREES,
                   field_degrees: float = FIELD_DEGREES, background: int = 0) -> np.ndarray:
    """One PIL image -> uint8 (channels, size, size) by the module's rule."""
    from PIL import Image

    if channels not in (1, 3):
        raise ConfigError(f"a network's input has 1 or 3 channels, not {channels}")
    if not 0 <= background <= 255:
        raise ConfigError(f"background must be a grey level 0-255, got {background}")
    im = image.convert("L" if channels == 1 else "RGB")  # type: ignore[attr-defined]
    side = stimulus_pixels(size, stimulus_degrees, field_degrees)
    w, h = im.size
    scale = side / max(w, h)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    if new != (w, h):
        im = im.resize(new, Image.Resampling.LANCZOS)
    arr = np.asarray(im, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    out = np.full((channels, size, size), background, dtype=np.uint8)
    ih, iw = arr.shape[1:]
    # centre: crop the part of the stimulus inside the field, paste it where it falls
    sy, sx = max(0, (ih - size) // 2), max(0, (iw - size) // 2)
    crop = arr[:, sy:sy + size, sx:sx + size]
    oy, ox = (size - crop.shape[1]) // 2, (size - crop.shape[2]) // 2
    out[:, oy:oy + crop.shape[1], ox:ox + crop.shape[2]] = crop
    return out


def load_stimuli(paths: Sequence[str | os.PathLike[str]], *, size: int, channels: int,
                 stimulus_degrees: float = FIELD_DEGREES, field_degrees: float = FIELD_DEGREES,
                 background: int = 0) -> np.ndarray:
    """Image files -> uint8 (n, channels, size, size), each by :func:`place_stimulus`; a missing or unreadable
    file is refused in one line naming it."""
    from PIL import Image, UnidentifiedImageError

    stimulus_pixels(size, stimulus_degrees, field_degrees)  # bad degrees refused before any file is read
    out = np.empty((len(paths), channels, size, size), dtype=np.uint8)
    for i, p in enumerate(paths):
        path = Path(p)
        if not path.is_file():
            raise DataError(f"stimulus file {path} is missing")
        try:
            with Image.open(path) as im:
                im.load()
                out[i] = place_stimulus(im, size=size, channels=channels, stimulus_degrees=stimulus_degrees,
                                        field_degrees=field_degrees, background=background)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise DataError(f"stimulus file {path} is not a readable image ({type(exc).__name__})") from None
    return out


def place_images(images: np.ndarray, *, size: int, channels: int, stimulus_degrees: float = FIELD_DEGREES,
                 field_degrees: float = FIELD_DEGREES, background: int = 0) -> np.ndarray:
    """Images held in memory (uint8, n x H x W or n x H x W x 3: a source's own stimuli) -> uint8
    (n, channels, size, size), each by :func:`place_stimulus`, as if read from a lossless file."""
    from PIL import Image

    stimulus_pixels(size, stimulus_degrees, field_degrees)
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim not in (3, 4):
        raise DataError(f"stimulus images must be uint8, n x H x W [x 3]; got {arr.dtype} {arr.shape}")
    out = np.empty((len(arr), channels, size, size), dtype=np.uint8)
    for i, a in enumerate(arr):
        out[i] = place_stimulus(Image.fromarray(a), size=size, channels=channels, stimulus_degrees=stimulus_degrees,
                                field_degrees=field_degrees, background=background)
    return out


def write_stimulus_images(images: np.ndarray, folder: str | os.PathLike[str], *,
                          object_names: Sequence[str] | None = None, size: int | None = None,
                          tint: tuple[float, float, float] | None = None,
                          prefix: str = "stim") -> Path:
    """Write images (n, H, W) or (n, C, H, W) uint8 as PNG files and a stimulus table ``stimuli.csv`` (columns
    ``stimulus_id, filename[, object_name]``) in ``folder``: stimuli as a lab would hand them over. ``size``
    resizes them (Lanczos); ``tint`` multiplies a grey image's RGB channels, making it colour."""
    import pandas as pd
    from PIL import Image

    from ..storage import write_text

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(images, dtype=np.uint8)
    arr = arr if arr.ndim == 3 else (arr[:, 0] if arr.shape[1] == 1 else arr.transpose(0, 2, 3, 1))
    rows = []
    for i, a in enumerate(arr):
        if tint is not None and a.ndim == 2:
            a = np.clip(a[..., None] * np.asarray(tint)[None, None], 0, 255).astype(np.uint8)
        im = Image.fromarray(a)
        if size is not None:
            im = im.resize((size, size), Image.Resampling.LANCZOS)
        name = f"{prefix}{i:05d}.png"
        im.save(root / name)
        rows.append({"stimulus_id": f"{prefix}{i:05d}", "filename": name,
                     **({"object_name": object_names[i]} if object_names is not None else {})})
    write_text(root / "stimuli.csv", pd.DataFrame(rows).to_csv(index=False))
    return root / "stimuli.csv"
