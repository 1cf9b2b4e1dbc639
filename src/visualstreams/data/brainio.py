"""Brain-Score's public assemblies, read from a local brainio cache or from the files themselves.

brainio (brain-score/brainio, ``brainio/fetch.py``) keeps what it downloads under ``$BRAINIO_HOME`` (default
``~/.brainio``), one folder per file named as the file without its suffix: Brain-Score vision 2.x
(``brainscore_vision/data_helpers/s3.py``) names an assembly ``assy_<identifier, dots as underscores>.nc`` and a
stimulus set ``image_<identifier>.csv`` with its images in ``image_<identifier>.zip`` (unzipped beside it when
brainio loads it). ``brainio:MajajHong2015.public`` finds ``assy_*MajajHong2015_public.nc`` there (older
identifiers carry the lab, ``dicarlo.MajajHong2015.public``: either is found), reads it as the NetCDF form of
:mod:`visualstreams.data.recordings` (presentation x neuroid x time_bin; its regions, repetitions and time bins
kept) and joins its stimulus ids to the stimulus set the assembly names in its ``stimulus_set_identifier``
attribute: the unzipped files where brainio left them, else the images read from the zip without unzipping it.

Stimulus visual angle where Brain-Score's benchmarks state it (``VISUAL_DEGREES`` in
``brainscore_vision/benchmarks/<name>``): :data:`VISUAL_DEGREES`.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, did_you_mean
from .recordings_core import (
    FILE_COLUMNS,
    ID_COLUMNS,
    Recordings,
    complete_fields,
    load_stimulus_table,
    read_assembly,
)

HOME_VARIABLE = "BRAINIO_HOME"
PREFIX = "brainio:"
# Brain-Score vision's benchmarks: majajhong2015 and freemanziemba2013 (benchmarks/*/benchmark.py)
VISUAL_DEGREES = {"MajajHong2015": 8.0, "FreemanZiemba2013": 4.0}


def stated_degrees(name: str) -> float | None:
    """The visual angle Brain-Score's benchmark states for an assembly, by its identifier or file name."""
    return next((d for key, d in VISUAL_DEGREES.items() if key in name), None)


def cache_home() -> Path:
    """brainio's cache folder: ``$BRAINIO_HOME``, else ``~/.brainio``, as brainio's ``get_local_data_path``."""
    return Path(os.path.expanduser(os.environ.get(HOME_VARIABLE, "~/.brainio")))


def _flat(identifier: str) -> str:
    return identifier.replace(".", "_")


def _find(home: Path, prefix: str, identifier: str, suffix: str) -> Path:
    flat = _flat(identifier)
    found = sorted(p for p in home.glob(f"{prefix}*/*{suffix}")
                   if p.stem in (f"{prefix}{flat}",) or p.stem.endswith(f"_{flat}") and p.stem.startswith(prefix))
    kind = "assembly" if prefix == "assy_" else "stimulus set"
    if not found:
        held = sorted(p.stem.removeprefix(prefix) for p in home.glob(f"{prefix}*/*{suffix}"))
        raise DataError(f"brainio {kind} {identifier!r} is not in the cache {home} (${HOME_VARIABLE})"
                        + (did_you_mean(flat, held) or f"; it holds {', '.join(held[:6]) or 'none'}"))
    if len(found) > 1:
        raise DataError(f"brainio {kind} {identifier!r} matches {len(found)} files in {home}: "
                        f"{', '.join(p.name for p in found)}; give the full identifier")
    return found[0]


def assembly_path(identifier: str, home: str | os.PathLike[str] | None = None) -> Path:
    """The cached NetCDF of an assembly identifier (``MajajHong2015.public``)."""
    return _find(Path(home) if home is not None else cache_home(), "assy_", identifier, ".nc")


def stimulus_set_path(identifier: str, home: str | os.PathLike[str] | None = None) -> Path:
    """The cached CSV of a stimulus set identifier (``dicarlo.hvm-public``)."""
    return _find(Path(home) if home is not None else cache_home(), "image_", identifier, ".csv")


def read_stimulus_set(csv: str | os.PathLike[str]) -> tuple[pd.DataFrame, np.ndarray | None]:
    """A stimulus set: its table, and its images when they are only in the zip beside it (``<stem>.zip``), read
    from the zip (uint8, as Pillow decodes them; all one size); None when the files are there to read."""
    csv = Path(csv)
    zipped = csv.with_suffix(".zip")
    try:
        return load_stimulus_table(csv), None
    except DataError:
        if not zipped.is_file():
            raise
    from PIL import Image, UnidentifiedImageError

    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    id_col = next((c for c in ID_COLUMNS if c in table.columns), None)
    file_col = next((c for c in FILE_COLUMNS if c in table.columns), None)
    if id_col is None or file_col is None:
        raise DataError(f"stimulus set {csv}: needs a stimulus_id column and a file column ({', '.join(FILE_COLUMNS)})")
    try:
        archive = zipfile.ZipFile(zipped)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"stimulus set {zipped}: not a readable zip ({type(exc).__name__})") from None
    with archive:
        files = [n for n in archive.namelist() if not n.endswith("/")]
        by_name: dict[str, list[str]] = {}
        for n in files:
            by_name.setdefault(Path(n).name, []).append(n)
        images, read = [], []
        for sid, name in zip(table[id_col], table[file_col], strict=True):
            # the table's path inside the zip, else the one member of that file name
            member = name if name in files else (by_name.get(Path(name).name) or [None, None])
            if isinstance(member, list):
                if len(member) != 1:
                    raise DataError(f"stimulus set {zipped}: {'has no' if not member[0] else 'has several'} "
                                    f"{Path(name).name} (stimulus id {sid!r})")
                member = member[0]
            read.append(member)
            try:
                with Image.open(io.BytesIO(archive.read(member))) as im:
                    if im.mode in ("I", "I;16", "I;16B", "F"):  # Pillow would clip them to 8 bits, not scale
                        raise DataError(f"stimulus set {zipped}: {member} is a {im.mode} image, not 8-bit; "
                                        "unzip the set beside its CSV as 8-bit images")
                    if im.mode in ("L", "1"):
                        images.append(np.asarray(im.convert("L")))
                    else:  # colour, or a palette: grey when its three channels agree
                        rgb = np.asarray(im.convert("RGB"))
                        grey = (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
                        images.append(rgb[..., 0].copy() if grey else rgb)
            except (UnidentifiedImageError, OSError) as exc:
                raise DataError(f"stimulus set {zipped}: {member} is not a readable image "
                                f"({type(exc).__name__})") from None
    if any(a.ndim == 3 for a in images):  # some in colour: every one as RGB
        images = [a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=2) for a in images]
    shapes = {a.shape for a in images}
    if len(shapes) > 1:
        raise DataError(f"stimulus set {zipped}: its images differ in size ({len(shapes)} sizes); unzip it beside "
                        f"{csv.name}, as brainio does, so that each file is read as it is")
    out = pd.DataFrame({"stimulus_id": table[id_col].astype(str), "path": [f"{zipped}#{m}" for m in read]})
    if "object_name" in table.columns:
        out["object_name"] = table["object_name"]
    return out, np.stack(images) if images else np.zeros((0, 1, 1), np.uint8)


def load_brainio(identifier: str, home: str | os.PathLike[str] | None = None) -> Recordings:
    """An assembly from the brainio cache by its identifier, joined to its stimulus set (see the module
    docstring)."""
    identifier = identifier.removeprefix(PREFIX)
    nc = assembly_path(identifier, home)
    fields, attrs = read_assembly(nc)
    stim_id = attrs.get("stimulus_set_identifier")
    if not stim_id:
        raise DataError(f"{nc}: names no stimulus_set_identifier; give the stimulus set's CSV with --stimuli "
                        "and the .nc file as --recordings")
    table, images = read_stimulus_set(stimulus_set_path(str(stim_id), home))
    degrees = stated_degrees(identifier)
    return Recordings(stimuli=table, source=f"{PREFIX}{identifier}", images=images, stimulus_degrees=degrees,
                      **complete_fields(fields))
