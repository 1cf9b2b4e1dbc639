"""Neural recordings a user brings: responses of recorded sites to stimuli, in the field's formats.

One type, :class:`Recordings`, from three file forms (:func:`load_recordings` chooses by the suffix):

* ``.nc``: a neural assembly as Brain-Score/brainio lays it out, an xarray ``DataArray`` in NetCDF with dims
  ``presentation x neuroid [x time_bin]``; ``presentation`` coords ``stimulus_id`` (brainio's older ``image_id``
  too) and ``repetition``, ``neuroid`` coords ``region`` and ``neuroid_id``, ``time_bin`` coords
  ``time_bin_start`` and ``time_bin_end`` (ms). Needs xarray (``pip install 'visualstreams[brains]'``).
* ``.npz``: arrays ``responses`` (presentations x neuroids [x time bins]), ``stimulus_id``, ``region`` (one per
  neuroid) and optionally ``repetition``, ``neuroid_id``, ``time_bin_start``, ``time_bin_end``.
* ``.csv``: one row per presentation: ``stimulus_id``, optionally ``repetition``, then one column per neuroid
  named ``REGION/NEUROID`` (``IT/site17``).

Without a ``repetition``, a stimulus's presentations are numbered in file order. The stimuli are a CSV table
(brainio's StimulusSet): ``stimulus_id`` (or ``image_id``), the image file in ``filename``, ``image_file_name``,
``stimulus_path`` or ``path`` (relative to the table's folder), optionally ``object_name`` (the splits stratify
by it). By default it is ``<recordings stem>_stimuli.csv`` beside the recordings, else ``stimuli.csv`` there.

:func:`load_recordings` also reads recordings as their sources publish them, by the path: ``.nwb`` or a folder of
them (:mod:`.allen`), ``brainio:IDENTIFIER`` (:mod:`.brainio`), a Sensorium-style folder (:mod:`.sensorium`).
Those hold their stimuli (:attr:`Recordings.images`) and may state their visual angle (``stimulus_degrees``).

Every mismatch is refused in one line: a missing file, a stimulus id without an image, an image file that is not
there, NaN or infinite responses, regions that do not match the neuroids. Imports NumPy, pandas, the errors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from .allen import load_allen
from .brainio import load_brainio, read_stimulus_set, stated_degrees, stimulus_set_path
from .recordings_core import (
    FILE_COLUMNS,
    ID_COLUMNS,
    SUFFIXES,
    Recordings,
    complete_fields,
    default_stimuli_path,
    group_means,
    load_stimulus_table,
    read_assembly,
    read_table_form,
    write_recordings,
)
from .sensorium import is_sensorium, load_sensorium

__all__ = ["FILE_COLUMNS", "ID_COLUMNS", "SUFFIXES", "Recordings", "complete_fields", "default_stimuli_path",
           "group_means", "is_recordings", "load_recordings", "load_stimulus_table", "read_assembly",
           "write_recordings"]


# -- any form, chosen by its path ----------------------------------------------------------------------------
def _allen_path(path: Path) -> bool:
    """An Allen session file, or a folder holding some (with its subfolders)."""
    return path.suffix == ".nwb" or (path.is_dir() and any(path.rglob("*.nwb")))


def load_recordings(path: str | os.PathLike[str], stimuli: str | os.PathLike[str] | None = None, *,
                    window_ms: tuple[float, float] | None = None) -> Recordings:
    """Read recordings and their stimuli, the form chosen from ``path``: ``brainio:IDENTIFIER`` (an assembly in
    the brainio cache), an Allen Brain Observatory ``.nwb`` session or a folder of them (``window_ms``: the
    response window after onset), a Sensorium-style folder (``data/`` and ``meta/``), else ``.nc``, ``.npz`` or
    ``.csv`` with the stimulus table ``stimuli`` (see the module docstring)."""
    key = str(path)
    brainio = key.startswith("brainio:")
    path = Path(key)
    allen = not brainio and _allen_path(path)
    if (brainio or path.is_dir()) and not allen and stimuli is not None:
        raise ConfigError(f"recordings {key}: hold their own stimuli; --stimuli is for .nc, .npz and .csv files "
                          "(and Neuropixels sessions)")
    if window_ms is not None and not allen:
        raise ConfigError(f"recordings {key}: a response window applies to Allen sessions (.nwb) only")
    if brainio:
        return load_brainio(key)
    if allen:
        return load_allen(path, window_ms=window_ms, stimuli=stimuli)
    if path.is_dir():
        if is_sensorium(path):
            return load_sensorium(path)
        raise DataError(f"recordings {path}: a folder, but neither of Allen sessions (*.nwb) nor Sensorium-style "
                        "(data/images, data/responses, meta/)")
    if path.suffix not in SUFFIXES:
        raise ConfigError(f"recordings {path}: unknown format {path.suffix or '(no suffix)'} "
                          f"(use {', '.join(SUFFIXES)}, .nwb, a folder, or brainio:IDENTIFIER)")
    if not path.is_file():
        raise DataError(f"recordings {path} not found")
    attrs: dict[str, Any] = {}
    if path.suffix == ".nc":
        fields, attrs = read_assembly(path)
    else:
        fields = read_table_form(path)
    table, images = _stimuli_for(path, stimuli, attrs)
    degrees = fields.pop("stimulus_degrees", None)
    if degrees is None and "stimulus_degrees" in attrs:
        degrees = float(attrs["stimulus_degrees"])
    if degrees is None and path.suffix == ".nc":  # a brainio assembly named as Brain-Score names it
        degrees = stated_degrees(path.stem)
    return Recordings(stimuli=table, source=str(path), images=images, stimulus_degrees=degrees,
                      **complete_fields(fields))


def is_recordings(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names recordings rather than an image dataset: ``brainio:...``, an ``.nwb`` or ``.nc``
    file, a folder of ``.nwb`` sessions or a Sensorium-style folder, an ``.npz`` holding ``responses``, a ``.csv``
    with a ``stimulus_id`` column."""
    key = str(path)
    p = Path(key)
    if key.startswith("brainio:") or p.suffix in (".nwb", ".nc"):
        return True
    if p.is_dir():
        return _allen_path(p) or is_sensorium(p)
    try:
        if p.suffix == ".npz" and p.is_file():
            with np.load(p, allow_pickle=False) as z:
                return "responses" in z.files
        if p.suffix == ".csv" and p.is_file():
            with open(p, encoding="utf-8", errors="replace") as fh:
                return "stimulus_id" in fh.readline().strip().split(",")
    except (OSError, ValueError):
        return False
    return False


def _stimuli_for(path: Path, stimuli: str | os.PathLike[str] | None,
                 attrs: dict[str, Any]) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The stimulus table given, else the one beside the recordings, else (a brainio assembly in its cache) the
    stimulus set its ``stimulus_set_identifier`` names; a set whose images are only in its zip is read from it."""
    if stimuli is not None:
        return read_stimulus_set(stimuli)
    beside = default_stimuli_path(path)
    if not beside.is_file() and attrs.get("stimulus_set_identifier"):
        try:
            return read_stimulus_set(stimulus_set_path(str(attrs["stimulus_set_identifier"]), path.parent.parent))
        except DataError:
            pass  # not in a brainio cache: refused below for the table beside it
    return read_stimulus_set(beside)


