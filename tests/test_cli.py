"""The CLI as a user meets it: real subprocesses, real files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from synthetic import write_idx_dir

SRC = Path(__file__).resolve().parents[1] / "src"


def run(*args, cwd=None, env=None):
    full_env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    return subprocess.run([sys.executable, "-m", "visualstreams", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=300)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0]


def test_connectome_show_prints_the_notebook_tables():
    proc = run("connectome", "show", "mouse")
    assert proc.returncode == 0, proc.stderr
    assert "V1   0.0  0.75  0.3  0.00  0.35  0.0" in proc.stdout
    assert "V1_to_V4" in proc.stdout and "Felleman" in proc.stdout


def test_connectome_list_and_help():
    proc = run("connectome", "list")
    assert proc.returncode == 0 and "marmoset" in proc.stdout
    for cmd in (["--help"], ["train", "--help"], ["compare", "--help"], ["data", "fetch", "--help"]):
        proc = run(*cmd)
        assert proc.returncode == 0 and "usage: visualstreams" in proc.stdout


def test_connectome_show_saves_and_plots(tmp_path):
    assert run("connectome", "show", "human", "--save", tmp_path / "h.json").returncode == 0
    assert json.loads((tmp_path / "h.json").read_text())["species"] == "human"
    proc = run("connectome", "plot", tmp_path / "h.json", "--out", tmp_path / "h.png", "--graph", tmp_path / "g.png")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def _csv(path, body):
    path.write_text(body)
    return path


BROKEN = {
    "empty.csv": ("", "empty"),
    "ragged.csv": (",V1,V2\nV1,0,1\n", "not square"),
    "negative.csv": (",V1,V2,V4,IT,MT,LIP\n" + "\n".join(
        f"{a}," + ",".join("-1" if (a, b) == ("V1", "V2") else "0" for b in ["V1", "V2", "V4", "IT", "MT", "LIP"])
        for a in ["V1", "V2", "V4", "IT", "MT", "LIP"]) + "\n", "negative"),
    "cat.json": ("{\"edges\": [{\"source\": \"V1\"}]}", "edge 0 needs"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_connectome_files_exit_2_with_one_line(tmp_path, name):
    body, fragment = BROKEN[name]
    path = _csv(tmp_path / name, body)
    for cmd in (["connectome", "show", path], ["train", "--connectome", path, "--out", tmp_path / "run"]):
        assert_one_line_error(run(*cmd), fragment, name)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


@pytest.mark.parametrize("args, fragment", [
    (["train", "--species", "platypus"], "unknown connectome 'platypus'"),
    (["train", "--species", "human", "--epochs", "0"], "--epochs"),
    (["train", "--species", "human", "--lr", "abc"], "--lr"),
    (["train", "--species", "human", "--batch-size", "-3"], "--batch-size"),
    (["train", "--species", "human", "--device", "tpu"], "device"),
    (["train"], "required"),
    (["compare", "--species", "human", "--data", "/nonexistent/fmnist"], "/nonexistent/fmnist"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, fragment):
    assert_one_line_error(run(*args, cwd=tmp_path), fragment)


def test_missing_data_offline_says_how_to_get_it(tmp_path):
    env = {"VISUALSTREAMS_CACHE": str(tmp_path / "cache"), "VISUALSTREAMS_DATA": str(tmp_path / "none")}
    proc = run("data", "fetch", "--no-download", env=env)
    # The Debian directory may exist on this machine; only check the offline path when it does not.
    if proc.returncode == 0:
        assert "/usr/share/datasets/fashion-mnist" in proc.stdout
    else:
        assert_one_line_error(proc, "apt-get install dataset-fashion-mnist", "--data")


@pytest.mark.slow
def test_train_and_compare_a_fourth_species_from_csv(tmp_path):
    data = write_idx_dir(tmp_path / "data", 256, 128)
    tree_shrew = _csv(tmp_path / "tree_shrew.csv", "# species: tree shrew\n,V1,V2,V4,IT,MT,LIP\n"
                      "V1,0,0.8,0.2,0,0,0\nV2,0,0,0.7,0,0.6,0\nV4,0,0,0,0.7,0,0\nIT,0,0,0,0,0,0\n"
                      "MT,0,0,0,0,0,0.7\nLIP,0,0,0,0,0,0\n")
    proc = run("train", "--connectome", tree_shrew, "--data", data, "--epochs", "1", "--batch-size", "16",
               "--out", tmp_path / "run", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "tree_shrew: test accuracy" in proc.stdout
    assert {"source": "V1", "target": "V4", "strength": 0.2} in json.loads(
        (tmp_path / "run" / "config.json").read_text())["connectome"]["edges"]

    # The same directory again: refused, and the finished run is untouched.
    before = (tmp_path / "run" / "history.json").read_bytes()
    again = run("train", "--connectome", tree_shrew, "--data", data, "--epochs", "1", "--out", tmp_path / "run")
    assert_one_line_error(again, "already holds a run", "--overwrite")
    assert (tmp_path / "run" / "history.json").read_bytes() == before

    proc = run("compare", "--species", "human", "--connectome", tree_shrew, "--data", data, "--epochs", "1",
               "--batch-size", "16", "--out", tmp_path / "cmp", "--quiet")
    assert proc.returncode == 0, proc.stderr
    header, human, shrew = proc.stdout.splitlines()[:3]
    assert "notebook acc" in header and human.split()[0] == "human" and "92.50" in human
    assert shrew.split()[0] == "tree_shrew"
    assert "one seed per group: no test can separate" in proc.stdout
    for name in ("summary.csv", "stats.csv", "tests.csv", "learning_curves.png", "human/seed0/model.pt"):
        assert (tmp_path / "cmp" / name).exists(), name


def test_a_closed_pipe_is_not_an_error():
    # `visualstreams ... | head -1`: the reader has gone before the command prints; it ends quietly with 0
    proc = subprocess.Popen([sys.executable, "-m", "visualstreams", "connectome", "show", "macaque-markov2014"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(SRC)})
    proc.stdout.close()  # no reader: every write the command makes meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and "error" not in err.lower() and "Exception" not in err, err
