"""Connection modes: how a projection's strength acts in the compiled network (see docs/network.md).

- ``gain``: a fixed multiplier on the signal (the notebook's scheme; the default);
- ``learned-gain``: a multiplier initialised from the strength and trained with the weights;
- ``density``: the fraction of channel-to-channel connections kept, by a fixed random mask; no multiplier;
- ``none``: the control, the same graph with every present projection at strength 1.

A leaf of the network layer: imports only the errors.
"""

from __future__ import annotations

import numbers
import re
from typing import NamedTuple

from ..errors import ConfigError

MODES: tuple[str, ...] = ("gain", "learned-gain", "density", "none")

MODE_DESCRIPTIONS: dict[str, str] = {
    "gain": "each projection's strength is a fixed multiplier on the signal it carries (the notebook's scheme)",
    "learned-gain": "each multiplier starts at the projection's strength and is trained with the weights",
    "density": "the strength is the fraction of channel-to-channel connections kept (fixed random mask)",
    "none": "the control: the same graph, every present projection at strength 1",
}


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"unknown connection mode {mode!r} (modes: {', '.join(MODES)})")
    return mode


# The network's defaults, decided here once: every other default (the train config's, compile_network's, a
# condition's) reads these.
DEFAULT_MODE = "gain"
DEFAULT_STEPS = 1  # the feedforward network

def check_steps(steps: object) -> int:
    """``steps`` as a whole number >= 1 (a NumPy integer too), or a one-line error."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ConfigError(f"steps must be a whole number >= 1, got {steps!r}")
    return int(steps)


TWIN_PREFIXES = {"parameters": "BF", "compute": "BC"}  # a twin's label: matched on parameters used, or compute


class Condition(NamedTuple):
    """A run's network as a sweep labels it: the mode, the steps, intrinsic recurrence, and for a one-step twin
    the step count of the recurrent network it is matched to and on what (``parameters`` used by the task, or
    training ``compute``)."""

    mode: str
    steps: int = DEFAULT_STEPS
    twin_of: int | None = None
    match: str = "parameters"
    intrinsic: bool = False
    norm: bool = False  # a GroupNorm per area and step (also the one step of a one-step network or twin)

    @property
    def label(self) -> str:
        """``gain``, ``gain-T4`` (4 steps), ``gain-T4i`` (with intrinsic recurrence), ``gain-BF4`` / ``gain-BC4``
        (the one-step twin of ``gain-T4`` matched on used parameters / on compute), ``gain-BF4i`` (of ``gain-T4i``).
        Tables and figures group runs by it, so the steps are a factor like the mode."""
        i = ("i" if self.intrinsic else "") + ("n" if self.norm else "")
        if self.twin_of is not None:
            return f"{self.mode}-{TWIN_PREFIXES[self.match]}{self.twin_of}{i}"
        return self.mode if self.steps == 1 and not self.norm else f"{self.mode}-T{self.steps}{i}"

    @property
    def recurrent(self) -> Condition:
        """The recurrent network a twin is matched to (itself for any other condition)."""
        return self if self.twin_of is None else Condition(self.mode, self.twin_of, intrinsic=self.intrinsic,
                                                           norm=self.norm)


def condition(mode: str, steps: int = DEFAULT_STEPS, twin_of: int | None = None, match: str = "parameters",
              intrinsic: bool = False, norm: bool = False) -> str:
    """How a sweep labels a run's network (:attr:`Condition.label`; ``n`` last for per-step norms: ``gain-T4in``,
    ``gain-T1n`` for a one-step network with its norm)."""
    return Condition(mode, steps, twin_of, match, intrinsic, norm).label


_SUFFIX = re.compile(r"(BF|BC|T)(\d+)(i?)(n?)")


def parse_condition(label: str) -> Condition:
    """:func:`condition`'s inverse: ``Condition("gain", 4)`` from ``"gain-T4"``, ``Condition("gain", 1, 4,
    "compute")`` from ``"gain-BC4"``; a label of no such suffix is read as a mode of one step."""
    mode, sep, tail = label.rpartition("-")
    m = _SUFFIX.fullmatch(tail) if sep and mode else None
    if m is None:
        return Condition(label)
    kind, k, i, n = m.group(1), int(m.group(2)), bool(m.group(3)), bool(m.group(4))
    if kind == "T":
        return Condition(mode, k, intrinsic=i, norm=n)
    return Condition(mode, 1, k, "parameters" if kind == "BF" else "compute", i, n)


def describe_condition(label: str) -> str:
    """A sentence on a run's condition for tables and reports: its mode's description, and its steps or the
    recurrent network it is the matched twin of."""
    c = parse_condition(label)
    what = MODE_DESCRIPTIONS.get(c.mode, "custom mode")
    within = ", and every area's recurrence within itself (a 3x3 convolution of its previous step)"
    normed = "; every area normalised at each step (GroupNorm)" if c.norm else ""
    if c.twin_of is not None:
        on = ("the parameters its task uses (Spoerer et al.'s BF)" if c.match == "parameters" else
              "training FLOPs per image (Spoerer et al. 2020's compute-matched control)")
        return (f"the one-step feedforward twin of `{c.recurrent.label}`: the same connectome's feedforward "
                f"projections, areas widened to match it on {on}; {what}{normed}")
    if c.steps > 1:
        return (f"{c.steps} steps, each a feedforward sweep with the data's feedback and lateral projections from "
                f"the step before{within if c.intrinsic else ''}; {what}{normed}")
    return what + normed


def gain_of(mode: str, strength: float) -> float:
    """The multiplier a projection of ``strength`` carries under ``mode``."""
    return 1.0 if mode in ("none", "density") else strength
