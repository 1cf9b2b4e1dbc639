"""Experiments: train connectomes x connection modes x seeds under one recipe and compare them.

Output directory of :func:`compare`:

- ``<species>/seed<k>/`` (``<species>/<mode>-seed<k>/`` for modes other than ``gain``): one run directory each;
- ``summary.csv``: one row per run with its final metrics (``status`` says ``ok`` or why it failed;
  ``same_as`` names the run it reuses when two entries compile to the same network, such as the notebook's
  human and marmoset under mode ``none``);
- ``stats.csv``: per mode, species and metric: n, mean, sd and 95% CI across seeds;
- ``tests.csv``: each pair of species (within each mode) and each pair of modes (within each species): the
  difference, its 95% CI, Hedges' g, the p-value (Welch t-test) and the Holm-corrected p-value;
- ``learning_curves.png``; ``report.html`` and ``report.md`` (see :mod:`visualstreams.report`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from .architecture import Architecture, architecture_for, load_architecture
from .connectome import NOTEBOOK_RESULTS, Connectome, load_connectome
from .data import FashionMNIST, load_fashion_mnist
from .errors import ConfigError, DivergenceError
from .model import build_model, count_parameters
from .stacked import choose_strategy, fit_stacked, structure_key
from .storage import remove_temporaries, write_json, write_text
from .training import (
    CHECKPOINT_FILE,
    RUN_FILES,
    TrainConfig,
    check_room,
    ensure_writable_dir,
    finish_run,
    prepare_run_dir,
    read_checkpoint,
    resolve_device,
    resume_run,
    run_disk_bytes,
    start_run,
    train,
)

EXPERIMENT_FILE = "experiment.json"
OUTPUT_FILES = (EXPERIMENT_FILE, "summary.csv", "stats.csv", "tests.csv", "learning_curves.png", "report.html",
                "report.md")


def run_name(species: str, mode: str, seed: int) -> str:
    return f"{species}/seed{seed}" if mode == "gain" else f"{species}/{mode}-seed{seed}"


def compare(
    connectomes: Sequence[str | Connectome],
    config: TrainConfig | None = None,
    out: str | os.PathLike[str] = "runs/compare",
    *,
    seeds: Sequence[int] | None = None,
    modes: Sequence[str] | None = None,
    data: FashionMNIST | None = None,
    data_path: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    resume: bool = False,
    report: bool = True,
    progress: bool = True,
    checkpoint_every: int | None = None,
    architecture: Architecture | str | os.PathLike[str] | None = None,
    strategy: str = "auto",
    max_stack: int = 48,
) -> pd.DataFrame:
    """Train every connectome under every mode and seed; write the output directory described above.

    ``seeds`` defaults to ``[config.seed]`` and ``modes`` to ``[config.mode]``. With ``resume=True``,
    finished runs in ``out`` are kept, not retrained, and interrupted ones with a checkpoint are continued
    from it (see :func:`~visualstreams.training.resume_run`); killed at any moment and resumed, a sweep ends
    with the results of one never interrupted (bit for bit on the CPU; runs of a stack resume one by one from
    their epoch-end checkpoints, equal up to the rounding of the batched kernels). ``checkpoint_every=K`` also
    checkpoints every K steps.
    ``strategy``: ``stacked`` trains runs of the same structure and recipe together, up to ``max_stack`` at
    once (see :mod:`visualstreams.stacked`; epoch-end checkpoints only), ``sequential`` one after another,
    ``auto`` picks stacked on CUDA and sequential on the CPU.
    Returns the summary (one row per run).
    """
    config = config or TrainConfig()
    conns = [load_connectome(c) for c in connectomes]
    if not conns:
        raise ConfigError("compare needs at least one species or connectome file")
    names = _unique_names([c.name for c in conns])
    seeds = list(seeds) if seeds is not None else [config.seed]
    modes = list(modes) if modes is not None else [config.mode]
    if len(set(seeds)) != len(seeds) or len(set(modes)) != len(modes):
        raise ConfigError("seeds and modes must not repeat")
    for m in modes:
        replace(config, mode=m)  # validates the mode name before anything trains
    stack = choose_strategy(strategy, resolve_device(config.device)) == "stacked"
    if max_stack < 1:
        raise ConfigError(f"max_stack must be >= 1, got {max_stack}")
    arch = load_architecture(architecture) if isinstance(architecture, str | os.PathLike) else architecture
    for c in conns:
        c.validate(arch)
    out = ensure_writable_dir(out)
    grid = [(name, conn, mode, seed) for mode in modes for name, conn in zip(names, conns, strict=True)
            for seed in seeds]
    # Check every run directory up front, so a clash is reported before hours of training, not after.
    # Two entries that compile to the same network (e.g. the notebook's human and marmoset under `none`:
    # same graph, all strengths 1) give bit-identical runs for a seed, so the second reuses the first.
    plan = []
    first_of: dict[tuple[Any, ...], Path] = {}
    for name, conn, mode, seed in grid:
        run_dir = out / run_name(name, mode, seed)
        cfg = replace(config, seed=seed, mode=mode)
        twin = first_of.setdefault((network_key(conn, mode), seed), run_dir)
        done = partial = False
        if resume:
            compiled = architecture_for(conn, arch).with_image_size(cfg.make_task().image_size).to_dict()
            done = _finished(run_dir, cfg, compiled)
            partial = not done and _resumable(run_dir, cfg, compiled)
        if twin == run_dir and not done and not partial:
            prepare_run_dir(run_dir, overwrite=overwrite or resume)
        plan.append((name, conn, mode, seed, cfg, run_dir, done, partial, None if twin == run_dir else twin))
    if resume:
        remove_temporaries(out, OUTPUT_FILES)  # of atomic writes cut short by the kill
    _check_room(out, [(conn, cfg) for _, conn, _, _, cfg, _, done, _, twin in plan if not done and twin is None],
                arch, max_stack if stack else 1)
    write_json(out / EXPERIMENT_FILE, {
        "species": names, "connectomes": [c.to_dict() for c in conns], "modes": modes, "seeds": seeds,
        "train": asdict(config), "architecture": arch.to_dict() if arch is not None else None,
    })
    dataset = data if data is not None else load_fashion_mnist(data_path)

    stacked: dict[Path, tuple[list[dict[str, Any]], str]] = {}
    if stack:
        fresh = [(name, conn, cfg, run_dir) for name, conn, _, _, cfg, run_dir, done, partial, twin in plan
                 if not done and not partial and twin is None]
        stacked = _train_stacked(fresh, dataset, arch, progress, max_stack)

    rows = []
    histories: dict[Path, tuple[list[dict[str, Any]], str]] = {}
    for name, conn, mode, seed, cfg, run_dir, done, partial, twin in plan:
        status = "ok"
        if twin is not None:
            history, status = histories[twin]
            row = _summary_row(name, mode, seed, cfg, twin, history, status)
            rows.append({**row, "same_as": str(twin.relative_to(out))})
            continue
        if run_dir in stacked:
            history, status = stacked[run_dir]
        elif done:
            history = json.loads((run_dir / "history.json").read_text())
            # Left by a kill between writing model.pt and deleting the checkpoint: the run is complete.
            (run_dir / CHECKPOINT_FILE).unlink(missing_ok=True)
            remove_temporaries(run_dir, RUN_FILES)
        else:
            try:
                if partial:
                    result = resume_run(run_dir, data=dataset, progress=progress, desc=f"{name} {mode} s{seed} ",
                                        checkpoint_every=checkpoint_every)
                else:
                    result = train(conn.replace(name=name), cfg, data=dataset, out=run_dir, overwrite=True,
                                   progress=progress, desc=f"{name} {mode} s{seed} ",
                                   checkpoint_every=checkpoint_every, architecture=arch)
                history = result.history.to_dict("records")
            except DivergenceError as exc:  # one diverging run must not stop the sweep
                history, status = _read_history(run_dir), f"failed: {exc}"
        histories[run_dir] = (history, status)
        rows.append({**_summary_row(name, mode, seed, cfg, run_dir, history, status), "same_as": ""})
        write_text(out / "summary.csv", pd.DataFrame(rows).to_csv(index=False))
    summary = pd.DataFrame(rows)
    analyse(out, summary)
    if report:
        from .report import build_report

        build_report(out)
    return summary


def _train_stacked(
    fresh: list[tuple[str, Connectome, TrainConfig, Path]], dataset: FashionMNIST,
    arch: Architecture | None, progress: bool, max_stack: int,
) -> dict[Path, tuple[list[dict[str, Any]], str]]:
    """Train the fresh runs of a sweep in stacks of up to ``max_stack`` models of one structure and recipe."""
    started = []
    shared: dict[Any, Any] = {}
    for name, conn, cfg, run_dir in fresh:
        run = start_run(conn.replace(name=name), cfg, data=dataset, out=run_dir, overwrite=True, architecture=arch)
        if cfg.train_subset is None:  # the same images for every run: one copy on the device
            run.data = shared.setdefault("all", run.data)
        started.append(run)
    groups: dict[Any, list[Any]] = {}
    for run in started:
        recipe = tuple((k, v) for k, v in sorted(asdict(run.train_config).items()) if k != "seed")
        groups.setdefault((structure_key(run.model), recipe, len(run.data.train_y)), []).append(run)
    results: dict[Path, tuple[list[dict[str, Any]], str]] = {}
    for members in groups.values():
        for i in range(0, len(members), max_stack):
            stack = members[i:i + max_stack]
            for run in stack:
                run.config["resolved"]["stacked_with"] = len(stack)  # seconds = the run's share of the stack's
                write_json(run.run_dir / "config.json", run.config)
            try:
                outcome = fit_stacked(
                    [r.model for r in stack], [r.data for r in stack], [r.train_config for r in stack],
                    stack[0].precision, progress=progress, desc=f"{len(stack)} runs: ",
                    on_epoch=[(lambda h, d=r.run_dir: write_json(d / "history.json", h)) for r in stack],
                    checkpoints=[r.run_dir / CHECKPOINT_FILE for r in stack],
                    names=[f"{r.config['name']} {r.train_config.mode} s{r.train_config.seed}" for r in stack])
            except torch.OutOfMemoryError:
                raise ConfigError(f"out of memory training {len(stack)} models at once; use a smaller --max-stack "
                                  "or --strategy sequential (finished runs are kept: add --resume)") from None
            for run, result in zip(stack, outcome, strict=True):
                if isinstance(result, DivergenceError):
                    results[run.run_dir] = (_read_history(run.run_dir), f"failed: {result}")
                else:
                    finish_run(run.model, run.data, run.train_config, run.precision, run.config, run.run_dir, result)
                    results[run.run_dir] = (result, "ok")
    return results


def _check_room(out: Path, to_train: list[tuple[Connectome, TrainConfig]], architecture: Architecture | None,
                in_flight: int = 1) -> None:
    """Before the first run: room for every run's model.pt and JSON, the checkpoints that exist at once
    (``in_flight``: one run at a time, or a stack's runs; each goes when its run finishes), one more being
    rewritten, and the figures and report."""
    if not to_train:
        return
    sizes = []
    for conn, cfg in to_train:
        arch = architecture_for(conn, architecture).with_image_size(cfg.make_task().image_size)
        sizes.append(count_parameters(build_model(conn, arch, mode=cfg.mode)))
    checkpoints = sorted(sizes)[-in_flight:] + [max(sizes)]  # 12 bytes a parameter: weights and Adam's moments
    need = sum(run_disk_bytes(n) - 24 * n for n in sizes) + 12 * sum(checkpoints) + 5_000_000
    check_room(out, need, f"{len(sizes)} run{'s' if len(sizes) > 1 else ''} and the report")


def network_key(conn: Connectome, mode: str) -> tuple[Any, ...]:
    """What decides the compiled network under ``mode``: areas and the strengths as the mode uses them."""
    weights = (conn.weights > 0).astype(float) if mode == "none" else conn.weights
    return (conn.areas, weights.tobytes(), mode)


def analyse(out: Path, summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``stats.csv`` and ``tests.csv`` from the runs that finished; return both tables."""
    from .analysis.stats import pairwise_tests, summarize

    ok = summary[summary["status"] == "ok"]
    metrics = [c for c in ok.columns if c.startswith("test_") and pd.api.types.is_numeric_dtype(ok[c])]
    stats = summarize(ok, by=["mode", "species"], metrics=metrics) if len(ok) else pd.DataFrame()
    tests = []
    for metric in metrics:
        if ok["species"].nunique() > 1:
            t = pairwise_tests(ok, by="species", metric=metric, within="mode")
            tests.append(t.assign(compare="species"))
        if ok["mode"].nunique() > 1:
            t = pairwise_tests(ok, by="mode", metric=metric, within="species")
            tests.append(t.assign(compare="mode"))
    tests_df = pd.concat(tests, ignore_index=True) if tests else pd.DataFrame()
    write_text(out / "stats.csv", stats.to_csv(index=False))
    write_text(out / "tests.csv", tests_df.to_csv(index=False))
    from .report import plot_learning_curves

    histories = _histories(out, ok)
    if histories:
        plot_learning_curves(histories, out / "learning_curves.png",
                             reference={k: v["test_acc"] for k, v in NOTEBOOK_RESULTS.items()})
    return stats, tests_df


def _histories(out: Path, ok: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per (species, mode): every seed's history stacked (the figure draws the mean and a CI band)."""
    groups: dict[str, list[pd.DataFrame]] = {}
    for r in ok.itertuples():
        label = r.species if ok["mode"].nunique() == 1 else f"{r.species} ({r.mode})"
        h = pd.DataFrame(_read_history(Path(r.run_dir)))
        if len(h):
            groups.setdefault(label, []).append(h.assign(seed=r.seed))
    return {k: pd.concat(v, ignore_index=True) for k, v in groups.items()}


def _summary_row(name: str, mode: str, seed: int, cfg: TrainConfig, run_dir: Path, history: list[dict[str, Any]],
                 status: str) -> dict[str, Any]:
    last = history[-1] if history and status == "ok" else {}
    ref = NOTEBOOK_RESULTS.get(name, {}) if cfg.task == "what" and cfg.canvas is None else {}
    row: dict[str, Any] = {"species": name, "mode": mode, "seed": seed, "status": status}
    row.update({k: v for k, v in last.items() if k not in ("epoch", "seconds", "stack_seconds")})
    row.update({
        "epochs": len(history),
        "seconds": float(sum(h["seconds"] for h in history)),
        "notebook_test_acc": ref.get("test_acc"),
        "notebook_test_loss": ref.get("test_loss"),
        "run_dir": str(run_dir),
    })
    return row


def _same_plan(run_dir: Path, cfg: TrainConfig, arch: dict[str, Any]) -> bool:
    """config.json says this run was started with this plan: the training options (bar device and
    precision) and the compiled architecture."""
    try:
        saved = json.loads((run_dir / "config.json").read_text())
        train = saved["train"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    same = all(train.get(k) == v for k, v in asdict(cfg).items() if k not in ("device", "precision"))
    return same and saved.get("architecture") == arch


def _finished(run_dir: Path, cfg: TrainConfig, arch: dict[str, Any]) -> bool:
    """A run counts as done when its weights exist and its config and history match the plan."""
    try:
        history = json.loads((run_dir / "history.json").read_text())
    except (OSError, ValueError):
        return False
    return _same_plan(run_dir, cfg, arch) and len(history) == cfg.epochs and (run_dir / "model.pt").is_file()


def _resumable(run_dir: Path, cfg: TrainConfig, arch: dict[str, Any]) -> bool:
    """An interrupted run of the same plan with a checkpoint: continuing it gives what retraining would.

    The checkpoint is read now, so a corrupt one is reported before any training, like a clash.
    """
    if not _same_plan(run_dir, cfg, arch) or not (run_dir / CHECKPOINT_FILE).is_file():
        return False
    read_checkpoint(run_dir / CHECKPOINT_FILE)
    return True


def _read_history(run_dir: Path) -> list[dict[str, Any]]:
    try:
        return json.loads((run_dir / "history.json").read_text())
    except (OSError, ValueError):
        return []


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return out
