"""Representational similarity of trained runs: activations on the probe set, the API, compare's section, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from synthetic import synthetic_dataset, write_idx_dir

import visualstreams as vs
from visualstreams.analysis.representations import preset_homology, probe_activations, probe_indices
from visualstreams.cli import main
from visualstreams.runs import CompareDir


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    return write_idx_dir(tmp_path_factory.mktemp("data"), n_train=256, n_test=96)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, idx_dir, one_thread):
    """human and mouse, two seeds each, a few epochs on striped images: enough to train the ventral stream."""
    out = tmp_path_factory.mktemp("sweep")
    cfg = vs.make_config(epochs=3, batch_size=32, precision="fp32")
    vs.compare(["human", "mouse"], cfg, out, seeds=[0, 1], data_path=idx_dir, progress=False)
    return out


def test_the_probe_set_is_fixed_and_checked():
    a, b = probe_indices(10000, 50), probe_indices(10000, 50)
    assert np.array_equal(a, b) and len(set(a)) == 50 and np.all(np.diff(a) > 0)
    with pytest.raises(vs.ConfigError, match="--images must be between 4 and the test set's 96"):
        probe_indices(96, 97)


def test_activations_have_one_row_per_probe_and_mark_the_untrained_stream(sweep, idx_dir):
    ra = probe_activations(sweep / "mouse" / "seed0", 40, data_path=idx_dir)
    assert list(ra.acts) == ["V1", "V2", "V4", "IT", "MT", "LIP"]
    assert ra.acts["V1"].shape == (40, 32 * 14 * 14) and ra.acts["IT"].shape == (40, 256 * 3 * 3)
    assert ra.untrained == ["MT", "LIP"]  # the `what` task never trains the dorsal stream
    again = probe_activations(sweep / "mouse" / "seed0", 40, data_path=idx_dir)
    assert all(np.array_equal(ra.acts[a], again.acts[a]) for a in ra.acts)


def test_each_area_is_most_similar_to_the_same_area_of_another_seed(sweep, idx_dir):
    result = vs.similarity([sweep / "human" / "seed0", sweep / "human" / "seed1"], metrics=["cka"], n_images=96,
                           data_path=idx_dir, progress=False)
    areas = ["V1", "V2", "V4", "IT"]  # trained
    pairs = result.across.set_index("area")["similarity"]
    # the same area across seeds beats every other area of the other seed (cross-area CKA from the raw activations)
    a = probe_activations(sweep / "human" / "seed0", 96, data_path=idx_dir).acts
    b = probe_activations(sweep / "human" / "seed1", 96, data_path=idx_dir).acts
    for area in areas:
        others = [vs.cka(a[area], b[o]) for o in areas if o != area]
        assert pairs[area] > max(others), area
    assert pairs["V1"] == pytest.approx(vs.cka(a["V1"], b["V1"]))


def test_compare_adds_the_analysis_and_the_report_section(sweep):
    cdir = CompareDir(sweep)
    species = pd.read_csv(cdir.file(CompareDir.SIMILARITY_SPECIES))
    assert set(species["metric"]) == {"cka", "rsa"} and set(species["area"]) == {"V1", "V2", "V4", "IT", "MT", "LIP"}
    assert set(species["condition"]) == {"gain"} and (species["n_runs_a"] == 2).all()
    assert species.loc[species["area"] == "LIP", "untrained"].all()
    assert not species.loc[species["area"] == "IT", "untrained"].any()
    assert species["sentence"].str.startswith(tuple(species["area"])).all()
    pairs = pd.read_csv(cdir.file(CompareDir.SIMILARITY_PAIRS))
    assert len(pairs) == 2 * 6 * 6  # metrics x areas x C(4, 2) pairs of runs
    runs = pd.read_csv(cdir.file(CompareDir.SIMILARITY_RUNS))
    assert list(runs["run"]) == ["human/gain/seed0", "human/gain/seed1", "mouse/gain/seed0", "mouse/gain/seed1"]
    assert (cdir.path / CompareDir.similarity_figure("species")).is_file()
    md = cdir.file(CompareDir.REPORT_MD).read_text()
    assert "## Representations" in md and "Untrained areas: LIP, MT" in md
    assert "similarity_species.png" in md
    # two seeds a species: Holm's p cannot fall below 0.05, so the null is said once per pair, not per area
    assert (species["p_holm_min"] >= 0.05).all() and species["sentence"].iloc[0] not in md
    assert md.count("(gain): human and mouse networks cannot be shown to differ") >= 2  # cka and rsa, at least


def test_nulls_no_data_could_turn_are_said_once_per_pair():
    from visualstreams.report.similarity import said_once

    rows = pd.DataFrame({"area": ["V1", "V2", "IT", "LIP", "V1", "V2"], "species_a": "human", "species_b": "mouse",
                         "condition": ["gain"] * 4 + ["none"] * 2, "untrained": [False] * 3 + [True, False, False],
                         "significant": [False, False, True, False, False, False],
                         "p_holm_min": [0.4, 0.4, 0.001, 0.001, 0.4, 0.4],
                         "sentence": ["s-V1", "s-V2", "s-IT", "s-LIP", "s-V1-none", "s-V2-none"]})
    sentences, flags = said_once(rows, "species")
    assert sentences[:2] == ["s-IT", "s-LIP"] and flags == [True, False, False, False]
    assert sentences[2].startswith("V1, V2 (gain): human and mouse networks cannot be shown to differ")
    assert sentences[3].startswith("V1, V2 (none): human and mouse")  # each mode its own sentence
    assert "cannot fall below 0.4" in sentences[2] and "(2 comparisons;" in sentences[2]
    untrained = said_once(rows.assign(p_holm_min=0.4, significant=False), "species")[0]
    assert any(s.startswith("LIP (gain):") and "untrained areas" in s for s in untrained)
    one = rows.assign(p_holm_min=[0.4, 0.001, 0.001, 0.001, 0.001, 0.001])
    assert said_once(one, "species") == (list(one["sentence"]), [False, False, True, False, False, False])


def test_same_seed_pairs_stay_out_of_the_between_species_pairs(sweep):
    species = pd.read_csv(CompareDir(sweep).file(CompareDir.SIMILARITY_SPECIES))
    assert (species["n_between_pairs"] == 2).all()  # of 2 x 2 human-mouse pairs, the two same-seed ones are out
    assert (species["n_within_pairs"] == 2).all()  # one pair of seeds per species


def test_the_cli_writes_the_tables_and_says_each_result(sweep, idx_dir, tmp_path, capsys):
    runs = [str(sweep / "human" / "seed0"), str(sweep / "mouse" / "seed0"), str(sweep / "mouse" / "seed1")]
    code = main(["similarity", *runs, "--images", "48", "--metric", "cka", "--areas", "V1", "IT",
                 "--out", str(tmp_path), "--data", str(idx_dir), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "3 runs, 2 areas (V1, IT), 48 probe images" in out
    table = pd.read_csv(tmp_path / CompareDir.SIMILARITY_SPECIES)
    assert list(table["area"]) == ["V1", "IT"] and (table["n_runs_b"] == 2).all()
    assert all(s in out for s in table["sentence"])


@pytest.mark.parametrize("args, message", [
    ([], "similarity needs run directories or --compare-dir DIR"),
    (["{sweep}/human/seed0", "--images", "97"], "--images must be between 4 and the test set's 96 images, got 97"),
    (["{sweep}/human/seed0", "{other}"], "the runs share no area by name"),
    (["{unfinished}"], "model.pt missing (the run did not finish)"),
    (["{sweep}/human/seed0", "--areas", "V9"], "area 'V9' is not in every run"),
    (["--compare-dir", "{tmp}"], "no summary.csv"),
    (["{sweep}/human/seed0", "--homology", "{tmp}/absent.json"], "no such homology file"),
])
def test_bad_input_is_one_line_and_exit_2(sweep, idx_dir, tmp_path, capsys, args, message):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    config = json.loads((sweep / "human" / "seed0" / "config.json").read_text())
    (unfinished / "config.json").write_text(json.dumps(config))
    (unfinished / "history.json").write_text("[]")
    other = tmp_path / "other"
    if "{other}" in args:
        cfg = vs.make_config(epochs=1, batch_size=32, precision="fp32")
        mouse_full = vs.Connectome.from_edges([("VISp", "VISl", 1.0), ("VISl", "VISal", 0.5)], name="tiny",
                                              extra={"input_area": "VISp", "heads": {"what": "VISl",
                                                                                      "where": "VISal"}})
        vs.train(mouse_full, cfg, data=synthetic_dataset(32, 96), out=other, progress=False)
    filled = [a.format(sweep=sweep, other=other, unfinished=unfinished, tmp=tmp_path) for a in args]
    images = [] if "--images" in filled else ["--images", "48"]
    code = main(["similarity", *filled, *images, "--data", str(idx_dir), "--quiet", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err


def test_the_presets_homology_renames_full_versions_only():
    assert preset_homology("marmoset-majka2020-full", vs.load_connectome("marmoset-majka2020-full").areas) == {
        "V5": "MT", "TEO": "IT"}
    mouse = preset_homology("mouse-oh2014-full", vs.load_connectome("mouse-oh2014-full").areas)
    assert mouse == {"VISp": "V1", "VISl": "V2", "VISpl": "V4", "VISal": "MT"}
    assert preset_homology("human", vs.load_connectome("human").areas) == {}


@pytest.mark.slow
def test_twins_keep_their_species_and_identical_networks_do_not_differ(tmp_path, idx_dir, one_thread):
    """Under `none` the notebook's human and marmoset are one network: marmoset's runs reuse human's, are labelled
    marmoset, and between-species similarity equals within-species similarity exactly."""
    cfg = vs.make_config(epochs=1, batch_size=32, precision="fp32")
    vs.compare(["human", "marmoset"], cfg, tmp_path, seeds=[0, 1], modes=["none"], data_path=idx_dir,
               progress=False, report=False)
    runs = pd.read_csv(tmp_path / CompareDir.SIMILARITY_RUNS)
    assert list(runs["species"]) == ["human", "human", "marmoset", "marmoset"]
    species = pd.read_csv(tmp_path / CompareDir.SIMILARITY_SPECIES)
    assert np.allclose(species["within"], species["between"], atol=1e-12) and not species["significant"].any()


def test_one_homology_map_serves_the_area_check_and_the_activations():
    from visualstreams.analysis.representations import homology_map

    areas = ["VISp", "VISl", "V4"]
    assert homology_map("x", areas, "name") == {}
    assert homology_map("x", areas, {"VISp": "V1", "V4": "V4", "TEpd": "IT"}) == {"VISp": "V1"}
    assert homology_map("mouse-oh2014-full", ["VISp", "VISl"], "presets") == {"VISp": "V1", "VISl": "V2"}
    with pytest.raises(vs.ConfigError, match="unknown homology 'heads'"):
        homology_map("x", areas, "heads")
