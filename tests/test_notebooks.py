"""The tutorials run: every notebook in docs/tutorials executes top to bottom on a tiny subset of the real
Fashion-MNIST (its parameter cell overridden, as papermill would), shows figures inline, tables and progress-bar
widgets, and leaves the files it says it writes. Skips without the data, as the other real-data tests do."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

# Ray clusters and executed notebooks: minutes each; `make test-all` (and CI) runs them, `make test` does not.
pytestmark = pytest.mark.slow

nbformat = pytest.importorskip("nbformat", reason="the docs extra is not installed (pip install -e '.[docs]')")
nbclient = pytest.importorskip("nbclient", reason="the docs extra is not installed (pip install -e '.[docs]')")

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
REAL_DATA = Path("/usr/share/datasets/fashion-mnist")
# Small enough that the notebooks run in well under two minutes on two busy cores, big enough that every
# step (a CI, a test, the similarity analysis, a lesion sweep) has something to work on.
TINY: dict[str, Any] = {"train_subset": 256, "test_subset": 300, "epochs": 1, "seeds": 2, "lesion_images": 200,
                        "data_dir": str(REAL_DATA)}
WIDGET = "application/vnd.jupyter.widget-view+json"


def parameter_names(nb: Any) -> set[str]:
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "a tutorial has exactly one cell tagged 'parameters'"
    tree = ast.parse(cells[0].source)
    return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}


def with_parameters(nb: Any, values: dict[str, Any]) -> Any:
    """The notebook with a cell assigning ``values`` right after its parameter cell (papermill's convention)."""
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    return nb


def outputs(nb: Any) -> list[Any]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def test_there_are_the_six_tutorials_each_with_its_parameters():
    assert [p.name for p in NOTEBOOKS] == ["01_notebook_experiment.ipynb", "02_your_own_species.ipynb",
                                           "03_seeds_controls_report.ipynb", "04_what_where_lesions.ipynb",
                                           "05_your_own_images.ipynb", "06_brains.ipynb"]
    for path in NOTEBOOKS:
        names = parameter_names(nbformat.read(path, as_version=4))
        assert {"train_subset", "epochs", "out"} <= names, path.name
        assert path.stem in OWN_DATA or "data_dir" in names, path.name  # where Fashion-MNIST is


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_committed_notebook_shows_its_outputs_and_stays_small(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "commit the notebook executed, top to bottom"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "executed in order, once"
    assert not [o for o in outputs(nb) if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs(nb))
    assert path.stat().st_size < 600_000, "keep the committed notebook small (a few hundred KB)"


# What each notebook leaves in its output directory, checked after a run at TINY size.
def _check_notebook_experiment(out: Path) -> None:
    summary = pd.read_csv(out / "summary.csv")
    assert summary["species"].tolist() == ["human", "marmoset", "mouse"]
    assert (summary["status"] == "ok").all() and (summary["epochs"] == 1).all()
    assert (out / "report.html").is_file()


def _check_your_own_species(out: Path) -> None:
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(set(summary["species"])) == ["human", "tree_shrew"] and len(summary) == 4
    tests = pd.read_csv(out / "tests.csv")
    assert ((tests["group_a"] == "human") & (tests["group_b"] == "tree_shrew")).any()


def _check_seeds_controls_report(out: Path) -> None:
    stats = pd.read_csv(out / "stats.csv")
    assert set(stats["condition"]) == {"gain", "none"} and (stats.loc[stats["metric"] == "test_acc", "n"] == 2).all()
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert summary["same_as"].astype(bool).sum() == 2  # marmoset under none is the human network, both seeds
    assert len(pd.read_csv(out / "similarity_species.csv"))
    assert (out / "report.md").is_file()


def _check_what_where_lesions(out: Path) -> None:
    summary = pd.read_csv(out / "summary.csv")
    assert {"test_acc", "test_loc_err", "test_r2"} <= set(summary.columns)
    assert (summary["status"] == "ok").all()


def _check_brains(out: Path) -> None:
    stats = pd.read_csv(out / "compare" / "predictivity_stats.csv")
    assert set(stats["species"]) == {"macaque-markov2014", "mouse-oh2014"} and set(stats["region"]) == {"V1", "IT"}
    assert (out / "compare" / "predictivity.png").is_file() and (out / "plugin" / "__init__.py").is_file()
    assert "## Neural predictivity" in (out / "compare" / "report.md").read_text()


def _check_your_own_images(out: Path) -> None:
    import json

    config = json.loads((out / "human" / "config.json").read_text())
    assert config["data"]["classes"] == ["circle", "cross", "square", "stripes"]
    assert config["architecture"]["in_channels"] == 3 and config["architecture"]["image_size"] == 32
    summary = pd.read_csv(out / "compare" / "summary.csv")
    assert (summary["status"] == "ok").all() and sorted(set(summary["species"])) == ["human", "mouse"]
    assert pd.read_csv(out / "compare" / "human" / "seed0" / "lesions.csv")["lesion"].tolist() == ["intact", "V4",
                                                                                                   "MT"]


CHECKS = {"01_notebook_experiment": _check_notebook_experiment, "02_your_own_species": _check_your_own_species,
          "03_seeds_controls_report": _check_seeds_controls_report, "04_what_where_lesions": _check_what_where_lesions,
          "05_your_own_images": _check_your_own_images, "06_brains": _check_brains}
OWN_DATA = {"05_your_own_images"}  # makes its own images: runs without Fashion-MNIST


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_tutorial_runs_top_to_bottom_on_a_small_subset(path, tmp_path):
    if path.stem not in OWN_DATA and not REAL_DATA.is_dir():
        pytest.skip("no Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    nb = nbformat.read(path, as_version=4)
    tiny = {k: v for k, v in TINY.items() if k in parameter_names(nb)}
    nb = with_parameters(nb, tiny)
    for cell in nb.cells:  # nothing left over from the committed run can pass for this one's
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    # In tmp_path: the notebooks write their runs relative to where they run, as they do in Jupyter.
    # One torch thread, as conftest's one_thread gives the other tests: two threads fighting a busy machine's two
    # cores are many times slower.
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute(env={**os.environ, "OMP_NUM_THREADS": "1"})
    shown = outputs(nb)
    assert not [o for o in shown if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in shown), "a figure displays inline"
    assert any('class="dataframe"' in o.get("data", {}).get("text/html", "") for o in shown), "a table displays"
    if any("vs.compare(" in c.source and "progress=False" not in c.source for c in nb.cells):
        assert any(WIDGET in o.get("data", {}) for o in shown), "tqdm.auto's progress bars are widgets"
        state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
        assert any(m.get("model_name") == "FloatProgressModel" for m in state.values()), "widget state is saved"
    CHECKS[path.stem](tmp_path / _assigned(nb, "out"))


def _assigned(nb: Any, name: str) -> Any:
    """The value the parameter cell assigns to ``name``."""
    cell = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    return next(ast.literal_eval(node.value) for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == name for t in node.targets))
