"""Models trained alone and in one stack, from the same seeded weights: what the stacked-training tests compare."""

from __future__ import annotations

from typing import Any

import torch

from visualstreams.engine import fit, fit_stacked
from visualstreams.runs import build_seeded

CPU = torch.device("cpu")


def alone_and_stacked(spec: Any, dev: Any, cfgs: list[Any]) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """(models alone, models stacked, their histories alone, stacked): one model per config, fp32, on the CPU."""
    alone = [build_seeded(spec, c.seed, CPU) for c in cfgs]
    hist_alone = [fit(m, dev, c, "fp32", progress=False) for m, c in zip(alone, cfgs, strict=True)]
    stacked = [build_seeded(spec, c.seed, CPU) for c in cfgs]
    hist_stacked = fit_stacked(stacked, [dev] * len(cfgs), cfgs, "fp32", progress=False)
    return alone, stacked, hist_alone, hist_stacked


def weight_diffs(a: torch.nn.Module, b: torch.nn.Module) -> torch.Tensor:
    """Every parameter's absolute difference between two models of one structure, flattened."""
    return torch.cat([(x - y).abs().flatten() for x, y in zip(a.state_dict().values(), b.state_dict().values(),
                                                              strict=True)])
