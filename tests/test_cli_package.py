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


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["connectome", "--help"], ["data", "--help"],
                                  ["connectome", "list"]])
def test_the_commands_to_start_in_half_a_second_load_neither_pandas_nor_networkx(argv):
    # what `connectome --help` spent 0.6 s of its 1.1 s on: the parser needs the presets' names only, and
    # `connectome list` their records
    assert not imported_by(*argv) & {"pandas", "networkx"}


def test_a_training_command_does_load_torch():  # the check above can see torch when it is there
    assert "torch" in imported_by("train", "--help")


def test_every_command_is_a_module_with_its_options_and_one_run():
    assert set(COMMANDS) == {"connectome", "train", "compare", "lesion", "similarity", "predict", "export", "data"}
    for name in COMMANDS:
        module = command_module(name)
        assert callable(module.add_arguments) and callable(module.run), name
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
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert not module.startswith(("analysis", "viz.")), (path.name, module)
                for alias in node.names:  # nor `from .. import analysis`, nor `from ..viz import results`
                    assert not (module == "" and alias.name == "analysis"), path.name
                    assert not (module == "viz" and (SRC / "visualstreams" / "viz" / f"{alias.name}.py").exists())
        assert len(path.read_text().splitlines()) <= 500, path.name


def test_no_module_of_the_package_is_over_500_lines():
    """What a reader can hold (#32): a module that grows past it is split by what it holds."""
    long = {str(p.relative_to(SRC)): n for p in (SRC / "visualstreams").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


def suffix_code(source: str) -> list[str]:
    """The places in ``source`` that write or parse an ``@t``/``@occ`` suffix by hand: a string that is just the
    suffix (``.partition("@t")``), or an f-string text part that ends in ``@``, ``@t`` or ``@occ`` before a
    value (``f"{k}@{suffix}"``, ``f"{area}@t{t}"``); not docstrings, nor messages that show an example."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
            for part, after in zip(node.values, node.values[1:], strict=False):
                if (isinstance(part, ast.Constant) and isinstance(after, ast.FormattedValue)
                        and str(part.value).endswith(("@", "@t", "@occ"))):
                    hits.append(ast.unparse(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in skip and node.value in ("@", "@t", "@occ"):
            hits.append(repr(node.value))
    return hits


def test_the_suffix_check_sees_what_it_is_meant_to_see():
    assert suffix_code('x = f"{k}@{suffix}"\ny = f"{a}@t{t}"\nz = n.partition("@t")') == [
        "f'{k}@{suffix}'", "f'{a}@t{t}'", "'@t'"]
    assert suffix_code('"""IT@t2 in a docstring"""\nraise E(f"{text!r} must be AREA@tK, e.g. IT@t2")') == []


def test_metric_and_step_suffixes_are_written_and_read_only_by_their_owner():
    """``@t`` and ``@occ`` are written and parsed in visualstreams.metrics alone (issue: literals in 12 files)."""
    owner = SRC / "visualstreams" / "metrics.py"
    for path in (SRC / "visualstreams").rglob("*.py"):
        if path != owner:
            assert not suffix_code(path.read_text()), (path.name, suffix_code(path.read_text()))


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


def test_only_the_command_named_first_has_its_options_built():
    from visualstreams.cli.main import _command_in

    assert _command_in(["train", "--species", "data", "--out", "compare"]) == "train"
    assert _command_in(["--help"]) is None
    assert _command_in(["trian", "--species", "data"]) is None  # a misspelt command: argparse says which exist


LAZY = ("visualstreams", "visualstreams.network", "visualstreams.report")


@pytest.mark.parametrize("package", LAZY)
def test_a_lazy_package_exports_what_its_type_checking_imports_name(package):
    import importlib

    from visualstreams._lazy import _type_checking_imports

    module = importlib.import_module(package)
    names = _type_checking_imports(package)
    assert set(module.__all__) - {"__version__"} == set(names)
    for name in names:  # each resolves, to the object of the module it is imported from
        assert getattr(module, name) is getattr(importlib.import_module(names[name], package), name)


def test_a_lazy_package_reaches_its_submodules_and_caches_no_patched_name(monkeypatch):
    import visualstreams as vs
    import visualstreams.network.compile as compile_module

    assert vs.viz.plot_anytime.__module__ == "visualstreams.viz.results"
    assert vs.network.twins.matched_twin.__module__ == "visualstreams.network.twins"
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        vs.nothing_here  # noqa: B018
    original = compile_module.compile_network
    monkeypatch.setattr(compile_module, "compile_network", lambda *a, **k: "patched")
    assert vs.network.compile_network() == "patched"
    monkeypatch.undo()
    assert vs.network.compile_network is original


def test_no_module_dict_attribute_passes_the_reserved_name_shortcut():
    """connectome.core checks area names against torch's module-dict attributes only when they could be one:
    a name like V1 or VISp (a capital or digit, then letters and digits) is never one."""
    import re

    from torch import nn

    from visualstreams.connectome import Connectome

    assert not [a for a in dir(nn.ModuleDict()) if re.fullmatch(r"[A-Z0-9][A-Za-z0-9]*", a)]
    with pytest.raises(Exception, match="reserved"):
        Connectome.from_edges([("V1", "keys", 1.0)], name="x")
