"""Networks against brains, end to end: which runs (a list, or a compare directory's finished runs), the
recordings, the analysis (:func:`visualstreams.analysis.predictivity.neural_predictivity`) and its tables,
heatmap and report on disk. The one API call behind ``visualstreams predict`` and ``compare --recordings``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..analysis.predictivity import PredictivityConfig, PredictivityResult, neural_predictivity
from ..data.recordings import Recordings, load_recordings
from ..engine import resolve_device
from ..report.predictivity import write_predictivity
from ..runs import CompareDir, PredictDir, removed_if_left_empty
from .chosen import choose_runs


def predict(
    run_dirs: Sequence[str | os.PathLike[str]] = (),
    *,
    recordings: str | os.PathLike[str] | Recordings,
    stimuli: str | os.PathLike[str] | None = None,
    window_ms: tuple[float, float] | None = None,
    compare_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    config: PredictivityConfig | None = None,
    areas: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> tuple[Path, PredictivityResult]:
    """Score ``run_dirs`` (or the finished runs of ``compare_dir``) against ``recordings`` (a file, see
    :func:`~visualstreams.data.recordings.load_recordings`, with its ``stimuli`` table, or an Allen session's
    response window ``window_ms``) and write the tables
    (:class:`~visualstreams.runs.PredictDir` names them), the heatmap and ``predictivity.md`` into ``out``
    (default: the compare directory, else beside the runs). Every refusal comes before anything is written."""
    chosen = choose_runs("predict", run_dirs, compare_dir, out, finished=True)
    # a twin (the same network under two names) is scored once; runs are labelled by their own config.json
    dirs, labels, target = list(dict.fromkeys(chosen.dirs)), None, chosen.out
    rec = (recordings if isinstance(recordings, Recordings)
           else load_recordings(recordings, stimuli, window_ms=window_ms))
    resolve_device(device)  # refused before anything is written
    # one writer (re-entrant: compare holds its directory already and calls this)
    with removed_if_left_empty(target), CompareDir(target).lock():
        CompareDir(target).prepare()  # writable, before minutes of activations
        result = neural_predictivity(dirs, rec, config=config, areas=areas, regions=regions, labels=labels,
                                     device=device, progress=progress)
        record: dict[str, Any] = {"runs": [str(d) for d in dirs],
                                  # recordings already read (compare's) say where from themselves
                                  "recordings_file": (rec.source or None) if isinstance(recordings, Recordings)
                                  else str(recordings),
                                  "stimuli_file": None if stimuli is None else str(stimuli),
                                  "response_window_ms": list(window_ms) if window_ms else None,
                                  "recordings_notes": list(rec.notes),
                                  "areas": list(areas) if areas else None,
                                  "regions": list(regions) if regions else None}
        write_predictivity(result, target, record)
    return target, result


__all__ = ["predict", "PredictDir"]
