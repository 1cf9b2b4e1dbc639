"""Runs: the run and compare directories that own every file name (``rundir``), whether a directory can take
results (``writing``), what a run trains on (``inputs``) and a run's life, from start to resume and load
(``lifecycle``). Imports the engine and the layers below it."""

from .inputs import resolve_data, resolve_input, run_dataset
from .lifecycle import (
    RunFinished,
    StartedRun,
    TrainResult,
    build_seeded,
    compile_for,
    environment,
    finish_run,
    load_run,
    resume_run,
    start_run,
    train,
    warn_repeated_sweeps,
)
from .rundir import CompareDir, PredictDir, RunDir, lesion_figure_path, upgrade_table
from .writing import (
    DirectoryLock,
    check_room,
    ensure_writable_dir,
    lock_directory,
    removed_if_left_empty,
    run_disk_bytes,
)

__all__ = ["RunFinished", "StartedRun", "TrainResult", "build_seeded", "compile_for", "environment",
           "finish_run", "load_run", "resolve_data", "resolve_input", "resume_run", "run_dataset", "start_run", "train",
           "warn_repeated_sweeps", "CompareDir", "DirectoryLock", "PredictDir", "RunDir", "check_room",
           "ensure_writable_dir", "lesion_figure_path", "lock_directory", "removed_if_left_empty", "run_disk_bytes",
           "upgrade_table"]
