"""Metric names, the one owner: what each metric is called, its label, unit and decimals, and the suffixes that say
where it was read (``@occ20``: at an occlusion level; ``@t2``: at one step of a recurrent network; both in that
order, ``test_acc@occ20@t2``), each writer beside its inverse.

The ``@t`` suffix is also how an area's output at one step is named (``IT@t2``), so :func:`at_step` and
:func:`split_step` serve areas too. A leaf: imports nothing from visualstreams, so that every layer (the formatter,
statistics, figures, reports and the command line) reads the same table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class Metric:
    """How a metric reads: ``label`` in words, ``unit`` (a difference of two accuracies is in points) and
    ``decimals`` in tables."""

    label: str
    unit: str = ""
    decimals: int = 4

    @property
    def difference_unit(self) -> str:
        """What a difference of two values is in: percentage points for a percentage."""
        return "points" if self.unit == "%" else self.unit


# The metrics tables name, with their labels, units and decimals (any other: its name in words, 4 decimals).
METRICS: dict[str, Metric] = {
    "test_acc": Metric("test accuracy", "%", 2),
    "test_loss": Metric("test loss", "", 4),
    "test_loc_err": Metric("test localisation error", "px", 2),
    "test_r2": Metric("test R² of (x, y)", "", 3),
    "hedges_g": Metric("Hedges' g", "", 2),
}
# The test metrics a comparison reports (a task records those its heads have), in the order tables show them.
TEST_METRICS = ("test_acc", "test_loss", "test_loc_err", "test_r2")
# The ones whose differences are tested and listed (a loss is reported, not tested, beside its accuracy).
TESTED_METRICS = ("test_acc", "test_loc_err", "test_r2")

_LEVEL = "@occ"
_STEP = "@t"


class MetricName(NamedTuple):
    """A metric name taken apart: ``MetricName("test_acc", 20.0, 2)`` for ``test_acc@occ20@t2``."""

    base: str
    level: float | None = None
    step: int | None = None


def level_label(level: float) -> str:
    """``occ20``: the suffix of a level's metrics, without its ``@`` (``test_acc@occ20``)."""
    return f"{_LEVEL[1:]}{level:g}"


def at_level(name: str, level: float) -> str:
    """``test_acc@occ20``: a metric read at an occlusion level."""
    return f"{name}@{level_label(level)}"


def split_level(name: str) -> tuple[str, float | None]:
    """``("test_acc", 20.0)`` from ``"test_acc@occ20"`` (:func:`at_level`'s inverse); ``(name, None)`` for a name of
    no level."""
    base, sep, tail = name.rpartition(_LEVEL)
    return (base, float(tail)) if sep and base and tail.replace(".", "", 1).isdigit() else (name, None)


def at_step(name: str, step: int) -> str:
    """``IT@t2`` or ``test_acc@t2``: an area's output, or a metric read, at one step."""
    return f"{name}{_STEP}{step}"


def split_step(name: str, strict: bool = False) -> tuple[str, int | None]:
    """``("test_acc", 2)`` from ``"test_acc@t2"`` (:func:`at_step`'s inverse); ``(name, None)`` for a name of no
    step. ``strict``: a name with an ``@t`` not followed by a whole number (``IT@tx``, ``@t2``) raises ValueError
    instead (a user's ``AREA@tK`` that is mistyped)."""
    base, sep, tail = name.rpartition(_STEP)
    if sep and base and tail.isdigit():
        return base, int(tail)
    if strict and sep:
        raise ValueError(f"{name!r}: not NAME{_STEP}K")
    return name, None


def parse(name: str) -> MetricName:
    """``MetricName("test_acc", 20.0, 2)`` from ``"test_acc@occ20@t2"``. A name of another form is returned whole,
    as a metric of no level or step."""
    rest, step = split_step(name)
    base, level = split_level(rest)
    return MetricName(name) if "@" in base else MetricName(base, level, step)


def info(name: str) -> Metric:
    """The metric's entry (of its base name); for a name not in :data:`METRICS`, one made from the name."""
    base = parse(name).base
    if base in METRICS:
        return METRICS[base]
    accuracy = base.endswith("_acc") or base == "acc"
    words = "accuracy" if base == "acc" else (base[: -len("_acc")] + " accuracy" if accuracy else base)
    return Metric(words.replace("_", " "), "%" if accuracy else "")


def decimals(name: str) -> int:
    """Decimals of ``name`` in tables: those of the metric it begins with (``test_acc@occ20@t2`` has
    ``test_acc``'s), else 4."""
    known = METRICS.get(name.partition("@")[0])
    return known.decimals if known else 4


def read_at_words(name: str) -> str:
    """Where a metric was read, in words, to follow its label: `` at 20% occlusion, step 2`` for
    ``test_acc@occ20@t2``, `` at step 1``, or nothing."""
    _, level, step = parse(name)
    words = [] if level is None else [f"at {level:g}% occlusion"]
    if step is not None:
        words.append(f"step {step}" if words else f"at step {step}")
    return "".join(f"{', ' if i else ' '}{w}" for i, w in enumerate(words))


def label(name: str, unit: bool = False) -> str:
    """``test accuracy at 20% occlusion`` for ``test_acc@occ20``; with ``unit``, as an axis says it:
    ``test accuracy (%) at 20% occlusion``."""
    m = info(name)
    return m.label + (f" ({m.unit})" if unit and m.unit else "") + read_at_words(name)


def in_order(names: Iterable[str]) -> list[str]:
    """``names`` without repeats: the test metrics first in :data:`TEST_METRICS`' order, then the rest as given."""
    seen = list(dict.fromkeys(str(m) for m in names))
    return [m for m in TEST_METRICS if m in seen] + [m for m in seen if m not in TEST_METRICS]
