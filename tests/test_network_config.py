"""The network's config apart from training's (#32 item 2): a frozen :class:`NetworkConfig` (mode, steps, twin,
recurrence, input) saved as config.json's ``network`` section, the input decided once from the data, and run
directories and checkpoints written before the split still resumed as they were."""

import dataclasses
import json

import pytest
import torch
from synthetic import synthetic_dataset
from test_resume import assert_same_run, crash_at

import visualstreams as vs
from visualstreams.data import ImageSet
from visualstreams.engine import TrainConfig
from visualstreams.errors import ConfigError
from visualstreams.network import NetworkConfig, compile_network
from visualstreams.network.config import INPUT_FIELDS
from visualstreams.runs import RunDir, resolve_input, resume_run

pytestmark = pytest.mark.usefixtures("one_thread")
NETWORK_FIELDS = {f.name for f in dataclasses.fields(NetworkConfig)}


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(64, 32)


def test_the_network_config_is_frozen_and_refuses_what_cannot_be_built():
    net = NetworkConfig("gain", 4, intrinsic=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.steps = 2  # type: ignore[misc]
    for bad, message in [({"mode": "strong"}, "unknown connection mode"), ({"steps": 0}, "steps must be"),
                         ({"steps": 2, "twin_of": 4}, "one-step network"), ({"twin_of": 1}, "2 steps or more"),
                         ({"twin_match": "compute"}, "--twin-of"), ({"intrinsic": True}, "--steps 2 or more"),
                         ({"image_size": 0}, "image size must be"), ({"classes": True}, "classes must be")]:
        with pytest.raises(ConfigError, match=message):
            NetworkConfig(**bad)
    assert NetworkConfig.from_dict(net.to_dict()) == net
    assert net.recurrent is net and NetworkConfig("none", 1, 4, "compute", True).recurrent == NetworkConfig(
        "none", 4, intrinsic=True)


def test_make_config_routes_the_network_fields_to_the_network_config():
    cfg = vs.make_config("fast", steps=3, mode="density", intrinsic=True, epochs=2)
    assert cfg.network == NetworkConfig("density", 3, intrinsic=True) and cfg.epochs == 2
    assert not NETWORK_FIELDS & set(cfg.to_dict())  # one owner: training's section holds none of the network's
    assert vs.make_config(network=NetworkConfig(steps=2), mode="none").network == NetworkConfig("none", 2)
    with pytest.raises(ConfigError, match="unknown training option 'stepz'"):
        vs.make_config(stepz=2)


@pytest.mark.parametrize(("task", "size"), [("what", 28), ("what-where", 56)])
def test_a_run_records_its_network_with_the_input_the_data_decided(tmp_path, data, task, size):
    cfg = vs.make_config(epochs=1, batch_size=16, precision="fp32", task=task, steps=2)
    result = vs.train("macaque-markov2014", cfg, data=data, out=tmp_path, progress=False)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["network"] == {**NetworkConfig("gain", 2).to_dict(), "image_size": size, "in_channels": 1,
                                "classes": 10}
    assert not NETWORK_FIELDS & set(saved["train"])
    assert saved["architecture"]["image_size"] == result.model.spec.image_size == size
    again = vs.load_run(tmp_path)
    assert again.model.spec == result.model.spec
    assert TrainConfig.of_run(saved).network == NetworkConfig.from_dict(saved["network"])


def test_an_image_set_decides_the_input_and_a_contradicting_one_is_refused_before_anything_is_written(tmp_path):
    images = ImageSet("tiny", torch.zeros(8, 3, 32, 32, dtype=torch.uint8), torch.arange(8) % 4,
                      torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.arange(4), ("a", "b", "c", "d"),
                      source="memory")
    net = resolve_input(vs.make_config(), images)
    assert (net.image_size, net.in_channels, net.classes) == (32, 3, 4)
    assert resolve_input(vs.make_config(), None) == NetworkConfig(image_size=28, in_channels=1, classes=10)
    out = tmp_path / "runs" / "no"
    with pytest.raises(ConfigError, match="the network's image size is 64, but the data and task give 32"):
        vs.train("mouse", vs.make_config(image_size=64), data=images, out=out, progress=False)
    assert not (tmp_path / "runs").exists()


def test_a_compiled_network_keeps_its_own_and_refuses_a_config_that_differs(data):
    spec = compile_network("macaque-markov2014", steps=2)
    with pytest.raises(ConfigError, match="steps 2, not 4"):
        NetworkConfig(steps=4).compile(spec)
    assert NetworkConfig(steps=2, image_size=28).compile(spec) is spec
    with pytest.raises(ConfigError, match="steps 2, not 1"):
        vs.train(spec, vs.make_config(epochs=1), data=data, progress=False)


def _as_before_the_split(run: RunDir) -> None:
    """Rewrite a run's config.json and checkpoint as the code before the split wrote them: the network's fields
    (no input) in ``train``, no ``network`` section."""
    config = run.read_config()
    flat = {**config["train"], **{k: v for k, v in config.pop("network").items() if k not in INPUT_FIELDS}}
    run.write_config({**config, "train": flat})
    state = torch.load(run.checkpoint_path, weights_only=True)
    del state["network"]
    torch.save({**state, "train": flat}, run.checkpoint_path)


def test_a_run_interrupted_before_the_split_resumes_as_if_never_interrupted(tmp_path, data):
    cfg = vs.make_config(epochs=2, batch_size=16, precision="fp32", steps=2, intrinsic=True)
    reference = vs.train("macaque-markov2014", cfg, data=data, out=tmp_path / "ref", progress=False)
    with crash_at(5):
        vs.train("macaque-markov2014", cfg, data=data, out=tmp_path / "cut", progress=False, checkpoint_every=2)
    _as_before_the_split(RunDir(tmp_path / "cut"))
    resumed = resume_run(tmp_path / "cut", data=data, progress=False)
    assert resumed.resumed_from == (1, 4)  # the end of epoch 1 (4 batches)
    assert_same_run(resumed, reference)
    # and one whose checkpoint is another network's is refused, as before
    with crash_at(5):
        vs.train("macaque-markov2014", cfg, data=data, out=tmp_path / "other", progress=False, checkpoint_every=2)
    rd = RunDir(tmp_path / "other")
    state = torch.load(rd.checkpoint_path, weights_only=True)
    torch.save({**state, "network": {**state["network"], "steps": 3}}, rd.checkpoint_path)
    with pytest.raises(vs.VisualStreamsError, match="train or network config differs"):
        resume_run(rd.path, data=data, progress=False)


def test_a_run_of_before_the_split_resumes_again_after_a_second_interruption(tmp_path, data):
    cfg = vs.make_config(epochs=2, batch_size=16, precision="fp32")
    reference = vs.train("mouse", cfg, data=data, out=tmp_path / "ref", progress=False)
    with crash_at(3):
        vs.train("mouse", cfg, data=data, out=tmp_path / "cut", progress=False, checkpoint_every=2)
    _as_before_the_split(RunDir(tmp_path / "cut"))
    with crash_at(4):  # the resumed run killed again: its checkpoint now in this version's layout
        resume_run(tmp_path / "cut", data=data, progress=False, checkpoint_every=2)
    assert_same_run(resume_run(tmp_path / "cut", data=data, progress=False), reference)


def test_tensors_on_a_device_set_the_channels_and_leave_the_classes_to_the_architecture(tmp_path):
    from visualstreams.data import DeviceData

    rgb = DeviceData(torch.randint(0, 255, (32, 3, 28, 28), dtype=torch.uint8), torch.arange(32) % 10,
                     torch.randint(0, 255, (16, 3, 28, 28), dtype=torch.uint8), torch.arange(16) % 10)
    result = vs.train("mouse", vs.make_config(epochs=1, batch_size=16), data=rgb, out=tmp_path, progress=False)
    assert result.model.spec.architecture.in_channels == 3
    saved = json.loads((tmp_path / "config.json").read_text())["network"]
    assert (saved["image_size"], saved["in_channels"], saved["classes"]) == (28, 3, None)


@pytest.mark.parametrize(("network", "message"), [("x", "corrupt or not a run's config"),
                                                  ({"steps": 0}, "steps must be a whole number"),
                                                  ({"image_size": 32}, "records image size 32, its architecture 28")])
def test_a_bad_network_section_is_one_line_naming_the_file(tmp_path, data, network, message):
    vs.train("mouse", vs.make_config(epochs=1, batch_size=16), data=data, out=tmp_path, progress=False)
    run = RunDir(tmp_path)
    config = run.read_config()
    run.write_config({**config, "network": network if isinstance(network, str) else {**config["network"], **network}})
    with pytest.raises(vs.VisualStreamsError, match=message) as refused:
        vs.load_run(tmp_path)
    assert str(run.config_path) in str(refused.value) and "\n" not in str(refused.value)
