"""Small, learnable stand-ins for Fashion-MNIST, written by the tests themselves."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from visualstreams.data import IDX_FILES, FashionMNIST


def striped_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class k is a bright horizontal band at rows 2k..2k+3, plus noise: easy to learn in a few steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 4: 2 * k + 7, 4:24] = 230
    return images, labels


def synthetic_dataset(n_train: int = 256, n_test: int = 128) -> FashionMNIST:
    xtr, ytr = striped_images(n_train, 0)
    xte, yte = striped_images(n_test, 1)
    return FashionMNIST(torch.from_numpy(xtr), torch.from_numpy(ytr.astype(np.int64)),
                        torch.from_numpy(xte), torch.from_numpy(yte.astype(np.int64)),
                        source="synthetic", format="memory")


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx_dir(directory: Path, n_train: int = 512, n_test: int = 256) -> Path:
    """The four IDX .gz files, named as the release names them, with striped images."""
    directory.mkdir(parents=True, exist_ok=True)
    xtr, ytr = striped_images(n_train, 0)
    xte, yte = striped_images(n_test, 1)
    arrays = {"train_images": xtr, "train_labels": ytr, "test_images": xte, "test_labels": yte}
    for key, name in IDX_FILES.items():
        (directory / name).write_bytes(gzip.compress(idx_bytes(arrays[key])))
    return directory
