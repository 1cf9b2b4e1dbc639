"""Lesions of trained runs as one call: evaluate them intact and lesioned (the analysis layer's
:func:`~visualstreams.analysis.lesions.lesion_runs`, which writes lesions.csv into each run) and draw the bar chart."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..analysis.lesions import lesion_runs
from ..runs import lesion_figure_path
from ..viz import plot_lesions


def lesion(
    run_dirs: Sequence[str | os.PathLike[str]],
    *,
    areas: Sequence[str] = (),
    edges: Sequence[str] = (),
    sweep: bool = False,
    cut: Sequence[str] = (),
    steps: int | None = None,
    data_path: str | os.PathLike[str] | None = None,
    device: str = "auto",
    figure: str | os.PathLike[str] | None = None,
) -> tuple[pd.DataFrame, Path]:
    """Lesion ``run_dirs`` (each area, edge and cut on its own; every one with ``sweep``); returns the table of
    every run's metrics intact and lesioned and the bar chart's path (default: lesions.png beside the runs)."""
    table = lesion_runs(run_dirs, areas, edges, sweep, data_path, device, cut=cut, steps=steps)
    path = Path(figure) if figure else lesion_figure_path(run_dirs)
    plot_lesions(table, path)
    return table, path
