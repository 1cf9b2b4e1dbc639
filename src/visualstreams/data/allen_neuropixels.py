"""The Allen Brain Observatory's Visual Coding Neuropixels sessions (NWB 2.0, opened by
:func:`visualstreams.data.allen.read_nwb2`): each unit's firing rate per natural-scenes presentation.

What is read (the layout AllenSDK's ecephys NWB files have): ``units`` (``spike_times``, ``peak_channel_id`` and
the quality metrics), the electrodes' ``location`` (a unit's area is its peak channel's) and ``valid_data``,
``intervals['natural_scenes_presentations']`` (``frame``: the image, -1 a blank; ``start_time``, ``stop_time``)
and ``invalid_times``. Units and presentations are kept as AllenSDK's defaults keep them (see :data:`QUALITY`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .nwb import check_window, text


@dataclass
class SpikeSession:
    """One Neuropixels session's natural-scenes data: each unit's spike times and its area."""

    source: str
    form: str
    areas: np.ndarray  # (units,) str: the structure of the unit's peak channel
    cells: np.ndarray  # (units,) str
    spikes: list[np.ndarray]  # per unit, sorted, s
    image: np.ndarray
    onset: np.ndarray
    offset: np.ndarray
    templates: np.ndarray | None = None  # the session files hold none
    notes: tuple[str, ...] = ()

    def responses(self, window_ms: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Presentations of an image (blanks dropped) -> (image index, each unit's firing rate, spikes per second,
        from start to stop time or in ``window_ms`` after onset)."""
        shown = self.image >= 0
        if window_ms is None:
            lo_t, hi_t = self.onset[shown], self.offset[shown]
        else:
            start, end = check_window(window_ms)
            lo_t, hi_t = self.onset[shown] + start / 1000.0, self.onset[shown] + end / 1000.0
        rates = np.empty((int(shown.sum()), len(self.spikes)), dtype=np.float32)
        for u, times in enumerate(self.spikes):  # spikes in [lo, hi): two binary searches per presentation
            rates[:, u] = np.searchsorted(times, hi_t, side="left") - np.searchsorted(times, lo_t, side="left")
        return self.image[shown], rates / (hi_t - lo_t)[:, None].astype(np.float32)


# AllenSDK's EcephysSession defaults: quality "good", amplitude_cutoff_maximum 0.1, presence_ratio_minimum 0.95,
# isi_violations_maximum 0.5
QUALITY = {
    "quality": lambda v: np.array([(x.decode() if isinstance(x, bytes) else str(x)) == "good" for x in v]),
    "amplitude_cutoff": lambda v: np.asarray(v, dtype=float) <= 0.1,
    "presence_ratio": lambda v: np.asarray(v, dtype=float) >= 0.95,
    "isi_violations": lambda v: np.asarray(v, dtype=float) <= 0.5,
}


def read_neuropixels(nwb: Any, path: Path) -> SpikeSession:
    """The units, their areas and the natural-scenes presentations of an open Neuropixels NWB file."""
    units = nwb.units
    missing = [f"units' {c}" for c in ("spike_times", "peak_channel_id") if c not in units.colnames]
    if nwb.electrodes is None or "location" not in nwb.electrodes.colnames:
        missing.append("electrodes' location")
    if missing:
        raise DataError(f"{path}: a Neuropixels session without {', '.join(missing)}")
    index = units["spike_times"]  # ragged: the flat times and each unit's end
    flat, ends = np.asarray(index.target.data[:], dtype=np.float64), np.asarray(index.data[:], dtype=np.int64)
    spikes = [np.sort(t) for t in np.split(flat, ends[:-1])]
    channel = np.asarray(units["peak_channel_id"].data[:]).astype(np.int64)
    where = dict(zip(np.asarray(nwb.electrodes.id.data[:]).astype(np.int64).tolist(),
                     [text(x) for x in nwb.electrodes["location"].data[:]], strict=True))
    unknown = sorted(set(channel.tolist()) - set(where))
    if unknown:
        raise DataError(f"{path}: peak channel {unknown[0]} of a unit is not in the electrodes table")
    # AllenSDK's defaults: units on a channel in the brain (a structure) whose data are valid, then its metrics
    area = np.array([where[c] for c in channel])
    keep = ~np.isin(np.char.lower(area.astype(str)), ("", "none", "nan"))
    if "valid_data" in nwb.electrodes.colnames:
        valid = dict(zip(where, np.asarray(nwb.electrodes["valid_data"].data[:]).astype(bool).tolist(), strict=True))
        keep &= np.array([valid[c] for c in channel], dtype=bool)
    for column, ok in QUALITY.items():
        if column in units.colnames:
            keep &= ok(np.asarray(units[column].data[:]))
    notes = []
    if not keep.all():
        notes.append(f"{path.name}: {int((~keep).sum())} of {len(keep)} units left out by AllenSDK's default "
                     "filters (a peak channel in a structure, with valid data; quality good, amplitude cutoff <= "
                     "0.1, presence ratio >= 0.95, ISI violations <= 0.5)")
    table = nwb.intervals["natural_scenes_presentations"]
    image = np.asarray(table["frame"].data[:], dtype=np.float64)
    if not np.isfinite(image).all() or (image != np.round(image)).any():
        raise DataError(f"{path}: natural_scenes_presentations' frame holds values that are not image indices")
    image = image.astype(np.int64)
    start = np.asarray(table["start_time"].data[:], dtype=np.float64)
    stop = np.asarray(table["stop_time"].data[:], dtype=np.float64)
    empty = (stop <= start) & (image >= 0)
    if empty.any():  # nothing to count over: left out, not a reason to refuse the session
        image = np.where(empty, -1, image)
        notes.append(f"{path.name}: {int(empty.sum())} presentations that stop when they start left out")
    if nwb.invalid_times is not None and len(nwb.invalid_times):
        inv = nwb.invalid_times
        tags = [[text(t) for t in row] for row in inv["tags"][:]] if "tags" in inv.colnames else []
        bad = [(a, b) for a, b, t in zip(inv["start_time"][:], inv["stop_time"][:], tags or [[]] * len(inv),
                                         strict=True) if not tags or "stimulus" in t]
        hit = np.zeros(len(image), dtype=bool)
        for a, b in bad:  # AllenSDK masks the presentations that overlap an invalid stimulus interval
            hit |= (start < b) & (stop > a)
        hit &= image >= 0
        if hit.any():
            image = np.where(hit, -1, image)
            notes.append(f"{path.name}: {int(hit.sum())} presentations inside invalid_times left out")
    ids = np.asarray(units.id.data[:]).astype(str)
    return SpikeSession(str(path), "NWB 2.0 (Neuropixels)", area[keep], ids[keep],
                        [t for t, k in zip(spikes, keep, strict=True) if k], image, start, stop, None, tuple(notes))
