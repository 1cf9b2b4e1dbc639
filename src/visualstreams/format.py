"""One formatter for the numbers and p-values that the CLI, the statistics' sentences and the report print.

Imports only the metric names (:mod:`visualstreams.metrics`), for each metric's decimals. Rules: a missing or
non-finite value prints as an en dash; zero never prints as "-0.00"; p-values in the APA style (``< 0.001``, three
decimals below 0.1 so that 0.063 is not shown as 0.06, two above).
"""

from __future__ import annotations

import math
from typing import Any

from .metrics import decimals

MISSING = "–"


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def format_number(value: Any, decimals: int = 4) -> str:
    """``value`` to ``decimals`` places; :data:`MISSING` when it is not a finite number; no "-0.00"."""
    v = _finite(value)
    if v is None:
        return MISSING
    text = f"{v:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text


def format_metric(value: Any, metric: str) -> str:
    """A metric's value at its usual precision (:func:`visualstreams.metrics.decimals`; a metric read at a level
    or a step, ``test_acc@occ20@t2``, has its base metric's)."""
    return format_number(value, decimals(metric))


def format_p(p: Any) -> str:
    """``< 0.001``, ``0.063`` (three decimals below 0.1), ``0.31``; :data:`MISSING` for NaN."""
    v = _finite(p)
    if v is None:
        return MISSING
    if v < 0.001:
        return "< 0.001"
    return f"{v:.3f}" if v < 0.1 else f"{v:.2f}"


def p_clause(p: Any) -> str:
    """``p`` as it reads in a sentence: ``< 0.001`` or ``= 0.063``."""
    text = format_p(p)
    return text if text.startswith("<") or text == MISSING else f"= {text}"


def ci_decimals(diff: float, half_width: float) -> int:
    """Enough decimals to resolve a CI (two significant digits of its half-width), at least 2, at most 6."""
    ref = half_width if math.isfinite(half_width) and half_width > 0 else abs(diff)
    if not math.isfinite(ref) or ref == 0:
        return 2
    return int(min(6, max(2, 1 - math.floor(math.log10(ref)))))
