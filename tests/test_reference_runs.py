"""The field's reference models through the pipeline: trained (API and CLI), resumed, loaded, recorded by area and
step for predict, compared beside connectomes (tested against every species within every condition), refused in
one line where a connectome's setting or a head they lack is asked for."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from synthetic import synthetic_dataset, write_idx_dir
from test_resume import assert_same_run, crash_at

import visualstreams as vs
from visualstreams.analysis.area_activations import stimulus_activations
from visualstreams.analysis.differences import species_differences
from visualstreams.analysis.predictivity import _check_areas
from visualstreams.analysis.representations import _species_tests
from visualstreams.errors import ConfigError
from visualstreams.experiment.comparison import analyse
from visualstreams.network import NetworkConfig, ReferenceNetwork
from visualstreams.network.reference import match_width, parameters_at_width
from visualstreams.network.twins import _training_flops, training_flops
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
    species = tests[(tests["compare"] == "reference") & (tests["metric"] == "test_acc")]
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


def summary_of(groups, tmp_path):
    """A compare's summary of made-up accuracies: {(species, condition): [one per seed]}."""
    return pd.DataFrame([{"species": sp, "condition": c, "seed": k, "status": "ok", "test_acc": v,
                          "run_dir": str(tmp_path / f"{sp}-{c}-{k}")}
                         for (sp, c), values in groups.items() for k, v in enumerate(values)])


def test_reference_models_are_tested_in_families_of_their_own(tmp_path):
    """Adding models leaves the species' own tests as they were; each species meets each model within each
    condition, and the models meet each other once."""
    species = {("human", "gain"): [70.1, 71.0, 70.5, 70.8], ("macaque", "gain"): [72.0, 72.9, 72.4, 73.1],
               ("human", "gain-T4"): [71.0, 71.8, 71.2, 71.9], ("macaque", "gain-T4"): [73.0, 73.5, 72.8, 74.0]}
    models = {("alexnet", "reference"): [75.0, 75.5, 74.8, 75.9], ("resnet18", "reference"): [77.0, 77.2, 76.1, 78.0]}
    alone = analyse(tmp_path / "a", summary_of(species, tmp_path))[1]
    both = analyse(tmp_path / "b", summary_of({**species, **models}, tmp_path))[1]
    own = both[both["compare"] == "species"].reset_index(drop=True)
    pd.testing.assert_frame_equal(own, alone[alone["compare"] == "species"].reset_index(drop=True))
    ref = both[both["compare"] == "reference"]
    got = sorted(zip(ref["condition"], ref["group_a"], ref["group_b"], strict=True))
    assert got == sorted([(c, sp, m) for c in ("gain", "gain-T4") for sp in ("human", "macaque")
                          for m in ("alexnet", "resnet18")] + [("reference", "alexnet", "resnet18")])
    for c in ("gain", "gain-T4"):  # Holm over the four species-model pairs of the condition
        fam = ref[ref["condition"] == c]
        assert len(fam) == 4 and (fam["p_holm"] >= fam["p"]).all() and fam["p_holm"].max() <= 1
        assert fam["p_holm"].min() == pytest.approx(min(1.0, 4 * fam["p"].min()))
    from visualstreams.report.console import comparison_text

    summary = summary_of({**species, **models}, tmp_path).assign(seconds=1.0)
    stats, tests = analyse(tmp_path / "c", summary)
    text = comparison_text(summary, stats, tests)  # each test printed with the condition it is within
    assert "human - alexnet (gain-T4):" in text and "alexnet - resnet18 (reference):" in text
    assert "human - macaque (gain):" in text and "(nan)" not in text


def test_similarity_tests_reference_models_in_families_of_their_own():
    rng = np.random.default_rng(0)
    runs = [("human", "gain", k) for k in range(3)] + [("human", "gain-T4", k) for k in range(3)] + [
        ("macaque", "gain", k) for k in range(3)] + [(m, "reference", k) for m in ("alexnet", "resnet18")
                                                   for k in range(3)]
    rows = [{"area": "IT", "metric": "cka", "run_a": f"{a[0]}/{a[1]}/{a[2]}", "run_b": f"{b[0]}/{b[1]}/{b[2]}",
             "species_a": a[0], "species_b": b[0], "condition_a": a[1], "condition_b": b[1], "seed_a": a[2],
             "seed_b": b[2], "similarity": rng.uniform(0.5, 1.0)}
            for i, a in enumerate(runs) for b in runs[i + 1:]]
    pairs = pd.DataFrame(rows)
    test = {"n_permutations": 200, "seed": 0, "n_bootstrap": 50}
    out = _species_tests(pairs, test)
    connectomes = ~pairs["condition_a"].str.startswith("reference") & ~pairs["condition_b"].str.startswith(
        "reference")
    alone = species_differences(pairs[connectomes], **test)
    pd.testing.assert_frame_equal(out.iloc[:len(alone)].reset_index(drop=True), alone.reset_index(drop=True))
    rest = out.iloc[len(alone):]
    got = sorted(zip(rest["condition"], rest["species_a"], rest["species_b"], strict=True))
    assert got == sorted([("gain", "human", "alexnet"), ("gain", "human", "resnet18"), ("gain", "macaque", "alexnet"),
                          ("gain", "macaque", "resnet18"), ("gain-T4", "human", "alexnet"),
                          ("gain-T4", "human", "resnet18"), ("reference", "alexnet", "resnet18")])
    assert rest["p"].notna().all() and (rest["n_runs_a"] == 3).all() and (rest["n_runs_b"] == 3).all()


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


def test_counting_flops_leaves_the_random_state_as_it_was(tmp_path, data):
    """AlexNet's dropout draws in training mode: the counted step must not move the seed's stream (else a run's
    result would depend on whether an earlier run in the process had counted the same network)."""
    _training_flops.cache_clear()
    before = torch.random.get_rng_state()
    training_flops(ReferenceNetwork("alexnet", width=0.1), ("what",))
    assert torch.equal(before, torch.random.get_rng_state())
    _training_flops.cache_clear()
    first = vs.train(None, config("alexnet", epochs=1), data=data, progress=False, match_params="human")
    again = vs.train(None, config("alexnet", epochs=1), data=data, progress=False, match_params="human")
    assert_same_run(first, again)


def test_a_sweep_does_not_keep_a_run_it_did_not_train_as_planned(tmp_path, data):
    cfg = vs.make_config(epochs=1, batch_size=16, precision="fp32")
    out = tmp_path / "cmp"
    vs.compare([], cfg, out, seeds=[0], models=["cornet-z"], data=data, report=False, similarity=False,
               progress=False)
    run = out / "cornet-z" / "reference-seed0"
    vs.train(None, config(epochs=1), data=data, out=run, overwrite=True, progress=False, untrained=True)
    summary = vs.compare([], cfg, out, seeds=[0], models=["cornet-z"], data=data, report=False, similarity=False,
                         progress=False, resume=True)
    assert summary["epochs"].tolist() == [1] and "init" not in json.loads((run / "config.json").read_text())
    assert summary["train_loss"].notna().all()  # trained again, not the untrained run kept


def test_a_width_is_recorded_with_what_it_matches_or_refused():
    with pytest.raises(ConfigError, match="give both width and matched_to"):
        NetworkConfig(model="cornet-z", width=0.25)
    with pytest.raises(ConfigError, match="give --model"):
        NetworkConfig(width=0.25, matched_to="human")
    net = NetworkConfig(model="cornet-z", width=0.25, matched_to="human")
    assert NetworkConfig.from_dict(net.to_dict()) == net and net.label == "reference-matched"
    with pytest.raises(ConfigError, match="more than cornet-z has at 16 times"):
        match_width("cornet-z", 10**10)


def test_predict_checks_a_reference_models_areas(tmp_path, data):
    vs.train(None, config(epochs=1), data=data, out=tmp_path / "run", progress=False)
    _check_areas([tmp_path / "run"], ["IT", "V1"])
    with pytest.raises(ConfigError, match="no area 'MT' .areas: V1, V2, V4, IT"):
        _check_areas([tmp_path / "run"], ["MT"])


def test_every_layer_of_a_reference_model_is_a_candidate_chosen_on_held_out_splits(tmp_path, data):
    """--layers all: an AlexNet's every ReLU and pool besides its mapped areas is scored, and a region's best layer
    is chosen among them on held-out splits. (Which layer wins a region made from one of them is not asserted: at 80
    stimuli every layer of this untrained network spans their whole row space, so ridge fits any of them about
    equally; the known-answer ordering is tested for areas in test_predictivity.)"""
    from test_predictivity import striped_images, write_stimulus_images

    from visualstreams.analysis.predictivity import PredictivityConfig
    from visualstreams.data.recordings_core import Recordings

    vs.train(None, config("alexnet", epochs=1), data=data, out=tmp_path / "alex", progress=False, untrained=True)
    images, labels = striped_images(80, seed=3)
    csv = write_stimulus_images(images, tmp_path / "stim", object_names=[f"c{k}" for k in labels])
    table = pd.read_csv(csv)
    table["path"] = [str(tmp_path / "stim" / f) for f in table.pop("filename")]
    layers = stimulus_activations(tmp_path / "alex", images[:, None], every_layer=True, max_features=2**62)
    candidates = [p for p in layers.acts if "." in p]
    assert candidates[:3] == ["features.1", "features.2", "features.4"] and "classifier.2" in candidates
    assert layers.area_shapes["features.1"] == (64, 28, 28) and set(layers.acts) >= {"V1", "V2", "V4", "IT"}
    plain = stimulus_activations(tmp_path / "alex", images[:, None])
    assert list(plain.acts) == ["V1", "V2", "V4", "IT"]  # the default: the areas only
    # a region made from features.4 (the second convolution's ReLU): 20 neuroids, 4 repetitions, noise 0.3
    rng = np.random.default_rng(0)
    source = layers.acts["features.4"] @ rng.standard_normal((layers.acts["features.4"].shape[1], 20))
    source = (source - source.mean(0)) / source.std(0)
    stim = np.repeat(np.arange(80), 4)
    rec = Recordings(source[stim] + 0.3 * rng.standard_normal((len(stim), 20)), table["stimulus_id"].to_numpy()[stim],
                     np.tile(np.arange(4), 80), np.array(["R"] * 20), np.array([f"n{i}" for i in range(20)]), table,
                     source="test")
    result = vs.neural_predictivity([tmp_path / "alex"], rec, progress=False,
                                    config=PredictivityConfig(method="ridge", n_splits=4, layers="all",
                                                              similarity=False))
    assert set(result.summary["name"]) == set(layers.acts)  # every candidate scored
    assert result.best["best"].isin(candidates + ["V1", "V2", "V4", "IT"]).all() and len(result.best) == 1
    with pytest.raises(ConfigError, match="unknown layers"):
        PredictivityConfig(layers="some")
