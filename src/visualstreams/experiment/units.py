"""Units of training of a sweep: one planned run (:class:`Planned`), how one trains or continues
(:func:`train_one`), how a stack of runs trains at once (:func:`train_stacked`), and what of a run is on disk
already (:func:`finished`, :func:`resumable`). Shared by the local and the Ray executor.

Imports runs, the engine and the network; never figures, reports or the executors.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch

from ..data import ImageSet
from ..engine import Runtime, TrainConfig, fit_stacked, read_checkpoint
from ..errors import ConfigError, DivergenceError, VisualStreamsError
from ..network import NetworkSpec
from ..runs import RunDir, finish_run, resume_run, start_run, train

Outcome = tuple[list[dict[str, Any]], str]  # (history, status: "ok" or "failed: why")


@dataclass
class Planned:
    """One run of the sweep: what it trains and where, and what is already there."""

    name: str
    condition: str  # the network's label (gain, gain-T4, ...): the run directory's name and the tables'
    seed: int
    config: TrainConfig
    spec: NetworkSpec
    run_dir: RunDir
    done: bool = False
    partial: bool = False
    twin: RunDir | None = None  # the run of the same network and seed that this one reuses


def train_one(p: Planned, dataset: ImageSet, *, progress: bool = True,
              checkpoint_every: int | None = None, runtime: Runtime | None = None) -> Outcome:
    """Train the run ``p`` (or continue it from its checkpoint when it is :func:`resumable`); a diverging run is
    an outcome ("failed: ..."), not an error, so that a sweep goes on."""
    desc = f"{p.name} {p.condition} s{p.seed} "
    try:
        if p.partial:
            # on the device and precision its own config.json names, as an uninterrupted run had them
            result = resume_run(p.run_dir.path, data=dataset, progress=progress, desc=desc,
                                checkpoint_every=checkpoint_every)
        else:
            result = train(p.spec, p.config, data=dataset, out=p.run_dir.path, overwrite=True, progress=progress,
                           desc=desc, checkpoint_every=checkpoint_every, runtime=runtime)
        return result.history.to_dict("records"), "ok"
    except DivergenceError as exc:  # one diverging run must not stop the sweep
        return p.run_dir.read_history(strict=False), f"failed: {exc}"


def train_stacked(fresh: list[Planned], dataset: ImageSet, runtime: Runtime, progress: bool,
                   max_stack: int) -> dict[RunDir, tuple[list[dict[str, Any]], str]]:
    """Train the fresh runs of a sweep in stacks of up to ``max_stack`` models of one structure and recipe; each
    run directory is locked until the stacks are done, as :func:`train` locks its own."""
    with contextlib.ExitStack() as locks:
        for p in fresh:
            locks.enter_context(p.run_dir.lock())
        return _train_stacked(fresh, dataset, runtime, progress, max_stack)


def _train_stacked(fresh: list[Planned], dataset: ImageSet, runtime: Runtime, progress: bool,
                   max_stack: int) -> dict[RunDir, tuple[list[dict[str, Any]], str]]:
    started = []
    shared: dict[Any, Any] = {}
    for p in fresh:
        run = start_run(p.spec, p.config, data=dataset, out=p.run_dir.path, overwrite=True, runtime=runtime)
        if p.config.train_subset is None:  # the same images for every run: one copy on the device
            run.data = shared.setdefault("all", run.data)
        started.append(run)
    groups: dict[Any, list[Any]] = {}
    for run in started:
        recipe = (run.train_config.network, tuple((k, v) for k, v in sorted(run.train_config.to_dict().items())
                                                  if k != "seed"))
        groups.setdefault((run.model.spec.structure, recipe, len(run.data.train_y)), []).append(run)
    results: dict[RunDir, tuple[list[dict[str, Any]], str]] = {}
    for members in groups.values():
        for i in range(0, len(members), max_stack):
            stack = members[i:i + max_stack]
            for run in stack:
                run.config["resolved"]["stacked_with"] = len(stack)  # seconds = the run's share of the stack's
                run.run_dir.write_config(run.config)
            try:
                outcome = fit_stacked(
                    [r.model for r in stack], [r.data for r in stack], [r.train_config for r in stack],
                    stack[0].precision, progress=progress, desc=f"{len(stack)} runs: ",
                    on_epoch=[r.run_dir.write_history for r in stack],
                    checkpoints=[r.run_dir.checkpoint_path for r in stack],
                    names=[f"{r.config['name']} {r.train_config.network.label} s{r.train_config.seed}" for r in stack])
            except torch.OutOfMemoryError:
                raise ConfigError(f"out of memory training {len(stack)} models at once; use a smaller --max-stack "
                                  "or --strategy sequential (finished runs are kept: add --resume)") from None
            for run, result in zip(stack, outcome, strict=True):
                if isinstance(result, DivergenceError):
                    results[run.run_dir] = (run.run_dir.read_history(strict=False), f"failed: {result}")
                else:
                    finish_run(run, result)
                    results[run.run_dir] = (result, "ok")
    return results


def same_plan(p: Planned) -> bool:
    """config.json says this run was started with this plan: the training options (bar device and precision)
    and the compiled architecture."""
    try:
        saved = p.run_dir.read_config()
        # A field an older config.json lacks (steps, before recurrence) was its default then; one written before
        # the network config was split holds the network's fields in ``train``.
        recorded = TrainConfig.of_run(saved)
    except (VisualStreamsError, OSError, KeyError, TypeError, AttributeError):
        return False
    runtime = ("device", "precision")
    same = ({k: v for k, v in recorded.to_dict().items() if k not in runtime}
            == {k: v for k, v in p.config.to_dict().items() if k not in runtime})
    # the compiled architecture (a connectome's network) or the reference model and its input, as recorded
    record = p.spec.record()
    which = "architecture" if "architecture" in record else "model"
    # a run started from a weights file or left untrained (train --weights / --untrained) is not a sweep's run
    return (same and recorded.network.recorded_for(p.config.network) and saved.get(which) == record[which]
            and not saved.get("init"))


def finished(p: Planned) -> bool:
    """A run counts as done when its weights exist and its config and history match the plan."""
    history = p.run_dir.read_history(strict=False)
    return same_plan(p) and len(history) == p.config.epochs and p.run_dir.has_weights()


def resumable(p: Planned) -> bool:
    """An interrupted run of the same plan with a checkpoint: continuing it gives what retraining would.

    The checkpoint is read now, so a corrupt one is reported before any training, like a clash.
    """
    if not same_plan(p) or not p.run_dir.has_checkpoint():
        return False
    read_checkpoint(p.run_dir.checkpoint_path)
    return True
