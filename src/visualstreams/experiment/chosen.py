"""Which finished runs an analysis of trained runs (``similarity``, ``predict``) reads, and where it writes: run
directories given one by one, or the finished runs of a compare directory. One helper, so the two commands accept
and refuse the same things in the same words."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..runs import CompareDir, RunDir


@dataclass(frozen=True)
class ChosenRuns:
    """The runs' directories, their labels and species (None for runs given one by one: each run says its own) and
    the directory the analysis writes into."""

    dirs: list[Path]
    labels: list[str] | None
    species: list[str] | None
    out: Path


def compare_runs(compare_dir: str | os.PathLike[str]) -> tuple[list[Path], list[str], list[str]]:
    """The finished runs of a compare directory, their labels (``species/mode/seed<k>``) and species; a twin
    (``same_as``) is listed under its own label and species, with its twin's directory."""
    cdir = CompareDir(compare_dir)
    summary = cdir.read_table(CompareDir.SUMMARY)
    if not len(summary) or "status" not in summary:
        raise ConfigError(f"{compare_dir}: no {CompareDir.SUMMARY} (not a compare directory, or nothing finished)")
    ok = summary[summary["status"] == "ok"]
    dirs, labels, species = [], [], []
    for r in ok.itertuples():
        twin = getattr(r, "same_as", "")
        path = (cdir.path / twin if isinstance(twin, str) and twin else
                cdir.run(r.species, r.condition, int(r.seed)).path)
        if not path.is_dir():
            path = Path(str(r.run_dir))
        dirs.append(path)
        labels.append(f"{r.species}/{r.condition}/seed{int(r.seed)}")
        species.append(str(r.species))
    return dirs, labels, species


def choose_runs(command: str, run_dirs: Sequence[str | os.PathLike[str]] = (),
                compare_dir: str | os.PathLike[str] | None = None, out: str | os.PathLike[str] | None = None,
                *, finished: bool = False) -> ChosenRuns:
    """``run_dirs`` or the finished runs of ``compare_dir`` (not both, not neither), each a run directory (with its
    weights when ``finished``), and the output directory: ``out``, else the compare directory, else the one run's
    directory or the runs' parent. ``command`` names the command in the refusals."""
    if compare_dir is not None and run_dirs:
        raise ConfigError("give run directories or --compare-dir, not both")
    if compare_dir is not None:
        dirs, labels, species = compare_runs(compare_dir)
    else:
        if not run_dirs:
            raise ConfigError(f"{command} needs run directories or --compare-dir DIR")
        dirs, labels, species = [Path(d) for d in run_dirs], None, None
    missing = [d for d in dirs if not RunDir(d).config_path.is_file()]
    if missing:
        raise ConfigError(f"{missing[0]}: not a run directory (config.json missing)")
    unfinished = [d for d in dirs if finished and not RunDir(d).has_weights()]
    if unfinished:
        raise ConfigError(f"{unfinished[0]}: the run has not finished (no {RunDir.WEIGHTS})")
    target = Path(out) if out is not None else (Path(compare_dir) if compare_dir is not None else
                                                (dirs[0] if len(dirs) == 1 else dirs[0].parent))
    return ChosenRuns(dirs, labels, species, target)
