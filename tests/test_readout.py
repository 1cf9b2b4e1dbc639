"""The readout in time: ``--loss-steps last|all`` (the heads at every step, the loss their mean) and the test
metrics read at every step of a recurrent network (``test_acc@t0`` ..), in the history, the summary and the
anytime figure."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from stacking import alone_and_stacked, weight_diffs
from synthetic import synthetic_dataset, write_idx_dir
from test_resume import assert_same_run, crash_at

import visualstreams as vs
from visualstreams.cli import main
from visualstreams.data import DeviceData
from visualstreams.engine import TrainConfig, evaluate, fit, read_checkpoint
from visualstreams.engine.loop import forward_loss
from visualstreams.errors import ConfigError
from visualstreams.network import NetworkConfig
from visualstreams.runs import RunDir, build_seeded, compile_for, resume_run
from visualstreams.tasks import get_task
from visualstreams.viz import plot_anytime, plot_learning_curves

SRC = Path(__file__).resolve().parents[1] / "src"
MACAQUE = "macaque-markov2014"  # six areas with feedback: recurrent at T >= 2

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(96, 32)


def config(**kw):
    return vs.make_config(**{"epochs": 2, "batch_size": 16, "precision": "fp32", **kw})


# -- the model's outputs at every step ----------------------------------------------------------------------------
@pytest.mark.parametrize("steps", [1, 3])
def test_every_step_ends_with_the_default_outputs_bit_for_bit(steps):
    torch.manual_seed(0)
    model = vs.build_model(MACAQUE, steps=steps).eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        default = model(x)
        outs = model(x, every_step=True)
    assert len(outs) == steps
    assert outs[-1].keys() == default.keys()
    assert all(torch.equal(outs[-1][h], default[h]) for h in default)
    if steps > 1:  # step 0 is the feedforward sweep: the heads there differ from the last step's
        assert not torch.equal(outs[0]["what"], outs[-1]["what"])


def test_the_loss_over_steps_is_the_mean_of_each_steps_loss():
    torch.manual_seed(0)
    model = vs.build_model(MACAQUE, steps=3)
    task = get_task("what")
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    targets = {"label": y}
    three = NetworkConfig(steps=3)
    loss_all, last = forward_loss(model, x, targets, task, TrainConfig(loss_steps="all", network=three))
    loss_last, _ = forward_loss(model, x, targets, task, TrainConfig(network=NetworkConfig(steps=3)))
    per_step = [torch.nn.functional.cross_entropy(o["what"], y) for o in model(x, every_step=True)]
    assert loss_all.item() == pytest.approx(sum(p.item() for p in per_step) / 3, rel=1e-6)
    assert loss_last.item() == pytest.approx(per_step[-1].item(), rel=1e-6)
    assert loss_all.item() != loss_last.item()  # untrained, every step near ln 10, but not equal


# -- training -------------------------------------------------------------------------------------------------------
def test_loss_steps_all_at_one_step_equals_last_bit_for_bit(data):
    last = vs.train("human", config(recipe="fast"), data=data, progress=False)
    every = vs.train("human", config(recipe="fast", loss_steps="all"), data=data, progress=False)
    assert_same_run(last, every)


def test_loss_steps_all_trains_another_network_and_records_accuracy_at_every_step(data, tmp_path):
    last = vs.train(MACAQUE, config(steps=3), data=data, progress=False)
    every = vs.train(MACAQUE, config(steps=3, loss_steps="all"), data=data, out=tmp_path, progress=False)
    assert not torch.equal(last.model.heads["what"].weight, every.model.heads["what"].weight)
    for result in (last, every):  # whatever the loss read, the evaluation reads every step
        h = result.history
        assert [c for c in h.columns if "@" in c] == ["test_acc@t0", "test_acc@t1", "test_acc@t2"]
        assert (h["test_acc@t2"] == h["test_acc"]).all()  # the last step's is the reported accuracy, exactly
    assert json.loads((tmp_path / "config.json").read_text())["train"]["loss_steps"] == "all"
    assert json.loads((tmp_path / "history.json").read_text())[-1]["test_acc@t2"] == every.final["test_acc"]
    # ... and evaluating the trained model again gives the same numbers at every step
    dev = DeviceData.from_dataset(data, torch.device("cpu"))
    again = evaluate(every.model, dev.test_x, dev.test_y, get_task("what"), precision="fp32")
    assert {k: v for k, v in again.items() if "@" in k} == {
        f"acc@t{t}": every.history[f"test_acc@t{t}"].iloc[-1] for t in range(3)}
    assert evaluate(every.model, dev.test_x, dev.test_y, "what", precision="fp32", per_step=False).keys() == {
        "loss", "acc"}


def test_a_one_step_run_has_no_per_step_metrics(data):
    h = vs.train("human", config(epochs=1), data=data, progress=False).history
    assert not [c for c in h.columns if "@" in c]


def test_resume_of_a_loss_steps_all_run_is_bit_identical(tmp_path, data):
    cfg = config(recipe="fast", steps=2, loss_steps="all")
    reference = vs.train(MACAQUE, cfg, data=data, out=tmp_path / "ref", progress=False, checkpoint_every=2)
    with crash_at(5):
        vs.train(MACAQUE, cfg, data=data, out=tmp_path / "cut", progress=False, checkpoint_every=2)
    state = read_checkpoint(tmp_path / "cut" / RunDir.CHECKPOINT)
    assert (state["step"], state["train"]["loss_steps"]) == (4, "all")
    assert_same_run(reference, resume_run(tmp_path / "cut", data=data, progress=False))


def test_stacked_training_with_the_loss_at_every_step_equals_alone():
    dev = DeviceData.from_dataset(synthetic_dataset(16, 32), torch.device("cpu"))
    cfgs = [vs.make_config(batch_size=16, precision="fp32", seed=s, epochs=1, steps=2, loss_steps="all")
            for s in (0, 1)]
    spec = compile_for(MACAQUE, cfgs[0])
    alone, stacked, hist_alone, hist_stacked = alone_and_stacked(spec, dev, cfgs)
    for a, b, ha, hb in zip(alone, stacked, hist_alone, hist_stacked, strict=True):
        diffs = weight_diffs(a, b)
        # As in test_recurrence: one Adam step of 1e-3; a gradient near 0 may take its sign from rounding.
        assert diffs.max() <= 2e-3 + 1e-6 and (diffs > 1e-5).float().mean() < 0.005
        assert ha[0]["train_loss"] == pytest.approx(hb[0]["train_loss"], rel=1e-6)
        assert ha[0]["test_acc@t1"] == hb[0]["test_acc@t1"] == hb[0]["test_acc"]
    # the loss over steps moved them elsewhere than the last step's loss would
    last = build_seeded(spec, 0, torch.device("cpu"))
    fit(last, dev, vs.make_config(batch_size=16, precision="fp32", epochs=1, steps=2), "fp32", progress=False)
    assert not torch.equal(last.heads["what"].weight, alone[0].heads["what"].weight)


# -- configs and the command line -------------------------------------------------------------------------------
def test_configs_written_before_the_option_load_as_last():
    saved = {k: v for k, v in TrainConfig(network=NetworkConfig(steps=2)).to_dict().items() if k != "loss_steps"}
    assert TrainConfig.from_dict(saved).loss_steps == "last"
    with pytest.raises(ConfigError, match="unknown loss steps 'first'"):
        TrainConfig(loss_steps="first")


def cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "visualstreams", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


@pytest.mark.slow
def test_cli_train_takes_loss_steps_and_refuses_a_bad_value_in_one_line(tmp_path):
    idx = write_idx_dir(tmp_path / "fm", n_train=64, n_test=32)
    r = cli("train", "--species", MACAQUE, "--steps", "2", "--loss-steps", "all", "--out", "run", "--epochs", "1",
            "--batch-size", "16", "--precision", "fp32", "--data", str(idx), "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "test_acc@t1" in r.stdout
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["loss_steps"] == "all"
    r = cli("train", "--species", MACAQUE, "--loss-steps", "first", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--loss-steps" in r.stderr
    assert not (tmp_path / "runs").exists()


def test_compare_takes_loss_steps_and_reports_every_step(tmp_path, capsys):
    idx = write_idx_dir(tmp_path / "fm", n_train=64, n_test=32)
    out = tmp_path / "cmp"
    assert main(["compare", "--species", MACAQUE, "--steps", "1", "2", "--loss-steps", "all", "--out", str(out),
                 "--no-similarity", "--epochs", "1", "--batch-size", "16", "--precision", "fp32", "--data",
                 str(idx), "--quiet"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    two = summary[summary["steps"] == 2].iloc[0]
    assert two["test_acc@t1"] == two["test_acc"] and pd.isna(summary[summary["steps"] == 1]["test_acc@t0"]).all()
    assert json.loads((out / MACAQUE / "gain-T2-seed0" / "config.json").read_text())["train"]["loss_steps"] == "all"
    stats = pd.read_csv(out / "stats.csv")
    assert {"test_acc@t0", "test_acc@t1"} <= set(stats["metric"])
    tests = pd.read_csv(out / "tests.csv")
    assert set(tests["metric"]) == {"test_acc", "test_loss"}  # the final readout is compared, not every step
    report = (out / "report.md").read_text()
    assert "Accuracy at every step (anytime readout)" in report and "report_anytime" in report
    results = report[report.index("## 2. Results"):report.index("## 3. Figures")]
    assert "@t" not in results  # the results table is the final readout's; the runs table lists every column


def test_anytime_figure_draws_each_condition(tmp_path):
    rows = [{"condition": "gain-T3", "species": "m", "metric": f"test_acc@t{t}", "n": 3, "mean": 60.0 + 5 * t,
             "ci_low": 58.0 + 5 * t, "ci_high": 62.0 + 5 * t} for t in range(3)]
    rows += [{"condition": m, "species": "m", "metric": "test_acc", "n": 3, "mean": v, "ci_low": v - 1,
              "ci_high": v + 1}
             for m, v in (("gain-T3", 70.0), ("gain", 66.0))]
    # the one-step runs' rows for a step, as summarize writes them from NaN columns
    rows += [{"condition": "gain", "species": "m", "metric": f"test_acc@t{t}", "n": 0, "mean": float("nan"),
              "ci_low": float("nan"), "ci_high": float("nan")} for t in range(3)]
    fig = plot_anytime(pd.DataFrame(rows), tmp_path / "anytime.png")
    ax = fig.axes[0]
    curve, flat = ax.lines[0], ax.lines[1]
    assert list(curve.get_xdata()) == [0, 1, 2] and list(curve.get_ydata()) == [60.0, 65.0, 70.0]
    assert list(flat.get_ydata()) == [66.0, 66.0] and len(ax.lines) == 2  # the one-step run, dashed
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["m (gain-T3)", "m (gain), one step"]
    assert (tmp_path / "anytime.png").stat().st_size > 1000


@pytest.mark.parametrize("steps", [1, 2])
def test_the_default_loss_is_the_loop_before_the_option_bit_for_bit(data, steps):
    # The training step as it was written before loss_steps existed, by hand: model(x) on the last step, the task's
    # loss, one Adam step; fit() with the default config must give the same weights, bit for bit.
    from visualstreams.engine.loop import draw_batch, make_generators, make_optimizer

    cfg = vs.make_config("fast", epochs=1, batch_size=16, precision="fp32", steps=steps)
    dev = DeviceData.from_dataset(data, torch.device("cpu"))
    spec = compile_for(MACAQUE, cfg)
    fitted = build_seeded(spec, cfg.seed, torch.device("cpu"))
    fit(fitted, dev, cfg, "fp32", progress=False)
    by_hand = build_seeded(spec, cfg.seed, torch.device("cpu"))
    n = len(dev.train_y)
    n_steps = (n + cfg.batch_size - 1) // cfg.batch_size
    optimizer, scheduler = make_optimizer(by_hand.parameters(), cfg, n_steps)
    order_gen, aug_gen = make_generators(cfg.seed)
    task = cfg.make_task()
    perm = torch.randperm(n, generator=order_gen)
    by_hand.train()
    for step in range(n_steps):
        x, targets = draw_batch(dev, perm[step * 16:(step + 1) * 16], task, cfg.hflip, aug_gen, cfg.crop_pad)
        loss = task.loss(by_hand(x, heads=task.heads), targets, cfg.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    for (k, a), b in zip(fitted.state_dict().items(), by_hand.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


# -- when the test set is scored -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_scoring_the_test_set_less_often_trains_the_same_weights_and_ends_with_the_same_metrics(data, tmp_path):
    # occlusion at two levels and three steps: the costliest scoring, and the one whose scenes are drawn per item
    cfg = config(epochs=3, steps=3, loss_steps="all", task="occlusion", occlusion="0,40")
    every = vs.train(MACAQUE, cfg, data=data, progress=False)
    sparse = vs.train(MACAQUE, config(epochs=3, steps=3, loss_steps="all", task="occlusion", occlusion="0,40",
                                      test_every=2), data=data, out=tmp_path, progress=False)
    for k, v in every.model.state_dict().items():
        assert torch.equal(v, sparse.model.state_dict()[k]), k
    h, hs = every.history, sparse.history
    assert h["test_acc"].notna().all() and hs["test_acc"].notna().tolist() == [False, True, True]  # epochs 2, 3
    train_cols = [c for c in h.columns if c.startswith("train_")]
    assert h[train_cols].equals(hs[train_cols])
    assert h.drop(columns="seconds").iloc[[1, 2]].reset_index(drop=True).equals(
        hs.drop(columns="seconds").iloc[[1, 2]].reset_index(drop=True))
    assert json.loads((tmp_path / "config.json").read_text())["train"]["test_every"] == 2
    assert "test_acc" not in json.loads((tmp_path / "history.json").read_text())[0]
    plot_learning_curves({"sparse": hs}, path=tmp_path / "curves.png")  # draws the scored epochs only
    assert (tmp_path / "curves.png").stat().st_size > 5_000


def test_test_every_is_refused_below_one_epoch_in_one_line(capsys):
    with pytest.raises(ConfigError, match="test every"):
        config(test_every=0)
    with pytest.raises(SystemExit) as exc:
        main(["train", "--species", "human", "--test-every", "0"])
    assert exc.value.code == 2 and capsys.readouterr().err.count("\n") == 1
