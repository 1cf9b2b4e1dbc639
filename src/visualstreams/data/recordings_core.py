"""The :class:`Recordings` type and our own file forms of it (.nc, .npz, .csv), with their stimulus tables: what
the readers of published layouts (:mod:`.allen`, :mod:`.brainio`, :mod:`.sensorium`) build on, below them.
:mod:`visualstreams.data.recordings` is the public face: it reads any form (``load_recordings``) and re-exports
this module. The forms are described there.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError

SUFFIXES = (".nc", ".npz", ".csv")
ID_COLUMNS = ("stimulus_id", "image_id")  # brainio renamed image_id to stimulus_id in 2022
FILE_COLUMNS = ("filename", "image_file_name", "stimulus_path", "path")


@dataclass
class Recordings:
    """Responses (presentations x neuroids [x time bins], float32) with their coordinates and stimuli.

    ``stimuli``: one row per stimulus id, columns ``stimulus_id``, ``path`` (absolute; where the source holds its
    images, where in it they are) and, where the table had one, ``object_name``; ordered as :attr:`stimulus_ids`.
    ``images``: the stimuli themselves (uint8, stimuli x H x W, or x 3 for colour; rows as ``stimuli``) when the
    source holds them rather than image files. ``stimulus_degrees``: the visual angle of the stimuli's longer side
    where the source states it (else None: the analysis's own default).
    """

    responses: np.ndarray
    stimulus_id: np.ndarray  # (presentations,) str
    repetition: np.ndarray  # (presentations,) int
    region: np.ndarray  # (neuroids,) str
    neuroid_id: np.ndarray  # (neuroids,) str
    stimuli: pd.DataFrame
    source: str = ""
    time_bins: list[tuple[float, float]] | None = None
    images: np.ndarray | None = field(default=None, repr=False)
    stimulus_degrees: float | None = None
    notes: tuple[str, ...] = ()  # what reading the source decided (left-out presentations, a conversion's quirk)
    _index: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.responses = np.asarray(self.responses, dtype=np.float32)
        self.stimulus_id = np.asarray(self.stimulus_id).astype(str)
        self.region = np.asarray(self.region).astype(str)
        self.neuroid_id = np.asarray(self.neuroid_id).astype(str)
        self.repetition = np.asarray(self.repetition).astype(int)
        where = self.source or "recordings"
        if self.responses.ndim not in (2, 3):
            raise DataError(f"{where}: responses must be presentations x neuroids [x time bins], "
                            f"got {self.responses.ndim} dimensions")
        n_pres, n_neur = self.responses.shape[:2]
        for name, arr, n in (("stimulus_id", self.stimulus_id, n_pres), ("repetition", self.repetition, n_pres),
                             ("region", self.region, n_neur), ("neuroid_id", self.neuroid_id, n_neur)):
            if arr.shape != (n,):
                raise DataError(f"{where}: {name} has {arr.size} entries for {n} "
                                f"{'presentations' if n is n_pres else 'neuroids'}")
        if n_pres == 0 or n_neur == 0:
            raise DataError(f"{where}: no responses ({n_pres} presentations x {n_neur} neuroids)")
        bad = ~np.isfinite(self.responses)
        if bad.any():
            p, q = np.argwhere(bad)[0][:2]
            raise DataError(f"{where}: {int(bad.sum())} NaN or infinite responses (first: stimulus "
                            f"{str(self.stimulus_id[p])!r}, neuroid {str(self.neuroid_id[q])!r}); drop or fill them "
                            "first")
        if len(set(self.neuroid_id)) != n_neur:
            raise DataError(f"{where}: neuroid ids are not unique")
        ids = self.stimuli["stimulus_id"].astype(str)
        missing = sorted(str(i) for i in set(self.stimulus_id) - set(ids))
        if missing:
            raise DataError(f"{where}: stimulus id {missing[0]!r} has no image in the stimulus table"
                            f"{f' ({len(missing)} ids lack one)' if len(missing) > 1 else ''}")
        if self.images is not None:
            self.images = np.asarray(self.images)
            if self.images.dtype != np.uint8 or self.images.ndim not in (3, 4) or len(self.images) != len(ids) or (
                    self.images.ndim == 4 and self.images.shape[3] != 3):
                raise DataError(f"{where}: images must be uint8, one per stimulus ({len(ids)}), each H x W or "
                                f"H x W x 3; got {self.images.dtype} {self.images.shape}")
        if self.stimulus_degrees is not None and not (0 < self.stimulus_degrees < 360):
            raise DataError(f"{where}: stimulus degrees must be between 0 and 360, got {self.stimulus_degrees}")
        keep = (ids.isin(set(self.stimulus_id)) & ~ids.duplicated()).to_numpy()
        self.stimuli = self.stimuli[keep].reset_index(drop=True)
        if self.images is not None:
            self.images = self.images[keep]
        self.stimuli["stimulus_id"] = self.stimuli["stimulus_id"].astype(str)
        position = {s: i for i, s in enumerate(self.stimuli["stimulus_id"])}
        self._index = np.array([position[s] for s in self.stimulus_id])

    # -- shape --------------------------------------------------------------------------------------------
    @property
    def stimulus_ids(self) -> list[str]:
        return list(self.stimuli["stimulus_id"])

    @property
    def regions(self) -> list[str]:
        return list(dict.fromkeys(self.region))

    @property
    def stimulus_index(self) -> np.ndarray:
        """Each presentation's row in :attr:`stimuli`."""
        assert self._index is not None
        return self._index

    def repetitions(self) -> np.ndarray:
        """Presentations per stimulus, in :attr:`stimulus_ids` order."""
        return np.bincount(self.stimulus_index, minlength=len(self.stimuli))

    def info(self) -> dict[str, Any]:
        reps = self.repetitions()
        return {"source": self.source, "stimuli": len(self.stimuli), "presentations": len(self.stimulus_id),
                "neuroids": {r: int((self.region == r).sum()) for r in self.regions},
                "repetitions": (int(reps.min()), int(reps.max())),
                "time_bins": len(self.time_bins) if self.time_bins else 0,
                "objects": int(self.stimuli["object_name"].nunique()) if "object_name" in self.stimuli else 0,
                "stimulus_degrees": self.stimulus_degrees}

    def describe(self) -> str:
        i = self.info()
        lo, hi = i["repetitions"]
        neur = ", ".join(f"{r} {n}" for r, n in i["neuroids"].items())
        return (f"{i['source'] or 'recordings'}: {i['stimuli']} stimuli, {i['presentations']} presentations "
                f"({lo if lo == hi else f'{lo}-{hi}'} repetitions each), neuroids: {neur}"
                + (f", {i['time_bins']} time bins" if i["time_bins"] else "")
                + (f", {i['objects']} objects" if i["objects"] else ""))

    # -- selections ---------------------------------------------------------------------------------------
    def select_regions(self, regions: list[str] | tuple[str, ...]) -> Recordings:
        unknown = [r for r in regions if r not in self.regions]
        if unknown:
            raise ConfigError(f"region {unknown[0]!r} is not in the recordings (regions: {', '.join(self.regions)})")
        keep = np.isin(self.region, list(regions))
        return Recordings(self.responses[:, keep], self.stimulus_id, self.repetition, self.region[keep],
                          self.neuroid_id[keep], self.stimuli, self.source, self.time_bins, self.images,
                          self.stimulus_degrees, self.notes)

    def stimulus_inputs(self, *, size: int, channels: int, stimulus_degrees: float, field_degrees: float,
                        background: int = 0) -> np.ndarray:
        """The stimuli as a network's input, uint8 (stimuli x channels x size x size) by the rule of
        :mod:`visualstreams.data.stimuli`: from :attr:`images` where the source holds them, else from the files."""
        from .stimuli import load_stimuli, place_images

        kw = {"size": size, "channels": channels, "stimulus_degrees": stimulus_degrees,
              "field_degrees": field_degrees, "background": background}
        if self.images is not None:
            return place_images(self.images, **kw)
        return load_stimuli(list(self.stimuli["path"]), **kw)

    def over_time(self, time_bin: int | None = None) -> np.ndarray:
        """Presentations x neuroids: one time bin's responses, or (None) their mean over time bins."""
        if self.responses.ndim == 2:
            if time_bin not in (None, 0):
                raise ConfigError("these recordings have no time bins")
            return self.responses
        if time_bin is None:
            return self.responses.mean(axis=2)
        if not 0 <= time_bin < self.responses.shape[2]:
            raise ConfigError(f"time bin {time_bin} out of range (0-{self.responses.shape[2] - 1})")
        return self.responses[:, :, time_bin]

    def averaged(self, time_bin: int | None = None) -> np.ndarray:
        """Stimuli x neuroids: the mean over each stimulus's repetitions, rows in :attr:`stimulus_ids` order."""
        return group_means(self.over_time(time_bin), self.stimulus_index, len(self.stimuli))


def group_means(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Row means per group (``groups[i]`` = row i's group) as one sparse product: no Python loop over rows."""
    from scipy import sparse

    counts = np.bincount(groups, minlength=n_groups).astype(np.float64)
    weights = 1.0 / counts[groups]
    indicator = sparse.csr_matrix((weights, (groups, np.arange(len(groups)))), shape=(n_groups, len(groups)))
    return np.asarray(indicator @ values, dtype=np.float32)


# -- stimuli --------------------------------------------------------------------------------------------------
def default_stimuli_path(recordings: Path) -> Path:
    beside = recordings.with_name(f"{recordings.stem}_stimuli.csv")
    return beside if beside.is_file() else recordings.with_name("stimuli.csv")


def load_stimulus_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A stimulus table (CSV) -> ``stimulus_id``, ``path`` (absolute, each file checked), [``object_name``]."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"stimulus table {path} not found (give --stimuli CSV with stimulus_id and filename)")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"stimulus table {path}: unreadable ({type(exc).__name__})") from None
    id_col = next((c for c in ID_COLUMNS if c in table.columns), None)
    file_col = next((c for c in FILE_COLUMNS if c in table.columns), None)
    if id_col is None or file_col is None:
        raise DataError(f"stimulus table {path}: needs a stimulus_id column and a file column "
                        f"({', '.join(FILE_COLUMNS)}); has {', '.join(table.columns) or 'none'}")
    if table[id_col].duplicated().any():
        twice = str(table[id_col][table[id_col].duplicated()].iloc[0])
        raise DataError(f"stimulus table {path}: stimulus id {twice!r} is listed twice")
    files = [(path.parent / f).resolve() if f else None for f in table[file_col]]
    for sid, f in zip(table[id_col], files, strict=True):
        if f is None or not f.is_file():
            raise DataError(f"stimulus file {f or '(empty)'} is missing (stimulus id {sid!r}, {path})")
    out = pd.DataFrame({"stimulus_id": table[id_col].astype(str), "path": [str(f) for f in files]})
    if "object_name" in table.columns:
        out["object_name"] = table["object_name"]
    return out


def complete_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Fill what a form may leave out: repetitions numbered in file order, neuroid ids ``n0, n1, ...``."""
    fields = dict(fields)
    if fields.get("repetition") is None:
        fields["repetition"] = _number_repetitions(np.asarray(fields["stimulus_id"]).astype(str))
    if fields.get("neuroid_id") is None:
        fields["neuroid_id"] = np.array([f"n{i}" for i in range(len(fields["region"]))])
    return fields


def _number_repetitions(ids: np.ndarray) -> np.ndarray:
    return pd.Series(ids).groupby(ids).cumcount().to_numpy()


def _time_bins(start: Any, end: Any) -> list[tuple[float, float]] | None:
    if start is None or end is None:
        return None
    return [(float(a), float(b)) for a, b in zip(np.asarray(start), np.asarray(end), strict=True)]


def read_table_form(path: Path) -> dict[str, Any]:
    """An ``.npz`` or ``.csv`` recordings file -> the recordings' fields (see :mod:`visualstreams.data.recordings`)."""
    return {".npz": _read_npz, ".csv": _read_csv}[path.suffix](path)


def _read_npz(path: Path) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"recordings {path}: not a readable .npz ({type(exc).__name__})") from None
    missing = [k for k in ("responses", "stimulus_id", "region") if k not in arrays]
    if missing:
        raise DataError(f"recordings {path}: lacks array(s) {', '.join(missing)} "
                        f"(has {', '.join(arrays) or 'none'})")
    return {"responses": arrays["responses"], "stimulus_id": arrays["stimulus_id"], "region": arrays["region"],
            "repetition": arrays.get("repetition"), "neuroid_id": arrays.get("neuroid_id"),
            "time_bins": _time_bins(arrays.get("time_bin_start"), arrays.get("time_bin_end")),
            "stimulus_degrees": float(arrays["stimulus_degrees"]) if "stimulus_degrees" in arrays else None}


def _read_csv(path: Path) -> dict[str, Any]:
    try:
        table = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"recordings {path}: unreadable CSV ({type(exc).__name__})") from None
    if "stimulus_id" not in table.columns:
        raise DataError(f"recordings {path}: needs a stimulus_id column")
    neuroids = [c for c in table.columns if c not in ("stimulus_id", "repetition")]
    unnamed = [c for c in neuroids if "/" not in c]
    if unnamed or not neuroids:
        raise DataError(f"recordings {path}: neuroid columns are named REGION/NEUROID"
                        f"{f', not {unnamed[0]!r}' if unnamed else ' (none found)'}")
    values = table[neuroids].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
    return {"responses": values, "stimulus_id": table["stimulus_id"].astype(str).to_numpy(),
            "repetition": table["repetition"].to_numpy() if "repetition" in table.columns else None,
            "region": np.array([c.split("/", 1)[0] for c in neuroids]),
            "neuroid_id": np.array(neuroids), "time_bins": None}


def _xarray() -> Any:
    try:
        import xarray
    except ImportError:
        raise ConfigError("reading or writing NetCDF recordings needs xarray: "
                          "pip install 'visualstreams[brains]' (or use .npz / .csv)") from None
    return xarray


def read_assembly(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A NetCDF assembly (brainio's layout) -> the recordings' fields and the file's attributes. Its dims may be
    stored in any order; they are read as presentation x neuroid [x time_bin]."""
    xr = _xarray()
    try:
        da = xr.load_dataarray(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"recordings {path}: not a readable NetCDF DataArray "
                        f"({str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__})") from None
    dims = tuple(map(str, da.dims))
    want = [d for d in ("presentation", "neuroid", "time_bin") if d in dims]
    if set(dims) != set(want) or want[:2] != ["presentation", "neuroid"]:
        raise DataError(f"recordings {path}: dims must be presentation x neuroid [x time_bin], got "
                        f"{' x '.join(dims)}")
    da = da.transpose(*want)
    coords = da.coords
    id_col = next((c for c in ID_COLUMNS if c in coords), None)
    if id_col is None or "region" not in coords:
        raise DataError(f"recordings {path}: needs coords stimulus_id (presentation) and region (neuroid)")

    def coord(name: str) -> np.ndarray | None:
        return np.asarray(coords[name].values) if name in coords else None

    return ({"responses": np.asarray(da.values, dtype=np.float32), "stimulus_id": coord(id_col),
             "repetition": coord("repetition"), "region": coord("region"), "neuroid_id": coord("neuroid_id"),
             "time_bins": _time_bins(coord("time_bin_start"), coord("time_bin_end"))}, dict(da.attrs))


def write_recordings(rec: Recordings, path: str | os.PathLike[str]) -> Path:
    """Write ``rec`` as ``.nc``, ``.npz`` or ``.csv`` (2-D only) and its stimulus table beside it
    (``<stem>_stimuli.csv``, paths relative to it where they can be): what :func:`load_recordings` reads back.
    Images a source held (:attr:`Recordings.images`) are written as PNG files (lossless) into ``<stem>_stimuli/``;
    the stated visual angle is kept by ``.nc`` (an attribute) and ``.npz`` (an array)."""
    from ..storage import write_text

    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ConfigError(f"recordings {path}: unknown format (use {', '.join(SUFFIXES)})")
    if path.suffix == ".csv" and rec.responses.ndim != 2:  # refused before anything is written
        raise ConfigError("the CSV form holds no time bins: write .npz or .nc")
    path.parent.mkdir(parents=True, exist_ok=True)
    table = rec.stimuli.copy()
    paths = table.pop("path")
    staged = None
    if rec.images is not None:
        import tempfile

        from PIL import Image

        folder = path.with_name(f"{path.stem}_stimuli")
        names = [f"{folder.name}/{i:05d}.png" for i in range(len(table))]
        # the images are written whole beside it and moved into place after the recordings and their table
        staged = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=path.parent))
        try:
            for name, image in zip(names, rec.images, strict=True):
                Image.fromarray(image).save(staged / Path(name).name)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        table["filename"] = names
    else:
        table["filename"] = [os.path.relpath(p, path.parent) for p in paths]
    try:
        _write_form(rec, path)
        write_text(path.with_name(f"{path.stem}_stimuli.csv"), table.to_csv(index=False))
        if staged is not None:
            folder = path.with_name(f"{path.stem}_stimuli")
            if folder.exists():  # the images of an earlier conversion to the same name: replaced
                shutil.rmtree(folder)
            staged.rename(folder)
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)
    return path


def _write_form(rec: Recordings, path: Path) -> None:
    """The responses and their coordinates in ``path``'s form (each written whole, then renamed)."""
    from ..storage import atomic_open, write_text

    coords = {"stimulus_id": rec.stimulus_id, "repetition": rec.repetition}
    degrees = {} if rec.stimulus_degrees is None else {"stimulus_degrees": rec.stimulus_degrees}
    if path.suffix == ".npz":
        extra = ({"time_bin_start": np.array([a for a, _ in rec.time_bins]),
                  "time_bin_end": np.array([b for _, b in rec.time_bins])} if rec.time_bins else {})
        extra.update({k: np.array(v) for k, v in degrees.items()})
        with atomic_open(path, "wb") as fh:
            np.savez(fh, responses=rec.responses, region=rec.region, neuroid_id=rec.neuroid_id, **coords, **extra)
    elif path.suffix == ".csv":
        wide = pd.DataFrame(rec.responses, columns=[f"{r}/{n}" for r, n in zip(rec.region, rec.neuroid_id,
                                                                                   strict=True)])
        wide.insert(0, "repetition", rec.repetition)
        wide.insert(0, "stimulus_id", rec.stimulus_id)
        write_text(path, wide.to_csv(index=False))
    else:
        xr = _xarray()
        dims = ("presentation", "neuroid", "time_bin")[:rec.responses.ndim]
        all_coords: dict[str, Any] = {k: ("presentation", v) for k, v in coords.items()}
        all_coords.update(region=("neuroid", rec.region), neuroid_id=("neuroid", rec.neuroid_id))
        if rec.time_bins:
            all_coords.update(time_bin_start=("time_bin", [a for a, _ in rec.time_bins]),
                              time_bin_end=("time_bin", [b for _, b in rec.time_bins]))
        tmp = path.with_name(f".{path.name}.tmp")  # written whole, then renamed: never a half-written file
        xr.DataArray(rec.responses, dims=dims, coords=all_coords, name="responses", attrs=degrees).to_netcdf(tmp)
        os.replace(tmp, path)
