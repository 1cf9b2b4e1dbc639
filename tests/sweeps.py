"""What a finished sweep left, for tests that compare two sweeps run for run."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def outputs(out: Path) -> dict[str, tuple[list[dict], dict]]:
    """Every run's history (bar the seconds) and weights, by run directory."""
    runs = {}
    for model in sorted(out.glob("*/*/model.pt")):
        history = [{k: v for k, v in h.items() if k not in ("seconds", "stack_seconds")}
                   for h in json.loads((model.parent / "history.json").read_text())]
        runs[str(model.parent.relative_to(out))] = (history, torch.load(model, weights_only=True))
    return runs
