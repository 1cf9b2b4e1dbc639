"""Image folders over the in-memory limit stream: a DataLoader's workers decode each batch from the files, in the
seeded order the in-memory path uses, with the same decoding, so a streamed run is the in-memory run bit for bit
on the CPU (tested here with the limit lowered so that a small generated folder streams)."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from test_datasets import write_folder
from test_resume import crash_at

import visualstreams as vs
from visualstreams.analysis.lesions import lesion_runs
from visualstreams.analysis.representations import probe_activations
from visualstreams.cli import main
from visualstreams.data import datasets as ds
from visualstreams.data.streaming import LazyImages
from visualstreams.errors import ConfigError, DataError


def quick(**kw):
    return vs.make_config(**{"epochs": 1, "batch_size": 32, "seed": 0, "device": "cpu", "precision": "fp32", **kw})


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("stream") / "shapes", n_per_class=60)  # 240 images, 737 KB decoded


@pytest.fixture
def streaming(monkeypatch):
    monkeypatch.setattr(ds, "MAX_BYTES", 100_000)  # the folder decodes to 737,280 bytes: over it, so it streams


def same_run(a, b) -> bool:
    return (a.history.drop(columns="seconds").equals(b.history.drop(columns="seconds"))
            and all(torch.equal(x, y) for x, y in zip(a.model.parameters(), b.model.parameters(), strict=True)))


@pytest.mark.slow
def test_a_folder_over_the_limit_streams_and_trains_as_the_in_memory_one(tmp_path, folder, one_thread, monkeypatch,
                                                                          capsys):
    cfg = quick(epochs=2, hflip=True, crop_pad=2)  # augmentations drawn on the streamed batches as on the tensor's
    memory = vs.train("human", cfg, dataset=folder, out=tmp_path / "memory", progress=False)
    monkeypatch.setattr(ds, "MAX_BYTES", 100_000)
    loaded = vs.load_dataset(folder)
    assert isinstance(loaded.train_images, LazyImages) and loaded.train_images.shape == (192, 3, 32, 32)
    assert torch.equal(loaded.test_labels, vs.load_dataset(folder).test_labels)  # the same seeded split
    streamed = vs.train("human", cfg, dataset=folder, out=tmp_path / "streamed", progress=False)
    assert float(streamed.history.iloc[-1]["test_acc"]) > 60  # chance is 25%
    assert same_run(memory, streamed)  # same order, same pixels, same augmentation draws: bit for bit
    config = json.loads((tmp_path / "streamed" / "config.json").read_text())
    assert config["data"]["streamed"] is True and "streamed" not in json.loads(
        (tmp_path / "memory" / "config.json").read_text())["data"]
    subset = vs.train("human", quick(train_subset=100), dataset=folder, progress=False)
    monkeypatch.setattr(ds, "MAX_BYTES", 8 * 2**30)
    assert same_run(vs.train("human", quick(train_subset=100), dataset=folder, progress=False), subset)
    monkeypatch.setattr(ds, "MAX_BYTES", 100_000)
    assert main(["data", "show", str(folder)]) == 0
    assert "streamed from disk" in capsys.readouterr().out


@pytest.mark.slow
def test_a_streamed_run_resumes_to_the_uninterrupted_run(tmp_path, folder, one_thread, streaming):
    cfg = quick(epochs=2)
    ref = vs.train("mouse", cfg, dataset=folder, out=tmp_path / "ref", progress=False)
    with crash_at(8):  # 6 steps an epoch: in the second epoch, its loader's workers running
        vs.train("mouse", cfg, dataset=folder, out=tmp_path / "run", progress=False, checkpoint_every=1)
    resumed = vs.resume_run(tmp_path / "run", progress=False)
    assert resumed.resumed_from == (2, 1)
    assert same_run(ref, resumed)


def test_lesions_and_probes_of_a_streamed_run(tmp_path, folder, one_thread, streaming):
    run = vs.train("mouse", quick(), dataset=folder, out=tmp_path / "run", progress=False)
    df = lesion_runs([run.run_dir], areas=["V4"], device="cpu").set_index("lesion")
    assert df.loc["intact", "test_acc"] == run.final["test_acc"]  # evaluated from the streamed test files
    assert df.loc["V4", "test_acc"] < df.loc["intact", "test_acc"]
    acts = probe_activations(run.run_dir, 8)
    assert acts.acts["V1"].shape[0] == 8


def test_an_image_that_fails_to_decode_is_named_in_one_line_and_stacks_are_refused(tmp_path, folder, one_thread,
                                                                                    streaming):
    bad = tmp_path / "bad"
    write_folder(bad, n_per_class=10)
    png = bad / "cross" / "0012.png"
    png.write_bytes(png.read_bytes()[:200])  # its header reads, its pixels do not: found when a worker decodes it
    Image.open(png).close()
    with pytest.raises(DataError, match=r"0012.png: unreadable image") as info:
        vs.train("mouse", quick(), dataset=bad, progress=False)
    assert "\n" not in str(info.value)  # the worker's message, not its traceback
    data = vs.load_dataset(folder)
    from visualstreams.data import DeviceData
    from visualstreams.engine import fit_stacked

    dev = DeviceData.from_dataset(data, torch.device("cpu"))
    models = [vs.build_model(vs.compile_network("mouse", image_size=32, in_channels=3, classes=4)) for _ in range(2)]
    with pytest.raises(ConfigError, match="trains one model at a time"):
        fit_stacked(models, [dev, dev], [quick(seed=0), quick(seed=1)], "fp32", progress=False)


@pytest.mark.slow
def test_compare_on_a_streamed_set_trains_one_model_at_a_time(tmp_path, folder, one_thread, streaming):
    summary = vs.compare(["mouse"], quick(), tmp_path / "cmp", seeds=[0, 1], dataset=folder, progress=False,
                         report=False, similarity=False)  # auto: sequential, whatever the device
    assert set(summary["status"]) == {"ok"}
    assert json.loads((tmp_path / "cmp" / "experiment.json").read_text())["data"]["streamed"] is True
    with pytest.raises(ConfigError, match="trains one model at a time"):
        vs.compare(["mouse"], quick(), tmp_path / "stacked", seeds=[0, 1], dataset=folder, progress=False,
                   strategy="stacked")
    assert not (tmp_path / "stacked").exists()
