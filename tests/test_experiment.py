import json

import pandas as pd
import pytest
from synthetic import synthetic_dataset, write_idx_dir

import visualstreams as vs
from visualstreams.errors import DivergenceError


def quick(**kw):
    return vs.make_config(**{"epochs": 1, "batch_size": 16, "precision": "fp32", **kw})


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(96, 64)


@pytest.mark.slow
def test_compare_seeds_and_modes_writes_every_table(tmp_path, data):
    summary = vs.compare(["human", "mouse"], quick(), tmp_path, seeds=[0, 1], modes=["gain", "none"], data=data,
                         progress=False)
    assert len(summary) == 2 * 2 * 2
    assert set(summary["status"]) == {"ok"}
    assert summary.set_index(["species", "condition", "seed"]).loc[("mouse", "gain", 1), "notebook_test_acc"] == 91.94
    on_disk = pd.read_csv(tmp_path / "summary.csv")
    assert list(on_disk.columns[:4]) == ["species", "condition", "seed", "status"] and len(on_disk) == 8
    stats = pd.read_csv(tmp_path / "stats.csv")
    row = stats[(stats["condition"] == "gain") & (stats["species"] == "human")
                & (stats["metric"] == "test_acc")].iloc[0]
    runs = summary[(summary["condition"] == "gain") & (summary["species"] == "human")]["test_acc"]
    assert row["n"] == 2 and row["mean"] == pytest.approx(runs.mean())
    tests = pd.read_csv(tmp_path / "tests.csv")
    assert set(tests["compare"]) == {"species", "condition"}
    assert (tests["p_holm"] >= tests["p"] - 1e-12).all()
    for run in ("human/seed0", "human/none-seed1", "mouse/seed1"):
        assert (tmp_path / run / "model.pt").exists(), run
    assert json.loads((tmp_path / "experiment.json").read_text())["seeds"] == [0, 1]
    assert (tmp_path / "learning_curves.png").exists()


@pytest.mark.slow
def test_resume_keeps_finished_runs(tmp_path, data):
    vs.compare(["human"], quick(), tmp_path, seeds=[0, 1], data=data, progress=False)
    finished = (tmp_path / "human" / "seed0" / "model.pt").stat().st_mtime_ns
    (tmp_path / "human" / "seed1" / "model.pt").unlink()  # as if killed before the end
    with pytest.raises(vs.ConfigError, match="already holds a run"):
        vs.compare(["human"], quick(), tmp_path, seeds=[0, 1], data=data, progress=False)
    summary = vs.compare(["human"], quick(), tmp_path, seeds=[0, 1], data=data, progress=False, resume=True)
    assert (tmp_path / "human" / "seed0" / "model.pt").stat().st_mtime_ns == finished
    assert (tmp_path / "human" / "seed1" / "model.pt").exists()
    assert len(summary) == 2 and set(summary["status"]) == {"ok"}


@pytest.mark.slow
def test_a_diverging_run_is_marked_and_the_sweep_goes_on(tmp_path, data, monkeypatch):
    import visualstreams.experiment.units as experiment

    real_train = experiment.train

    def train(conn, cfg, **kw):
        if cfg.seed == 1:
            raise DivergenceError("training diverged at epoch 1 (loss is nan)")
        return real_train(conn, cfg, **kw)

    monkeypatch.setattr(experiment, "train", train)
    summary = vs.compare(["human"], quick(), tmp_path, seeds=[0, 1, 2], data=data, progress=False)
    status = summary.set_index("seed")["status"]
    assert status[0] == "ok" and status[2] == "ok" and status[1].startswith("failed: training diverged")
    assert pd.read_csv(tmp_path / "stats.csv").query("metric == 'test_acc'")["n"].iloc[0] == 2


def test_nan_loss_raises_divergence(data):
    with pytest.raises(DivergenceError, match="diverged"):
        vs.train("human", quick(lr=1e30), data=data, progress=False)


def test_bad_grids_are_refused(tmp_path, data):
    with pytest.raises(vs.ConfigError, match="repeat"):
        vs.compare(["human"], quick(), tmp_path, seeds=[0, 0], data=data)
    with pytest.raises(vs.ConfigError, match="unknown connection mode"):
        vs.compare(["human"], quick(), tmp_path, modes=["sparse"], data=data)


@pytest.mark.slow
def test_identical_networks_are_trained_once(tmp_path, data):
    # Under `none` the notebook's human and marmoset graphs (same five projections) are the same network.
    summary = vs.compare(["human", "marmoset"], quick(), tmp_path, modes=["gain", "none"], data=data,
                         progress=False).set_index(["species", "condition"])
    assert summary.loc[("marmoset", "none"), "same_as"] == "human/none-seed0"
    assert summary.loc[("marmoset", "none"), "test_acc"] == summary.loc[("human", "none"), "test_acc"]
    assert not (tmp_path / "marmoset" / "none-seed0").exists()
    assert summary.loc[("marmoset", "gain"), "same_as"] == "" or pd.isna(summary.loc[("marmoset", "gain"), "same_as"])
    assert (tmp_path / "marmoset" / "seed0" / "model.pt").exists()


@pytest.mark.slow
def test_a_failed_similarity_step_is_said_in_the_printed_summary_and_the_report(tmp_path, capsys, monkeypatch):
    import visualstreams.experiment.similarity as similarity_module
    from visualstreams.cli import main

    def broken(*args, **kwargs):
        raise RuntimeError("no area shared by every run")

    monkeypatch.setattr(similarity_module, "similarity_of", broken)
    data_dir = write_idx_dir(tmp_path / "data", n_train=64, n_test=32)
    args = ["compare", "--species", "human", "--seeds", "2", "--data", str(data_dir), "--epochs", "1",
            "--batch-size", "16", "--precision", "fp32", "--quiet", "--out", str(tmp_path / "cmp")]
    assert main(args) == 0  # two seeds: the similarity step runs, and fails
    out, err = capsys.readouterr()
    why = "RuntimeError: no area shared by every run"
    assert ("MISSING representational similarity (no similarity_*.csv, none in the report): " + why
            in out.splitlines())
    assert err.splitlines() == [f"visualstreams: warning: representational similarity skipped: {why}"]
    for report in ("report.html", "report.md"):
        text = (tmp_path / "cmp" / report).read_text()
        assert f"This section is missing: the representational-similarity analysis failed ({why})" in text, report
    assert not list((tmp_path / "cmp").glob("similarity_*.csv"))

    # Without the analysis asked for, nothing is missing: the note goes with the rest of the old analysis.
    assert main([*args, "--resume", "--no-similarity"]) == 0
    assert "MISSING" not in capsys.readouterr().out
    assert "This section is missing" not in (tmp_path / "cmp" / "report.md").read_text()
    assert not (tmp_path / "cmp" / "similarity_skipped.txt").exists()
