"""Feedforward twins: the one-step controls of a recurrent network, every area widened until it has as many
parameters used by the task as the recurrent network (Spoerer et al. 2017's BF; counted as the gradients count
them) or costs as many training FLOPs per image (Spoerer et al. 2020's compute-matched control)."""

import json

import pandas as pd
import pytest
import torch
from synthetic import synthetic_dataset
from test_resume import assert_same_run, crash_at

import visualstreams as vs
from visualstreams.cli import main
from visualstreams.connectome import preset_names
from visualstreams.errors import ConfigError
from visualstreams.network import MODES, NetworkConfig, count_parameters, describe_condition, parse_condition
from visualstreams.network.twins import (
    COMPUTE_TOLERANCE,
    TWIN_TOLERANCE,
    compute_twin,
    matched_twin,
    run_costs,
    training_flops,
)
from visualstreams.runs import RunDir, load_run, resume_run

MACAQUE = "macaque-markov2014"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(96, 32)


CYCLIC = [n for n in preset_names() if vs.compile_network(n, steps=2).recurrent_projections]


def parameters_with_gradient(spec, heads=("what",), every_step=False) -> int:
    """Parameters (elements) that a loss on ``heads`` reaches: one backward pass, counted where a gradient arrived."""
    model = vs.build_model(spec)
    x = torch.rand(2, 1, spec.image_size, spec.image_size)
    out = model(x, heads=heads, every_step=every_step)
    sum(o.sum() for step in (out if isinstance(out, list) else [out]) for o in step.values()).backward()
    return sum(p.numel() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize(("name", "steps", "intrinsic", "every_step"), [
    (MACAQUE, 4, False, True), (MACAQUE, 2, False, False), (MACAQUE, 4, True, True), ("mouse-oh2014", 4, False, True),
    ("mouse-oh2014", 3, True, False)])
def test_used_parameters_are_those_the_tasks_loss_reaches(name, steps, intrinsic, every_step):
    recurrent = vs.compile_network(name, steps=steps, intrinsic=intrinsic)
    assert recurrent.parameters_used(("what",), every_step) == parameters_with_gradient(recurrent, ("what",),
                                                                                         every_step)
    one_step = vs.compile_network(name)
    assert one_step.parameters_used(("what",)) == parameters_with_gradient(one_step)
    assert one_step.parameters_used(("what", "where")) == one_step.n_parameters == parameters_with_gradient(
        one_step, ("what", "where"))


def test_the_macaque_twin_is_matched_on_what_the_what_task_trains():
    """The issue's counts: the macaque T = 4 network's "what" loss reaches 1,402,506 parameters; a twin matched on
    all parameters (the first experiment's, 1,402,370 in all) reached 528,255 of them, 38%: its dorsal areas are
    never computed under "what". Matched on used parameters, it is within 2%, counted by gradients."""
    recurrent = vs.compile_network(MACAQUE, steps=4)
    assert parameters_with_gradient(recurrent, every_step=True) == 1_402_506
    twin = matched_twin(recurrent, ("what",), every_step=True)
    used = parameters_with_gradient(twin)
    assert abs(used / 1_402_506 - 1) <= TWIN_TOLERANCE
    assert twin.n_parameters > 2 * used  # its MT and LIP widened too, and unused


@pytest.mark.parametrize("name", [MACAQUE, "mouse-oh2014"])
@pytest.mark.parametrize("intrinsic", [False, True])
def test_a_compute_twin_costs_the_recurrent_networks_training_flops_within_5_percent(name, intrinsic):
    recurrent = vs.compile_network(name, steps=4, intrinsic=intrinsic)
    twin = compute_twin(recurrent, ("what",), every_step=True)
    want = training_flops(recurrent, ("what",), every_step=True)
    assert abs(training_flops(twin, ("what",)) / want - 1) <= COMPUTE_TOLERANCE
    assert twin.steps == 1 and twin.architecture.name.endswith("-BC4")
    # a recurrent network's step costs several of its one-step network's, so its compute twin is far wider
    assert training_flops(vs.compile_network(name), ("what",)) < want / 3


def test_training_flops_are_torchs_count_of_convolutions_and_products():
    """A two-area chain by hand: conv 1->4 (3x3, 8x8 map), conv 4->4 (3x3, pooled to 4x4), head 64->10: forward
    2 x multiply-adds; backward twice the forward except the first conv's input gradient (the image needs none)."""
    conn = vs.Connectome.from_edges([("V1", "IT", 1.0)], name="tiny")
    arch = vs.Architecture({"V1": vs.AreaSpec(4), "IT": vs.AreaSpec(4, pool=True)},
                           {"what": vs.HeadSpec("IT", 10)}, "V1", image_size=8)
    spec = vs.compile_network(conn, arch)
    conv1, conv2, head = 8 * 8 * 4 * 1 * 9, 8 * 8 * 4 * 4 * 9, 64 * 10
    forward = 2 * (conv1 + conv2 + head)
    backward = 2 * (conv1 + 2 * conv2 + 2 * head)  # weight gradients of all three; input gradients but V1's
    assert training_flops(spec, ("what",)) == forward + backward


@pytest.mark.parametrize("name", CYCLIC)
@pytest.mark.parametrize(("mode", "steps"), [("gain", 4), ("learned-gain", 2)])
def test_a_twin_has_its_recurrent_networks_used_parameters_within_2_percent(name, mode, steps):
    recurrent = vs.compile_network(name, mode=mode, steps=steps)
    twin = matched_twin(recurrent)
    want = recurrent.parameters_used(("what",))
    assert abs(twin.parameters_used(("what",)) - want) <= TWIN_TOLERANCE * want
    one_step = vs.compile_network(name, mode=mode)
    assert twin.n_parameters >= one_step.n_parameters  # the recurrent network's extra weights went into width
    # the same connectome's feedforward network, wider: same areas, projections and heads, one step
    assert twin.steps == 1 and not twin.recurrent_projections and twin.connectome == recurrent.connectome
    assert twin.order == one_step.order and twin.edges == one_step.edges
    assert all(w.channels >= a.channels for w, a in zip(twin.areas, one_step.areas, strict=True))
    assert twin.architecture.name.endswith(f"-BF{steps}")


def test_the_built_models_have_the_counted_parameters():
    for intrinsic in (False, True):
        recurrent = vs.compile_network(MACAQUE, steps=4, intrinsic=intrinsic)
        twin = matched_twin(recurrent)
        n_rec, n_twin = count_parameters(vs.build_model(recurrent)), count_parameters(vs.build_model(twin))
        assert (n_rec, n_twin) == (recurrent.n_parameters, twin.n_parameters)


def test_a_one_step_network_has_no_twin():
    with pytest.raises(ConfigError, match="several steps"):
        matched_twin(vs.compile_network(MACAQUE))


def test_a_twin_run_is_rebuilt_from_its_config_and_resumes_bit_identically(tmp_path, data):
    cfg = vs.make_config(epochs=2, batch_size=16, precision="fp32", twin_of=2)
    assert cfg.network.label == "gain-BF2"
    reference = vs.train(MACAQUE, cfg, data=data, out=tmp_path / "ref", progress=False, checkpoint_every=2)
    written = json.loads((tmp_path / "ref" / "config.json").read_text())
    assert written["network"]["twin_of"] == 2 and written["network"]["steps"] == 1
    assert "twin_of" not in written["train"] and "steps" not in written["train"]  # the network's, not training's
    assert written["parameters"] == count_parameters(reference.model) == matched_twin(
        vs.compile_network(MACAQUE, steps=2)).n_parameters
    assert written["parameters_used"] == parameters_with_gradient(reference.model.spec)
    assert written["flops"] == training_flops(reference.model.spec, ("what",))
    rebuilt = load_run(tmp_path / "ref")
    assert rebuilt.model.spec == reference.model.spec  # config.json's widened architecture is the twin
    with crash_at(5):
        vs.train(MACAQUE, cfg, data=data, out=tmp_path / "cut", progress=False, checkpoint_every=2)
    assert (tmp_path / "cut" / RunDir.CHECKPOINT).exists()
    assert_same_run(reference, resume_run(tmp_path / "cut", data=data, progress=False))


def test_compare_trains_twins_beside_their_recurrent_networks_with_parameter_counts(tmp_path, data):
    cfg = vs.make_config(epochs=1, batch_size=16, precision="fp32")
    summary = vs.compare([MACAQUE], cfg, tmp_path, seeds=[0, 1], steps=[1, 2], twins=True, data=data,
                         progress=False, similarity=False, report=False)
    assert list(dict.fromkeys(summary["condition"])) == ["gain", "gain-T2", "gain-BF2"]
    used = summary.groupby("condition")["parameters_used"].first()
    assert used["gain-BF2"] == pytest.approx(used["gain-T2"], rel=TWIN_TOLERANCE)
    params = summary.groupby("condition")["parameters"].first()
    assert params["gain"] < params["gain-BF2"]
    for r in summary.drop_duplicates("condition").itertuples():  # every row's costs are its network's
        spec = load_run(r.run_dir).model.spec
        assert (r.parameters, r.parameters_used, r.flops) == tuple(run_costs(spec, ("what",)).values())
    assert (summary.loc[summary["condition"] == "gain-BF2", "steps"] == 1).all()
    assert (tmp_path / MACAQUE / "gain-BF2-seed1" / "model.pt").exists()
    tests = pd.read_csv(tmp_path / "tests.csv")
    pairs = {(r.group_a, r.group_b) for r in tests[(tests["compare"] == "condition") & (tests["metric"] == "test_acc")]
             .itertuples()}
    assert ("gain-T2", "gain-BF2") in pairs  # the recurrent network against its matched twin
    assert json.loads((tmp_path / "experiment.json").read_text())["twins"] == [2]
    again = vs.compare([MACAQUE], cfg, tmp_path, seeds=[0, 1], steps=[1, 2], twins=True, data=data,
                       progress=False, similarity=False, report=False, resume=True)
    assert again["test_acc"].tolist() == summary["test_acc"].tolist()  # finished twins are kept


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--species", "human", "--twin-of", "4"], "no feedback or lateral projection"),
    (["train", "--species", MACAQUE, "--twin-of", "4", "--steps", "4"], "a matched twin is a one-step network"),
    (["train", "--species", MACAQUE, "--twin-of", "1"], "a matched twin is of a network of 2 steps or more"),
    (["compare", "--species", MACAQUE, "--twins"], "matched twins (--twins) are of networks of several steps"),
    (["compare", "--species", MACAQUE, "--intrinsic", "on"], "intrinsic recurrence acts from one step to the next"),
    (["train", "--species", MACAQUE, "--twin-match", "compute"], "--twin-match goes with --twin-of T"),
])
def test_bad_twins_are_one_line(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("mode", MODES)
def test_a_condition_is_read_back_from_its_label(mode):
    for c in [NetworkConfig(mode), NetworkConfig(mode, 4), NetworkConfig(mode, 1, 4), NetworkConfig(mode, 12),
              NetworkConfig(mode, 4, intrinsic=True), NetworkConfig(mode, 1, 4, "compute"),
              NetworkConfig(mode, 1, 4, "compute", True)]:
        assert parse_condition(c.label) == c
    assert [NetworkConfig(mode, 1, 4, m, i).label for m in ("parameters", "compute") for i in (False, True)] == [
        f"{mode}-BF4", f"{mode}-BF4i", f"{mode}-BC4", f"{mode}-BC4i"]
    with pytest.raises(ConfigError, match="unknown connection mode"):  # not a step count: no such mode either
        parse_condition(f"{mode}-Tx")
    # a report still says something of a label that names no network (a hand-edited table's)
    assert describe_condition(f"{mode}-Tx").startswith("not a condition this version knows")


def test_compare_trains_intrinsic_recurrence_and_compute_twins_as_conditions(tmp_path, data):
    cfg = vs.make_config(epochs=1, batch_size=16, precision="fp32", train_subset=32)
    summary = vs.compare([MACAQUE], cfg, tmp_path, seeds=[0], steps=[1, 2], intrinsic=[False, True],
                         twins=["parameters", "compute"], data=data, progress=False, similarity=False, report=False)
    assert list(dict.fromkeys(summary["condition"])) == ["gain", "gain-T2", "gain-T2i", "gain-BF2", "gain-BC2",
                                                    "gain-BF2i", "gain-BC2i"]
    costs = summary.set_index("condition")
    assert costs.loc["gain-BC2i", "flops"] == pytest.approx(costs.loc["gain-T2i", "flops"], rel=COMPUTE_TOLERANCE)
    assert costs.loc["gain-BF2i", "parameters_used"] == pytest.approx(costs.loc["gain-T2i", "parameters_used"],
                                                                      rel=TWIN_TOLERANCE)
    written = json.loads((tmp_path / MACAQUE / "gain-BC2i-seed0" / "config.json").read_text())["network"]
    assert (written["twin_of"], written["twin_match"], written["intrinsic"], written["steps"]) == (2, "compute",
                                                                                                  True, 1)


@pytest.mark.slow
def test_the_cli_trains_intrinsic_conditions_and_both_twins(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from synthetic import write_idx_dir

    idx = write_idx_dir(tmp_path / "fm", n_train=48, n_test=16)
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "visualstreams", "compare", "--species", MACAQUE, "--steps", "1", "2",
                        "--intrinsic", "off", "on", "--twins", "parameters", "compute", "--epochs", "1",
                        "--batch-size", "16", "--precision", "fp32", "--no-similarity", "--quiet", "--data", str(idx),
                        "--out", "out"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(summary["condition"]) == ["gain", "gain-T2", "gain-T2i", "gain-BF2", "gain-BC2", "gain-BF2i",
                                          "gain-BC2i"]
    assert summary[["parameters", "parameters_used", "flops"]].notna().all().all()
    bare = subprocess.run([sys.executable, "-m", "visualstreams", "compare", "--species", MACAQUE, "--steps", "1",
                           "2", "--twins", "--epochs", "1", "--batch-size", "16", "--precision", "fp32",
                           "--no-similarity", "--quiet", "--data", str(idx), "--out", "bare"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=600)
    assert bare.returncode == 0, bare.stderr
    assert list(pd.read_csv(tmp_path / "bare" / "summary.csv")["condition"]) == ["gain", "gain-T2", "gain-BF2"]


def test_the_docs_cost_table_is_what_run_costs_counts():
    """docs/recurrence.md's table of parameters, used parameters and training FLOPs per image (under "what", the loss
    at every step), each row recomputed: the networks, their used-parameter twins and their compute twins."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "recurrence.md").read_text()

    def row(costs):
        return " | ".join(f"{costs[k]:,}" for k in ("parameters", "parameters_used", "flops"))

    def pair(a, b):
        return " | ".join(f"{a[k]:,} / {b[k]:,}" for k in ("parameters", "parameters_used", "flops"))

    for name in (MACAQUE, "mouse-oh2014"):
        assert f"| {name}, T = 1 | {row(run_costs(vs.compile_network(name), ('what',)))} |" in doc
        for intrinsic in (False, True):
            spec = vs.compile_network(name, steps=4, intrinsic=intrinsic)
            bf = run_costs(matched_twin(spec, ("what",), every_step=True), ("what",))
            bc = run_costs(compute_twin(spec, ("what",), every_step=True), ("what",))
            label = f"{name}, T = 4 with intrinsic" if intrinsic else f"{name}, T = 4"
            assert f"| {label} | {row(run_costs(spec, ('what',), every_step=True))} |" in doc
            if intrinsic:
                assert f"| its BF4i / BC4i | {pair(bf, bc)} |" in doc
            else:
                rows = re.findall(r"\| its (BF4|BC4) \| ([\d,]+ \| [\d,]+ \| [\d,]+) \|", doc.split(f"| {label} |")[1])
                assert rows[:2] == [("BF4", row(bf)), ("BC4", row(bc))]
