"""Tasks: which heads a task trains, its loss and its metrics.

``what`` is the notebook's task: 10-way classification of Fashion-MNIST on the "what" head (on IT);
the dorsal stream is not computed while training it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import ConfigError


@dataclass(frozen=True)
class WhatTask:
    """Object identity: cross-entropy on the "what" head; metric: accuracy in percent."""

    name: str = "what"
    heads: tuple[str, ...] = ("what",)

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
             label_smoothing: float = 0.0) -> torch.Tensor:
        return F.cross_entropy(outputs["what"].float(), targets["label"], label_smoothing=label_smoothing)

    def batch_sums(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Per-batch sums that :meth:`finalize` turns into metrics (kept as tensors: no device sync)."""
        logits = outputs["what"].float()
        return {
            "loss": F.cross_entropy(logits, targets["label"], reduction="sum"),
            "correct": (logits.argmax(1) == targets["label"]).sum(),
        }

    def finalize(self, sums: dict[str, float], n: int) -> dict[str, float]:
        return {"loss": sums["loss"] / n, "acc": 100.0 * sums["correct"] / n}


TASKS: dict[str, WhatTask] = {"what": WhatTask()}


def get_task(name: str) -> WhatTask:
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r} (tasks: {', '.join(TASKS)})") from None
