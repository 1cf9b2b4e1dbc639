"""Atomic file writes: a crash leaves the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success flush, fsync and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; results should read like any other file
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc  # say which file could not be written
        raise


def remove_temporaries(directory: str | os.PathLike[str], names: Iterable[str]) -> None:
    """Delete what :func:`atomic_open` left behind for the files ``names`` in ``directory`` when its process
    was killed mid-write (and write probes); other programs' temporary files are left alone."""
    for name in [*names, "write-probe"]:
        for tmp in Path(directory).glob(f".{glob.escape(name)}.*.tmp"):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                tmp.unlink()


def check_writable(directory: str | os.PathLike[str]) -> None:
    """Raise OSError unless a file can be created in ``directory``.

    A real probe, not ``os.access``: that says yes to root in a read-only directory and knows nothing of
    quotas or some network file systems.
    """
    fd, tmp = tempfile.mkstemp(prefix=".write-probe.", suffix=".tmp", dir=directory)
    os.close(fd)
    os.unlink(tmp)


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes available to this user on the file system holding ``path``."""
    return shutil.disk_usage(path).free


def format_bytes(n: float) -> str:
    """1234567 -> '1.2 MB' (decimal units)."""
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("KB", "MB"):
        n /= 1000
        if n < 1000:
            return f"{n:.1f} {unit}"
    return f"{n / 1000:.1f} GB"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_torch(path: str | os.PathLike[str], obj: Any) -> None:
    import torch

    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)


def save_figure(path: str | os.PathLike[str], fig: Any, **kwargs: Any) -> None:
    """Save a matplotlib figure atomically (format from the file suffix)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=fmt, **kwargs)
