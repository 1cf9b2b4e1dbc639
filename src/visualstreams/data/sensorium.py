"""Sensorium 2022-style folders, read as published (the competition's "Dataset Structure" page): one ``.npy`` per
trial in ``data/images`` (1 x H x W, grey levels) and ``data/responses`` (one value per neuron: deconvolved calcium
activity), the trial metadata as one array each in ``meta/trials`` (``frame_image_id``: the image shown, repeated
where an image was shown again; ``tiers``: train, validation, test, final_test) and the neurons' in
``meta/neurons`` (``unit_ids``, ``area``). The file names carry the trial's index into those arrays and nothing
else.

Read only: nothing is written into the folder. Trials whose responses are all zero are left out (the competition
withheld the test tiers' responses as zeros), said in a note. Each image is a stimulus ``image_<frame_image_id>``
and its trials its repetitions; the behaviour and pupil arrays are not read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .recordings_core import Recordings

NEEDED = ("data/images", "data/responses", "meta/trials/frame_image_id.npy", "meta/neurons/unit_ids.npy")


def is_sensorium(path: str | os.PathLike[str]) -> bool:
    """Whether a folder looks like a Sensorium dataset (``data/`` with images and responses, ``meta/``)."""
    path = Path(path)
    return (path / "data" / "responses").is_dir() and (path / "meta").is_dir()


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npy ({type(exc).__name__})") from None


def load_sensorium(path: str | os.PathLike[str], tiers: tuple[str, ...] | None = None) -> Recordings:
    """A Sensorium-style folder as :class:`~visualstreams.data.recordings.Recordings` (see the module docstring);
    ``tiers`` keeps only those trials' tiers (default all)."""
    root = Path(path)
    missing = [n for n in NEEDED if not (root / n).exists()]
    if missing:
        raise DataError(f"Sensorium folder {root}: lacks {', '.join(missing)}")
    image_id = _load(root / "meta/trials/frame_image_id.npy").astype(str)
    units = _load(root / "meta/neurons/unit_ids.npy").astype(str)
    area_file = root / "meta/neurons/area.npy"
    area = _load(area_file).astype(str) if area_file.exists() else np.full(len(units), "V1")
    if len(area) != len(units):
        raise DataError(f"{area_file}: {len(area)} areas for {len(units)} neurons")
    tier_file = root / "meta/trials/tiers.npy"
    tier = _load(tier_file).astype(str) if tier_file.exists() else np.full(len(image_id), "")
    if len(tier) != len(image_id):
        raise DataError(f"{tier_file}: {len(tier)} tiers for {len(image_id)} trials")
    trials = np.arange(len(image_id))
    if tiers is not None:
        unknown = sorted(set(tiers) - set(tier))
        if unknown:
            raise DataError(f"Sensorium folder {root}: no trials in tier {unknown[0]!r} "
                            f"(tiers: {', '.join(sorted(set(tier)))})")
        trials = trials[np.isin(tier, list(tiers))]
    responses = np.empty((len(trials), len(units)), dtype=np.float32)
    for row, t in enumerate(trials):
        f = root / "data/responses" / f"{t}.npy"
        if not f.is_file():
            raise DataError(f"Sensorium folder {root}: trial {t} has no data/responses/{t}.npy")
        r = _load(f).reshape(-1)
        if r.shape != (len(units),):
            raise DataError(f"{f}: {r.size} responses for {len(units)} neurons")
        responses[row] = r
    withheld = ~responses.any(axis=1)
    notes: tuple[str, ...] = ()
    if withheld.any():
        held = sorted(set(tier[trials[withheld]]))
        notes = (f"{int(withheld.sum())} trials whose responses are all zero (withheld: tier "
                 f"{', '.join(held) or 'none'}) were left out",)
        trials, responses = trials[~withheld], responses[~withheld]
    if not len(trials):
        raise DataError(f"Sensorium folder {root}: no trial has responses")
    ids = np.array([f"image_{i}" for i in image_id[trials]])
    first = pd.Series(trials).groupby(ids).first()  # one trial's file per image
    images = []
    for t in first.to_numpy():
        f = root / "data/images" / f"{t}.npy"
        if not f.is_file():
            raise DataError(f"Sensorium folder {root}: trial {t} has no data/images/{t}.npy")
        a = np.squeeze(_load(f))
        if a.ndim != 2 or not (np.isfinite(a).all() and a.min() >= 0 and a.max() <= 255):
            raise DataError(f"{f}: not a grey image of levels 0-255 (shape {a.shape})")
        images.append(np.round(a).astype(np.uint8))
    if len({a.shape for a in images}) > 1:
        raise DataError(f"Sensorium folder {root}: its images differ in size")
    table = pd.DataFrame({"stimulus_id": first.index.astype(str),
                          "path": [str(root / "data/images" / f"{t}.npy") for t in first.to_numpy()]})
    rep = pd.Series(ids).groupby(ids).cumcount().to_numpy()
    return Recordings(responses, ids, rep, area, units, table, str(root), None, np.stack(images), None, notes)
