"""Small recordings written in the layouts their sources publish, with the libraries that write those layouts, and
with a planted answer: each cell's response to each image is known. For the readers' tests, their benchmark, and
for a user checking a reader before trusting it with real data.

* :func:`write_allen_nwb1`: a Visual Coding 2P session as an AllenSDK cache holds it (NWB 1.0, written with h5py at
  the paths AllenSDK reads; the 2-photon timestamps one sample longer than the dF/F, as in those files).
* :func:`write_allen_nwb2`: the same as the DANDI release holds it (NWB 2.0, written with pynwb), optionally with
  that conversion's quirk (blank sweeps stored as image 0) and the ROIs listed out of the table's order.
* :func:`write_allen_neuropixels`: a Visual Coding Neuropixels session (NWB 2.0, pynwb): units, spike times,
  their channels' areas, the natural-scenes presentations; no templates.
* :func:`write_brainio_cache`: an assembly and its stimulus set as brainio leaves them in ``$BRAINIO_HOME``
  (NetCDF written by xarray, a stimulus-set CSV and a zip of PNGs not yet unzipped).
* :func:`write_sensorium_folder`: a Sensorium 2022-style folder of per-trial ``.npy`` files.

The 2-photon sessions are timed as the real ones: images of 250 ms back to back, imaging at 30 Hz, so an image
has 7 or 8 frames of its own. Over its own frames, presentation k of cell c holds ``responses[k, c]`` (the image's
``signal[c, i]`` plus Gaussian noise of SD ``noise``; blank sweeps 0) plus a ramp of zero mean, so that only the
mean over exactly those frames gives the planted value back (a reader taking one frame, or one frame too many, does
not). :attr:`Planted.dff` and :attr:`Planted.frame_times` are the trace as written, for checking other windows.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

FRAME_RATE = 30.0
PRESENTATION_S = 0.25
LEAD_S = 1.0
RAMP = 0.3  # half-range of the zero-mean ramp within a presentation


@dataclass
class Planted:
    """What a written session holds: the signal (cells x images), each presentation's image (-1 blank) and its
    response (presentations x cells, noise included), the templates, the cells' ids and area; for 2-photon files
    the trace as written (cells x frames, in the cells' order) and its frame times; for Neuropixels files the
    presentations' intervals and the good units' spike trains."""

    signal: np.ndarray
    image: np.ndarray
    responses: np.ndarray
    templates: np.ndarray
    cells: np.ndarray
    area: str
    dff: np.ndarray | None = None
    frame_times: np.ndarray | None = None
    intervals: np.ndarray | None = None  # Neuropixels: each presentation's [start, stop) (s)
    spikes: list[np.ndarray] | None = None  # Neuropixels: the good units' spike times (s)


def plant_session(*, area: str = "VISp", n_cells: int = 8, n_images: int = 6, repetitions: int = 10,
                  blanks: int = 4, image_shape: tuple[int, int] = (9, 12), noise: float = 0.0,
                  seed: int = 0, templates: np.ndarray | None = None) -> Planted:
    """A session's planted answer: presentations in a seeded order, each image ``repetitions`` times."""
    rng = np.random.default_rng(seed)
    if templates is None:
        templates = rng.integers(0, 256, (n_images, *image_shape)).astype(np.uint8)
    n_images = len(templates)
    image = rng.permutation(np.concatenate([np.repeat(np.arange(n_images), repetitions), np.full(blanks, -1)]))
    signal = rng.standard_normal((n_cells, n_images)).astype(np.float32)
    responses = np.where(image[:, None] >= 0, signal.T[np.maximum(image, 0)], 0.0)
    responses = (responses + noise * rng.standard_normal(responses.shape) * (image[:, None] >= 0)).astype(np.float32)
    cells = np.arange(500000000, 500000000 + n_cells)  # cell_specimen_ids look like this
    return Planted(signal, image, responses, templates, cells, area)


def onsets(n: int) -> np.ndarray:
    """Presentation onsets (s): 250 ms apart, from 1 s."""
    return LEAD_S + PRESENTATION_S * np.arange(n)


def _trace(p: Planted) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dF/F (cells x frames), frame times (s), each presentation's own frames [start, end)."""
    onset = onsets(len(p.image))
    n = math.ceil((onset[-1] + PRESENTATION_S + LEAD_S) * FRAME_RATE)
    times = np.arange(n) / FRAME_RATE
    # the frame in progress at each onset (the last that started at or before it), as AllenSDK aligns stimuli
    edges = np.searchsorted(times, np.r_[onset, onset[-1] + PRESENTATION_S], side="right") - 1
    dff = np.zeros((len(p.cells), n), dtype=np.float32)
    for k in range(len(p.image)):
        lo, hi = edges[k], edges[k + 1]
        ramp = RAMP * np.linspace(-1.0, 1.0, hi - lo)  # zero mean over exactly these frames
        dff[:, lo:hi] = p.responses[k][:, None] + ramp[None, :]
    p.dff, p.frame_times = dff, times
    return dff, times, np.stack([edges[:-1], edges[1:]], axis=1)


def write_allen_nwb1(path: str | os.PathLike[str], planted: Planted | None = None, **plant: object) -> Planted:
    """A session in the AllenSDK cache's NWB 1.0 layout (h5py), holding ``planted`` (else :func:`plant_session`
    of ``plant``)."""
    import h5py

    p = planted or plant_session(**plant)  # type: ignore[arg-type]
    dff, times, frames = _trace(p)
    pipe = "processing/brain_observatory_pipeline"
    with h5py.File(path, "w") as f:
        f["nwb_version"] = np.bytes_("NWB-1.0.5")
        f[f"{pipe}/DfOverF/imaging_plane_1/data"] = dff
        f[f"{pipe}/DfOverF/imaging_plane_1/timestamps"] = np.append(times, times[-1] + 1 / FRAME_RATE)
        f[f"{pipe}/ImageSegmentation/cell_specimen_ids"] = p.cells
        f["general/optophysiology/imaging_plane_1/location"] = np.bytes_(p.area)
        f["stimulus/presentation/natural_scenes_stimulus/data"] = p.image.astype(np.int64)
        f["stimulus/presentation/natural_scenes_stimulus/frame_duration"] = frames.astype(np.float64)
        f["stimulus/templates/natural_scenes_image_stack/data"] = p.templates.astype(np.float32)
    return p


def write_allen_nwb2(path: str | os.PathLike[str], planted: Planted | None = None, *, blanks_as: str = "dropped",
                     reversed_rois: bool = False, **plant: object) -> Planted:
    """A session in the DANDI release's NWB 2.0 layout (pynwb). ``blanks_as``: "dropped" (no blank sweep in the
    presentations), "zero" (stored as image 0, as that conversion's uint32 cast left them) or "wrapped" (a -1
    wrapped to 2**32 - 1). ``reversed_rois``: the traces' columns list the ROI table's rows in reverse."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.image import GrayscaleImage, Images, IndexSeries
    from pynwb.ophys import DfOverF, ImageSegmentation, OpticalChannel

    if blanks_as not in ("dropped", "zero", "wrapped"):
        raise ValueError(f"blanks_as: dropped, zero or wrapped, not {blanks_as!r}")
    p = planted or plant_session(**plant)  # type: ignore[arg-type]
    dff, times, _ = _trace(p)
    nwb = NWBFile(session_description="Visual Coding 2P session B (test)", identifier=Path(path).stem,
                  session_start_time=datetime(2016, 1, 1, tzinfo=UTC))
    device = nwb.create_device(name="2-photon microscope")
    channel = OpticalChannel(name="channel", description="green", emission_lambda=510.0)
    plane = nwb.create_imaging_plane(name="imaging_plane_1", optical_channel=channel,
                                     description="plane", device=device, excitation_lambda=910.0, indicator="GCaMP6f",
                                     location=p.area, imaging_rate=FRAME_RATE)
    ophys = nwb.create_processing_module(name="ophys", description="optical physiology")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    table = segmentation.create_plane_segmentation(name="PlaneSegmentation", description="ROIs", imaging_plane=plane)
    table.add_column(name="cell_specimen_id", description="the cell's specimen id")
    for i, cell in enumerate(p.cells):
        mask = np.zeros((4, max(4, len(p.cells))), dtype=np.float32)
        mask[i % 4, i] = 1.0
        table.add_roi(image_mask=mask, cell_specimen_id=int(cell))
    rows = list(range(len(p.cells)))[::-1] if reversed_rois else list(range(len(p.cells)))
    rois = table.create_roi_table_region(region=rows, description="every ROI")
    dff_iface = DfOverF(name="DfOverF")
    ophys.add(dff_iface)
    dff_iface.create_roi_response_series(name="DfOverF", data=dff[rows].T, rois=rois, unit="n.a.", timestamps=times)
    images = Images(name="natural_scenes_template", description="natural scenes",
                    images=[GrayscaleImage(name=f"NaturalScene{i}", data=t) for i, t in enumerate(p.templates)])
    nwb.add_stimulus_template(images)
    onset = onsets(len(p.image))
    if blanks_as == "dropped":
        index, onset = p.image[p.image >= 0], onset[p.image >= 0]
    else:
        index = np.where(p.image < 0, 0 if blanks_as == "zero" else 2**32 - 1, p.image)
    nwb.add_stimulus(IndexSeries(name="natural_scenes_stimulus", data=index.astype(np.uint32),
                                 indexed_images=images, unit="N/A", timestamps=onset))
    with NWBHDF5IO(str(path), "w") as io_:
        io_.write(nwb)
    return p


def write_allen_neuropixels(path: str | os.PathLike[str], *, areas: tuple[str, ...] = ("VISp", "LGd"),
                            n_units: int = 8, n_images: int = 6, repetitions: int = 10, blanks: int = 4,
                            seed: int = 0) -> Planted:
    """A Visual Coding Neuropixels session (NWB 2.0, pynwb) as AllenSDK writes it: units with ``spike_times``,
    ``peak_channel_id``, ``quality`` and the three metrics AllenSDK filters on; the electrodes' ``location`` and
    ``valid_data``; ``intervals['natural_scenes_presentations']`` (``frame``: the image, -1 a blank;
    ``start_time``, ``stop_time``); ``invalid_times``. No templates, as in those files.

    Besides the ``n_units`` good units on the ``areas``' channels it writes six units AllenSDK leaves out, one per
    reason: quality "noise", amplitude cutoff 0.2, presence ratio 0.5, ISI violations 0.9, a channel outside the
    brain (location "None"), a channel without valid data. Presentations stop 0-20 ms before the next starts; spikes
    fall inside them (Poisson counts), before the first and after the last, and exactly on some starts and stops
    (a spike at a stop belongs to what follows). One invalid interval tagged "stimulus" covers presentations 3-4.
    ``responses``: each good unit's count in [start, stop) / (stop - start), counted by brute force (presentations
    inside the invalid interval included: the reader must leave them out)."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.epoch import TimeIntervals

    rng = np.random.default_rng(seed)
    p = plant_session(n_cells=n_units, n_images=n_images, repetitions=repetitions, blanks=blanks, seed=seed)
    starts = onsets(len(p.image))
    stops = starts + PRESENTATION_S - rng.uniform(0.0, 0.02, len(starts))
    lam = 3.0 * np.exp(p.signal.T[np.maximum(p.image, 0)]) * (p.image[:, None] >= 0)  # presentations x units
    bad = ["quality", "amplitude_cutoff", "presence_ratio", "isi_violations", "outside", "invalid"]
    total = n_units + len(bad)
    trains = []
    for u in range(total):
        inside = [a + np.sort(rng.uniform(0.0, b - a, c)) for a, b, c in
                  zip(starts, stops, rng.poisson(lam[:, u % n_units]), strict=True)]
        edges = [starts[u % len(starts)], stops[(u + 1) % len(starts)]]  # exactly on a start and on a stop
        trains.append(np.sort(np.concatenate([*inside, edges, [0.1, starts[-1] + 1.0]])))
    nwb = NWBFile(session_description="Visual Coding Neuropixels session (test)", identifier=Path(path).stem,
                  session_start_time=datetime(2019, 1, 1, tzinfo=UTC))
    device = nwb.create_device(name="probeA")
    group = nwb.create_electrode_group(name="probeA", description="Neuropixels probe", location="", device=device)
    nwb.add_electrode_column(name="valid_data", description="whether the channel's data are valid")
    for k, area in enumerate(areas):
        nwb.add_electrode(id=850000000 + k, group=group, location=area, valid_data=True)
    nwb.add_electrode(id=850000100, group=group, location="None", valid_data=True)  # outside the brain
    nwb.add_electrode(id=850000101, group=group, location=areas[0], valid_data=False)
    for name in ("peak_channel_id", "quality", "amplitude_cutoff", "presence_ratio", "isi_violations"):
        nwb.add_unit_column(name=name, description=name)
    for u in range(total):
        why = bad[u - n_units] if u >= n_units else ""
        channel = {"outside": 850000100, "invalid": 850000101}.get(why, 850000000 + u % len(areas))
        nwb.add_unit(id=950000000 + u, spike_times=trains[u], peak_channel_id=channel,
                     quality="noise" if why == "quality" else "good",
                     amplitude_cutoff=0.2 if why == "amplitude_cutoff" else 0.01,
                     presence_ratio=0.5 if why == "presence_ratio" else 0.99,
                     isi_violations=0.9 if why == "isi_violations" else 0.1)
    table = TimeIntervals(name="natural_scenes_presentations",
                          description="Presentation times and stimuli details for 'natural_scenes' stimuli")
    table.add_column(name="frame", description="the image shown, -1 a blank")
    for a, b, image in zip(starts, stops, p.image, strict=True):
        table.add_row(start_time=float(a), stop_time=float(b), frame=float(image))
    nwb.add_time_intervals(table)
    nwb.add_invalid_time_interval(start_time=float(starts[3] + 0.01), stop_time=float(starts[4] + 0.01),
                                  tags=["stimulus"])
    with NWBHDF5IO(str(path), "w") as io_:
        io_.write(nwb)
    counts = np.array([[((t >= a) & (t < b)).sum() for t in trains[:n_units]] for a, b in zip(starts, stops,
                                                                                             strict=True)])
    return Planted(p.signal, p.image, (counts / (stops - starts)[:, None]).astype(np.float32), p.templates,
                   950000000 + np.arange(n_units), ",".join(areas), intervals=np.c_[starts, stops],
                   spikes=trains[:n_units])


def write_brainio_cache(home: str | os.PathLike[str], *, assembly: str = "dicarlo.MajajHong2015.public",
                        stimulus_set: str = "dicarlo.hvm-public", regions: tuple[str, ...] = ("V4", "IT"),
                        n_stimuli: int = 12, n_neuroids: int = 6, repetitions: int = 4, size: int = 16,
                        noise: float = 0.1, seed: int = 0, unzipped: bool = False,
                        time_bins: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """An assembly (NetCDF, dims stored neuroid x presentation x time_bin, ``time_bins`` bins of 50 ms from 70 ms)
    and its stimulus set
    (CSV + zip of PNGs; ``unzipped`` also leaves the files beside them) under ``home`` as brainio names them.
    Returns the signal (stimuli x neuroids) and the images."""
    import xarray as xr
    from PIL import Image

    rng = np.random.default_rng(seed)
    home = Path(home)
    flat_set = stimulus_set.replace(".", "_")
    set_dir = home / f"image_{flat_set}"
    set_dir.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, (n_stimuli, size, size)).astype(np.uint8)
    ids = [f"{h:040x}" for h in rng.integers(0, 2**62, n_stimuli)]  # brainio's ids are hashes
    names = [f"{i}.png" for i in ids]
    with zipfile.ZipFile(set_dir / f"image_{flat_set}.zip", "w") as z:
        for name, im in zip(names, images, strict=True):
            buf = io.BytesIO()
            Image.fromarray(im).save(buf, format="PNG")
            z.writestr(name, buf.getvalue())
            if unzipped:
                (set_dir / name).write_bytes(buf.getvalue())
    pd.DataFrame({"stimulus_id": ids, "filename": names,
                  "object_name": [f"obj{i % 3}" for i in range(n_stimuli)]}).to_csv(
        set_dir / f"image_{flat_set}.csv", index=False)
    signal = rng.standard_normal((n_stimuli, n_neuroids)).astype(np.float32)
    order = np.tile(np.arange(n_stimuli), repetitions)
    values = signal[order][:, :, None] + noise * rng.standard_normal((len(order), n_neuroids, time_bins))
    region = np.array([regions[i * len(regions) // n_neuroids] for i in range(n_neuroids)])
    da = xr.DataArray(values.transpose(1, 0, 2).astype(np.float32), dims=("neuroid", "presentation", "time_bin"),
                      coords={"stimulus_id": ("presentation", np.array(ids)[order]),
                              "repetition": ("presentation", np.repeat(np.arange(repetitions), n_stimuli)),
                              "object_name": ("presentation", [f"obj{i % 3}" for i in order]),
                              "region": ("neuroid", region), "neuroid_id": ("neuroid", [f"Chabo_L_{i}"
                                                                                        for i in range(n_neuroids)]),
                              "time_bin_start": ("time_bin", 70 + 50 * np.arange(time_bins)),
                              "time_bin_end": ("time_bin", 120 + 50 * np.arange(time_bins))},
                      attrs={"stimulus_set_identifier": stimulus_set})
    assy_dir = home / f"assy_{assembly.replace('.', '_')}"
    assy_dir.mkdir(parents=True, exist_ok=True)
    da.to_netcdf(assy_dir / f"assy_{assembly.replace('.', '_')}.nc")
    return signal, images


def write_sensorium_folder(root: str | os.PathLike[str], *, n_images: int = 10, test_images: int = 4,
                           test_repetitions: int = 5, n_neurons: int = 7, withheld_tier: str | None = None,
                           shape: tuple[int, int] = (18, 32), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A Sensorium 2022-style folder: ``n_images`` train images shown once, ``test_images`` shown
    ``test_repetitions`` times; ``withheld_tier`` zeroes that tier's responses (as the competition did). Returns
    the signal (images x neurons, image id order) and the images (float32 grey levels)."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for d in ("data/images", "data/responses", "data/behavior", "meta/trials", "meta/neurons"):
        (root / d).mkdir(parents=True, exist_ok=True)
    total = n_images + test_images
    images = rng.integers(0, 256, (total, 1, *shape)).astype(np.float32)  # stored as float grey levels
    signal = rng.gamma(2.0, 1.0, (total, n_neurons)).astype(np.float32)
    trial_image = np.concatenate([np.arange(n_images), np.repeat(np.arange(n_images, total), test_repetitions)])
    trial_image = rng.permutation(trial_image)
    tiers = np.where(trial_image < n_images, "train", "test")
    for t, i in enumerate(trial_image):
        np.save(root / "data/images" / f"{t}.npy", images[i])
        response = signal[i] if tiers[t] != withheld_tier else np.zeros(n_neurons, np.float32)
        np.save(root / "data/responses" / f"{t}.npy", response)
        np.save(root / "data/behavior" / f"{t}.npy", np.zeros(3, np.float32))
    np.save(root / "meta/trials/frame_image_id.npy", trial_image + 1000)
    np.save(root / "meta/trials/tiers.npy", tiers)
    np.save(root / "meta/neurons/unit_ids.npy", np.arange(1, n_neurons + 1))
    np.save(root / "meta/neurons/area.npy", np.full(n_neurons, "V1"))
    return signal, images[:, 0]
