"""Refusals come before anything is written, and silent mistakes get one line (#32 item 8): the CLI run in a scratch
directory (in this process, and once as a real process), whose whole tree is compared before and after."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic import synthetic_dataset, write_idx_dir

import visualstreams as vs
from visualstreams.cli import main
from visualstreams.runs import CompareDir, removed_if_left_empty

SRC = Path(__file__).resolve().parents[1] / "src"
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")


def cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "visualstreams", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(SRC)})


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    root = tmp_path_factory.mktemp("scratch")
    write_idx_dir(root / "fmnist", n_train=64, n_test=32)
    for k in "ab":  # an image set's layout: a folder per class
        (root / "photos" / k).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "photos" / k / "x.png")
    (root / "cmp").mkdir()
    (root / "cmp" / CompareDir.EXPERIMENT).write_text("{}")
    return root


REFUSED = {
    "missing data": (["--data", "nowhere", "--out", "run"], "nowhere: no such directory"),
    "image folder as --data": (["--data", "photos", "--out", "run"], "train on your images with --dataset photos"),
    "subset over the set": (["--data", "fmnist", "--train-subset", "65", "--out", "run"],
                            "the training set has 64: give --train-subset 64 or fewer"),
    "compare directory as --out": (["--data", "fmnist", "--out", "cmp"], "cmp: a compare directory"),
    "CUDA without a GPU, default --out": (["--data", "fmnist", "--device", "cuda"], "CUDA is not available"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_train_refusals_write_nothing(scratch, case, capsys, monkeypatch):
    if "CUDA" in case and torch.cuda.is_available():
        pytest.skip("checks the refusal without CUDA")
    argv, message = REFUSED[case]
    monkeypatch.chdir(scratch)
    before = tree(scratch)
    code = main(["train", "--species", "mouse", "--epochs", "1", "--quiet", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("visualstreams: error: ")
    assert message in err
    assert tree(scratch) == before  # no run/, runs/mouse/, nor a lock or a config in cmp/


def test_compare_refuses_by_the_same_rules_before_writing(scratch, capsys, monkeypatch):
    monkeypatch.chdir(scratch)
    before = tree(scratch)
    for argv, message in (REFUSED["subset over the set"], REFUSED["image folder as --data"],
                          (["--data", "fmnist", "--dataset", "photos"], "not two")):
        code = main(["compare", "--species", "mouse", "--epochs", "1", "--quiet", *argv])
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.count("\n") == 1, err
    assert tree(scratch) == before


def test_a_real_process_refuses_in_one_line_and_writes_nothing(scratch):
    before = tree(scratch)
    proc = cli("train", "--species", "mouse", "--quiet", "--data", "photos", cwd=scratch)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "visualstreams: error: photos: an image folder, not Fashion-MNIST: --data is for " \
                          "Fashion-MNIST's files; train on your images with --dataset photos\n"
    assert tree(scratch) == before


def test_a_subset_as_large_as_the_set_is_the_whole_set():
    result = vs.train("mouse", vs.make_config(epochs=1, train_subset=48, precision="fp32"),
                      data=synthetic_dataset(48, 16), progress=False)
    assert result.config["data"]["train_used"] == 48
    with pytest.raises(vs.DataError, match="training set has 48"):
        vs.train("mouse", vs.make_config(epochs=1, train_subset=49), data=synthetic_dataset(48, 16),
                 progress=False)


def test_a_failed_step_removes_only_the_empty_directory_it_made(tmp_path):
    for path, keep in ((tmp_path / "new", False), (tmp_path / "had", True)):
        if keep:
            path.mkdir()
        with pytest.raises(RuntimeError), removed_if_left_empty(path):
            path.mkdir(exist_ok=True)
            raise RuntimeError
        assert path.exists() == keep
    with pytest.raises(RuntimeError), removed_if_left_empty(tmp_path / "written"):
        (tmp_path / "written").mkdir()
        (tmp_path / "written" / "checkpoint.pt").write_bytes(b"x")  # something to resume from: kept
        raise RuntimeError
    assert (tmp_path / "written" / "checkpoint.pt").exists()


@NO_CUDA
def test_predict_refused_for_its_device_leaves_no_out(tmp_path):
    from visualstreams.testing import known_answer_recordings

    vs.train("mouse", vs.make_config(epochs=1, precision="fp32"), data=synthetic_dataset(64, 40),
             out=tmp_path / "run", progress=False)
    for i in range(40):
        Image.fromarray(np.full((28, 28), 6 * i, np.uint8)).save(tmp_path / f"s{i:02d}.png")
    rec = known_answer_recordings(tmp_path / "run", sorted(str(p) for p in tmp_path.glob("s*.png")),
                                  n_neuroids=4, repetitions=2)
    with pytest.raises(vs.ConfigError, match="CUDA is not available"):
        vs.predict([tmp_path / "run"], recordings=rec, out=tmp_path / "scores", device="cuda", progress=False)
    assert not (tmp_path / "scores").exists()


@pytest.mark.parametrize("word, said", [("marmosett", "marmoset"), ("macaque-markov", "macaque-markov2014"),
                                        ("human-hpc", "human-hcp"), ("platypus", None)])
def test_a_misspelt_preset_gets_the_nearest_name(word, said):
    with pytest.raises(vs.ConnectomeError) as info:
        vs.load_connectome(word)
    message = str(info.value)
    assert message.startswith(f"unknown connectome {word!r}")
    assert (f"(did you mean {said!r}?)" in message) if said else "did you mean" not in message


def test_a_misspelt_dataset_gets_the_nearest_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(vs.DataError, match=r"nor an existing path \(did you mean 'cifar-10'\?\)"):
        vs.load_dataset("cifar10")


def test_areas_differing_only_in_case_are_refused(tmp_path):
    path = tmp_path / "case.csv"
    path.write_text("source,target,strength\nV1,V2,1\nV2,V4,1\nV4,IT,1\nV2,MT,1\nMT,LIP,1\nV1,mt,0.5\n")
    with pytest.raises(vs.ConnectomeError, match="areas 'MT' and 'mt' differ only in case"):
        vs.load_connectome(path)


def test_similarity_and_predict_choose_runs_by_one_rule(tmp_path):
    from visualstreams.experiment.chosen import choose_runs

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "config.json").write_text("{}")
    for command in ("similarity", "predict"):
        with pytest.raises(vs.ConfigError, match=f"^{command} needs run directories or --compare-dir DIR$"):
            choose_runs(command)
        with pytest.raises(vs.ConfigError, match="not both"):
            choose_runs(command, [tmp_path / "a"], compare_dir=tmp_path)
        with pytest.raises(vs.ConfigError, match="b: not a run directory"):
            choose_runs(command, [tmp_path / "a", tmp_path / "b"])
    assert choose_runs("similarity", [tmp_path / "a"]).out == tmp_path / "a"  # one run: its own directory
    with pytest.raises(vs.ConfigError, match="a: the run has not finished"):
        choose_runs("predict", [tmp_path / "a"], finished=True)
    with pytest.raises(vs.ConfigError, match="no summary.csv"):
        choose_runs("similarity", compare_dir=tmp_path)


def test_a_refusal_removes_the_parents_it_made_too(tmp_path, monkeypatch):
    """The CLI's default --out runs/NAME: a run refused after its directory was made (no room on the disk, found
    once the directory exists) leaves no empty runs/ behind."""
    from visualstreams.runs import writing

    monkeypatch.setattr(writing, "free_bytes", lambda path: 1000)
    with pytest.raises(vs.ConfigError, match="free on its disk"):
        vs.train("mouse", vs.make_config(epochs=1), data=synthetic_dataset(16, 8), out=tmp_path / "runs" / "mouse",
                 progress=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(vs.ConfigError, match="checkpoint_every must be >= 0 batches"):  # refused before: nothing
        vs.train("mouse", vs.make_config(epochs=1), data=synthetic_dataset(16, 8), out=tmp_path / "runs" / "mouse",
                 checkpoint_every=-1, progress=False)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError), removed_if_left_empty(tmp_path / "kept" / "a" / "b"):
        (tmp_path / "kept" / "a" / "b").mkdir(parents=True)
        raise RuntimeError
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and not any((tmp_path / "kept").iterdir())
