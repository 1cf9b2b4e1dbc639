"""The occlusion, debris and clutter tasks: occluders hide the stated share of an item (and debris covers it while
leaving its silhouette whole), a level's test set is the same in every run, a clutter scene's targets are the
classes placed, and a tiny run of each trains above chance."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from stacking import alone_and_stacked, weight_diffs
from synthetic import write_idx_dir
from test_resume import assert_same_run, crash_at

import visualstreams as vs
from visualstreams.cli import main
from visualstreams.data import FashionMNIST
from visualstreams.data import debris as debris_scenes
from visualstreams.data.clutter import clutter, clutter_draws
from visualstreams.data.cover import INK
from visualstreams.data.noise import keyed_uniforms
from visualstreams.data.occlusion import DRAWS, FILL, OCCLUSION_STREAM, occlude, occluded_test_items
from visualstreams.errors import ConfigError
from visualstreams.runs import RunDir, resume_run
from visualstreams.tasks import get_task

SRC = Path(__file__).resolve().parents[1] / "src"

pytestmark = pytest.mark.usefixtures("one_thread")


def banded(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class k: a bright band at rows 2k+4..2k+6 on a dark background whose noise stays below the ink threshold,
    so an item's pixels are its band alone (easy to learn, and to check coverage on)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, INK, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 4: 2 * k + 7, 4:24] = rng.integers(150, 255, (3, 20))
    return images, labels


def banded_dataset(n_train: int = 512, n_test: int = 128) -> FashionMNIST:
    xtr, ytr = banded(n_train, 0)
    xte, yte = banded(n_test, 1)
    return FashionMNIST(torch.from_numpy(xtr), torch.from_numpy(ytr), torch.from_numpy(xte), torch.from_numpy(yte),
                        source="banded", format="memory")


def blobs(n: int, seed: int = 0) -> torch.Tensor:
    """Items of Fashion-MNIST's kind of size: textured ellipses of 150-400 pixels, (n, 1, 28, 28) uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    out = rng.integers(0, INK, (n, 28, 28)).astype(np.uint8)
    for i in range(n):
        cy, cx, ry, rx = rng.uniform(11, 17), rng.uniform(11, 17), rng.uniform(6, 12), rng.uniform(6, 12)
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        out[i][inside] = rng.integers(60, 256, int(inside.sum()))
    return torch.from_numpy(out).unsqueeze(1)


def outline(mask: torch.Tensor) -> torch.Tensor:
    """An item's outline (B, 28, 28): its pixels with a 4-neighbour outside it."""
    pad = torch.nn.functional.pad(mask, (1, 1, 1, 1))
    inner = pad[:, :-2, 1:-1] & pad[:, 2:, 1:-1] & pad[:, 1:-1, :-2] & pad[:, 1:-1, 2:]
    return mask & ~inner


# -- occlusion ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("level", [0.0, 0.2, 0.4, 0.6, 0.8])
def test_occluders_hide_the_stated_share_of_each_item_to_half_a_pixel_outline_included(level):
    pool = blobs(200)
    index = torch.arange(200)
    out, hidden = occlude(pool, torch.full((200,), level), keyed_uniforms(OCCLUSION_STREAM, index, DRAWS))
    items = pool[:, 0].flatten(1)
    mask = items > INK
    n_item = mask.sum(1).float()
    shown = out[:, 0].flatten(1)
    gone = mask & (shown == FILL)  # the item's pixels that show the fill: hidden
    # the tolerance: round(level x item pixels) pixels are hidden, so within half a pixel of the level
    assert ((hidden - level).abs() <= 0.5 / n_item + 1e-6).all(), (hidden - level).abs().max()
    assert torch.equal(gone.sum(1).float() / n_item, hidden)
    changed = shown != items
    assert (shown[changed] == FILL).all()  # a hidden pixel is the fill, nothing of the item (or of another item)
    assert (changed & mask).sum() == gone.sum()  # ... and every hidden item pixel is hidden
    # the silhouette goes with the rest: the outline is hidden about in proportion (measured on these items: 0.92-
    # 0.96 of the level; on Fashion-MNIST's test set 0.93-0.95), not kept whole as debris keeps it
    edge = outline(mask.view(-1, 28, 28)).flatten(1)
    edge_hidden = float((gone & edge).sum() / edge.sum())
    assert edge_hidden == pytest.approx(level, abs=0.1 * level + 1e-9)
    if level == 0:
        assert torch.equal(out, pool)


def test_occlusion_levels_are_nested_and_keyed_by_the_item_alone():
    pool = blobs(32)
    index = torch.arange(32)
    low, high = (occluded_test_items(pool, index, lv) for lv in (0.2, 0.6))
    hidden_low, hidden_high = low != pool, high != pool
    assert (hidden_high | ~hidden_low).all()  # what 20% hides, 60% hides too
    assert torch.equal(occluded_test_items(pool, index[5:9], 0.6), high[5:9])  # any batch, the same scene


# -- debris ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("level", [0.0, 0.2, 0.4, 0.6, 0.8])
def test_debris_covers_the_stated_share_of_each_item_and_leaves_its_silhouette_whole(level):
    pool = blobs(200)
    index = torch.arange(64)
    out, coverage = debris_scenes.debris(pool[:64], torch.full((64,), level), pool, index,
                                         keyed_uniforms(debris_scenes.DEBRIS_STREAM, index, debris_scenes.DRAWS))
    items = pool[:64, 0].flatten(1)
    mask = items > INK
    n_item = mask.sum(1).float()
    # the tolerance: the cover is round(level x item pixels) pixels, so within half a pixel of the level
    assert ((coverage - level).abs() <= 0.5 / n_item + 1e-6).all(), (coverage - level).abs().max()
    changed = out[:, 0].flatten(1) != items
    assert ((changed & mask).sum(1) <= torch.round(coverage * n_item)).all()  # only covered pixels change ...
    assert (out[:, 0].flatten(1)[changed] > INK).all()  # ... to a fragment's ink, on the item or off it
    # so every pixel of the item is still ink at every level: the silhouette is never removed (why it is debris)
    assert (out[:, 0].flatten(1)[mask] > INK).all()
    if level == 0:
        assert torch.equal(out, pool[:64])
    else:  # fragments of other items: their ink is drawn where the item had none, too (debris)
        assert (changed & ~mask).any()


def test_a_levels_test_set_is_the_same_in_every_run_at_any_batch_size():
    data = banded_dataset(64, 96)
    test_x = data.test_images.unsqueeze(1)
    scenes = []
    for seed, batch in ((0, 96), (3, 7)):  # another run's seed, another batch size
        task = get_task("occlusion", occlusion="40", seed=seed)
        parts = [task.make_batch(test_x[i:i + batch], data.test_labels[i:i + batch], index=torch.arange(i, min(
            i + batch, 96)), pool=(test_x, data.test_labels))[0] for i in range(0, 96, batch)]
        scenes.append(torch.cat(parts))
    assert torch.equal(scenes[0], scenes[1])
    assert not torch.equal(scenes[0], test_x.float() / 255)  # occluded
    assert set(torch.unique((scenes[0] * 255).round())[:1].tolist()) == {float(FILL)}  # deleted to the fill
    digest = hashlib.sha256(occluded_test_items(test_x, torch.arange(96), 0.4).numpy().tobytes()).hexdigest()
    # ... and in another process (nothing cached there): the same bytes
    code = ("import sys, hashlib, torch; sys.path.insert(0, sys.argv[1]); from test_scenes import banded_dataset\n"
            "from visualstreams.data.occlusion import occluded_test_items\n"
            "x = banded_dataset(64, 96).test_images.unsqueeze(1)\n"
            "print(hashlib.sha256(occluded_test_items(x, torch.arange(96), 0.4).numpy().tobytes()).hexdigest())")
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.stdout.strip() == digest, out.stderr


def test_training_draws_each_images_level_from_the_mix():
    data = banded_dataset(64, 8)
    x = data.train_images.unsqueeze(1)
    task = get_task("occlusion", occlusion="0,60")
    gen = torch.Generator().manual_seed(0)
    out, _ = task.make_batch(x, data.train_labels, generator=gen, index=torch.arange(64), pool=(x, data.train_labels))
    changed = ((out * 255).round().to(torch.uint8) != x).flatten(1).any(1)
    assert 10 < int(changed.sum()) < 54  # about half the images clean, half at 60%
    again, _ = task.make_batch(x, data.train_labels, generator=torch.Generator().manual_seed(0),
                               index=torch.arange(64), pool=(x, data.train_labels))
    assert torch.equal(out, again)  # the run's generator decides everything


# -- clutter --------------------------------------------------------------------------------------------------------
def test_a_clutter_scenes_targets_are_the_classes_placed():
    # Each item is one flat grey of its class (30 + 20 k): what is visible in a scene names the classes in it.
    labels = torch.arange(10).repeat(20)
    pool = (30 + 20 * labels).to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 28, 28).contiguous()
    n, canvas, b = 3, 120, 200
    draws = keyed_uniforms(1, torch.arange(b), (clutter_draws(n, 10),))
    scenes, present = clutter(pool[:b], labels[:b], pool, labels, n, canvas, draws, 10)
    assert scenes.shape == (b, 1, canvas, canvas) and present.shape == (b, 10)
    assert (present.sum(1) == n).all() and (present.gather(1, labels[:b, None]) == 1).all()  # its own class too
    visible = [{(int(v) - 30) // 20 for v in s.unique() if v > 0} for s in scenes]
    placed = [set(torch.nonzero(p).flatten().tolist()) for p in present]
    assert all(v <= p for v, p in zip(visible, placed, strict=True))  # nothing shown that is not a target
    assert sum(v == p for v, p in zip(visible, placed, strict=True)) >= 0.9 * b  # all shown, unless one is hidden
    # every pixel of the items is on the canvas: three items' worth where nothing overlaps
    assert ((scenes > 0).flatten(1).sum(1) <= n * 28 * 28).all()


def test_clutter_metrics_are_top_n_exact_match_and_mean_f1():
    task = get_task("clutter")
    present = torch.tensor([[1, 1, 1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0.]])
    logits = torch.full((2, 10), -5.0)
    logits[0, :3] = 5.0  # all three right
    logits[1, [0, 1, 5]] = 5.0  # two of three, one wrong class said
    m = task.finalize(task.batch_sums({"what": logits}, {"present": present}), 2)
    assert m["acc"] == pytest.approx(100 * 5 / 6) and m["exact"] == 50.0
    # F1 per class: class 0 and 1: 1; class 2: tp 1, fn 1 -> 2/3; class 5: fp 1 -> 0; others never seen: left out
    assert m["f1"] == pytest.approx(100 * (1 + 1 + 2 / 3 + 0) / 4)


# -- runs, configs, refusals -------------------------------------------------------------------------------------
def test_a_tiny_occlusion_run_trains_above_chance_with_metrics_per_level(tmp_path):
    cfg = vs.make_config("fast", epochs=2, precision="fp32", task="occlusion", occlusion=[0, 40])
    result = vs.train("human", cfg, data=banded_dataset(), out=tmp_path, progress=False)
    final = result.final
    assert {"test_acc@occ0", "test_acc@occ40"} <= set(final)
    assert final["test_acc@occ0"] > 40 and final["test_acc@occ40"] > 25  # chance: 10%
    assert final["test_acc"] == pytest.approx((final["test_acc@occ0"] + final["test_acc@occ40"]) / 2)
    written = json.loads((tmp_path / "config.json").read_text())["train"]
    assert (written["task"], written["occlusion"]) == ("occlusion", "0,40")
    confusion = json.loads((tmp_path / RunDir.CONFUSION).read_text())["matrix"]
    assert sum(map(sum, confusion)) == 2 * 128  # the test set at each level


def test_a_tiny_clutter_run_trains_above_chance(tmp_path):
    cfg = vs.make_config("fast", epochs=3, precision="fp32", task="clutter", canvas=28, clutter_items=3)
    result = vs.train("human", cfg, data=banded_dataset(), out=tmp_path, progress=False)
    final = result.final
    assert final["test_acc"] > 50  # chance: 30% of the placed classes among the three highest outputs
    assert {"test_exact", "test_f1"} <= set(final)
    assert not (tmp_path / RunDir.CONFUSION).exists()  # several classes per image: no confusion matrix


def test_resume_of_an_occlusion_run_is_bit_identical(tmp_path):
    data = banded_dataset(96, 32)
    cfg = vs.make_config(epochs=2, batch_size=16, precision="fp32", task="occlusion")
    reference = vs.train("human", cfg, data=data, out=tmp_path / "ref", progress=False, checkpoint_every=2)
    with crash_at(5):
        vs.train("human", cfg, data=data, out=tmp_path / "cut", progress=False, checkpoint_every=2)
    assert_same_run(reference, resume_run(tmp_path / "cut", data=data, progress=False))


def test_levels_are_spelt_one_way_and_old_configs_have_none():
    assert vs.make_config(task="occlusion").occlusion == "0,20,40,60"
    assert vs.make_config(task="debris", occlusion=[0, 40]).occlusion == "0,40"
    assert vs.make_config(task="occlusion", occlusion=" 60, 0.0 ,20").occlusion == "60,0,20"
    assert vs.TrainConfig.from_dict({"task": "what"}).occlusion is None
    with pytest.raises(ConfigError, match="outside 0-80"):
        vs.make_config(task="occlusion", occlusion=[0, 95])


@pytest.mark.parametrize(("args", "message"), [
    (["--task", "occlusion", "--occlusion", "0,90"], "occlusion level 90 is outside 0-80"),
    (["--task", "occlusion", "--occlusion", "0,x"], "occlusion levels are percentages of the item's pixels"),
    (["--task", "occlusion", "--occlusion", "20,20"], "occlusion levels must not repeat"),
    (["--occlusion", "20"], "occlusion levels go with task 'occlusion' or 'debris', not 'what'"),
    (["--task", "debris", "--canvas", "40"], "task 'debris' draws over the 28 px items themselves"),
    (["--task", "occlusion", "--canvas", "40"], "task 'occlusion' draws over the 28 px items themselves"),
    (["--task", "clutter", "--clutter-items", "1"], "clutter takes 2 to 9 items per image"),
    (["--task", "clutter", "--clutter-items", "10"], "clutter takes 2 to 9 items per image"),
    (["--clutter-items", "3"], "a number of clutter items goes with task 'clutter'"),
])
def test_bad_levels_and_counts_are_one_line(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--species", "human", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not list(tmp_path.iterdir())  # nothing written


def test_stacked_occlusion_training_equals_alone():
    from visualstreams.data import DeviceData
    from visualstreams.runs import compile_for

    dev = DeviceData.from_dataset(banded_dataset(32, 32), torch.device("cpu"))
    cfgs = [vs.make_config(batch_size=16, precision="fp32", seed=s, epochs=1, task="occlusion") for s in (0, 1)]
    spec = compile_for("human", cfgs[0])
    alone, stacked, hist_alone, hist_stacked = alone_and_stacked(spec, dev, cfgs)
    for a, b, ha, hb in zip(alone, stacked, hist_alone, hist_stacked, strict=True):
        diffs = weight_diffs(a, b)
        # each model's scenes from its own generator, as alone; the weights agree to the batched kernels' rounding
        # (a gradient near 0 may take its sign from it: at most 2 Adam steps of 1e-3, as in test_recurrence)
        assert diffs.max() <= 2e-3 + 1e-6 and (diffs > 1e-5).float().mean() < 0.005  # measured: 4e-6, none
        assert ha[0]["train_loss"] == pytest.approx(hb[0]["train_loss"], rel=1e-5)
        assert ha[0]["test_acc@occ60"] == pytest.approx(hb[0]["test_acc@occ60"], abs=100 / 32 + 1e-9)


@pytest.mark.slow
def test_the_cli_trains_an_occlusion_run(tmp_path):
    idx = write_idx_dir(tmp_path / "fm", n_train=64, n_test=32)
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "visualstreams", "train", "--species", "human", "--task", "occlusion",
                        "--occlusion", "0,40", "--epochs", "1", "--batch-size", "16", "--precision", "fp32",
                        "--data", str(idx), "--out", "run", "--quiet"], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "test_acc@occ40" in r.stdout
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert {"test_acc@occ0", "test_acc@occ40"} <= set(history[-1])


@pytest.mark.slow
def test_compare_tests_each_occlusion_level(tmp_path):
    cfg = vs.make_config(epochs=1, batch_size=32, precision="fp32", task="occlusion", occlusion="0,60")
    summary = vs.compare(["macaque-markov2014"], cfg, tmp_path, seeds=[0, 1], steps=[1, 2], twins=True,
                         data=banded_dataset(128, 64), progress=False, similarity=False)
    assert {"test_acc@occ0", "test_acc@occ60", "test_acc@occ60@t1"} <= set(summary.columns)
    assert set(summary["condition"]) == {"gain", "gain-T2", "gain-BF2"}
    tests = pd.read_csv(tmp_path / "tests.csv")
    assert {"test_acc@occ0", "test_acc@occ60"} <= set(tests["metric"])  # each level is compared, at the last step
    assert not any(m.endswith("@t1") for m in tests["metric"])
    report = (tmp_path / "report.md").read_text()
    assert "| test accuracy (%) at 60% occlusion |" in report  # the results table has a column per level
    # the figure by level: each condition's line, the recurrent network minus its twin, the anytime curve
    assert "### Accuracy by occlusion level" in report and "gain-T2 - gain-BF2 at each level" in report
    assert (tmp_path / "report_occlusion_levels.png").stat().st_size > 10_000


def test_runs_written_as_occlusion_before_0_2_are_read_as_the_debris_they_trained_on():
    # a real run directory of visualstreams 0.1 (the kept record of the first experiment), task "occlusion" there
    kept = next((Path(__file__).parents[1] / "results" / "debris").glob("*/seed0/*/gain-T4-seed0"))
    saved = json.loads((kept / "config.json").read_text())
    assert (saved["visualstreams"], saved["train"]["task"]) == ("0.1.0", "occlusion")
    assert vs.TrainConfig.of_run(saved).task == "debris"
    # a config this version writes keeps its task
    assert vs.TrainConfig.of_run({"visualstreams": vs.__version__, "train": {"task": "occlusion"}}).task == "occlusion"
    assert vs.TrainConfig.from_dict({"task": "occlusion"}).task == "occlusion"  # no version said: as written


def test_a_tiny_debris_run_trains_above_chance(tmp_path):
    cfg = vs.make_config("fast", epochs=2, precision="fp32", task="debris", occlusion=[0, 40])
    final = vs.train("human", cfg, data=banded_dataset(), out=tmp_path, progress=False).final
    assert final["test_acc@occ0"] > 40 and final["test_acc@occ40"] > 25  # chance: 10%
    assert json.loads((tmp_path / "config.json").read_text())["train"]["task"] == "debris"


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="no Fashion-MNIST (apt-get install dataset-fashion-mnist)")
@pytest.mark.slow
def test_the_docs_measurements_on_fashion_mnists_test_set():
    """docs/recurrence.md measured on Fashion-MNIST's 10,000 test items: 64 blobs hide 80% of every item (to half a
    pixel), the outline hidden 18.6, 36.8, 55.7 and 75.6% at 20-80% (mean over items); 48 debris fragments cover 80%
    of every item but one, that one a pixel short."""
    x = vs.load_fashion_mnist(Path("/usr/share/datasets/fashion-mnist")).test_images.unsqueeze(1)
    index = torch.arange(len(x))
    mask = x[:, 0] > INK
    n_item = mask.flatten(1).sum(1).float()
    edge = outline(mask)
    draws = keyed_uniforms(OCCLUSION_STREAM, index, DRAWS)
    doc = " ".join((Path(__file__).resolve().parents[1] / "docs" / "recurrence.md").read_text().split())
    shares = []
    for level in (0.2, 0.4, 0.6, 0.8):
        out, hidden = occlude(x, torch.full((len(x),), level), draws)
        assert ((hidden - level).abs() <= 0.5 / n_item + 1e-6).all()
        gone = (out[:, 0] == FILL) & mask & edge
        shares.append(float((gone.flatten(1).sum(1) / edge.flatten(1).sum(1)).mean()) * 100)
    assert f"{shares[0]:.1f}, {shares[1]:.1f}, {shares[2]:.1f} and {shares[3]:.1f}% at 20, 40, 60 and 80%" in doc
    ratios = [s / (100 * lv) for s, lv in zip(shares, (0.2, 0.4, 0.6, 0.8), strict=True)]
    assert min(ratios) >= 0.915 and max(ratios) < 0.955  # "0.92-0.95 of the level"
    _, covered = debris_scenes.debris(x, torch.full((len(x),), 0.8), x, index,
                                      keyed_uniforms(debris_scenes.DEBRIS_STREAM, index, debris_scenes.DRAWS))
    short = (0.8 - covered) * n_item > 0.5
    assert int(short.sum()) == 1 and float(((0.8 - covered) * n_item)[short].max()) <= 1.0
    assert "at 80%, every test item but one, left one pixel short" in doc
