"""Tasks: which heads a task trains, how a batch is made, its loss and its metrics.

- ``what`` (the notebook's, the default): 10-way classification on the "what" head (on IT); the dorsal
  stream is not computed.
- ``where``: the item is placed at a random position on a larger blank canvas (``canvas``, default 56
  pixels); the "where" head (on LIP) regresses the item's centre (x, y). The ventral stream is not computed.
- ``what-where``: both heads; loss = cross-entropy + ``where_weight`` x mean squared error of the centre,
  with coordinates scaled to [-1, 1] (so a weight of 1 puts the two losses on similar footing at the start:
  about 2.3 and 0.3).

- ``occlusion``: 10-way classification of items partly hidden by opaque blobs in the background's value (occlusion
  by deletion) that hide a stated share of each item's pixels, ``occlusion`` (percent, default 0, 20, 40, 60);
  training draws each image's level from them, the test set is evaluated at each level (one fixed scene per test
  item and level, the same in every run; :mod:`visualstreams.data.occlusion`).
- ``debris``: the same with fragments of other items drawn over the item where they have ink ("digit debris",
  Spoerer et al. 2017), covering the stated share of its pixels: added clutter that leaves the item's silhouette
  whole (:mod:`visualstreams.data.debris`). Called ``occlusion`` before visualstreams 0.2.
- ``clutter``: ``clutter`` items (default 3) of different classes on a canvas (default 40 pixels), partly
  overlapping; the "what" head says which classes are present (multi-label, binary cross-entropy per class;
  :mod:`visualstreams.data.clutter`).

Metrics: ``acc`` (percent correct; for clutter the share of the placed classes among the head's n highest
outputs, n the number placed, as Spoerer et al. score digit clutter), ``loc_err`` (mean distance between
predicted and true centre, in pixels) and ``r2`` (coefficient of determination of x and y, pooled over both
coordinates); for clutter also ``exact`` (percent of images whose n highest outputs are exactly the classes
placed) and ``f1`` (mean over classes of the F1 score of "present" read as an output above 0, percent).

Imports the data layer's canvas, noise, occlusion, debris and clutter generators and the errors; never networks or
training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from .data import debris as debris_scenes
from .data import occlusion as occlusion_scenes
from .data.canvas import ITEM_SIZE, TEST_POSITION_SEED, canvas_offsets, item_centres, place_on_canvas
from .data.clutter import CLUTTER_STREAM, clutter, clutter_draws
from .data.noise import item_noise, keyed_uniforms
from .errors import ConfigError

TASK_HEADS: dict[str, tuple[str, ...]] = {"what": ("what",), "where": ("where",), "what-where": ("what", "where"),
                                          "occlusion": ("what",), "debris": ("what",), "clutter": ("what",)}
#: Tasks scored at levels of cover (percent of the item's pixels hidden or covered): their ``occlusion`` levels.
LEVEL_TASKS = ("occlusion", "debris")
DEFAULT_CANVAS = 56
DEFAULT_OCCLUSION = (0.0, 20.0, 40.0, 60.0)  # percent of the item's pixels hidden (occlusion) or covered (debris)
MAX_OCCLUSION = 80.0  # the blobs or fragments drawn per item cover 80% of every Fashion-MNIST item, not always more
DEFAULT_CLUTTER = 3  # items per image
CLUTTER_RANGE = (2, 9)  # at least two items; at most one fewer than Fashion-MNIST's ten classes
CLUTTER_CANVAS = 40
CLASSES = 10  # the items of the occlusion and clutter tasks are Fashion-MNIST's


def parse_levels(levels: str | Sequence[float] | None) -> tuple[float, ...]:
    """Occlusion levels in percent from ``"0,20,40,60"`` or a sequence; each in [0, 80], none repeated; a bad
    one is a one-line :class:`ConfigError`."""
    if levels is None:
        return DEFAULT_OCCLUSION
    parts = [p.strip() for p in levels.split(",")] if isinstance(levels, str) else list(levels)
    values = []
    for part in parts:
        try:
            value = float(part)
        except (TypeError, ValueError):
            raise ConfigError(f"occlusion levels are percentages of the item's pixels, e.g. 0,20,40,60; got "
                              f"{levels!r}") from None
        if not (0.0 <= value <= MAX_OCCLUSION):  # `not` also catches NaN
            raise ConfigError(f"occlusion level {part} is outside 0-{MAX_OCCLUSION:g} (percent of the item's pixels)")
        values.append(value)
    if not values:
        raise ConfigError("occlusion needs at least one level, e.g. 0,20,40,60")
    if len(set(values)) != len(values):
        raise ConfigError(f"occlusion levels must not repeat, got {levels!r}")
    return tuple(values)


# Each task of levels: its draws per item, its composer (items, levels, pool, places in it, draws) -> scenes, and its
# fixed test scenes (pool, index, level).
_LEVEL_SCENES: dict[str, tuple[tuple[int, ...], Callable[..., torch.Tensor], Callable[..., torch.Tensor]]] = {
    "occlusion": (occlusion_scenes.DRAWS, lambda items, levels, pool, index, draws:
                  occlusion_scenes.occlude(items, levels, draws)[0], occlusion_scenes.occluded_test_items),
    "debris": (debris_scenes.DRAWS, lambda items, levels, pool, index, draws:
               debris_scenes.debris(items, levels, pool, index, draws)[0], debris_scenes.debris_test_items),
}


@dataclass(frozen=True)
class Task:
    name: str = "what"
    canvas: int | None = None
    where_weight: float = 1.0
    noise: float = 0.0  # std of Gaussian pixel noise added to the canvas (0-1 scale); 0 = clean
    seed: int = 0  # the run's seed: keys each test item's noise (with its index), see data.noise
    occlusion: tuple[float, ...] = ()  # occlusion, debris: the levels, percent of each item's pixels hidden
    clutter: int = 0  # clutter: items per image

    def __post_init__(self) -> None:
        if self.name not in TASK_HEADS:
            raise ConfigError(f"unknown task {self.name!r} (tasks: {', '.join(TASK_HEADS)})")
        if self.name in LEVEL_TASKS:
            object.__setattr__(self, "occlusion", parse_levels(self.occlusion or None))
            if self.canvas is not None:
                raise ConfigError(f"task {self.name!r} draws over the 28 px items themselves: it takes no canvas")
        elif self.occlusion:
            raise ConfigError(f"occlusion levels go with task 'occlusion' or 'debris', not {self.name!r}")
        if self.name == "clutter":
            n = self.clutter or DEFAULT_CLUTTER
            if not (CLUTTER_RANGE[0] <= n <= CLUTTER_RANGE[1]):
                raise ConfigError(f"clutter takes {CLUTTER_RANGE[0]} to {CLUTTER_RANGE[1]} items per image (each of "
                                  f"another class), got {n}")
            object.__setattr__(self, "clutter", n)
            if self.canvas is None:
                object.__setattr__(self, "canvas", CLUTTER_CANVAS)
        elif self.clutter:
            raise ConfigError(f"a number of clutter items goes with task 'clutter', not {self.name!r}")
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
    def needs_pool(self) -> bool:
        """Whether a batch's scenes are drawn from a pool (occlusion, debris, clutter): :meth:`make_batch` needs the
        ``pool`` (debris and clutter draw other items from it; every one keeps its fixed test scenes per pool) and
        the items' places in it."""
        return self.name in (*LEVEL_TASKS, "clutter")

    @property
    def single_label(self) -> bool:
        """Whether the "what" head names one class per image (a confusion matrix has a meaning)."""
        return self.name != "clutter"

    def test_conditions(self) -> list[tuple[float | None, Task]]:
        """The test set's conditions, each evaluated on the whole test set: one per occlusion or debris level (its
        metrics suffixed ``@occ20`` by :func:`visualstreams.metrics.at_level`, the plain ones pooled over the
        levels); one, of no level (None), for any other task."""
        if self.name in LEVEL_TASKS:
            return [(level, replace(self, occlusion=(level,))) for level in self.occlusion]
        return [(None, self)]

    @property
    def metric_names(self) -> tuple[str, ...]:
        names = ("loss",)
        if self.name == "clutter":
            return names + ("acc", "exact", "f1")
        if "what" in self.heads:
            names += ("acc",)
        if "where" in self.heads:
            names += ("loc_err", "r2")
        return names

    # -- batches ---------------------------------------------------------------------------------------------
    def make_batch(
        self, images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None,
        offsets: torch.Tensor | None = None, index: torch.Tensor | None = None,
        pool: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """uint8 items (B, 1, 28, 28) -> float input in [0, 1] (channels_last) and the targets.

        Noise: training batches draw it from ``generator`` (the run's augmentation stream); test items pass
        ``index``, their indices in the test set, and get :func:`~visualstreams.data.item_noise` keyed by
        (``seed``, index): the same noise for an item whatever the batch, the run's condition or the call.
        Occlusion and clutter (:attr:`needs_pool`) draw other items of ``pool`` (images, labels: the training
        set in training, the test set at test) into each scene, ``index`` being the items' places in it; their
        random choices come from ``generator`` in training and, at test, from the item's index alone (one fixed
        scene per test item, the same in every run; the test items are then ``pool[0][index]``, as evaluation
        passes them, and an occluded one is read from the scenes kept for that pool).
        """
        targets = {"label": labels}
        if self.needs_pool:
            if pool is None or index is None:
                raise ConfigError(f"task {self.name!r} needs the pool of items its scenes are drawn from and the "
                                  "items' places in it")
            if generator is None and len(self.occlusion) > 1:
                raise ConfigError("occluded test items are drawn at one level at a time (test_conditions)")
            if self.name in LEVEL_TASKS:
                images = self._occluded(images, index, pool[0], generator)
            else:
                draws = (torch.rand((len(images), clutter_draws(self.clutter, CLASSES)), generator=generator)
                         if generator is not None else
                         keyed_uniforms(CLUTTER_STREAM, index, (clutter_draws(self.clutter, CLASSES),)))
                images, targets["present"] = clutter(images, labels, pool[0], pool[1], self.clutter,
                                                     self.image_size, draws, CLASSES)
        if self.canvas is not None and self.name != "clutter":  # clutter composes its own canvas
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

    def _occluded(self, items: torch.Tensor, index: torch.Tensor, pool: torch.Tensor,
                  generator: torch.Generator | None) -> torch.Tensor:
        draw_shape, compose, test_scenes = _LEVEL_SCENES[self.name]
        if generator is None:  # a test batch: its fixed scenes at the one level of this condition
            return test_scenes(pool, index, self.occlusion[0] / 100.0)
        levels = torch.tensor(self.occlusion) / 100.0
        if len(levels) > 1:  # each image its own level of the mix, drawn first
            levels = levels[torch.randint(0, len(levels), (len(items),), generator=generator)]
        else:
            levels = levels.expand(len(items))
        return compose(items, levels, pool, index, torch.rand((len(items), *draw_shape), generator=generator))

    def test_offsets(self, n: int) -> torch.Tensor | None:
        """The fixed positions of the test items (the same for every run)."""
        if self.canvas is None:
            return None
        return canvas_offsets(n, self.canvas, torch.Generator().manual_seed(TEST_POSITION_SEED))

    # -- loss and metrics -------------------------------------------------------------------------------------
    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
             label_smoothing: float = 0.0) -> torch.Tensor:
        if self.name == "clutter":  # one binary cross-entropy per class; smoothing pulls targets towards 1/2
            present = targets["present"] * (1 - label_smoothing) + 0.5 * label_smoothing
            return F.binary_cross_entropy_with_logits(outputs["what"].float(), present)
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
        if self.name == "clutter":
            logits, present = outputs["what"].float(), targets["present"]
            sums["loss"] = F.binary_cross_entropy_with_logits(logits, present, reduction="none").mean(1).sum()
            hits = present.gather(1, logits.topk(self.clutter, dim=1).indices).sum(1)
            sums["hits"], sums["exact"] = hits.sum(), (hits == self.clutter).sum()
            said = logits > 0
            sums["tp"] = (said & (present > 0)).sum(0)
            sums["fp"] = (said & (present == 0)).sum(0)
            sums["fn"] = (~said & (present > 0)).sum(0)
            return sums
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
        if "hits" in sums:
            out["acc"] = 100.0 * float(sums["hits"]) / (n * self.clutter)
            out["exact"] = 100.0 * float(sums["exact"]) / n
            tp, fp, fn = (torch.as_tensor(sums[k]).double() for k in ("tp", "fp", "fn"))
            seen = (2 * tp + fp + fn) > 0  # a class neither placed nor said has no F1: left out of the mean
            out["f1"] = 100.0 * float((2 * tp[seen] / (2 * tp + fp + fn)[seen]).mean()) if seen.any() else float("nan")
            return out
        if "correct" in sums:
            out["acc"] = 100.0 * float(sums["correct"]) / n
        if "dist" in sums:
            out["loc_err"] = float(sums["dist"]) / n
            y, y2 = torch.as_tensor(sums["y"]), torch.as_tensor(sums["y2"])
            ss_tot = float((y2 - y ** 2 / n).sum())
            out["r2"] = 1.0 - float(torch.as_tensor(sums["sq_err"]).sum()) / ss_tot if ss_tot > 0 else float("nan")
        return out


def get_task(name: str, canvas: int | None = None, where_weight: float = 1.0, noise: float = 0.0,
             seed: int = 0, occlusion: str | Sequence[float] | None = None, clutter: int | None = None) -> Task:
    levels = parse_levels(occlusion) if occlusion is not None else ()
    return Task(name, canvas, where_weight, noise, seed, levels, clutter or 0)
