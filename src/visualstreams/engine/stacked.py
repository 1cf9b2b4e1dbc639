"""Many models trained at once on one device: stacked parameters, one vmapped step for all of them.

A sweep trains many small networks of the same structure (seeds x species x variants). On a GPU one such
network leaves most of the device idle, so :func:`fit_stacked` stacks M of them (``torch.func``'s
``stack_module_state``), runs one step for all M with ``vmap``, and updates them with one Adam over the stacked
tensors. Adam is elementwise, the models share no parameter, and the summed loss's gradient with respect to
one model's weights is that model's own gradient, so each model follows the same trajectory as when trained
alone: its own initialisation (its seed), its own shuffling and augmentation (its own generators, drawn in the
same order as :func:`~visualstreams.engine.loop.fit` draws them: the step and the epoch's bookkeeping are the
loop's own, :mod:`visualstreams.engine.loop`), its own result, within the rounding of the
batched kernels (bf16 noise under autocast; ~1e-6 in fp32).

Where this wins depends on the device, so :func:`choose_strategy` picks: stacked on CUDA, sequential on the
CPU, where vmapped convolutions were measured slower than training the models one after another (see
BENCHMARKS.md). Each model gets an epoch-end checkpoint of its own (sliced from the stack), so an interrupted
stacked sweep resumes run by run with :func:`~visualstreams.runs.lifecycle.resume_run`.

Imports the loop, the checkpoint format and the network; never run directories.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from ..data import DeviceData
from ..data.streaming import LazyImages
from ..errors import ConfigError, DivergenceError
from ..network import VisualStreamsNet
from ..storage import save_torch
from .checkpoint import checkpoint_state
from .config import TrainConfig
from .loop import (
    add_sums,
    crop_offsets,
    draw_batch,
    epoch_entry,
    epoch_line,
    forward_loss,
    make_generators,
    make_optimizer,
    optimizer_step,
    random_crop,
)
from .runtime import Runtime, autocast

STRATEGIES = ("auto", "stacked", "sequential")


def choose_strategy(strategy: str, runtime: Runtime) -> str:
    """``auto``: stacked on CUDA, sequential on the CPU (measured: vmap is slower there)."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r} ({', '.join(STRATEGIES)})")
    if strategy == "auto":
        return "stacked" if runtime.device.type == "cuda" else "sequential"
    return strategy


def _same_but_seed(configs: Sequence[Any]) -> None:
    ref = {k: v for k, v in asdict(configs[0]).items() if k != "seed"}
    for c in configs[1:]:
        if {k: v for k, v in asdict(c).items() if k != "seed"} != ref:
            raise ConfigError("stacked models must share every training option but the seed")


class _SlicedAdam:
    """One model's view of the stacked Adam, shaped like its own ``Adam.state_dict()``."""

    def __init__(self, optimizer: torch.optim.Optimizer, index: int) -> None:
        self.optimizer, self.index = optimizer, index

    def state_dict(self) -> dict[str, Any]:
        full = self.optimizer.state_dict()
        state = {}
        for pid, s in full["state"].items():
            state[pid] = {k: (v if k == "step" else v[self.index]).clone() for k, v in s.items()}
        return {"state": state, "param_groups": copy.deepcopy(full["param_groups"])}


def fit_stacked(
    models: Sequence[VisualStreamsNet],
    data: Sequence[DeviceData],
    configs: Sequence[TrainConfig],
    precision: str,
    *,
    progress: bool = True,
    desc: str = "",
    on_epoch: Sequence[Callable[[list[dict[str, float]]], None] | None] | None = None,
    checkpoints: Sequence[str | os.PathLike[str] | None] | None = None,
    names: Sequence[str] | None = None,
) -> list[list[dict[str, float]] | DivergenceError]:
    """Train ``models`` (same structure; one :class:`~visualstreams.data.DeviceData` and one config each,
    the configs equal but for the seed) together; weights are written back into the models.

    Returns one history per model (as :func:`~visualstreams.engine.loop.fit`), or the :class:`DivergenceError`
    of a model whose loss became NaN or infinite (the others go on; the stack keeps no shared state that a
    NaN could reach). In each history ``seconds`` is the model's share of the epoch's wall time (the
    stack's, divided by the number of models) and ``stack_seconds`` the stack's. ``names`` label the models
    in messages (default: their seeds).
    ``checkpoints``: one path (or None) per model, written at every epoch's end in the format of
    :func:`~visualstreams.engine.checkpoint.checkpoint_state`, so each run resumes alone.
    """
    m_count = len(models)
    if not (m_count == len(data) == len(configs)) or m_count == 0:
        raise ConfigError("fit_stacked needs one dataset and one config per model")
    if any(isinstance(d.train_x, LazyImages) for d in data):
        raise ConfigError("a streamed dataset (over the in-memory limit) trains one model at a time: use --strategy "
                          "sequential")
    if len({m.spec.structure for m in models}) != 1:
        raise ConfigError("stacked models must have the same structure (areas, projections, heads, mode)")
    _same_but_seed(configs)
    config = configs[0]
    n = len(data[0].train_y)
    if any(len(d.train_y) != n for d in data):
        raise ConfigError("stacked models must train on the same number of images")
    task = config.make_task()
    device = data[0].train_x.device
    batches = (n + config.batch_size - 1) // config.batch_size
    names = list(names) if names is not None else [f"seed {c.seed}" for c in configs]
    on_epoch = list(on_epoch) if on_epoch is not None else [None] * m_count
    checkpoints = list(checkpoints) if checkpoints is not None else [None] * m_count

    params, buffers = stack_module_state(list(models))
    base = copy.deepcopy(models[0]).to("meta")
    optimizer, scheduler = make_optimizer(params.values(), config, batches)
    order_gens, aug_gens = (list(g) for g in zip(*(make_generators(c.seed) for c in configs), strict=True))

    def one_model(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], x: torch.Tensor,
                  t: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        def call(x: torch.Tensor, **kwargs: Any) -> Any:  # the model of these weights, called as fit calls it
            return functional_call(base, (p, b), (x,), kwargs)

        return forward_loss(call, x, t, task, config)

    step_all = vmap(one_model)
    sums_all = vmap(task.batch_sums)
    # Every model on the same images and a task that draws nothing per item but flips: one gather and one
    # conversion for the whole stack (the per-model flips still come from each model's own generator).
    shared = all(d is data[0] for d in data) and task.canvas is None and task.noise == 0 and not task.needs_pool
    histories: list[list[dict[str, float]]] = [[] for _ in models]
    failed: dict[int, DivergenceError] = {}
    for m in models:
        m.train()
    for epoch in range(1, config.epochs + 1):
        perms = torch.stack([torch.randperm(n, generator=g) for g in order_gens]).to(device)
        sums: dict[str, torch.Tensor] = {}
        t0 = time.perf_counter()
        bar = tqdm(range(batches), desc=f"{desc}{m_count} models, epoch {epoch}/{config.epochs}",
                   disable=not progress, leave=True, unit="batch", mininterval=0.5)
        for step in bar:
            idx = perms[:, step * config.batch_size:(step + 1) * config.batch_size]  # (M, b)
            b = idx.shape[1]
            if shared:
                items = data[0].train_x[idx.reshape(-1)]
                if config.hflip:
                    flip = torch.cat([torch.rand(b, generator=g) < 0.5 for g in aug_gens]).to(device)
                    items = torch.where(flip[:, None, None, None], items.flip(-1), items)
                if config.crop_pad:  # each model's offsets from its own generator, after its flips, as fit() draws
                    offsets = torch.cat([crop_offsets(b, config.crop_pad, g) for g in aug_gens])
                    items = random_crop(items, config.crop_pad, offsets)
                x, t = task.make_batch(items, data[0].train_y[idx.reshape(-1)])
                x_all = x.reshape(m_count, b, *x.shape[1:])
                t_all = {key: v.reshape(m_count, b, *v.shape[1:]) for key, v in t.items()}
            else:
                xs, ts = [], []
                for k in range(m_count):  # each model's batch, drawn from its own generators as fit() draws them
                    x, t = draw_batch(data[k], idx[k], task, config.hflip, aug_gens[k], config.crop_pad)
                    xs.append(x)
                    ts.append(t)
                x_all = torch.stack(xs)
                t_all = {key: torch.stack([t[key] for t in ts]) for key in ts[0]}
            with autocast(device, precision):
                losses, outs = step_all(params, buffers, x_all, t_all)
            optimizer_step(losses.sum(), optimizer, scheduler)
            with torch.no_grad():
                add_sums(sums, sums_all(outs, t_all))  # (M, ...) per key, no sync
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        with torch.no_grad():  # the stack's weights back into the models, for evaluation and checkpoints
            for k, model in enumerate(models):
                for name, p in model.named_parameters():
                    p.copy_(params[name][k])
        for k, model in enumerate(models):
            if k in failed:
                continue
            try:
                entry = epoch_entry(model, data[k], configs[k], precision, epoch,
                                    task.finalize({key: v[k] for key, v in sums.items()}, n), f"{names[k]}: ",
                                    seconds=seconds / m_count, stack_seconds=seconds)
            except DivergenceError as exc:  # the others go on: the stack shares no state a NaN could reach
                failed[k] = exc
                continue
            histories[k].append(entry)
            if progress:
                bar.write(epoch_line(f"{desc}{names[k]} ", entry))
            callback = on_epoch[k]
            if callback is not None:
                callback(histories[k])
            path = checkpoints[k]
            if path is not None:
                save_torch(Path(path), checkpoint_state(
                    model, _SlicedAdam(optimizer, k), scheduler, configs[k], epoch=epoch, step=batches,
                    history=histories[k], sums={}, seconds=0.0, perm=None, order_gen=order_gens[k],
                    aug_gen=aug_gens[k]))
            model.train()
    return [failed.get(k, histories[k]) for k in range(m_count)]
