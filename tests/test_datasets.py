"""The dataset registry: image folders, .npz and CIFAR-10 (torchvision's layout) read from files the tests write;
Fashion-MNIST through the registry is the same tensors as before; bad input is refused in one line."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic import write_idx_dir

from visualstreams.cli import main
from visualstreams.data import datasets as ds
from visualstreams.data import load_dataset, load_fashion_mnist
from visualstreams.errors import DataError

CLASSES = ("circle", "cross", "square", "stripes")


def blob_images(n_per_class: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four classes easy to tell apart: class k is a bright patch of colour channel k % 3 in quadrant k."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), n_per_class)
    images = rng.integers(0, 50, (len(labels), size, size, 3)).astype(np.uint8)
    h = size // 2
    for i, k in enumerate(labels):
        r, c = (k // 2) * h, (k % 2) * h
        images[i, r:r + h, c:c + h, k % 3] = 220
    return images, labels


def write_folder(root: Path, n_per_class: int = 10, size: int = 32, seed: int = 0,
                 classes: tuple[str, ...] = CLASSES) -> Path:
    images, labels = blob_images(n_per_class, size, seed)
    for i, (im, k) in enumerate(zip(images, labels, strict=True)):
        if k >= len(classes):
            continue
        d = root / classes[k]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).save(d / f"{i:04d}.png")
    return root


def write_cifar(root: Path, n: int = 6) -> Path:
    """torchvision's cifar-10-batches-py: pickled dicts of b'data' (N, 3072) uint8 rows and b'labels'."""
    d = root / ds.CIFAR10_DIR
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate((*ds.CIFAR10_TRAIN, "test_batch")):
        batch = {b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
                 b"labels": [(i + j) % 10 for j in range(n)], b"batch_label": name.encode()}
        (d / name).write_bytes(pickle.dumps(batch))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (d / "batches.meta").write_bytes(pickle.dumps({b"label_names": names, b"num_vis": 3072}))
    return root


def test_image_folder_reads_pixels_classes_and_a_seeded_split(tmp_path):
    root = write_folder(tmp_path / "shapes", n_per_class=10)
    a = load_dataset(root)
    assert a.classes == CLASSES and a.channels == 3 and a.size == (32, 32) and a.format == "image-folder"
    assert a.counts("train") == [8] * 4 and a.counts("test") == [2] * 4 and "seed 0" in a.split
    assert a.train_images.dtype == torch.uint8 and a.train_images.shape == (32, 3, 32, 32)
    # The pixels are the files' (PNG is lossless): the first class's first file is somewhere in the set.
    first = np.asarray(Image.open(sorted((root / "circle").iterdir())[0])).transpose(2, 0, 1)
    both = torch.cat([a.train_images, a.test_images])
    assert (both == torch.from_numpy(first.copy())).flatten(1).all(1).sum() == 1
    b, c = load_dataset(root), load_dataset(root, seed=1)
    assert torch.equal(a.test_images, b.test_images)  # seeded: the same split every time
    assert not torch.equal(a.test_images, c.test_images)


def test_image_folder_with_train_and_test_and_resize(tmp_path):
    write_folder(tmp_path / "set" / "train", 5)
    write_folder(tmp_path / "set" / "test", 2, seed=1, classes=CLASSES[:3])  # a test set may lack classes
    a = load_dataset(tmp_path / "set", size=16)
    assert a.counts("train") == [5] * 4 and a.counts("test") == [2, 2, 2, 0]
    assert a.size == (16, 16) and a.split == "its own test set"


def test_grey_folder_stays_grey(tmp_path):
    for k in range(2):
        (tmp_path / f"c{k}").mkdir()
        for i in range(3):
            Image.fromarray(np.full((20, 24), 100 * k, np.uint8)).save(tmp_path / f"c{k}" / f"{i}.png")
    a = load_dataset(tmp_path)
    assert a.channels == 1 and a.size == (20, 24) and int(a.train_images[a.train_labels == 1].min()) == 100


def test_npz_matches_the_folder(tmp_path):
    images, labels = blob_images(10)
    np.savez(tmp_path / "blobs.npz", images=images, labels=labels, classes=np.array(CLASSES))
    a = load_dataset(tmp_path / "blobs.npz")
    assert a.classes == CLASSES and a.channels == 3 and a.counts("train") == [8] * 4
    np.savez(tmp_path / "split.npz", images=images[:, :, :, 0], labels=labels, test_images=images[:4, :, :, 0],
             test_labels=labels[:4])
    b = load_dataset(tmp_path / "split.npz")
    assert b.channels == 1 and b.classes == ("0", "1", "2", "3") and len(b.test_labels) == 4


def test_cifar10_in_torchvisions_layout(tmp_path):
    write_cifar(tmp_path)
    a = load_dataset(tmp_path)
    assert a.format == "cifar-python" and a.classes[0] == "airplane" and len(a.classes) == 10
    assert a.train_images.shape == (30, 3, 32, 32) and a.test_images.shape == (6, 3, 32, 32)
    raw = pickle.loads((tmp_path / ds.CIFAR10_DIR / "data_batch_1").read_bytes())
    assert torch.equal(a.train_images[0], torch.from_numpy(raw[b"data"][0].reshape(3, 32, 32)))
    with pytest.raises(DataError, match="cifar-10: give the directory"):
        load_dataset("cifar-10")


def test_fashion_mnist_through_the_registry_is_the_same_tensors(tmp_path):
    d = write_idx_dir(tmp_path / "fm", 40, 20)
    old, new = load_fashion_mnist(d), load_dataset(d)
    assert new.name == "fashion-mnist" and new.channels == 1 and new.size == (28, 28)
    assert torch.equal(new.train_images[:, 0], old.train_images) and torch.equal(new.test_labels, old.test_labels)
    assert new.checksums == old.checksums and new.classes == old.classes


def _write_bad(tmp_path: Path, kind: str) -> Path:
    root = write_folder(tmp_path / kind, 3, size=8)
    if kind == "empty":
        for f in (root / "cross").iterdir():
            f.unlink()
    elif kind == "unreadable":
        (root / "cross" / "9999.png").write_bytes(b"not a png")
    elif kind == "mixed":
        Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(root / "cross" / "big.png")
    elif kind == "one_class":
        root = write_folder(tmp_path / "one", 3, size=8, classes=CLASSES[:1])
    elif kind == "test_extra":
        write_folder(tmp_path / "extra_test", 2, size=8)
        (tmp_path / "extra_test" / "extra").mkdir()
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "extra_test" / "extra" / "0.png")
    return root


@pytest.mark.parametrize(("kind", "message"), [
    ("empty", "cross: empty class folder"),
    ("unreadable", "cross/9999.png: unreadable image"),
    ("mixed", "images of mixed sizes (8x8, 9x9, ...); state a size"),
    ("one_class", "one class only ('circle')"),
    ("test_extra", "the test set has classes the training set lacks: extra"),
])
def test_bad_folders_refused(tmp_path, kind, message):
    root = _write_bad(tmp_path, kind)
    test = tmp_path / "extra_test" if kind == "test_extra" else None
    with pytest.raises(DataError) as err:
        load_dataset(root, test_path=test)
    assert message in str(err.value)


def test_npz_labels_outside_the_class_list(tmp_path):
    images, labels = blob_images(2, size=8)
    np.savez(tmp_path / "bad.npz", images=images, labels=labels, classes=np.array(CLASSES[:3]))
    with pytest.raises(DataError, match=r"label 3 is outside the class list \(0..2\)"):
        load_dataset(tmp_path / "bad.npz")
    np.savez(tmp_path / "float.npz", images=images.astype(np.float32), labels=labels)
    with pytest.raises(DataError, match="integers in 0..255"):
        load_dataset(tmp_path / "float.npz")


def test_data_show_prints_counts_size_channels_and_source(tmp_path, capsys):
    root = write_folder(tmp_path / "shapes", 5)
    assert main(["data", "show", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"shapes (image-folder) from {root}" in out and "32x32 px, 3 channels (RGB), 4 classes" in out
    assert "16 train, 4 test (seeded split: 20% of each class (seed 0))" in out
    assert any(line.split() == ["square", "4", "train", "1", "test"] for line in out.splitlines())
    broken = sorted((root / "square").iterdir())[0]
    broken.write_bytes(b"broken")
    assert main(["data", "show", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{broken}: unreadable image" in err and "Traceback" not in err
