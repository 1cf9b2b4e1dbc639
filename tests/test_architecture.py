"""Architectures beyond six areas: files (TOML/JSON), defaults by hierarchy level, heads on any area."""

import json
from pathlib import Path

import pytest
import torch
from synthetic import synthetic_dataset

import visualstreams as vs
from visualstreams.cli import main
from visualstreams.connectome import hierarchy_levels
from visualstreams.errors import ConfigError
from visualstreams.network import block_for_level, compile_network, load_architecture

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "macaque8.toml"
EIGHT = ("V1", "V2", "V4", "TEO", "TEpd", "MT", "LIP", "7A")


def macaque8() -> vs.Connectome:
    full = vs.load_connectome("macaque-markov2014-full")
    edges = [(s, t, w) for s, t, w in full.edges() if s in EIGHT and t in EIGHT]
    directions = {(s, t): d for (s, t), d in full.directions.items() if s in EIGHT and t in EIGHT}
    return vs.Connectome.from_edges(edges, areas=EIGHT, name="macaque8", species="macaque", directions=directions)


def test_defaults_by_level_follow_the_notebook():
    assert [(block_for_level(k).channels, block_for_level(k).pool) for k in range(6)] == [
        (32, True), (64, True), (128, False), (256, True), (256, False), (256, False)]
    levels = hierarchy_levels(macaque8(), "V1")
    assert levels["V1"] == 0 and levels["V2"] == 1 and levels["TEO"] > levels["V4"]
    assert levels["7A"] == max(levels.values())


def test_the_toml_file_sets_blocks_and_heads(tmp_path):
    arch = load_architecture(EXAMPLE)
    assert arch.name == "macaque-8" and arch.heads["what"].area == "TEpd" and arch.heads["where"].area == "7A"
    assert arch.areas["TEO"] == vs.AreaSpec(320, pool=True) and "V1" not in arch.areas
    complete = compile_network(macaque8(), arch).architecture
    assert complete.areas["V1"] == vs.AreaSpec(32, pool=True) and complete.areas["LIP"] == vs.AreaSpec(256)
    as_json = tmp_path / "macaque8.json"
    as_json.write_text(json.dumps({"name": "macaque-8", "input_area": "V1",
                                   "areas": {"TEO": {"channels": 320, "pool": True},
                                                                 "TEpd": {"channels": 192}, "7A": {"channels": 192}},
                                   "heads": {"what": "TEpd", "where": {"area": "7A", "outputs": 2}}}))
    assert load_architecture(as_json).to_dict() == arch.to_dict()


@pytest.mark.slow
def test_eight_area_network_builds_trains_and_reads_out_by_area(tmp_path):
    conn = compile_network(macaque8(), load_architecture(EXAMPLE)).connectome
    torch.manual_seed(0)
    cfg = vs.make_config("notebook", epochs=1, batch_size=16, precision="fp32", task="what-where", canvas=28)
    result = vs.train(conn, cfg, data=synthetic_dataset(32, 16), architecture=EXAMPLE, out=tmp_path / "run",
                      progress=False)
    model = result.model
    ff = vs.connectome.feedforward_part(conn, conn.directions)
    assert list(model.areas) == list(vs.connectome.topological_order(ff)) and set(model.areas) == set(EIGHT)
    assert model.area_shapes["TEpd"] == (192, 3, 3) and model.area_shapes["7A"] == (192, 3, 3)
    assert model.area_shapes["TEO"] == (320, 3, 3) and model.area_shapes["MT"] == (256, 3, 3)  # MT: level 4
    assert len(result.history) == 1 and 0 <= result.final["test_acc"] <= 100
    out, acts = model(torch.rand(3, 1, 28, 28), return_areas=True)
    assert set(acts) == set(EIGHT) and acts["TEO"].shape == (3, 320, 3, 3)
    assert out["what"].shape == (3, 10) and out["where"].shape == (3, 2)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["architecture"]
    assert saved["heads"]["what"] == {"area": "TEpd", "outputs": 10}
    # the run rebuilds from what it wrote
    again = vs.load_run(tmp_path / "run")
    assert all(torch.equal(a, b) for a, b in zip(again.model.state_dict().values(), model.state_dict().values(),
                                                 strict=True))


def test_completion_leaves_the_notebook_untouched():
    for species in ("human", "marmoset", "mouse", "macaque-markov2014"):
        assert compile_network(species).architecture == vs.default_architecture()


@pytest.mark.parametrize("name", ["macaque-markov2014-full", "marmoset-majka2020-full"])
def test_full_presets_keep_at_least_3x3_maps_up_to_their_heads(name):
    model = vs.build_model(name)
    heads = model.architecture.heads
    assert min(shape[1] for shape in model.area_shapes.values()) == 3
    assert model.area_shapes[heads["what"].area][1:] == model.area_shapes[heads["where"].area][1:] == (3, 3)
    assert (heads["what"].area, heads["where"].area) == tuple(vs.load_connectome(name).extra["heads"].values())


def test_heads_the_caller_sets_beat_the_presets_and_survive_a_rebuild(tmp_path):
    path = tmp_path / "teo.toml"
    path.write_text("[heads.what]\narea = 'TEO'\n")
    full = vs.load_connectome("macaque-markov2014-full")  # its own heads: what on TEpd, where on 7A
    arch = compile_network(full, path).architecture
    assert (arch.heads["what"].area, arch.heads["where"].area) == ("TEO", "7A")
    assert compile_network(full, path, image_size=36).architecture.heads["what"].area == "TEO"
    rebuilt = vs.Architecture.from_dict(arch.to_dict())  # as load_run and resume_run rebuild a run
    assert compile_network(full, rebuilt).architecture.heads["what"].area == "TEO"


def test_compare_resume_retrains_runs_of_another_architecture(tmp_path):
    data = synthetic_dataset(32, 16)
    cfg = vs.make_config("notebook", epochs=1, batch_size=16, precision="fp32")
    vs.compare(["human"], cfg, tmp_path, data=data, report=False, progress=False)
    (tmp_path / ".notes.txt.1234.tmp").write_text("not ours")
    (tmp_path / ".summary.csv.abcd.tmp").write_text("ours, left by a kill")
    narrow = tmp_path / "narrow.toml"
    narrow.write_text("[areas.V4]\nchannels = 64\n")
    vs.compare(["human"], cfg, tmp_path, data=data, report=False, progress=False, resume=True, architecture=narrow)
    saved = json.loads((tmp_path / "human" / "seed0" / "config.json").read_text())["architecture"]
    assert saved["areas"]["V4"]["channels"] == 64  # retrained, not kept
    assert (tmp_path / ".notes.txt.1234.tmp").exists() and not (tmp_path / ".summary.csv.abcd.tmp").exists()


@pytest.mark.parametrize("name, body, fragment", [
    ("a.toml", "colour = 'blue'\n", "unknown key 'colour'"),
    ("a.toml", "[areas.TEO]\nchannels = 'many'\n", "area 'TEO': channels and kernel_size must be whole numbers"),
    ("a.toml", "[areas.TEO]\nchannels = 64\nkernel_size = 4\n", "needs channels >= 1 and an odd kernel_size"),
    ("a.toml", "[areas.TEO]\nwidth = 64\n", "area 'TEO': expected keys among"),
    ("a.toml", "[heads.when]\narea = 'TEO'\n", "unknown head 'when'"),
    ("a.toml", "[heads.what]\narea = 'TEO'\noutputs = 3\n", "head 'what': needs an area name (and outputs = 10)"),
    ("a.toml", "[areas\n", "not valid TOML"),
    ("a.toml", "areas = 3\n", "'areas' must be a table of area or head names"),
    ("a.toml", "[heads.what]\narea = 'IT'\noutputs = 10.0\n", "head 'what': needs an area name (and outputs = 10)"),
    ("a.json", "{", "not valid JSON"),
    ("a.yaml", "areas: {}", "architecture files end in .json or .toml"),
])
def test_bad_architecture_files_get_one_line(tmp_path, capsys, name, body, fragment):
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_architecture(path)
    assert fragment in str(info.value)
    assert main(["train", "--species", "human", "--architecture", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(path) in err and fragment in err


def test_a_head_on_a_missing_area_is_refused(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text("[heads.what]\narea = 'TEpd'\n")
    with pytest.raises(vs.errors.ConnectomeError, match="area 'TEpd' for the 'what' head is missing"):
        vs.build_model("human", architecture=path)
