"""Run directories and compare directories: every file name of a run and of a comparison, owned here.

A run directory (:class:`RunDir`) holds ``config.json`` (everything needed to rebuild the run, written first;
its ``resolved`` section also records the torch threads, and where each resume continued),
``history.json`` (one entry per epoch, rewritten after each), ``checkpoint.pt`` while it runs, ``confusion.json``
and ``model.pt`` (final weights) once it finishes, and ``lesions.csv`` after ``visualstreams lesion``. A compare
directory (:class:`CompareDir`) holds ``experiment.json``, ``summary.csv``, ``stats.csv``, ``tests.csv``,
``learning_curves.png``, ``report.html``/``report.md`` with their figures, and one run directory per species,
mode and seed. Every write is atomic (:mod:`visualstreams.storage`): a crash leaves the old file or the new one.
Both hold ``visualstreams.lock`` while a process writes into them (:func:`lock_directory`): one writer at a time.

Also here: the checks that a directory can take results (writable, room on its disk, no other writer). Imports the
leaves only; what the files mean is the business of the layers above.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError, DirectoryInUse, VisualStreamsError
from ..storage import (
    check_writable,
    format_bytes,
    free_bytes,
    remove_temporaries,
    save_figure,
    write_json,
    write_text,
)


class RunDir:
    """One run's directory. ``RunDir(path)`` names it; nothing is created until something is written."""

    CONFIG = "config.json"
    HISTORY = "history.json"
    CHECKPOINT = "checkpoint.pt"
    CONFUSION = "confusion.json"
    WEIGHTS = "model.pt"
    LESIONS = "lesions.csv"
    LOCK = "visualstreams.lock"  # while a process writes here (:func:`lock_directory`); gone when it ends
    # What a run writes besides config.json; a replaced run's are removed first.
    OUTPUTS = (HISTORY, CHECKPOINT, CONFUSION, WEIGHTS)
    FILES = (CONFIG, *OUTPUTS, LESIONS)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    # -- paths ----------------------------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def history_path(self) -> Path:
        return self.path / self.HISTORY

    @property
    def checkpoint_path(self) -> Path:
        return self.path / self.CHECKPOINT

    @property
    def confusion_path(self) -> Path:
        return self.path / self.CONFUSION

    @property
    def weights_path(self) -> Path:
        return self.path / self.WEIGHTS

    @property
    def lesions_path(self) -> Path:
        return self.path / self.LESIONS

    # -- state ----------------------------------------------------------------------------------------------------
    def holds_run(self) -> bool:
        """Something of a started or finished run is here (config, history or weights)."""
        return any(p.exists() for p in (self.config_path, self.history_path, self.weights_path))

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    def has_weights(self) -> bool:
        return self.weights_path.is_file()

    def prepare(self, overwrite: bool = False) -> RunDir:
        """Create the directory; refuse to overwrite a finished or started run unless asked."""
        self.refuse_other_kind()
        if not overwrite and self.holds_run():
            hint = "--resume to continue it or " if self.has_checkpoint() else ""
            raise ConfigError(f"{self.path}: already holds a run (use {hint}--overwrite to replace it)")
        ensure_writable_dir(self.path)
        return self

    def refuse_other_kind(self) -> None:
        """Refuse a directory that holds a comparison (its files would mix with the run's): one line."""
        found = [name for name in (CompareDir.EXPERIMENT, CompareDir.SUMMARY) if (self.path / name).exists()]
        if found:
            raise ConfigError(f"{self.path}: a compare directory ({found[0]}), not a run directory: give a new "
                              "--out (a comparison's runs are its subdirectories, made by compare)")

    def remove_outputs(self) -> None:
        """Delete what an earlier run wrote here besides config.json, so none of it can pass for a new run's."""
        for name in self.OUTPUTS:
            (self.path / name).unlink(missing_ok=True)

    def remove_checkpoint(self) -> None:
        self.checkpoint_path.unlink(missing_ok=True)

    def lock(self) -> DirectoryLock:
        """Hold this directory for this process (see :func:`lock_directory`); creates it if need be."""
        return lock_directory(self.path, self.LOCK)

    def remove_temporaries(self) -> None:
        """What a killed atomic write left behind (nothing else writes here while this runs)."""
        remove_temporaries(self.path, self.FILES)

    # -- reading and writing ------------------------------------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        try:
            config = json.loads(self.config_path.read_text())
        except FileNotFoundError:
            raise VisualStreamsError(f"{self.path}: not a run directory ({self.CONFIG} missing)") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise VisualStreamsError(f"{self.config_path}: corrupt or not a run's config") from None
        if not isinstance(config, dict):
            raise VisualStreamsError(f"{self.config_path}: corrupt or not a run's config")
        return config

    def write_config(self, config: dict[str, Any]) -> None:
        write_json(self.config_path, config)

    def read_history(self, *, required: bool = False, strict: bool = True) -> list[dict[str, Any]]:
        """The epochs finished so far (the one reader of history.json).

        A missing file is ``[]``, or an error with ``required``; a corrupt one an error, or ``[]`` when not
        ``strict`` (for summaries of runs that failed)."""
        try:
            history = json.loads(self.history_path.read_text())
        except FileNotFoundError:
            if required:
                raise VisualStreamsError(f"{self.path}: not a run directory ({self.HISTORY} missing)") from None
            return []
        except (OSError, ValueError):
            if strict:
                raise VisualStreamsError(f"{self.history_path}: corrupt") from None
            return []
        if not isinstance(history, list):
            if strict:
                raise VisualStreamsError(f"{self.history_path}: corrupt")
            return []
        return history

    def write_history(self, history: list[dict[str, Any]]) -> None:
        write_json(self.history_path, history)

    def write_confusion(self, classes: list[str], matrix: list[list[int]]) -> None:
        write_json(self.confusion_path, {"classes": classes, "matrix": matrix})

    def read_confusion(self) -> dict[str, Any] | None:
        return _read_json(self.confusion_path)

    def write_lesions(self, table: pd.DataFrame) -> None:
        write_text(self.lesions_path, table.to_csv(index=False))


class PredictDir:
    """The files of a neural-predictivity analysis (``visualstreams predict``, or ``compare --recordings`` in its
    compare directory): its settings, its tables, its heatmap and its report."""

    CONFIG = "predict.json"  # PredictivityConfig, the recordings and the runs: enough to rerun it as it was
    SCORES = "predictivity_splits.csv"  # run x area x region x split: median r over the region's neuroids
    SUMMARY = "predictivity.csv"  # run x area x region: r, its SEM over splits, ceiling, ceiled score
    CEILINGS = "ceilings.csv"  # per region: split-half (Spearman-Brown) ceiling
    SIMILARITY = "brain_similarity.csv"  # RSA and CKA of each area with each region
    BEST = "best_areas.csv"  # per run and region: the best area, runner-up, margin, share of splits
    BEST_GROUPS = "best_areas_groups.csv"  # per species, condition and region: across seeds, with a CI
    STATS = "predictivity_stats.csv"  # per species, condition, area and region: mean and 95% CI over runs
    TESTS = "predictivity_tests.csv"  # species (and conditions) compared per area and region, Holm-corrected
    HEATMAP = "predictivity.png"
    REPORT = "predictivity.md"
    OUTPUTS = (CONFIG, SCORES, SUMMARY, CEILINGS, SIMILARITY, BEST, BEST_GROUPS, STATS, TESTS, HEATMAP, REPORT)


class CompareDir:
    """A comparison's output directory: its own files and a run directory per species, mode and seed."""

    EXPERIMENT = "experiment.json"
    SUMMARY = "summary.csv"
    STATS = "stats.csv"
    TESTS = "tests.csv"
    CURVES = "learning_curves.png"
    REPORT_HTML = "report.html"
    REPORT_MD = "report.md"
    LOCK = RunDir.LOCK  # held by compare (at the driver, under Ray: workers lock only the run directories)
    # Representational similarity (``visualstreams similarity``, or compare with two seeds or more).
    SIMILARITY_RUNS = "similarity_runs.csv"  # the runs compared: species, mode, seed, untrained areas
    SIMILARITY_WITHIN = "similarity_within.csv"  # area x area within each run
    SIMILARITY_PAIRS = "similarity_pairs.csv"  # every pair of runs, per area and metric
    SIMILARITY_SPECIES = "similarity_species.csv"  # within- vs between-species similarity, with tests
    SIMILARITY_MODES = "similarity_modes.csv"  # the same between connection modes, within each species
    SIMILARITY = (SIMILARITY_RUNS, SIMILARITY_WITHIN, SIMILARITY_PAIRS, SIMILARITY_SPECIES, SIMILARITY_MODES)
    # Why compare's similarity step failed (one line); removed with the analysis, so it never outlives one that works.
    SIMILARITY_SKIPPED = "similarity_skipped.txt"
    OUTPUTS = (EXPERIMENT, SUMMARY, STATS, TESTS, CURVES, REPORT_HTML, REPORT_MD, *SIMILARITY, SIMILARITY_SKIPPED,
               *PredictDir.OUTPUTS)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __repr__(self) -> str:
        return f"CompareDir({str(self.path)!r})"

    @staticmethod
    def run_name(species: str, mode: str, seed: int) -> str:
        """``<species>/seed<k>``, or ``<species>/<mode>-seed<k>`` for modes other than ``gain`` (``mode`` may be a
        condition such as ``gain-T4``: the mode of a network of several steps)."""
        return f"{species}/seed{seed}" if mode == "gain" else f"{species}/{mode}-seed{seed}"

    def run(self, species: str, mode: str, seed: int) -> RunDir:
        return RunDir(self.path / self.run_name(species, mode, seed))

    def file(self, name: str) -> Path:
        """One of :attr:`OUTPUTS` (or a report figure, :meth:`report_figure`)."""
        return self.path / name

    @staticmethod
    def similarity_figure(kind: str, label: str = "") -> str:
        """``similarity_species.png``, ``similarity_pairs_cka_IT.png``, ``similarity_within_human.png`` ..."""
        return f"similarity_{kind}_{slug(label)}.png" if label else f"similarity_{kind}.png"

    @staticmethod
    def report_figure(kind: str, label: str = "") -> str:
        """The file name of one report figure, e.g. ``report_confusion_human.png``."""
        return f"report_{kind}_{slug(label)}.png" if label else f"report_{kind}.png"

    def prepare(self) -> CompareDir:
        ensure_writable_dir(self.path)
        return self

    def lock(self) -> DirectoryLock:
        """Hold this directory for this process (see :func:`lock_directory`); creates it if need be."""
        return lock_directory(self.path, self.LOCK)

    def remove_temporaries(self) -> None:
        remove_temporaries(self.path, self.OUTPUTS)

    def remove_similarity(self) -> None:
        """Delete a representational-similarity analysis (tables and figures) before it is redone or dropped."""
        for name in (*self.SIMILARITY, self.SIMILARITY_SKIPPED):
            self.file(name).unlink(missing_ok=True)
        for figure in self.path.glob("similarity_*.png"):
            figure.unlink(missing_ok=True)

    def similarity_skipped(self) -> str | None:
        """Why compare's similarity step failed, or None (it worked, was not asked for, or never ran)."""
        try:
            return self.file(self.SIMILARITY_SKIPPED).read_text().strip() or None
        except (OSError, UnicodeDecodeError):
            return None

    def has_experiment(self) -> bool:
        return self.file(self.EXPERIMENT).is_file()

    def read_experiment(self) -> dict[str, Any]:
        data = _read_json(self.file(self.EXPERIMENT))
        return data if isinstance(data, dict) else {}

    def write_experiment(self, record: dict[str, Any]) -> None:
        write_json(self.file(self.EXPERIMENT), record)

    def write_table(self, name: str, table: pd.DataFrame) -> None:
        write_text(self.file(name), table.to_csv(index=False))

    def read_table(self, name: str, dtype: dict[str, Any] | None = None) -> pd.DataFrame:
        """A CSV of this directory; missing, empty or unreadable is an empty table."""
        try:
            return pd.read_csv(self.file(name), dtype=dtype)
        except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError, ValueError):
            return pd.DataFrame()

    def save_figure(self, name: str, fig: Any, **kwargs: Any) -> Path:
        save_figure(self.file(name), fig, **kwargs)
        return self.file(name)

    def write_text(self, name: str, text: str) -> Path:
        write_text(self.file(name), text)
        return self.file(name)


def slug(text: str) -> str:
    """A label as a file-name part: runs of other characters than letters, digits, ``_.-`` become one ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


LESION_FIGURE = "lesions.png"


def lesion_figure_path(run_dirs: list[str | os.PathLike[str]]) -> Path:
    """Where ``visualstreams lesion`` draws its chart by default: in the run directory, or beside the runs."""
    first = Path(run_dirs[0])
    return (first if len(run_dirs) == 1 else first.parent) / LESION_FIGURE


@contextlib.contextmanager
def removed_if_left_empty(path: str | os.PathLike[str]) -> Iterator[None]:
    """Around work that creates ``path``: if it fails and leaves the directory it created empty, the directory
    goes too (a refused run or analysis leaves nothing behind); a directory that was there, or holds something
    (a checkpoint), stays."""
    created = not Path(path).exists()
    try:
        yield
    except BaseException:
        if created:
            with contextlib.suppress(OSError):  # not empty, or gone: left as it is
                Path(path).rmdir()
        raise


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# -- can results be written here? -------------------------------------------------------------------------------
def _make_dir(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the directory ({exc.strerror})") from None
    return path


def ensure_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` if needed and check, by writing a file, that results can be written into it."""
    path = _make_dir(path)
    try:
        check_writable(path)
    except OSError as exc:
        raise ConfigError(f"{path}: not writable ({exc.strerror})") from None
    return path


def run_disk_bytes(n_params: int) -> int:
    """Disk a run needs at most: model.pt, and checkpoint.pt (weights and Adam's two moments) twice over while
    its replacement is written, plus the JSON files and some slack."""
    return 4 * n_params * (1 + 2 * 3) + 2_000_000


def check_room(path: str | os.PathLike[str], need: int, what: str) -> None:
    """Refuse to start work whose results would not fit on the disk holding ``path``."""
    existing = Path(path).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = free_bytes(existing)
    if free < need:
        raise ConfigError(f"{path}: {format_bytes(free)} free on its disk, {what} needs about "
                          f"{format_bytes(need)}; free some space or choose another output directory")


# -- one writer per directory ------------------------------------------------------------------------------------
class DirectoryLock:
    """This process's hold on a directory (see :func:`lock_directory`); a context manager, released on leaving the
    ``with`` block however it is left (normally, by an exception, by Ctrl-C)."""

    def __init__(self, directory: Path, path: Path, fd: int, key: str) -> None:
        self.directory, self.path = directory, path
        self._fd: int | None = fd
        self._key = key
        self._pid = os.getpid()
        self._depth = 1

    def __enter__(self) -> DirectoryLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def held(self) -> bool:
        return self._fd is not None and self._pid == os.getpid()

    def release(self) -> None:
        if not self.held:  # released already, or a forked child's copy: not its to release
            return
        self._depth -= 1
        if self._depth:
            return
        _HELD.pop(self._key, None)
        fd, self._fd = self._fd, None
        assert fd is not None
        try:
            # Unlinked while still locked: whoever opened the file meanwhile sees, once it has the lock, that the
            # name no longer leads to its file, and starts again (lock_directory). A clean exit leaves no lock file.
            with contextlib.suppress(OSError):
                if _same_file(fd, self.path):
                    os.unlink(self.path)
        finally:
            os.close(fd)


_HELD: dict[str, DirectoryLock] = {}  # this process's locks, by the lock file's real path


def lock_directory(directory: str | os.PathLike[str], name: str = RunDir.LOCK) -> DirectoryLock:
    """Hold ``directory`` (created if need be) for this process, or refuse in one line
    (:class:`~visualstreams.errors.DirectoryInUse`) while another process holds it.

    An OS lock, ``fcntl.flock`` on the file ``name`` in it: the kernel holds it exactly while the process lives,
    so the lock of a process killed in any way (``kill -9`` included) is free at once, without guessing from pids.
    The file records the holder's pid, host and start for the refusal to name; a record left by a process that
    died holding the lock is taken over with a warning saying so. Re-entrant within one process (compare holds
    its directory and its similarity step takes it again); other processes, Ray workers among them, are others.
    """
    directory = _make_dir(directory)
    path = directory / name
    key = os.path.realpath(path)
    mine = _HELD.get(key)
    if mine is not None and mine.held:
        mine._depth += 1
        return mine
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # not inherited by child processes (PEP 446)
        except OSError as exc:
            raise ConfigError(f"{directory}: not writable ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DirectoryInUse(f"{directory}: in use by {_describe(holder)}; one process writes into a directory "
                                 "at a time (wait for it to end, or stop it)") from None
        except OSError as exc:  # a file system without locks (ENOLCK)
            os.close(fd)
            raise ConfigError(f"{directory}: cannot be locked ({exc.strerror})") from None
        if _same_file(fd, path):
            break
        os.close(fd)  # its holder released it (and removed the file) between our open and flock: again
    previous = _read_holder(fd)  # a clean release removes the file: a record left here is a dead holder's
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    lock = _HELD[key] = DirectoryLock(directory, path, fd, key)
    if previous:
        warnings.warn(f"{directory}: taking over the lock of dead {_describe(previous)}", RuntimeWarning,
                      stacklevel=3)
    return lock


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _read_holder(fd: int) -> dict[str, Any]:
    """The record in a lock file: empty when there is none (a holder that has not written it yet, or a torn one)."""
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    if "pid" not in holder:
        return "another process"
    where = f" on {holder['host']}" if holder.get("host") and holder["host"] != socket.gethostname() else ""
    since = f" (since {holder['started']})" if holder.get("started") else ""
    return f"process {holder['pid']}{where}{since}"
