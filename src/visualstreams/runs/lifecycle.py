"""A run's life: start (compile, data, run directory, config.json), train, finish (confusion.json, model.pt),
resume after a crash, load when finished.

Nothing lost: ``checkpoint.pt`` is rewritten atomically at the end of every epoch and, with
``checkpoint_every=K``, every K batches. It holds everything the loop needs to continue exactly, so
:func:`resume_run` (``visualstreams train --resume RUN_DIR``) finishes an interrupted run with the same weights
and history (bar the ``seconds`` field) as a run that was never interrupted. On the CPU the continuation is
bitwise identical (see :mod:`visualstreams.engine.loop`). The number of threads does matter (1 and 2 threads
differ by about 1e-6 after a few steps), so config.json (``resolved.threads``) and the checkpoint record it and
resuming with another number warns; set ``OMP_NUM_THREADS`` (or ``torch.set_num_threads``) as the run had it.
Each resume adds to config.json where it continued (``resolved.resumed``: epoch, step and threads), the one
record that tells a resumed run from one that started over. On CUDA, cuDNN may pick
non-deterministic convolution algorithms (and bf16 autocast is the default there), so a resumed GPU run can
differ from an uninterrupted one in the last bits, as two uninterrupted GPU runs can; the CUDA path is not
covered by the tests. Once ``model.pt`` is written the checkpoint is deleted: a finished run needs only its
weights, and a stale checkpoint beside them could only mislead.

Imports the engine, the network, data and the run directory; never experiments, figures or reports.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._version import __version__
from ..connectome import Connectome
from ..data import CLASSES, DeviceData, load_dataset
from ..engine import (
    Runtime,
    TrainConfig,
    confusion_matrix,
    cpu_has_fast_bf16,
    fit,
    read_checkpoint,
    resolve_runtime,
    use_threads,
)
from ..engine.checkpoint import check_checkpoint_every, check_state, of_config
from ..errors import ConfigError, VisualStreamsError
from ..network import Architecture, CompiledNetwork, NetworkSpec
from ..network.config import matched_reference
from ..network.model import build_network
from ..network.reference import ReferenceNetwork
from ..network.twins import run_costs
from ..storage import save_torch
from .initial import load_initial_weights, score_untrained
from .inputs import DataLike, device_data, refuse_gone, resolve_data, resolve_input, same_images
from .rundir import RunDir
from .writing import check_room, removed_if_left_empty, run_disk_bytes


class RunFinished(VisualStreamsError):
    """Raised by :func:`resume_run` for a run that has nothing left to do (the CLI prints it and exits 0)."""


@dataclass
class TrainResult:
    model: torch.nn.Module
    history: pd.DataFrame
    config: dict[str, Any]
    run_dir: Path | None = None
    final: dict[str, float] = field(default_factory=dict)
    # (epoch, batches of it done) of the checkpoint a resumed run continued from; None for a run from the start
    resumed_from: tuple[int, int] | None = None


@dataclass
class StartedRun:
    """A run about to train: its model (seeded initial weights), data on the device, and its config.json."""

    model: torch.nn.Module
    data: DeviceData
    train_config: TrainConfig
    runtime: Runtime
    config: dict[str, Any]
    run_dir: RunDir | None

    @property
    def precision(self) -> str:
        return self.runtime.precision


def environment() -> dict[str, Any]:
    return {
        "visualstreams": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
        "cpu_bf16": cpu_has_fast_bf16(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def build_seeded(spec: NetworkSpec, seed: int, device: torch.device) -> torch.nn.Module:
    """The model of ``spec`` with the initial weights (and density masks) of ``seed``: the global RNG is seeded
    right before the build, so they depend on the seed alone."""
    torch.manual_seed(seed)
    return build_network(spec).to(device=device, memory_format=torch.channels_last)


def compile_for(connectome: Connectome | str | NetworkSpec | None, config: TrainConfig,
                architecture: Architecture | str | os.PathLike[str] | None = None,
                data: DataLike | None = None) -> NetworkSpec:
    """The network a run of ``config`` trains: its network config at the input the data decides
    (:func:`~visualstreams.runs.inputs.resolve_input`) compiled by :meth:`NetworkConfig.compile
    <visualstreams.network.NetworkConfig.compile>` (or ``connectome`` itself when it is already compiled; it must
    then fit the config). Several steps of a network without feedback or lateral projections are warned about
    (:func:`warn_repeated_sweeps`).

    An :class:`~visualstreams.data.ImageSet` as ``data`` sets the input: its image size, its channels and its
    number of classes for the "what" head (Fashion-MNIST's give today's network: 28 px, 1 channel, 10 classes).

    A reference model (the config's ``network.model``) takes no connectome (None, or its own spec).
    """
    net = resolve_input(config, data)
    if (net.model is None) != (isinstance(connectome, Connectome | str | CompiledNetwork)):
        raise ConfigError(f"reference model {net.model} is trained without a connectome" if net.model is not None
                          else "a connectome (a preset, a file or a Connectome) or a reference model (--model) is "
                               "needed")
    if isinstance(connectome, ReferenceNetwork):
        connectome = None  # rebuilt from the config, which must be its
    spec = net.compile(connectome, architecture, config.make_task().heads, config.loss_steps == "all")
    if isinstance(spec, CompiledNetwork) and net.twin_of is None and not isinstance(connectome, CompiledNetwork):
        warn_repeated_sweeps(spec)
    return spec


def warn_repeated_sweeps(spec: CompiledNetwork, name: str | None = None) -> None:
    """The one rule, for ``train`` and ``compare`` alike, for a network of T >= 2 steps with nothing recurrent (no
    feedback, lateral or intrinsic recurrence): every step repeats the feedforward sweep, so its runs are the
    one-step network's, T times slower. Warned, not refused: ``compare --steps 1 4`` over a cyclic and an acyclic
    species is a fair sweep whose grid stays whole."""
    t = spec.steps
    if t > 1 and not spec.recurrent_projections and not spec.intrinsic:
        warnings.warn(f"{name or spec.connectome.name} has no feedback or lateral projection: its runs at {t} steps "
                      f"repeat one feedforward sweep {t} times (the one-step network, {t} times slower)",
                      stacklevel=3)


def train(
    connectome: Connectome | str | NetworkSpec | None = None,
    config: TrainConfig | None = None,
    *,
    data: DataLike | None = None,
    data_path: str | os.PathLike[str] | None = None,
    architecture: Architecture | str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    desc: str | None = None,
    checkpoint_every: int | None = None,
    runtime: Runtime | None = None,
    dataset: str | os.PathLike[str] | None = None,
    test_data: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    weights: str | os.PathLike[str] | None = None,
    untrained: bool = False,
    match_params: Connectome | str | None = None,
) -> TrainResult:
    """Train one model compiled from ``connectome``; write a run directory when ``out`` is given.

    ``connectome`` is a preset name, a file, a Connectome or a :class:`CompiledNetwork` (then ``architecture``
    is not used); None for the reference model the config names (``make_config(model="resnet18")``).
    ``desc`` prefixes the progress bar (default: the connectome's name). With ``out``,
    ``checkpoint.pt`` is written at every epoch's end and, with ``checkpoint_every=K``, every K batches;
    it does not change the results. An interrupted run is continued by :func:`resume_run`. With ``overwrite``,
    the outputs of the run being replaced are deleted first, so none of them can pass for this run's. While it
    trains, ``out`` is locked (:meth:`RunDir.lock`): another process writing there is refused, and refuses this.
    ``runtime`` (default: resolved from the config's device and precision) is where and how it computes.

    ``data`` is the data itself; ``data_path`` a Fashion-MNIST directory; ``dataset`` a dataset's name or path
    (:func:`~visualstreams.data.load_dataset`, with ``test_data`` and ``image_size`` for image folders). The
    network follows an image set's size, channels and classes (:func:`compile_for`).

    ``weights``: a state dict file the network starts from instead of its seed's draw (a reference model takes
    torchvision's or CORnet's own files; see :mod:`~visualstreams.runs.initial`). ``untrained``: no training, the
    network scored as it starts (history: one entry, epoch 0); config.json's ``init`` records both.
    ``match_params``: a connectome whose one-step network's used parameters the reference model is scaled to
    (:func:`~visualstreams.network.config.matched_reference`; recorded as its ``width`` and ``matched_to``).
    """
    config = config or TrainConfig()
    # Everything that can be refused is, before the run directory is touched: the data, the network, the device,
    # and a directory that is not a run's.
    data = resolve_data(config, data, data_path, dataset, test_data, image_size)
    if match_params is not None:
        config = replace(config, network=matched_reference(resolve_input(config, data), match_params,
                                                           config.make_task().heads, config.loss_steps == "all"))
    spec = compile_for(connectome, config, architecture, data)
    check_checkpoint_every(checkpoint_every)
    runtime = runtime or resolve_runtime(config.device, config.precision)
    init = {"weights": weights, "untrained": untrained}
    if out is None:
        run = start_run(spec, config, data=data, checkpoint_every=checkpoint_every, runtime=runtime, **init)
        return _train_started(run, progress, desc if desc is not None else f"{run.config['name']} ",
                              checkpoint_every)
    RunDir(out).refuse_other_kind()
    # The run directory is this process's until the run ends (or fails): a second writer is refused.
    with removed_if_left_empty(out), RunDir(out).lock():
        run = start_run(spec, config, data=data, out=out, overwrite=overwrite, checkpoint_every=checkpoint_every,
                        runtime=runtime, **init)
        return _train_started(run, progress, desc if desc is not None else f"{run.config['name']} ",
                              checkpoint_every)


def start_run(
    connectome: Connectome | str | NetworkSpec | None,
    config: TrainConfig | None = None,
    *,
    data: DataLike | None = None,
    data_path: str | os.PathLike[str] | None = None,
    architecture: Architecture | str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    checkpoint_every: int | None = None,
    resolved: dict[str, Any] | None = None,
    runtime: Runtime | None = None,
    weights: str | os.PathLike[str] | None = None,
    untrained: bool = False,
) -> StartedRun:
    """Everything :func:`train` does before its loop: compile, checks, run directory, model, data, config.json.

    It does not lock the run directory: a caller writing into one holds :meth:`RunDir.lock` (as :func:`train` and
    compare's stacks do). ``resolved`` adds entries to config.json's ``resolved`` section (e.g. how many models
    trained at once).
    """
    config = config or TrainConfig()
    spec = compile_for(connectome, config, architecture, data)
    # The run's network config as it was compiled: its input decided (recorded in config.json and checkpoints)
    config = replace(config, network=resolve_input(config, data))
    runtime = runtime or resolve_runtime(config.device, config.precision)
    check_checkpoint_every(checkpoint_every)
    run_dir = RunDir(out).prepare(overwrite) if out is not None else None
    use_threads(runtime)  # what config.json records below is what the run trains with
    dev_data, info = device_data(data, data_path, config, runtime.device)
    if run_dir is not None:
        check_room(run_dir.path, run_disk_bytes(spec.n_parameters), "the run")
    model = build_seeded(spec, config.seed, runtime.device)
    init = {**(load_initial_weights(model, weights) if weights is not None else {}),
            **({"untrained": True} if untrained else {})}
    run_config = {
        "visualstreams": __version__,
        "name": spec.name,
        **spec.record(),
        **run_costs(spec, config.make_task().heads, config.loss_steps == "all"),
        "network": config.network.to_dict(),
        "train": config.to_dict(),
        "resolved": {**runtime.to_dict(), **(resolved or {})},
        "data": {**info, "train_used": len(dev_data.train_y)},
        "environment": environment(),
        **({"init": init} if init else {}),
    }
    if run_dir is not None:
        run_dir.remove_outputs()
        run_dir.write_config(run_config)
    return StartedRun(model, dev_data, config, runtime, run_config, run_dir)


def _train_started(run: StartedRun, progress: bool, desc: str, checkpoint_every: int | None,
                   state: dict[str, Any] | None = None) -> TrainResult:
    """The loop and the run directory's outputs, shared by a fresh run and a resumed one."""
    rd = run.run_dir
    if run.config.get("init", {}).get("untrained"):
        scored = score_untrained(run.model, run.data, run.train_config, run.precision)
        if rd is not None:
            rd.write_history(scored)
        return finish_run(run, scored)
    history = fit(run.model, run.data, run.train_config, run.precision, progress=progress, desc=desc,
                  on_epoch=rd.write_history if rd is not None else None,
                  checkpoint=rd.checkpoint_path if rd is not None else None,
                  checkpoint_every=checkpoint_every, state=state)
    return finish_run(run, history, (state["epoch"], state["step"]) if state is not None else None)


def finish_run(run: StartedRun, history: list[dict[str, float]],
               resumed: tuple[int, int] | None = None) -> TrainResult:
    """A trained run's outputs: confusion.json and model.pt, then the checkpoint goes."""
    rd, config = run.run_dir, run.train_config
    if rd is not None:
        task = config.make_task()
        if "what" in task.heads and task.single_label:  # clutter's head names several classes: no matrix
            # An image set's own classes (its info records them); Fashion-MNIST's ten otherwise.
            classes = list(run.config.get("data", {}).get("classes") or CLASSES)
            cm = confusion_matrix(run.model, run.data.test_x, run.data.test_y, task, config.eval_batch_size,
                                  run.precision, n_classes=len(classes))
            rd.write_confusion(classes, cm.tolist())
        save_torch(rd.weights_path, {k: v.detach().cpu() for k, v in run.model.state_dict().items()})
        # Only now is the checkpoint redundant; a crash before this line resumes at the last epoch's end.
        rd.remove_checkpoint()
    return TrainResult(run.model, pd.DataFrame(history), run.config, rd.path if rd is not None else None,
                       dict(history[-1]), resumed)


def rebuild_run(rd: RunDir, config_json: dict[str, Any]) -> tuple[TrainConfig, NetworkSpec]:
    """The train config and the compiled network a run directory's config.json describes (as its version meant
    them: run directories of earlier versions rebuild as they were)."""
    try:
        config = TrainConfig.of_run(config_json)
        if config.network.model is not None:  # a reference model: its config names it and its input
            return config, config.network.compile(None, heads=config.make_task().heads)
        conn = Connectome.from_dict(config_json["connectome"])
        arch = Architecture.from_dict(config_json["architecture"])
        return config, config.network.rebuild(conn, arch)
    except (KeyError, TypeError, AttributeError):
        raise VisualStreamsError(f"{rd.config_path}: corrupt or not a run's config") from None
    except ConfigError as exc:  # a value no run could have: said with the file it is in
        raise VisualStreamsError(f"{rd.config_path}: {exc}") from None


def resume_run(
    run_dir: str | os.PathLike[str],
    *,
    data: DataLike | None = None,
    data_path: str | os.PathLike[str] | None = None,
    progress: bool = True,
    checkpoint_every: int | None = None,
    desc: str | None = None,
    runtime: Runtime | None = None,
) -> TrainResult:
    """Continue an interrupted run from ``run_dir/checkpoint.pt``; returns what :func:`train` would have.

    The connectome, architecture and train config are rebuilt from ``config.json``; the data must be the run's
    (default: the directory it was read from, when that still exists; else as :func:`train` finds it). On the
    CPU the finished run has the same weights, bit for bit, and the same history (bar ``seconds``, which counts
    the time spent in each epoch before the last checkpoint and after the restart) as an uninterrupted run.
    ``checkpoint_every`` defaults to the interval the run was started with.

    Raises :class:`RunFinished` for a finished run, and :class:`VisualStreamsError` for a corrupt or foreign
    checkpoint, or for a started run without one (at least one epoch finished and the state of the loop is
    lost: retrain it). When no epoch had finished and no checkpoint was written, the run starts over from
    step 0, which is equivalent (``resumed_from`` is then None).
    """
    rd = RunDir(run_dir)
    run_config = rd.read_config()  # a directory that holds no run is refused before it gets a lock file
    with rd.lock():  # nothing is read for the loop, removed or written before: a second writer is refused
        return _resume(rd, run_config, data, data_path, progress, checkpoint_every, desc, runtime)


def _resume(rd: RunDir, run_config: dict[str, Any], data: DataLike | None,
            data_path: str | os.PathLike[str] | None, progress: bool, checkpoint_every: int | None,
            desc: str | None, runtime: Runtime | None) -> TrainResult:
    config, spec = rebuild_run(rd, run_config)
    history = rd.read_history()
    init = run_config.get("init") or {}
    if init.get("untrained"):  # scored, not trained: nothing to continue
        if rd.has_weights():
            raise RunFinished(f"{rd.path}: an untrained run, already scored; nothing to resume")
        raise VisualStreamsError(f"{rd.path}: an untrained run that did not finish scoring; score it again "
                                 "(train --untrained --overwrite)")
    if rd.has_weights() and len(history) == config.epochs:
        # A checkpoint here outlived a crash between writing model.pt and deleting it: it is stale.
        rd.remove_checkpoint()
        raise RunFinished(f"{rd.path}: already finished ({_plural(config.epochs, 'epoch')}, model.pt written); "
                          "nothing to resume")
    path = rd.checkpoint_path
    state = read_checkpoint(path) if path.exists() else None
    if state is None and history:
        raise VisualStreamsError(f"{rd.path}: no {RunDir.CHECKPOINT} to resume from, though "
                                 f"{_plural(len(history), 'epoch')} finished; retrain the run (train --overwrite)")
    if state is not None and not of_config(state, config):  # each read as its own layout and version meant it
        raise VisualStreamsError(f"{path}: belongs to another run (its train or network config differs from "
                                 "config.json)")

    runtime = runtime or resolve_runtime(config.device, config.precision)
    use_threads(runtime)
    recorded = run_config.get("resolved", {})
    if (recorded.get("precision") != runtime.precision
            or str(recorded.get("device", runtime.device)).split(":")[0] != runtime.device.type):
        warnings.warn(f"{rd.path}: started on {recorded.get('device')} in {recorded.get('precision')}, resumed on "
                      f"{runtime.device} in {runtime.precision}; the result will not match an uninterrupted run "
                      "bit for bit", stacklevel=3)
    data_info = run_config.get("data", {})
    if data is None and data_info.get("load"):
        # The run's own image set, loaded as it was; --data names where it is now if it moved.
        where = str(data_path) if data_path else data_info["load"].get("name_or_path")
        refuse_gone(data_info, where)
        data = load_dataset(**{**data_info["load"], "name_or_path": where})
        data_path = None
    elif data is None and data_path is None and Path(str(data_info.get("source", ""))).is_dir():
        data_path = data_info["source"]  # the run's own data, unless told otherwise
    dev_data, info = device_data(data, data_path, config, runtime.device)
    if same_images(data_info, info) is False:  # None (the records cannot tell) lets it resume, as 0.2.0 did
        raise VisualStreamsError(f"{rd.path}: the data differ from the run's (other checksums); "
                                 "resume with its data (--data)")
    if len(dev_data.train_y) != data_info.get("train_used", len(dev_data.train_y)):
        raise VisualStreamsError(f"{rd.path}: the data differ from the run's ({len(dev_data.train_y)} training "
                                 f"images, the run used {data_info['train_used']}); resume with its data (--data)")

    # A killed run can leave the temporary file of an atomic write behind; nothing else writes here now.
    rd.remove_temporaries()
    model = build_seeded(spec, config.seed, runtime.device)
    if state is not None:
        try:  # fit() checks again; here the message can name the file
            check_state(state, config, len(dev_data.train_y), -(-len(dev_data.train_y) // config.batch_size))
        except VisualStreamsError as exc:
            raise VisualStreamsError(f"{path}: {exc}") from None
        try:
            model.load_state_dict(state["model"])
        except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
            raise VisualStreamsError(f"{path}: not this run's weights "
                                     f"({(str(exc).splitlines() or [''])[0][:100]})") from None
        if checkpoint_every is None:
            checkpoint_every = state.get("checkpoint_every")
        threads = state.get("threads")
        if runtime.device.type == "cpu" and isinstance(threads, int) and threads != torch.get_num_threads():
            warnings.warn(f"{path}: written with {threads} CPU threads, resumed with {torch.get_num_threads()}; "
                          f"the result will differ from an uninterrupted run in the last bits (set "
                          f"OMP_NUM_THREADS={threads} to match it)", stacklevel=3)
        # history.json may be an epoch ahead of the checkpoint (a crash between the two writes): the
        # checkpoint's history is the one the loop continues, so the file is brought back in line with it.
        rd.write_history(state["history"])
        # Where this run continued, in its config.json: the record that tells a resumed run from one that
        # started over (their weights are the same on the CPU), one entry per resume.
        run_config.setdefault("resolved", {}).setdefault("resumed", []).append(
            {"epoch": state["epoch"], "step": state["step"], "threads": runtime.threads})
        rd.write_config(run_config)
    else:
        if init.get("weights"):  # from the start again: from the file it started from, if it is still that file
            load_initial_weights(model, init["weights"], sha256=init.get("sha256"))
        rd.remove_outputs()
    run = StartedRun(model, dev_data, config, runtime, run_config, rd)
    return _train_started(run, progress, desc if desc is not None else f"{spec.name} ", checkpoint_every,
                          state)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def load_run(run_dir: str | os.PathLike[str], device: str = "cpu") -> TrainResult:
    """Rebuild a finished run from its directory (weights loaded with ``weights_only=True``)."""
    rd = RunDir(run_dir)
    config = rd.read_config()
    history = rd.read_history(required=True)
    _, spec = rebuild_run(rd, config)
    model = build_network(spec)
    try:
        state = torch.load(rd.weights_path, map_location=device, weights_only=True)
        model.load_state_dict(state)
    except FileNotFoundError:
        raise VisualStreamsError(f"{rd.path}: {RunDir.WEIGHTS} missing (the run did not finish)") from None
    except (RuntimeError, KeyError, EOFError, ValueError) as exc:
        raise VisualStreamsError(f"{rd.weights_path}: unreadable or not this model's weights "
                                 f"({str(exc).splitlines()[0][:120]})") from None
    model.to(device)
    return TrainResult(model, pd.DataFrame(history), config, rd.path, dict(history[-1]) if history else {})
