"""Tasks: which heads a task trains, how a batch is made, its loss and its metrics.

- ``what`` (the notebook's, the default): 10-way classification on the "what" head (on IT); the dorsal
  stream is not computed.
- ``where``: the item is placed at a random position on a larger blank canvas (``canvas``, default 56
  pixels); the "where" head (on LIP) regresses the item's centre (x, y). The ventral stream is not computed.
- ``what-where``: both heads; loss = cross-entropy + ``where_weight`` x mean squared error of the centre,
  with coordinates scaled to [-1, 1] (so a weight of 1 puts the two losses on similar footing at the start:
  about 2.3 and 0.3).

Metrics: ``acc`` (percent correct), ``loc_err`` (mean distance between predicted and true centre, in
pixels) and ``r2`` (coefficient of determination of x and y, pooled over both coordinates).

Imports the data layer's canvas and the errors; never networks or training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .data.canvas import ITEM_SIZE, TEST_POSITION_SEED, canvas_offsets, item_centres, place_on_canvas
from .data.noise import item_noise
from .errors import ConfigError

TASK_HEADS: dict[str, tuple[str, ...]] = {"what": ("what",), "where": ("where",), "what-where": ("what", "where")}
DEFAULT_CANVAS = 56


@dataclass(frozen=True)
class Task:
    name: str = "what"
    canvas: int | None = None
    where_weight: float = 1.0
    noise: float = 0.0  # std of Gaussian pixel noise added to the canvas (0-1 scale); 0 = clean
    seed: int = 0  # the run's seed: keys each test item's noise (with its index), see data.noise

    def __post_init__(self) -> None:
        if self.name not in TASK_HEADS:
            raise ConfigError(f"unknown task {self.name!r} (tasks: {', '.join(TASK_HEADS)})")
        if self.canvas is None and "where" in self.heads:
            object.__setattr__(self, "canvas", DEFAULT_CANVAS)
        if self.canvas is not None and self.canvas < ITEM_SIZE:
            raise ConfigError(f"canvas must be at least {ITEM_SIZE} pixels, got {self.canvas}")
        for label, value in (("where weight", self.where_weight), ("noise", self.noise)):
            if not (value >= 0 and math.isfinite(value)):  # `not >=` also catches NaN
                raise ConfigError(f"{label} must be a finite number >= 0, got {value}")

    @property
    def heads(self) -> tuple[str, ...]:
        return TASK_HEADS[self.name]

    @property
    def image_size(self) -> int:
        return self.canvas or ITEM_SIZE

    @property
    def metric_names(self) -> tuple[str, ...]:
        names = ("loss",)
        if "what" in self.heads:
            names += ("acc",)
        if "where" in self.heads:
            names += ("loc_err", "r2")
        return names

    # -- batches ---------------------------------------------------------------------------------------------
    def make_batch(
        self, images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None,
        offsets: torch.Tensor | None = None, index: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """uint8 items (B, 1, 28, 28) -> float input in [0, 1] (channels_last) and the targets.

        Noise: training batches draw it from ``generator`` (the run's augmentation stream); test items pass
        ``index``, their indices in the test set, and get :func:`~visualstreams.data.item_noise` keyed by
        (``seed``, index): the same noise for an item whatever the batch, the run's condition or the call.
        """
        targets = {"label": labels}
        if self.canvas is not None:
            if offsets is None:
                offsets = canvas_offsets(len(images), self.canvas, generator or torch.Generator())
            offsets = offsets.to(images.device)
            images = place_on_canvas(images, offsets, self.canvas)
            half = (self.canvas - 1) / 2.0
            targets["xy"] = (item_centres(offsets) - half) / half  # [-1, 1]
        x = images.float().div_(255.0)
        if self.noise > 0:
            if generator is not None:
                draw = torch.randn(x.shape, generator=generator)
            elif index is not None:
                draw = item_noise(self.seed, index, x.shape[1:])
            else:  # one fixed field for every batch was the old, frozen behaviour: never fall back to it
                raise ConfigError("noisy batches need a generator (training) or the items' test indices")
            x = x + self.noise * draw.to(x.device)
        return x.contiguous(memory_format=torch.channels_last), targets

    def test_offsets(self, n: int) -> torch.Tensor | None:
        """The fixed positions of the test items (the same for every run)."""
        if self.canvas is None:
            return None
        return canvas_offsets(n, self.canvas, torch.Generator().manual_seed(TEST_POSITION_SEED))

    # -- loss and metrics -------------------------------------------------------------------------------------
    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
             label_smoothing: float = 0.0) -> torch.Tensor:
        total = None
        if "what" in self.heads:
            total = F.cross_entropy(outputs["what"].float(), targets["label"], label_smoothing=label_smoothing)
        if "where" in self.heads:
            mse = F.mse_loss(outputs["where"].float(), targets["xy"])
            weight = self.where_weight if total is not None else 1.0
            total = weight * mse if total is None else total + weight * mse
        assert total is not None
        return total

    def loss_over_steps(self, outputs: list[dict[str, torch.Tensor]], targets: dict[str, torch.Tensor],
                        label_smoothing: float = 0.0) -> torch.Tensor:
        """The mean over steps of :meth:`loss`, ``outputs`` being the heads' outputs at every step (a readout
        in time, as Spoerer et al. 2020); one step's is that step's loss itself, the same tensor as :meth:`loss`."""
        losses = [self.loss(o, targets, label_smoothing) for o in outputs]
        return losses[0] if len(losses) == 1 else torch.stack(losses).mean()

    def batch_sums(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Per-batch sums that :meth:`finalize` turns into metrics (tensors: no device sync per step)."""
        sums: dict[str, torch.Tensor] = {}
        loss = None
        if "what" in self.heads:
            logits = outputs["what"].float()
            loss = F.cross_entropy(logits, targets["label"], reduction="sum")
            sums["correct"] = (logits.argmax(1) == targets["label"]).sum()
        if "where" in self.heads:
            pred, true = outputs["where"].float(), targets["xy"]
            mse = F.mse_loss(pred, true, reduction="none").mean(1).sum()
            weight = self.where_weight if loss is not None else 1.0
            loss = weight * mse if loss is None else loss + weight * mse
            half = (self.canvas - 1) / 2.0  # type: ignore[operator]
            sums["dist"] = ((pred - true) * half).norm(dim=1).sum()
            sums["sq_err"] = ((pred - true) ** 2).sum(0)
            sums["y"] = true.sum(0)
            sums["y2"] = (true ** 2).sum(0)
        assert loss is not None
        sums["loss"] = loss
        return sums

    def finalize(self, sums: dict[str, torch.Tensor | float], n: int) -> dict[str, float]:
        out = {"loss": float(sums["loss"]) / n}
        if "correct" in sums:
            out["acc"] = 100.0 * float(sums["correct"]) / n
        if "dist" in sums:
            out["loc_err"] = float(sums["dist"]) / n
            y, y2 = torch.as_tensor(sums["y"]), torch.as_tensor(sums["y2"])
            ss_tot = float((y2 - y ** 2 / n).sum())
            out["r2"] = 1.0 - float(torch.as_tensor(sums["sq_err"]).sum()) / ss_tot if ss_tot > 0 else float("nan")
        return out


def get_task(name: str, canvas: int | None = None, where_weight: float = 1.0, noise: float = 0.0,
             seed: int = 0) -> Task:
    return Task(name, canvas, where_weight, noise, seed)
