"""Representational similarity of finished runs, end to end: which runs (a list, or a compare directory's
finished runs), the homology, the analysis (:func:`visualstreams.analysis.representations.similarity`) and its
tables and figures on disk. The one API call behind ``visualstreams similarity`` and behind ``compare``'s
section on representations."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..analysis.representations import HOMOLOGIES, SimilarityResult, similarity
from ..errors import ConfigError
from ..report.similarity import write_similarity
from ..runs import CompareDir
from .chosen import choose_runs


def read_homology(homology: str | Mapping[str, str]) -> str | Mapping[str, str]:
    """``name``, ``presets``, a mapping, or a JSON file holding one (area name -> name to compare under)."""
    if not isinstance(homology, str) or homology in HOMOLOGIES:
        return homology
    path = Path(homology)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such homology file (or use name, presets)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a JSON object of area names ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ConfigError(f"{path}: expected a JSON object mapping area names to area names")
    return data


def similarity_of(
    run_dirs: Sequence[str | os.PathLike[str]] = (),
    *,
    compare_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    homology: str | Mapping[str, str] = "name",
    **options: Any,
) -> tuple[Path, SimilarityResult]:
    """Analyse ``run_dirs`` or the finished runs of ``compare_dir`` (not both) and write the tables and figures
    into ``out`` (default: the compare directory, else beside the runs). ``options`` go to
    :func:`~visualstreams.analysis.representations.similarity`. Returns the output directory and the result."""
    chosen = choose_runs("similarity", run_dirs, compare_dir, out)
    dirs, labels, species, target = chosen.dirs, chosen.labels, chosen.species, chosen.out
    homology = read_homology(homology)
    # One writer: not while a sweep or another analysis writes there (compare, which holds its directory already
    # and calls this, takes the lock again: it is re-entrant within a process).
    with CompareDir(target).lock():
        CompareDir(target).prepare()  # writable, before minutes of activations
        result = similarity(dirs, labels=labels, species=species, homology=homology, **options)
        write_similarity(result, target)
    return target, result
