"""Lesions: silence areas or projections of a trained model and evaluate again, without retraining.

Silencing an area replaces its output by zeros (what it sends on, and what a head reads from it, are
zero). Cutting a projection sets its multiplier to 0, which is exactly the model compiled from the
connectome with that strength set to 0 (the projection's weights then carry no signal).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..model import VisualStreamsNet
from ..storage import save_figure, write_text


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
    from ..training import evaluate

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
    from ..data import load_fashion_mnist
    from ..training import TrainConfig, load_run, resolve_device, resolve_precision

    if not run_dirs:
        raise ConfigError("lesion needs at least one run directory")
    if not (areas or edges or do_sweep):
        raise ConfigError("name an --area, an --edge, or use --sweep")
    dev = resolve_device(device)
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
        df = lesion_effects(model, test_x, test_y, cfg.make_task(), lesions, resolve_precision(cfg.precision, dev))
        assert run.run_dir is not None
        write_text(run.run_dir / "lesions.csv", df.to_csv(index=False))
        frames.append(df.assign(run=str(run.run_dir), seed=cfg.seed, species=run.config.get("name", "")))
    return pd.concat(frames, ignore_index=True)


def plot_lesions(df: pd.DataFrame, path: str | os.PathLike[str] | None = None) -> Figure:
    """Change of each test metric under each lesion; bars are means over runs, error bars 95% CIs."""
    from .stats import mean_ci

    changes = [c for c in df.columns if c.startswith("change_") and c != "change_loss"]
    lesions = [x for x in dict.fromkeys(df["lesion"]) if x != "intact"]
    fig = Figure(figsize=(max(6, 0.45 * len(lesions) * len(changes) + 3), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(changes)))
    for ax, col in zip(axes, changes, strict=True):
        means, errs, colors = [], [], []
        for lesion in lesions:
            values = df.loc[df["lesion"] == lesion, col].to_numpy(dtype=float)
            ci = mean_ci(values)
            means.append(ci["mean"])
            errs.append(0.0 if np.isnan(ci["half_width"]) else ci["half_width"])
            kind = df.loc[df["lesion"] == lesion, "kind"].iloc[0]
            colors.append("C3" if kind == "area" else "C0")
        ax.bar(range(len(lesions)), means, yerr=errs, color=colors, capsize=3)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(range(len(lesions)), lesions, rotation=60, ha="right", fontsize=8)
        metric = col.removeprefix("change_")
        unit = {"acc": "accuracy (points)", "loc_err": "localisation error (px)", "r2": "R^2"}.get(metric, metric)
        ax.set(title=f"change in {unit}", ylabel="lesioned - intact")
        ax.grid(axis="y", alpha=0.3)
    n = df["run"].nunique() if "run" in df else 1
    fig.suptitle(f"Lesions (red: areas, blue: projections; n = {n} run{'s' if n > 1 else ''})")
    if path is not None:
        save_figure(path, fig, dpi=120)
    return fig


def default_figure_path(run_dirs: Sequence[str | os.PathLike[str]]) -> Path:
    first = Path(run_dirs[0])
    return (first if len(run_dirs) == 1 else first.parent) / "lesions.png"
