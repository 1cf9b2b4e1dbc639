"""Images of one's own beyond train: compare trains its whole grid on an image set (and resumes on it only), and
lesions and similarity of image-set runs evaluate on the run's recorded dataset, refusing in one line when it is
gone or other. The image folders are written by the tests (generated RGB images, 4 classes, 32 px)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from sweeps import outputs
from synthetic import write_idx_dir
from test_datasets import CLASSES, write_folder
from test_resume import crash_at

import visualstreams as vs
from visualstreams.analysis.lesions import lesion_runs
from visualstreams.analysis.representations import probe_activations
from visualstreams.cli import main
from visualstreams.errors import ConfigError, DataError

SRC = str(Path(vs.__file__).resolve().parents[1])


def quick(**kw):
    return vs.make_config(**{"epochs": 1, "batch_size": 32, "seed": 0, "device": "cpu", "precision": "fp32", **kw})


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "visualstreams", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("own") / "shapes", n_per_class=60)  # 240 images, 32 px




@pytest.mark.slow
def test_compare_trains_every_run_on_the_image_set_and_records_it(tmp_path, folder, one_thread):
    out = tmp_path / "cmp"
    summary = vs.compare(["human", "mouse"], quick(), out, seeds=[0, 1], dataset=folder, progress=False)
    assert set(summary["status"]) == {"ok"} and len(summary) == 4
    assert summary["test_acc"].mean() > 55 and (summary["test_acc"] > 35).all()  # chance is 25%: one short epoch
    assert summary["notebook_test_acc"].isna().all()  # the notebook's figures are Fashion-MNIST's
    experiment = json.loads((out / "experiment.json").read_text())
    assert experiment["data"]["load"]["name_or_path"] == str(folder) and experiment["data"]["classes"] == list(CLASSES)
    digests = set()
    for config_path in out.glob("*/*/config.json"):
        config = json.loads(config_path.read_text())
        assert config["architecture"]["in_channels"] == 3 and config["architecture"]["image_size"] == 32
        assert config["data"]["load"] == experiment["data"]["load"]  # one split for the grid: the base seed's
        digests.add(config["data"]["checksums"]["tensors"])
        confusion = json.loads((config_path.parent / "confusion.json").read_text())
        assert confusion["classes"] == list(CLASSES) and len(confusion["matrix"]) == 4
    assert digests == {experiment["data"]["checksums"]["tensors"]}
    # the similarity section (two seeds a species) ran on the image set's own probe images
    assert (out / "similarity_pairs.csv").is_file() and not (out / "similarity_skipped.txt").exists()
    report = (out / "report.md").read_text()
    assert ", 1 run" not in report  # no notebook columns: its figures are Fashion-MNIST's
    assert "Learning curves: mean across seeds, band = 95% CI" in report and "stars" not in report
    assert "| dataset | shapes |" in report and "| channels | 3 |" in report


def test_a_compare_on_an_image_set_resumes_to_the_uninterrupted_sweep_and_only_on_its_data(tmp_path, folder,
                                                                                         one_thread):
    cfg = quick(epochs=2)
    ref = tmp_path / "ref"
    vs.compare(["mouse"], cfg, ref, seeds=[0, 1], dataset=folder, progress=False, report=False, similarity=False)
    out = tmp_path / "cmp"
    with crash_at(16):  # 192 training images, 6 steps an epoch, 12 a run: in seed 1's 4th step
        vs.compare(["mouse"], cfg, out, seeds=[0, 1], dataset=folder, progress=False, report=False,
                   similarity=False, checkpoint_every=1)
    finished = (out / "mouse" / "seed0" / "model.pt").stat().st_mtime_ns
    other = write_folder(tmp_path / "other", n_per_class=40, seed=3)
    with pytest.raises(ConfigError, match=r"its runs trained on shapes .* resume with --dataset"):
        vs.compare(["mouse"], cfg, out, seeds=[0, 1], dataset=other, resume=True, progress=False, report=False)
    fm = write_idx_dir(tmp_path / "fm", 64, 32)
    with pytest.raises(ConfigError, match="its runs trained on shapes"):
        vs.compare(["mouse"], cfg, out, seeds=[0, 1], data_path=fm, resume=True, progress=False, report=False)
    summary = vs.compare(["mouse"], cfg, out, seeds=[0, 1], dataset=folder, resume=True, progress=False,
                         report=False, similarity=False)
    assert set(summary["status"]) == {"ok"}
    assert (out / "mouse" / "seed0" / "model.pt").stat().st_mtime_ns == finished  # kept, not retrained
    resumed = json.loads((out / "mouse" / "seed1" / "config.json").read_text())["resolved"]["resumed"]
    assert resumed == [{"epoch": 1, "step": 3, "threads": 1}]  # continued from its last checkpoint
    a, b = outputs(out), outputs(ref)
    assert a.keys() == b.keys() and all(a[k][0] == b[k][0] for k in a)
    assert all(torch.equal(a[k][1][n], b[k][1][n]) for k in a for n in a[k][1])


def test_stacked_compare_on_an_image_set_matches_the_sequential_one(tmp_path, folder, one_thread):
    seq = vs.compare(["human"], quick(), tmp_path / "seq", seeds=[0, 1], dataset=folder, progress=False,
                     report=False, similarity=False, strategy="sequential")
    stk = vs.compare(["human"], quick(), tmp_path / "stk", seeds=[0, 1], dataset=folder, progress=False,
                     report=False, similarity=False, strategy="stacked")
    assert set(stk["status"]) == {"ok"}
    assert all(json.loads(c.read_text())["resolved"]["stacked_with"] == 2
               for c in (tmp_path / "stk").glob("*/*/config.json"))
    # each stacked model follows its own sequential run, within the rounding of the batched kernels
    assert stk["test_loss"].to_numpy() == pytest.approx(seq["test_loss"].to_numpy(), abs=1e-4)


@pytest.mark.slow
def test_compare_dataset_on_the_command_line(tmp_path, folder):
    ok = cli("compare", "--species", "mouse", "--dataset", str(folder), "--epochs", "1", "--batch-size", "32",
             "--out", str(tmp_path / "cmp"), "--quiet", "--no-similarity", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "mouse" in ok.stdout and "notebook acc" not in ok.stdout
    assert json.loads((tmp_path / "cmp" / "experiment.json").read_text())["data"]["dataset"] == "shapes"
    bad = cli("compare", "--species", "mouse", "--dataset", str(tmp_path / "nowhere"), "--epochs", "1", "--out",
              str(tmp_path / "bad"), "--quiet", cwd=tmp_path)  # not a dataset
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "neither a dataset" in bad.stderr and not (tmp_path / "bad").exists()
    for args in (["--dataset", str(folder), "--data", str(tmp_path)],  # two sources
                 ["--image-size", "32"]):  # a size without a dataset (in-process: the same CLI, seconds faster)
        assert main(["compare", "--species", "mouse", *args, "--epochs", "1", "--out", str(tmp_path / "bad"),
                     "--quiet"]) == 2
        assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def split_folder(tmp_path_factory):
    """A folder with its own test set (train/ and test/), so runs of any seed share their test images."""
    root = tmp_path_factory.mktemp("split") / "shapes"
    write_folder(root / "train", n_per_class=40)
    write_folder(root / "test", n_per_class=10, seed=1)
    return root


@pytest.fixture(scope="module")
def rgb_runs(tmp_path_factory, split_folder, one_thread):
    base = tmp_path_factory.mktemp("runs")
    return [vs.train("human", quick(seed=s), dataset=split_folder, out=base / f"seed{s}", progress=False).run_dir
            for s in (0, 1)]


def test_lesions_of_an_image_set_run_use_its_recorded_dataset(rgb_runs):
    df = lesion_runs(rgb_runs, areas=["V1"], device="cpu")
    for run in rgb_runs:
        rows = df[df["run"] == str(run)].set_index("lesion")
        final = vs.load_run(run).final
        assert rows.loc["intact", "test_acc"] == final["test_acc"]  # the run's own test images, as it evaluated
        assert rows.loc["V1", "test_acc"] < 40  # the input area silenced: near chance (25%)
        assert (run / "lesions.csv").is_file()


def test_similarity_of_image_set_runs_uses_their_probe_images(rgb_runs):
    result = vs.similarity(rgb_runs, n_images=40, metrics=["cka"], progress=False, n_permutations=100)
    assert len(result.across) and set(result.across["area"]) >= {"V1", "IT"}
    acts = probe_activations(rgb_runs[0], 40)
    assert acts.acts["V1"].shape[0] == 40


@pytest.mark.slow
def test_a_gone_or_other_image_set_is_refused_in_one_line(tmp_path, split_folder, one_thread):
    data = tmp_path / "data"
    shutil.copytree(split_folder, data)
    run = vs.train("mouse", quick(), dataset=data, out=tmp_path / "run", progress=False).run_dir
    moved = tmp_path / "moved"
    data.rename(moved)
    with pytest.raises(DataError, match=r"the run's dataset 'data' is gone: .* \(give --data where it is now\)"):
        lesion_runs([run], areas=["V1"], device="cpu")
    with pytest.raises(DataError, match="is gone"):
        probe_activations(run, 8)
    with crash_at(3):  # an interrupted run of the moved set: resume says where it went, in one line
        vs.train("mouse", quick(), dataset=moved, out=tmp_path / "crashed", progress=False, checkpoint_every=1)
    moved.rename(data)
    crashed_config = json.loads((tmp_path / "crashed" / "config.json").read_text())
    assert crashed_config["data"]["load"]["name_or_path"] == str(moved)
    with pytest.raises(DataError, match=r"the run's dataset 'moved' is gone"):
        vs.resume_run(tmp_path / "crashed", progress=False)
    assert vs.resume_run(tmp_path / "crashed", data_path=data, progress=False).resumed_from == (1, 2)
    data.rename(moved)
    assert len(lesion_runs([run], areas=["V1"], device="cpu", data_path=moved)) == 2  # found where it is now
    other = write_folder(tmp_path / "other", n_per_class=40, seed=7)
    with pytest.raises(DataError, match="not the images the run trained on"):
        lesion_runs([run], areas=["V1"], device="cpu", data_path=other)
    fm_run = vs.train("mouse", quick(), data_path=write_idx_dir(tmp_path / "fm", 64, 32), out=tmp_path / "fm_run",
                      progress=False).run_dir
    with pytest.raises(ConfigError, match="the runs trained on different data"):
        vs.similarity([fm_run, run], n_images=8, progress=False)
    # on the command line: exit 2, one line, nothing written
    (run / "lesions.csv").unlink()
    bad = cli("lesion", str(run), "--area", "V1", "--device", "cpu", cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "is gone" in bad.stderr
    assert not (run / "lesions.csv").exists()
    good = cli("lesion", str(run), "--area", "V1", "--device", "cpu", "--data", str(moved), cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert pd.read_csv(run / "lesions.csv")["lesion"].tolist() == ["intact", "V1"]


def test_fashion_mnist_sweeps_are_unchanged_and_the_same_through_dataset(tmp_path, one_thread):
    """The default sweep (Fashion-MNIST from --data) and the same files as --dataset train the same runs, bit for bit,
    and both keep the notebook's figures beside their rows."""
    fm = write_idx_dir(tmp_path / "fm", 128, 64)
    old = vs.compare(["mouse"], quick(), tmp_path / "old", data_path=fm, progress=False, report=False)
    new = vs.compare(["mouse"], quick(), tmp_path / "new", dataset=fm, progress=False, report=False)
    a, b = outputs(tmp_path / "old"), outputs(tmp_path / "new")
    assert a.keys() == b.keys() and all(a[k][0] == b[k][0] for k in a)
    assert all(torch.equal(a[k][1][n], b[k][1][n]) for k in a for n in a[k][1])
    assert old["notebook_test_acc"].notna().all() and new["notebook_test_acc"].notna().all()
    assert json.loads((tmp_path / "old" / "experiment.json").read_text())["data"]["dataset"] == "fashion-mnist"
    # a sweep started on the default Fashion-MNIST resumes with the registry's: the same files
    vs.compare(["mouse"], quick(), tmp_path / "old", dataset=fm, resume=True, progress=False, report=False)


def test_lesions_of_runs_on_different_datasets_each_use_their_own(tmp_path, rgb_runs, one_thread):
    fm_run = vs.train("mouse", quick(), data_path=write_idx_dir(tmp_path / "fm", 64, 32), out=tmp_path / "fm_run",
                      progress=False).run_dir
    df = lesion_runs([rgb_runs[0], fm_run], areas=["V1"], device="cpu")
    intact = df[df["lesion"] == "intact"].set_index("run")["test_acc"]
    assert intact[str(rgb_runs[0])] == vs.load_run(rgb_runs[0]).final["test_acc"]
    assert intact[str(fm_run)] == vs.load_run(fm_run).final["test_acc"]
