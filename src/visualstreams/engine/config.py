"""Training configuration: :class:`TrainConfig` (task, optimiser, schedule, runtime; saved as config.json's
``train`` section, from which the run is rebuilt), holding the :class:`~visualstreams.network.NetworkConfig` of
the network it trains (config.json's ``network`` section), the recipes it starts from, and :func:`make_config`.
Imports tasks and the network's config; nothing that trains."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..network.config import NetworkConfig
from ..tasks import LEVEL_TASKS, Task, get_task, parse_levels

PRECISIONS = ("auto", "bf16", "fp32")
LOSS_STEPS = ("last", "all")


@dataclass
class TrainConfig:
    """Hyper-parameters of one run. ``recipe`` names the preset the other fields started from."""

    recipe: str = "notebook"
    task: str = "what"
    canvas: int | None = None  # canvas size for where tasks (default 56); None keeps 28x28 items for "what"
    where_weight: float = 1.0
    noise: float = 0.0
    occlusion: str | None = None  # tasks occlusion and debris: levels in percent, "0,20,40,60" (their default)
    clutter_items: int | None = None  # task clutter: items per image (default 3)
    # Which steps the loss reads: "last" (the heads on the last step), "all" (the mean over steps of the task's
    # loss, the heads applied at every step, as Spoerer et al. 2020). Configs written before it load as "last".
    loss_steps: str = "last"
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    schedule: str = "constant"  # "constant" or "onecycle" (lr is then the peak)
    label_smoothing: float = 0.0
    hflip: bool = False
    crop_pad: int = 0  # random crop with padding: pad by this many zero pixels, crop back at a random offset
    seed: int = 0
    train_subset: int | None = None
    device: str = "auto"
    precision: str = "auto"
    eval_batch_size: int = 1000
    # Score the test set after every N-th epoch and after the last (1: every epoch). Training never reads the test
    # set or a generator of its own, so the weights and the last epoch's metrics are the same at any N (tested);
    # the epochs between have training metrics only. A large share of a recurrent run's time on a CPU.
    test_every: int = 1
    # The network trained: its mode, steps, recurrence, twin and input (config.json's own section, not ``train``'s)
    network: NetworkConfig = field(default_factory=NetworkConfig)

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (self.lr > 0 and np.isfinite(self.lr), f"learning rate must be a positive number, got {self.lr}"),
            (self.schedule in ("constant", "onecycle"), f"unknown schedule {self.schedule!r} (constant, onecycle)"),
            (isinstance(self.crop_pad, int) and self.crop_pad >= 0,
             f"crop padding must be a whole number of pixels >= 0, got {self.crop_pad}"),
            (0 <= self.label_smoothing < 1, f"label smoothing must be in [0, 1), got {self.label_smoothing}"),
            (self.train_subset is None or self.train_subset >= 1,
             f"train subset must be >= 1 image, got {self.train_subset}"),
            (self.precision in PRECISIONS, f"unknown precision {self.precision!r} ({', '.join(PRECISIONS)})"),
            (self.eval_batch_size >= 1, f"eval batch size must be >= 1, got {self.eval_batch_size}"),
            (isinstance(self.test_every, int) and self.test_every >= 1,
             f"test every must be a whole number of epochs >= 1, got {self.test_every!r}"),
            (self.loss_steps in LOSS_STEPS, f"unknown loss steps {self.loss_steps!r} ({', '.join(LOSS_STEPS)})"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)
        if isinstance(self.network, dict):  # as config.json and a checkpoint hold it
            self.network = NetworkConfig.from_dict(self.network)
        if self.occlusion is not None and not isinstance(self.occlusion, str):  # a list from Python: as the CLI's
            self.occlusion = ",".join(f"{v:g}" for v in parse_levels(self.occlusion))
        task = self.make_task()
        if task.name in LEVEL_TASKS:  # one spelling per set of levels, so equal configs compare equal
            self.occlusion = ",".join(f"{v:g}" for v in task.occlusion)

    def make_task(self) -> Task:
        return get_task(self.task, self.canvas, self.where_weight, self.noise, self.seed, self.occlusion,
                        self.clutter_items)

    def to_dict(self) -> dict[str, Any]:
        """config.json's ``train`` section: every training field; the network is config.json's ``network``."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "network"}

    @classmethod
    def from_dict(cls, data: dict[str, Any], written_by: str | None = None,
                  network: dict[str, Any] | None = None) -> TrainConfig:
        """The config of a run's config.json ``train`` and ``network`` sections (or a checkpoint's); ``written_by``,
        the visualstreams version that wrote it (config.json's ``visualstreams``), reads it as that version meant it
        (:func:`upgrade_train`). Without ``network``, the network's fields are read from ``data``, as config.json
        held them before the split (a field missing there is its default, as it was then)."""
        known = {f.name for f in fields(cls)} - {"network"}
        data = upgrade_train(data, written_by)
        net = NetworkConfig.from_dict(network if network is not None else data)
        return cls(**{k: v for k, v in data.items() if k in known}, network=net)

    @classmethod
    def of_run(cls, run_config: dict[str, Any]) -> TrainConfig:
        """The train config of a run's whole config.json, read as the version that wrote it meant it."""
        return cls.from_dict(run_config["train"], run_config.get("visualstreams"), run_config.get("network"))


def upgrade_train(data: dict[str, Any], written_by: str | None) -> dict[str, Any]:
    """A saved train config's fields as this version names them. Before 0.2, task ``occlusion`` was the digit-debris
    generator (fragments drawn where they have ink: the silhouette never hidden), now task ``debris``; ``occlusion``
    now deletes the hidden part, silhouette included."""
    if data.get("task") == "occlusion" and written_by is not None and _release(written_by) < (0, 2):
        return {**data, "task": "debris"}
    return data


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".")[:2] if p.isdigit())


# Recipes are small dicts of TrainConfig fields. `notebook` keeps results comparable with the notebook;
# `fast` trades its exact recipe for wall time: bigger batches, a one-cycle schedule (warm-up, then
# cosine decay from a higher peak), label smoothing and horizontal flips (clothes are left-right symmetric).
RECIPES: dict[str, dict[str, Any]] = {
    "notebook": {"epochs": 5, "batch_size": 64, "lr": 1e-3, "schedule": "constant", "label_smoothing": 0.0,
                 "hflip": False},
    "fast": {"epochs": 3, "batch_size": 128, "lr": 3e-3, "schedule": "onecycle", "label_smoothing": 0.1,
             "hflip": True},
}


def make_config(recipe: str = "notebook", **overrides: Any) -> TrainConfig:
    """A TrainConfig from a recipe, with the given fields overridden (``None`` means keep the recipe's). The
    network's fields (mode, steps, intrinsic, step_norm, twin_of, twin_match, image_size, in_channels, classes)
    go to its :class:`~visualstreams.network.NetworkConfig`; ``network`` gives a whole one."""
    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r} (recipes: {', '.join(RECIPES)})")
    values = {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
    net_fields = {f.name for f in fields(NetworkConfig)}
    net = {k: values.pop(k) for k in list(values) if k in net_fields}
    unknown = set(values) - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise ConfigError(f"unknown training option {sorted(unknown)[0]!r}")
    base = values.pop("network", None) or NetworkConfig()
    if isinstance(base, dict):
        base = NetworkConfig.from_dict(base)
    return TrainConfig(recipe=recipe, **values, network=replace(base, **net) if net else base)
