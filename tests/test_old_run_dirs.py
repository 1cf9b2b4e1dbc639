"""Run directories written before #32 reorganised the configs still read as they were meant (item 2): each
fixture's config.json (tests/fixtures/runs-0.2: five tiny runs written by the code of 2026-12-06 and one real run
of the occlusion experiment, all with the network's fields in the ``train`` section) gives back its train config
field for field (the network's fields now in its network config), its condition label, and a compiled network of
exactly the parameters, used parameters and FLOPs it recorded."""

import json
import shutil
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest

from visualstreams.network import NetworkConfig
from visualstreams.network.config import INPUT_FIELDS
from visualstreams.network.twins import run_costs
from visualstreams.report import build_report
from visualstreams.runs import CompareDir, RunDir
from visualstreams.runs.lifecycle import rebuild_run

FIXTURES = Path(__file__).parent / "fixtures" / "runs-0.2"
CONDITIONS = {"mouse-gain": "gain", "macaque-gain-T2i-occlusion": "gain-T2i", "marmoset-gain-BF2": "gain-BF2",
              "macaque-none-BC3i": "none-BC3i", "mouse-density-T2-norm-where": "density-T2n",
              "macaque-gain-T4-occlusion-real": "gain-T4"}


@pytest.mark.parametrize("name", sorted(CONDITIONS))
def test_an_old_run_directory_rebuilds_as_it_was(name):
    directory = FIXTURES / name
    config_json = json.loads((directory / "config.json").read_text())
    config, spec = rebuild_run(RunDir(directory), config_json)
    assert "network" not in config_json  # written before the split
    later = {"model", "width", "matched_to", "blocks", "field_degrees", "anatomy", "budget", "budget_target",
             "units_per_rf"}
    net_fields = {f.name for f in fields(NetworkConfig)} - set(INPUT_FIELDS) - later
    train = {k: v for k, v in config_json["train"].items() if k not in net_fields}
    assert config.to_dict() == train  # every training field read back, none added or changed
    assert {k: getattr(config.network, k) for k in net_fields} == {k: config_json["train"][k] for k in net_fields}
    assert all(getattr(config.network, k) is None for k in INPUT_FIELDS)  # it recorded none: its architecture has it
    assert config.network.model is None and config.network.width is None  # no reference model then
    assert config.network.label == CONDITIONS[name]
    costs = run_costs(spec, config.make_task().heads, config.loss_steps == "all")
    assert {k: config_json[k] for k in costs} == costs
    assert spec.steps == config.network.steps and spec.mode == config.network.mode
    history = json.loads((directory / "history.json").read_text())
    assert history[-1]["epoch"] == config.epochs and "test_acc" in history[-1]


def test_the_fixtures_cover_what_the_network_config_will_hold():
    trains = [json.loads((FIXTURES / n / "config.json").read_text())["train"] for n in CONDITIONS]
    assert {t["mode"] for t in trains} >= {"gain", "none", "density"}
    assert {t["steps"] for t in trains} >= {1, 2, 4} and {t["twin_match"] for t in trains if t["twin_of"]} == {
        "parameters", "compute"}
    assert any(t["intrinsic"] for t in trains) and any(t["step_norm"] for t in trains)


def test_an_old_comparison_reads_its_mode_columns_as_conditions_and_reports(tmp_path):
    """A compare directory written by 0.2.0 (the brains tutorial's, its tables, configs and histories kept as
    tests/fixtures/compare-0.2): its tables called the condition ``mode``; they read with ``condition`` columns and
    values, and its report builds without an error note."""
    old = tmp_path / "compare"
    shutil.copytree(Path(__file__).parent / "fixtures" / "compare-0.2", old)
    assert "mode" in pd.read_csv(old / "summary.csv") and "mode_a" in pd.read_csv(old / "similarity_pairs.csv")
    cdir = CompareDir(old)
    summary, tests = cdir.read_table(CompareDir.SUMMARY), cdir.read_table(CompareDir.TESTS)
    assert "mode" not in summary and list(summary["condition"].unique()) == ["gain"]
    assert set(tests["compare"]) <= {"species", "condition"} and "condition" in tests
    pairs = cdir.read_table(CompareDir.SIMILARITY_PAIRS)
    assert {"condition_a", "condition_b"} <= set(pairs) and "mode_a" not in pairs
    build_report(old)
    text = (old / "report.md").read_text()
    assert "Species compared within each condition" in text and "could not be built" not in text
