"""Where a sweep's units of training run: in this process (``local``, the default; no Ray needed) or as Ray tasks
(``ray``: ``pip install 'visualstreams[ray]'``), on a local Ray instance or an existing cluster.

Ray core tasks rather than Ray Tune: a sweep here is a fixed grid whose every unit must finish (no search, no
early stopping, no schedulers), its results and their statistics belong to ``compare``, and Tune's trial
directories would duplicate what the run directories already hold. A task is one unit of training: a run, or a
stack of runs where the strategy stacks. Each task writes its run directory itself, so the output directory must
be on a file system every worker sees (one machine; NFS, Lustre or similar on a cluster); the driver then writes
summary, stats, tests and the report exactly as the local executor does.

Faults: a worker that dies mid-task (killed, out of memory, node lost) is retried by Ray (``max_retries``), and
the retried task continues the run from its last checkpoint (bit for bit on the CPU, as ``train --resume`` does);
a diverging run is an outcome, not a failure; Ctrl-C cancels the tasks and leaves every run resumable with
``compare --resume`` (under either executor). Each task sets its torch threads to its CPUs, so a run under Ray
computes what the same run computes locally with that many threads.

Imports the units of training and the layers below; Ray only when asked for.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from ..data import FashionMNIST
from ..errors import ConfigError
from ..runs import RunDir
from .units import Outcome, Planned, finished, resumable, train_one, train_stacked

EXECUTORS = ("local", "ray")
INSTALL_HINT = "pip install 'visualstreams[ray]'"
MAX_RETRIES = 3  # a unit whose worker died is run again this many times, each continuing from its checkpoint


def check_executor(executor: str, workers: int | None, cpus_per_run: float, gpus_per_run: float) -> None:
    """Refuse bad executor options before anything trains (and a missing Ray in one line)."""
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r} ({', '.join(EXECUTORS)})")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if not cpus_per_run > 0 or not gpus_per_run >= 0:  # `not >` also catches NaN
        raise ConfigError(f"each run needs CPUs > 0 and GPUs >= 0, got {cpus_per_run} and {gpus_per_run}")
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError(f"the ray executor needs Ray ({INSTALL_HINT})") from None


def _unit(units: list[Planned], dataset: FashionMNIST, stack: bool, max_stack: int, checkpoint_every: int | None,
          threads: int) -> dict[RunDir, Outcome]:
    """One Ray task: train ``units`` (one run, or one stack). On a retry after a worker died, a run that finished
    is read back and one with a checkpoint continues from it."""
    import torch

    torch.set_num_threads(threads)
    outcomes: dict[RunDir, Outcome] = {}
    fresh = []
    for p in units:
        if finished(p):
            outcomes[p.run_dir] = (p.run_dir.read_history(), "ok")
            p.run_dir.remove_checkpoint()
        elif resumable(p):
            p.partial = True
            outcomes[p.run_dir] = train_one(p, dataset, progress=False, checkpoint_every=checkpoint_every)
        else:
            fresh.append(p)
    if stack and fresh:
        from ..engine import resolve_runtime

        runtime = resolve_runtime(fresh[0].config.device, fresh[0].config.precision)
        outcomes.update(train_stacked(fresh, dataset, runtime, False, max_stack))
    else:
        for p in fresh:
            outcomes[p.run_dir] = train_one(p, dataset, progress=False, checkpoint_every=checkpoint_every)
    return outcomes


def _units(todo: Sequence[Planned], stack: bool, max_stack: int) -> list[list[Planned]]:
    """Runs one by one; with ``stack``, fresh runs of one structure and recipe together, up to ``max_stack``."""
    if not stack:
        return [[p] for p in todo]
    groups: dict[Any, list[Planned]] = {}
    alone = []
    for p in todo:
        if p.partial:  # an interrupted run continues from its own checkpoint, alone
            alone.append([p])
            continue
        recipe = tuple(sorted((k, v) for k, v in asdict(p.config).items() if k != "seed"))
        groups.setdefault((p.spec.structure, recipe), []).append(p)
    stacks = [members[i:i + max_stack] for members in groups.values() for i in range(0, len(members), max_stack)]
    return alone + stacks


def run_on_ray(todo: Sequence[Planned], dataset: FashionMNIST, *, stack: bool, max_stack: int,
               checkpoint_every: int | None, progress: bool, address: str | None, workers: int | None,
               cpus_per_run: float, gpus_per_run: float) -> dict[RunDir, Outcome]:
    """Train ``todo`` as Ray tasks (see the module docstring); returns each run's (history, status).

    Without ``address`` a local Ray instance is started with ``workers x cpus_per_run`` CPUs (default: all of
    this machine's) and shut down at the end; with one, the cluster's resources decide and at most ``workers``
    tasks are in flight.
    """
    import ray
    from tqdm.auto import tqdm

    if not todo:
        return {}
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            cpus = workers * cpus_per_run if workers else os.cpu_count() or 1
            ray.init(num_cpus=max(cpus, cpus_per_run), num_gpus=None, include_dashboard=False, log_to_driver=False)
        started = True
    threads = max(1, int(cpus_per_run))
    task = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=MAX_RETRIES,
                      retry_exceptions=False)(_unit)
    data_ref = ray.put(dataset)  # once in the object store, not once per task
    queue = _units(todo, stack, max_stack)
    limit = workers or len(queue)
    pending: dict[Any, list[Planned]] = {}
    outcomes: dict[RunDir, Outcome] = {}
    bar = tqdm(total=len(todo), desc="runs", unit="run", disable=not progress, mininterval=0.5)
    try:
        while queue or pending:
            while queue and len(pending) < limit:
                units = queue.pop(0)
                pending[task.remote(units, data_ref, stack, max_stack, checkpoint_every, threads)] = units
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                units = pending.pop(ref)
                try:
                    outcomes.update(ray.get(ref))
                except ray.exceptions.RayError as exc:  # retries spent, or an error inside the task
                    why = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:200]
                    for p in units:
                        outcomes[p.run_dir] = (p.run_dir.read_history(strict=False), f"failed: {why}")
                bar.update(len(units))
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        bar.close()
        if started:
            ray.shutdown()
    return outcomes
