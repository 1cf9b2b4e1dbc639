"""The comparison report, built from hand-written output directories (no training)."""

from __future__ import annotations

import html
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import FancyArrowPatch

import visualstreams as vs
from visualstreams.analysis.stats import describe_difference, pairwise_tests, summarize
from visualstreams.data import CLASSES
from visualstreams.engine import TrainConfig
from visualstreams.network import parse_condition
from visualstreams.report import build_report
from visualstreams.runs import CompareDir
from visualstreams.viz import (
    connectome_layout,
    plot_confusion,
    plot_connectome_graph,
    plot_final_metrics,
    plot_learning_curves,
    plot_per_class,
)

CHECKSUMS = {"train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
             "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310"}
TORCH_VERSION = "2.99.0+fake"


def _metrics(task: str, k: int, seed: int) -> dict[str, float]:
    if task == "where":
        return {"test_loss": 0.05 + 0.01 * k + 0.002 * seed, "test_loc_err": 3.0 + 0.5 * k + 0.1 * seed,
                "test_r2": 0.9 - 0.02 * k - 0.004 * seed}
    return {"test_loss": 0.25 + 0.01 * k + 0.003 * seed, "test_acc": 90.0 + 0.5 * k + 0.3 * seed}


def make_output_dir(out: Path, species=("human", "mouse"), seeds=(0, 1), modes=("gain",), task: str = "what",
                    failed: bool = False) -> pd.DataFrame:
    """A compare output directory as compare writes it, with made-up numbers."""
    train = TrainConfig(task=task, epochs=2).to_dict()
    (out).mkdir(parents=True, exist_ok=True)
    (out / "experiment.json").write_text(json.dumps({
        "species": list(species), "connectomes": [vs.load_connectome(s).to_dict() for s in species],
        "modes": list(modes), "seeds": list(seeds), "train": train}))
    rows = []
    for mode in modes:
        for k, sp in enumerate(species):
            for seed in seeds:
                run_dir = out / CompareDir.run_name(sp, mode, seed)
                run_dir.mkdir(parents=True)
                final = _metrics(task, k + (2 if mode == "none" else 0), seed)
                history = [{"epoch": e, "train_loss": 0.4 / e,
                            **{m: v * (0.98 if e == 1 else 1.0) for m, v in final.items()}, "seconds": 1.5}
                           for e in (1, 2)]
                (run_dir / "history.json").write_text(json.dumps(history))
                (run_dir / "config.json").write_text(json.dumps({
                    "network": parse_condition(mode).to_dict(), "train": {**train, "seed": seed},
                    "resolved": {"device": "cpu", "precision": "fp32", "channels_last": True},
                    "data": {"source": "/data/fashion", "format": "idx", "train": 60000, "test": 10000,
                             "train_used": 60000, "checksums": CHECKSUMS},
                    "environment": {"visualstreams": vs.__version__, "python": "3.11.9", "torch": TORCH_VERSION,
                                    "numpy": "1.26.4", "pandas": "2.2.2"},
                }))
                if task != "where":
                    m = np.full((10, 10), 2) + np.diag(np.arange(80, 90) + seed + k)
                    (run_dir / "confusion.json").write_text(json.dumps({"classes": list(CLASSES),
                                                                        "matrix": m.tolist()}))
                rows.append({"species": sp, "condition": mode, "seed": seed, "status": "ok", "train_loss": 0.2,
                             **final, "epochs": 2, "seconds": 3.0,
                             "notebook_test_acc": {"human": 92.5, "mouse": 91.94}.get(sp) if task == "what" else None,
                             "notebook_test_loss": None, "run_dir": str(run_dir)})
    if failed:
        rows.append({"species": species[0], "condition": modes[0], "seed": 99, "status": "failed: training diverged",
                     "epochs": 1, "seconds": 1.0, "run_dir": str(out / CompareDir.run_name(species[0], modes[0], 99))})
    summary = pd.DataFrame(rows)
    (out / "summary.csv").write_text(summary.to_csv(index=False))
    ok = summary[summary["status"] == "ok"]
    metrics = [c for c in ok.columns if c.startswith("test_")]
    (out / "stats.csv").write_text(summarize(ok, by=["condition", "species"], metrics=metrics).to_csv(index=False))
    tests = []
    for metric in metrics:
        if ok["species"].nunique() > 1:
            tests.append(pairwise_tests(ok, by="species", metric=metric, within="condition").assign(compare="species"))
        if ok["condition"].nunique() > 1:
            tests.append(pairwise_tests(ok, by="condition", metric=metric, within="species")
                         .assign(compare="condition"))
    tests_df = pd.concat(tests, ignore_index=True) if tests else pd.DataFrame()
    (out / "tests.csv").write_text(tests_df.to_csv(index=False))
    return summary


def build(out: Path) -> Path:
    """build_report, failing the test if any section fell back to its error note."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return build_report(out)


def md_images(md: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    summary = make_output_dir(out, modes=("gain", "none"), failed=True)
    def history(sp: str, mode: str, seed: int) -> pd.DataFrame:
        path = out / CompareDir.run_name(sp, mode, seed) / "history.json"
        return pd.DataFrame(json.loads(path.read_text())).assign(seed=seed)

    histories = {f"{sp} ({mode})": pd.concat([history(sp, mode, s) for s in (0, 1)])
                 for sp, mode in summary[["species", "condition"]].drop_duplicates().itertuples(index=False)}
    plot_learning_curves(histories, out / "learning_curves.png")  # as compare's analyse step draws it
    # a run without confusion.json must not stop the report
    (out / CompareDir.run_name("mouse", "none", 1) / "confusion.json").unlink()
    path = build(out)
    return out, path, path.read_text(), (out / "report.md").read_text()


def test_report_html_holds_every_section(report):
    out, path, text, _ = report
    assert path == out / "report.html"
    for section in ("The connectomes", "Results", "Figures", "Tests", "Failed runs", "Reproducibility"):
        assert section in text
    assert "beyond seed-to-seed noise" in text
    assert text.count("data:image/png;base64,") >= 9  # 2 heatmaps, 2 graphs, curves, metrics, per class, 4 CMs
    assert not re.search(r'(?:src|href)="(?!data:|#)', text)  # nothing external
    assert "<link" not in text and "<script" not in text
    # settings and connectome provenance
    assert "human" in text and "mouse" in text and "Felleman" in text
    # stats values in the results table, with the notebook's figure beside them
    stats = pd.read_csv(out / "stats.csv")
    for r in stats[stats["metric"] == "test_acc"].itertuples():
        assert f"{r.mean:.2f} ± {(r.ci_high - r.ci_low) / 2:.2f}" in text
    assert "92.50" in text
    # failed run listed
    assert "training diverged" in text
    # reproducibility
    for md5 in CHECKSUMS.values():
        assert md5 in text
    assert TORCH_VERSION in text and "fp32" in text


def test_report_tests_are_worded_for_species_and_modes(report):
    out, _, text, md = report
    tests = pd.read_csv(out / "tests.csv")
    assert set(tests["compare"]) == {"species", "condition"}
    for _, row in tests.iterrows():
        label = "species" if row["compare"] == "species" else "condition"
        sentence = describe_difference(row, group_label=label)
        assert html.escape(sentence, quote=False) in text
        assert sentence in md
    assert "is not significant" in text or "is significant" in text
    assert "Species compared within each condition" in text and "Conditions compared within each species" in text
    if tests["significant"].any():
        assert "Significant:" in text and 'class="sig"' in text


def test_markdown_twin_references_existing_pngs(report):
    out, _, text, md = report
    refs = md_images(md)
    assert "learning_curves.png" in refs
    assert len(refs) >= 9
    for ref in refs:
        assert (out / ref).is_file() and (out / ref).read_bytes()[:4] == b"\x89PNG"
    for md5 in CHECKSUMS.values():
        assert md5 in md
    assert TORCH_VERSION in md and "beyond seed-to-seed noise" in md


def test_single_seed_says_n1(tmp_path):
    make_output_dir(tmp_path, seeds=(0,))
    text = build(tmp_path).read_text()
    md = (tmp_path / "report.md").read_text()
    assert "n = 1 cannot separate" in text and "n = 1 cannot separate" in md
    assert "could not be tested" in text
    results = text.split("2. Results", 1)[1].split("3. Figures", 1)[0]
    assert "<td>90.00</td>" in results and " ± " not in results  # the value alone, no CI
    assert "report_learning_curves.png" in md_images(md)  # no learning_curves.png: redrawn from the histories


def test_one_species_one_seed_has_no_tests(tmp_path):
    make_output_dir(tmp_path, species=("human",), seeds=(0,))
    assert (tmp_path / "tests.csv").read_text().strip() == ""
    text = build(tmp_path).read_text()
    assert "No pairwise tests" in text and "n = 1" in text


def test_missing_confusion_is_tolerated(report):
    _, _, text, md = report
    assert "mouse none seed 1" in text and "mouse none seed 1" in md  # named as missing
    assert "mouse (none): confusion matrix" in text  # the other seed is still shown


def test_where_task_metrics(tmp_path):
    make_output_dir(tmp_path, species=("human",), task="where")
    text = build(tmp_path).read_text()
    md = (tmp_path / "report.md").read_text()
    assert "localisation error" in text and "R²" in text
    assert "No confusion matrices" in text
    assert "test accuracy" not in text
    for ref in md_images(md):
        assert (tmp_path / ref).is_file()


def test_connectome_graph_draws_one_arrow_per_edge():
    mouse = vs.load_connectome("mouse")
    fig = plot_connectome_graph(mouse)
    arrows = [p for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == len(mouse.edges()) == 7
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {f"{w:.2g}" for _, _, w in mouse.edges()} <= labels
    pos = connectome_layout(mouse)
    assert pos["V1"][0] < pos["V2"][0] < pos["V4"][0] == pos["MT"][0] < pos["IT"][0] == pos["LIP"][0]
    assert pos["V4"][1] < pos["MT"][1] and pos["IT"][1] < pos["LIP"][1]


def test_general_graph_layout_by_depth():
    conn = vs.Connectome.from_edges([("A", "B", 1.0), ("A", "C", 0.5), ("B", "D", 0.2), ("C", "D", 0.3)],
                                    name="diamond")
    pos = connectome_layout(conn)
    assert pos["A"][0] == 0 and pos["B"][0] == pos["C"][0] == 1 and pos["D"][0] == 2
    assert pos["B"][1] != pos["C"][1]
    fig = plot_connectome_graph(conn.to_dict())
    assert sum(isinstance(p, FancyArrowPatch) for p in fig.axes[0].patches) == 4


def test_small_figures():
    stats = pd.DataFrame({"condition": ["gain", "gain"], "species": ["a", "b"], "metric": ["test_acc"] * 2,
                          "n": [1, 3], "mean": [90.0, 91.0], "sd": [np.nan, 0.5], "ci_low": [np.nan, 90.2],
                          "ci_high": [np.nan, 91.8]})
    assert len(plot_final_metrics(stats).axes) == 1
    cm = np.eye(3) * 10 + 1
    assert len(plot_per_class({"a": cm, "b": cm.T}, ["x", "y", "z"]).axes) == 1
    fig = plot_confusion(cm, ["x", "y", "z"], title="t")
    assert np.allclose(fig.axes[0].images[0].get_array().sum(axis=1), 100.0)


def test_a_failing_section_leaves_the_rest(tmp_path, monkeypatch):
    from visualstreams.report import build as report_module

    make_output_dir(tmp_path, species=("human",), seeds=(0,))

    def broken(doc, ex):
        raise ValueError("boom")

    monkeypatch.setattr(report_module, "_section_figures", broken)
    with pytest.warns(RuntimeWarning, match="boom"):
        text = build_report(tmp_path).read_text()
    assert "could not be built (figures: ValueError: boom)" in text
    assert "Reproducibility" in text and TORCH_VERSION in text


def test_a_failed_similarity_analysis_is_a_section_saying_it_is_missing(tmp_path):
    make_output_dir(tmp_path)
    (tmp_path / CompareDir.SIMILARITY_SKIPPED).write_text("ValueError: no area shared by every run\n")
    build(tmp_path)
    for name in ("report.html", "report.md"):
        text = (tmp_path / name).read_text()
        assert "Representations: do the areas compute the same things?" in text, name
        assert ("This section is missing: the representational-similarity analysis failed (ValueError: no area "
                "shared by every run)") in text, name
    (tmp_path / CompareDir.SIMILARITY_SKIPPED).unlink()  # no analysis asked for: no section at all
    assert "Representations" not in build(tmp_path).read_text()


def test_recurrent_conditions_and_their_twins_are_described_not_custom(tmp_path):
    make_output_dir(tmp_path, species=("human",), modes=("gain", "gain-T4", "gain-BF4"))
    build(tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "custom mode" not in md
    assert "- `gain-T4`: 4 steps, each a feedforward sweep with the data's feedback" in md
    assert "- `gain-BF4`: the one-step feedforward twin of `gain-T4`" in md
