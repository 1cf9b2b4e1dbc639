"""Neural predictivity: stimuli as input, recordings in three formats, the ceiling, the exact shortcuts, the
known-answer recordings, ``visualstreams predict`` as a subprocess and ``compare --recordings``.

Thresholds of the known-answer tests (a macaque-markov2014 network trained 1 epoch on 3,000 Fashion-MNIST
images; 600 test items as 64 px colour PNGs; 30 single units per region, 10 repetitions):
measured with ridge at noise 0.3 (ceiling 0.991; scripts/brains_example.py, docs/brains.md): V1 units 0.922 from V1
vs 0.849 from IT; IT units 0.987 from IT vs 0.964 from V1; ceiled IT 0.98, V1 0.86. The tests ask for margins of
about half of those and ceiled scores a little below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from synthetic import striped_images, synthetic_dataset

import visualstreams as vs
from visualstreams.analysis.area_activations import row_space, stimulus_activations
from visualstreams.analysis.best_areas import best_areas, predictivity_tests
from visualstreams.analysis.ceiling import (
    halves_reliability,
    pearson_columns,
    spearman_brown,
    split_half_ceiling,
    stimulus_splits,
)
from visualstreams.analysis.predictivity import (
    PredictivityConfig,
    PredictivityResult,
    _fit_predict,
    _rotate,
    best_per_run,
    ceiled,
    score_kinds,
)
from visualstreams.data.recordings import Recordings, load_recordings, write_recordings
from visualstreams.data.stimuli import load_stimuli, place_stimulus, stimulus_pixels, write_stimulus_images
from visualstreams.runs import PredictDir
from visualstreams.testing import analytic_ceiling, known_answer_recordings

REAL_DATA = Path("/usr/share/datasets/fashion-mnist")
needs_real_data = pytest.mark.skipif(not REAL_DATA.is_dir(),
                                     reason="no Fashion-MNIST (apt-get install dataset-fashion-mnist)")


# -- stimuli ------------------------------------------------------------------------------------------------
def test_a_stimulus_covers_its_degrees_of_the_field_centred_on_black():
    im = Image.new("RGB", (64, 32), (200, 100, 50))  # wide, colour
    out = place_stimulus(im, size=28, channels=1, stimulus_degrees=4, field_degrees=8)
    assert out.shape == (1, 28, 28) and out.dtype == np.uint8
    assert stimulus_pixels(28, 4, 8) == 14
    rows, cols = np.nonzero(out[0])
    assert (cols.min(), cols.max()) == (7, 20) and (rows.min(), rows.max()) == (10, 16)  # 14 x 7, centred
    grey = round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)  # Pillow's L conversion
    assert abs(int(out[0, 13, 13]) - grey) <= 1
    big = place_stimulus(Image.new("L", (10, 10), 255), size=28, channels=3, stimulus_degrees=16, field_degrees=8)
    assert big.shape == (3, 28, 28) and big.min() == 255  # twice the field: cropped to it


def test_unreadable_and_missing_stimuli_are_refused_naming_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(vs.DataError, match="bad.png is not a readable image"):
        load_stimuli([bad], size=28, channels=1)
    with pytest.raises(vs.DataError, match="gone.png is missing"):
        load_stimuli([tmp_path / "gone.png"], size=28, channels=1)
    with pytest.raises(vs.ConfigError, match="stimulus degrees must be"):
        load_stimuli([], size=28, channels=1, stimulus_degrees=0)


# -- recordings ---------------------------------------------------------------------------------------------
def _signal_recordings(tmp_path: Path, n_stim: int = 60, n_neuroids: int = 12, reps: int = 4, noise: float = 0.5,
                       seed: int = 0) -> Recordings:
    images, labels = striped_images(n_stim, seed=seed)
    csv = write_stimulus_images(images, tmp_path / "stim", object_names=[f"c{k}" for k in labels])
    table = pd.read_csv(csv)
    table["path"] = [str(tmp_path / "stim" / f) for f in table.pop("filename")]
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((n_stim, n_neuroids))
    signal = (signal - signal.mean(0)) / signal.std(0)
    stim = np.repeat(np.arange(n_stim), reps)
    regions = np.array(["V1"] * (n_neuroids // 2) + ["IT"] * (n_neuroids - n_neuroids // 2))
    return Recordings(signal[stim] + noise * rng.standard_normal((len(stim), n_neuroids)),
                      table["stimulus_id"].to_numpy()[stim], np.tile(np.arange(reps), n_stim), regions,
                      np.array([f"n{i}" for i in range(n_neuroids)]), table, source="test")


@pytest.mark.parametrize("suffix", [".nc", ".npz", ".csv"])
def test_recordings_round_trip_through_each_format(tmp_path, suffix):
    rec = _signal_recordings(tmp_path)
    path = write_recordings(rec, tmp_path / f"rec{suffix}")
    back = load_recordings(path)
    np.testing.assert_allclose(back.responses, rec.responses, rtol=1e-6)
    assert list(back.stimulus_id) == list(rec.stimulus_id) and list(back.region) == list(rec.region)
    assert list(back.repetition) == list(rec.repetition)
    assert back.stimulus_ids == rec.stimulus_ids and "object_name" in back.stimuli
    assert back.info()["neuroids"] == {"V1": 6, "IT": 6}


def test_a_brainio_assembly_with_image_id_and_time_bins_reads(tmp_path):
    xr = pytest.importorskip("xarray")
    rec = _signal_recordings(tmp_path, n_stim=20, reps=3)
    table = rec.stimuli.rename(columns={"stimulus_id": "image_id"})
    table["image_file_name"] = [Path(p).name for p in table.pop("path")]
    table.to_csv(tmp_path / "stim" / "assembly_stimuli.csv", index=False)
    values = np.stack([rec.responses, 2 * rec.responses], axis=2)  # two time bins
    da = xr.DataArray(values, dims=("presentation", "neuroid", "time_bin"),
                      coords={"image_id": ("presentation", rec.stimulus_id),
                              "repetition": ("presentation", rec.repetition),
                              "region": ("neuroid", rec.region), "neuroid_id": ("neuroid", rec.neuroid_id),
                              "time_bin_start": ("time_bin", [70, 170]), "time_bin_end": ("time_bin", [170, 270])})
    da.to_netcdf(tmp_path / "stim" / "assembly.nc")
    back = load_recordings(tmp_path / "stim" / "assembly.nc")
    assert back.time_bins == [(70.0, 170.0), (170.0, 270.0)]
    np.testing.assert_allclose(back.over_time(), 1.5 * rec.responses, rtol=1e-6)
    np.testing.assert_allclose(back.over_time(1), 2 * rec.responses, rtol=1e-6)


def test_bad_recordings_are_refused_in_one_line(tmp_path):
    rec = _signal_recordings(tmp_path, n_stim=20)
    nan = rec.responses.copy()
    nan[3, 2] = np.nan
    with pytest.raises(vs.DataError, match="1 NaN or infinite responses"):
        Recordings(nan, rec.stimulus_id, rec.repetition, rec.region, rec.neuroid_id, rec.stimuli)
    path = write_recordings(rec, tmp_path / "rec.npz")
    table = pd.read_csv(tmp_path / "rec_stimuli.csv")
    table.iloc[:-1].to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(vs.DataError, match="has no image in the stimulus table"):
        load_recordings(path, stimuli=tmp_path / "short.csv")
    (tmp_path / "stim" / "stim00004.png").unlink()
    with pytest.raises(vs.DataError, match=r"stim00004.png is missing \(stimulus id 'stim00004'"):
        load_recordings(path)
    with pytest.raises(vs.ConfigError, match="unknown format .h5"):
        load_recordings(tmp_path / "rec.h5")
    with pytest.raises(vs.ConfigError, match="region 'V4' is not in the recordings"):
        rec.select_regions(["V4"])
    once = Recordings(rec.responses[::4], rec.stimulus_id[::4], rec.repetition[::4], rec.region, rec.neuroid_id,
                      rec.stimuli)
    with pytest.raises(vs.ConfigError, match="fewer than two repetitions"):
        split_half_ceiling(once)


# -- the ceiling and the exact shortcuts --------------------------------------------------------------------
@pytest.mark.parametrize("noise,reps", [(0.5, 4), (1.0, 10), (2.0, 6), (2.0, 5), (1.5, 3)])
def test_the_split_half_ceiling_matches_the_noise_set(tmp_path, noise, reps):
    rec = _signal_recordings(tmp_path, n_stim=400, n_neuroids=40, reps=reps, noise=noise)
    table, per_neuroid = split_half_ceiling(rec, n_splits=10)
    ceiling = table.groupby("region")["ceiling"].mean()
    assert np.allclose(ceiling, analytic_ceiling(noise, reps), atol=0.03), (ceiling, analytic_ceiling(noise, reps))
    assert per_neuroid.shape == (40,)


@pytest.mark.parametrize("method", ["pls", "ridge"])
def test_rotated_targets_and_the_row_space_give_the_same_predictions(method):
    """The two shortcuts are exact: targets rotated onto their training singular vectors (more neuroids than
    stimuli), and features reduced to the stimuli's row space (more features than stimuli)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 300)).astype(np.float32)
    y = (x[:, :5] @ rng.standard_normal((5, 90)) + rng.standard_normal((40, 90))).astype(np.float32)
    train, test = np.arange(30), np.arange(30, 40)
    cfg = PredictivityConfig(method=method, n_components=5)
    rotated = _rotate(y[train], seed=0)
    assert rotated.rotated.shape == (30, 30)  # 90 neuroids, 30 training stimuli
    identity = type(rotated)(y[train], np.eye(90, dtype=np.float32), rotated.alpha_columns)
    direct, a1 = _fit_predict(x[train], identity, y[train], x[test], cfg)
    fast, a2 = _fit_predict(x[train], rotated, y[train], x[test], cfg)
    np.testing.assert_allclose(fast, direct, atol=2e-3 * np.abs(direct).max())
    reduced = row_space(x)
    assert reduced.shape == (40, 40)
    via_rows, a3 = _fit_predict(reduced[train], rotated, y[train], reduced[test], cfg)
    np.testing.assert_allclose(via_rows, direct, atol=2e-3 * np.abs(direct).max())
    if method == "ridge":
        assert a1 == a2 == pytest.approx(a3)  # the penalty chosen is the same too


def test_an_odd_number_of_repetitions_is_corrected_to_all_of_them():
    """R = 5, single-repetition reliability 0.5: the 5-repetition mean's is 5 x 0.5 / (1 + 4 x 0.5) = 0.833; halves
    of 2 and 3 correlate as sqrt(0.667 x 0.75) = 0.707. Spearman-Brown with n = 2 from equal halves of 2 gives
    0.800 (the reliability of 4); the correction from the halves of 2 and 3 gives 0.833."""
    rho = 0.5
    rel = {k: k * rho / (1 + (k - 1) * rho) for k in (2, 3, 5)}
    r = np.sqrt(rel[2] * rel[3])
    assert halves_reliability(np.array([r]), 2, 3, 5)[0] == pytest.approx(rel[5], abs=1e-12)
    assert halves_reliability(np.array([rel[2]]), 2, 2, 4)[0] == pytest.approx(spearman_brown(rel[2]), abs=1e-12)
    assert spearman_brown(rel[2]) == pytest.approx(0.8)  # what equal halves of 2 gave before
    assert halves_reliability(np.array([-r]), 2, 3, 5)[0] == pytest.approx(-rel[5])  # the sign is kept


def brainscore_splits(ids, objects, n_splits=10, train_size=0.9, seed=1):
    """Brain-Score's procedure (brainscore_vision.metric_helpers.transformations.Split with its defaults), written
    out: the benchmark's assembly, averaged over repetitions, lists the stimuli sorted by id; a
    StratifiedShuffleSplit over them by object_name, seed 1. Returns each split's test ids, as sets."""
    from sklearn.model_selection import StratifiedShuffleSplit

    order = np.argsort(np.asarray(ids).astype(str), kind="stable")
    sorted_ids = np.asarray(ids)[order]
    split = StratifiedShuffleSplit(n_splits=n_splits, train_size=train_size, random_state=seed)
    return [set(sorted_ids[test]) for _, test in split.split(np.zeros(len(ids)), np.asarray(objects)[order])]


def test_splits_are_brainscores_whatever_order_the_table_lists_the_stimuli_in():
    rng = np.random.default_rng(4)
    ids = np.array([f"img{i:03d}" for i in rng.permutation(60)])  # a table in no particular order
    objects = np.array([f"o{int(i[3:]) % 6}" for i in ids])
    want = brainscore_splits(ids, objects)
    got = [set(ids[test]) for _, test in stimulus_splits(60, 10, 0.9, 1, list(objects), ids=ids)]
    assert got == want
    unsorted = [set(ids[test]) for _, test in stimulus_splits(60, 10, 0.9, 1, list(objects))]
    assert sum(a == b for a, b in zip(unsorted, want, strict=True)) < 10  # the table's order drew other test sets


def test_a_split_that_cannot_be_stratified_says_so():
    notes: list[str] = []
    objects = ["a", "a", "b"] + [f"c{i % 3}" for i in range(37)]
    stimulus_splits(40, 5, 0.9, 1, objects, notes=notes)
    assert notes == ["splits are not stratified by object_name: object 'b' has a single stimulus"]


def test_splits_stratify_by_object_and_are_seeded():
    objects = [f"o{i % 5}" for i in range(50)]
    a = stimulus_splits(50, 10, 0.9, 1, objects)
    b = stimulus_splits(50, 10, 0.9, 1, objects)
    assert len(a) == 10 and all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    for train, test in a:
        assert len(test) == 5 and sorted(objects[i] for i in test) == [f"o{k}" for k in range(5)]
        assert not set(train) & set(test)
    with pytest.raises(vs.ConfigError, match="fewer than 3"):
        stimulus_splits(4, 10, 0.5)


# -- networks ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recurrent_run(tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("rec") / "run"
    cfg = vs.make_config(epochs=1, batch_size=32, precision="fp32", steps=2)
    vs.train("macaque-markov2014", cfg, data=synthetic_dataset(64, 32), out=out, progress=False)
    return out


def test_a_recurrent_network_is_scored_at_every_step(recurrent_run, tmp_path):
    images = np.zeros((5, 1, 28, 28), dtype=np.uint8)
    images[:, :, 10:18, 5:20] = np.arange(5)[:, None, None, None] * 50
    acts = stimulus_activations(recurrent_run, images, areas=["V1", "IT@t1"])
    assert list(acts.acts) == ["V1@t0", "V1@t1", "IT@t1"] and acts.steps == 2
    assert acts.step_of["IT@t1"] == 1 and acts.area_of["V1@t0"] == "V1"
    assert acts.reduction["V1@t0"] == "row space" and acts.acts["V1@t0"].shape == (5, 5)
    with pytest.raises(vs.ConfigError, match="no area 'PFC'"):
        stimulus_activations(recurrent_run, images, areas=["PFC"])
    rec = _signal_recordings(tmp_path, n_stim=40, reps=2)
    result = vs.neural_predictivity([recurrent_run], rec, config=PredictivityConfig(n_splits=2, similarity=False),
                                    areas=["IT"], progress=False)
    assert set(result.summary["name"]) == {"IT@t0", "IT@t1"} and set(result.summary["step"]) == {0, 1}


@pytest.fixture(scope="module")
def known(tmp_path_factory, one_thread):
    """A macaque network trained briefly on Fashion-MNIST, 600 test items as colour stimuli, and its units."""
    if not REAL_DATA.is_dir():
        pytest.skip("no Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    root = tmp_path_factory.mktemp("known")
    data = vs.load_fashion_mnist(REAL_DATA)
    cfg = vs.make_config(epochs=1, batch_size=64, train_subset=3000, precision="fp32")
    vs.train("macaque-markov2014", cfg, data=data, out=root / "run", progress=False)
    labels = data.test_labels[:600].numpy()
    write_stimulus_images(data.test_images[:600].numpy(), root / "stim", object_names=[str(k) for k in labels],
                          size=64, tint=(1.0, 0.8, 0.6))
    table = pd.read_csv(root / "stim" / "stimuli.csv")
    table["path"] = [str(root / "stim" / f) for f in table.pop("filename")]
    return root, table


@pytest.mark.slow
@needs_real_data
def test_known_answer_recordings_rank_the_generating_area_and_reach_their_ceiling(known):
    root, table = known
    rec = known_answer_recordings(root / "run", table, noise=0.3, repetitions=10, n_neuroids=30)
    result = vs.neural_predictivity([root / "run"], rec, config=PredictivityConfig(method="ridge"), progress=False)
    r = result.summary.set_index(["name", "region"])["r"]
    ceiling = result.ceilings.set_index("region")["ceiling"]
    assert np.allclose(ceiling, analytic_ceiling(0.3, 10), atol=0.01)
    assert r["V1", "V1"] - r["IT", "V1"] > 0.05  # measured 0.073
    assert r["IT", "IT"] - r["V1", "IT"] > 0.01  # measured 0.023
    best = result.best.set_index("region")["best"]
    assert best["V1"] == "V1" and best["IT"] == "IT"
    ceiled = result.summary.set_index(["name", "region"])["ceiled"]
    assert ceiled["IT", "IT"] > 0.9 and ceiled["V1", "V1"] > 0.75
    sims = result.similarity.pivot_table(index=["name", "region"], columns="metric", values="value")
    assert sims.loc[("V1", "V1"), "cka"] > sims.loc[("IT", "V1"), "cka"]  # the second view agrees


@pytest.mark.slow
@needs_real_data
def test_recordings_of_pure_noise_score_near_zero_and_say_the_ceiling_is_too_low(known):
    root, table = known
    rec = known_answer_recordings(root / "run", table.iloc[:300], noise=0.3, repetitions=4, n_neuroids=30)
    rng = np.random.default_rng(1)
    noise = Recordings(rng.standard_normal(rec.responses.shape), rec.stimulus_id, rec.repetition, rec.region,
                       rec.neuroid_id, rec.stimuli)
    result = vs.neural_predictivity([root / "run"], noise, config=PredictivityConfig(method="pls", similarity=False),
                                    areas=["V1", "IT"], progress=False)
    assert result.summary["r"].abs().max() < 0.1
    assert result.summary["ceiled"].isna().all()
    assert sum("too low to interpret" in n for n in result.notes) == 2


@pytest.mark.slow
@needs_real_data
def test_predict_cli_writes_its_tables_and_refuses_bad_input_in_one_line(known, tmp_path):
    root, table = known
    rec = known_answer_recordings(root / "run", table.iloc[:200], noise=0.5, repetitions=4, n_neuroids=10)
    path = write_recordings(rec, tmp_path / "rec" / "known.npz")
    cmd = [sys.executable, "-m", "visualstreams", "predict", str(root / "run"), "--recordings", str(path),
           "--splits", "3", "--method", "ridge", "--quiet"]
    done = subprocess.run([*cmd, "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # Which area wins V1 on these 3 held-out splits (V1, or its neighbour V2 within 0.02) depends on the CPU's
    # training numerics; the known-answer ordering is test_known_answer_recordings_rank_the_generating_area's
    assert "V1: best area V" in done.stdout and "ceilings: V1" in done.stdout, done.stdout
    for name in PredictDir.OUTPUTS:
        assert (tmp_path / "out" / name).is_file(), name
    record = json.loads((tmp_path / "out" / PredictDir.CONFIG).read_text())
    assert record["config"]["n_splits"] == 3 and record["recordings_file"] == str(path)
    assert "## Best area per region" in (tmp_path / "out" / PredictDir.REPORT).read_text()
    for extra, message in ((["--regions", "V4"], "region 'V4' is not in the recordings"),
                           (["--areas", "PFC"], "no area 'PFC'"),
                           (["--train-fraction", "1.5"], "train fraction must be between 0 and 1")):
        bad = subprocess.run([*cmd, *extra, "--out", str(tmp_path / "bad")], capture_output=True, text=True,
                             timeout=300)
        assert bad.returncode == 2 and message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
        assert not any((tmp_path / "bad").glob("predictivity*"))


@pytest.mark.slow
def test_compare_with_recordings_scores_species_across_seeds_and_reports_it(tmp_path, one_thread):
    rec = _signal_recordings(tmp_path, n_stim=60, n_neuroids=8, reps=3)
    path = write_recordings(rec, tmp_path / "rec.npz")
    out = tmp_path / "cmp"
    cfg = vs.make_config(epochs=1, batch_size=32, precision="fp32")
    vs.compare(["human", "mouse"], cfg, out, seeds=[0, 1], data=synthetic_dataset(64, 32), recordings=path,
               predictivity=PredictivityConfig(n_splits=3, similarity=False), similarity=False, progress=False)
    stats = pd.read_csv(out / PredictDir.STATS)
    assert set(stats["species"]) == {"human", "mouse"} and (stats["n"] == 2).all()
    tests = pd.read_csv(out / PredictDir.TESTS)
    assert set(tests["compared"]) == {"species"} and tests["p_holm"].ge(tests["p"]).all()
    assert "## Neural predictivity" in (out / "report.md").read_text()
    record = json.loads((out / PredictDir.CONFIG).read_text())  # where the recordings came from, as predict's
    assert record["recordings_file"] == str(path) and record["response_window_ms"] is None
    with pytest.raises(vs.DataError, match="not found"):  # refused before anything trains
        vs.compare(["human"], cfg, tmp_path / "never", data=synthetic_dataset(64, 32),
                   recordings=tmp_path / "absent.npz")
    assert not (tmp_path / "never").exists()


def test_cross_similarity_is_rsa_and_cka_pair_by_pair():
    from visualstreams.analysis.similarity import cross_similarity

    rng = np.random.default_rng(3)
    a = [rng.standard_normal((30, 20)), rng.standard_normal((30, 50))]
    b = [a[0] @ rng.standard_normal((20, 5)), rng.standard_normal((30, 8))]
    mats = cross_similarity(a, b, ("rsa", "cka"))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert mats["rsa"][i, j] == pytest.approx(vs.rsa(x, y), abs=1e-10)
            assert mats["cka"][i, j] == pytest.approx(vs.cka(x, y), abs=1e-10)


@pytest.mark.slow
@needs_real_data
def test_one_reliable_and_one_noise_region_each_get_their_own_score_through_the_cli(known, tmp_path):
    """A region whose ceiling allows it is ceiled, one of pure noise reads r: before, any ceiling switched every
    region to ceiled and the noise region's NaNs ended predict in a traceback (exit 1)."""
    root, table = known
    rec = known_answer_recordings(root / "run", table.iloc[:200], noise=0.5, repetitions=4, n_neuroids=10)
    responses = rec.responses.copy()
    it = np.asarray(rec.region) == "IT"
    responses[:, it] = np.random.default_rng(2).standard_normal((len(responses), int(it.sum())))
    mixed = Recordings(responses, rec.stimulus_id, rec.repetition, rec.region, rec.neuroid_id, rec.stimuli)
    path = write_recordings(mixed, tmp_path / "rec" / "mixed.npz")
    done = subprocess.run([sys.executable, "-m", "visualstreams", "predict", str(root / "run"), "--recordings",
                           str(path), "--splits", "3", "--method", "ridge", "--quiet", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    v1_line = next(line for line in done.stdout.splitlines() if "V1: best area" in line)  # V1 or V2: see above
    assert ", ceiled " in v1_line and "IT: best area" in done.stdout, done.stdout
    it_line = next(line for line in done.stdout.splitlines() if "IT: best area" in line)
    assert ", r " in it_line and "ceiled" not in it_line, it_line


def test_the_score_is_chosen_region_by_region():
    summary = pd.DataFrame({"region": ["V1", "V1", "IT", "IT"], "r": [0.5, 0.4, 0.01, -0.02],
                            "ceiled": [0.8, 0.6, np.nan, np.nan]})
    assert score_kinds(summary) == {"V1": "ceiled", "IT": "r"}


@pytest.mark.slow
@needs_real_data
def test_each_region_is_fitted_alone_as_brainscore_does_and_joint_fitting_is_an_option(known):
    """PLS (25 components, scale=False) fitted to one region's neuroids on Brain-Score's splits, written out here
    with scikit-learn on the run's own activations, is what predict reports per region by default; fitting every
    region at once (fit="joint", the behaviour before 0.2) shares the components and moves the numbers."""
    from sklearn.cross_decomposition import PLSRegression

    root, table = known
    rec = known_answer_recordings(root / "run", table.iloc[:200], noise=0.5, repetitions=4, n_neuroids=20)
    cfg = PredictivityConfig(method="pls", ceiling=False, similarity=False, n_splits=3)
    result = vs.neural_predictivity([root / "run"], rec, config=cfg, areas=["V4"], progress=False)
    paths = list(rec.stimuli["path"])
    acts = stimulus_activations(root / "run", lambda size, ch: load_stimuli(paths, size=size, channels=ch),
                                areas=["V4"]).acts["V4"]
    y = rec.averaged()
    objects = rec.stimuli["object_name"].to_numpy()
    ids = np.asarray(rec.stimulus_ids)
    test_sets = brainscore_splits(ids, objects, n_splits=3)
    for region in ("V1", "IT"):
        cols = np.asarray(rec.region) == region
        per_split = []
        for test_ids in test_sets:
            test = np.isin(ids, list(test_ids))
            pls = PLSRegression(n_components=25, scale=False).fit(acts[~test], y[~test][:, cols])
            per_split.append(np.median(pearson_columns(pls.predict(acts[test]), y[test][:, cols])))
        got = result.summary.set_index(["name", "region"]).loc[("V4", region), "r"]
        assert got == pytest.approx(np.mean(per_split), abs=2e-4)
    joint = vs.neural_predictivity([root / "run"], rec, config=PredictivityConfig(
        method="pls", ceiling=False, similarity=False, n_splits=3, fit="joint"), areas=["V4"], progress=False)
    moved = (joint.summary.set_index(["name", "region"])["r"] - result.summary.set_index(["name", "region"])["r"])
    assert moved.abs().max() > 1e-3  # shared components are another fit


def _hand_result(r_of, n_splits: int = 4) -> PredictivityResult:
    """A predictivity result written by hand: species "m", conditions gain (one step) and gain-T2 (two steps), three
    seeds each, region IT with ceiling 0.5; ``r_of(condition, name, seed, split)`` gives each split's r."""
    runs, scores = [], []
    for condition, steps in (("gain", 1), ("gain-T2", 2)):
        names = ["IT"] if steps == 1 else ["IT@t0", "IT@t1"]
        for seed in range(3):
            run = f"{condition}-{seed}"
            runs.append({"run": run, "species": "m", "condition": condition, "seed": seed, "steps": steps})
            for name in names:
                for k in range(n_splits):
                    scores.append({"run": run, "name": name, "area": "IT", "step": int(name[-1]) if "@" in name else 0,
                                   "region": "IT", "split": k, "r": r_of(condition, name, seed, k)})
    runs_df, scores_df = pd.DataFrame(runs), pd.DataFrame(scores)
    summary = (scores_df.groupby(["run", "name", "area", "step", "region"], sort=False)
               .agg(r=("r", "mean")).reset_index().assign(ceiling=0.5))
    summary["ceiled"] = np.sign(summary["r"]) * summary["r"] ** 2 / 0.5
    summary = runs_df.merge(summary, on="run")
    best = best_per_run(scores_df, summary)
    return PredictivityResult(runs_df, scores_df, summary, pd.DataFrame(), pd.DataFrame(), best,
                              PredictivityConfig(), {}, [])


def test_one_step_and_recurrent_runs_are_compared_area_by_area_at_a_stated_step():
    """gain's IT at 0.4; gain-T2's IT at 0.3 at step 0 and 0.6 at its last step (+ a seed's jitter): compared at
    the last step, the recurrent network's IT is higher; its best step, chosen on the even splits and scored on the
    odd ones, is the last too. Before 0.2 "IT" and "IT@t1" never met, and no condition test came out."""
    def r_of(condition, name, seed, k):
        base = 0.4 if condition == "gain" else (0.3 if name.endswith("t0") else 0.6)
        return base + 0.01 * seed + 0.002 * k

    _, tests = predictivity_tests(_hand_result(r_of))
    conditions = tests[tests["compared"] == "condition"].set_index("correspondence")
    assert set(conditions.index) == {"last step", "best step"} and set(conditions["name"]) == {"IT"}
    for how in ("last step", "best step"):
        row = conditions.loc[how]
        assert row["significant"] and "at its " + how in row["sentence"]
    # the last step read over every split: 0.6 + 0.003 against 0.4 + 0.003, ceiled r^2 / 0.5
    diff = conditions.loc["last step", "diff"]
    assert abs(diff) == pytest.approx((0.6 ** 2 - 0.4 ** 2) / 0.5, abs=0.02)


def test_the_best_area_is_chosen_on_some_splits_and_scored_on_others():
    """Two names of equal true r; noise makes one win on the even splits. Its reported r is its mean on the odd
    splits, not the maximum of the means it was chosen by (which would be biased upward)."""
    def r_of(condition, name, seed, k):
        if condition == "gain":
            return 0.5
        lucky = name.endswith("t1")
        return 0.5 + (0.1 if (lucky and k % 2 == 0) else 0.0)  # t1 looks better on the choosing splits only

    result = _hand_result(r_of)
    best = result.best.set_index("run")
    assert best.loc["gain-T2-0", "best"] == "IT@t1"  # chosen on the even splits
    assert best.loc["gain-T2-0", "r"] == pytest.approx(0.5)  # scored on the odd ones: no lift
    groups = best_areas(result).set_index("condition")
    assert groups.loc["gain-T2", "mean"] == pytest.approx(0.5 ** 2 / 0.5)  # ceiled from the odd splits' r


def test_a_negative_correlation_is_negative_explained_variance():
    assert ceiled(-0.3, 0.5) == pytest.approx(-0.18)
    assert ceiled(np.array([0.2, -0.4]), 1.0).tolist() == pytest.approx([0.04, -0.16])


def test_the_background_around_small_stimuli_is_a_stated_option(tmp_path):
    with pytest.raises(vs.ConfigError, match="background must be a grey level 0-255"):
        PredictivityConfig(background=300)
    img = Image.new("L", (10, 10), 255)
    black = place_stimulus(img, size=28, channels=1, stimulus_degrees=4.0, field_degrees=8.0)
    grey = place_stimulus(img, size=28, channels=1, stimulus_degrees=4.0, field_degrees=8.0,
                          background=PredictivityConfig(background=128).background)
    assert black[0, 0, 0] == 0 and grey[0, 0, 0] == 128 and grey[0, 14, 14] == black[0, 14, 14] == 255


@pytest.mark.slow
@needs_real_data
def test_rsa_and_cka_are_computed_on_the_full_activations_not_the_reduced_ones(known):
    """V4 has 6,272 features: the regression reads 200 row-space coordinates; RSA (correlation RDMs) and CKA read its
    full activations, so they equal the package's rsa and cka on those exactly (RSA on the row-space coordinates
    would not: their correlation over features is another one)."""
    root, table = known
    rec = known_answer_recordings(root / "run", table.iloc[:200], noise=0.5, repetitions=4, n_neuroids=20)
    cfg = PredictivityConfig(method="ridge", ceiling=False, n_splits=2)
    result = vs.neural_predictivity([root / "run"], rec, config=cfg, areas=["V4"], progress=False)
    assert any("RSA and CKA computed on every area's full activations" in n for n in result.notes)
    paths = list(rec.stimuli["path"])
    full = stimulus_activations(root / "run", lambda size, ch: load_stimuli(paths, size=size, channels=ch),
                                areas=["V4"], max_features=10**9)
    assert full.reduction["V4"] == "none" and full.acts["V4"].shape == (200, 6272)
    y = rec.averaged()
    sims = result.similarity.set_index(["name", "region", "metric"])["value"]
    for region in ("V1", "IT"):
        cols = np.asarray(rec.region) == region
        assert sims["V4", region, "rsa"] == pytest.approx(vs.rsa(full.acts["V4"], y[:, cols]), abs=1e-9)
        assert sims["V4", region, "cka"] == pytest.approx(vs.cka(full.acts["V4"], y[:, cols]), abs=1e-9)
    reduced = stimulus_activations(root / "run", lambda size, ch: load_stimuli(paths, size=size, channels=ch),
                                   areas=["V4"]).acts["V4"]
    assert abs(vs.rsa(reduced, y[:, np.asarray(rec.region) == "V1"]) - sims["V4", "V1", "rsa"]) > 1e-6
