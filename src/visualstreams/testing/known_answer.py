"""Recordings with a known answer, made from one trained network's own units plus noise of set size: for checking
an analysis, in tests, scripts and tutorials.

:func:`known_answer_recordings` takes a finished run, stimuli, and for each region to make the area it comes
from (``{"V1": "V1", "IT": "IT"}``). Each neuroid is one unit of that area (``units="single"``) or the mean of a
2x2 patch of one channel (``"local"``), z-scored over the stimuli (signal variance exactly 1); each presentation
adds Gaussian noise of standard deviation ``noise``. Units are drawn by a seed among those that vary over the
stimuli.

Why units and not a random linear map of the whole area: the issue that asked for this generator measured such a
map to be predicted about equally well by every area (ridge on 300 stimuli: V1, V2, V4 and IT within 0.01), while
single units keep distant areas apart. Here (scripts/brains_example.py, ridge, 600 stimuli, 30 units, noise 0.3):
V1 units r 0.922 from V1 against 0.849 from IT; IT units 0.987 from IT against 0.964 from V1.

The answer is known twice over: the generating area should be the best-predicting one for its region, and the
split-half ceiling should be :func:`analytic_ceiling` (the reliability of the mean of ``repetitions`` draws:
``1 / (1 + noise^2 / repetitions)``). Imports the area recorder of the predictivity analysis
(analysis.area_activations) and the data layer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.area_activations import stimulus_activations
from ..data.recordings import Recordings
from ..data.stimuli import FIELD_DEGREES, load_stimuli
from ..errors import ConfigError
from ..metrics import at_step

UNITS = ("single", "local")


def analytic_ceiling(noise: float, repetitions: int) -> float:
    """The split-half, Spearman-Brown-corrected reliability the generator's neuroids have in expectation."""
    return 1.0 / (1.0 + noise ** 2 / repetitions)


def stimulus_table(stimuli: pd.DataFrame | Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """A stimulus table (``stimulus_id``, absolute ``path``[, ``object_name``]) from a table or from paths
    (their file stems are the ids)."""
    if isinstance(stimuli, pd.DataFrame):
        if not {"stimulus_id", "path"} <= set(stimuli.columns):
            raise ConfigError("a stimulus table needs columns stimulus_id and path")
        return stimuli.assign(path=[str(Path(p).resolve()) for p in stimuli["path"]]).reset_index(drop=True)
    paths = [Path(p).resolve() for p in stimuli]
    return pd.DataFrame({"stimulus_id": [p.stem for p in paths], "path": [str(p) for p in paths]})


def known_answer_recordings(run_dir: Any, stimuli: pd.DataFrame | Sequence[str | os.PathLike[str]], *,
                            sources: Mapping[str, str] | None = None, n_neuroids: int = 40, noise: float = 0.5,
                            repetitions: int = 10, units: str = "single", seed: int = 0,
                            stimulus_degrees: float = FIELD_DEGREES, field_degrees: float = FIELD_DEGREES,
                            device: str = "cpu") -> Recordings:
    """Recordings of ``n_neuroids`` neuroids per region, made from the run's areas (``sources``: region -> area,
    default V1 and IT from V1 and IT), with ``repetitions`` presentations of every stimulus."""
    if units not in UNITS:
        raise ConfigError(f"units must be one of {', '.join(UNITS)}, got {units!r}")
    if repetitions < 1 or n_neuroids < 1 or not noise >= 0:
        raise ConfigError("known-answer recordings need repetitions >= 1, neuroids >= 1 and noise >= 0")
    sources = dict(sources or {"V1": "V1", "IT": "IT"})
    table = stimulus_table(stimuli)
    paths = list(table["path"])

    def images(size: int, channels: int) -> np.ndarray:
        return load_stimuli(paths, size=size, channels=channels, stimulus_degrees=stimulus_degrees,
                            field_degrees=field_degrees)

    acts = stimulus_activations(run_dir, images, areas=sorted(set(sources.values())), max_features=2**62,
                                device=device)
    shapes = acts.area_shapes  # from the recording's own load of the run: not a second load
    rng = np.random.default_rng(seed)
    signals, regions, ids = [], [], []
    for region, area in sources.items():
        name = area if area in acts.acts else at_step(area, acts.steps - 1)  # a recurrent network: its last step
        x = acts.acts[name].astype(np.float64)
        if units == "local":
            c, h, w = shapes[area]
            grid = x.reshape(len(x), c, h, w)
            hh, ww = max(1, h - 1), max(1, w - 1)
            pooled = np.stack([grid[:, :, i:i + 2, j:j + 2].mean(axis=(2, 3)) for i in range(hh) for j in range(ww)],
                              axis=2)
            x = pooled.reshape(len(x), -1)
        varying = np.flatnonzero(x.std(axis=0) > 1e-6)
        if len(varying) < n_neuroids:
            raise ConfigError(f"area {area} has {len(varying)} units that vary over these stimuli, "
                              f"fewer than {n_neuroids}")
        chosen = np.sort(rng.choice(varying, n_neuroids, replace=False))
        s = x[:, chosen]
        signals.append((s - s.mean(0)) / s.std(0))
        regions += [region] * n_neuroids
        ids += [f"{region}_{area}_{units}{u}" for u in chosen]
    signal = np.concatenate(signals, axis=1)  # stimuli x neuroids, each with variance exactly 1
    n_stim = len(table)
    stim = np.repeat(np.arange(n_stim), repetitions)
    responses = signal[stim] + noise * rng.standard_normal((len(stim), signal.shape[1]))
    return Recordings(responses.astype(np.float32), table["stimulus_id"].to_numpy()[stim],
                      np.tile(np.arange(repetitions), n_stim), np.array(regions), np.array(ids), table,
                      source=f"known answer from {run_dir} ({units} units, noise {noise}, {repetitions} repetitions)")
