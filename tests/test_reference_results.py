"""scripts/reference_results.py, issue 34's tables: every number against SciPy on the made-up accuracies of two
compare directories written the way compare writes them (summary.csv, then its stats.csv and tests.csv)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from visualstreams.analysis.stats import holm
from visualstreams.experiment.comparison import analyse
from visualstreams.format import format_p

ROOT = Path(__file__).resolve().parents[1]
SPECIES = {"macaque-markov2014": [79.3, 81.4, 78.7, 81.1, 80.4], "mouse-oh2014": [78.2, 79.3, 76.9, 81.8, 81.1]}
FULL = {"alexnet": [70.6, 67.7, 67.3, 64.0, 71.8], "resnet18": [79.4, 80.6, 79.8, 81.8, 81.3]}
MATCHED = {"alexnet": [62.0, 60.1, 64.2, 58.1, 65.3], "resnet18": [76.1, 76.4, 79.5, 76.7, 80.4]}
SIZES = {"macaque-markov2014": (421_130, 134e6), "mouse-oh2014": (1_209_994, 216e6), "alexnet": (57_022_154, 1.1e9),
         "resnet18": (11_172_810, 2.73e9)}


def write_compare(path: Path, models: dict[str, list[float]], condition: str) -> None:
    rows = [{"species": name, "condition": cond, "seed": k, "status": "ok", "test_acc": v, "seconds": 1.0,
             "parameters_used": SIZES[name][0], "flops": SIZES[name][1], "run_dir": str(path / name / str(k))}
            for group, cond in ((SPECIES, "gain"), (models, condition)) for name, values in group.items()
            for k, v in enumerate(values)]
    path.mkdir(parents=True)
    summary = pd.DataFrame(rows)
    summary.to_csv(path / "summary.csv", index=False)
    analyse(path, summary, reference=False)


def ci(values: list[float]) -> str:
    x = np.asarray(values)
    half = sps.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return f"{x.mean():.2f} [{x.mean() - half:.2f}, {x.mean() + half:.2f}]"


def test_the_tables_are_the_compares_numbers(tmp_path):
    write_compare(tmp_path / "full", FULL, "reference")
    write_compare(tmp_path / "matched", MATCHED, "reference-matched")
    brains = tmp_path / "full" / "brains"
    brains.mkdir()
    # predict's tables, as it writes them: a CORnet-like model's IT at two steps, the last read as its IT
    pd.DataFrame([
        {"species": "alexnet", "condition": "reference", "name": "IT@t0", "region": "IT", "metric": "ceiled_score",
         "n": 5, "mean": 0.70, "ci_low": 0.69, "ci_high": 0.71},
        {"species": "alexnet", "condition": "reference", "name": "IT@t1", "region": "IT", "metric": "ceiled_score",
         "n": 5, "mean": 0.73, "ci_low": 0.72, "ci_high": 0.74}]).to_csv(brains / "predictivity_stats.csv")
    pd.DataFrame([{"species": "alexnet", "condition": "reference", "region": "IT", "best": "V1", "score": "ceiled",
                   "mean": 0.86, "ci_low": 0.855, "ci_high": 0.865, "n_runs": 5, "share_of_runs": 0.8}]).to_csv(
        brains / "best_areas_groups.csv")
    pd.DataFrame([{"run": f"x/{sp}/seed{k}", "name": "IT", "region": "IT", "ceiled": v}
                  for sp, k, v in (("macaque-markov2014", 0, 0.905), ("macaque-markov2014", 1, 0.887),
                                   ("mouse-oh2014", 0, 0.86))]).to_csv(brains / "predictivity.csv")
    run = tmp_path / "full" / "alexnet" / "reference-seed0"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({
        "train": {"train_subset": 2000, "epochs": 5, "recipe": "notebook", "lr": 0.001, "batch_size": 64,
                  "schedule": "constant"},
        "data": {"size": [28, 28], "test": 2000, "dataset": "fmnist-test2000", "checksums": {"tensors": "c8c9"}}}))
    md, png = tmp_path / "ref.md", tmp_path / "ref.png"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "reference_results.py"), str(tmp_path), "--markdown",
                    str(md), "--figure", str(png)], check=True, capture_output=True)
    text = md.read_text()
    assert png.stat().st_size > 0 and "nan" not in text
    assert ("1 runs. Fashion-MNIST 'what' at 28 px: 2,000 training images (a seeded subset per seed), 5 epochs, the "
            "notebook recipe (lr 0.001, batch 64, constant schedule) for every network; tested on 2,000 held-out "
            "images (fmnist-test2000, tensors checksum c8c9).") in text
    assert f"| resnet18 | published widths | 11,172,810 | 2.730 | 5 | {ci(FULL['resnet18'])} |" in text
    assert f"| alexnet | matched to macaque-markov2014's used parameters | 57,022,154 | 1.100 | 5 | " \
           f"{ci(MATCHED['alexnet'])} |" in text
    assert text.count("| macaque-markov2014 | gain |") == 1  # the matched compare's connectome runs: shown once
    # each species against each model: Welch, Holm over the four pairs of the family
    pairs = [(s, m) for s in SPECIES for m in FULL]
    p = [sps.ttest_ind(SPECIES[s], FULL[m], equal_var=False).pvalue for s, m in pairs]
    p_holm = holm(np.asarray(p))
    i = pairs.index(("mouse-oh2014", "resnet18"))
    diff = np.mean(SPECIES["mouse-oh2014"]) - np.mean(FULL["resnet18"])
    row = next(line for line in text.splitlines() if line.startswith("| published widths | mouse-oh2014 | resnet18 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3].startswith(f"{diff:.2f} [") and cells[5] == format_p(p[i]) and cells[6] == format_p(p_holm[i])
    x, y = np.asarray(SPECIES["mouse-oh2014"]), np.asarray(FULL["resnet18"])
    pooled = np.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))
    g = diff / pooled * (1 - 3 / (4 * (len(x) + len(y)) - 9))  # Hedges' small-sample correction
    assert float(cells[4]) == float(f"{g:.2f}")
    assert text.count("| the connectomes' own test | macaque-markov2014 | mouse-oh2014 |") == 1  # not the rerun's
    assert text.count("| matched to macaque-markov2014's used parameters |") == 2 + 2 * 2 + 1  # models, their tests
    assert "| IT | alexnet | IT@t1: 0.730 [0.720, 0.740] | V1 | 0.860 [0.855, 0.865] | 80% |" in text
    assert ("the highest ceiled score of any run's IT is 0.905 (macaque-markov2014/seed0; the recordings were made "
            "from macaque-markov2014/seed0), the next 0.887 (macaque-markov2014/seed1)") in text


def test_runs_of_different_recipes_are_not_stated_as_one(tmp_path):
    write_compare(tmp_path / "full", FULL, "reference")
    for k, epochs in enumerate((5, 3)):
        run = tmp_path / "full" / "alexnet" / f"reference-seed{k}"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"train": {"epochs": epochs, "seed": k}, "data": {}}))
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "reference_results.py"), str(tmp_path),
                           "--markdown", str(tmp_path / "ref.md")], capture_output=True, text=True)
    assert done.returncode != 0 and "differ in recipe or data" in done.stderr
    assert not (tmp_path / "ref.md").exists()


def test_a_directory_without_the_compare_is_refused_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "reference_results.py"), str(tmp_path),
                           "--markdown", str(tmp_path / "ref.md")], capture_output=True, text=True)
    assert done.returncode == 2 and "no full/summary.csv" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "ref.md").exists()
