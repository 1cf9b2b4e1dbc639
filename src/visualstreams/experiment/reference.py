"""The course notebook's reported single-run results (5 epochs, Adam 1e-3, batch 64), for side-by-side tables."""

from __future__ import annotations

NOTEBOOK_RESULTS: dict[str, dict[str, float]] = {
    "human": {"test_acc": 92.50, "test_loss": 0.2062},
    "marmoset": {"test_acc": 91.52, "test_loss": 0.2244},
    "mouse": {"test_acc": 91.94, "test_loss": 0.2194},
}
