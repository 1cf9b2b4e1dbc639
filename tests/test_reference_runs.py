"""The field's reference models through the pipeline: trained (API and CLI), resumed, loaded, recorded by area and
step for predict, compared beside connectomes (tested against every species within every condition), refused in
one line where a connectome's setting or a head they lack is asked for."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from synthetic import synthetic_dataset, write_idx_dir
from test_resume import assert_same_run, crash_at

import visualstreams as vs
from visualstreams.analysis.area_activations import stimulus_activations
from visualstreams.analysis.representations import _references_beside_conditions
from visualstreams.errors import ConfigError
from visualstreams.network import NetworkConfig, ReferenceNetwork
from visualstreams.network.reference import match_width, parameters_at_width
from visualstreams.runs import RunFinished, resume_run

SRC = Path(__file__).resolve().parents[1] / "src"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(64, 32)


def config(model="cornet-z", **kw):
    return vs.make_config(**{"model": model, "epochs": 2, "batch_size": 16, "precision": "fp32", **kw})


def test_a_reference_model_trains_resumes_and_loads_as_a_connectome_network_does(tmp_path, data):
    whole = vs.train(None, config(), data=data, out=tmp_path / "whole", progress=False, checkpoint_every=2)
    saved = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert saved["name"] == "cornet-z" and "connectome" not in saved and "architecture" not in saved
    assert saved["network"] == {"model": "cornet-z", "image_size": 28, "in_channels": 1, "classes": 10}
    assert saved["model"]["regions"] == {a: f"{a}.output" for a in ("V1", "V2", "V4", "IT")}
    n = sum(p.numel() for p in whole.model.parameters())
    assert saved["parameters"] == saved["parameters_used"] == n and saved["flops"] > 2 * n  # > one multiply-add each
    with crash_at(5):  # mid second epoch, after the checkpoint at batch 4
        vs.train(None, config(), data=data, out=tmp_path / "cut", progress=False, checkpoint_every=2)
    assert_same_run(whole, resume_run(tmp_path / "cut", data=data, progress=False))
    loaded = vs.load_run(tmp_path / "whole")
    assert all(torch.equal(v, whole.model.state_dict()[k]) for k, v in loaded.model.state_dict().items())
    x = data.test_images[:4].unsqueeze(1).float() / 255
    with torch.no_grad():  # the trained model is channels-last, the loaded one not: equal up to the kernels' rounding
        assert torch.allclose(loaded.model.eval()(x)["what"], whole.model.eval()(x)["what"], rtol=0, atol=1e-5)


def test_a_reference_model_is_recorded_at_every_area_and_step(tmp_path, data):
    """CORnet-RT runs every area five times: predict reads each step as AREA@tK, as a recurrent network's."""
    vs.train(None, config("cornet-rt", epochs=1), data=data, out=tmp_path / "rt", progress=False)
    images = (data.test_images[:6].unsqueeze(1)).numpy()
    acts = stimulus_activations(tmp_path / "rt", images)
    assert list(acts.acts) == [f"{a}@t{t}" for a in ("V1", "V2", "V4", "IT") for t in range(5)]
    assert acts.steps == 5 and acts.condition == "reference" and acts.species == "cornet-rt"
    assert acts.area_shapes == {"V1": (64, 7, 7), "V2": (128, 4, 4), "V4": (256, 2, 2), "IT": (512, 1, 1)}
    with pytest.raises(ConfigError, match="no area 'MT'"):
        stimulus_activations(tmp_path / "rt", images, areas=["MT"])


def test_compare_trains_reference_models_beside_the_species_and_tests_them_within_every_condition(tmp_path, data):
    cfg = vs.make_config(epochs=1, batch_size=16, precision="fp32")
    out = tmp_path / "cmp"
    summary = vs.compare(["human"], cfg, out, seeds=[0, 1], modes=["gain", "none"], models=["cornet-z"], data=data,
                         report=False, similarity=False, progress=False)
    assert list(zip(summary["species"], summary["condition"], strict=True)) == [
        ("human", "gain"), ("human", "gain"), ("human", "none"), ("human", "none"),
        ("cornet-z", "reference"), ("cornet-z", "reference")]
    ref = summary[summary["species"] == "cornet-z"]
    assert (ref["parameters"] == ref["parameters_used"]).all() and (ref["flops"] > 0).all()
    assert (out / "cornet-z" / "reference-seed1" / "model.pt").is_file()
    tests = pd.read_csv(out / "tests.csv")
    species = tests[(tests["compare"] == "species") & (tests["metric"] == "test_acc")]
    # the reference model beside each condition of the connectome's network, never a condition of its own
    assert sorted(zip(species["condition"], species["group_a"], species["group_b"], strict=True)) == [
        ("gain", "human", "cornet-z"), ("none", "human", "cornet-z")]
    assert (species["n_b"] == 2).all()
    assert json.loads((out / "experiment.json").read_text())["models"] == ["cornet-z"]
    before = (out / "cornet-z" / "reference-seed0" / "model.pt").stat().st_mtime_ns
    again = vs.compare(["human"], cfg, out, seeds=[0, 1], modes=["gain", "none"], models=["cornet-z"], data=data,
                       report=False, similarity=False, progress=False, resume=True)
    assert (out / "cornet-z" / "reference-seed0" / "model.pt").stat().st_mtime_ns == before  # kept, not retrained
    assert again["test_acc"].tolist() == summary["test_acc"].tolist()


def test_similarity_sets_reference_runs_beside_every_condition():
    def pair(a, b):
        return {"species_a": a[0], "condition_a": a[1], "species_b": b[0], "condition_b": b[1]}

    h1, h4, r = ("human", "gain"), ("human", "gain-T4"), ("resnet18", "reference")
    pairs = pd.DataFrame([pair(h1, h4), pair(h1, r), pair(h4, r), pair(r, r)])
    out = _references_beside_conditions(pairs)
    got = sorted(tuple(row) for row in out[["condition_a", "condition_b", "species_a", "species_b"]].to_numpy())
    assert got == sorted([("gain", "gain-T4", "human", "human"),  # as it was
                          ("gain", "gain", "human", "resnet18"), ("gain", "gain", "resnet18", "resnet18"),
                          ("gain-T4", "gain-T4", "human", "resnet18"), ("gain-T4", "gain-T4", "resnet18", "resnet18")])


def run_cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "visualstreams", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


def test_train_model_on_the_command_line(tmp_path):
    fmnist = write_idx_dir(tmp_path / "fm", 64, 32)
    done = run_cli("train", "--model", "cornet-z", "--epochs", "1", "--data", str(fmnist), "--out", "run", "--quiet",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cornet-z: test accuracy" in done.stdout and "reference model: 1,5" in done.stdout
    assert json.loads((tmp_path / "run" / "config.json").read_text())["network"]["model"] == "cornet-z"
    done = run_cli("export", "brainscore", "run", "--out", "plugin", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (layer_map,) = (tmp_path / "plugin" / "region_layer_map").iterdir()
    assert json.loads(layer_map.read_text()) == {a: f"{a}.output" for a in ("V1", "V2", "V4", "IT")}
    done = run_cli("lesion", "run", "--area", "V1", cwd=tmp_path)
    assert done.returncode == 2 and "reference model cornet-z has neither" in done.stderr
    for bad, words in [(["--steps", "4"], "--steps is a setting of a connectome's network"),
                       (["--task", "where"], "has no 'where' head"),
                       (["--architecture", "a.json"], "--architecture sets a connectome network's blocks")]:
        done = run_cli("train", "--model", "resnet18", *bad, "--data", str(fmnist), "--out", "bad", cwd=tmp_path)
        assert done.returncode == 2 and words in done.stderr and len(done.stderr.strip().splitlines()) == 1, bad
        assert "Traceback" not in done.stderr and not (tmp_path / "bad").exists()
    done = run_cli("train", "--model", "resnet19", "--out", "bad", cwd=tmp_path)
    assert done.returncode == 2 and "invalid choice: 'resnet19'" in done.stderr


def test_weights_a_user_has_and_the_untrained_control(tmp_path, data):
    trained = vs.train(None, config(epochs=1), data=data, out=tmp_path / "trained", progress=False)
    # CORnet's published files: {"state_dict": ...} with DataParallel's "module." prefix
    published = {"state_dict": {f"module.{k}": v for k, v in trained.model.body.state_dict().items()}}
    torch.save(published, tmp_path / "cornet_z.pth")
    scored = vs.train(None, config(), data=data, out=tmp_path / "scored", progress=False,
                      weights=tmp_path / "cornet_z.pth", untrained=True)
    assert scored.history["epoch"].tolist() == [0] and scored.final["test_acc"] == trained.final["test_acc"]
    saved = json.loads((tmp_path / "scored" / "config.json").read_text())
    assert saved["init"]["untrained"] is True and saved["init"]["weights"] == str(tmp_path / "cornet_z.pth")
    assert len(saved["init"]["sha256"]) == 64
    with pytest.raises(RunFinished, match="already scored"):
        resume_run(tmp_path / "scored", data=data, progress=False)
    # the untrained control: the seed's draw, scored (the first epoch of a trained run starts from the same weights)
    control = vs.train(None, config(), data=data, out=tmp_path / "control", progress=False, untrained=True)
    torch.manual_seed(0)
    drawn = vs.network.ReferenceNetwork("cornet-z").build().state_dict()
    assert all(torch.equal(v, drawn[k]) for k, v in control.model.state_dict().items())
    with pytest.raises(ConfigError, match="these weights do not fit resnet18 .* lacks"):
        vs.train(None, config("resnet18"), data=data, out=tmp_path / "bad", weights=tmp_path / "cornet_z.pth")
    assert not (tmp_path / "bad").exists()


def test_a_run_started_from_weights_restarts_from_them_only_if_the_file_is_unchanged(tmp_path, data):
    """Killed before its first checkpoint, a run starts over: from its weights file again, checked by its SHA-256."""
    human = vs.make_config(epochs=1, batch_size=16, precision="fp32")
    vs.train("human", human, data=data, out=tmp_path / "first", progress=False)
    whole = vs.train("human", human, data=data, out=tmp_path / "whole", progress=False,
                     weights=tmp_path / "first" / "model.pt")
    with crash_at(2):
        vs.train("human", human, data=data, out=tmp_path / "cut", progress=False,
                 weights=tmp_path / "first" / "model.pt")
    assert not (tmp_path / "cut" / "checkpoint.pt").exists()
    (tmp_path / "first" / "model.pt").rename(tmp_path / "kept.pt")
    torch.save({k: v + 1 for k, v in torch.load(tmp_path / "kept.pt").items()}, tmp_path / "first" / "model.pt")
    with pytest.raises(vs.VisualStreamsError, match="SHA-256 differs"):
        resume_run(tmp_path / "cut", data=data, progress=False)
    (tmp_path / "kept.pt").replace(tmp_path / "first" / "model.pt")
    assert_same_run(whole, resume_run(tmp_path / "cut", data=data, progress=False))


@pytest.mark.parametrize("name", ["alexnet", "resnet18", "cornet-z", "cornet-s"])
def test_a_width_matches_a_parameter_budget_and_counts_what_is_built(name):
    target = 421_130  # macaque-markov2014's one-step network, the parameters the what task uses
    width = match_width(name, target)
    net = ReferenceNetwork(name, width=width)
    assert abs(net.n_parameters - target) <= 0.02 * target
    assert net.n_parameters == parameters_at_width(name, width)  # the meta-device count is the built model's
    assert parameters_at_width(name, width * 0.9) <= net.n_parameters <= parameters_at_width(name, width * 1.1)
    out, areas = net.build()(torch.rand(2, 1, 28, 28), return_areas=True)
    assert out["what"].shape == (2, 10) and {"V1", "V2", "V4", "IT"} <= set(areas)


def test_the_budget_the_readme_states():
    """README and docs/network.md: macaque-markov2014's one-step network uses 421,130 parameters on Fashion-MNIST's
    what task; ResNet-18 matched to it has 422,154; CORnet-RT's closest is 410,122."""
    spec = NetworkConfig(image_size=28, in_channels=1, classes=10).compile("macaque-markov2014")
    assert spec.parameters_used(("what",)) == 421_130
    assert parameters_at_width("resnet18", match_width("resnet18", 421_130)) == 422_154
    assert parameters_at_width("cornet-rt", 0.31) == 410_122


def test_a_width_the_architecture_cannot_reach_is_refused_with_the_closest():
    with pytest.raises(ConfigError, match=r"cornet-rt's widths cannot match 421,130 parameters within 2%: the closest"):
        match_width("cornet-rt", 421_130)  # its channels come in multiples of 32


def test_a_reference_model_matched_to_a_connectome_network(tmp_path, data):
    human = vs.make_config(epochs=1, batch_size=16, precision="fp32")
    budget = NetworkConfig(image_size=28, in_channels=1, classes=10).compile("human").parameters_used(("what",))
    run = vs.train(None, config("resnet18", epochs=1), data=data, out=tmp_path / "matched", progress=False,
                   match_params="human")
    saved = json.loads((tmp_path / "matched" / "config.json").read_text())
    assert saved["network"]["matched_to"] == "human" and saved["model"]["width"] == saved["network"]["width"] < 1
    assert abs(saved["parameters"] - budget) <= 0.02 * budget
    assert sum(p.numel() for p in vs.load_run(tmp_path / "matched").model.parameters()) == saved["parameters"]
    assert run.model.spec.structure[-1] == saved["network"]["width"]
    summary = vs.compare(["human"], human, tmp_path / "cmp", seeds=[0, 1], models=["cornet-z"], match_params="human",
                         data=data, report=False, similarity=False, progress=False)
    assert summary["condition"].tolist() == ["gain", "gain", "reference-matched", "reference-matched"]
    ref = summary[summary["species"] == "cornet-z"]
    assert (abs(ref["parameters"] - budget) <= 0.02 * budget).all()
    tests = pd.read_csv(tmp_path / "cmp" / "tests.csv")
    pairs = set(zip(tests["condition"], tests["group_a"], tests["group_b"], strict=True))
    assert pairs == {("gain", "human", "cornet-z")}
