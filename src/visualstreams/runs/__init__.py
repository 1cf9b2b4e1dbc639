"""Runs: the run and compare directories that own every file name (``rundir``) and a run's life, from start
to resume and load (``lifecycle``). Imports the engine and the layers below it."""

from .._lazy import export_names, lazy_exports

_EXPORTS = {
    ".lifecycle": (
        "RunFinished", "StartedRun", "TrainResult", "build_seeded", "compile_for", "data_input", "environment",
        "finish_run", "load_run", "resume_run", "run_dataset", "start_run", "train",
    ),
    ".rundir": (
        "CompareDir", "DirectoryLock", "PredictDir", "RunDir", "check_room", "ensure_writable_dir",
        "lesion_figure_path", "lock_directory", "run_disk_bytes",
    ),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = export_names(_EXPORTS)
