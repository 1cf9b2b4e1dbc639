"""The dataset registry: image folders, .npz and CIFAR-10 (torchvision's layout) read from files the tests write;
Fashion-MNIST through the registry is the same tensors as before; bad input is refused in one line."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic import write_idx_dir
from test_resume import crash_at

import visualstreams as vs
from visualstreams.cli import main
from visualstreams.data import datasets as ds
from visualstreams.data import load_dataset, load_fashion_mnist
from visualstreams.errors import ConfigError, DataError, VisualStreamsError

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


# -- training on a dataset -----------------------------------------------------------------------------------
# Computed on main (f02b215) before datasets existed: human, 1 epoch, batch 32, seed 0, fp32 on the CPU, on
# write_idx_dir(256 train, 64 test). A change to Fashion-MNIST's path moves these by far more than rounding.
FM_PIN = {"train_loss": 2.214881181716919, "test_loss": 1.855878472328186, "test_acc": 28.125,
          "weights": 89.00758157760241}


def quick(**kw):
    return vs.make_config(**{"epochs": 1, "batch_size": 32, "seed": 0, "device": "cpu", "precision": "fp32", **kw})


def weight_sum(model) -> float:
    return sum(float(p.detach().double().sum()) for p in model.parameters())


def test_fashion_mnist_training_is_unchanged_and_the_same_through_dataset(tmp_path, one_thread):
    d = write_idx_dir(tmp_path / "fm", 256, 64)
    old = vs.train("human", quick(), data_path=d, progress=False)
    last = old.history.iloc[-1]
    for key in ("train_loss", "test_loss", "test_acc"):
        assert float(last[key]) == pytest.approx(FM_PIN[key], rel=1e-6), key
    assert weight_sum(old.model) == pytest.approx(FM_PIN["weights"], rel=1e-6)
    new = vs.train("human", quick(), dataset=d, progress=False)  # the registry's Fashion-MNIST: bit for bit
    assert new.history.drop(columns="seconds").equals(old.history.drop(columns="seconds"))
    assert all(torch.equal(a, b) for a, b in zip(old.model.parameters(), new.model.parameters(), strict=True))


@pytest.fixture(scope="module")
def rgb_folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("rgb") / "shapes", n_per_class=60)  # 240 images, 32 px


def test_image_folder_and_npz_train_above_chance_in_one_epoch(tmp_path, rgb_folder, one_thread):
    run = vs.train("human", quick(), dataset=rgb_folder, out=tmp_path / "run", progress=False)
    what = next(h for h in run.model.spec.heads if h.name == "what")
    assert run.model.spec.architecture.in_channels == 3 and what.outputs == 4 and run.model.spec.image_size == 32
    assert float(run.history.iloc[-1]["test_acc"]) > 60  # chance is 25%
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["load"]["name_or_path"] == str(rgb_folder) and config["data"]["classes"] == list(CLASSES)
    loaded = vs.load_run(tmp_path / "run")
    assert loaded.model.spec.architecture.in_channels == 3
    images, labels = blob_images(60)
    np.savez(tmp_path / "blobs.npz", images=images, labels=labels)
    npz = vs.train("human", quick(), dataset=tmp_path / "blobs.npz", progress=False)
    assert float(npz.history.iloc[-1]["test_acc"]) > 60


def test_rgb_run_resumes_to_the_uninterrupted_run(tmp_path, rgb_folder, one_thread):
    cfg = quick(epochs=2)
    ref = vs.train("mouse", cfg, dataset=rgb_folder, out=tmp_path / "ref", progress=False)

    with crash_at(8):
        vs.train("mouse", cfg, dataset=rgb_folder, out=tmp_path / "run", progress=False, checkpoint_every=2)
    other = write_folder(tmp_path / "other", n_per_class=60, seed=5)
    with pytest.raises(VisualStreamsError, match="the data differ from the run's"):
        vs.resume_run(tmp_path / "run", data_path=other, progress=False)
    resumed = vs.resume_run(tmp_path / "run", progress=False)  # finds the folder from config.json
    assert resumed.resumed_from is not None
    assert resumed.history.drop(columns="seconds").equals(ref.history.drop(columns="seconds"))
    assert all(torch.equal(a, b) for a, b in zip(ref.model.parameters(), resumed.model.parameters(), strict=True))


def test_the_network_follows_the_data_and_bad_combinations_are_refused(tmp_path, rgb_folder):
    spec = vs.compile_network("human", image_size=64, in_channels=3, classes=7)
    assert spec.areas[0].in_channels == 3 and next(h for h in spec.heads if h.name == "what").outputs == 7
    assert vs.compile_network("human").structure == vs.compile_network("human", in_channels=1, classes=10).structure
    with pytest.raises(ConfigError, match="places 28 px grey items on a canvas"):
        vs.train("human", quick(task="what-where"), dataset=rgb_folder, progress=False)
    code = main(["train", "--species", "human", "--dataset", str(rgb_folder), "--data", str(tmp_path),
                 "--out", str(tmp_path / "x")])
    assert code == 2 and not (tmp_path / "x").exists()


def test_stacked_training_on_an_rgb_dataset_is_each_models_own(tmp_path, one_thread):
    """One stacked step of three RGB models equals each model's own step (as tests/test_stacked.py checks on grey
    items)."""
    from visualstreams.data import DeviceData
    from visualstreams.engine import fit, fit_stacked
    from visualstreams.runs import build_seeded, compile_for

    data = load_dataset(write_folder(tmp_path / "few", n_per_class=5))  # 16 training images: one batch of 16
    dev = DeviceData.from_dataset(data, torch.device("cpu"))
    assert dev.train_x.shape == (16, 3, 32, 32)
    cfgs = [quick(batch_size=16, seed=s) for s in (0, 1, 2)]
    species = ["human", "marmoset", "human"]

    def build(s, c):
        return build_seeded(compile_for(s, c, data=data), c.seed, torch.device("cpu"))

    alone = [build(s, c) for s, c in zip(species, cfgs, strict=True)]
    hist_alone = [fit(m, dev, c, "fp32", progress=False) for m, c in zip(alone, cfgs, strict=True)]
    stacked = [build(s, c) for s, c in zip(species, cfgs, strict=True)]
    hist_stacked = fit_stacked(stacked, [dev] * 3, cfgs, "fp32", progress=False)
    for a, b, ha, hb in zip(alone, stacked, hist_alone, hist_stacked, strict=True):
        assert a.spec.architecture.in_channels == 3
        assert max((x - y).abs().max().item() for x, y in zip(a.state_dict().values(), b.state_dict().values(),
                                                              strict=True)) < 1e-5
        assert ha[0]["train_loss"] == pytest.approx(hb[0]["train_loss"], rel=1e-6)


def test_cifar10_files_train_and_show(tmp_path, capsys, one_thread):
    write_cifar(tmp_path / "cifar")
    run = vs.train("human", quick(), dataset=tmp_path / "cifar", progress=False)
    what = next(h for h in run.model.spec.heads if h.name == "what")
    assert (run.model.spec.architecture.in_channels, run.model.spec.image_size, what.outputs) == (3, 32, 10)
    assert main(["data", "show", str(tmp_path / "cifar")]) == 0
    out = capsys.readouterr().out
    assert "cifar-10 (cifar-python)" in out and "32x32 px, 3 channels (RGB), 10 classes" in out


# -- random crop with padding ----------------------------------------------------------------------------------
def test_random_crop_shifts_each_item_by_its_offset_with_zero_borders():
    from visualstreams.engine.loop import crop_offsets, random_crop

    items = torch.arange(2 * 3 * 5 * 5, dtype=torch.uint8).reshape(2, 3, 5, 5) + 1
    out = random_crop(items, 2, torch.tensor([[2, 2], [0, 4]]))
    assert torch.equal(out[0], items[0])  # offset (pad, pad): the item itself
    assert torch.equal(out[1, :, 2:, :3], items[1, :, :3, 2:])  # 2 rows down, 2 columns left
    assert (out[1, :, :2] == 0).all() and (out[1, :, :, 3:] == 0).all()
    g = torch.Generator().manual_seed(0)
    offsets = crop_offsets(1000, 3, g)
    assert offsets.min() == 0 and offsets.max() == 6
    with pytest.raises(ConfigError, match="crop padding"):
        vs.make_config(crop_pad=-1)


def test_crops_resume_and_stack_as_runs_without_them(tmp_path, rgb_folder, one_thread):
    """Crop offsets come from the run's augmentation generator: a crashed run resumes to the uninterrupted one,
    and stacked models draw their own."""
    from visualstreams.data import DeviceData
    from visualstreams.engine import fit, fit_stacked
    from visualstreams.runs import build_seeded, compile_for

    cfg = vs.make_config("fast", epochs=1, batch_size=32, crop_pad=4, device="cpu", precision="fp32")
    ref = vs.train("human", cfg, dataset=rgb_folder, progress=False)
    plain = vs.train("human", vs.make_config("fast", epochs=1, batch_size=32, device="cpu", precision="fp32"),
                     dataset=rgb_folder, progress=False)
    assert not ref.history.drop(columns="seconds").equals(plain.history.drop(columns="seconds"))  # crops happen

    with crash_at(3):
        vs.train("human", cfg, dataset=rgb_folder, out=tmp_path / "run", progress=False, checkpoint_every=2)
    resumed = vs.resume_run(tmp_path / "run", progress=False)
    assert resumed.resumed_from == (1, 2)
    assert all(torch.equal(a, b) for a, b in zip(ref.model.parameters(), resumed.model.parameters(), strict=True))

    data = load_dataset(write_folder(tmp_path / "few", n_per_class=5))
    dev = DeviceData.from_dataset(data, torch.device("cpu"))
    cfgs = [quick(batch_size=16, hflip=True, crop_pad=3, seed=s) for s in (0, 1)]  # one step of each
    alone = [build_seeded(compile_for("human", c, data=data), c.seed, torch.device("cpu")) for c in cfgs]
    hist_alone = [fit(m, dev, c, "fp32", progress=False) for m, c in zip(alone, cfgs, strict=True)]
    stacked = [build_seeded(compile_for("human", c, data=data), c.seed, torch.device("cpu")) for c in cfgs]
    hist_stacked = fit_stacked(stacked, [dev] * 2, cfgs, "fp32", progress=False)
    for a, b, ha, hb in zip(alone, stacked, hist_alone, hist_stacked, strict=True):
        assert ha[0]["train_loss"] == pytest.approx(hb[0]["train_loss"], rel=1e-6)  # the same crops
        assert max((x - y).abs().max().item() for x, y in zip(a.state_dict().values(), b.state_dict().values(),
                                                              strict=True)) < 1e-5


def test_a_checkpoint_from_before_crops_still_fits_its_run():
    from dataclasses import asdict

    from visualstreams.engine.checkpoint import check_state

    cfg = vs.make_config(epochs=2)
    before = {k: v for k, v in asdict(cfg).items() if k != "crop_pad"}  # written before crop_pad existed
    state = {"train": before, "epoch": 1, "step": 3, "history": [{}]}
    check_state(state, cfg, 96, 3)
    with pytest.raises(VisualStreamsError, match="another run"):
        check_state({**state, "train": {**before, "crop_pad": 4}}, cfg, 96, 3)
