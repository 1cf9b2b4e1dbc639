"""Run directories and compare directories: every file name of a run and of a comparison, owned here.

A run directory (:class:`RunDir`) holds ``config.json`` (everything needed to rebuild the run, written first;
its ``resolved`` section also records the torch threads, and where each resume continued),
``history.json`` (one entry per epoch, rewritten after each), ``checkpoint.pt`` while it runs, ``confusion.json``
and ``model.pt`` (final weights) once it finishes, and ``lesions.csv`` after ``visualstreams lesion``. A compare
directory (:class:`CompareDir`) holds ``experiment.json``, ``summary.csv``, ``stats.csv``, ``tests.csv``,
``learning_curves.png``, ``report.html``/``report.md`` with their figures, and one run directory per species,
condition and seed. Every write is atomic (:mod:`visualstreams.storage`): a crash leaves the old file or the new one.
Both hold ``visualstreams.lock`` while a process writes into them (:func:`lock_directory`): one writer at a time.

Also here: the checks that a directory can take results (writable, room on its disk, no other writer). Imports the
leaves only; what the files mean is the business of the layers above.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError, VisualStreamsError
from ..storage import (
    remove_temporaries,
    save_figure,
    write_json,
    write_text,
)
from .writing import LOCK_FILE, DirectoryLock, ensure_writable_dir, lock_directory


class RunDir:
    """One run's directory. ``RunDir(path)`` names it; nothing is created until something is written."""

    CONFIG = "config.json"
    HISTORY = "history.json"
    CHECKPOINT = "checkpoint.pt"
    CONFUSION = "confusion.json"
    WEIGHTS = "model.pt"
    LESIONS = "lesions.csv"
    LOCK = LOCK_FILE  # while a process writes here (:func:`lock_directory`); gone when it ends
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
    """A comparison's output directory: its own files and a run directory per species, condition and seed."""

    EXPERIMENT = "experiment.json"
    SUMMARY = "summary.csv"
    STATS = "stats.csv"
    TESTS = "tests.csv"
    CURVES = "learning_curves.png"
    REPORT_HTML = "report.html"
    REPORT_MD = "report.md"
    LOCK = RunDir.LOCK  # held by compare (at the driver, under Ray: workers lock only the run directories)
    # Representational similarity (``visualstreams similarity``, or compare with two seeds or more).
    SIMILARITY_RUNS = "similarity_runs.csv"  # the runs compared: species, condition, seed, untrained areas
    SIMILARITY_WITHIN = "similarity_within.csv"  # area x area within each run
    SIMILARITY_PAIRS = "similarity_pairs.csv"  # every pair of runs, per area and metric
    SIMILARITY_SPECIES = "similarity_species.csv"  # within- vs between-species similarity, with tests
    SIMILARITY_MODES = "similarity_modes.csv"  # the same between conditions, within each species
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
    def run_name(species: str, condition: str, seed: int) -> str:
        """``<species>/seed<k>``, or ``<species>/<condition>-seed<k>`` for conditions other than ``gain`` (another
        mode, or a network of several steps: ``gain-T4``; a twin: ``gain-BF4``)."""
        return f"{species}/seed{seed}" if condition == "gain" else f"{species}/{condition}-seed{seed}"

    def run(self, species: str, condition: str, seed: int) -> RunDir:
        return RunDir(self.path / self.run_name(species, condition, seed))

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
        """A CSV of this directory, as this version names its columns (:func:`upgrade_table`); missing, empty or
        unreadable is an empty table."""
        if dtype is not None:  # the types of renamed columns apply under their old names too
            dtype = {**dtype, **{old: dtype[new] for old, new in RENAMED_COLUMNS.items() if new in dtype}}
        try:
            return upgrade_table(pd.read_csv(self.file(name), dtype=dtype))
        except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError, ValueError):
            return pd.DataFrame()

    def save_figure(self, name: str, fig: Any, **kwargs: Any) -> Path:
        save_figure(self.file(name), fig, **kwargs)
        return self.file(name)

    def write_text(self, name: str, text: str) -> Path:
        write_text(self.file(name), text)
        return self.file(name)


# Columns renamed since 0.2.0, whose tables called a run's condition label (gain, gain-T4, gain-BF4) its "mode".
RENAMED_COLUMNS = {"mode": "condition", "mode_a": "condition_a", "mode_b": "condition_b"}


def upgrade_table(table: pd.DataFrame) -> pd.DataFrame:
    """A comparison's table (summary, stats, tests, similarity) as this version names it: one written by 0.2.0 or
    earlier has its ``mode`` columns renamed ``condition``, and the tests' ``compare``/``by`` value ``mode`` too."""
    if "condition" in table or not set(RENAMED_COLUMNS) & set(table):
        return table
    table = table.rename(columns=RENAMED_COLUMNS)
    for column in ("compare", "by"):
        if column in table:
            table[column] = table[column].replace({"mode": "condition"})
    return table


def slug(text: str) -> str:
    """A label as a file-name part: runs of other characters than letters, digits, ``_.-`` become one ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


LESION_FIGURE = "lesions.png"


def lesion_figure_path(run_dirs: list[str | os.PathLike[str]]) -> Path:
    """Where ``visualstreams lesion`` draws its chart by default: in the run directory, or beside the runs."""
    first = Path(run_dirs[0])
    return (first if len(run_dirs) == 1 else first.parent) / LESION_FIGURE


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
