"""Recordings as their sources publish them: Allen Brain Observatory sessions (NWB 1.0 written with h5py at
AllenSDK's paths, NWB 2.0 written with pynwb as the DANDI release lays it out), Brain-Score assemblies in a brainio
cache (xarray's NetCDF, a stimulus-set CSV and zip), Sensorium-style folders (numpy's .npy). Each file is written
here with a planted answer (visualstreams.testing.published); the readers must give it back, refuse what is
broken in one line, and score the same as the same data converted to the NetCDF form."""

from __future__ import annotations

import math
import subprocess
import sys

import h5py
import numpy as np
import pytest
from synthetic import synthetic_dataset

import visualstreams as vs
from visualstreams.analysis.predictivity import PredictivityConfig
from visualstreams.data import allen
from visualstreams.data.recordings import is_recordings, load_recordings, write_recordings
from visualstreams.errors import ConfigError, DataError
from visualstreams.testing import (
    plant_session,
    write_allen_nwb1,
    write_allen_nwb2,
    write_brainio_cache,
    write_sensorium_folder,
)

pytest.importorskip("pynwb")


def planted_rows(p) -> tuple[np.ndarray, np.ndarray]:
    """The planted responses in the reader's order: by image, then repetition; blanks left out."""
    shown = p.image >= 0
    k = np.zeros(len(p.image), dtype=int)
    for i in np.unique(p.image[shown]):
        k[p.image == i] = np.arange((p.image == i).sum())
    order = np.lexsort((k[shown], p.image[shown]))
    return p.image[shown][order], p.responses[shown][order]


# -- Allen Brain Observatory ------------------------------------------------------------------------------
def test_the_stimuli_span_the_degrees_allensdks_monitor_geometry_gives():
    # AllenSDK stimulus_info.py: 1920 x 1200 px, 61.214 cm diagonal, 15 cm away; templates 918 x 1174 px
    width_cm = 61.214 / math.sqrt(1 + (1200 / 1920) ** 2)  # 51.909 cm
    assert allen.pixels_to_degrees(1174) == pytest.approx(1174 * width_cm / 1920 / 15 * 57.2958, rel=1e-5)
    assert allen.NATURAL_SCENES_DEGREES == 121.2


@pytest.mark.parametrize("form", ["nwb1", "nwb2"])
def test_an_allen_session_gives_back_every_planted_response(tmp_path, form):
    path = tmp_path / "501271265.nwb"
    p = (write_allen_nwb1 if form == "nwb1" else write_allen_nwb2)(path, area="VISal", noise=0.2, seed=3)
    rec = load_recordings(path)
    image, responses = planted_rows(p)
    assert rec.responses.shape == responses.shape  # blanks left out, every repetition kept
    np.testing.assert_allclose(rec.responses, responses, atol=1e-6)
    assert list(rec.stimulus_id) == [f"natural_scene_{i}" for i in image]
    assert set(rec.region) == {"VISal"} and len(rec.neuroid_id) == len(p.cells)
    assert str(p.cells[0]) in rec.neuroid_id[0]
    assert np.array_equal(rec.images, p.templates) and rec.stimulus_degrees == 121.2
    assert rec.repetitions().tolist() == [10] * 6 and rec.notes == ()


def test_the_response_window_is_stated_and_a_window_without_a_frame_is_refused(tmp_path):
    path = tmp_path / "s.nwb"
    p = write_allen_nwb1(path, seed=1)
    late = load_recordings(path, window_ms=(267.0, 500.0))  # the next presentation's frames
    _, responses = planted_rows(p)
    assert not np.allclose(late.responses, responses)
    with pytest.raises(DataError, match="holds no imaging frame"):
        load_recordings(path, window_ms=(1.0, 2.0))
    with pytest.raises(ConfigError, match="Allen sessions"):
        load_recordings(tmp_path / "r.nc", window_ms=(0.0, 250.0))


def test_the_dandi_conversions_blank_sweeps_stored_as_image_0_leave_image_0_out(tmp_path):
    path = tmp_path / "dandi.nwb"
    p = write_allen_nwb2(path, blanks_as_zero=True, blanks=10, seed=2)
    rec = load_recordings(path)
    assert "natural_scene_0" not in rec.stimulus_ids and len(rec.stimulus_ids) == 5
    assert "image 0 has 20 presentations" in rec.notes[0]
    image, responses = planted_rows(p)
    np.testing.assert_allclose(rec.responses, responses[image != 0], atol=1e-6)


def test_a_folder_of_sessions_is_one_population_with_the_repetitions_every_session_has(tmp_path):
    templates = plant_session(seed=0).templates
    a = write_allen_nwb1(tmp_path / "a.nwb", area="VISp", templates=templates, repetitions=10, seed=4)
    b = write_allen_nwb2(tmp_path / "b.nwb", area="VISl", templates=templates, repetitions=8, seed=5)
    rec = load_recordings(tmp_path)
    assert rec.regions == ["VISp", "VISl"] and rec.responses.shape == (6 * 8, 2 * len(a.cells))
    assert rec.repetitions().tolist() == [8] * 6 and "12 presentations beyond" in rec.notes[0]
    _, first = planted_rows(b)
    np.testing.assert_allclose(rec.responses[:, len(a.cells):], first, atol=1e-6)
    write_allen_nwb1(tmp_path / "c.nwb", seed=9)  # other templates: not one experiment
    with pytest.raises(DataError, match="templates differ"):
        load_recordings(tmp_path)


def test_broken_allen_files_are_refused_in_one_line_naming_the_file(tmp_path):
    path = tmp_path / "a.nwb"
    write_allen_nwb1(path)
    with h5py.File(path, "a") as f:
        del f["stimulus/presentation/natural_scenes_stimulus"]
    with pytest.raises(DataError, match=r"a\.nwb: no natural scenes"):
        load_recordings(path)
    (tmp_path / "b.nwb").write_text("not hdf5")
    with pytest.raises(DataError, match=r"b\.nwb: not a readable NWB"):
        load_recordings(tmp_path / "b.nwb")
    with h5py.File(tmp_path / "c.nwb", "w") as f:
        f["nwb_version"] = np.bytes_("NWB-1.0.5")
        f["general/optophysiology/imaging_plane_1/location"] = np.bytes_("VISp")
    with pytest.raises(DataError, match="lacks processing/brain_observatory_pipeline/DfOverF"):
        load_recordings(tmp_path / "c.nwb")


# -- brainio ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("identifier", ["MajajHong2015.public", "dicarlo.MajajHong2015.public"])
def test_a_brainio_assembly_is_found_in_the_cache_and_joined_to_its_zipped_stimulus_set(tmp_path, monkeypatch,
                                                                                        identifier):
    signal, images = write_brainio_cache(tmp_path / "cache", noise=0.0)
    monkeypatch.setenv("BRAINIO_HOME", str(tmp_path / "cache"))
    rec = load_recordings(f"brainio:{identifier}")
    assert rec.regions == ["V4", "IT"] and rec.time_bins == [(70.0, 120.0), (120.0, 170.0)]
    assert rec.repetitions().tolist() == [4] * 12 and rec.stimulus_degrees == 8.0
    np.testing.assert_allclose(rec.averaged(0), signal, atol=1e-6)  # stored neuroid x presentation: transposed
    assert np.array_equal(rec.images, images) and "object_name" in rec.stimuli
    assert not list((tmp_path / "cache").glob("image_*/*.png"))  # read from the zip, nothing unzipped


def test_brainio_files_given_directly_and_an_unzipped_set_read_the_same(tmp_path, monkeypatch):
    write_brainio_cache(tmp_path / "cache", unzipped=True)
    monkeypatch.setenv("BRAINIO_HOME", str(tmp_path / "cache"))
    by_id = load_recordings("brainio:MajajHong2015.public")
    nc = tmp_path / "cache" / "assy_dicarlo_MajajHong2015_public" / "assy_dicarlo_MajajHong2015_public.nc"
    by_file = load_recordings(nc)  # its stimulus set found by the identifier the assembly names
    assert by_id.images is None and by_file.images is None  # the unzipped files are read as files
    np.testing.assert_array_equal(by_id.responses, by_file.responses)
    assert list(by_id.stimuli["path"]) == list(by_file.stimuli["path"])


def test_an_identifier_not_in_the_cache_is_refused_naming_the_cache(tmp_path, monkeypatch):
    write_brainio_cache(tmp_path / "cache")
    monkeypatch.setenv("BRAINIO_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"'FreemanZiemba2013.public' is not in the cache .*BRAINIO_HOME"):
        load_recordings("brainio:FreemanZiemba2013.public")


# -- Sensorium --------------------------------------------------------------------------------------------
def test_a_sensorium_folder_keeps_repeated_images_and_leaves_withheld_trials_out(tmp_path):
    signal, images = write_sensorium_folder(tmp_path / "s")
    before = sorted(p.name for p in (tmp_path / "s").rglob("*"))
    rec = load_recordings(tmp_path / "s")
    assert len(rec.stimulus_ids) == 14 and sorted(set(rec.repetitions())) == [1, 5]
    order = [int(s.removeprefix("image_")) - 1000 for s in rec.stimulus_ids]
    np.testing.assert_allclose(rec.averaged(), signal[order], atol=1e-6)
    assert np.array_equal(rec.images, images[order].astype(np.uint8)) and rec.regions == ["V1"]
    assert sorted(p.name for p in (tmp_path / "s").rglob("*")) == before  # read only
    write_sensorium_folder(tmp_path / "w", withheld_tier="test")
    held = load_recordings(tmp_path / "w")
    assert len(held.stimulus_ids) == 10 and "20 trials whose responses are all zero" in held.notes[0]
    (tmp_path / "w" / "meta" / "trials" / "frame_image_id.npy").unlink()
    with pytest.raises(DataError, match="lacks meta/trials/frame_image_id.npy"):
        load_recordings(tmp_path / "w")


def test_what_is_recordings_and_what_is_a_dataset(tmp_path):
    write_sensorium_folder(tmp_path / "s")
    assert is_recordings(tmp_path / "s") and is_recordings("brainio:X") and is_recordings(tmp_path / "x.nwb")
    (tmp_path / "classes" / "a").mkdir(parents=True)
    assert not is_recordings(tmp_path / "classes") and not is_recordings("fashion-mnist")
    with pytest.raises(ConfigError, match="hold their own stimuli"):
        load_recordings(tmp_path / "s", stimuli=tmp_path / "t.csv")


# -- the same scores as the NetCDF form -------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("run") / "run"
    vs.train("macaque-markov2014", vs.make_config(epochs=1, batch_size=32, precision="fp32"),
             data=synthetic_dataset(64, 32), out=out, progress=False)
    return out


@pytest.mark.parametrize("source", ["nwb1", "nwb2", "brainio", "sensorium"])
def test_predict_scores_each_source_as_the_same_data_converted_to_netcdf(tiny_run, tmp_path, monkeypatch, source):
    if source == "nwb1":
        write_allen_nwb1(tmp_path / "s.nwb", n_images=12, noise=0.5, repetitions=4)
        path = str(tmp_path / "s.nwb")
    elif source == "nwb2":
        write_allen_nwb2(tmp_path / "s.nwb", n_images=12, noise=0.5, repetitions=4)
        path = str(tmp_path / "s.nwb")
    elif source == "brainio":
        write_brainio_cache(tmp_path / "cache", noise=0.5)
        monkeypatch.setenv("BRAINIO_HOME", str(tmp_path / "cache"))
        path = "brainio:MajajHong2015.public"
    else:
        write_sensorium_folder(tmp_path / "sens", n_images=8, test_images=6, test_repetitions=3)
        path = str(tmp_path / "sens")
    rec = load_recordings(path)
    converted = write_recordings(rec, tmp_path / "converted.nc")
    cfg = PredictivityConfig(method="ridge", n_splits=3, train_fraction=0.5, ceiling_splits=3)
    direct = vs.neural_predictivity([tiny_run], path, config=cfg, progress=False)
    via_nc = vs.neural_predictivity([tiny_run], converted, config=cfg, progress=False)
    assert via_nc.config.stimulus_degrees == direct.config.stimulus_degrees == (rec.stimulus_degrees or 8.0)
    cols = ["r", "ceiling", "ceiled"]
    np.testing.assert_allclose(via_nc.summary[cols].to_numpy(float), direct.summary[cols].to_numpy(float),
                               rtol=0, atol=1e-12, equal_nan=True)
    assert np.isfinite(direct.summary["r"]).all()


def test_data_show_and_predict_read_an_allen_session_through_the_cli(tiny_run, tmp_path):
    write_allen_nwb1(tmp_path / "s.nwb", area="VISpm", n_images=12, noise=0.3, repetitions=4)
    show = subprocess.run([sys.executable, "-m", "visualstreams", "data", "show", str(tmp_path / "s.nwb")],
                          capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stderr
    assert "12 stimuli, 48 presentations (4 repetitions each)" in show.stdout
    assert "121.2 degrees" in show.stdout and "VISpm" in show.stdout
    bad = subprocess.run([sys.executable, "-m", "visualstreams", "predict", str(tiny_run), "--recordings",
                          str(tmp_path / "missing.nwb"), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "missing.nwb" in bad.stderr
    assert not (tmp_path / "out").exists()
