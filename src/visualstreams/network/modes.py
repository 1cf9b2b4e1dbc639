"""Connection modes: how a projection's strength acts in the compiled network (see docs/network.md).

- ``gain``: a fixed multiplier on the signal (the notebook's scheme; the default);
- ``learned-gain``: a multiplier initialised from the strength and trained with the weights;
- ``density``: the fraction of channel-to-channel connections kept, by a fixed random mask; no multiplier;
- ``none``: the control, the same graph with every present projection at strength 1.

A leaf of the network layer: imports only the errors.
"""

from __future__ import annotations

import numbers

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


# A twin's label (network.config): matched on the parameters used, or on compute
TWIN_PREFIXES = {"parameters": "BF", "compute": "BC"}


def gain_of(mode: str, strength: float) -> float:
    """The multiplier a projection of ``strength`` carries under ``mode``."""
    return 1.0 if mode in ("none", "density") else strength
