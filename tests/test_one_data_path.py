"""One data path (#32 item 3): Fashion-MNIST is resolved as the ImageSet the registry's ``fashion-mnist`` is, by the
same function and rules as every other set; a run records it as one, and a Fashion-MNIST run of 0.2.0 (its files'
checksums only) still resumes on its data and is still refused on other data."""

import pytest
import torch
from synthetic import synthetic_dataset, write_idx_dir
from test_resume import assert_same_run, crash_at

import visualstreams as vs
from visualstreams.data import ImageSet, load_dataset, load_fashion_mnist
from visualstreams.runs import RunDir, resolve_data, resume_run, run_dataset

pytestmark = pytest.mark.usefixtures("one_thread")


def test_fashion_mnist_resolves_as_the_registrys_image_set(tmp_path):
    directory = write_idx_dir(tmp_path / "fm", 64, 32)
    config = vs.make_config()
    from_files = resolve_data(config, data_path=directory)
    from_registry = load_dataset(directory)
    given = resolve_data(config, data=load_fashion_mnist(directory))
    for images in (from_files, given):
        assert isinstance(images, ImageSet) and images.name == "fashion-mnist"
        assert images.digest() == from_registry.digest() and images.checksums == from_registry.checksums
        assert (images.channels, images.size, len(images.classes)) == (1, (28, 28), 10)


def test_a_fashion_mnist_run_records_its_data_as_an_image_set_and_finds_it_again(tmp_path):
    directory = write_idx_dir(tmp_path / "fm", 64, 32)
    vs.train("mouse", vs.make_config(epochs=1, batch_size=16), data_path=directory, out=tmp_path / "run",
             progress=False)
    data = RunDir(tmp_path / "run").read_config()["data"]
    assert (data["dataset"], data["channels"], data["size"], data["train"], data["train_used"]) == (
        "fashion-mnist", 1, [28, 28], 64, 64)
    assert len(data["checksums"]) == 5 and "tensors" in data["checksums"]  # the four files' and the tensors'
    again = run_dataset(RunDir(tmp_path / "run").read_config())
    assert isinstance(again, ImageSet) and again.digest() == data["checksums"]["tensors"]


def test_a_fashion_mnist_run_of_0_2_resumes_on_its_files_and_is_refused_on_others(tmp_path):
    directory = write_idx_dir(tmp_path / "fm", 64, 32)
    cfg = vs.make_config(epochs=2, batch_size=16, precision="fp32")
    reference = vs.train("mouse", cfg, data_path=directory, out=tmp_path / "ref", progress=False)
    for name in ("cut", "other"):
        with crash_at(5):
            vs.train("mouse", cfg, data_path=directory, out=tmp_path / name, progress=False, checkpoint_every=2)
        run = RunDir(tmp_path / name)
        config = run.read_config()
        # as 0.2.0 recorded Fashion-MNIST: its files' checksums, no tensors', no image-set fields
        config["data"] = {k: v for k, v in config["data"].items() if k in ("source", "format", "train", "test",
                                                                              "checksums", "train_used")}
        del config["data"]["checksums"]["tensors"]
        if name == "other":
            first = next(iter(config["data"]["checksums"]))  # a file's: other images than the run's
            config["data"]["checksums"][first] = "0" * 32
        run.write_config(config)
    resumed = resume_run(tmp_path / "cut", progress=False)  # its own directory, found from config.json
    assert_same_run(resumed, reference)
    with pytest.raises(vs.VisualStreamsError, match="the data differ from the run's"):
        resume_run(tmp_path / "other", progress=False)


def test_compare_refuses_tensors_already_on_a_device(tmp_path):
    from visualstreams.data import DeviceData

    on_device = DeviceData.from_dataset(synthetic_dataset(16, 8), torch.device("cpu"))
    with pytest.raises(vs.ConfigError, match="not on tensors already on a device"):
        vs.compare(["mouse"], vs.make_config(epochs=1), tmp_path / "c", data=on_device, progress=False)
    assert not (tmp_path / "c").exists()


def test_two_data_records_are_the_same_images_by_their_tensors_else_by_their_files():
    from visualstreams.runs.inputs import same_images

    files = {"train.gz": "a", "test.gz": "b"}
    idx = {"format": "idx", "checksums": {**files, "tensors": "t"}}
    assert same_images(idx, {"format": "memory", "checksums": {"tensors": "t"}}) is True  # same images, any format
    assert same_images(idx, {"format": "idx", "checksums": {**files, "tensors": "u"}}) is False
    old = {"format": "idx", "checksums": files}  # 0.2.0: the files' only
    assert same_images(old, idx) is True
    assert same_images(old, {"format": "idx", "checksums": {**files, "train.gz": "z", "tensors": "t"}}) is False
    assert same_images(old, {"format": "csv", "checksums": {"train.csv": "c", "tensors": "t"}}) is None


def test_the_similarity_probes_of_an_occlusion_run_draw_their_scenes_from_the_image_set(tmp_path):
    from visualstreams.analysis.representations import probe_activations

    data = synthetic_dataset(32, 40)
    vs.train("mouse", vs.make_config(epochs=1, batch_size=16, task="occlusion"), data=data, out=tmp_path / "run",
             progress=False)
    found = probe_activations(tmp_path / "run", 20, data=resolve_data(vs.make_config(), data=data))
    given = probe_activations(tmp_path / "run", 20, data=data)  # Fashion-MNIST's own tensors, as before
    assert found.acts.keys() == given.acts.keys() and all(len(a) == 20 for a in found.acts.values())
    for area in found.acts:
        assert (found.acts[area] == given.acts[area]).all()
