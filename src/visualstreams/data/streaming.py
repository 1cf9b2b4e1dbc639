"""Image folders larger than memory, streamed: the files stay on disk and a torch DataLoader's worker processes
decode each batch while the model trains on the one before.

:class:`LazyImages` stands where an in-memory set has its uint8 tensor ``(N, C, H, W)``: it has the tensor's
``shape``, ``len`` and ``device``, indexing it gives a view of the files it selects (nothing is read), and
:meth:`LazyImages.batches` yields the decoded batches of given index lists, in the order given. The training loop
draws its epoch's permutation as it does for a tensor and asks for its batches in that order, so the seeded order
is the same; every item is decoded by :func:`decode_image`, the function the in-memory path decodes with, so a
batch holds the same pixels as the tensor's rows would. Decoding is per item, in ``WORKERS`` worker processes
(``$VISUALSTREAMS_WORKERS``, default up to 4), with ``PREFETCH`` batches queued per worker.

Imports the errors only (and torch's DataLoader).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import DataError

GREY_MODES = frozenset({"L", "1", "I", "I;16", "F"})
PREFETCH = 2


def default_workers() -> int:
    """Worker processes of a streaming loader: ``$VISUALSTREAMS_WORKERS``, else the CPUs this process may use, at
    most 4."""
    env = os.environ.get("VISUALSTREAMS_WORKERS")
    if env is not None:
        try:
            return max(0, int(env))
        except ValueError:
            raise DataError(f"VISUALSTREAMS_WORKERS must be a whole number, got {env!r}") from None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cpus))


def decode_image(path: str | os.PathLike[str], size: tuple[int, int], colour: bool) -> np.ndarray:
    """One image file as uint8 ``(C, H, W)``: converted to RGB (``colour``) or grey, resized (bilinear) to
    ``size`` = (width, height) when it differs. Raises :class:`DataError` naming the file when it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            im = im.convert("RGB" if colour else "L")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: unreadable image ({exc})") from None
    if im.size != size:
        im = im.resize(size, Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.uint8)
    return a.transpose(2, 0, 1) if colour else a[None]


class _Files(Dataset):
    """Items for the DataLoader: each one decoded in a worker; an unreadable file comes back as its message, so the
    main process raises one line (not a worker's traceback)."""

    def __init__(self, files: Sequence[str], size: tuple[int, int], colour: bool) -> None:
        self.files, self.size, self.colour = files, size, colour

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> np.ndarray | str:
        try:
            return decode_image(self.files[i], self.size, self.colour)
        except DataError as exc:
            return str(exc)


def _collate(items: list[np.ndarray | str]) -> torch.Tensor | str:
    bad = next((x for x in items if isinstance(x, str)), None)
    return bad if bad is not None else torch.from_numpy(np.stack(items))


class LazyImages:
    """Image files standing for a uint8 ``(N, C, H, W)`` tensor (see the module docstring)."""

    def __init__(self, files: Sequence[str], size: tuple[int, int], colour: bool,
                 device: torch.device | str = "cpu", workers: int | None = None) -> None:
        self.files = tuple(str(f) for f in files)
        self.size = size  # (width, height), as Pillow has it
        self.colour = colour
        self.device = torch.device(device)
        self.workers = default_workers() if workers is None else workers

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return len(self.files), 3 if self.colour else 1, self.size[1], self.size[0]

    def __len__(self) -> int:
        return len(self.files)

    def _view(self, files: Sequence[str]) -> LazyImages:
        return LazyImages(files, self.size, self.colour, self.device, self.workers)

    def __getitem__(self, index: slice | int | Sequence[int] | torch.Tensor | np.ndarray) -> LazyImages:
        if isinstance(index, slice):
            return self._view(self.files[index])
        if isinstance(index, int):
            return self._view([self.files[index]])
        if isinstance(index, torch.Tensor | np.ndarray) and index.dtype in (torch.bool, np.bool_):
            index = np.flatnonzero(np.asarray(index))  # a mask, as the seeded split cuts the set
        idx = index.tolist() if isinstance(index, torch.Tensor | np.ndarray) else list(index)
        return self._view([self.files[i] for i in idx])

    def to(self, device: torch.device | str, **_: object) -> LazyImages:
        """The same files, their batches decoded onto ``device`` (nothing is read now)."""
        return LazyImages(self.files, self.size, self.colour, device, self.workers)

    def decode(self) -> torch.Tensor:
        """All of them, decoded into one tensor on the device (for small views: a probe set)."""
        if not self.files:
            return torch.empty(self.shape, dtype=torch.uint8, device=self.device)
        return torch.cat(list(self.batches([list(range(len(self.files)))], workers=0)))

    def batches(self, index_batches: Sequence[Sequence[int] | torch.Tensor],
                workers: int | None = None) -> Iterator[torch.Tensor]:
        """The decoded batches of ``index_batches``, in that order, each uint8 ``(B, C, H, W)`` on the device."""
        order = [b.tolist() if isinstance(b, torch.Tensor) else list(b) for b in index_batches]
        if not order:
            return
        workers = self.workers if workers is None else workers
        # Its own generator: a loader draws its workers' base seed from it, and must not draw from torch's global
        # RNG, which the training loop's checkpoints restore and the model may use (decoding is not random).
        loader = DataLoader(_Files(self.files, self.size, self.colour), batch_sampler=order, num_workers=workers,
                            collate_fn=_collate, prefetch_factor=PREFETCH if workers else None,
                            generator=torch.Generator().manual_seed(0),
                            pin_memory=self.device.type == "cuda")
        for batch in loader:
            if isinstance(batch, str):
                raise DataError(batch)
            yield batch.to(self.device, non_blocking=True)

    def chunks(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Consecutive batches of ``batch_size`` (the last one shorter), in file order: what evaluation reads."""
        n = len(self.files)
        return self.batches([range(i, min(i + batch_size, n)) for i in range(0, n, batch_size)])

    def fingerprint(self) -> bytes:
        """What a checksum of the set takes for these images: each file's class folder, name and size in bytes,
        and the decoded shape (reading every file's bytes would cost an epoch of decoding)."""
        h = hashlib.md5(repr(self.shape).encode())
        for f in self.files:
            p = Path(f)
            h.update(f"{p.parent.name}/{p.name}:{p.stat().st_size}\n".encode())
        return h.digest()


def chunks(images: torch.Tensor | LazyImages, batch_size: int) -> Iterator[torch.Tensor]:
    """Consecutive batches of ``batch_size`` items of a tensor (slices) or of streamed images (decoded)."""
    if isinstance(images, LazyImages):
        yield from images.chunks(batch_size)
        return
    for i in range(0, len(images), batch_size):
        yield images[i:i + batch_size]
