"""Lesions: silence areas or projections of a trained model and evaluate again, without retraining.

Silencing an area replaces its output by zeros (what it sends on, and what a head reads from it, are
zero); in a network of several steps ``IT@t2`` silences IT from step 2 on. Cutting a projection sets its
multiplier to 0, which is exactly the model compiled from the connectome with that strength set to 0 (the
projection's weights then carry no signal); ``cut=("feedback",)`` cuts every feedback projection at once (and
``lateral`` every lateral one), after which a network of several steps repeats its feedforward sweep at every
step: its outputs are exactly those of step 0 (with intrinsic recurrence, cut that too: ``cut=("intrinsic",)``
zeroes every area's recurrence within itself).

Imports runs and the engine (to load and evaluate trained runs); the chart is :func:`visualstreams.viz.plot_lesions`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import torch

from ..data import test_tensors
from ..engine import TrainConfig, evaluate, resolve_runtime
from ..errors import ConfigError
from ..metrics import split_step
from ..network import VisualStreamsNet
from ..network.modes import check_steps
from ..network.reference import ReferenceNetwork
from ..runs import RunDir, load_run, run_dataset

CUTS: dict[str, tuple[str, ...]] = {"feedback": ("feedback",), "lateral": ("lateral",),
                                    "recurrent": ("feedback", "lateral"), "intrinsic": ("intrinsic",)}


@dataclass(frozen=True)
class Lesion:
    """Areas to silence (``"IT"``, or ``"IT@t2"`` from step 2 on), projections to cut, and directions of which every
    projection is cut (``cut=("feedback",)``)."""

    areas: tuple[str, ...] = ()
    edges: tuple[tuple[str, str], ...] = ()
    cut: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        parts = list(self.areas) + [f"{s}->{t}" for s, t in self.edges] + [f"all {d}" for d in self.cut]
        return "+".join(parts) if parts else "intact"

    @property
    def kind(self) -> str:
        present = [k for k, v in (("area", self.areas), ("edge", self.edges), ("cut", self.cut)) if v]
        return "none" if not present else present[0] if len(present) == 1 else "mixed"


def parse_area(text: str) -> tuple[str, int]:
    """``"IT"`` -> ``("IT", 0)``; ``"IT@t2"`` -> ``("IT", 2)``: silenced from that step on."""
    try:
        area, step = split_step(text, strict=True)
    except ValueError:
        raise ConfigError(f"area {text!r} must be written AREA or AREA@tK, for example IT@t2") from None
    return area, step or 0


def parse_edge(text: str) -> tuple[str, str]:
    """``"V2:MT"`` or ``"V2->MT"`` -> ``("V2", "MT")``."""
    for sep in ("->", ":"):
        if sep in text:
            s, _, t = text.partition(sep)
            if s.strip() and t.strip():
                return s.strip(), t.strip()
    raise ConfigError(f"edge {text!r} must be written SOURCE:TARGET, for example V2:MT")


def check_lesion(model: VisualStreamsNet, lesion: Lesion) -> None:
    for text in lesion.areas:
        area, step = parse_area(text)
        if area not in model.areas:
            raise ConfigError(f"unknown area {area!r} (areas: {', '.join(model.order)})")
        if step >= model.steps:
            raise ConfigError(f"{text}: the network runs {model.steps} step{'s' if model.steps > 1 else ''} "
                              f"(t0..t{model.steps - 1})")
    for s, t in lesion.edges:
        if (s, t) not in model.edges:
            known = ", ".join(f"{a}:{b}" for a, b in model.edges)
            raise ConfigError(f"no projection {s}->{t} in this model (projections: {known})")
    recurrent = {(p.source, p.target): p.direction for p in model.spec.recurrent_projections}
    present = set(recurrent.values()) | ({"intrinsic"} if model.spec.intrinsic else set())
    if lesion.cut and not set(lesion.cut) & present:
        if lesion.cut == ("intrinsic",):
            raise ConfigError("no intrinsic recurrence in this model (trained without --intrinsic)")
        raise ConfigError(f"no {' or '.join(lesion.cut)} projection in this model (compiled with {model.spec.steps} "
                          f"step{'s' if model.spec.steps > 1 else ''}; feedback and lateral ones need 2 or more)")
    if (lesion.cut or any(e in recurrent for e in lesion.edges)) and model.steps == 1:
        raise ConfigError(f"{lesion.label}: run over one step, the network's feedback and lateral projections carry "
                          "nothing (evaluate with --steps 2 or more)")


@contextlib.contextmanager
def lesioned(model: VisualStreamsNet, lesion: Lesion) -> Iterator[VisualStreamsNet]:
    """Apply ``lesion`` to ``model`` for the duration of the block, then restore it exactly."""
    check_lesion(model, lesion)
    saved = model.strengths.detach().clone()
    within = {a: conv.weight.detach().clone() for a, conv in model.intrinsic.items()} if "intrinsic" in lesion.cut \
        else {}
    silenced, silenced_from = set(model.silenced), dict(model.silenced_from)
    try:
        with torch.no_grad():
            for a in within:  # every area's recurrence within itself carries nothing
                model.intrinsic[a].weight.zero_()
        for text in lesion.areas:
            area, step = parse_area(text)
            if step == 0:
                model.silenced.add(area)
            else:
                model.silenced_from[area] = min(step, model.silenced_from.get(area, step))
        cut = [(p.source, p.target) for p in model.spec.recurrent_projections if p.direction in lesion.cut]
        for s, t in [*lesion.edges, *cut]:
            model.set_strength(s, t, 0.0)
        yield model
    finally:
        model.silenced, model.silenced_from = silenced, silenced_from
        with torch.no_grad():
            model.strengths.copy_(saved)
            for a, weight in within.items():
                model.intrinsic[a].weight.copy_(weight)


def sweep(model: VisualStreamsNet) -> list[Lesion]:
    """Every area, then every projection, each on its own; then every feedback and every lateral projection at
    once, and every area's intrinsic recurrence (when the network has them)."""
    present = {p.direction for p in model.spec.recurrent_projections} if model.steps > 1 else set()
    edges = [(p.source, p.target) for p in model.spec.projections if not p.recurrent or present]
    return ([Lesion(areas=(a,)) for a in model.order] + [Lesion(edges=(e,)) for e in edges]
            + [Lesion(cut=(d,)) for d in ("feedback", "lateral") if d in present]
            + ([Lesion(cut=("intrinsic",))] if model.spec.intrinsic else []))


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
            # The final readout's metrics, as before the per-step ones existed: lesions.csv keeps its columns.
            metrics = evaluate(model, images, labels, task, batch_size, precision, per_step=False)
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
    *,
    cut: Sequence[str] = (),
    steps: int | None = None,
) -> pd.DataFrame:
    """Lesion trained runs: each listed area, edge and cut on its own (or every one with ``do_sweep``).

    ``cut``: ``feedback``, ``lateral`` or ``recurrent`` (both) cuts every projection of that direction at once.
    ``steps``: evaluate unrolled over that many steps instead of each run's own (1: the feedforward sweep alone).
    Writes ``lesions.csv`` into each run directory and returns all rows (column ``run`` names the run).
    """
    if not run_dirs:
        raise ConfigError("lesion needs at least one run directory")
    if not (areas or edges or cut or do_sweep):
        raise ConfigError("name an --area, an --edge, a --cut, or use --sweep")
    unknown = [c for c in cut if c not in CUTS]
    if unknown:
        raise ConfigError(f"unknown cut {unknown[0]!r} (cuts: {', '.join(CUTS)})")
    if steps is not None:
        check_steps(steps)
    dev = resolve_runtime(device).device
    runs = [load_run(d, device=str(dev)) for d in run_dirs]
    for d, run in zip(run_dirs, runs, strict=True):
        if isinstance(run.model.spec, ReferenceNetwork):  # no connectome's areas and projections to silence
            raise ConfigError(f"{d}: lesions silence a connectome network's areas and projections; reference model "
                              f"{run.model.spec.name} has neither (its layers are not a connectome's)")
    plans = []
    for run in runs:  # every lesion is checked against every run before the data are read
        model = run.model.to(memory_format=torch.channels_last)
        if steps is not None:
            # the weights do not depend on the step count: the same network, run longer or shorter
            model.spec = replace(model.spec, steps=steps)
        lesions = sweep(model) if do_sweep else (
            [Lesion(areas=(a,)) for a in areas] + [Lesion(edges=(parse_edge(e),)) for e in edges]
            + [Lesion(cut=CUTS[c]) for c in cut])
        for lesion in lesions:
            try:
                check_lesion(model, lesion)
            except ConfigError as exc:
                raise ConfigError(f"{run.run_dir}: {exc}") from None
        plans.append((run, model, lesions))
    # Each run's own dataset, as its config.json records it (Fashion-MNIST runs read the first such run's, as
    # before): loaded once per dataset, and a missing one refused before any evaluation.
    loaded: dict[str, tuple[Any, torch.Tensor]] = {}
    keys = [_data_key(run.config) for run in runs]
    for run, key in zip(runs, keys, strict=True):
        if key not in loaded:
            loaded[key] = test_tensors(run_dataset(run.config, data_path), dev)
    frames = []
    for (run, model, lesions), key in zip(plans, keys, strict=True):
        test_x, test_y = loaded[key]
        cfg = TrainConfig.of_run(run.config)
        # Each run evaluates in the precision it was configured with, on the device chosen for the command.
        precision = resolve_runtime(str(dev), cfg.precision).precision
        df = lesion_effects(model, test_x, test_y, cfg.make_task(), lesions, precision)
        assert run.run_dir is not None
        RunDir(run.run_dir).write_lesions(df)
        frames.append(df.assign(run=str(run.run_dir), seed=cfg.seed, species=run.config.get("name", ""),
                                steps=model.steps))
    return pd.concat(frames, ignore_index=True)


def _data_key(run_config: dict[str, Any]) -> str:
    """Which dataset a run trained on: its recorded image set, or "" for Fashion-MNIST (found once for all)."""
    load = (run_config.get("data") or {}).get("load")
    return json.dumps(load, sort_keys=True) if load else ""
