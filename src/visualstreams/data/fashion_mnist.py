"""Fashion-MNIST: from IDX files, the Kaggle CSV pair, or a verified download into a cache.

Images are kept as one uint8 tensor ``(N, 28, 28)`` and labels as int64; batches are cut by index on
the training device (no per-item Python). Search order when no path is given (:func:`find_data`):

1. ``$VISUALSTREAMS_DATA`` (a directory of IDX .gz files or of the Kaggle CSV pair);
2. the cache, ``$VISUALSTREAMS_CACHE`` or ``$XDG_CACHE_HOME/visualstreams/fashion-mnist``
   (default ``~/.cache/visualstreams/fashion-mnist``);
3. ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist`` package);
4. a download from the canonical source into the cache, each file verified by the MD5 of its
   decompressed bytes (recompressed mirrors such as Debian's have other .gz checksums but the same data).

Imports the errors only.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import io
import os
import shutil
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError

CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
CSV_FILES: dict[str, str] = {"train": "fashion-mnist_train.csv", "test": "fashion-mnist_test.csv"}

# MD5 of the decompressed IDX bytes of the canonical release (github.com/zalandoresearch/fashion-mnist).
RAW_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
}
CANONICAL_SIZES = {"train": 60000, "test": 10000}
DEFAULT_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
SYSTEM_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets/fashion-mnist"),)

HOW_TO_GET = (
    "Fashion-MNIST not found: install it with 'apt-get install dataset-fashion-mnist' (Debian), "
    "run 'visualstreams data fetch' when online, or pass --data DIR (IDX .gz files or the Kaggle CSV pair)"
)


def check_subset(n_total: int, n_train: int | None) -> None:
    """Refuse a training subset larger than the set (the run would be on fewer images than asked, in silence)."""
    if n_train is not None and n_train > n_total:
        raise DataError(f"train subset of {n_train:,} images asked for, but the training set has {n_total:,}: "
                        f"give --train-subset {n_total} or fewer (or leave it out to use them all)")


def subset_indices(n_total: int, n_train: int | None, seed: int = 0) -> torch.Tensor | None:
    """The sorted indices of a random ``n_train``-item training subset, fixed by ``seed`` (None: keep all); the
    one draw every dataset's ``subset`` uses. As many images as the set has, or more, is the whole set: a new run
    asking for more is refused before it starts (:func:`check_subset`); a run recorded so before resumes as it
    trained."""
    if n_train is None or n_train >= n_total:
        return None
    if n_train < 1:
        raise DataError(f"train subset must be at least 1 image, got {n_train}")
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=g)[:n_train].sort().values


@dataclass
class FashionMNIST:
    """The dataset as tensors; ``checksums`` are MD5s of the raw files' decompressed bytes."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str = ""
    format: str = ""
    checksums: dict[str, str] = field(default_factory=dict)
    classes: tuple[str, ...] = CLASSES

    def info(self) -> dict[str, object]:
        return {
            "source": self.source,
            "format": self.format,
            "train": len(self.train_labels),
            "test": len(self.test_labels),
            "checksums": dict(self.checksums),
        }

    def subset(self, n_train: int | None, seed: int = 0) -> FashionMNIST:
        """A random ``n_train``-image training subset (fixed by ``seed``); the test set is kept whole."""
        idx = subset_indices(len(self.train_labels), n_train, seed)
        if idx is None:
            return self
        return FashionMNIST(self.train_images[idx], self.train_labels[idx], self.test_images, self.test_labels,
                            self.source, self.format, self.checksums, self.classes)


# -- IDX -----------------------------------------------------------------------------------------------
def read_idx(path: str | os.PathLike[str]) -> tuple[np.ndarray, str]:
    """Read one IDX file (gzipped or not). Returns the array and the MD5 of the decompressed bytes."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"{path}: truncated or corrupt gzip file ({exc})") from None
    return _parse_idx(raw, path), hashlib.md5(raw).hexdigest()


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim < 1 or len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        kind = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DataError(f"{path}: {kind} ({len(raw)} bytes, header says {expected})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _idx_path(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def has_idx(directory: Path) -> bool:
    return all(_idx_path(directory, n) is not None for n in IDX_FILES.values())


def load_idx_dir(directory: str | os.PathLike[str]) -> FashionMNIST:
    directory = Path(directory)
    arrays: dict[str, np.ndarray] = {}
    sums: dict[str, str] = {}
    for key, name in IDX_FILES.items():
        path = _idx_path(directory, name)
        if path is None:
            raise DataError(f"{directory / name}: missing")
        arrays[key], sums[path.name] = read_idx(path)
        canonical = RAW_MD5[name]
        split = key.split("_")[0]
        if len(arrays[key]) == CANONICAL_SIZES[split] and sums[path.name] != canonical:
            raise DataError(f"{path}: corrupt (MD5 of its data {sums[path.name]} is not the release's {canonical})")
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1:
            raise DataError(f"{directory}: {split} images must be N x H x W and labels a vector")
        if len(images) != len(labels):
            raise DataError(f"{directory}: {split} has {len(images)} images but {len(labels)} labels")
        _check_labels(labels, directory / IDX_FILES[f"{split}_labels"])
    return FashionMNIST(
        torch.from_numpy(arrays["train_images"].copy()),
        torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        torch.from_numpy(arrays["test_images"].copy()),
        torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        source=str(directory),
        format="idx",
        checksums=sums,
    )


def _check_labels(labels: np.ndarray, path: Path) -> None:
    if labels.size and int(labels.max()) >= len(CLASSES):
        raise DataError(f"{path}: label {int(labels.max())} is not one of the {len(CLASSES)} classes")


# -- Kaggle CSV -------------------------------------------------------------------------------------------
def has_csv(directory: Path) -> bool:
    return all((directory / n).is_file() for n in CSV_FILES.values())


def read_csv_split(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, str]:
    """One Kaggle CSV (``label,pixel1..pixel784``): images (N, 28, 28) uint8, labels, MD5 of the file."""
    import pandas as pd

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise DataError(f"{path}: empty file")
    try:
        df = pd.read_csv(io.BytesIO(raw))
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a Fashion-MNIST CSV ({str(exc).splitlines()[0]})") from None
    if "label" not in df.columns or df.shape[1] != 785:
        raise DataError(f"{path}: expected a 'label' column and 784 pixel columns, found {df.shape[1]} columns")
    values = df.to_numpy()
    if not np.issubdtype(values.dtype, np.number) or np.isnan(values.astype(np.float64)).any():
        row = int(np.argmax(df.isna().any(axis=1).to_numpy())) + 2 if df.isna().any().any() else "?"
        raise DataError(f"{path}: truncated or malformed (missing or non-numeric values, line {row})")
    if values.min() < 0 or values.max() > 255:
        raise DataError(f"{path}: pixel values must lie in 0..255")
    labels = df["label"].to_numpy().astype(np.int64)
    _check_labels(labels, path)
    images = df.drop(columns="label").to_numpy().astype(np.uint8).reshape(-1, 28, 28)
    return images, labels, hashlib.md5(raw).hexdigest()


def load_csv_dir(directory: str | os.PathLike[str]) -> FashionMNIST:
    directory = Path(directory)
    out = {}
    sums = {}
    for split, name in CSV_FILES.items():
        images, labels, md5 = read_csv_split(directory / name)
        out[split] = (torch.from_numpy(images), torch.from_numpy(labels))
        sums[name] = md5
    return FashionMNIST(*out["train"], *out["test"], source=str(directory), format="csv", checksums=sums)


# -- search order and download -----------------------------------------------------------------------------
def cache_dir() -> Path:
    if os.environ.get("VISUALSTREAMS_CACHE"):
        return Path(os.environ["VISUALSTREAMS_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "visualstreams" / "fashion-mnist"


def candidate_dirs() -> list[Path]:
    """Where :func:`find_data` looks, in order (download goes to the cache, the second entry)."""
    dirs = []
    if os.environ.get("VISUALSTREAMS_DATA"):
        dirs.append(Path(os.environ["VISUALSTREAMS_DATA"]))
    dirs.append(cache_dir())
    dirs.extend(SYSTEM_DIRS)
    return dirs


def find_data(path: str | os.PathLike[str] | None = None, download: bool = True, url: str | None = None) -> Path:
    """The directory to load from: ``path`` if given, else the search order in the module docstring."""
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise DataError(f"{p}: no such directory")
        if p.is_file() and p.name in CSV_FILES.values():
            p = p.parent
        if not p.is_dir():
            raise DataError(f"{p}: --data takes a directory of IDX .gz files or of the Kaggle CSV pair")
        if not (has_idx(p) or has_csv(p)):
            raise DataError(
                f"{p}: neither the four Fashion-MNIST IDX files ({', '.join(IDX_FILES.values())}) "
                f"nor the Kaggle CSV pair ({', '.join(CSV_FILES.values())})"
            )
        return p
    for d in candidate_dirs():
        if d.is_dir() and (has_idx(d) or has_csv(d)):
            return d
    if not download:
        raise DataError(HOW_TO_GET)
    return download_fashion_mnist(cache_dir(), url=url)


def load_fashion_mnist(
    path: str | os.PathLike[str] | None = None, download: bool = True, url: str | None = None
) -> FashionMNIST:
    """Load Fashion-MNIST (see the module docstring for where it is looked for)."""
    directory = find_data(path, download=download, url=url)
    return load_idx_dir(directory) if has_idx(directory) else load_csv_dir(directory)


def download_fashion_mnist(
    directory: str | os.PathLike[str],
    url: str | None = None,
    checksums: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch the four IDX files into ``directory``, verifying each before it is renamed into place.

    Files already there and verified are kept; a failed or interrupted download leaves no partial file.
    """
    directory = Path(directory)
    base = (url or os.environ.get("VISUALSTREAMS_DATA_URL") or DEFAULT_URL).rstrip("/") + "/"
    sums = RAW_MD5 if checksums is None else checksums
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{directory}: cannot create the data cache ({exc.strerror})") from None
    for name in IDX_FILES.values():
        target = directory / name
        expected = sums.get(name)
        if expected is not None and target.is_file() and _raw_md5(target) == expected:
            continue
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh, urllib.request.urlopen(base + name, timeout=timeout) as resp:
                shutil.copyfileobj(resp, fh)
                if getattr(resp, "length", None):  # the connection closed before Content-Length bytes came
                    raise DataError(f"{base + name}: download interrupted ({resp.length} bytes missing)")
                fh.flush()
                os.fsync(fh.fileno())
            got = _raw_md5(Path(tmp))
            if name in sums and got != sums[name]:
                raise DataError(f"{base + name}: checksum mismatch (MD5 {got}, expected {sums[name]})")
            os.replace(tmp, target)
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()  # an HTTP error holds the response (and its socket) open
            reason = getattr(exc, "reason", None) or exc
            raise DataError(f"{base + name}: download failed ({reason}). {HOW_TO_GET}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return directory


def _raw_md5(path: Path) -> str | None:
    """MD5 of the decompressed bytes, or None when the file is not valid gzip."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error):
        return None
    return hashlib.md5(raw).hexdigest()
