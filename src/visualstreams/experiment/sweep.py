"""What a compare trains and how, decided before anything is written: the sweep's grid (:class:`Sweep`: species x
networks x seeds under one training config), how it runs (:class:`Execution`: strategy, stacking, Ray), and the
plan both make with the data (:func:`plan_sweep` -> :class:`SweepPlan`: every network compiled once per species).
:mod:`~visualstreams.experiment.comparison` executes a plan and analyses what it trained.

Imports runs, the engine, the network and the executors' checks; never figures or reports.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..connectome import Connectome, load_connectome
from ..data import ImageSet
from ..engine import Runtime, TrainConfig, choose_strategy, resolve_runtime
from ..errors import ConfigError
from ..network import Architecture, CompiledNetwork, NetworkConfig, NetworkSpec, load_architecture
from ..network.config import INPUT_FIELDS, matched_reference
from ..network.modes import TWIN_PREFIXES
from ..network.twins import twin as twin_network
from ..runs import resolve_data, resolve_input, warn_repeated_sweeps
from ..runs.inputs import DataLike
from .executors import check_executor, task_runtime


@dataclass(frozen=True)
class Sweep:
    """A compare's grid: every connectome under every network and seed, one training config.

    ``seeds`` default to ``[config.seed]``, ``modes`` to the config's network's mode and ``steps`` to its steps.
    Steps are a factor like the modes: a run's condition is the mode with ``-T<k>`` for a network of k >= 2 steps
    (``gain-T4``; :attr:`NetworkConfig.label <visualstreams.network.NetworkConfig.label>`). ``intrinsic``: with
    and/or without every area's recurrence within itself for the step counts T >= 2 (``(False, True)`` trains
    ``gain-T4`` and ``gain-T4i``); default the config's. ``twins``: for each recurrent network also its one-step
    twin matched on the parameters the task uses (``"parameters"``: ``gain-BF4``) and/or on training FLOPs per image
    (``"compute"``: ``gain-BC4``). ``architecture``: the blocks of every network (default: the notebook's).
    ``models``: the field's reference models trained beside them under the same recipe and seeds (``resnet18``,
    ``cornet-s``, ...; condition ``reference``, the model's name in the species column)."""

    connectomes: tuple[str | Connectome, ...]
    config: TrainConfig = field(default_factory=TrainConfig)
    seeds: tuple[int, ...] | None = None
    modes: tuple[str, ...] | None = None
    steps: tuple[int, ...] | None = None
    twins: tuple[str, ...] = ()
    intrinsic: tuple[bool, ...] | None = None
    architecture: Architecture | str | os.PathLike[str] | None = None
    models: tuple[str, ...] = ()
    match_params: str | Connectome | None = None  # the connectome whose network the models are scaled to
    blocks: tuple[str, ...] | None = None  # uniform and/or anatomy (default: the config's network's)
    budgets: tuple[str, ...] | None = None  # the anatomy networks' sizes (default: the config's network's)

    @property
    def seed_list(self) -> list[int]:
        return list(self.seeds) if self.seeds is not None else [self.config.seed]

    @property
    def mode_list(self) -> list[str]:
        return list(self.modes) if self.modes is not None else [self.config.network.mode]

    @property
    def step_list(self) -> list[int]:
        return list(self.steps) if self.steps is not None else [self.config.network.steps]

    @property
    def intrinsic_list(self) -> list[bool]:
        return [self.config.network.intrinsic] if self.intrinsic is None else list(dict.fromkeys(self.intrinsic))

    @property
    def block_list(self) -> list[str]:
        return [self.config.network.blocks] if self.blocks is None else list(dict.fromkeys(self.blocks))

    @property
    def budget_list(self) -> list[str]:
        return [self.config.network.budget] if self.budgets is None else list(dict.fromkeys(self.budgets))

    @property
    def twin_list(self) -> list[str]:
        return list(dict.fromkeys(self.twins))

    def networks(self) -> list[NetworkConfig]:
        """Every network of the sweep, in the order its tables list them: each mode of the step counts (each
        recurrent one with and/or without intrinsic recurrence), then the twins of the recurrent ones; refused in
        one line when the grid repeats itself or asks for something that would apply to nothing."""
        seeds, modes, steps, within, matches = (self.seed_list, self.mode_list, self.step_list, self.intrinsic_list,
                                                self.twin_list)
        if len(set(seeds)) != len(seeds) or len(set(modes)) != len(modes) or len(set(steps)) != len(steps):
            raise ConfigError("seeds, modes and steps must not repeat")
        if not (seeds and modes and steps):
            raise ConfigError("compare needs at least one seed, one mode and one step count")
        if any(within) and not any(t > 1 for t in steps):  # else it would apply to no network, in silence
            raise ConfigError("intrinsic recurrence acts from one step to the next: give --steps 2 or more (e.g. "
                              "--steps 1 4)")
        unknown = [m for m in matches if m not in TWIN_PREFIXES]
        if unknown:
            raise ConfigError(f"unknown twin match {unknown[0]!r} ({', '.join(TWIN_PREFIXES)})")
        if matches and not any(t > 1 for t in steps):
            raise ConfigError("matched twins (--twins) are of networks of several steps: give --steps 1 4 or similar")
        one = NetworkConfig(modes[0], step_norm=self.config.network.step_norm)
        shapes = [replace(one, steps=t, intrinsic=i) for t in steps for i in (within if t > 1 else [False])]
        shapes += [replace(v, steps=1, twin_of=v.steps, twin_match=m) for v in list(shapes) if v.steps > 1
                   for m in matches]
        net = self.config.network
        anatomy = {"field_degrees": net.field_degrees, "anatomy": net.anatomy, "units_per_rf": net.units_per_rf} \
            if net.blocks == "anatomy" else {}
        if "anatomy" in self.block_list and not anatomy:
            anatomy = {"field_degrees": None, "anatomy": None, "units_per_rf": None}
        unknown_blocks = [b for b in self.block_list if b not in ("uniform", "anatomy")]
        if unknown_blocks:
            raise ConfigError(f"unknown blocks {unknown_blocks[0]!r} (uniform, anatomy)")
        if self.budget_list != ["natural"] and "anatomy" not in self.block_list:  # else it would apply to nothing
            raise ConfigError("a budget sizes anatomy networks: give --blocks anatomy (e.g. --blocks uniform anatomy)")
        uniform = {"blocks": "uniform", "field_degrees": None, "anatomy": None, "budget": "natural",
                   "units_per_rf": None}
        kinds = [uniform if b == "uniform" else {"blocks": "anatomy", **anatomy, "budget": budget}
                 for b in self.block_list for budget in (self.budget_list if b == "anatomy" else ["natural"])]
        return [replace(v, mode=m, **kind) for kind in kinds for v in shapes for m in modes]


@dataclass(frozen=True)
class Execution:
    """How a sweep trains: ``strategy`` ``stacked`` (runs of one structure and recipe together, up to
    ``max_stack``), ``sequential`` or ``auto`` (stacked on CUDA); ``executor`` ``local`` or ``ray`` (each unit a
    task, ``workers`` at once with ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs each, on the cluster at
    ``ray_address`` or a local instance); ``checkpoint_every`` K batches; a progress bar. Checked when made."""

    strategy: str = "auto"
    max_stack: int = 48
    executor: str = "local"
    ray_address: str | None = None
    workers: int | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    ray_verbose: bool = False
    checkpoint_every: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        check_executor(self.executor, self.workers, self.cpus_per_run, self.gpus_per_run, self.ray_address,
                       self.ray_verbose)
        if self.max_stack < 1:
            raise ConfigError(f"max_stack must be >= 1, got {self.max_stack}")


@dataclass
class SweepPlan:
    """A sweep with its data and its compiled networks, before anything is written: ``specs[(name, network)]``
    for every connectome's (unique) name and network; ``runtime`` where this process trains, ``task_runtime``
    where each Ray task does, ``stack`` whether runs train stacked."""

    sweep: Sweep
    execution: Execution
    connectomes: list[Connectome]
    names: list[str]
    networks: list[NetworkConfig]
    specs: dict[tuple[str, NetworkConfig], NetworkSpec]
    data: ImageSet
    architecture: Architecture | None
    runtime: Runtime
    stack: bool
    task_runtime: Runtime | None = None
    references: list[NetworkConfig] = field(default_factory=list)  # the reference models, at the data's input

    @property
    def config(self) -> TrainConfig:
        return self.sweep.config

    @property
    def entries(self) -> list[tuple[str, NetworkConfig]]:
        """Every (name, network) of the sweep in the order its tables list them: each network of every connectome,
        then the reference models."""
        return [(n, v) for v in self.networks for n in self.names] + [(str(r.model), r) for r in self.references]

    def experiment(self, data_record: dict[str, Any]) -> dict[str, Any]:
        """experiment.json: the grid as asked (species, modes, steps, seeds, twins, intrinsic recurrence, step
        norms), the training config, the architecture and the data."""
        sweep, twins = self.sweep, list(dict.fromkeys(v.twin_of for v in self.networks if v.twin_of is not None))
        return {
            "species": self.names, "connectomes": [c.to_dict() for c in self.connectomes],
            "modes": sweep.mode_list, "steps": sweep.step_list, "seeds": sweep.seed_list,
            **({"models": [r.model for r in self.references]} if self.references else {}),
            **({"twins": twins, "twin_matches": sweep.twin_list} if sweep.twin_list else {}),
            **({"intrinsic": sweep.intrinsic_list} if any(sweep.intrinsic_list) else {}),
            **({"step_norm": True} if sweep.config.network.step_norm else {}),
            **({"blocks": sweep.block_list} if sweep.block_list != ["uniform"] else {}),
            **({"budgets": sweep.budget_list} if sweep.budget_list != ["natural"] else {}),
            "train": sweep.config.to_dict(),
            "architecture": self.architecture.to_dict() if self.architecture is not None else None,
            "data": data_record,
        }


def plan_sweep(sweep: Sweep, execution: Execution | None = None, *, data: DataLike | None = None,
               data_path: str | os.PathLike[str] | None = None, dataset: str | os.PathLike[str] | None = None,
               test_data: str | os.PathLike[str] | None = None, image_size: int | None = None,
               resume: bool = False) -> SweepPlan:
    """The sweep's plan: its grid checked, its data read and checked by the rules :func:`~visualstreams.train`
    follows (:func:`~visualstreams.runs.resolve_data`), and every (species, network) compiled once at the data's
    input, each twin widened from its recurrent network. Everything that can be refused is, here, in one line,
    before a directory is made or a run trains; writes nothing."""
    execution = execution or Execution()
    config = sweep.config
    conns = [load_connectome(c) for c in sweep.connectomes]
    if not conns and not sweep.models:
        raise ConfigError("compare needs at least one species, connectome file or reference model")
    names = _unique_names([c.name for c in conns])
    references = [NetworkConfig(model=m) for m in sweep.models]  # an unknown name refused here
    models = [str(r.model) for r in references]
    if len(set(models)) != len(models) or set(models) & set(names):
        raise ConfigError("reference models must not repeat, nor share a name with a species")
    networks = sweep.networks()
    runtime = resolve_runtime(config.device, config.precision)
    stack = choose_strategy(execution.strategy, runtime) == "stacked"
    arch = (load_architecture(sweep.architecture) if isinstance(sweep.architecture, str | os.PathLike)
            else sweep.architecture)
    # The data before anything is written: a bad image set is refused in one line, and the networks follow it.
    images = resolve_data(config, data, data_path, dataset, test_data, image_size, resume=resume)
    if not isinstance(images, ImageSet):
        raise ConfigError("compare trains on a dataset (an ImageSet, or Fashion-MNIST's tensors), not on tensors "
                          "already on a device")
    if images.streamed:  # a streamed set trains one model at a time
        if execution.strategy == "stacked":
            raise ConfigError(f"{images.source}: a streamed dataset (over the in-memory limit) trains one model at a "
                              "time: use --strategy sequential")
        stack = False
    decided = resolve_input(config, images)  # the input of every network: the data's
    networks = [replace(v, **{f: getattr(decided, f) for f in INPUT_FIELDS}) for v in networks]
    references = [replace(r, **{f: getattr(decided, f) for f in INPUT_FIELDS}) for r in references]
    if sweep.match_params is not None:
        task = config.make_task()
        references = [matched_reference(r, sweep.match_params, task.heads, config.loss_steps == "all", arch)
                      for r in references]
    heads, every_step = config.make_task().heads, config.loss_steps == "all"
    # One budget for every species' anatomy network of a matched budget: the mean of their uniform networks'; a
    # twin's is its recurrent network's (which it is then matched to, so the two must be the same config)
    networks = [replace(v, budget_target=round(sum(v.recurrent.uniform_budget(c, heads, every_step) for c in conns)
                                               / len(conns)))
                if v.budget != "natural" and v.budget_target is None and conns else v for v in networks]
    specs: dict[tuple[str, NetworkConfig], NetworkSpec] = {
        (name, v): v.compile(conn.replace(name=name), arch, heads, every_step)
        for v in networks if v.twin_of is None for name, conn in zip(names, conns, strict=True)}
    for v in networks:  # an acyclic species' twin is its one-step network (the plan reuses its runs)
        if v.twin_of is not None:
            specs.update({(name, v): twin_network(specs[(name, v.recurrent)], v.twin_match, heads, every_step)
                          for name in names})
    for (name, c), spec in specs.items():  # the rule train follows too: warned, once per species and step count
        if c.mode == networks[0].mode and c.twin_of is None and isinstance(spec, CompiledNetwork):
            warn_repeated_sweeps(spec, name)
    specs.update({(str(r.model), r): r.compile(None, heads=heads) for r in references})  # refused: a where task
    tasks = (task_runtime(config, execution.gpus_per_run, execution.cpus_per_run) if execution.executor == "ray"
             else None)
    return SweepPlan(sweep, execution, conns, names, networks, specs, images, arch, runtime, stack, tasks, references)


def _unique_names(names: Sequence[str]) -> list[str]:
    """Connectome names as run-directory names: a name given twice gets ``-2``, ``-3``, ..."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return out


__all__ = ["Execution", "Sweep", "SweepPlan", "plan_sweep"]
