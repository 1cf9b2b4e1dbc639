"""Training configuration: :class:`TrainConfig` (saved in every run's config.json, from which the run is rebuilt),
the recipes it starts from, and :func:`make_config`. Imports tasks and the network's modes; nothing that trains."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..network.modes import DEFAULT_MODE, DEFAULT_STEPS, TWIN_PREFIXES, check_mode, check_steps, condition
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
    mode: str = DEFAULT_MODE
    steps: int = DEFAULT_STEPS  # time steps the network is unrolled over (>= 2: the feedback and lateral ones too)
    # Which steps the loss reads: "last" (the heads on the last step), "all" (the mean over steps of the task's
    # loss, the heads applied at every step, as Spoerer et al. 2020). Configs written before it load as "last".
    loss_steps: str = "last"
    # Every area's recurrence within itself besides the data's feedback (steps >= 2; see network.compile). For a
    # twin: the recurrent network it is matched to has it.
    intrinsic: bool = False
    # A GroupNorm per area and step on the convolution's output, before the ReLU (CORnet-S normalises each step);
    # at any number of steps. Configs written before it load without.
    step_norm: bool = False
    # A one-step network widened to match the network of this many steps (its feedforward twin, see
    # network.twins); None: the network as compiled. ``twin_match``: on the parameters the task uses
    # ("parameters", condition MODE-BF<T>) or on training FLOPs per image ("compute", MODE-BC<T>).
    twin_of: int | None = None
    twin_match: str = "parameters"
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
        check_mode(self.mode)
        check_steps(self.steps)
        if self.twin_of is not None:
            if not (isinstance(self.twin_of, int) and self.twin_of >= 2):
                raise ConfigError(f"a matched twin is of a network of 2 steps or more, got {self.twin_of!r}")
            if self.steps != 1:
                raise ConfigError(f"a matched twin is a one-step network: it takes no --steps {self.steps}")
        if self.twin_match not in TWIN_PREFIXES:
            raise ConfigError(f"unknown twin match {self.twin_match!r} ({', '.join(TWIN_PREFIXES)})")
        if self.twin_match != "parameters" and self.twin_of is None:  # else it would change nothing, in silence
            raise ConfigError("--twin-match goes with --twin-of T (the twin of the T-step network)")
        if self.intrinsic and self.steps < 2 and self.twin_of is None:
            raise ConfigError("intrinsic recurrence acts from one step to the next: it needs --steps 2 or more")
        if self.occlusion is not None and not isinstance(self.occlusion, str):  # a list from Python: as the CLI's
            self.occlusion = ",".join(f"{v:g}" for v in parse_levels(self.occlusion))
        task = self.make_task()
        if task.name in LEVEL_TASKS:  # one spelling per set of levels, so equal configs compare equal
            self.occlusion = ",".join(f"{v:g}" for v in task.occlusion)

    @property
    def condition(self) -> str:
        """The mode, with ``-T<steps>`` when the network is unrolled (see
        :func:`~visualstreams.network.modes.condition`)."""
        return condition(self.mode, self.steps, self.twin_of, self.twin_match, self.intrinsic, self.step_norm)

    def make_task(self) -> Task:
        return get_task(self.task, self.canvas, self.where_weight, self.noise, self.seed, self.occlusion,
                        self.clutter_items)

    @classmethod
    def from_dict(cls, data: dict[str, Any], written_by: str | None = None) -> TrainConfig:
        """The config of a run's config.json ``train`` (or a checkpoint's); ``written_by``, the visualstreams
        version that wrote it (config.json's ``visualstreams``), reads it as that version meant it
        (:func:`upgrade_train`)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in upgrade_train(data, written_by).items() if k in known})

    @classmethod
    def of_run(cls, run_config: dict[str, Any]) -> TrainConfig:
        """The train config of a run's whole config.json, read as the version that wrote it meant it."""
        return cls.from_dict(run_config["train"], run_config.get("visualstreams"))


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
    """A TrainConfig from a recipe, with the given fields overridden (``None`` means keep the recipe's)."""
    if recipe not in RECIPES:
        raise ConfigError(f"unknown recipe {recipe!r} (recipes: {', '.join(RECIPES)})")
    values = {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
    unknown = set(values) - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise ConfigError(f"unknown training option {sorted(unknown)[0]!r}")
    return TrainConfig(recipe=recipe, **values)
