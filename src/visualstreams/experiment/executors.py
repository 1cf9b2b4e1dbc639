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
``compare --resume`` (under either executor). Each task sets its torch threads to its CPUs (at least 1), so a run
under Ray computes what the same run computes locally with that many threads (each run's config.json records
them), and differs in the last bits, then by tenths of a point, from one with another count.

Bad options are refused in seconds, before anything is written: an address is first tried with a TCP connect of a
few seconds (``ray.init`` retries an unreachable one for minutes), and a local instance's CPUs and GPUs are
counted before Ray starts. Ray's own log lines stay off stderr unless ``verbose`` (``--ray-verbose``).

Imports the units of training and the layers below; Ray only when asked for.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from ..data import ImageSet
from ..engine import Runtime, TrainConfig
from ..errors import ConfigError
from ..runs import RunDir
from .units import Outcome, Planned, finished, resumable, train_one, train_stacked

EXECUTORS = ("local", "ray")
INSTALL_HINT = "pip install 'visualstreams[ray]'"
MAX_RETRIES = 3  # a unit whose worker died is run again this many times, each continuing from its checkpoint
CONNECT_TIMEOUT_S = 3.0  # for the TCP check of --ray-address; a live head node answers in milliseconds
# Ray's own bound on reaching the GCS of an address that accepts TCP but is no Ray (20 s by default, one log line
# a second); a value in the environment wins.
GCS_WAIT_ENV, GCS_WAIT_S = "RAY_gcs_server_port_wait_time_s", "10"


def check_executor(executor: str, workers: int | None, cpus_per_run: float, gpus_per_run: float,
                   address: str | None = None, verbose: bool = False) -> None:
    """Refuse bad executor options before anything trains (and a missing Ray in one line)."""
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r} ({', '.join(EXECUTORS)})")
    if executor == "local" and (workers is not None or address or cpus_per_run != 1.0 or gpus_per_run != 0.0
                                or verbose):
        raise ConfigError("--workers, --ray-address, --cpus-per-run, --gpus-per-run and --ray-verbose go with "
                          "--executor ray")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if not cpus_per_run > 0 or not gpus_per_run >= 0:  # `not >` also catches NaN
        raise ConfigError(f"each run needs CPUs > 0 and GPUs >= 0, got {cpus_per_run} and {gpus_per_run}")
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ConfigError(f"the ray executor needs Ray ({INSTALL_HINT})") from None


def ray_threads(cpus_per_run: float) -> int:
    """The torch threads of a task with ``cpus_per_run`` CPUs (a fraction of a CPU still computes with one)."""
    return max(1, int(cpus_per_run))


# The client's opening of HTTP/2 (gRPC, what Ray's GCS and Ray Client speak) and an empty SETTINGS frame: a gRPC
# server answers with a SETTINGS frame of its own at once.
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def check_reachable(address: str) -> None:
    """Refuse, in seconds, an address where no Ray answers: ``ray.init`` retries an unreachable GCS, or a port
    that is no gRPC server, for minutes, printing each retry. The address is first resolved as Ray resolves it
    (``auto``: RAY_ADDRESS, then the last ``ray start`` here; ``localhost`` becomes this node's IP);
    ``ray://HOST:PORT`` (Ray Client) is tried at its port. Passing says only that a gRPC server answers there."""
    where = address
    if not address.startswith("ray://"):
        try:  # Ray's own resolution (private: where it moves, the address is tried as given)
            from ray._private.services import canonicalize_bootstrap_address_or_die
        except ImportError:
            canonicalize_bootstrap_address_or_die = None
        if canonicalize_bootstrap_address_or_die is not None:
            try:
                where = canonicalize_bootstrap_address_or_die(address)
            except (ConnectionError, ValueError) as exc:
                raise ConfigError(f"could not start or reach Ray ({address}): {_first_line(exc)}") from None
    host, sep, port = where.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")  # [::1]:6379
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"could not start or reach Ray ({address}): not an address (HOST:PORT, "
                          "ray://HOST:PORT or auto)")
    label = address if where.removeprefix("ray://") == address.removeprefix("ray://") else f"{address}, i.e. {where}"
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S) as sock:
            sock.sendall(_HTTP2_HELLO)
            head = b""
            while len(head) < 9 and (chunk := sock.recv(9 - len(head))):
                head += chunk
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
        raise ConfigError(f"could not start or reach Ray ({label}): {why} within {CONNECT_TIMEOUT_S:g} s (is "
                          "'ray start --head' running there?)") from None
    if len(head) < 9 or head[3] != 4:  # frame type 4: SETTINGS
        raise ConfigError(f"could not start or reach Ray ({label}): something answers there, but not a Ray head "
                          "node (no gRPC)")


def _local_cpus() -> float:
    """The CPUs a local Ray instance would find here (Ray's own count, which honours cgroup quotas)."""
    try:
        from ray._private.utils import get_num_cpus

        return float(get_num_cpus())
    except Exception:  # noqa: BLE001  (a private helper of Ray's: where it moves or fails, the OS's count)
        return float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _no_node(cpus_per_run: float, gpus_per_run: float, have: str) -> ConfigError:
    return ConfigError(f"no Ray node has {cpus_per_run:g} CPU(s) and {gpus_per_run:g} GPU(s) for a run ({have})")


def start_ray(address: str | None, workers: int | None, cpus_per_run: float, gpus_per_run: float,
              verbose: bool = False) -> bool:
    """Connect to the cluster at ``address``, or start a local Ray instance (``workers x cpus_per_run`` CPUs,
    default: what Ray detects); check that a task of the asked resources fits on some node. Returns whether this
    call started Ray (the caller shuts it down). Called before anything of the sweep is written; Ray's log lines
    (and the workers' output) reach stderr only when ``verbose``."""
    import ray

    quiet = {"log_to_driver": verbose, "logging_level": logging.INFO if verbose else logging.ERROR}
    if ray.is_initialized():
        started = False
    else:
        asked = math.ceil(workers * cpus_per_run) if workers else None  # a local instance's CPUs (None: Ray's count)
        if address:
            check_reachable(address)
        else:  # a local instance is counted before it starts (seconds), not after
            cpus, gpus = asked or _local_cpus(), _local_gpus()
            if cpus_per_run > cpus or gpus_per_run > gpus:
                raise _no_node(cpus_per_run, gpus_per_run, f"a local Ray instance here has {cpus:g} CPU(s) and "
                               f"{gpus} GPU(s)")
        try:
            if address:
                with _joining(verbose):
                    ray.init(address=address, **quiet)
            else:  # "local": never join a cluster that RAY_ADDRESS or a `ray start` on this machine names
                ray.init(address="local", num_cpus=asked, include_dashboard=False, **quiet)
        except (ValueError, ConnectionError, RuntimeError, TimeoutError) as exc:
            raise ConfigError(f"could not start or reach Ray ({address or 'local'}): {_first_line(exc)}") from None
        started = True
    fits = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= cpus_per_run
            and n.get("Resources", {}).get("GPU", 0) >= gpus_per_run]
    if not fits:
        have = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
        if started:
            ray.shutdown()
        raise _no_node(cpus_per_run, gpus_per_run,
                       f"the cluster has {', '.join(f'{v:g} {k}' for k, v in have.items()) or 'nothing'}")
    return started


@contextlib.contextmanager
def _joining(verbose: bool) -> Iterator[None]:
    """While the driver joins a cluster: Ray's bound on finding its GCS (:data:`GCS_WAIT_ENV`), and, unless
    ``verbose``, stderr (file descriptor 2) set aside, since Ray's C++ client logs each retry there whatever the
    Python logging level. Joining starts no process that could inherit the redirection."""
    before = os.environ.get(GCS_WAIT_ENV)
    os.environ.setdefault(GCS_WAIT_ENV, GCS_WAIT_S)
    saved = None if verbose else os.dup(2)
    try:
        if saved is not None:
            sys.stderr.flush()
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
        yield
    finally:
        if saved is not None:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        if before is None:
            os.environ.pop(GCS_WAIT_ENV, None)


def _local_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def task_runtime(config: TrainConfig, gpus_per_run: float, cpus_per_run: float = 1.0) -> Runtime | None:
    """The device, precision and threads of every task, decided once by the driver: without GPUs, the CPU in the
    config's precision as this machine resolves it (so every node computes alike), with
    :func:`ray_threads` threads; with GPUs, CUDA, which each worker resolves (the driver may have none: then
    None)."""
    from ..engine import resolve_runtime

    if gpus_per_run > 0:
        if config.device != "auto" and not config.device.startswith("cuda"):
            raise ConfigError(f"--gpus-per-run needs a CUDA device, not --device {config.device}")
        return None
    if config.device.startswith("cuda"):
        raise ConfigError("runs on CUDA under Ray need GPUs counted for them: add --gpus-per-run (e.g. 0.25 or 1)")
    return resolve_runtime("cpu", config.precision, threads=ray_threads(cpus_per_run))


def _unit(units: list[Planned], dataset: ImageSet, stack: bool, max_stack: int,
          checkpoint_every: int | None, threads: int,
          runtime: Runtime | None) -> tuple[dict[RunDir, Outcome], list[str], str | None]:
    """One Ray task: train ``units`` (one run, or one stack); returns the outcomes, the warnings raised (the driver
    repeats them: workers' output is not relayed) and a user error that must stop the sweep (out of memory in a
    stack), as the local executor stops. On a retry after a worker died, a run that finished is read back and one
    with a checkpoint continues from it."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcomes = _train_units(units, dataset, stack, max_stack, checkpoint_every, threads, runtime)
            error = None
        except ConfigError as exc:
            outcomes, error = {}, str(exc)
    return outcomes, [str(w.message) for w in caught], error


def _train_units(units: list[Planned], dataset: ImageSet, stack: bool, max_stack: int,
                 checkpoint_every: int | None, threads: int, runtime: Runtime | None) -> dict[RunDir, Outcome]:
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
    if runtime is None:  # GPUs: the worker's CUDA device, in the config's precision
        from ..engine import resolve_runtime

        runtime = resolve_runtime("cuda", fresh[0].config.precision) if fresh else None
    if stack and fresh:
        outcomes.update(train_stacked(fresh, dataset, runtime, False, max_stack))
    else:
        for p in fresh:
            outcomes[p.run_dir] = train_one(p, dataset, progress=False, checkpoint_every=checkpoint_every,
                                            runtime=runtime)
    return outcomes


def _units(todo: Sequence[Planned], stack: bool, max_stack: int) -> list[list[Planned]]:
    """Runs one by one; with ``stack``, fresh runs of one structure and recipe together, up to ``max_stack``."""
    if not stack:
        return [[p] for p in todo]
    groups: dict[Any, list[Planned]] = {}
    alone = []
    for p in todo:
        if p.partial or not p.spec.stackable:  # an interrupted run continues from its own checkpoint, alone
            alone.append([p])
            continue
        recipe = (p.config.network, tuple(sorted((k, v) for k, v in p.config.to_dict().items() if k != "seed")))
        groups.setdefault((p.spec.structure, recipe), []).append(p)
    stacks = [members[i:i + max_stack] for members in groups.values() for i in range(0, len(members), max_stack)]
    return alone + stacks


def run_on_ray(todo: Sequence[Planned], dataset: ImageSet, *, stack: bool, max_stack: int,
               checkpoint_every: int | None, progress: bool, workers: int | None, cpus_per_run: float,
               gpus_per_run: float, runtime: Runtime | None) -> dict[RunDir, Outcome]:
    """Train ``todo`` as Ray tasks on the Ray that :func:`start_ray` connected (see the module docstring); at most
    ``workers`` tasks in flight (default: all, and Ray's resources decide). Returns each run's (history, status),
    keyed by the run directories of ``todo``."""
    import ray
    from tqdm.auto import tqdm

    if not todo:
        return {}
    threads = ray_threads(cpus_per_run)
    task = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=MAX_RETRIES,
                      retry_exceptions=False)(_unit)
    data_ref = ray.put(dataset)  # once in the object store, not once per task
    # Workers run wherever `ray start` was run: they get absolute paths; results are keyed by the plan's own.
    back: dict[RunDir, RunDir] = {}
    absolute = []
    for p in todo:
        q = replace(p, run_dir=RunDir(p.run_dir.path.absolute()))
        back[q.run_dir] = p.run_dir
        absolute.append(q)
    queue = _units(absolute, stack, max_stack)
    limit = workers or len(queue)
    pending: dict[Any, list[Planned]] = {}
    outcomes: dict[RunDir, Outcome] = {}
    bar = tqdm(total=len(todo), desc="runs", unit="run", disable=not progress, mininterval=0.5)
    try:
        while queue or pending:
            while queue and len(pending) < limit:
                units = queue.pop(0)
                ref = task.remote(units, data_ref, stack, max_stack, checkpoint_every, threads, runtime)
                pending[ref] = units
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                units = pending.pop(ref)
                try:
                    result, messages, error = ray.get(ref)
                    for message in dict.fromkeys(messages):
                        warnings.warn(message, RuntimeWarning, stacklevel=2)
                    if error is not None:  # as locally: the sweep stops, what finished stays (--resume)
                        raise ConfigError(error)
                    outcomes.update({back[k]: v for k, v in result.items()})
                except ray.exceptions.RayError as exc:  # retries spent, or an error inside the task
                    why = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:200]
                    for p in units:
                        outcomes[back[p.run_dir]] = (p.run_dir.read_history(strict=False), f"failed: {why}")
                bar.update(len(units))
    except (KeyboardInterrupt, ConfigError):
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        bar.close()
    return outcomes
