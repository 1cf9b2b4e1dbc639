"""Bad input tried systematically (hypothesis), read-only and full disks, and a disk that fills mid-run."""

import contextlib
import errno
import json
import shutil
import string
import subprocess
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from synthetic import write_idx_dir

import visualstreams as vs
import visualstreams.runs.writing as writing
from visualstreams.cli import main
from visualstreams.engine import read_checkpoint
from visualstreams.errors import VisualStreamsError
from visualstreams.runs import RunDir

CHECKPOINT_FILE = RunDir.CHECKPOINT

AREAS = ["V1", "V2", "V4", "IT", "MT", "LIP"]
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


pytestmark = pytest.mark.usefixtures("one_thread")


def cli(capsys, *argv) -> tuple[int, str, str]:
    """The CLI in this process (hypothesis runs it hundreds of times); argparse's exits count as returns."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_outcome(code, err):
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("visualstreams"), err


# -- connectome files --------------------------------------------------------------------------------------------
CELLS = st.sampled_from(["0", "0", "0.5", "1", "0.30", "-1", "nan", "inf", "-inf", "1e400", "abc", "", " ", "0x1",
                         "1,5", "\"0.2\"", "True"])
NAMES = st.one_of(st.sampled_from(AREAS + ["V1", "", "7A", "TEO", "v1", " V2 ", "\"IT\"", "#", "a,b"]),
                  st.text(string.ascii_letters + string.digits + " _-#:\"'", max_size=6))


@st.composite
def csv_connectomes(draw) -> str:
    """Labelled matrices that are often almost right: the shapes and values users get wrong."""
    n = draw(st.integers(0, 8))
    cols = draw(st.one_of(st.just(AREAS[:n]), st.lists(NAMES, min_size=n, max_size=n)))
    rows = draw(st.one_of(st.just(cols), st.permutations(cols), st.lists(NAMES, min_size=0, max_size=n + 1)))
    width = draw(st.one_of(st.just(len(cols)), st.integers(0, len(cols) + 2)))
    lines = [draw(st.sampled_from(["", "# name: fuzz", "# species: x", "#: :", "# notes: a, b"]))]
    lines.append("," + ",".join(cols))
    for r in rows:
        lines.append(",".join([r] + [draw(CELLS) for _ in range(width)]))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n,,,\n"]))


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() |
                           st.sampled_from(AREAS + ["", "X"]),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                               st.sampled_from(["source", "target", "strength", "edges", "areas", "name"]), inner,
                               max_size=4), max_leaves=12)
EDGES = st.lists(st.fixed_dictionaries({"source": st.sampled_from(AREAS + ["X", ""]),
                                        "target": st.sampled_from(AREAS + ["X", 3]),
                                        "strength": st.one_of(st.floats(allow_nan=True), st.sampled_from(["a", None]),
                                                              st.integers(-2, 2))}), max_size=8)


@st.composite
def json_connectomes(draw) -> str:
    doc = draw(st.one_of(JSON_VALUES, st.fixed_dictionaries({"edges": EDGES}),
                         st.fixed_dictionaries({"edges": EDGES, "areas": st.lists(st.sampled_from(AREAS + ["X"]))})))
    return json.dumps(doc)


def _check_connectome_file(path: Path, text: str | bytes, capsys) -> None:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    try:
        conn = vs.load_connectome(path)
        vs.compile_network(conn)
    except VisualStreamsError as exc:  # reading errors name the file, validation errors the connectome
        assert str(exc).strip() and "\n" not in str(exc).strip()
    else:
        # What validates must compile: every area reachable from V1, a head area for each stream.
        model = vs.build_model(conn)
        assert set(model.areas) == set(conn.areas)
    assert_clean_outcome(*cli(capsys, "connectome", "show", path)[::2])


@FUZZ
@given(text=csv_connectomes())
def test_fuzzed_csv_connectomes_load_or_fail_in_one_line(tmp_path, capsys, text):
    _check_connectome_file(tmp_path / "fuzz.csv", text, capsys)


@FUZZ
@given(text=json_connectomes())
def test_fuzzed_json_connectomes_load_or_fail_in_one_line(tmp_path, capsys, text):
    _check_connectome_file(tmp_path / "fuzz.json", text, capsys)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".csv", ".json"]))
def test_arbitrary_bytes_as_connectome_files(tmp_path, capsys, data, suffix):
    _check_connectome_file(tmp_path / f"bytes{suffix}", data, capsys)


# -- command-line arguments --------------------------------------------------------------------------------------
OPTIONS = {
    # option: (good values, bad values) as users type them; the good ones keep a run to a fraction of a second
    "--epochs": (["1", "2"], ["0", "-1", "1.5", "x", ""]),
    "--batch-size": (["16", "64"], ["0", "-3", "big"]),
    "--lr": (["0.001", "1e-3"], ["0", "-0.1", "nan", "inf", "abc"]),
    "--seed": (["0", "3"], ["-1", "1.5"]),
    "--train-subset": (["32", "64"], ["0", "-5", "100000"]),  # the set has 64
    "--device": (["cpu", "auto"], ["cuda:7", "tpu", ""]),
    "--precision": (["fp32", "bf16", "auto"], ["fp8"]),
    "--task": (["what", "where", "what-where"], ["when"]),
    "--canvas": (["28", "40"], ["10", "0", "-28", "x"]),
    "--where-weight": (["0.5", "2"], ["0", "-1", "nan"]),
    "--noise": (["0", "0.1"], ["-0.5", "nan", "inf", "x"]),
    "--recipe": (["notebook", "fast"], ["slow"]),
    "--mode": (["gain", "none", "density", "learned-gain"], ["off"]),
    "--checkpoint-every": (["2"], ["0", "-1", "x"]),
}
SPECIES = (["human", "mouse", "macaque-markov2014"], ["platypus", "", "human.csv", "/nonexistent/x.json"])


EXTRAS = (["--overwrite", "--epochs=2"], ["--frobnicate", "--species", "extra", "--resume"])


def _value(draw, good_bad: tuple[list[str], list[str]], bad: list[str]) -> str:
    good_values, bad_values = good_bad
    if draw(st.integers(0, 9)) < 8:  # mostly good, so that many runs get trained
        return draw(st.sampled_from(good_values))
    value = draw(st.sampled_from(bad_values))
    bad.append(value)
    return value


@st.composite
def train_argv(draw, data_dir: Path) -> tuple[list[str], list[str]]:
    """(argv, the bad values in it)."""
    bad: list[str] = []
    argv = ["train", "--species", _value(draw, SPECIES, bad), "--data", str(data_dir), "--quiet",
            "--epochs", "1", "--train-subset", "32"]
    for option in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=4, unique=True)):
        argv += [option, _value(draw, OPTIONS[option], bad)]
    if draw(st.integers(0, 9)) == 0:
        argv.append(_value(draw, EXTRAS, bad))
    return argv, bad


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return write_idx_dir(tmp_path_factory.mktemp("data"), n_train=64, n_test=32)


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_train_arguments_train_or_fail_in_one_line(tiny_data, capsys, data):
    argv, bad = data.draw(train_argv(tiny_data))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        code, stdout, err = cli(capsys, *argv, "--out", out)
        assert_clean_outcome(code, err)
        assert code == (2 if bad else 0), (bad, err)  # every bad value is refused, every good command runs
        event("trained" if code == 0 else "refused")
        if code == 0:
            assert (out / "model.pt").is_file() and not (out / CHECKPOINT_FILE).exists()
            assert len(json.loads((out / "history.json").read_text())) >= 1
        else:
            assert not (out / "model.pt").exists()


# -- where results go --------------------------------------------------------------------------------------------
def _mount(path: Path, options: str) -> bool:
    """Mount a tmpfs (root only: a directory root cannot write to needs a read-only file system)."""
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return False
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return proc.returncode == 0


@contextlib.contextmanager
def mounted(path: Path, options: str):
    if not _mount(path, options):
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def readonly_dir(tmp_path):
    path = tmp_path / "readonly"
    if Path("/proc/self").exists() and __import__("os").geteuid() != 0:
        path.mkdir()
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
    else:
        with mounted(path, "ro,size=1m"):
            yield path


def test_read_only_output_directory_is_refused_before_training(readonly_dir, tiny_data, capsys):
    for out, fragment in ((readonly_dir, "not writable"), (readonly_dir / "run", "cannot create the directory")):
        code, _, err = cli(capsys, "train", "--species", "human", "--data", tiny_data, "--out", out, "--quiet")
        assert_clean_outcome(code, err)
        assert code == 2 and fragment in err and str(out) in err
        code, _, err = cli(capsys, "compare", "--species", "human", "mouse", "--data", tiny_data, "--out", out)
        assert code == 2 and fragment in err and str(out) in err


def test_too_little_room_is_refused_before_training(tmp_path, tiny_data, capsys, monkeypatch):
    monkeypatch.setattr(writing, "free_bytes", lambda path: 5_000_000)
    code, _, err = cli(capsys, "train", "--species", "human", "--data", tiny_data, "--out", tmp_path / "run")
    assert code == 2 and "5.0 MB free on its disk, the run needs about 24.0 MB" in err
    assert not (tmp_path / "run" / "config.json").exists()
    code, _, err = cli(capsys, "compare", "--species", "human", "mouse", "--seeds", 2, "--data", tiny_data,
                       "--out", tmp_path / "cmp")
    # 4 runs of ~5 MB each (model.pt and slack), one checkpoint of ~19 MB at a time, the report
    assert code == 2 and "4 runs and the report needs about 44.5 MB" in err
    assert not (tmp_path / "cmp" / "summary.csv").exists()


def test_a_really_full_disk_is_refused_before_training(tmp_path, tiny_data, capsys):
    with mounted(tmp_path / "small", "size=4m") as small:
        code, _, err = cli(capsys, "train", "--species", "human", "--data", tiny_data, "--out", small / "run")
        assert code == 2 and "free on its disk, the run needs about" in err


def test_disk_full_mid_run_keeps_the_checkpoint_and_resumes(tmp_path, tiny_data, capsys, monkeypatch):
    """ENOSPC on the third save: one line naming the file and how to continue; the last checkpoint is whole."""
    real_save, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    out = tmp_path / "run"
    code, _, err = cli(capsys, "train", "--species", "human", "--data", tiny_data, "--out", out, "--epochs", 3,
                       "--batch-size", 16, "--checkpoint-every", 2, "--quiet")
    assert code == 2 and err.strip() == (f"visualstreams: error: {out / CHECKPOINT_FILE}: No space left on device; "
                                         f"once that is fixed, continue with: visualstreams train --resume {out}")
    assert read_checkpoint(out / CHECKPOINT_FILE)["step"] == 4  # the second checkpoint, intact
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json", "history.json"]  # no temporary

    monkeypatch.setattr(torch, "save", real_save)
    code, stdout, err = cli(capsys, "train", "--resume", out, "--quiet")
    assert code == 0, err
    assert "from its checkpoint at epoch 1, batch 4" in stdout and (out / "model.pt").is_file()
