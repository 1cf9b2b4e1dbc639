"""A sweep on Ray whose driver is killed mid-sweep resumes with --resume to the results of one never interrupted
(a real subprocess of the CLI, its own local Ray instance, killed with SIGKILL)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from synthetic import write_idx_dir
from test_ray import outputs, same

import visualstreams as vs

# Ray clusters and executed notebooks: minutes each; `make test-all` (and CI) runs them, `make test` does not.
pytestmark = pytest.mark.slow

pytest.importorskip("ray", reason="Ray is not installed here (pip install 'visualstreams[ray]')")


def _kill_ray_processes_under(root: Path) -> None:
    """The local Ray instance of a killed driver outlives it: end every process that names our temp dir, in its
    command line or (workers, whose command line Ray rewrites) in its environment."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if any(str(root).encode() in (proc / f).read_bytes() for f in ("cmdline", "environ")):
                    os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                continue


def test_killing_the_driver_and_resuming_gives_the_uninterrupted_results(tmp_path, one_thread):
    data = write_idx_dir(tmp_path / "data", n_train=192, n_test=32)
    out = tmp_path / "sweep"
    # Ray's sockets live under its temp dir, and a socket path has at most 107 bytes: pytest's are too long.
    ray_tmp = Path(tempfile.mkdtemp(prefix="vsray", dir="/tmp"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_TMPDIR": str(ray_tmp), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "visualstreams", "compare", "--species", "human", "mouse", "--seeds", "2",
           "--epochs", "2", "--batch-size", "16", "--precision", "fp32", "--data", str(data), "--out", str(out),
           "--executor", "ray", "--workers", "2", "--checkpoint-every", "3", "--quiet", "--no-similarity"]
    log = (tmp_path / "driver.log").open("w")
    driver = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not list(out.glob("*/*/model.pt")):
            assert driver.poll() is None, ("the sweep ended before it could be interrupted: "
                                           + (tmp_path / "driver.log").read_text()[-1500:])
            time.sleep(0.05)
        assert list(out.glob("*/*/model.pt")), "no run finished in time"
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and what it started in its session
        driver.wait(timeout=30)
    finally:
        _kill_ray_processes_under(ray_tmp)
    assert len(list(out.glob("*/*/model.pt"))) < 4  # killed mid-sweep
    try:
        resumed = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    finally:
        _kill_ray_processes_under(ray_tmp)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    reference = tmp_path / "local"
    vs.compare(["human", "mouse"], vs.make_config(epochs=2, batch_size=16, precision="fp32"), reference,
               seeds=[0, 1], data_path=data, progress=False, report=False, similarity=False)
    assert same(outputs(out), outputs(reference))
    assert (out / "report.html").is_file() and "human" in (out / "summary.csv").read_text()
