"""The one-step controls of a recurrent network, its twins (Spoerer et al. 2017's BF; Spoerer et al. 2020's
compute-matched controls), and the training compute they are matched on.

- :func:`matched_twin` (condition ``MODE-BF<T>``): the same connectome's feedforward network, every area widened by
  one factor until it has as many **parameters used by the task** as the T-step network (those the trained heads
  depend on, :meth:`~visualstreams.network.compile.CompiledNetwork.parameters_used`): a one-step macaque network
  under the "what" task never computes MT and LIP, so counting them would match it on weights it never uses.
- :func:`compute_twin` (``MODE-BC<T>``): widened until one training step costs as many **FLOPs per image**
  (forward and backward, counted by :func:`training_flops` with torch's ``FlopCounterMode``) as the T-step
  network's (Spoerer et al. 2020 compared recurrent and feedforward networks at equal inference FLOPs; this twin
  matches training FLOPs, the forward and backward of every step the loss reads).

Each twin's architecture (named ``<name>-BF<T>`` or ``-BC<T>``) lists the widened blocks, so a run's config.json
rebuilds it as any one-step network. Imports the compiled spec and the model (to count FLOPs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..errors import ConfigError
from .compile import CompiledNetwork, compile_network
from .model import build_network
from .modes import TWIN_PREFIXES

TWIN_TOLERANCE = 0.02  # a parameter-matched twin's used parameters are the recurrent network's to within 2%
COMPUTE_TOLERANCE = 0.05  # a compute-matched twin's training FLOPs per image are within 5%
TWIN_MATCHES = tuple(TWIN_PREFIXES)  # "parameters", "compute": the labels' owner names them
_FLOPS_BATCH = 2  # images in the counted step (per image after): no shape is special-cased at 2


def training_flops(spec: CompiledNetwork, heads: Sequence[str], every_step: bool = False) -> int:
    """Floating-point operations of one training step per image (forward through the areas ``heads`` need, the
    heads at the last step or, ``every_step``, at every step, and the backward), as torch's ``FlopCounterMode``
    counts them: convolutions and matrix products (2 per multiply-add), not elementwise work or pooling."""
    return _training_flops(spec, tuple(heads), bool(every_step))


def run_costs(spec: CompiledNetwork, heads: Sequence[str], every_step: bool = False) -> dict[str, int]:
    """What a run of ``spec`` on a task of ``heads`` costs, as run directories and summaries record it:
    ``parameters`` (all), ``parameters_used`` (those the task trains) and ``flops`` (training FLOPs per image)."""
    return {"parameters": spec.n_parameters, "parameters_used": spec.parameters_used(tuple(heads), every_step),
            "flops": training_flops(spec, heads, every_step)}


@lru_cache(maxsize=128)  # a sweep asks for each network's count once per run: counted once per network
def _training_flops(spec: CompiledNetwork, heads: tuple[str, ...], every_step: bool) -> int:
    # The count does not depend on the weights: the caller's random state is left as it was, through the build and
    # the counted step (a reference model's dropout draws from it in training mode).
    with torch.random.fork_rng(devices=[]):
        model = build_network(spec)
        x = torch.rand(_FLOPS_BATCH, spec.in_channels, spec.image_size, spec.image_size,
                       generator=torch.Generator().manual_seed(0))
        counter = FlopCounterMode(display=False)
        with counter:
            out = model(x, heads=tuple(heads), every_step=every_step)
            steps = out if isinstance(out, list) else [out]
            sum(o.sum() for s in steps for o in s.values()).backward()
    return round(counter.get_total_flops() / _FLOPS_BATCH)


def _widen(spec: CompiledNetwork, size: Callable[[CompiledNetwork], float], target: float, tolerance: float,
           label: str, what: str, keep_steps: bool = False) -> CompiledNetwork:
    """The one-step network of ``spec``'s connectome (``keep_steps``: at ``spec``'s own steps and recurrence) with
    every area's channels times one factor, the factor bisected until ``size`` of it comes nearest ``target``;
    within ``tolerance`` or a one-line error."""
    if spec.steps < 2 and not keep_steps:
        raise ConfigError("a feedforward twin is of a network of several steps (steps >= 2)")
    base = spec.architecture
    steps, intrinsic = (spec.steps, spec.intrinsic) if keep_steps else (1, False)

    def widened(factor: float) -> CompiledNetwork:
        areas = {a: replace(b, channels=max(1, round(b.channels * factor))) for a, b in base.areas.items()}
        return compile_network(spec.connectome, base.replace(areas=areas, name=f"{base.name}-{label}{spec.steps}"),
                               mode=spec.mode, steps=steps, intrinsic=intrinsic, step_norm=spec.step_norm)

    cache: dict[float, tuple[CompiledNetwork, float]] = {}

    def measured(factor: float) -> tuple[CompiledNetwork, float]:
        if factor not in cache:
            net = widened(factor)
            cache[factor] = (net, size(net))
        return cache[factor]

    lo, hi = 0.25, 2.0
    while measured(hi)[1] < target and hi < 64:
        lo, hi = hi, hi * 2
    while measured(lo)[1] > target and lo > 1 / 64:  # a budget may also narrow a network
        lo, hi = lo / 2, lo
    for _ in range(30):  # the size grows with the factor (in steps, by the rounding): bisect to the nearest
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if measured(mid)[1] < target else (lo, mid)
    twin, got = min((measured(lo), measured(hi)), key=lambda t: abs(t[1] - target))
    if abs(got - target) > tolerance * target:
        raise ConfigError(f"no {'' if keep_steps else 'one-step '}network of {spec.connectome.name!r} comes within "
                          f"{tolerance:.0%} of the {target:,.0f} {what} (closest: {got:,.0f})")
    return twin


def budget_measure(spec: CompiledNetwork, match: str, heads: Sequence[str] = ("what",),
                   every_step: bool = False) -> int:
    """What a budget matches: the parameters ``heads`` use (``parameters``) or training FLOPs per image
    (``compute``)."""
    if match == "parameters":
        return spec.parameters_used(tuple(heads), every_step)
    if match == "compute":
        return training_flops(spec, heads, every_step)
    raise ConfigError(f"unknown budget match {match!r} (parameters, compute)")


def match_budget(spec: CompiledNetwork, target: float, match: str, heads: Sequence[str] = ("what",),
                 every_step: bool = False) -> CompiledNetwork:
    """``spec`` (at its own steps and recurrence) with every area's channels scaled by one factor until its
    :func:`budget_measure` is ``target``: within 2% on parameters used by ``heads``, 5% on training FLOPs per image.
    An anatomy-derived network at a uniform network's budget, so that a difference between them is not one of
    size."""
    heads = tuple(heads)
    budget_measure(spec, match, heads, every_step)  # an unknown match: one line
    tolerance, what = ((TWIN_TOLERANCE, "parameters used by the task") if match == "parameters" else
                       (COMPUTE_TOLERANCE, "training FLOPs per image"))
    return _widen(spec, lambda n: budget_measure(n, match, heads, every_step), target, tolerance,
                  "P" if match == "parameters" else "C", what, keep_steps=True)


def matched_twin(spec: CompiledNetwork, heads: Sequence[str] = ("what",), every_step: bool = False,
                 tolerance: float = TWIN_TOLERANCE) -> CompiledNetwork:
    """The one-step network with as many parameters used by ``heads`` as the T-step ``spec`` (to within 2%):
    Spoerer et al. 2017's BF, "more features", matched on what the task trains. ``every_step``: the T-step
    network's loss reads every step (its count is then the same or larger)."""
    heads = tuple(heads)
    return _widen(spec, lambda net: net.parameters_used(heads), spec.parameters_used(heads, every_step), tolerance,
                  "BF", "parameters used by the task")


def compute_twin(spec: CompiledNetwork, heads: Sequence[str] = ("what",), every_step: bool = False,
                 tolerance: float = COMPUTE_TOLERANCE) -> CompiledNetwork:
    """The one-step network whose training step costs as many FLOPs per image as the T-step ``spec``'s (to within
    5%): the control of Spoerer et al. 2020, matched on compute."""
    heads = tuple(heads)
    return _widen(spec, lambda net: training_flops(net, heads), training_flops(spec, heads, every_step), tolerance,
                  "BC", "training FLOPs per image")


def twin(spec: CompiledNetwork, match: str, heads: Sequence[str] = ("what",), every_step: bool = False
         ) -> CompiledNetwork:
    """The twin of ``spec`` matched on ``match``: ``parameters`` (:func:`matched_twin`) or ``compute``
    (:func:`compute_twin`)."""
    if match not in TWIN_MATCHES:
        raise ConfigError(f"unknown twin match {match!r} ({', '.join(TWIN_MATCHES)})")
    return (matched_twin if match == "parameters" else compute_twin)(spec, heads, every_step)


__all__ = ["COMPUTE_TOLERANCE", "TWIN_MATCHES", "TWIN_TOLERANCE", "budget_measure", "compute_twin", "match_budget",
           "matched_twin", "run_costs", "training_flops", "twin"]
