"""The Allen Brain Observatory's Visual Coding sessions, read as published: natural-scenes responses per cell.

Three forms (a 2-photon file holds one imaging plane, so one targeted area; a Neuropixels file many areas):

* **2-photon, NWB 1.0**, the session files of an AllenSDK cache (``ophys_experiment_data/<id>.nwb``), which pynwb
  does not read. Read with h5py at the paths AllenSDK's ``BrainObservatoryNwbDataSet`` reads
  (``allensdk/core/brain_observatory_nwb_data_set.py``): dF/F at
  ``processing/brain_observatory_pipeline/DfOverF/imaging_plane_1/{data,timestamps}`` (cells x frames), cell ids at
  ``processing/brain_observatory_pipeline/ImageSegmentation/cell_specimen_ids``, the targeted area at
  ``general/optophysiology/imaging_plane_1/location``, the natural scenes at
  ``stimulus/presentation/natural_scenes_stimulus/{data,frame_duration}`` (image index, -1 for a blank sweep;
  the first and the end 2-photon frame) and their templates at ``stimulus/templates/natural_scenes_image_stack/data``.
* **2-photon, NWB 2.0**, the DANDI release (dandiset 000728, converted by catalystneuro/visual-coding-to-nwb-v2),
  read with pynwb (``pip install 'visualstreams[nwb]'``): dF/F in ``processing['ophys']['DfOverF']`` (frames x
  ROIs), its ROIs' plane segmentation (``cell_specimen_id`` where the table has it, else the ROI ids) and imaging
  plane (``location``), the templates ``stimulus_template['natural_scenes_template']`` (Images ``NaturalScene<i>``)
  and the presentations ``stimulus['natural_scenes_stimulus']`` (an IndexSeries with onset timestamps). That
  conversion stored the indices as uint32, which turned the blank sweeps' -1 into 0: where image 0 has at least
  1.5 times the presentations of the others, it cannot be told from a blank and is left out (said in a note).
* **Neuropixels, NWB 2.0** (AllenSDK's ecephys cache, DANDI): ``units`` (``spike_times``, ``peak_channel_id``,
  the quality metrics), the electrodes' ``location`` (a unit's area is its peak channel's), and
  ``intervals['natural_scenes_presentations']`` (``frame``: the image, -1 a blank; ``start_time``,
  ``stop_time``). Units are kept by AllenSDK's default quality filters. The files hold no images: a stimulus
  table gives them, or a 2-photon session in the same folder.

A response is, by default, what the image itself evoked while it was on: a cell's mean dF/F over the imaging
frames of the image's own presentation (NWB 1.0: its ``frame_duration`` [start, end); NWB 2.0: the frames from its
onset to the next image's, at most the typical presentation, 250 ms; the images follow each other without grey, so
no frame counts for two images), a unit's firing rate from ``start_time`` to ``stop_time``. A stated window
(``window_ms``, after onset) takes every frame, or spike, whose time falls in it instead. Each image's
presentations are kept as repetitions (about 50), for the split-half ceiling. Cells are grouped by their area under
Allen's names (VISp, VISl, VISal, VISpm, VISam, VISrl; Neuropixels also LGd, CA1, ...).

A folder (searched with its subfolders) is one pseudo-population: the k-th presentation of an image in every
session is presentation k of that image, kept for the k that every session has. Sessions without natural scenes
(Allen's sessions A and C) are skipped with a note. Sessions are read one at a time: only their responses are kept.

The stimuli's visual angle comes from the monitor geometry AllenSDK records for the 2-photon rig
(``stimulus_info.py``, ``BrainObservatoryMonitor``): 1920 x 1200 px over a 61.214 cm diagonal, the eye 15 cm away,
the 918 x 1174 px templates shown unscaled at the centre, the screen warped so that a pixel's distance from the
centre is its arc length on the sphere (hence degrees = pixels x pixel size / distance, AllenSDK's
``pixels_to_visual_degrees``): the templates' longer side spans :data:`NATURAL_SCENES_DEGREES` (about 121 degrees).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from .allen_neuropixels import SpikeSession, read_neuropixels
from .nwb import check_window, text
from .recordings_core import Recordings, load_stimulus_table

# AllenSDK allensdk/brain_observatory/stimulus_info.py: MONITOR_DIMENSIONS, BrainObservatoryMonitor's panel size
# (an ASUS PA248Q, 24 inch), MONITOR_DISTANCE, NATURAL_SCENES_PIXELS
MONITOR_PIXELS = (1200, 1920)
MONITOR_DIAGONAL_CM = 61.214
MONITOR_DISTANCE_CM = 15.0
NATURAL_SCENES_PIXELS = (918, 1174)

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


class NoNaturalScenes(DataError):
    """A session file without the natural-scenes stimulus (a folder skips it; a single file is refused)."""


def in_progress(frame_times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The imaging frame in progress at each time ``t``: the last frame that started at or before it (-1 before
    the first), as AllenSDK aligns a stimulus to the 2-photon frames."""
    return np.searchsorted(frame_times, t, side="right") - 1


def describe_window(window_ms: tuple[float, float] | None) -> str:
    """The response rule in words, for the notes and the report."""
    if window_ms is None:
        return ("each image's own presentation: a cell's mean dF/F over the imaging frames while it was on, a "
                "unit's firing rate from its start to its stop")
    start, end = check_window(window_ms)
    return (f"the imaging frames in progress (or the spikes) from {start:g} to {end:g} ms after each image's "
            "onset")


@dataclass
class Session:
    """One 2-photon session's natural-scenes data, as read from either form. ``own``: each presentation's own
    frames [lo, hi)."""

    source: str
    form: str  # "NWB 1.0" or "NWB 2.0"
    areas: np.ndarray  # (cells,) str: the imaging plane's area, for every cell
    cells: np.ndarray  # (cells,) str
    dff: np.ndarray  # (cells, frames) float32
    frame_times: np.ndarray  # (frames,) s
    image: np.ndarray  # (presentations,) int, -1 = blank
    onset: np.ndarray  # (presentations,) s
    own: tuple[np.ndarray, np.ndarray]
    templates: np.ndarray | None  # (images, H, W) uint8
    notes: tuple[str, ...] = ()

    def responses(self, window_ms: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Presentations of an image (blanks dropped) -> (image index, cells' mean dF/F: over the image's own
        frames, or over the frames whose time falls in ``window_ms`` after onset)."""
        shown = self.image >= 0
        if window_ms is None:
            lo, hi = self.own[0][shown], self.own[1][shown]
            what = "its own presentation"
        else:  # the frames in progress from onset + start until onset + end
            start, end = check_window(window_ms)
            lo = np.maximum(in_progress(self.frame_times, self.onset[shown] + start / 1000.0), 0)
            hi = in_progress(self.frame_times, self.onset[shown] + end / 1000.0)
            last = self.frame_times[-1] + float(np.median(np.diff(self.frame_times)))
            if (self.onset[shown] + end / 1000.0 > last).any():
                raise DataError(f"{self.source}: the response window {start:g}-{end:g} ms runs past the last "
                                "imaging frame for the last presentations; shorten it")
            what = f"the response window {start:g}-{end:g} ms"
        if (hi <= lo).any():
            raise DataError(f"{self.source}: {what} holds no imaging frame for {int((hi <= lo).sum())} "
                            f"presentation(s) (frames are {1000 * float(np.median(np.diff(self.frame_times))):.1f} "
                            "ms apart)" + ("; widen it" if window_ms is not None else ""))
        # window means from cumulative sums: one pass over the trace, not one slice per presentation
        csum = np.zeros((self.dff.shape[0], self.dff.shape[1] + 1), dtype=np.float64)
        np.cumsum(self.dff, axis=1, out=csum[:, 1:])
        means = (csum[:, hi] - csum[:, lo]) / (hi - lo)
        return self.image[shown], means.T.astype(np.float32)


# -- reading one session ----------------------------------------------------------------------------------
def _area_name(location: Any, source: str) -> str:
    name = text(location)
    found = re.search(r"VIS[a-z]+", name)
    if found is None:
        raise DataError(f"{source}: its imaging plane's location {name!r} names no visual area (VISp, VISl, ...)")
    return found.group(0)


def nwb_version(path: Path) -> str:
    """The file's NWB version as written in it ("1.0.x", "2.x.y"), read with h5py."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            version = f.attrs.get("nwb_version") or (f["nwb_version"][()] if "nwb_version" in f else b"")
    except OSError as exc:
        raise DataError(f"{path}: not a readable NWB (HDF5) file ({str(exc).splitlines()[0][:80]})") from None
    return text(version).removeprefix("NWB-")


def read_nwb1(path: str | os.PathLike[str]) -> Session:
    """A Visual Coding 2P session of an AllenSDK cache (NWB 1.0) at AllenSDK's paths, with h5py."""
    import h5py

    path = Path(path)
    with h5py.File(path, "r") as f:
        if NWB1_PATHS["scenes"] not in f:
            raise NoNaturalScenes(f"{path}: no natural scenes (Allen's session B has them; A and C do not)")
        missing = [p for p in NWB1_PATHS.values() if p not in f]
        if missing:
            raise DataError(f"{path}: lacks {missing[0]}" + (f" ({len(missing)} of the paths AllenSDK reads are "
                                                             "missing)" if len(missing) > 1 else ""))
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
    if frames.min() < 0 or frames.max() > n or (frames[:, 1] <= frames[:, 0]).any():
        raise DataError(f"{path}: frame_duration holds a presentation outside the {n} imaging frames or ending "
                        "before it starts")
    if image.max(initial=-1) >= len(templates):
        raise DataError(f"{path}: a presentation shows image {int(image.max())}, past the {len(templates)} templates")
    return Session(str(path), "NWB 1.0", np.full(len(cells), area), cells, dff[:, :n], times[:n], image,
                   times[frames[:, 0]], (frames[:, 0], frames[:, 1]), templates)


def read_nwb2(path: str | os.PathLike[str]) -> Session | SpikeSession:
    """A Visual Coding session in NWB 2.0, with pynwb: a 2P session of the DANDI release, or a Neuropixels
    session (units and ``intervals['natural_scenes_presentations']``)."""
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
        if nwb.units is not None and "natural_scenes_presentations" in (nwb.intervals or {}):
            return read_neuropixels(nwb, path)
        if "natural_scenes_stimulus" not in nwb.stimulus or "natural_scenes_template" not in nwb.stimulus_template:
            raise NoNaturalScenes(f"{path}: no natural scenes (stimulus['natural_scenes_stimulus'] and "
                                  "stimulus_template['natural_scenes_template']; Allen's session B has them)")
        ophys = nwb.processing.get("ophys")
        if ophys is None or "DfOverF" not in ophys.data_interfaces:
            raise DataError(f"{path}: no processing['ophys']['DfOverF'] (dF/F traces)")
        series = next(iter(ophys["DfOverF"].roi_response_series.values()), None)
        if series is None:
            raise DataError(f"{path}: processing['ophys']['DfOverF'] holds no traces")
        data = np.asarray(series.data[:], dtype=np.float32)
        times = np.asarray(series.timestamps[:] if series.timestamps is not None
                           else series.starting_time + np.arange(len(data)) / series.rate, dtype=np.float64)
        seg = series.rois.table
        rows = np.asarray(series.rois.data[:])  # the traces' columns, in the ROI table's rows
        cells = (np.asarray(seg["cell_specimen_id"][:]) if "cell_specimen_id" in seg.colnames
                 else np.asarray(seg.id[:]))[rows].astype(str)
        area = _area_name(seg.imaging_plane.location, str(path))
        pres = nwb.stimulus["natural_scenes_stimulus"]
        image = np.asarray(pres.data[:]).astype(np.int64)
        onset = np.asarray(pres.timestamps[:], dtype=np.float64)
        images = nwb.stimulus_template["natural_scenes_template"].images
        order = sorted(images, key=lambda name: int(re.sub(r"\D", "", name) or -1))  # NaturalScene2 before 10
        templates = _uint8_templates(np.stack([np.asarray(images[name].data[:]) for name in order]), path)
    if data.ndim != 2 or data.shape[1] != len(cells) or len(times) != len(data):
        raise DataError(f"{path}: dF/F is {data.shape} with {len(times)} timestamps, not frames x ROIs "
                        f"({len(cells)}) with one timestamp per frame")
    if len(onset) != len(image):
        raise DataError(f"{path}: natural_scenes_stimulus has {len(image)} presentations and {len(onset)} onsets")
    notes: list[str] = []
    wrapped = image >= len(templates)  # a -1 cast to uint32 wraps to 2**32 - 1
    if wrapped.any():
        image = np.where(wrapped, -1, image)
        notes.append(f"{path.name}: {int(wrapped.sum())} presentations of image indices past the "
                     f"{len(templates)} templates (blank sweeps cast to uint32) were read as blanks")
    counts = np.bincount(image[image >= 0], minlength=len(templates))
    others = counts[1:][counts[1:] > 0]
    if len(others) and counts[0] >= 1.5 * np.median(others):
        image = np.where(image == 0, -1, image)
        notes.append(f"{path.name}: image 0 has {int(counts[0])} presentations, the others about "
                     f"{int(np.median(others))}: the DANDI conversion stored blank sweeps (-1) as 0, so image 0 "
                     "cannot be told from a blank and is left out")
    elif len(others) and counts[0] > others.max():
        notes.append(f"{path.name}: image 0 has {int(counts[0])} presentations, more than any other image "
                     f"({int(others.max())}): if this file is the DANDI conversion's, some may be blank sweeps")
    # each presentation's own frames: those in progress from its onset until the next image's (at most the typical
    # presentation), as NWB 1.0's frame_duration gives them
    typical = float(np.median(np.diff(onset))) if len(onset) > 1 else 0.25
    until = np.minimum(np.r_[onset[1:], np.inf], onset + typical)
    own = (np.maximum(in_progress(times, onset), 0), in_progress(times, until))
    return Session(str(path), "NWB 2.0", np.full(len(cells), area), cells, data.T, times, image, onset, own,
                   templates, tuple(notes))


def _uint8_templates(stack: Any, path: Path) -> np.ndarray:
    arr = np.asarray(stack)
    if arr.ndim != 3:
        raise DataError(f"{path}: natural-scene templates are {arr.shape}, not images x H x W")
    if arr.dtype != np.uint8:  # NWB 1.0 stores them as float32 holding 0-255
        if not (np.isfinite(arr).all() and arr.min() >= 0 and arr.max() <= 255 and (arr == np.round(arr)).all()):
            raise DataError(f"{path}: natural-scene templates are not grey levels 0-255")
        arr = arr.astype(np.uint8)
    return arr


def read_session(path: str | os.PathLike[str]) -> Session | SpikeSession:
    """One session file in any of the forms, chosen by the version the file states (and, for NWB 2.0, what it
    holds)."""
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
    """A session file, or a folder's ``*.nwb`` files with its subfolders' (sorted)."""
    path = Path(path)
    if path.is_dir():  # an ecephys cache's probe_<id>_lfp.nwb files hold LFP, not sessions
        files = sorted(p for p in path.rglob("*.nwb") if not p.name.endswith("_lfp.nwb"))
        if not files:
            raise DataError(f"{path}: holds no .nwb session files")
        return files
    return [path]


@dataclass
class _Read:
    """What is kept of a session once read: its responses, not its traces."""

    source: str
    image: np.ndarray
    responses: np.ndarray
    areas: np.ndarray
    cells: np.ndarray
    notes: tuple[str, ...]


def load_allen(path: str | os.PathLike[str], *, window_ms: tuple[float, float] | None = None,
               stimuli: str | os.PathLike[str] | None = None) -> Recordings:
    """Natural-scenes responses of one session or a folder of sessions (see the module docstring) as
    :class:`~visualstreams.data.recordings.Recordings`: regions are the cells' areas, neuroids
    ``<area>/<session>/<cell>``, stimuli ``natural_scene_<i>`` with the templates as their images. ``window_ms``:
    None for each image's own presentation, else (start, end) ms after onset. Neuropixels sessions hold no
    templates: ``stimuli`` is then a stimulus table of ``natural_scene_<i>`` and image files."""
    if window_ms is not None:
        check_window(window_ms)
    files = session_files(path)
    kept: list[_Read] = []
    templates: np.ndarray | None = None
    digest, first = "", ""
    skipped: list[str] = []
    kinds: set[str] = set()
    blanks = 0
    for f in files:  # one at a time: only the responses stay in memory
        try:
            s = read_session(f)
        except NoNaturalScenes:
            if len(files) == 1:
                raise
            skipped.append(f.name)
            continue
        if s.templates is not None:
            d = hashlib.sha1(np.ascontiguousarray(s.templates).tobytes()).hexdigest()
            if templates is None:
                templates, digest, first = s.templates, d, s.source
            elif d != digest:
                raise DataError(f"{s.source}: its natural-scene templates differ from {first}'s")
        kinds.add(type(s).__name__)
        if len(kinds) > 1:
            raise DataError(f"{path}: holds 2-photon and Neuropixels sessions: dF/F and spikes per second are not "
                            "one population; read them apart")
        image, responses = s.responses(window_ms)
        blanks += int((s.image < 0).sum())
        kept.append(_Read(s.source, image, responses, s.areas, s.cells, s.notes))
        del s
    if not kept:
        raise DataError(f"{path}: none of its {len(files)} sessions has natural scenes (Allen's session B has them)")
    if stimuli is not None and templates is not None:
        raise ConfigError(f"recordings {path}: the 2-photon sessions hold their own stimuli; --stimuli is for "
                          "Neuropixels sessions, which do not")
    if stimuli is None and templates is None:
        raise ConfigError(f"recordings {path}: a Neuropixels session holds no natural-scene images: give --stimuli, "
                          "a table of stimulus_id natural_scene_0 ... natural_scene_117 and their image files")
    n_images = len(templates) if templates is not None else 1 + max(int(r.image.max(initial=-1)) for r in kept)
    # repetition k of image i: the k-th presentation of i in each session, for the k every session has
    reps = np.min([np.bincount(r.image, minlength=n_images) for r in kept], axis=0)
    if not (reps > 0).any():
        raise DataError(f"{path}: no image was presented in every session")
    shown_somewhere = np.max([np.bincount(r.image, minlength=n_images) for r in kept], axis=0) > 0
    absent = np.flatnonzero(shown_somewhere & (reps == 0))
    blocks = []
    for r in kept:
        k = pd.Series(r.image).groupby(r.image).cumcount().to_numpy()
        keep = k < reps[r.image]
        order = np.lexsort((k[keep], r.image[keep]))  # by image, then repetition: the same rows in every session
        blocks.append(r.responses[keep][order])
        stim_index, repetition = r.image[keep][order], k[keep][order]
    notes = [f"response: {describe_window(window_ms)}"] + [n for r in kept for n in r.notes]
    if blanks:
        notes.append(f"{blanks} blank sweeps left out")
    if len(absent):
        notes.append(f"image(s) {', '.join(map(str, absent[:5]))}{', ...' if len(absent) > 5 else ''} left out of "
                     "every session: a session lacks them")
    if skipped:
        notes.append(f"{len(skipped)} sessions without natural scenes skipped ({', '.join(skipped[:3])}"
                     f"{', ...' if len(skipped) > 3 else ''})")
    dropped = sum(int((np.bincount(r.image, minlength=n_images) - reps).sum()) for r in kept)
    if len(kept) > 1 and dropped:
        notes.append(f"{dropped} presentations beyond the repetitions every session has were left out (each "
                     "session keeps its first presentations of each image)")
    twice = [c for c, n in Counter(c for r in kept for c in set(r.cells)).items() if n > 1]
    if twice:
        notes.append(f"{len(twice)} cell ids appear in more than one file (first: {twice[0]}; the same session in "
                     "two forms?): each copy counts as a neuron")
    region = np.concatenate([r.areas for r in kept])
    neuroid = np.concatenate([[f"{a}/{Path(r.source).stem}/{c}" for a, c in zip(r.areas, r.cells, strict=True)]
                              for r in kept])
    ids = np.array([f"natural_scene_{i}" for i in range(n_images)])
    table = (load_stimulus_table(stimuli) if stimuli is not None else
             pd.DataFrame({"stimulus_id": ids, "path": [f"{first}#natural_scenes/{i}" for i in range(n_images)]}))
    source = str(path) if len(files) == 1 else f"{path} ({len(kept)} sessions)"
    degrees = NATURAL_SCENES_DEGREES if templates is not None else None  # the 2-photon rig's geometry
    if templates is None:
        notes.append("a Neuropixels session states no monitor geometry: the stimuli's visual angle is not known "
                     "from the file (give --stimulus-degrees)")
    return Recordings(np.concatenate(blocks, axis=1), ids[stim_index], repetition, region, neuroid,
                      table, source, None, templates, degrees, tuple(notes))
