"""Recordings as their sources publish them: Allen Brain Observatory sessions (NWB 1.0 written with h5py at
AllenSDK's paths, NWB 2.0 written with pynwb as the DANDI release lays it out), Brain-Score assemblies in a brainio
cache (xarray's NetCDF, a stimulus-set CSV and zip), Sensorium-style folders (numpy's .npy). Each file is written
here with a planted answer (visualstreams.testing.published); the readers must give it back, refuse what is
broken in one line, and score the same as the same data converted to the NetCDF form."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

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
    write_allen_neuropixels,
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
    # 7 or 8 frames per 250-ms image, each with a zero-mean ramp: only the image's own frames give the value back
    path = tmp_path / "501271265.nwb"
    if form == "nwb1":
        p = write_allen_nwb1(path, area="VISal", noise=0.2, seed=3, n_images=12)
        cells = p.cells
    else:  # the traces list the ROIs in reverse: cells must follow the ROIs, not the table
        p = write_allen_nwb2(path, area="VISal", noise=0.2, seed=3, n_images=12, reversed_rois=True)
        cells = p.cells[::-1]
    rec = load_recordings(path)
    image, responses = planted_rows(p)
    columns = [list(p.cells).index(int(c)) for c in cells]
    assert rec.responses.shape == responses.shape  # blanks left out, every repetition kept
    np.testing.assert_allclose(rec.responses, responses[:, columns], atol=1e-5)
    assert list(rec.stimulus_id) == [f"natural_scene_{i}" for i in image]  # NaturalScene10 after NaturalScene9
    assert [n.rsplit("/", 1)[1] for n in rec.neuroid_id] == [str(c) for c in cells]
    assert set(rec.region) == {"VISal"} and rec.neuroid_id[0].startswith("VISal/501271265/")
    assert np.array_equal(rec.images, p.templates) and rec.stimulus_degrees == 121.2
    assert rec.repetitions().tolist() == [10] * 12
    assert rec.notes[0].startswith("response: each image's own presentation") and ("4 blank sweeps left out" in
                                                                                   rec.notes if form == "nwb1"
                                                                                   else len(rec.notes) == 1)


def test_a_stated_window_takes_the_frames_in_progress_during_it(tmp_path):
    path = tmp_path / "s.nwb"
    p = write_allen_nwb1(path, seed=1)
    rec = load_recordings(path, window_ms=(100.0, 400.0))  # into the next image: as asked
    shown = np.flatnonzero(p.image >= 0)
    t = p.frame_times

    def in_progress(x):  # the last frame that started at or before x
        return max(i for i in range(len(t)) if t[i] <= x)

    # NWB 1.0 times an image by its first frame (frame_duration): the frame in progress at the true onset
    onset = [t[in_progress(1.0 + 0.25 * k)] for k in shown]
    expected = np.stack([p.dff[:, in_progress(o + 0.1):in_progress(o + 0.4)].mean(axis=1) for o in onset])
    image, _ = planted_rows(p)
    order = np.lexsort((np.arange(len(shown)), p.image[shown]))
    np.testing.assert_allclose(rec.responses, expected[order], atol=1e-5)
    assert "from 100 to 400 ms after each image's onset" in rec.notes[0]
    with pytest.raises(DataError, match="runs past the last imaging frame"):
        load_recordings(path, window_ms=(0.0, 5000.0))
    with pytest.raises(DataError, match="holds no imaging frame"):
        load_recordings(path, window_ms=(1.0, 2.0))
    with pytest.raises(ConfigError, match="Allen sessions"):
        load_recordings(tmp_path / "r.nc", window_ms=(0.0, 250.0))


def test_the_dandi_conversions_blank_sweeps_stored_as_image_0_leave_image_0_out(tmp_path):
    path = tmp_path / "dandi.nwb"
    p = write_allen_nwb2(path, blanks_as="zero", blanks=10, seed=2)
    rec = load_recordings(path)
    assert "natural_scene_0" not in rec.stimulus_ids and len(rec.stimulus_ids) == 5
    assert "image 0 has 20 presentations, the others about 10" in rec.notes[1]
    image, responses = planted_rows(p)
    np.testing.assert_allclose(rec.responses, responses[image != 0], atol=1e-5)
    write_allen_nwb2(tmp_path / "w.nwb", blanks_as="wrapped", seed=2)
    wrapped = load_recordings(tmp_path / "w.nwb")
    assert len(wrapped.stimulus_ids) == 6
    assert "4 presentations of image indices past the 6 templates" in wrapped.notes[1]


def test_an_image_0_shown_a_little_more_often_is_kept_and_the_doubt_said(tmp_path):
    p = plant_session(blanks=0, seed=7)
    extra = np.flatnonzero(p.image == 0)[0]  # image 0 once more: 11 presentations against 10
    p.image, p.responses = np.append(p.image, 0), np.vstack([p.responses, p.responses[extra]])
    write_allen_nwb2(tmp_path / "s.nwb", p)
    rec = load_recordings(tmp_path / "s.nwb")
    assert rec.repetitions().tolist() == [11] + [10] * 5
    assert "more than any other image (10): if this file is the DANDI" in rec.notes[1]


def test_a_folder_of_sessions_is_one_population_with_the_repetitions_every_session_has(tmp_path):
    templates = plant_session(seed=0).templates
    a = write_allen_nwb1(tmp_path / "a.nwb", area="VISp", templates=templates, repetitions=10, seed=4)
    (tmp_path / "sub-1").mkdir()  # DANDI puts sessions in subject folders
    b = write_allen_nwb2(tmp_path / "sub-1" / "b.nwb", area="VISl", templates=templates, repetitions=8, seed=5)
    with h5py.File(tmp_path / "session_A.nwb", "w") as f:  # an AllenSDK cache's session A: no natural scenes
        f["nwb_version"] = np.bytes_("NWB-1.0.5")
    rec = load_recordings(tmp_path)
    assert rec.regions == ["VISp", "VISl"] and rec.responses.shape == (6 * 8, 2 * len(a.cells))
    assert rec.repetitions().tolist() == [8] * 6
    assert any("12 presentations beyond" in n for n in rec.notes)
    assert any("1 sessions without natural scenes skipped (session_A.nwb)" in n for n in rec.notes)
    image_a, responses_a = planted_rows(a)
    k = np.concatenate([np.arange(10)] * 6)  # a's rows by image, then repetition: its first 8 of each
    np.testing.assert_allclose(rec.responses[:, :len(a.cells)], responses_a[k < 8], atol=1e-5)
    _, responses_b = planted_rows(b)
    np.testing.assert_allclose(rec.responses[:, len(a.cells):], responses_b, atol=1e-5)
    write_allen_nwb1(tmp_path / "c.nwb", seed=9)  # other templates: not one experiment
    with pytest.raises(DataError, match="templates differ"):
        load_recordings(tmp_path)


def test_the_same_cells_in_two_files_are_said(tmp_path):
    p = plant_session(seed=3)
    write_allen_nwb1(tmp_path / "a.nwb", p)
    write_allen_nwb2(tmp_path / "a_dandi.nwb", p)
    rec = load_recordings(tmp_path)
    assert any(f"{len(p.cells)} cell ids appear in more than one file" in n for n in rec.notes)


def _natural_scene_table(folder: Path, templates: np.ndarray) -> Path:
    """The stimulus table a Neuropixels user gives: natural_scene_<i> and the template written as a PNG."""
    from PIL import Image

    folder.mkdir()
    for i, t in enumerate(templates):
        Image.fromarray(t).save(folder / f"scene{i}.png")
    (folder / "stimuli.csv").write_text("stimulus_id,filename\n" + "".join(
        f"natural_scene_{i},scene{i}.png\n" for i in range(len(templates))))
    return folder / "stimuli.csv"


def test_a_neuropixels_session_gives_each_good_units_firing_rate_by_its_channels_area(tmp_path):
    path = tmp_path / "session_715093703.nwb"
    p = write_allen_neuropixels(path, n_units=7, seed=6)  # and six units AllenSDK leaves out, one per reason
    with pytest.raises(ConfigError, match="holds no natural-scene images: give --stimuli"):
        load_recordings(path)
    table = _natural_scene_table(tmp_path / "s", p.templates)
    rec = load_recordings(path, stimuli=table)
    p.image[3:5] = -1  # inside the invalid interval: left out
    image, rates = planted_rows(p)
    np.testing.assert_allclose(rec.responses, rates, atol=1e-3)  # spikes per second over [start, stop)
    assert list(rec.region) == ["VISp", "LGd"] * 3 + ["VISp"]  # the 7 good units, by peak channel
    assert rec.repetitions().tolist() == np.bincount(p.image[p.image >= 0]).tolist()
    assert rec.stimulus_degrees is None and "--stimulus-degrees" in rec.notes[-1]
    assert "6 of 13 units left out" in rec.notes[1] and "2 presentations inside invalid_times" in rec.notes[2]
    window = load_recordings(path, stimuli=table, window_ms=(0.0, 125.0))
    shown = np.flatnonzero(p.image >= 0)
    by_hand = np.array([[((t >= p.intervals[k, 0]) & (t < p.intervals[k, 0] + 0.125)).sum() / 0.125
                         for t in p.spikes] for k in shown])
    order = np.lexsort((np.arange(len(shown)), p.image[shown]))
    np.testing.assert_allclose(window.responses, by_hand[order], atol=1e-3)


def test_two_photon_and_neuropixels_sessions_are_not_one_population(tmp_path):
    write_allen_nwb1(tmp_path / "a.nwb")
    write_allen_neuropixels(tmp_path / "b.nwb")
    with pytest.raises(DataError, match="2-photon and Neuropixels sessions: dF/F and spikes per second"):
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
        f["stimulus/presentation/natural_scenes_stimulus/data"] = np.arange(3)
    with pytest.raises(DataError, match="lacks processing/brain_observatory_pipeline/DfOverF"):
        load_recordings(tmp_path / "c.nwb")
    write_allen_nwb1(tmp_path / "d.nwb")
    with h5py.File(tmp_path / "d.nwb", "a") as f:
        f["stimulus/presentation/natural_scenes_stimulus/data"][0] = 6  # past the 6 templates
    with pytest.raises(DataError, match=r"d\.nwb: a presentation shows image 6, past the 6 templates"):
        load_recordings(tmp_path / "d.nwb")


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


def test_an_assembly_file_named_as_brainscore_names_it_gets_the_benchmarks_visual_angle(tmp_path, monkeypatch):
    write_brainio_cache(tmp_path / "cache", assembly="movshon.FreemanZiemba2013.public",
                        stimulus_set="movshon.FreemanZiemba2013.aperture-public")
    monkeypatch.setenv("BRAINIO_HOME", str(tmp_path / "cache"))
    by_id = load_recordings("brainio:FreemanZiemba2013.public")
    nc = next((tmp_path / "cache").glob("assy_*/*.nc"))
    assert by_id.stimulus_degrees == load_recordings(nc).stimulus_degrees == 4.0


def test_zip_members_are_matched_by_their_path_and_a_clash_is_refused(tmp_path):
    import zipfile

    from PIL import Image

    from visualstreams.data.brainio import read_stimulus_set

    src = tmp_path / "src"  # the images live only in the zip beside the table
    for sub in ("a", "b"):
        (src / sub).mkdir(parents=True)
        Image.fromarray(np.full((4, 4), 10 if sub == "a" else 200, np.uint8)).save(src / sub / "x.png")
    with zipfile.ZipFile(tmp_path / "image_set.zip", "w") as z:
        z.write(src / "a" / "x.png", "a/x.png")
        z.write(src / "b" / "x.png", "b/x.png")
    (tmp_path / "image_set.csv").write_text("stimulus_id,filename\ns1,b/x.png\ns2,a/x.png\n")
    _, images = read_stimulus_set(tmp_path / "image_set.csv")
    assert images[:, 0, 0].tolist() == [200, 10]
    (tmp_path / "image_set.csv").write_text("stimulus_id,filename\ns1,x.png\n")
    with pytest.raises(DataError, match="has several x.png"):
        read_stimulus_set(tmp_path / "image_set.csv")


def test_a_refused_conversion_writes_nothing(tmp_path, monkeypatch):
    write_brainio_cache(tmp_path / "cache")
    monkeypatch.setenv("BRAINIO_HOME", str(tmp_path / "cache"))
    rec = load_recordings("brainio:MajajHong2015.public")  # two time bins: no CSV form
    (tmp_path / "out").mkdir()
    with pytest.raises(ConfigError, match="holds no time bins"):
        write_recordings(rec, tmp_path / "out" / "conv.csv")
    assert list((tmp_path / "out").iterdir()) == []
    made = write_recordings(rec, tmp_path / "new" / "folder" / "conv.nc")  # a folder not yet made is made
    assert sorted(p.name for p in made.parent.iterdir()) == ["conv.nc", "conv_stimuli", "conv_stimuli.csv"]
    assert len(list((made.parent / "conv_stimuli").iterdir())) == 12


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


@pytest.mark.parametrize("source", ["nwb1", "nwb2", "neuropixels", "brainio", "sensorium"])
def test_predict_scores_each_source_as_the_same_data_converted_to_netcdf(tiny_run, tmp_path, monkeypatch, source):
    stimuli = None
    if source == "neuropixels":
        p = write_allen_neuropixels(tmp_path / "s.nwb", n_images=12, repetitions=4)
        path, stimuli = str(tmp_path / "s.nwb"), _natural_scene_table(tmp_path / "scenes", p.templates)
    elif source == "nwb1":
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
    rec = load_recordings(path, stimuli)
    converted = write_recordings(rec, tmp_path / "converted.nc")
    cfg = PredictivityConfig(method="ridge", n_splits=3, train_fraction=0.5, ceiling_splits=3)
    direct = vs.neural_predictivity([tiny_run], path, stimuli=stimuli, config=cfg, progress=False)
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


def _tiny_recordings():
    """Four stimuli, two repetitions, two neuroids: only the file's form matters to the refusal."""
    import pandas as pd

    from visualstreams.data.recordings import Recordings

    ids = np.array([f"s{i}" for i in range(4)] * 2)
    return Recordings(np.arange(16, dtype=np.float32).reshape(8, 2), ids, np.repeat([0, 1], 4),
                      np.array(["V1", "V1"]), np.array(["n0", "n1"]),
                      pd.DataFrame({"stimulus_id": [f"s{i}" for i in range(4)], "path": ["x.png"] * 4}))


def test_compare_takes_the_response_window_and_refuses_it_where_it_does_not_apply(tmp_path):
    """compare --recordings reads an Allen session in a stated window as predict does; on recordings that are not
    Allen sessions the window is refused in one line before anything trains."""
    rec_path = write_recordings(_tiny_recordings(), tmp_path / "rec.npz")
    help_text = subprocess.run([sys.executable, "-m", "visualstreams", "compare", "--help"], capture_output=True,
                               text=True, timeout=120).stdout
    assert "--response-window START END" in help_text
    bad = subprocess.run([sys.executable, "-m", "visualstreams", "compare", "--species", "mouse", "--recordings",
                          str(rec_path), "--response-window", "0", "250", "--out", str(tmp_path / "cmp")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "a response window applies to Allen sessions (.nwb) only" in bad.stderr
    assert not (tmp_path / "cmp").exists()


def test_the_readmes_data_show_output_is_what_the_command_prints(tmp_path):
    write_allen_nwb1(tmp_path / "501271265.nwb", area="VISl", n_cells=40, n_images=118, repetitions=50, blanks=10,
                     noise=0.5)
    out = subprocess.run([sys.executable, "-m", "visualstreams", "data", "show", "501271265.nwb"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    shown = readme.split("`visualstreams data show 501271265.nwb` prints:\n\n```\n", 1)[1].split("```", 1)[0]
    assert out.stdout == shown
