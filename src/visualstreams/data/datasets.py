"""Datasets as a registry, like the connectomes: one factory (:func:`load_dataset`) and one type (:class:`ImageSet`).

A dataset is named (``fashion-mnist``, ``cifar-10``) or given by path; a path is recognised by what it holds:

* a directory of the four Fashion-MNIST IDX files or the Kaggle CSV pair: Fashion-MNIST (:mod:`.fashion_mnist`);
* a directory holding ``cifar-10-batches-py`` (or that directory itself): CIFAR-10 in torchvision's on-disk
  layout, the python pickle batches ``data_batch_1`` .. ``data_batch_5``, ``test_batch`` and ``batches.meta``.
  They are read here with :mod:`pickle` and NumPy, without torchvision (which need not be installed); like
  torchvision, this trusts the files (a pickle can run code: load only the release's files);
* a ``.npz`` file: arrays ``images`` and ``labels``, optionally ``test_images``/``test_labels`` and ``classes``;
* any other directory: class subfolders of image files (torchvision's ImageFolder layout), read by Pillow. A
  directory whose only subfolders are ``train`` and ``test`` (each of class subfolders) gives both sets; else
  (or without ``test``) the test set is a seeded split: :data:`TEST_FRACTION` of each class, drawn by ``seed``.

Images are decoded once into one uint8 tensor ``(N, C, H, W)``, C 1 (grey) or 3 (RGB); an image folder larger
than :data:`MAX_BYTES` decoded streams instead (:mod:`.streaming`: its images stay files, decoded batch by batch
by a DataLoader's workers; ``.npz`` and CIFAR-10 are read whole). Bad input raises :class:`DataError` before
anything is written. Imports the errors, the Fashion-MNIST reader and the streaming loader only.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, did_you_mean
from .fashion_mnist import FashionMNIST, has_csv, has_idx, load_fashion_mnist, subset_indices
from .streaming import GREY_MODES, LazyImages, decode_image

TEST_FRACTION = 0.2
MAX_BYTES = 8 * 2**30  # images decoded into memory at most (8 GiB of uint8 pixels); a larger folder streams
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))


@dataclass
class ImageSet:
    """A labelled image set: uint8 images ``(N, C, H, W)`` and int64 labels indexing ``classes``."""

    name: str
    train_images: torch.Tensor | LazyImages  # LazyImages: a folder over MAX_BYTES, streamed
    train_labels: torch.Tensor
    test_images: torch.Tensor | LazyImages
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    source: str = ""
    format: str = ""
    split: str = ""  # where the test set came from
    checksums: dict[str, str] = field(default_factory=dict)
    load: dict[str, object] = field(default_factory=dict)  # load_dataset's arguments that rebuild it

    @property
    def channels(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.train_images.shape[2]), int(self.train_images.shape[3])

    def counts(self, split: str = "train") -> list[int]:
        labels = self.train_labels if split == "train" else self.test_labels
        return torch.bincount(labels, minlength=len(self.classes)).tolist()

    def subset(self, n_train: int | None, seed: int = 0) -> ImageSet:
        """A random ``n_train``-image training subset (fixed by ``seed``, drawn as Fashion-MNIST's is)."""
        idx = subset_indices(len(self.train_labels), n_train, seed)
        if idx is None:
            return self
        return replace(self, train_images=self.train_images[idx], train_labels=self.train_labels[idx])

    def digest(self) -> str:
        """MD5 of the images and labels (train then test): a resumed run checks it has the run's data."""
        h = hashlib.md5()
        for t in (self.train_images, self.train_labels, self.test_images, self.test_labels):
            h.update(t.fingerprint() if isinstance(t, LazyImages) else t.contiguous().numpy().tobytes())
        return h.hexdigest()

    @property
    def streamed(self) -> bool:
        """Its images stay on disk and stream (:mod:`.streaming`): over :data:`MAX_BYTES` decoded."""
        return isinstance(self.train_images, LazyImages)

    def info(self) -> dict[str, object]:
        return {"dataset": self.name, "source": self.source, "format": self.format, "split": self.split,
                "train": len(self.train_labels), "test": len(self.test_labels), "classes": list(self.classes),
                "channels": self.channels, "size": list(self.size), "checksums": dict(self.checksums),
                "load": dict(self.load), **({"streamed": True} if self.streamed else {})}


def from_fashion_mnist(ds: FashionMNIST) -> ImageSet:
    """The Fashion-MNIST tensors as an :class:`ImageSet` (a channel axis added, nothing else changed)."""
    return ImageSet("fashion-mnist", ds.train_images.unsqueeze(1), ds.train_labels, ds.test_images.unsqueeze(1),
                    ds.test_labels, tuple(ds.classes), ds.source, ds.format, "the release's test set",
                    dict(ds.checksums))


# -- checks shared by every format ---------------------------------------------------------------------------
def _check(images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], where: str) -> None:
    if len(images) != len(labels):
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels")
    if len(labels) == 0:
        raise DataError(f"{where}: no images")
    if labels.min() < 0 or labels.max() >= len(classes):
        bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
        raise DataError(f"{where}: label {bad} is outside the class list (0..{len(classes) - 1})")


def _finish(name: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray] | None,
            classes: tuple[str, ...], source: str, fmt: str, seed: int) -> ImageSet:
    """Check both sets, split off a seeded test set when there is none, and make the tensors."""
    _check(*train, classes, source)
    if len(np.unique(train[1])) < 2:
        raise DataError(f"{source}: one class only ({classes[int(train[1][0])]!r}); a classifier needs two or more")
    if test is None:
        train, test, split = _split(*train, seed)
    else:
        _check(*test, classes, f"{source} (test)")
        if train[0].shape[1:] != test[0].shape[1:]:
            raise DataError(f"{source}: test images are {_shape(test[0])}, training images {_shape(train[0])}")
        split = "its own test set"
    missing = sorted(set(np.unique(test[1]).tolist()) - set(np.unique(train[1]).tolist()))
    if missing:
        raise DataError(f"{source}: the test set has classes the training set lacks: "
                        f"{', '.join(classes[i] for i in missing)}")
    t = [a if isinstance(a, LazyImages) else torch.from_numpy(np.ascontiguousarray(a)) for a in (*train, *test)]
    return ImageSet(name, t[0], t[1].long(), t[2], t[3].long(), classes, source, fmt, split)


def _split(images: np.ndarray, labels: np.ndarray, seed: int):
    """:data:`TEST_FRACTION` of each class (at least one image of a class of two or more) as the test set."""
    rng = np.random.default_rng(seed)
    test_idx = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = int(round(len(idx) * TEST_FRACTION)) if len(idx) > 1 else 0
        test_idx.extend(rng.permutation(idx)[:max(k, 1 if len(idx) > 1 else 0)].tolist())
    mask = np.zeros(len(labels), dtype=bool)
    mask[test_idx] = True
    split = f"seeded split: {TEST_FRACTION:.0%} of each class (seed {seed})"
    return (images[~mask], labels[~mask]), (images[mask], labels[mask]), split


def _shape(images: np.ndarray) -> str:
    return f"{images.shape[1]}x{images.shape[2]}x{images.shape[3]}"


# -- .npz ------------------------------------------------------------------------------------------------------
def _npz_images(arr: np.ndarray, where: str) -> np.ndarray:
    """``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)`` (C 1 or 3; channels-last wins when both fit) as
    uint8 ``(N, C, H, W)``."""
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[3] in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)
    elif not (arr.ndim == 4 and arr.shape[1] in (1, 3)):
        raise DataError(f"{where}: images must be N x H x W, N x H x W x C or N x C x H x W with C 1 or 3, "
                        f"got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer) or (arr.size and (arr.min() < 0 or arr.max() > 255)):
        raise DataError(f"{where}: images must be integers in 0..255 (uint8), got {arr.dtype}")
    return arr.astype(np.uint8)


def _npz_labels(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"{where}: labels must be a vector of integers, got {arr.dtype} of shape {arr.shape}")
    return arr.astype(np.int64)


def load_npz(path: str | os.PathLike[str], seed: int = 0) -> ImageSet:
    """A ``.npz`` file (see the module docstring); without ``classes`` they are named ``0`` .. ``max label``."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    for key in ("images", "labels"):
        if key not in arrays:
            raise DataError(f"{path}: no {key!r} array (found: {', '.join(sorted(arrays)) or 'none'})")
    train = (_npz_images(arrays["images"], str(path)), _npz_labels(arrays["labels"], str(path)))
    test = None
    if ("test_images" in arrays) != ("test_labels" in arrays):
        raise DataError(f"{path}: 'test_images' and 'test_labels' go together")
    if "test_images" in arrays:
        test = (_npz_images(arrays["test_images"], str(path)), _npz_labels(arrays["test_labels"], str(path)))
    if "classes" in arrays:
        classes = tuple(str(c) for c in arrays["classes"].tolist())
    else:
        top = max(int(train[1].max(initial=0)), int(test[1].max(initial=0)) if test else 0)
        classes = tuple(str(i) for i in range(top + 1))
    return _finish(path.stem, train, test, classes, str(path), "npz", seed)


# -- CIFAR-10 (torchvision's layout) -------------------------------------------------------------------------
def cifar10_dir(path: Path) -> Path | None:
    for d in (path, path / CIFAR10_DIR):
        if all((d / n).is_file() for n in (*CIFAR10_TRAIN, "test_batch")):
            return d
    return None


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh, encoding="bytes")
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: not a CIFAR-10 batch ({exc})") from None


def _cifar_batches(d: Path, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for n in names:
        batch = _unpickle(d / n)
        try:
            x = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            y = np.asarray(batch[b"labels"], dtype=np.int64)
        except (KeyError, ValueError) as exc:
            raise DataError(f"{d / n}: not a CIFAR-10 batch ({exc})") from None
        images.append(x)
        labels.append(y)
    return np.concatenate(images), np.concatenate(labels)


def load_cifar10(path: str | os.PathLike[str], seed: int = 0) -> ImageSet:
    """CIFAR-10 from torchvision's ``cifar-10-batches-py`` (read without torchvision)."""
    d = cifar10_dir(Path(path))
    if d is None:
        raise DataError(f"{path}: no CIFAR-10 batches ({CIFAR10_DIR}/data_batch_1..5 and test_batch); "
                        "download and unpack https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz there")
    meta = _unpickle(d / "batches.meta") if (d / "batches.meta").is_file() else {}
    classes = tuple(n.decode() for n in meta.get(b"label_names", [])) or tuple(str(i) for i in range(10))
    ds = _finish("cifar-10", _cifar_batches(d, CIFAR10_TRAIN), _cifar_batches(d, ("test_batch",)), classes,
                 str(d), "cifar-python", seed)
    return ds


# -- image folders -------------------------------------------------------------------------------------------
def _class_dirs(root: Path) -> list[Path]:
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not dirs:
        raise DataError(f"{root}: no class subfolders (expected {root}/CLASS/IMAGE.png ...)")
    return dirs


def _image_files(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def _read_folder(root: Path, classes: tuple[str, ...] | None, size: int | None,
                 colour: bool | None) -> tuple[np.ndarray | LazyImages, np.ndarray, tuple[str, ...], bool]:
    """The images of a folder (uint8 ``(N, C, H, W)``, or :class:`LazyImages` over :data:`MAX_BYTES`), labels,
    classes and whether they are RGB. Every file's header is read first (mode and size: its colour, mixed sizes,
    the bytes it decodes to), so a set too large for memory is known before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    dirs = _class_dirs(root)
    names = tuple(d.name for d in dirs)
    if classes is not None:
        extra = sorted(set(names) - set(classes))
        if extra:
            raise DataError(f"{root}: the test set has classes the training set lacks: {', '.join(extra)}")
    classes = classes or names
    files: list[tuple[Path, int]] = []
    for d in dirs:
        found = _image_files(d)
        if not found:
            raise DataError(f"{d}: empty class folder (no image files)")
        files.extend((f, classes.index(d.name)) for f in found)
    headers = []
    for f, _ in files:
        try:
            with Image.open(f) as im:
                headers.append((im.mode, im.size))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"{f}: unreadable image ({exc})") from None
    if colour is None:  # any colour image makes the whole set RGB; else it stays grey
        colour = any(mode not in GREY_MODES for mode, _ in headers)
    shapes = {shape for _, shape in headers}
    if size is None and len(shapes) > 1:
        (w1, h1), (w2, h2) = sorted(shapes)[:2]
        raise DataError(f"{root}: images of mixed sizes ({w1}x{h1}, {w2}x{h2}, ...); state a size to resize to "
                        "(--image-size N)")
    w, h = (size, size) if size is not None else headers[0][1]
    labels = np.array([c for _, c in files], dtype=np.int64)
    if len(files) * (3 if colour else 1) * w * h > MAX_BYTES:  # streamed: decoded batch by batch as it trains
        return LazyImages([str(f) for f, _ in files], (w, h), colour), labels, classes, colour
    out = np.empty((len(files), 3 if colour else 1, h, w), dtype=np.uint8)
    for i, (f, _) in enumerate(files):
        out[i] = decode_image(f, (w, h), colour)  # the streaming loader's decoding, item for item
    return out, labels, classes, colour


def load_image_folder(path: str | os.PathLike[str], test_path: str | os.PathLike[str] | None = None,
                      size: int | None = None, seed: int = 0) -> ImageSet:
    """Class subfolders of images (see the module docstring); ``size`` resizes every image to size x size."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: no such directory")
    if size is not None and size < 1:
        raise DataError(f"image size must be at least 1 px, got {size}")
    subdirs = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    train_root = root
    if test_path is None and "train" in subdirs and subdirs <= {"train", "test"}:
        train_root = root / "train"
        test_path = root / "test" if "test" in subdirs else None
    x, y, classes, colour = _read_folder(train_root, None, size, None)
    test = None
    if test_path is not None:
        tx, ty, _, _ = _read_folder(Path(test_path), classes, size or x.shape[2], colour)
        if size is None and tx.shape[2:] != x.shape[2:]:
            raise DataError(f"{test_path}: test images are {tx.shape[3]}x{tx.shape[2]}, training images "
                            f"{x.shape[3]}x{x.shape[2]}; state a size to resize to (--image-size N)")
        test = (tx, ty)
    return _finish(root.name, (x, y), test, classes, str(root), "image-folder", seed)


# -- the registry ------------------------------------------------------------------------------------------
def _fashion(path: str | os.PathLike[str] | None, **_: object) -> ImageSet:
    return from_fashion_mnist(load_fashion_mnist(path))


def _cifar(path: str | os.PathLike[str] | None, seed: int = 0, **_: object) -> ImageSet:
    if path is None:
        raise DataError("cifar-10: give the directory holding cifar-10-batches-py (--dataset DIR); it is not "
                        "downloaded")
    return load_cifar10(path, seed)


DATASETS: dict[str, Callable[..., ImageSet]] = {"fashion-mnist": _fashion, "cifar-10": _cifar}
DEFAULT_DATASET = "fashion-mnist"


def holds_images(directory: str | os.PathLike[str]) -> bool:
    """Image files in ``directory`` or its class subfolders (an image set's layout), looked for one level down."""
    children = [c for c in Path(directory).iterdir() if not c.name.startswith(".")]
    files = [c for c in children if c.is_file()] + [f for c in children if c.is_dir() for f in c.iterdir()]
    return any(f.suffix.lower() in IMAGE_SUFFIXES for f in files)


def load_dataset(name_or_path: str | os.PathLike[str] | None = None, *, test_path: str | os.PathLike[str] | None = None,
                 size: int | None = None, seed: int = 0) -> ImageSet:
    """The dataset ``name_or_path`` names (a key of :data:`DATASETS`) or holds (see the module docstring);
    None is Fashion-MNIST found by its search order. ``test_path`` and ``size`` apply to image folders; ``seed``
    draws the held-out split of a set without a test set. The result's ``load`` holds these arguments (paths made
    absolute), so a run can record it and load it again."""
    ds = _load_dataset(name_or_path, test_path, size, seed)
    where = None if name_or_path is None else str(name_or_path)
    if where is not None and where not in DATASETS:
        where = str(Path(where).resolve())
    ds.load = {"name_or_path": where, "test_path": None if test_path is None else str(Path(test_path).resolve()),
               "size": size, "seed": seed}
    return ds


def _load_dataset(name_or_path: str | os.PathLike[str] | None, test_path: str | os.PathLike[str] | None,
                  size: int | None, seed: int) -> ImageSet:
    if name_or_path is None or str(name_or_path) in DATASETS:
        return DATASETS[str(name_or_path or DEFAULT_DATASET)](None, seed=seed)
    p = Path(name_or_path)
    if not p.exists():
        raise DataError(f"{p}: neither a dataset ({', '.join(DATASETS)}) nor an existing path"
                        f"{did_you_mean(str(p), DATASETS)}")
    if p.is_file():
        if p.suffix == ".npz":
            return load_npz(p, seed)
        if p.parent.is_dir() and has_csv(p.parent):
            return _fashion(p.parent)
        raise DataError(f"{p}: a dataset file must be a .npz (images, labels[, classes])")
    if has_idx(p) or has_csv(p):
        return _fashion(p)
    if cifar10_dir(p) is not None:
        return load_cifar10(p, seed)
    return load_image_folder(p, test_path, size, seed)


def describe(ds: ImageSet) -> str:
    """What ``visualstreams data show`` prints: where it came from, size, channels, counts per class."""
    h, w = ds.size
    lines = [f"{ds.name} ({ds.format}) from {ds.source}",
             f"  {w}x{h} px, {ds.channels} channel{'s' if ds.channels > 1 else ''} "
             f"({'RGB' if ds.channels == 3 else 'grey'}), {len(ds.classes)} classes",
             f"  {len(ds.train_labels)} train, {len(ds.test_labels)} test ({ds.split})"]
    if ds.streamed:
        lines.append(f"  streamed from disk: over the in-memory limit of {MAX_BYTES / 2**30:.3g} GiB decoded "
                     f"({ds.train_images.workers} worker processes decode each batch)")
    width = max(len(c) for c in ds.classes)
    for c, n_train, n_test in zip(ds.classes, ds.counts("train"), ds.counts("test"), strict=True):
        lines.append(f"  {c:<{width}}  {n_train:>7} train  {n_test:>6} test")
    return "\n".join(lines)


def show_dataset(name_or_path: str | os.PathLike[str] | None = None, **options: object) -> str:
    """:func:`describe` of :func:`load_dataset` (``options`` are its keywords): ``visualstreams data show``."""
    return describe(load_dataset(name_or_path, **options))  # type: ignore[arg-type]
