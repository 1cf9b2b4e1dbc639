"""One writer per directory: while a process holds a run or compare directory, another is refused in one line (exit
2, nothing written); a killed holder's lock is taken over, and said so; a lock goes when its process leaves, however
it leaves. The holders are real processes: the lock is the OS's (flock), held exactly while its process lives."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from synthetic import synthetic_dataset, write_idx_dir

import visualstreams as vs
from visualstreams.cli import main
from visualstreams.runs import CompareDir, RunDir, lock_directory

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
HOLD = ("import sys, time\nfrom visualstreams.runs.writing import lock_directory\nlock_directory(sys.argv[1])\n"
        "print('locked', flush=True)\ntime.sleep(300)\n")

pytestmark = pytest.mark.usefixtures("one_thread")


def quick(**kw):
    return vs.make_config(**{"epochs": 1, "batch_size": 16, "precision": "fp32", **kw})


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(64, 32)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, data):
    """A finished compare directory (one run), and the IDX files of its data for the CLI."""
    root = tmp_path_factory.mktemp("writer")
    vs.compare(["human"], quick(), root / "cmp", data=data, progress=False)
    return root / "cmp", write_idx_dir(root / "data", n_train=64, n_test=32)


def hold(directory: Path) -> subprocess.Popen:
    """Another process holding ``directory``'s lock, once this returns."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)], env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == "locked", proc.stderr.read()
    return proc


def kill9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def refused_line(capsys, args: list) -> str:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.mark.slow
def test_a_second_compare_is_refused_and_a_killed_holders_lock_is_taken_over(sweep, capsys):
    out, data_dir = sweep
    again = ["compare", "--species", "human", "--out", out, "--data", data_dir, "--epochs", 1, "--batch-size", 16,
             "--precision", "fp32", "--quiet", "--resume"]
    holder = hold(out)
    try:
        before = files(out)
        assert CompareDir.LOCK in before  # the holder's record: pid, host, start
        line = refused_line(capsys, again)
        assert line.startswith(f"visualstreams: error: {out}: in use by process {holder.pid} (since ")
        assert line.endswith("one process writes into a directory at a time (wait for it to end, or stop it)")
        assert files(out) == before  # nothing written, truncated or removed; the holder's record is whole
    finally:
        kill9(holder)
    assert (out / CompareDir.LOCK).exists()  # kill -9 cleans nothing up; the kernel dropped the lock itself

    started = json.loads(before[CompareDir.LOCK])["started"]
    done = subprocess.run([sys.executable, "-m", "visualstreams", *map(str, again)], env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [f"visualstreams: warning: {out}: taking over the lock of dead "
                                                f"process {holder.pid} (since {started})"]
    assert not (out / CompareDir.LOCK).exists()  # released on a normal exit


@pytest.mark.parametrize("command", [
    ["train", "--resume", "{run}"],
    ["train", "--species", "human", "--out", "{run}", "--overwrite"],
    ["compare", "--species", "human", "--out", "{out}", "--resume"],  # checked as it plans, before any training
])
def test_writing_into_a_held_run_directory_is_refused(sweep, capsys, command):
    out, data_dir = sweep
    run = out / "human" / "seed0"
    holder = hold(run)
    try:
        before = files(out)
        line = refused_line(capsys, [a.format(run=run, out=out) for a in command] + ["--data", data_dir, "--quiet"])
        assert f"{run}: in use by process {holder.pid}" in line
        assert files(out) == before
    finally:
        kill9(holder)


def test_similarity_into_a_held_compare_directory_is_refused(sweep, capsys):
    out, _ = sweep
    holder = hold(out)
    try:
        before = files(out)
        assert f"{out}: in use by process {holder.pid}" in refused_line(capsys, ["similarity", "--compare-dir", out])
        assert files(out) == before
    finally:
        kill9(holder)


def test_a_lock_goes_with_its_process_however_it_leaves(tmp_path, data):
    lock_file = tmp_path / RunDir.LOCK
    with pytest.raises(ValueError), lock_directory(tmp_path):
        assert lock_file.exists()
        raise ValueError
    assert not lock_file.exists()
    with pytest.raises(KeyboardInterrupt), RunDir(tmp_path).lock():
        raise KeyboardInterrupt  # Ctrl-C
    assert not lock_file.exists()
    # A run refused after taking its directory (it holds a run already) leaves no lock behind.
    run = RunDir(tmp_path / "run")
    run.prepare().write_config({})
    with pytest.raises(vs.ConfigError, match="already holds a run"):
        vs.train("human", quick(), data=data, out=run.path, progress=False)
    assert sorted(p.name for p in run.path.iterdir()) == [RunDir.CONFIG]


@pytest.mark.slow
def test_the_lock_is_reentrant_in_a_process_and_exclusive_across_processes(tmp_path):
    with lock_directory(tmp_path) as outer, lock_directory(tmp_path) as inner:  # compare, then its similarity step
        assert inner is outer
        child = subprocess.run([sys.executable, "-c", HOLD, str(tmp_path)], env=ENV, capture_output=True, text=True,
                               timeout=120)
        assert child.returncode == 1 and f"in use by process {os.getpid()}" in child.stderr
    assert not (tmp_path / RunDir.LOCK).exists()
    holder = hold(tmp_path)
    kill9(holder)
    with pytest.warns(RuntimeWarning, match=f"taking over the lock of dead process {holder.pid}"), \
            lock_directory(tmp_path):
        pass
