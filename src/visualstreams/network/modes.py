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


def gain_of(mode: str, strength: float) -> float:
    """The multiplier a projection of ``strength`` carries under ``mode``."""
    return 1.0 if mode in ("none", "density") else strength
