import json
import os
from pathlib import Path

import pytest
import torch
from synthetic import synthetic_dataset

import visualstreams as vs
from visualstreams.engine import RECIPES, resolve_precision

REAL_DATA = Path("/usr/share/datasets/fashion-mnist")
HISTORY_KEYS = {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"}


def quick(**kw):
    return vs.make_config(**{"epochs": 2, "batch_size": 16, "precision": "fp32", **kw})


def test_notebook_recipe_is_the_default():
    cfg = vs.TrainConfig()
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.schedule, cfg.task) == (5, 64, 1e-3, "constant", "what")
    assert vs.make_config("notebook") == cfg
    assert set(RECIPES) >= {"notebook", "fast"}


def test_bad_options_are_refused():
    with pytest.raises(vs.ConfigError, match="unknown recipe"):
        vs.make_config("slow")
    with pytest.raises(vs.ConfigError, match="epochs"):
        vs.make_config(epochs=0)
    with pytest.raises(vs.ConfigError, match="unknown task"):
        vs.make_config(task="when")
    with pytest.raises(vs.ConfigError, match="precision"):
        vs.make_config(precision="fp8")


def test_run_directory_has_what_rebuilds_the_run(tmp_path):
    data = synthetic_dataset()
    result = vs.train("mouse", quick(), data=data, out=tmp_path / "run", progress=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [set(h) for h in history] == [HISTORY_KEYS, HISTORY_KEYS]
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(h["seconds"] > 0 for h in history)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["batch_size"] == 16 and config["connectome"]["name"] == "mouse"
    assert {"source": "V1", "target": "V4", "strength": 0.3} in config["connectome"]["edges"]
    assert config["resolved"]["precision"] == "fp32"
    assert "torch" in config["environment"]

    loaded = vs.load_run(tmp_path / "run")
    x = torch.rand(3, 1, 28, 28)
    result.model.eval()
    torch.testing.assert_close(loaded.model(x)["what"], result.model(x)["what"])
    assert loaded.history.equals(result.history)


def test_learns_the_synthetic_task_and_history_is_a_dataframe():
    result = vs.train("human", quick(), data=synthetic_dataset(), progress=False)
    assert list(result.history.columns) == ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"]
    assert result.final["test_acc"] > 90
    assert result.history["train_loss"].iloc[-1] < result.history["train_loss"].iloc[0]


@pytest.mark.slow
def test_same_seed_same_history_other_seed_differs():
    data = synthetic_dataset(256, 64)
    a = vs.train("marmoset", quick(seed=3), data=data, progress=False).history.drop(columns="seconds")
    b = vs.train("marmoset", quick(seed=3), data=data, progress=False).history.drop(columns="seconds")
    c = vs.train("marmoset", quick(seed=4), data=data, progress=False).history.drop(columns="seconds")
    assert a.equals(b)
    assert not a.equals(c)


def test_existing_run_is_not_overwritten(tmp_path):
    data = synthetic_dataset(64, 32)
    vs.train("human", quick(epochs=1), data=data, out=tmp_path, progress=False)
    before = (tmp_path / "model.pt").read_bytes()
    with pytest.raises(vs.ConfigError, match="already holds a run"):
        vs.train("human", quick(epochs=1, seed=1), data=data, out=tmp_path, progress=False)
    assert (tmp_path / "model.pt").read_bytes() == before
    vs.train("human", quick(epochs=1, seed=1), data=data, out=tmp_path, overwrite=True, progress=False)
    assert (tmp_path / "model.pt").read_bytes() != before


@pytest.mark.slow
def test_fast_recipe_trains():
    cfg = vs.make_config("fast", epochs=2, batch_size=16, precision="fp32")
    assert cfg.schedule == "onecycle" and cfg.hflip and cfg.label_smoothing > 0
    result = vs.train("human", cfg, data=synthetic_dataset(), progress=False)
    assert result.final["test_acc"] > 50


def test_precision_resolution(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32"
    monkeypatch.setattr("visualstreams.engine.runtime.cpu_has_fast_bf16", lambda: False)
    assert resolve_precision("auto", cpu) == "fp32"
    monkeypatch.setattr("visualstreams.engine.runtime.cpu_has_fast_bf16", lambda: True)
    assert resolve_precision("auto", cpu) == "bf16"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_cuda_without_cuda_is_refused():
    with pytest.raises(vs.ConfigError, match="CUDA is not available"):
        vs.train("human", vs.make_config(device="cuda"), data=synthetic_dataset(8, 8))


@pytest.mark.slow
@pytest.mark.skipif(not REAL_DATA.is_dir(), reason="no Fashion-MNIST (apt-get install dataset-fashion-mnist)")
def test_short_run_on_real_fashion_mnist_learns_well_above_chance():
    data = vs.load_fashion_mnist(REAL_DATA)
    result = vs.train("mouse", vs.make_config(epochs=1, train_subset=2000, seed=0), data=data, progress=False)
    assert result.config["data"]["train_used"] == 2000
    assert result.final["test_acc"] > 50  # chance is 10%


def test_atomic_writes_leave_no_temporary_files_and_normal_permissions(tmp_path):
    from visualstreams.storage import write_json

    write_json(tmp_path / "a.json", {"x": 1})
    write_json(tmp_path / "a.json", {"x": 2})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~mask
