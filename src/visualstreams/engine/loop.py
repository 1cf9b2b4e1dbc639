"""The training loop: one step and one epoch's bookkeeping, shared by single (:func:`fit`) and stacked
(:mod:`visualstreams.engine.stacked`) training; the optimizer and schedule factory; evaluation and confusion
matrices. Data are resident on the device and batches are cut by index.

Bit-identical on the CPU: every kernel the loop uses there (convolutions, linear layers, Adam, the reductions
of the loss and metric sums) is deterministic for a given number of threads, and nothing in the loop draws from
an RNG that a checkpoint does not restore. Shuffling and augmentation draw from their own CPU generators
(:func:`make_generators`), so a run's data order depends on its seed alone. The checkpoint written by ``fit``
holds everything needed to continue exactly (:mod:`visualstreams.engine.checkpoint`).

Imports the network, data, tasks and the engine's config/runtime/checkpoint; never run directories.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data import DeviceData
from ..data.streaming import LazyImages, chunks
from ..errors import DivergenceError
from ..metrics import at_level
from ..metrics import at_step as step_name
from ..network import VisualStreamsNet
from ..storage import save_torch
from ..tasks import Task, get_task
from .checkpoint import check_checkpoint_every, check_state, checkpoint_state
from .config import TrainConfig
from .runtime import autocast

Scheduler = torch.optim.lr_scheduler.LRScheduler


# -- the pieces single and stacked training share ----------------------------------------------------------------
def make_optimizer(params: Iterable[torch.Tensor], config: TrainConfig, batches_per_epoch: int,
                   ) -> tuple[torch.optim.Optimizer, Scheduler | None]:
    """The one optimizer and schedule factory: Adam at ``config.lr``; with ``schedule="onecycle"``, a one-cycle
    schedule peaking at ``lr`` over the whole run."""
    optimizer = torch.optim.Adam(list(params), lr=config.lr)
    scheduler = (
        torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                            total_steps=config.epochs * batches_per_epoch)  # its steps: batches
        if config.schedule == "onecycle" else None
    )
    return optimizer, scheduler


def make_generators(seed: int) -> tuple[torch.Generator, torch.Generator]:
    """(order, augmentation) CPU generators of a run: its data order and augmentation depend on the seed alone
    (not on the device or on how many random numbers the model's initialisation used)."""
    return torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)


def crop_offsets(n: int, pad: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 2) row and column offsets in 0..2*pad of :func:`random_crop`, drawn from ``generator``."""
    return torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)


def random_crop(items: torch.Tensor, pad: int, offsets: torch.Tensor) -> torch.Tensor:
    """Random crop with padding, the standard augmentation for natural images: each item (N, C, H, W) is padded
    by ``pad`` zero pixels on every side and cut back to H x W at its ``offsets`` (one gather, no per-item
    Python)."""
    n, _, h, w = items.shape
    padded = torch.nn.functional.pad(items, (pad, pad, pad, pad))
    offsets = offsets.to(items.device)
    rows = (offsets[:, 0:1] + torch.arange(h, device=items.device))[:, :, None]  # (N, H, 1)
    cols = (offsets[:, 1:2] + torch.arange(w, device=items.device))[:, None, :]  # (N, 1, W)
    batch = torch.arange(n, device=items.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def draw_batch(data: DeviceData, idx: torch.Tensor, task: Task, hflip: bool, aug_gen: torch.Generator,
               crop_pad: int = 0, items: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One training batch of the items ``idx``: flips (from ``aug_gen``), crops (``crop_pad`` > 0, from
    ``aug_gen``), then the task's batch (positions and noise from ``aug_gen`` too), in that order of draws.
    ``items``: the images of ``idx`` already decoded (a streamed set's batch); default: cut from ``data``."""
    items = data.train_x[idx] if items is None else items
    if hflip:
        flip = (torch.rand(len(idx), generator=aug_gen) < 0.5).to(items.device)
        items = torch.where(flip[:, None, None, None], items.flip(-1), items)
    if crop_pad:  # nothing drawn without it: runs from before crops existed draw what they drew
        items = random_crop(items, crop_pad, crop_offsets(len(idx), crop_pad, aug_gen))
    if task.needs_pool:  # occlusion, clutter: other training items drawn into each scene
        return task.make_batch(items, data.train_y[idx], generator=aug_gen, index=idx,
                               pool=(data.train_x, data.train_y))
    return task.make_batch(items, data.train_y[idx], generator=aug_gen)


def forward_loss(model: Callable[..., Any], x: torch.Tensor, targets: dict[str, torch.Tensor], task: Task,
                 config: TrainConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(loss, the heads' outputs at the last step) of one training batch. ``loss_steps="last"``: the task's loss
    on the last step (the default, the same calls as before the option existed); ``"all"``: the heads at every
    step and the mean of their losses. The training metrics are the last step's either way."""
    if config.loss_steps == "all":
        outs = model(x, heads=task.heads, every_step=True)
        return task.loss_over_steps(outs, targets, config.label_smoothing), outs[-1]
    out = model(x, heads=task.heads)
    return task.loss(out, targets, config.label_smoothing), out


def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scheduler: Scheduler | None) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


def add_sums(sums: dict[str, torch.Tensor], new: dict[str, torch.Tensor]) -> None:
    """Accumulate a batch's metric sums in place (tensors: no device sync per step)."""
    for k, v in new.items():
        sums[k] = sums[k] + v if k in sums else v


def epoch_entry(model: VisualStreamsNet, data: DeviceData, config: TrainConfig, precision: str, epoch: int,
                train: dict[str, float], label: str, **timing: float) -> dict[str, float]:
    """An epoch's history entry: the training metrics, then the test set's (every ``config.test_every``-th epoch
    and the last); a NaN or infinite training loss raises :class:`DivergenceError` (``label`` names the run in its
    message)."""
    if not np.isfinite(train["loss"]):
        raise DivergenceError(f"{label}training diverged at epoch {epoch} (loss is {train['loss']}); "
                              "the run directory keeps the epochs before it")
    # The model's own config makes the test task: its seed keys the test noise (a stack shares one task).
    scored = epoch % config.test_every == 0 or epoch == config.epochs
    test = (evaluate(model, data.test_x, data.test_y, config.make_task(), config.eval_batch_size, precision)
            if scored else {})
    entry: dict[str, float] = {"epoch": epoch}
    entry.update({f"train_{k}": v for k, v in train.items()})
    entry.update({f"test_{k}": v for k, v in test.items()})
    entry.update(timing)
    return entry


def epoch_line(prefix: str, entry: dict[str, float]) -> str:
    """The line a progress bar writes at an epoch's end."""
    return f"{prefix}epoch {int(entry['epoch'])}: " + " ".join(
        f"{k} {v:.4f}" for k, v in entry.items() if k not in ("epoch", "seconds", "stack_seconds"))


# -- evaluation ---------------------------------------------------------------------------------------------------
@torch.inference_mode()
def evaluate(
    model: VisualStreamsNet,
    images: torch.Tensor,
    labels: torch.Tensor,
    task: Task | str = "what",
    batch_size: int = 1000,
    precision: str = "fp32",
    per_step: bool | None = None,
) -> dict[str, float]:
    """Metrics of ``model`` on uint8 items (N, 1, 28, 28), in large batches (test positions are fixed; with noise,
    item i gets the noise keyed by the task's seed and i, see :meth:`Task.make_batch`).

    ``per_step`` (default: for a network of several steps): also each metric but the loss at every step, the
    heads applied to that step's areas, as ``"acc@t0"`` .. ``"acc@t<T-1>"`` (the "anytime" readout); the last
    step's are the plain metrics' numbers."""
    t = get_task(task) if isinstance(task, str) else task
    per_step = model.steps > 1 if per_step is None else per_step
    was_training = model.training
    model.eval()
    n = len(labels)
    # One pass over the whole test set per condition (an occlusion task: per level; any other: one).
    passes = [(level, *_test_sums(model, ct, images, labels, batch_size, precision, per_step))
              for level, ct in t.test_conditions()]
    model.train(was_training)
    if len(passes) == 1 and passes[0][0] is None:
        _, sums, step_sums = passes[0]
        metrics = t.finalize(sums, n)
        for step, acc in enumerate(step_sums):
            metrics.update({step_name(k, step): v for k, v in t.finalize(acc, n).items() if k != "loss"})
        return metrics
    # The plain metrics pool every condition's items (equal numbers: the mean over conditions for the rates);
    # each condition adds its own, suffixed, and at every step "acc@occ20@t2".
    total: dict[str, torch.Tensor] = {}
    total_steps: list[dict[str, torch.Tensor]] = [{} for _ in passes[0][2]]
    for _, sums, step_sums in passes:
        add_sums(total, sums)
        for acc, part in zip(total_steps, step_sums, strict=True):
            add_sums(acc, part)
    metrics = t.finalize(total, n * len(passes))
    for step, acc in enumerate(total_steps):
        metrics.update({step_name(k, step): v for k, v in t.finalize(acc, n * len(passes)).items() if k != "loss"})
    for level, sums, step_sums in passes:
        metrics.update({at_level(k, level): v for k, v in t.finalize(sums, n).items() if k != "loss"})
        for step, acc in enumerate(step_sums):
            metrics.update({step_name(at_level(k, level), step): v for k, v in t.finalize(acc, n).items()
                            if k != "loss"})
    return metrics


def _test_sums(model: VisualStreamsNet, t: Task, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
               precision: str, per_step: bool) -> tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
    """The metric sums of one pass over the test items (and, with ``per_step``, those of every step)."""
    offsets = t.test_offsets(len(labels))
    pool = (images, labels) if t.needs_pool else None
    sums: dict[str, torch.Tensor] = {}
    step_sums: list[dict[str, torch.Tensor]] = []
    with autocast(images.device, precision):
        for i, batch in zip(range(0, len(labels), batch_size), chunks(images, batch_size), strict=True):
            sl = slice(i, i + batch_size)
            x, targets = t.make_batch(batch, labels[sl], offsets=None if offsets is None else offsets[sl],
                                      index=torch.arange(i, min(i + batch_size, len(labels))), pool=pool)
            if per_step:
                outs = model(x, heads=t.heads, every_step=True)
                step_sums = step_sums or [{} for _ in outs]
                for acc, o in zip(step_sums, outs, strict=True):
                    add_sums(acc, t.batch_sums(o, targets))
                out = outs[-1]
            else:
                out = model(x, heads=t.heads)
            add_sums(sums, t.batch_sums(out, targets))
    return sums, step_sums


def fit(
    model: VisualStreamsNet,
    data: DeviceData,
    config: TrainConfig,
    precision: str,
    progress: bool = True,
    desc: str = "",
    on_epoch: Callable[[list[dict[str, float]]], None] | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    state: dict[str, Any] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place; returns the history (one dict per epoch).

    ``checkpoint``: a path to rewrite atomically at the end of every epoch and, when ``checkpoint_every`` is
    K >= 1, after every K-th batch (an optimizer step; counted across epochs; ``None`` or 0: epoch ends only). It holds
    (see :func:`.checkpoint_state`): the model, optimizer and scheduler states, the epoch and the batches of it
    done, the history so far, the partial sums and seconds of the epoch in progress, that epoch's
    permutation, and the states of the shuffling and augmentation generators and of torch's global RNGs.
    ``state``: such a checkpoint (see :func:`.read_checkpoint`) to continue from, with ``model`` already
    holding its weights; the loop then picks up at the batch after the one it was written at.
    """
    check_checkpoint_every(checkpoint_every)
    task = config.make_task()
    device = data.train_x.device
    n = len(data.train_y)
    batches = (n + config.batch_size - 1) // config.batch_size
    optimizer, scheduler = make_optimizer(model.parameters(), config, batches)
    order_gen, aug_gen = make_generators(config.seed)
    history: list[dict[str, float]] = []
    first_epoch, first_batch = 1, 0
    perm: torch.Tensor | None = None
    sums: dict[str, torch.Tensor] = {}
    seconds_before = 0.0
    if state is not None:
        check_state(state, config, n, batches)
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        order_gen.set_state(state["order_gen"])
        aug_gen.set_state(state["aug_gen"])
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        history = [dict(h) for h in state["history"]]
        if state["step"] >= batches:  # written at an epoch's end: the next one starts afresh
            first_epoch = state["epoch"] + 1
        else:
            first_epoch, first_batch = state["epoch"], state["step"]
            perm = state["perm"].to(device)
            sums = {k: v.to(device) for k, v in state["sums"].items()}
            seconds_before = float(state["seconds"])

    def save(epoch: int, done_batches: int, seconds: float) -> None:
        assert checkpoint is not None
        mid_epoch = done_batches < batches
        save_torch(checkpoint, checkpoint_state(
            model, optimizer, scheduler, config, epoch=epoch, step=done_batches, history=history,
            sums=sums if mid_epoch else {}, seconds=seconds if mid_epoch else 0.0,
            perm=perm if mid_epoch else None, order_gen=order_gen, aug_gen=aug_gen,
            checkpoint_every=checkpoint_every))

    model.train()
    for epoch in range(first_epoch, config.epochs + 1):
        if epoch != first_epoch or perm is None:
            perm = torch.randperm(n, generator=order_gen).to(device)
            sums, seconds_before, first_batch = {}, 0.0, 0
        # The seconds of a resumed epoch are those before its checkpoint plus those after the restart.
        t0 = time.perf_counter() - seconds_before
        bar = tqdm(range(first_batch, batches), desc=f"{desc}epoch {epoch}/{config.epochs}", disable=not progress,
                   leave=True, unit="batch", mininterval=0.5, initial=first_batch, total=batches)
        # A streamed set: the loader's workers decode the epoch's batches, in the permutation's order, ahead of
        # the batch that trains on them (from the batch a resumed epoch continues at).
        streamed = (data.train_x.batches([perm[s * config.batch_size:(s + 1) * config.batch_size].cpu()
                                          for s in range(first_batch, batches)])
                    if isinstance(data.train_x, LazyImages) else None)
        for batch in bar:
            idx = perm[batch * config.batch_size:(batch + 1) * config.batch_size]
            x, targets = draw_batch(data, idx, task, config.hflip, aug_gen, config.crop_pad,
                                    items=next(streamed) if streamed is not None else None)
            with autocast(device, precision):
                loss, out = forward_loss(model, x, targets, task, config)
            optimizer_step(loss, optimizer, scheduler)
            with torch.no_grad():
                add_sums(sums, task.batch_sums(out, targets))
            if progress and batch % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            done = (epoch - 1) * batches + batch + 1
            # An epoch's last batch is left to the epoch-end checkpoint, written a moment later.
            if checkpoint is not None and checkpoint_every and done % checkpoint_every == 0 and batch + 1 < batches:
                save(epoch, batch + 1, time.perf_counter() - t0)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        entry = epoch_entry(model, data, config, precision, epoch, task.finalize(sums, n), desc,
                            seconds=seconds)
        history.append(entry)
        if progress:
            bar.write(epoch_line(desc, entry) + f" | {seconds:.1f}s")
        if on_epoch is not None:
            on_epoch(history)
        if checkpoint is not None:
            save(epoch, batches, seconds)
        model.train()
    return history


@torch.inference_mode()
def confusion_matrix(model: VisualStreamsNet, images: torch.Tensor, labels: torch.Tensor, task: Task,
                     batch_size: int = 1000, precision: str = "fp32", n_classes: int = 10) -> torch.Tensor:
    """Counts (true class, predicted class) of the "what" head on the test items (fixed positions; an occlusion
    task's counts are summed over its levels)."""
    model.eval()
    offsets = task.test_offsets(len(labels))
    counts = torch.zeros(n_classes * n_classes, dtype=torch.long, device=labels.device)
    with autocast(images.device, precision):
        for _, t in task.test_conditions():
            pool = (images, labels) if t.needs_pool else None
            for i, batch in zip(range(0, len(labels), batch_size), chunks(images, batch_size), strict=True):
                sl = slice(i, i + batch_size)
                x, _ = t.make_batch(batch, labels[sl], offsets=None if offsets is None else offsets[sl],
                                    index=torch.arange(i, min(i + batch_size, len(labels))), pool=pool)
                pred = model(x, heads=("what",))["what"].argmax(1)
                counts += torch.bincount(labels[sl] * n_classes + pred, minlength=n_classes * n_classes)
    return counts.view(n_classes, n_classes).cpu()
