"""compare on Ray: the same results as the local executor, run for run, and a worker killed mid-run is retried and
continues from its checkpoint. A local Ray cluster (2 CPUs) serves the module."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import torch
from sweeps import outputs
from synthetic import synthetic_dataset

import visualstreams as vs

# Ray clusters and executed notebooks: minutes each; `make test-all` (and CI) runs them, `make test` does not.
pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="Ray is not installed here (pip install 'visualstreams[ray]')")


MARKER = f"VISUALSTREAMS_TEST_RAY_{os.getpid()}"  # in this cluster's workers' environment, and no one else's


@pytest.fixture(scope="module")
def cluster():
    # Ray's sockets live under its temp dir, and a socket path has at most 107 bytes: keep it short.
    tmp = tempfile.mkdtemp(prefix="vsray", dir="/tmp")
    os.environ[MARKER] = "1"
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=tmp)
    yield
    ray.shutdown()
    os.environ.pop(MARKER, None)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(128, 32)


def cfg(**kw):
    return vs.make_config(**{"epochs": 2, "batch_size": 16, "precision": "fp32", **kw})




def same(a, b) -> bool:
    return a.keys() == b.keys() and all(
        a[k][0] == b[k][0] and all(torch.equal(a[k][1][n], b[k][1][n]) for n in a[k][1]) for k in a)


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory, data, one_thread):
    out = tmp_path_factory.mktemp("local")
    vs.compare(["human", "mouse"], cfg(), out, seeds=[0, 1], data=data, progress=False, report=False)
    return out


def test_a_sweep_on_ray_equals_the_local_sweep_run_for_run(tmp_path, data, local_reference, cluster):
    summary = vs.compare(["human", "mouse"], cfg(), tmp_path, seeds=[0, 1], data=data, progress=False, report=False,
                         executor="ray", cpus_per_run=1)
    assert set(summary["status"]) == {"ok"} and len(summary) == 4
    assert same(outputs(tmp_path), outputs(local_reference))
    local = vs.load_run(local_reference / "mouse" / "seed1").final
    assert summary.set_index(["species", "seed"]).loc[("mouse", 1), "test_acc"] == local["test_acc"]
    assert (tmp_path / "stats.csv").is_file() and (tmp_path / "tests.csv").is_file()
    # the threads every run trained with: in its config.json and in the summary, as in the local sweep's
    assert summary["threads"].tolist() == [1] * 4
    assert {json.loads(c.read_text())["resolved"]["threads"] for c in tmp_path.glob("*/*/config.json")} == {1}
    assert not any(_resumes(tmp_path).values())


def test_a_sweep_on_an_image_set_on_ray_equals_the_local_sweep(tmp_path, cluster, one_thread):
    from test_datasets import write_folder

    folder = write_folder(tmp_path / "shapes", n_per_class=20)  # 80 RGB images, 32 px, 4 classes
    local = vs.compare(["mouse"], cfg(), tmp_path / "local", seeds=[0, 1], dataset=folder, progress=False,
                       report=False, similarity=False)
    summary = vs.compare(["mouse"], cfg(), tmp_path / "ray", seeds=[0, 1], dataset=folder, progress=False,
                         report=False, similarity=False, executor="ray", cpus_per_run=1)
    assert set(summary["status"]) == {"ok"} and summary["test_acc"].tolist() == local["test_acc"].tolist()
    assert same(outputs(tmp_path / "ray"), outputs(tmp_path / "local"))
    config = json.loads((tmp_path / "ray" / "mouse" / "seed1" / "config.json").read_text())
    assert config["architecture"]["in_channels"] == 3 and config["data"]["load"]["name_or_path"] == str(folder)


def test_ray_says_when_its_threads_differ_from_a_local_sweeps(tmp_path, data, cluster, one_thread):
    torch.set_num_threads(2)  # a local sweep here would train with 2 threads; the 1-CPU tasks train with 1
    try:
        with pytest.warns(RuntimeWarning, match=r"runs under Ray train with 1 torch thread each \(--cpus-per-run "
                                                r"1\), a local sweep here with 2: .* \(OMP_NUM_THREADS=1\)"):
            summary = vs.compare(["human"], cfg(epochs=1), tmp_path, data=data, progress=False, report=False,
                                 executor="ray")
    finally:
        torch.set_num_threads(1)
    assert summary["threads"].tolist() == [1]


def _resumes(out: Path) -> dict[str, list[dict]]:
    """Where each resumed run of a sweep continued (config.json's record), by run directory."""
    return {str(c.parent.relative_to(out)): json.loads(c.read_text())["resolved"].get("resumed", [])
            for c in sorted(out.glob("*/*/config.json"))}


def _ray_task_pids() -> list[int]:
    """This cluster's workers running one of our units (Ray names a worker's process after its task)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if ((proc / "cmdline").read_bytes().startswith(b"ray::_unit")
                        and MARKER.encode() in (proc / "environ").read_bytes()):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def test_a_killed_worker_is_retried_from_its_checkpoint_and_nothing_is_lost(tmp_path, data, local_reference,
                                                                              cluster):
    killed: list[int] = []

    def kill_one_worker_mid_run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            # Only while every running task's run has a checkpoint (a run that finished deletes its own before its
            # task ends): the killed run then has one, and its retry must continue from it, not start over.
            pids = _ray_task_pids()
            if pids and len(list(tmp_path.glob("*/*/checkpoint.pt"))) >= len(pids) and _ray_task_pids() == pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker_mid_run, daemon=True)
    killer.start()
    summary = vs.compare(["human", "mouse"], cfg(), tmp_path, seeds=[0, 1], data=data, progress=False,
                         report=False, executor="ray", checkpoint_every=1)
    killer.join(timeout=5)
    assert killed, "no worker was caught mid-run"
    assert set(summary["status"]) == {"ok"}
    assert not list(tmp_path.glob("*/*/checkpoint.pt"))  # every run finished
    assert same(outputs(tmp_path), outputs(local_reference))  # bit for bit: continued or started over alike
    # ... so the run's own record tells them apart: one run continued past its first step, the others never resumed
    resumes = {run: r for run, r in _resumes(tmp_path).items() if r}
    assert len(resumes) == 1, resumes
    [(where,)] = resumes.values()
    assert (where["epoch"], where["step"]) > (1, 0) and where["threads"] == 1, where


def test_stacked_runs_on_ray_equal_the_local_stack(tmp_path, data, cluster, one_thread):
    kw = {"seeds": [0, 1], "data": data, "progress": False, "report": False, "strategy": "stacked"}
    vs.compare(["human"], cfg(epochs=1), tmp_path / "local", **kw)
    summary = vs.compare(["human"], cfg(epochs=1), tmp_path / "ray", executor="ray", **kw)
    assert set(summary["status"]) == {"ok"}
    stacked = json.loads((tmp_path / "ray" / "human" / "seed0" / "config.json").read_text())["resolved"]
    assert stacked["stacked_with"] == 2  # both seeds trained together, in one task
    assert same(outputs(tmp_path / "ray"), outputs(tmp_path / "local"))



def test_anatomy_and_reference_networks_on_ray_equal_the_local_sweep(tmp_path, data, cluster, one_thread):
    """Anatomy blocks at both budgets (one shared budget target) and a reference model, on Ray as locally."""
    kw = {"seeds": [0], "data": data, "progress": False, "report": False, "similarity": False,
          "blocks": ["uniform", "anatomy"], "budgets": ["natural", "parameters"], "models": ["cornet-z"]}
    species = ["macaque-markov2014", "mouse-oh2014"]
    local = vs.compare(species, cfg(epochs=1), tmp_path / "local", **kw)
    summary = vs.compare(species, cfg(epochs=1), tmp_path / "ray", executor="ray", cpus_per_run=1, **kw)
    assert set(summary["status"]) == {"ok"} and len(summary) == 7  # 2 species x 3 conditions, and cornet-z
    assert sorted(set(summary["condition"])) == ["gain", "gain-anatomy", "gain-anatomy-P", "reference"]
    assert summary["test_acc"].tolist() == local["test_acc"].tolist()
    ray_runs, local_runs = outputs(tmp_path / "ray"), outputs(tmp_path / "local")
    assert len(ray_runs) == 7 and same(ray_runs, local_runs)
    networks = [json.loads(c.read_text())["network"] for c in (tmp_path / "ray").glob("*/*anatomy-P*/config.json")]
    assert len(networks) == 2 and networks[0]["budget_target"] == networks[1]["budget_target"]


def test_a_workers_warnings_reach_the_driver(tmp_path, data, cluster, one_thread):
    """A run interrupted after checkpoints written with 2 threads, resumed by a 1-CPU task: the worker's warning
    that the result will differ in the last bits is repeated by the driver (workers' output is not relayed)."""
    from visualstreams.engine import fit
    from visualstreams.runs import start_run

    out = tmp_path / "sweep"
    run = start_run("human", cfg(), data=data, out=out / "human" / "seed0", checkpoint_every=3)

    def interrupt(history):
        raise KeyboardInterrupt

    torch.set_num_threads(2)
    try:
        with pytest.raises(KeyboardInterrupt):
            fit(run.model, run.data, run.train_config, run.precision, progress=False, on_epoch=interrupt,
                checkpoint=run.run_dir.checkpoint_path, checkpoint_every=3)
    finally:
        torch.set_num_threads(1)
    assert run.run_dir.has_checkpoint()
    with pytest.warns(RuntimeWarning, match="written with 2 CPU threads, resumed with 1"):
        summary = vs.compare(["human"], cfg(), out, seeds=[0], data=data, progress=False, report=False,
                             resume=True, executor="ray")
    assert list(summary["status"]) == ["ok"]


def test_bad_executor_options_are_one_line_errors(tmp_path, data):
    ray.shutdown()  # each case starts (or fails to start) a Ray of its own
    for kwargs, message in (({"executor": "spark"}, "unknown executor 'spark'"),
                            ({"executor": "ray", "workers": 0}, "workers must be >= 1"),
                            ({"executor": "ray", "cpus_per_run": 0}, "each run needs CPUs > 0"),
                            ({"workers": 2}, "go with --executor ray"),
                            ({"ray_verbose": True}, "go with --executor ray"),
                            ({"executor": "ray", "ray_address": "not-an-address"}, "could not start or reach Ray"),
                            ({"executor": "ray", "device": None, "gpus_per_run": 0.5}, "no Ray node has"),
                            ({"executor": "ray", "cpus_per_run": 64}, r"no Ray node has 64 CPU\(s\)")):
        if kwargs.pop("device", 1) is None and torch.cuda.is_available():
            continue  # the row is about a machine without a GPU
        with pytest.raises(vs.ConfigError, match=message):
            vs.compare(["human"], cfg(), tmp_path / "x", data=data, progress=False, **kwargs)
    assert not (tmp_path / "x").exists()  # refused before anything was written
    assert not ray.is_initialized()  # and a Ray started for the check is stopped again


def _silent_port() -> socket.socket:
    """A port that accepts TCP and never answers (no Ray there): ray.init would wait on it for minutes."""
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen(8)
    return listener


@pytest.mark.parametrize("options", [["--ray-address", "127.0.0.1:1"], ["--ray-address", "SILENT"],
                                     ["--cpus-per-run", "64"]], ids=["refused", "silent", "cpus"])
def test_bad_ray_options_cost_seconds_and_one_line(tmp_path, options):
    """The CLI as a user runs it: nothing listening, a port that is no Ray, more CPUs a run than the machine
    has. Each is refused in seconds, with one line on stderr (none of Ray's), exit 2, and nothing written."""
    if "64" in options and (os.cpu_count() or 1) >= 64:
        pytest.skip("the case is about a machine of fewer than 64 CPUs")
    listener = _silent_port()
    options = [o.replace("SILENT", f"127.0.0.1:{listener.getsockname()[1]}") for o in options]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    start = time.monotonic()
    with listener:
        proc = subprocess.run([sys.executable, "-m", "visualstreams", "compare", "--species", "human", "--epochs",
                               "1", "--executor", "ray", *options, "--out", str(tmp_path / "out"), "--quiet"],
                              env=env, capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - start
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("visualstreams: error: "), proc.stderr
    assert ("no Ray node has 64 CPU(s)" if "64" in options else "could not start or reach Ray") in lines[0]
    assert seconds < 15, f"{seconds:.1f} s"  # Ray's own retries ran past a minute
    assert not (tmp_path / "out").exists()
