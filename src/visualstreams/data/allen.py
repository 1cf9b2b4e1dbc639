"""The Allen Brain Observatory's Visual Coding 2P sessions, read as published: natural-scenes responses per cell.

Two forms of the same sessions (one imaging plane, so one targeted area, per file):

* **NWB 1.0**, the session files of an AllenSDK cache (``ophys_experiment_data/<id>.nwb``), which pynwb does not
  read. Read with h5py at the paths AllenSDK's ``BrainObservatoryNwbDataSet`` reads
  (``allensdk/core/brain_observatory_nwb_data_set.py``): dF/F at
  ``processing/brain_observatory_pipeline/DfOverF/imaging_plane_1/{data,timestamps}`` (cells x frames), cell ids at
  ``processing/brain_observatory_pipeline/ImageSegmentation/cell_specimen_ids``, the targeted area at
  ``general/optophysiology/imaging_plane_1/location``, the natural scenes at
  ``stimulus/presentation/natural_scenes_stimulus/{data,frame_duration}`` (image index, -1 for a blank sweep;
  first and last 2-photon frame) and their templates at ``stimulus/templates/natural_scenes_image_stack/data``.
* **NWB 2.0**, the DANDI release (dandiset 000728, converted by catalystneuro/visual-coding-to-nwb-v2), read with
  pynwb (``pip install 'visualstreams[nwb]'``): dF/F in ``processing['ophys']['DfOverF']`` (frames x cells), its
  ROIs' plane segmentation (``cell_specimen_id`` where the table has it, else the ROI ids) and imaging plane
  (``location``), the templates ``stimulus_template['natural_scenes_template']`` (Images ``NaturalScene<i>``) and
  the presentations ``stimulus['natural_scenes_stimulus']`` (an IndexSeries with onset timestamps). That
  conversion stored the indices as uint32, which turned the blank sweeps' -1 into 0: image 0 then has about twice
  the presentations of the others and cannot be told from a blank, so it is left out (said in a note).

A response is a cell's mean dF/F over the frames whose time falls in a window after the image's onset (default
0-250 ms: the image's own presentation; the images follow each other without grey). Each image's presentations
are kept as repetitions (about 50), for the split-half ceiling. Cells are grouped by their session's area under
Allen's names (VISp, VISl, VISal, VISpm, VISam, VISrl). A folder of sessions is one pseudo-population: the k-th
presentation of an image in every session is presentation k of that image, kept for the k that every session has.

The stimuli's visual angle comes from the monitor geometry AllenSDK records (``stimulus_info.py``,
``BrainObservatoryMonitor``): 1920 x 1200 px over a 61.214 cm diagonal, the eye 15 cm away, the 918 x 1174 px
templates shown unscaled at the centre, the screen warped so that a pixel's distance from the centre is its arc
length on the sphere (hence degrees = pixels x pixel size / distance, AllenSDK's ``pixels_to_visual_degrees``):
the templates' longer side spans :data:`NATURAL_SCENES_DEGREES` (about 121 degrees).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from .recordings import Recordings

# AllenSDK allensdk/brain_observatory/stimulus_info.py: MONITOR_DIMENSIONS, BrainObservatoryMonitor's panel size
# (an ASUS PA248Q, 24 inch), MONITOR_DISTANCE, NATURAL_SCENES_PIXELS
MONITOR_PIXELS = (1200, 1920)
MONITOR_DIAGONAL_CM = 61.214
MONITOR_DISTANCE_CM = 15.0
NATURAL_SCENES_PIXELS = (918, 1174)
AREAS = ("VISp", "VISl", "VISal", "VISpm", "VISam", "VISrl")  # the six areas the 2P sessions targeted
WINDOW_MS = (0.0, 250.0)

_V1 = "processing/brain_observatory_pipeline"
NWB1_PATHS = {
    "dff": f"{_V1}/DfOverF/imaging_plane_1/data",
    "timestamps": f"{_V1}/DfOverF/imaging_plane_1/timestamps",
    "cells": f"{_V1}/ImageSegmentation/cell_specimen_ids",
    "area": "general/optophysiology/imaging_plane_1/location",
    "scenes": "stimulus/presentation/natural_scenes_stimulus/data",
    "frames": "stimulus/presentation/natural_scenes_stimulus/frame_duration",
    "templates": "stimulus/templates/natural_scenes_image_stack/data",
}


def pixels_to_degrees(pixels: float) -> float:
    """Visual degrees of ``pixels`` on the Brain Observatory monitor, as AllenSDK's ``pixels_to_visual_degrees``
    computes them (exact under the spherical warp: a pixel's distance from the centre is its arc length)."""
    rows, cols = MONITOR_PIXELS
    width_cm = MONITOR_DIAGONAL_CM / math.sqrt(1 + (rows / cols) ** 2)
    return math.degrees(pixels * (width_cm / cols) / MONITOR_DISTANCE_CM)


NATURAL_SCENES_DEGREES = round(pixels_to_degrees(max(NATURAL_SCENES_PIXELS)), 1)


@dataclass
class Session:
    """One imaging session's natural-scenes data, as read from either form."""

    source: str
    form: str  # "NWB 1.0" or "NWB 2.0"
    area: str
    cells: np.ndarray  # (cells,) str
    dff: np.ndarray  # (cells, frames) float32
    frame_times: np.ndarray  # (frames,) s
    image: np.ndarray  # (presentations,) int, -1 = blank
    onset: np.ndarray  # (presentations,) s
    templates: np.ndarray  # (images, H, W) uint8
    notes: tuple[str, ...] = ()

    def responses(self, window_ms: tuple[float, float] = WINDOW_MS) -> tuple[np.ndarray, np.ndarray]:
        """Presentations of an image (blanks dropped) -> (image index, cells' mean dF/F in the window)."""
        start, end = window_ms
        if not (math.isfinite(start) and math.isfinite(end) and end > start):
            raise ConfigError(f"response window must be START < END in ms, got {start}-{end}")
        shown = self.image >= 0
        lo = np.searchsorted(self.frame_times, self.onset[shown] + start / 1000.0, side="left")
        hi = np.searchsorted(self.frame_times, self.onset[shown] + end / 1000.0, side="left")
        if (hi <= lo).any():
            raise DataError(f"{self.source}: the response window {start:g}-{end:g} ms holds no imaging frame for "
                            f"{int((hi <= lo).sum())} presentation(s) (frames are "
                            f"{1000 * float(np.median(np.diff(self.frame_times))):.1f} ms apart); widen it")
        # window means from cumulative sums: one pass over the trace, not one slice per presentation
        csum = np.zeros((self.dff.shape[0], self.dff.shape[1] + 1), dtype=np.float64)
        np.cumsum(self.dff, axis=1, out=csum[:, 1:])
        means = (csum[:, hi] - csum[:, lo]) / (hi - lo)
        return self.image[shown], means.T.astype(np.float32)


# -- reading one session ----------------------------------------------------------------------------------
def _area_name(location: Any, source: str) -> str:
    text = location.decode() if isinstance(location, bytes) else str(location)
    found = re.search(r"VIS[a-z]+", text)
    if found is None:
        raise DataError(f"{source}: its imaging plane's location {text!r} names no visual area (VISp, VISl, ...)")
    return found.group(0)


def nwb_version(path: Path) -> str:
    """The file's NWB version as written in it ("1.0.x", "2.x.y"), read with h5py."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            version = f.attrs.get("nwb_version") or (f["nwb_version"][()] if "nwb_version" in f else b"")
    except OSError as exc:
        raise DataError(f"{path}: not a readable NWB (HDF5) file ({str(exc).splitlines()[0][:80]})") from None
    if isinstance(version, np.ndarray):
        version = version.item() if version.size == 1 else b""
    text = version.decode() if isinstance(version, bytes) else str(version)
    return text.removeprefix("NWB-")


def read_nwb1(path: str | os.PathLike[str]) -> Session:
    """A Visual Coding 2P session of an AllenSDK cache (NWB 1.0) at AllenSDK's paths, with h5py."""
    import h5py

    path = Path(path)
    with h5py.File(path, "r") as f:
        missing = [p for p in NWB1_PATHS.values() if p not in f]
        if missing:
            what = ("no natural scenes (a session B has them; A and C do not)" if missing[0].startswith("stimulus/")
                    else f"lacks {missing[0]}")
            raise DataError(f"{path}: {what}" + (f" ({len(missing)} of the paths AllenSDK reads are missing)"
                                                 if len(missing) > 1 else ""))
        dff = np.asarray(f[NWB1_PATHS["dff"]][()], dtype=np.float32)
        times = np.asarray(f[NWB1_PATHS["timestamps"]][()], dtype=np.float64)
        cells = np.asarray(f[NWB1_PATHS["cells"]][()]).astype(str)
        area = _area_name(f[NWB1_PATHS["area"]][()], str(path))
        image = np.asarray(f[NWB1_PATHS["scenes"]][()]).astype(np.int64)
        frames = np.asarray(f[NWB1_PATHS["frames"]][()]).astype(np.int64)
        templates = _uint8_templates(f[NWB1_PATHS["templates"]][()], path)
    if dff.ndim != 2 or dff.shape[0] != len(cells):
        raise DataError(f"{path}: dF/F is {dff.shape}, not cells ({len(cells)}) x frames")
    if frames.ndim != 2 or frames.shape != (len(image), 2):
        raise DataError(f"{path}: frame_duration is {frames.shape}, not one [start, end] per presentation")
    # the dF/F's timestamps are the 2-photon frames' (AllenSDK notes one sample more in the 2-photon series)
    n = min(len(times), dff.shape[1])
    if frames[:, 0].max() >= n:
        raise DataError(f"{path}: a presentation starts at frame {int(frames[:, 0].max())}, after the last of the "
                        f"{n} imaging frames")
    return Session(str(path), "NWB 1.0", area, cells, dff[:, :n], times[:n], image, times[frames[:, 0]], templates)


def read_nwb2(path: str | os.PathLike[str]) -> Session:
    """A Visual Coding 2P session of the DANDI release (NWB 2.0), with pynwb."""
    try:
        from pynwb import NWBHDF5IO
    except ImportError:
        raise ConfigError("reading NWB 2.0 files needs pynwb: pip install 'visualstreams[nwb]'") from None
    path = Path(path)
    with NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
        try:
            nwb = io.read()
        except Exception as exc:  # pynwb/hdmf raise many types for a malformed file
            raise DataError(f"{path}: pynwb cannot read it ({type(exc).__name__}: "
                            f"{(str(exc).splitlines() or [''])[0][:100]})") from None
        ophys = nwb.processing.get("ophys")
        if ophys is None or "DfOverF" not in ophys.data_interfaces:
            raise DataError(f"{path}: no processing['ophys']['DfOverF'] (dF/F traces)")
        dff_iface = ophys["DfOverF"]
        series = next(iter(dff_iface.roi_response_series.values()), None)
        if series is None:
            raise DataError(f"{path}: processing['ophys']['DfOverF'] holds no traces")
        if "natural_scenes_stimulus" not in nwb.stimulus or "natural_scenes_template" not in nwb.stimulus_template:
            raise DataError(f"{path}: no natural scenes (stimulus['natural_scenes_stimulus'] and "
                            "stimulus_template['natural_scenes_template']; a session B has them)")
        data = np.asarray(series.data[:], dtype=np.float32)
        times = np.asarray(series.timestamps[:] if series.timestamps is not None
                           else series.starting_time + np.arange(len(data)) / series.rate, dtype=np.float64)
        seg = series.rois.table
        cells = (np.asarray(seg["cell_specimen_id"][:]) if "cell_specimen_id" in seg.colnames
                 else np.asarray(seg.id[:]))[np.asarray(series.rois.data[:])].astype(str)
        area = _area_name(seg.imaging_plane.location, str(path))
        pres = nwb.stimulus["natural_scenes_stimulus"]
        image = np.asarray(pres.data[:]).astype(np.int64)
        onset = np.asarray(pres.timestamps[:], dtype=np.float64)
        images = nwb.stimulus_template["natural_scenes_template"].images
        order = sorted(images, key=lambda name: int(re.sub(r"\D", "", name) or -1))
        templates = _uint8_templates(np.stack([np.asarray(images[name].data[:]) for name in order]), path)
    if data.ndim != 2 or data.shape[1] != len(cells):
        raise DataError(f"{path}: dF/F is {data.shape}, not frames x cells ({len(cells)})")
    notes: list[str] = []
    wrapped = image >= len(templates)  # a -1 cast to uint32 wraps to 2**32 - 1
    if wrapped.any():
        image = np.where(wrapped, -1, image)
        notes.append(f"{path.name}: {int(wrapped.sum())} presentations of image indices past the "
                     f"{len(templates)} templates (blank sweeps cast to uint32) were read as blanks")
    counts = np.bincount(image[image >= 0], minlength=len(templates))
    if len(counts) > 1 and counts[0] > counts[1:].max():
        image = np.where(image == 0, -1, image)
        notes.append(f"{path.name}: image 0 has {int(counts[0])} presentations, the others at most "
                     f"{int(counts[1:].max())}: the DANDI conversion stored blank sweeps (-1) as 0, so image 0 "
                     "cannot be told from a blank and is left out")
    return Session(str(path), "NWB 2.0", area, cells, data.T, times, image, onset, templates, tuple(notes))


def _uint8_templates(stack: Any, path: Path) -> np.ndarray:
    arr = np.asarray(stack)
    if arr.ndim != 3:
        raise DataError(f"{path}: natural-scene templates are {arr.shape}, not images x H x W")
    if arr.dtype != np.uint8:  # NWB 1.0 stores them as float32 holding 0-255
        if not (np.isfinite(arr).all() and arr.min() >= 0 and arr.max() <= 255 and (arr == np.round(arr)).all()):
            raise DataError(f"{path}: natural-scene templates are not grey levels 0-255")
        arr = arr.astype(np.uint8)
    return arr


def read_session(path: str | os.PathLike[str]) -> Session:
    """One session file in either form, chosen by the version the file states."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Allen session {path} not found")
    version = nwb_version(path)
    if version.startswith("1."):
        return read_nwb1(path)
    if version.startswith("2."):
        return read_nwb2(path)
    raise DataError(f"{path}: states no NWB version 1.x or 2.x ({version or 'none'}): not an NWB session file")


# -- one or more sessions as recordings -------------------------------------------------------------------
def session_files(path: str | os.PathLike[str]) -> list[Path]:
    """A session file, or a folder's ``*.nwb`` files (sorted)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.nwb"))
        if not files:
            raise DataError(f"{path}: holds no .nwb session files")
        return files
    return [path]


def load_allen(path: str | os.PathLike[str], *, window_ms: tuple[float, float] = WINDOW_MS) -> Recordings:
    """Natural-scenes responses of one session or a folder of sessions (see the module docstring) as
    :class:`~visualstreams.data.recordings.Recordings`: regions are the sessions' areas, neuroids
    ``<area>/<cell>``, stimuli ``natural_scene_<i>`` with the templates as their images."""
    sessions = [read_session(p) for p in session_files(path)]
    templates = sessions[0].templates
    for s in sessions[1:]:
        if s.templates.shape != templates.shape or not np.array_equal(s.templates, templates):
            raise DataError(f"{s.source}: its natural-scene templates differ from {sessions[0].source}'s")
    per_session = [s.responses(window_ms) for s in sessions]
    n_images = len(templates)
    # repetition k of image i: the k-th presentation of i in each session, for the k every session has
    reps = np.min([np.bincount(img, minlength=n_images) for img, _ in per_session], axis=0)
    shown = np.flatnonzero(reps > 0)
    if not len(shown):
        raise DataError(f"{path}: no image was presented in every session")
    blocks = []
    for img, resp in per_session:
        k = pd.Series(img).groupby(img).cumcount().to_numpy()
        keep = k < reps[img]
        order = np.lexsort((k[keep], img[keep]))  # by image, then repetition: the same rows in every session
        blocks.append(resp[keep][order])
        stim_index, repetition = img[keep][order], k[keep][order]
    notes = [n for s in sessions for n in s.notes]
    dropped = sum(int((np.bincount(img, minlength=n_images) - reps).sum()) for img, _ in per_session)
    if len(sessions) > 1 and dropped:
        notes.append(f"{dropped} presentations beyond the repetitions every session has were left out")
    region = np.concatenate([np.full(len(s.cells), s.area) for s in sessions])
    neuroid = np.concatenate([[f"{s.area}/{Path(s.source).stem}/{c}" for c in s.cells] for s in sessions])
    ids = [f"natural_scene_{i}" for i in range(n_images)]
    table = pd.DataFrame({"stimulus_id": ids, "path": [f"{sessions[0].source}#natural_scenes/{i}"
                                                        for i in range(n_images)]})
    source = str(path) if len(sessions) == 1 else f"{path} ({len(sessions)} sessions)"
    return Recordings(np.concatenate(blocks, axis=1), np.array(ids)[stim_index], repetition, region, neuroid,
                      table, source, None, templates, NATURAL_SCENES_DEGREES, tuple(notes))
