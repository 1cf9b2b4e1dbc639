"""Experiments: train several connectomes under one recipe and compare them side by side."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .connectome import NOTEBOOK_RESULTS, Connectome, load_connectome
from .data import FashionMNIST, load_fashion_mnist
from .errors import ConfigError
from .report import plot_learning_curves
from .storage import write_text
from .training import TrainConfig, prepare_run_dir, train

SUMMARY_COLUMNS = [
    "species", "test_acc", "test_loss", "train_acc", "train_loss", "epochs", "seconds",
    "notebook_test_acc", "notebook_test_loss", "seed", "run_dir",
]


def compare(
    connectomes: Sequence[str | Connectome],
    config: TrainConfig | None = None,
    out: str | os.PathLike[str] = "runs/compare",
    *,
    data: FashionMNIST | None = None,
    data_path: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Train one model per connectome; write one run directory each, ``summary.csv`` and
    ``learning_curves.png`` in ``out``. Returns the summary (one row per model)."""
    config = config or TrainConfig()
    conns = [load_connectome(c) for c in connectomes]
    if not conns:
        raise ConfigError("compare needs at least one species or connectome file")
    names = _unique_names([c.name for c in conns])
    out = Path(out)
    # Check every run directory up front, so a clash is reported before hours of training, not after.
    run_dirs = [prepare_run_dir(out / name, overwrite) for name in names]
    for c in conns:
        c.validate()
    dataset = data if data is not None else load_fashion_mnist(data_path)

    rows, histories = [], {}
    for name, conn, run_dir in zip(names, conns, run_dirs, strict=True):
        result = train(conn.replace(name=name), config, data=dataset, out=run_dir, overwrite=True,
                       progress=progress)
        histories[name] = result.history
        last = result.final
        ref = NOTEBOOK_RESULTS.get(name, {})
        rows.append({
            "species": name,
            "test_acc": last["test_acc"],
            "test_loss": last["test_loss"],
            "train_acc": last["train_acc"],
            "train_loss": last["train_loss"],
            "epochs": int(last["epoch"]),
            "seconds": float(result.history["seconds"].sum()),
            "notebook_test_acc": ref.get("test_acc"),
            "notebook_test_loss": ref.get("test_loss"),
            "seed": config.seed,
            "run_dir": str(run_dir),
        })
        summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
        write_text(out / "summary.csv", summary.to_csv(index=False))
    plot_learning_curves(histories, out / "learning_curves.png",
                         reference={k: v["test_acc"] for k, v in NOTEBOOK_RESULTS.items()})
    return summary


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return out
