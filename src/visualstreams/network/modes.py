"""Connection modes: how a projection's strength acts in the compiled network (see docs/network.md).

- ``gain``: a fixed multiplier on the signal (the notebook's scheme; the default);
- ``learned-gain``: a multiplier initialised from the strength and trained with the weights;
- ``density``: the fraction of channel-to-channel connections kept, by a fixed random mask; no multiplier;
- ``none``: the control, the same graph with every present projection at strength 1.

A leaf of the network layer: imports only the errors.
"""

from __future__ import annotations

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


def condition(mode: str, steps: int = 1, twin_of: int | None = None) -> str:
    """How a sweep labels a run's network: the mode, with ``-T<steps>`` for networks of several steps (``gain``,
    ``none-T4``) and ``-BF<T>`` for the one-step twin matched to the T-step network's parameters (``gain-BF4``,
    Spoerer et al.'s "BF"). Tables and figures group runs by it, so the steps are a factor like the mode."""
    if twin_of is not None:
        return f"{mode}-BF{twin_of}"
    return mode if steps == 1 else f"{mode}-T{steps}"


def parse_condition(label: str) -> tuple[str, int, int | None]:
    """:func:`condition`'s inverse: ``("gain", 4, None)`` from ``"gain-T4"``, ``("gain", 1, 4)`` from ``"gain-BF4"``,
    ``("gain", 1, None)`` from ``"gain"``; a label of no such suffix is read as a mode of one step."""
    mode, sep, tail = label.rpartition("-")
    if sep and mode:
        for prefix in ("BF", "T"):
            if tail.startswith(prefix) and tail[len(prefix):].isdigit():
                k = int(tail[len(prefix):])
                return (mode, 1, k) if prefix == "BF" else (mode, k, None)
    return label, 1, None


def describe_condition(label: str) -> str:
    """A sentence on a run's condition for tables and reports: its mode's description, and its steps or the
    recurrent network it is the matched twin of."""
    mode, steps, twin_of = parse_condition(label)
    what = MODE_DESCRIPTIONS.get(mode, "custom mode")
    if twin_of is not None:
        return (f"the one-step feedforward twin of `{mode}-T{twin_of}`: the same connectome's feedforward "
                f"projections, areas widened to its parameter count (Spoerer et al.'s BF); {what}")
    if steps > 1:
        return (f"{steps} steps, each a feedforward sweep with the data's feedback and lateral projections from "
                f"the step before; {what}")
    return what


def gain_of(mode: str, strength: float) -> float:
    """The multiplier a projection of ``strength`` carries under ``mode``."""
    return 1.0 if mode in ("none", "density") else strength
