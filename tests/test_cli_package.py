"""The command line's shape: one module per command, each building its own options, shared options alike in every
command, and the quick commands starting without torch (real subprocesses; what they import is counted, not timed)."""

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from visualstreams.cli import COMMANDS, build_parser
from visualstreams.cli.main import command_module

SRC = Path(__file__).resolve().parents[1] / "src"
CLI = SRC / "visualstreams" / "cli"

# Heavy libraries a quick command must not load: what `visualstreams --help` took 3-4 s for.
HEAVY = ("torch", "scipy", "matplotlib", "sklearn")


def imported_by(*argv: str) -> set[str]:
    """The top-level modules a real `python -m visualstreams ARGV` process has imported when it exits."""
    code = ("import atexit, sys, runpy\n"
            "atexit.register(lambda: sys.__stderr__.write('MODULES ' + ' '.join(sorted({m.split('.')[0] for m in "
            "sys.modules})) + '\\n'))\n"
            f"sys.argv = ['visualstreams', *{list(argv)!r}]\n"
            "runpy.run_module('visualstreams', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(SRC)})
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["connectome", "list"], ["connectome", "show", "mouse"],
                                  ["connectome", "--help"], ["data", "--help"], ["data", "show", "--help"]])
def test_quick_commands_load_no_heavy_library(argv):
    modules = imported_by(*argv)
    assert "visualstreams" in modules
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_a_training_command_does_load_torch():  # the check above can see torch when it is there
    assert "torch" in imported_by("train", "--help")


def test_every_command_is_a_module_with_its_options_and_one_run():
    assert set(COMMANDS) == {"connectome", "train", "compare", "lesion", "similarity", "predict", "export", "data"}
    for name in COMMANDS:
        module = command_module(name)
        assert callable(module.add_arguments) and callable(module.run), name
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(COMMANDS)
    lazy = next(a for a in build_parser("")._actions if isinstance(a, argparse._SubParsersAction))
    assert [len(p._actions) for p in lazy.choices.values()] == [1] * len(COMMANDS)  # --help only


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out.update({f"{name} {k}": v for k, v in _options(child).items()})
        for flag in action.option_strings:
            out[flag] = action
    return out


def test_shared_options_have_one_default_and_one_help():
    every = {}
    for name in COMMANDS:
        p = build_parser(name)
        sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
        every.update({f"{name} {k}": v for k, v in _options(sub.choices[name]).items()})
    devices = {k: (a.default, a.help) for k, a in every.items() if k.endswith("--device")}
    assert len(devices) >= 5 and len(set(devices.values())) == 1, devices  # train, compare, lesion, similarity, predict
    assert next(iter(devices.values()))[0] == "auto"
    quiet = {(a.default, a.help) for k, a in every.items() if k.endswith("--quiet")}
    assert len(quiet) == 1


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_does_not_send_a_reader_to_itself(name, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser(name).parse_args([name, "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"see 'visualstreams {name} --help'" not in text


def test_parser_errors_have_the_one_prefix():
    proc = subprocess.run([sys.executable, "-m", "visualstreams", "train", "--species", "mouse", "--epochs", "0"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert proc.returncode == 2
    assert proc.stderr.startswith("visualstreams: error: train: argument --epochs: expected a number >= 1"), \
        proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_the_cli_package_imports_no_analysis_or_figure_internals():
    """Commands call the API (experiment, runs, export, data, connectome, the figures viz exports) and print what
    report.console returns; never the analysis layer or a figure module's insides."""
    for path in CLI.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("analysis", "viz.")), (path.name, node.module)
        assert len(path.read_text().splitlines()) <= 500, path.name


def test_metric_and_step_suffixes_are_written_and_read_only_by_their_owner():
    """``@t`` and ``@occ`` are written and parsed in visualstreams.metrics alone (issue: literals in 12 files)."""
    import re

    owner = SRC / "visualstreams" / "metrics.py"
    pattern = re.compile(r"""["'][^"'\n]*@(t|occ)["'{]|@t\{|@occ\{""")
    for path in (SRC / "visualstreams").rglob("*.py"):
        if path == owner:
            continue
        code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        hits = [line for line in code if pattern.search(line) and '"""' not in line and "``" not in line]
        assert not hits, (path.name, hits)


def test_the_metric_table_is_what_format_stats_and_figures_read():
    from visualstreams import metrics
    from visualstreams.analysis.stats import describe_difference
    from visualstreams.format import format_metric

    for name, m in metrics.METRICS.items():
        assert format_metric(1 / 3, metrics.at_step(metrics.at_level(name, 20), 1)).count("3") == m.decimals
    assert metrics.split_step(metrics.at_step("IT", 3)) == ("IT", 3)
    assert metrics.parse("test_loc_err@occ40@t2") == ("test_loc_err", 40.0, 2)
    row = {"group_a": "mouse", "group_b": "human", "metric": "test_loc_err@occ40", "n_a": 3, "n_b": 3, "diff": 1.5,
           "ci_low": 0.5, "ci_high": 2.5, "p": 0.01, "p_holm": 0.02}
    assert "difference in test localisation error at 40% occlusion of 1.50 px" in describe_difference(row)
