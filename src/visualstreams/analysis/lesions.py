"""Lesions: silence areas or projections of a trained model and evaluate again, without retraining.

Silencing an area replaces its output by zeros (what it sends on, and what a head reads from it, are
zero). Cutting a projection sets its multiplier to 0, which is exactly the model compiled from the
connectome with that strength set to 0 (the projection's weights then carry no signal).

Imports runs and the engine (to load and evaluate trained runs); the chart is :func:`visualstreams.viz.plot_lesions`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from ..data import load_fashion_mnist
from ..engine import TrainConfig, evaluate, resolve_runtime
from ..errors import ConfigError
from ..network import VisualStreamsNet
from ..runs import RunDir, load_run


@dataclass(frozen=True)
class Lesion:
    areas: tuple[str, ...] = ()
    edges: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        parts = list(self.areas) + [f"{s}->{t}" for s, t in self.edges]
        return "+".join(parts) if parts else "intact"

    @property
    def kind(self) -> str:
        if not self.areas and not self.edges:
            return "none"
        return "area" if self.areas and not self.edges else "edge" if self.edges and not self.areas else "mixed"


def parse_edge(text: str) -> tuple[str, str]:
    """``"V2:MT"`` or ``"V2->MT"`` -> ``("V2", "MT")``."""
    for sep in ("->", ":"):
        if sep in text:
            s, _, t = text.partition(sep)
            if s.strip() and t.strip():
                return s.strip(), t.strip()
    raise ConfigError(f"edge {text!r} must be written SOURCE:TARGET, for example V2:MT")


def check_lesion(model: VisualStreamsNet, lesion: Lesion) -> None:
    for area in lesion.areas:
        if area not in model.areas:
            raise ConfigError(f"unknown area {area!r} (areas: {', '.join(model.order)})")
    for s, t in lesion.edges:
        if (s, t) not in model.edges:
            known = ", ".join(f"{a}:{b}" for a, b in model.edges)
            raise ConfigError(f"no projection {s}->{t} in this model (projections: {known})")


@contextlib.contextmanager
def lesioned(model: VisualStreamsNet, lesion: Lesion) -> Iterator[VisualStreamsNet]:
    """Apply ``lesion`` to ``model`` for the duration of the block, then restore it exactly."""
    check_lesion(model, lesion)
    saved = model.strengths.detach().clone()
    silenced = set(model.silenced)
    try:
        model.silenced |= set(lesion.areas)
        for s, t in lesion.edges:
            model.set_strength(s, t, 0.0)
        yield model
    finally:
        model.silenced = silenced
        with torch.no_grad():
            model.strengths.copy_(saved)


def sweep(model: VisualStreamsNet) -> list[Lesion]:
    """Every area, then every projection, each on its own."""
    return [Lesion(areas=(a,)) for a in model.order] + [Lesion(edges=(e,)) for e in model.edges]


def lesion_effects(
    model: VisualStreamsNet,
    images: torch.Tensor,
    labels: torch.Tensor,
    task: object,
    lesions: Sequence[Lesion],
    precision: str = "fp32",
    batch_size: int = 1000,
) -> pd.DataFrame:
    """Test metrics intact and under each lesion; one row per lesion, ``intact`` first."""
    for lesion in lesions:
        check_lesion(model, lesion)
    rows = []
    for lesion in [Lesion(), *lesions]:
        with lesioned(model, lesion):
            metrics = evaluate(model, images, labels, task, batch_size, precision)
        rows.append({"lesion": lesion.label, "kind": lesion.kind, **{f"test_{k}": v for k, v in metrics.items()}})
    df = pd.DataFrame(rows)
    for col in [c for c in df.columns if c.startswith("test_")]:
        df[f"change_{col.removeprefix('test_')}"] = df[col] - df[col].iloc[0]
    return df


def lesion_runs(
    run_dirs: Sequence[str | os.PathLike[str]],
    areas: Sequence[str] = (),
    edges: Sequence[str] = (),
    do_sweep: bool = False,
    data_path: str | os.PathLike[str] | None = None,
    device: str = "auto",
) -> pd.DataFrame:
    """Lesion trained runs: each listed area and edge on its own (or every one with ``do_sweep``).

    Writes ``lesions.csv`` into each run directory and returns all rows (column ``run`` names the run).
    """
    if not run_dirs:
        raise ConfigError("lesion needs at least one run directory")
    if not (areas or edges or do_sweep):
        raise ConfigError("name an --area, an --edge, or use --sweep")
    dev = resolve_runtime(device).device
    runs = [load_run(d, device=str(dev)) for d in run_dirs]
    plans = []
    for run in runs:  # every lesion is checked against every run before the data are read
        model = run.model.to(memory_format=torch.channels_last)
        lesions = sweep(model) if do_sweep else (
            [Lesion(areas=(a,)) for a in areas] + [Lesion(edges=(parse_edge(e),)) for e in edges])
        for lesion in lesions:
            try:
                check_lesion(model, lesion)
            except ConfigError as exc:
                raise ConfigError(f"{run.run_dir}: {exc}") from None
        plans.append((run, model, lesions))
    data = load_fashion_mnist(data_path if data_path is not None else runs[0].config.get("data", {}).get("source"))
    test_x = data.test_images.unsqueeze(1).to(dev)
    test_y = data.test_labels.to(dev)
    frames = []
    for run, model, lesions in plans:
        cfg = TrainConfig.from_dict(run.config["train"])
        # Each run evaluates in the precision it was configured with, on the device chosen for the command.
        precision = resolve_runtime(str(dev), cfg.precision).precision
        df = lesion_effects(model, test_x, test_y, cfg.make_task(), lesions, precision)
        assert run.run_dir is not None
        RunDir(run.run_dir).write_lesions(df)
        frames.append(df.assign(run=str(run.run_dir), seed=cfg.seed, species=run.config.get("name", "")))
    return pd.concat(frames, ignore_index=True)
