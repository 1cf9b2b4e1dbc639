"""``compare``: train connectomes x networks (connection modes, steps, twins) x seeds under one recipe and compare
them, in three stages: :func:`~visualstreams.experiment.sweep.plan_sweep` (the grid, the data and every network
compiled once per species, before anything is written), :func:`execute` (the runs trained, or kept and continued
on ``resume``) and :func:`analyse_sweep` (statistics, similarity, brains, report).

Output directory (file names owned by :class:`~visualstreams.runs.CompareDir`):

- ``<species>/seed<k>/`` (``<species>/<condition>-seed<k>/`` for conditions other than ``gain``): one run directory
  each;
- ``summary.csv``: one row per run with its condition and final metrics (``status`` says ``ok`` or why it failed;
  ``same_as`` names the run it reuses when two entries compile to the same network, such as the notebook's
  human and marmoset under mode ``none``; ``threads`` the torch threads it trained with, from its config.json,
  empty for a run written before they were recorded);
- ``stats.csv``: per condition, species and metric: n, mean, sd and 95% CI across seeds;
- ``tests.csv``: each pair of species (within each condition) and each pair of conditions (within each species):
  the difference, its 95% CI, Hedges' g, the p-value (Welch t-test) and the Holm-corrected p-value;
- ``learning_curves.png``; ``report.html`` and ``report.md`` (see :mod:`visualstreams.report`).

Each (species, network) is compiled once, before anything trains; its seeds, the disk-room check, the resume
checks and the stacking all use that one spec.

Imports runs, the engine, analysis, figures and the report builder; nothing imports it but the CLI and the package
facade.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from ..analysis.predictivity import PredictivityConfig
from ..analysis.representations import DEFAULT_PROBES
from ..analysis.stats import holm, pairwise_tests, summarize
from ..connectome import Connectome
from ..data import FashionMNIST, ImageSet
from ..data.recordings import Recordings, load_recordings
from ..engine import TrainConfig
from ..errors import ConfigError, VisualStreamsError
from ..metrics import split_step
from ..network import Architecture, NetworkConfig, NetworkSpec
from ..network.config import is_reference
from ..network.twins import run_costs
from ..report import build_report
from ..runs import (
    CompareDir,
    RunDir,
    check_room,
    removed_if_left_empty,
    run_disk_bytes,
)
from ..runs.inputs import data_record, same_images
from ..viz import plot_learning_curves
from .executors import run_on_ray, start_ray
from .reference import NOTEBOOK_RESULTS
from .sweep import Execution, Sweep, SweepPlan, plan_sweep
from .units import Planned, finished, resumable, train_one, train_stacked


def compare(
    connectomes: Sequence[str | Connectome],
    config: TrainConfig | None = None,
    out: str | os.PathLike[str] = "runs/compare",
    *,
    seeds: Sequence[int] | None = None,
    modes: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
    twins: bool | Sequence[str] = False,
    intrinsic: bool | Sequence[bool] | None = None,
    data: FashionMNIST | ImageSet | None = None,
    data_path: str | os.PathLike[str] | None = None,
    dataset: str | os.PathLike[str] | None = None,
    test_data: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    overwrite: bool = False,
    resume: bool = False,
    report: bool = True,
    progress: bool = True,
    checkpoint_every: int | None = None,
    architecture: Architecture | str | os.PathLike[str] | None = None,
    strategy: str = "auto",
    max_stack: int = 48,
    similarity: bool | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    workers: int | None = None,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    ray_verbose: bool = False,
    recordings: str | os.PathLike[str] | None = None,
    stimuli: str | os.PathLike[str] | None = None,
    predictivity: PredictivityConfig | None = None,
    window_ms: tuple[float, float] | None = None,
    models: Sequence[str] = (),
    match_params: str | Connectome | None = None,
    blocks: Sequence[str] | None = None,
    budgets: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Train every connectome under every mode, step count and seed; write the output directory described above.
    The grid is a :class:`~visualstreams.experiment.sweep.Sweep`, the options of how it trains an
    :class:`~visualstreams.experiment.sweep.Execution`; this function plans, executes and analyses it.

    ``seeds`` defaults to ``[config.seed]``, ``modes`` to the config's network's mode and ``steps`` to its steps.
    Steps are a factor like the modes: a run's ``condition`` in the tables is the mode with ``-T<k>``
    for a network of k >= 2 steps (``gain-T4``; see :attr:`~visualstreams.network.NetworkConfig.label`), and the
    summary has a ``steps`` column too. ``intrinsic``: with or without every area's recurrence within itself, for
    the step counts T >= 2 (a list, e.g. ``[False, True]``, trains both: ``gain-T4`` and ``gain-T4i``); default the
    config's. ``twins``: for each recurrent network also its one-step twin, the feedforward network widened to
    match it (see :mod:`~visualstreams.network.twins`): on the parameters the task uses (``"parameters"``, or
    ``True``: condition ``gain-BF4``) and/or on training FLOPs per image (``"compute"``: ``gain-BC4``). The summary
    has every run's ``parameters`` (all), ``parameters_used`` (those the task trains) and ``flops`` (training FLOPs
    per image). With ``resume=True``,
    finished runs in ``out`` are kept, not retrained, and interrupted ones with a checkpoint are continued
    from it (see :func:`~visualstreams.runs.resume_run`); killed at any moment and resumed, a sweep ends
    with the results of one never interrupted (bit for bit on the CPU; runs of a stack resume one by one from
    their epoch-end checkpoints, equal up to the rounding of the batched kernels). ``checkpoint_every=K`` also
    checkpoints every K batches.
    ``strategy``: ``stacked`` trains runs of the same structure and recipe together, up to ``max_stack`` at
    once (see :mod:`visualstreams.engine.stacked`; epoch-end checkpoints only), ``sequential`` one after
    another, ``auto`` picks stacked on CUDA and sequential on the CPU.
    ``executor``: ``local`` (this process, the default) or ``ray``: each unit of training (a run, or a stack) is
    one Ray task, on a local Ray instance or the cluster at ``ray_address``, at most ``workers`` at once, each
    with ``cpus_per_run`` CPUs (its torch threads) and ``gpus_per_run`` GPUs (a fraction shares one); see
    :mod:`visualstreams.experiment.executors`. The results are the same, run for run (bit for bit on the CPU)
    when the local sweep runs with as many torch threads as the tasks (``cpus_per_run``, at least 1); when these
    differ from this process's, a warning says so before anything trains. ``ray_verbose`` lets Ray's own log
    lines and the workers' output through to stderr. Every run's torch threads are in its config.json
    (``resolved.threads``) and in the summary's ``threads`` column.
    ``similarity``: compare what the areas compute across runs (``similarity_*.csv`` and figures, a report
    section; see :func:`~visualstreams.experiment.similarity.similarity_of`); by default when some species has
    two finished seeds or more in one condition.
    ``recordings`` (with its ``stimuli`` table): also score every finished run's areas against these recordings
    (:func:`~visualstreams.experiment.brains.predict`, settings ``predictivity``): the tables and heatmap in
    ``out``, scores per species and condition across seeds with CIs, Welch tests with Holm's correction, and a
    report section. The recordings are read and checked before anything trains.
    ``data`` is the data itself; ``data_path`` a Fashion-MNIST directory; ``dataset`` a dataset's name or path
    (:func:`~visualstreams.data.load_dataset`, with ``test_data`` and ``image_size`` for image folders). The image
    set is loaded once, before anything is written (its held-out split, for a folder without a test set, drawn by
    ``config.seed``: the same split for every run of the grid); every run trains on it, each network compiled
    for its size, channels and classes, and ``experiment.json`` records it (``data``), so that a resumed sweep
    given other images is refused. The notebook's figures are set beside Fashion-MNIST runs only.
    ``models``: the field's reference models (``alexnet``, ``resnet18``, ``cornet-s``, ...; see
    :mod:`~visualstreams.network.reference`) trained beside the connectomes on the same data, recipe and seeds,
    one at a time (never stacked): condition ``reference``, the model's name in the species column. tests.csv
    tests each species against each model within every connectome condition, and the models against each other,
    in Holm families of their own (``compare="reference"``): the species' own tests are as they are without them.
    ``match_params``: each reference model scaled to the parameters this connectome's one-step network uses
    (condition ``reference-matched``; :func:`~visualstreams.network.config.matched_reference`).
    ``blocks``: ``uniform`` and/or ``anatomy`` (each area's block from its species' anatomy, at the config's
    ``network.field_degrees`` and ``network.anatomy``; condition ``MODE-anatomy``), a factor like the modes;
    default the config's. ``budgets``: the anatomy networks' sizes, ``natural``, ``parameters`` and/or ``compute``
    (each scaled to the uniform network's used parameters or training FLOPs per image: ``MODE-anatomy-P``,
    ``-anatomy-C``), a factor; default the config's.
    Returns the summary (one row per run).
    """
    config = config or TrainConfig()
    # read and checked first: a bad recordings file is refused in seconds, not after hours of training
    rec = load_recordings(recordings, stimuli, window_ms=window_ms) if recordings is not None else None
    if rec is not None and (predictivity or PredictivityConfig()).ceiling and rec.repetitions().max() < 2:
        raise ConfigError(f"{recordings}: fewer than two repetitions of every stimulus: no split-half ceiling "
                          "(give recordings with repetitions, or --no-ceiling)")
    execution = Execution(strategy, max_stack, executor, ray_address, workers, cpus_per_run, gpus_per_run,
                          ray_verbose, checkpoint_every, progress)
    sweep = Sweep(tuple(connectomes), config, _tuple(seeds), _tuple(modes), _tuple(steps),
                  () if twins is False else ("parameters",) if twins is True else tuple(twins),
                  None if intrinsic is None else (intrinsic,) if isinstance(intrinsic, bool) else tuple(
                      bool(i) for i in intrinsic), architecture, tuple(models), match_params, _tuple(blocks),
                  _tuple(budgets))
    plan = plan_sweep(sweep, execution, data=data, data_path=data_path, dataset=dataset, test_data=test_data,
                      image_size=image_size, resume=resume)
    started = (start_ray(ray_address, workers, cpus_per_run, gpus_per_run, ray_verbose) if executor == "ray"
               else False)
    cdir = CompareDir(out)
    # a sweep refused once the directory exists (a run directory in the way, no room) leaves none it made
    with removed_if_left_empty(out), _locked(cdir, started):
        try:
            summary = execute(plan, cdir, resume=resume, overwrite=overwrite)
        finally:
            if started:
                import ray

                ray.shutdown()
        analyse_sweep(cdir, summary, plan.data, similarity=similarity, recordings=rec, predictivity=predictivity,
                      report=report, progress=progress, stimuli=stimuli, window_ms=window_ms)
        return summary


def _tuple(values: Sequence[Any] | None) -> tuple[Any, ...] | None:
    return None if values is None else tuple(values)


def _locked(cdir: CompareDir, ray_started: bool) -> contextlib.AbstractContextManager[Any]:
    """One writer: while a sweep runs, another compare, train or similarity writing into its directory is refused
    (and this one is, before anything is written, while another runs). Held at the driver: Ray workers lock only
    the run directories they train. Taken once Ray is up (a Ray that fails creates no directory); a lock refused
    shuts down the Ray this sweep started."""
    try:
        return cdir.lock()
    except BaseException:
        if ray_started:
            import ray

            ray.shutdown()
        raise


def execute(plan: SweepPlan, cdir: CompareDir, *, resume: bool = False, overwrite: bool = False) -> pd.DataFrame:
    """Train what ``plan`` holds into ``cdir`` (whose lock the caller holds): the run directories checked up front
    (a clash is reported before hours of training), room on the disk, experiment.json, then every run not already
    finished (``resume``: finished runs kept, interrupted ones continued from their checkpoints), locally or as Ray
    tasks, stacked or one by one. summary.csv is rewritten after every run; returns it."""
    config, execution, dataset = plan.config, plan.execution, plan.data
    cdir.prepare()
    recorded = data_record(dataset)
    if resume:
        _check_resumed_data(cdir, recorded)
    runs = _plan(cdir, plan.entries, plan.sweep.seed_list, config, plan.specs, resume, overwrite)
    if resume:
        cdir.remove_temporaries()  # of atomic writes cut short by the kill
    ray = execution.executor == "ray"
    in_flight = (execution.max_stack if plan.stack else 1) * ((execution.workers or len(runs)) if ray else 1)
    _check_room(cdir, [p.spec for p in runs if not p.done and p.twin is None], in_flight)
    cdir.write_experiment(plan.experiment(recorded))
    notebook = _is_fashion_mnist(dataset)
    todo = [p for p in runs if not p.done and p.twin is None]
    if todo and plan.task_runtime is not None and plan.task_runtime.threads != plan.runtime.threads:
        t = plan.task_runtime.threads
        warnings.warn(f"runs under Ray train with {t} torch thread{'s' if t > 1 else ''} each "
                      f"(--cpus-per-run {execution.cpus_per_run:g}), a local sweep here with {plan.runtime.threads}: "
                      f"results equal a local sweep's only at equal threads (OMP_NUM_THREADS={t})",
                      RuntimeWarning, stacklevel=3)
    if ray:  # every unit a task; the driver writes the tables once they are back
        cdir.file(CompareDir.SUMMARY).unlink(missing_ok=True)  # none stale while the tasks run
        outcomes = run_on_ray(todo, dataset, stack=plan.stack, max_stack=execution.max_stack,
                              checkpoint_every=execution.checkpoint_every, progress=execution.progress,
                              workers=execution.workers, cpus_per_run=execution.cpus_per_run,
                              gpus_per_run=execution.gpus_per_run, runtime=plan.task_runtime)
    else:
        # a reference model's runs train one by one, below (its batch norms' statistics cannot be stacked)
        outcomes = train_stacked([p for p in todo if not p.partial and p.spec.stackable], dataset, plan.runtime,
                                 execution.progress, execution.max_stack) if plan.stack else {}
    rows = []
    for p in runs:
        if p.twin is not None:
            history, status = (outcomes[p.twin] if p.twin in outcomes
                               else (p.twin.read_history(strict=False), "ok"))
            row = _summary_row(p, p.twin, history, status, notebook)
            rows.append({**row, "same_as": str(p.twin.path.relative_to(cdir.path))})
            cdir.write_table(CompareDir.SUMMARY, pd.DataFrame(rows))  # a twin last in the plan too
            continue
        if p.run_dir in outcomes:
            history, status = outcomes[p.run_dir]
        elif p.done:
            history, status = p.run_dir.read_history(), "ok"
            # Left by a kill between writing model.pt and deleting the checkpoint: the run is complete.
            p.run_dir.remove_checkpoint()
            p.run_dir.remove_temporaries()
        else:
            history, status = train_one(p, dataset, progress=execution.progress,
                                        checkpoint_every=execution.checkpoint_every, runtime=plan.runtime)
        outcomes[p.run_dir] = (history, status)
        rows.append({**_summary_row(p, p.run_dir, history, status, notebook), "same_as": ""})
        cdir.write_table(CompareDir.SUMMARY, pd.DataFrame(rows))
    return pd.DataFrame(rows)


def analyse_sweep(cdir: CompareDir, summary: pd.DataFrame, data: ImageSet, *,
                  similarity: bool | None = None, recordings: Recordings | None = None,
                  predictivity: PredictivityConfig | None = None, report: bool = True,
                  progress: bool = True, stimuli: str | os.PathLike[str] | None = None,
                  window_ms: tuple[float, float] | None = None) -> None:
    """What a trained sweep's directory gets: stats.csv, tests.csv and the learning curves (:func:`analyse`);
    the representations' tables (``similarity``; by default when some species has two finished seeds or more in
    one condition); the brains section when there are ``recordings`` (read with ``stimuli`` and ``window_ms``, as
    predict.json records); the report."""
    notebook = _is_fashion_mnist(data)
    analyse(cdir.path, summary, reference=notebook)
    ok = summary[summary["status"] == "ok"]
    if similarity is None:
        similarity = bool(len(ok)) and int(ok.groupby(["species", "condition"])["seed"].nunique().max()) >= 2
    if similarity:
        _similarity(cdir, data, progress)
    else:  # an analysis of an earlier state of this directory would pass for this one's
        cdir.remove_similarity()
    if recordings is not None and len(ok):
        _predictivity(cdir, recordings, predictivity, progress, stimuli, window_ms)
    if report:
        build_report(cdir.path)


def _predictivity(cdir: CompareDir, rec: Recordings, config: PredictivityConfig | None, progress: bool,
                  stimuli: str | os.PathLike[str] | None, window_ms: tuple[float, float] | None) -> None:
    """The brains section's tables and heatmap; a failure after the training keeps the results and warns."""
    from .brains import predict

    try:
        predict(compare_dir=cdir.path, recordings=rec, stimuli=stimuli, window_ms=window_ms, config=config,
                progress=progress)
    except Exception as exc:  # noqa: BLE001  (after hours of training, the tables and report must still come)
        warnings.warn(f"neural predictivity failed ({type(exc).__name__}: {exc}); the training results are "
                      "complete: rerun it with 'visualstreams predict --compare-dir'", RuntimeWarning, stacklevel=2)


def _is_fashion_mnist(data: ImageSet) -> bool:
    return data.name == "fashion-mnist"


def _check_resumed_data(cdir: CompareDir, recorded: dict[str, Any]) -> None:
    """A sweep resumed on other data than it started on is refused (runs that finished on its data would be kept
    beside runs trained on these). A directory written before experiment.json recorded the data is not checked."""
    if not cdir.has_experiment():
        return
    try:
        before = cdir.read_experiment().get("data")
    except (VisualStreamsError, AttributeError):
        return
    if not isinstance(before, dict) or not before.get("checksums"):
        return
    # The data's checksums as a resumed run compares them (same_images); records that cannot tell are refused.
    if same_images(before, recorded) is not True:
        where = before.get("load", {}).get("name_or_path") if isinstance(before.get("load"), dict) else None
        how = f"--dataset {where}" if where else "--data with its Fashion-MNIST" if before.get(
            "dataset", "fashion-mnist") == "fashion-mnist" else "its dataset"
        raise ConfigError(f"{cdir.path}: its runs trained on {before.get('dataset', 'fashion-mnist')} "
                          f"({before.get('source', '?')}), not on these data; resume with {how}")


def _similarity(cdir: CompareDir, dataset: ImageSet, progress: bool) -> None:
    """The representations section's tables and figures; a sweep whose runs cannot be compared (no shared area)
    keeps its results and says why: in :attr:`CompareDir.SIMILARITY_SKIPPED`, which the CLI's summary and the
    report read, and in a warning."""
    from .similarity import similarity_of

    try:
        similarity_of(compare_dir=cdir.path, data=dataset, progress=progress,
                      n_images=min(DEFAULT_PROBES, len(dataset.test_labels)))
    except Exception as exc:  # noqa: BLE001  (after hours of training, the tables and report must still come)
        cdir.remove_similarity()
        why = " ".join(f"{type(exc).__name__}: {exc}".split())
        # On disk, not only a warning that scrolls away: the printed summary and the report say it from this file.
        cdir.write_text(CompareDir.SIMILARITY_SKIPPED, why + "\n")
        warnings.warn(f"representational similarity skipped: {why}", RuntimeWarning, stacklevel=3)


def _plan(cdir: CompareDir, entries: list[tuple[str, NetworkConfig]], seeds: list[int], config: TrainConfig,
          specs: dict[tuple[str, NetworkConfig], NetworkSpec], resume: bool, overwrite: bool) -> list[Planned]:
    """Every run of the sweep, with what is already on disk; run directories are checked up front, so a clash
    is reported before hours of training. Two entries that compile to the same network (e.g. the notebook's
    human and marmoset under ``none``: same graph, all strengths 1) give bit-identical runs for a seed, so the
    second reuses the first."""
    plan = []
    first_of: dict[tuple[Any, ...], RunDir] = {}
    for name, c in entries:
        spec = specs[(name, c)]
        label = c.label
        for seed in seeds:
            run_config = replace(config, seed=seed, network=c)
            p = Planned(name, label, seed, run_config, spec, cdir.run(name, label, seed))
            twin = first_of.setdefault((spec.key, seed), p.run_dir)
            if twin == p.run_dir and p.run_dir.path.is_dir():
                # A process writing this run (a train --resume into the sweep) is refused now, not hours in;
                # a killed one's lock is taken over, its file removed. Each run is locked again as it trains.
                with p.run_dir.lock():
                    pass
            if resume:
                p.done = finished(p)
                p.partial = not p.done and resumable(p)
            if twin == p.run_dir and not p.done and not p.partial:
                p.run_dir.prepare(overwrite=overwrite or resume)
            p.twin = None if twin == p.run_dir else twin
            plan.append(p)
    return plan


def _check_room(cdir: CompareDir, to_train: list[NetworkSpec], in_flight: int = 1) -> None:
    """Before the first run: room for every run's model.pt and JSON, the checkpoints that exist at once
    (``in_flight``: one run at a time, or a stack's runs; each goes when its run finishes), one more being
    rewritten, and the figures and report. Sizes come from the compiled specs: no model is built to count."""
    if not to_train:
        return
    sizes = [spec.n_parameters for spec in to_train]
    checkpoints = sorted(sizes)[-in_flight:] + [max(sizes)]  # 12 bytes a parameter: weights and Adam's moments
    need = sum(run_disk_bytes(n) - 24 * n for n in sizes) + 12 * sum(checkpoints) + 5_000_000
    check_room(cdir.path, need, f"{len(sizes)} run{'s' if len(sizes) > 1 else ''} and the report")


def analyse(out: str | os.PathLike[str], summary: pd.DataFrame,
            reference: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``stats.csv``, ``tests.csv`` and ``learning_curves.png`` from the runs that finished; return the
    two tables. ``reference``: draw the notebook's accuracies in the figure (its runs were on Fashion-MNIST)."""
    cdir = CompareDir(out)
    ok = summary[summary["status"] == "ok"]
    metrics = [c for c in ok.columns if c.startswith("test_") and pd.api.types.is_numeric_dtype(ok[c])]
    stats = summarize(ok, by=["condition", "species"], metrics=metrics) if len(ok) else pd.DataFrame()
    if len(stats):  # a one-step condition has no metric of a step: no empty rows for them
        stats = stats[~((stats["n"] == 0) & stats["metric"].map(lambda m: split_step(m)[1] is not None))]
        stats = stats.reset_index(drop=True)
    tests = []
    # A metric read at one step of a recurrent run (test_acc@t2) has its mean and CI in stats.csv and the anytime
    # figure, but no tests: the final readout's are the comparison; a test per step would bury them.
    nets = ok[~ok["condition"].map(is_reference)]
    for metric in [m for m in metrics if split_step(m)[1] is None]:
        if nets["species"].nunique() > 1:  # the connectomes' own family, as without reference models
            t = pairwise_tests(nets, by="species", metric=metric, within="condition")
            tests.append(t.assign(compare="species"))
        tests.extend(_reference_tests(ok, metric))
        if ok["condition"].nunique() > 1:
            t = pairwise_tests(ok, by="condition", metric=metric, within="species")
            tests.append(t.assign(compare="condition"))
    tests_df = pd.concat(tests, ignore_index=True) if tests else pd.DataFrame()
    cdir.write_table(CompareDir.STATS, stats)
    cdir.write_table(CompareDir.TESTS, tests_df)
    histories = _histories(ok)
    if histories:
        plot_learning_curves(histories, cdir.file(CompareDir.CURVES),
                             reference={k: v["test_acc"] for k, v in NOTEBOOK_RESULTS.items()} if reference else None)
    return stats, tests_df


def _reference_tests(ok: pd.DataFrame, metric: str) -> list[pd.DataFrame]:
    """The tests with reference models (``compare="reference"``), in families apart from the connectomes' own, so that
    adding models leaves those as they were: each species against each model within each condition of the
    connectomes' networks (a model's runs set beside every condition; Holm over these pairs within the condition and
    metric), and the models against each other once, within their own condition."""
    refs = ok["condition"].map(is_reference)
    models = set(ok.loc[refs, "species"])
    out = []
    for c in dict.fromkeys(ok.loc[~refs, "condition"]):
        frame = pd.concat([ok[~refs & (ok["condition"] == c)], ok[refs].assign(condition=c)], ignore_index=True)
        t = pairwise_tests(frame, by="species", metric=metric, within="condition")
        t = t[t["group_a"].isin(models) != t["group_b"].isin(models)].copy()  # species against model only
        t["p_holm"] = holm(t["p"].to_numpy(dtype=float))
        t["significant"] = t["p_holm"] < 0.05  # pairwise_tests' alpha
        out.append(t)
    if len(models) > 1:
        out.append(pairwise_tests(ok[refs], by="species", metric=metric, within="condition"))
    return [t.assign(compare="reference") for t in out if len(t)]


def _histories(ok: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per (species, condition): every seed's history stacked (the figure draws the mean and a CI band)."""
    groups: dict[str, list[pd.DataFrame]] = {}
    for r in ok.itertuples():
        label = r.species if ok["condition"].nunique() == 1 else f"{r.species} ({r.condition})"
        h = pd.DataFrame(RunDir(r.run_dir).read_history(strict=False))
        if len(h):
            groups.setdefault(label, []).append(h.assign(seed=r.seed))
    return {k: pd.concat(v, ignore_index=True) for k, v in groups.items()}


def _summary_row(p: Planned, run_dir: RunDir, history: list[dict[str, Any]], status: str,
                 notebook: bool = True) -> dict[str, Any]:
    last = history[-1] if history and status == "ok" else {}
    fashion_what = notebook and p.config.task == "what" and p.config.canvas is None
    ref = NOTEBOOK_RESULTS.get(p.name, {}) if fashion_what else {}
    row: dict[str, Any] = {"species": p.name, "condition": p.condition, "seed": p.seed, "status": status,
                           "steps": p.config.network.steps, **run_costs(p.spec, p.config.make_task().heads,
                                                                p.config.loss_steps == "all")}
    row.update({k: v for k, v in last.items() if k not in ("epoch", "seconds", "stack_seconds")})
    row.update({
        "epochs": len(history),
        "seconds": float(sum(h["seconds"] for h in history)),
        "threads": _threads(run_dir),
        "notebook_test_acc": ref.get("test_acc"),
        "notebook_test_loss": ref.get("test_loss"),
        "run_dir": str(run_dir.path),
    })
    return row


def _threads(run_dir: RunDir) -> int | None:
    """The torch threads the run started with, from its config.json (None for one written before they were)."""
    try:
        threads = run_dir.read_config().get("resolved", {}).get("threads")
    except (VisualStreamsError, AttributeError):
        return None
    return threads if isinstance(threads, int) else None


