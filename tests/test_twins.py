"""Matched feedforward twins: the one-step control of a recurrent network, every area widened until it has the
recurrent network's parameter count (Spoerer et al. 2017's BF), built by the compile step from the same connectome."""

import json

import pandas as pd
import pytest
from synthetic import synthetic_dataset
from test_resume import assert_same_run, crash_at

import visualstreams as vs
from visualstreams.cli import main
from visualstreams.connectome import preset_names
from visualstreams.errors import ConfigError
from visualstreams.network import MODES, count_parameters
from visualstreams.network.compile import TWIN_TOLERANCE, matched_twin
from visualstreams.network.modes import condition, parse_condition
from visualstreams.runs import RunDir, load_run, resume_run

MACAQUE = "macaque-markov2014"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(96, 32)


CYCLIC = [n for n in preset_names() if vs.compile_network(n, steps=2).recurrent_projections]


@pytest.mark.parametrize("name", CYCLIC)
@pytest.mark.parametrize(("mode", "steps"), [("gain", 4), ("learned-gain", 2)])
def test_a_twin_has_its_recurrent_networks_parameters_within_2_percent(name, mode, steps):
    recurrent = vs.compile_network(name, mode=mode, steps=steps)
    twin = matched_twin(recurrent)
    assert abs(twin.n_parameters - recurrent.n_parameters) <= TWIN_TOLERANCE * recurrent.n_parameters
    one_step = vs.compile_network(name, mode=mode)
    assert twin.n_parameters > one_step.n_parameters  # the recurrent network's extra weights went into width
    # the same connectome's feedforward network, wider: same areas, projections and heads, one step
    assert twin.steps == 1 and not twin.recurrent_projections and twin.connectome == recurrent.connectome
    assert twin.order == one_step.order and twin.edges == one_step.edges
    assert all(w.channels >= a.channels for w, a in zip(twin.areas, one_step.areas, strict=True))
    assert twin.architecture.name.endswith(f"-BF{steps}")


def test_the_built_models_have_the_counted_parameters():
    recurrent = vs.compile_network(MACAQUE, steps=4)
    twin = matched_twin(recurrent)
    n_rec, n_twin = count_parameters(vs.build_model(recurrent)), count_parameters(vs.build_model(twin))
    assert (n_rec, n_twin) == (recurrent.n_parameters, twin.n_parameters)
    assert abs(n_twin / n_rec - 1) <= TWIN_TOLERANCE


def test_a_one_step_network_has_no_twin():
    with pytest.raises(ConfigError, match="several steps"):
        matched_twin(vs.compile_network(MACAQUE))


def test_a_twin_run_is_rebuilt_from_its_config_and_resumes_bit_identically(tmp_path, data):
    cfg = vs.make_config(epochs=2, batch_size=16, precision="fp32", twin_of=2)
    assert cfg.condition == "gain-BF2"
    reference = vs.train(MACAQUE, cfg, data=data, out=tmp_path / "ref", progress=False, checkpoint_every=2)
    written = json.loads((tmp_path / "ref" / "config.json").read_text())
    assert written["train"]["twin_of"] == 2 and written["train"]["steps"] == 1
    assert written["parameters"] == count_parameters(reference.model) == matched_twin(
        vs.compile_network(MACAQUE, steps=2)).n_parameters
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
    assert list(dict.fromkeys(summary["mode"])) == ["gain", "gain-T2", "gain-BF2"]
    params = summary.groupby("mode")["parameters"].first()
    assert params["gain-BF2"] == pytest.approx(params["gain-T2"], rel=TWIN_TOLERANCE)
    assert params["gain"] < params["gain-BF2"]
    assert (summary.loc[summary["mode"] == "gain-BF2", "steps"] == 1).all()
    assert (tmp_path / MACAQUE / "gain-BF2-seed1" / "model.pt").exists()
    tests = pd.read_csv(tmp_path / "tests.csv")
    pairs = {(r.group_a, r.group_b) for r in tests[(tests["compare"] == "mode") & (tests["metric"] == "test_acc")]
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
])
def test_bad_twins_are_one_line(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("mode", MODES)
def test_a_condition_is_read_back_from_its_label(mode):
    for steps, twin_of in [(1, None), (4, None), (1, 4), (12, None)]:
        label = condition(mode, steps, twin_of)
        assert parse_condition(label) == (mode, steps, twin_of)
    assert parse_condition(f"{mode}-Tx") == (f"{mode}-Tx", 1, None)  # not a step count: a label as it is
