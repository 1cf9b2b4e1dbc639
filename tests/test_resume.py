"""Nothing lost: checkpoints, and resuming an interrupted run to the weights and history of an uninterrupted one."""

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from synthetic import synthetic_dataset, write_idx_dir
from torch.optim.optimizer import register_optimizer_step_post_hook

import visualstreams as vs
from visualstreams.engine import read_checkpoint
from visualstreams.runs import RunDir, RunFinished, resume_run

CHECKPOINT_FILE = RunDir.CHECKPOINT

SRC = Path(__file__).resolve().parents[1] / "src"
STEPS = 6  # 96 training images in batches of 16


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(96, 32)


CONFIGS = {
    "notebook": {},
    # one-cycle schedule, flips and label smoothing: the scheduler's state and the augmentation RNG
    "fast": {"recipe": "fast"},
    # random canvas positions, drawn from the augmentation generator
    "what-where": {"recipe": "fast", "task": "what-where", "canvas": 36},
}


def config(name):
    kw = dict(CONFIGS[name])
    return vs.make_config(kw.pop("recipe", "notebook"), **{"epochs": 2, "batch_size": 16, "precision": "fp32", **kw})


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """Uninterrupted runs, trained once per config."""
    cache = {}

    def get(name):
        if name not in cache:
            out = tmp_path_factory.mktemp(f"ref-{name}")
            cache[name] = vs.train("human", config(name), data=data, out=out, progress=False, checkpoint_every=2)
        return cache[name]

    return get


@contextlib.contextmanager
def crash_at(step):
    """Ctrl-C from inside the ``step``-th optimizer step (counted from 1 in this block): the weights are
    updated, the scheduler and the epoch sums are not, the worst moment for the loop's state."""
    count = 0

    def hook(optimizer, args, kwargs):
        nonlocal count
        count += 1
        if count == step:
            raise KeyboardInterrupt

    handle = register_optimizer_step_post_hook(hook)
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        handle.remove()


def assert_same_run(a, b):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k  # bitwise: every CPU kernel in the loop is deterministic
    assert a.history.drop(columns="seconds").equals(b.history.drop(columns="seconds"))


@pytest.mark.parametrize(("name", "crash", "checkpoint"), [
    ("notebook", 5, (1, 4)),  # mid-epoch, after a step checkpoint
    ("notebook", 7, (1, STEPS)),  # right after an epoch boundary
    ("fast", 5, (1, 4)),
    ("fast", 9, (2, 2)),  # mid-epoch in the second epoch (the scheduler is past its warm-up)
    ("what-where", 5, (1, 4)),
    ("what-where", 7, (1, STEPS)),
])
def test_resumed_run_equals_uninterrupted_run(tmp_path, data, reference, name, crash, checkpoint):
    with crash_at(crash):
        vs.train("human", config(name), data=data, out=tmp_path, progress=False, checkpoint_every=2)
    state = read_checkpoint(tmp_path / CHECKPOINT_FILE)
    assert (state["epoch"], state["step"]) == checkpoint
    assert not (tmp_path / "model.pt").exists()
    resumed = resume_run(tmp_path, data=data, progress=False)
    assert resumed.resumed_from == checkpoint
    assert_same_run(reference(name), resumed)
    assert json.loads((tmp_path / "history.json").read_text()) == resumed.history.to_dict("records")
    on_disk = torch.load(tmp_path / "model.pt", weights_only=True)
    assert all(torch.equal(v, reference(name).model.state_dict()[k]) for k, v in on_disk.items())
    assert not (tmp_path / CHECKPOINT_FILE).exists()  # removed once model.pt is written


def test_interrupted_twice_and_epoch_end_checkpoints_only(tmp_path, data, reference):
    with crash_at(8):  # no step checkpoints: the last one is epoch 1's end
        vs.train("human", config("fast"), data=data, out=tmp_path, progress=False)
    assert read_checkpoint(tmp_path / CHECKPOINT_FILE)["step"] == STEPS
    config_path = tmp_path / "config.json"
    written = json.loads(config_path.read_text())
    assert written["resolved"]["threads"] == 1 and "resumed" not in written["resolved"]
    del written["resolved"]["threads"]  # as config.json was written before threads were recorded: still resumes
    config_path.write_text(json.dumps(written))
    with crash_at(3):  # step 9 overall; still nothing newer than epoch 1's end
        resume_run(tmp_path, data=data, progress=False)
    state = read_checkpoint(tmp_path / CHECKPOINT_FILE)
    assert (state["epoch"], state["step"], state["checkpoint_every"]) == (1, STEPS, None)
    assert_same_run(reference("fast"), resume_run(tmp_path, data=data, progress=False))
    # each resume says where it continued: what tells it from a run that started over (same weights)
    resumed = json.loads(config_path.read_text())["resolved"]["resumed"]
    assert resumed == [{"epoch": 1, "step": STEPS, "threads": 1}] * 2


def test_checkpoint_contents(tmp_path, data):
    with crash_at(5):
        vs.train("human", config("fast"), data=data, out=tmp_path, progress=False, checkpoint_every=2)
    state = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)  # plain data only, no pickled objects
    assert (state["format"], state["version"]) == ("visualstreams-checkpoint", 1)
    assert state["train"] == json.loads((tmp_path / "config.json").read_text())["train"]
    assert (state["epoch"], state["step"], state["history"], state["checkpoint_every"]) == (1, 4, [], 2)
    for key in ("order_gen", "aug_gen", "torch_rng"):
        assert state[key].dtype == torch.uint8
    assert sorted(state["perm"].tolist()) == list(range(96))
    assert set(state["sums"]) == {"loss", "correct"} and state["seconds"] > 0
    assert state["scheduler"]["last_epoch"] == 4 and state["optimizer"]["state"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_interrupted_before_any_checkpoint_starts_over(tmp_path, data, reference):
    with crash_at(3):  # before the end of epoch 1, no step checkpoints: nothing to lose by starting over
        vs.train("human", config("notebook"), data=data, out=tmp_path, progress=False)
    assert not (tmp_path / CHECKPOINT_FILE).exists()
    resumed = resume_run(tmp_path, data=data, progress=False)
    assert resumed.resumed_from is None
    assert_same_run(reference("notebook"), resumed)


def test_unresumable_runs_are_refused(tmp_path, data):
    with crash_at(8):
        vs.train("human", config("notebook"), data=data, out=tmp_path, progress=False)
    with pytest.raises(vs.ConfigError, match="--resume to continue it"):
        vs.train("human", config("notebook"), data=data, out=tmp_path, progress=False)
    checkpoint = (tmp_path / CHECKPOINT_FILE).read_bytes()

    run_config = json.loads((tmp_path / "config.json").read_text())
    edited = {**run_config, "train": {**run_config["train"], "lr": 0.5}}
    (tmp_path / "config.json").write_text(json.dumps(edited))
    with pytest.raises(vs.VisualStreamsError, match="belongs to another run"):
        resume_run(tmp_path, data=data, progress=False)
    (tmp_path / "config.json").write_text(json.dumps(run_config))

    with pytest.raises(vs.VisualStreamsError, match="the data differ"):
        resume_run(tmp_path, data=synthetic_dataset(80, 32), progress=False)

    (tmp_path / CHECKPOINT_FILE).unlink()  # one epoch done and its state lost: starting over is not silent
    with pytest.raises(vs.VisualStreamsError, match=r"no checkpoint.pt to resume from, though 1 epoch"):
        resume_run(tmp_path, data=data, progress=False)

    state = torch.load(io.BytesIO(checkpoint), weights_only=True)
    torch.save({**state, "threads": torch.get_num_threads() + 1}, tmp_path / CHECKPOINT_FILE)
    with pytest.warns(UserWarning, match="CPU threads"):  # the low bits of CPU reductions depend on it
        resume_run(tmp_path, data=data, progress=False)
    with pytest.raises(RunFinished, match="already finished"):
        resume_run(tmp_path, data=data, progress=False)


def test_compare_resumes_an_interrupted_run(tmp_path, data):
    cfg = config("notebook")
    reference = vs.compare(["human"], cfg, tmp_path / "a", data=data, progress=False, report=False)
    with crash_at(8):
        vs.compare(["human"], cfg, tmp_path / "b", data=data, progress=False, report=False)
    steps = []
    handle = register_optimizer_step_post_hook(lambda *a: steps.append(1))
    try:
        summary = vs.compare(["human"], cfg, tmp_path / "b", data=data, progress=False, report=False, resume=True)
    finally:
        handle.remove()
    assert len(steps) == STEPS  # only epoch 2 was trained again
    cols = [c for c in summary.columns if c.startswith(("train_", "test_"))]
    assert summary[cols].equals(reference[cols])
    a = torch.load(tmp_path / "a/human/seed0/model.pt", weights_only=True)
    b = torch.load(tmp_path / "b/human/seed0/model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


# -- the command line ---------------------------------------------------------------------------------------------
def cli(*args, **kw):
    # One thread: faster on a busy machine, and the same in every process, so runs compare bit for bit.
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "visualstreams", *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def finish(proc):
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def without_seconds(path):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in json.loads(path.read_text())]


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    data_dir = write_idx_dir(tmp_path / "data", n_train=256, n_test=64)  # 16 batches per epoch
    train = ["train", "--species", "human", "--data", data_dir, "--epochs", 2, "--batch-size", 16,
             "--checkpoint-every", 3, "--quiet", "--precision", "fp32"]
    killed = cli(*train, "--out", tmp_path / "killed")
    checkpoint = tmp_path / "killed" / CHECKPOINT_FILE
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL
    assert checkpoint.exists() and not (tmp_path / "killed" / "model.pt").exists()
    state = read_checkpoint(checkpoint)
    assert (state["epoch"] - 1) * 16 + state["step"] in range(3, 33)

    code, out, err = finish(cli(*train, "--out", tmp_path / "whole"))
    assert code == 0, err
    code, out, err = finish(cli("train", "--resume", tmp_path / "killed", "--data", data_dir, "--quiet"))
    assert code == 0, err
    assert f"from its checkpoint at epoch {state['epoch']}, batch {state['step']}" in out

    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert without_seconds(tmp_path / "whole" / "history.json") == without_seconds(tmp_path / "killed" / "history.json")
    assert sorted(p.name for p in (tmp_path / "killed").iterdir()) == ["config.json", "confusion.json",
                                                                      "history.json", "model.pt"]

    code, out, err = finish(cli("train", "--resume", tmp_path / "killed", "--quiet"))
    assert (code, err) == (0, "")
    assert out.strip().splitlines() == [f"{tmp_path / 'killed'}: already finished (2 epochs, model.pt written); "
                                        "nothing to resume"]


@pytest.mark.parametrize("damage", ["truncated", "foreign"])
def test_bad_checkpoint_is_one_line_through_the_cli(tmp_path, data, damage):
    with crash_at(8):
        vs.train("human", config("notebook"), data=data, out=tmp_path, progress=False)
    path = tmp_path / CHECKPOINT_FILE
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        torch.save({"x": 1}, path)
    code, out, err = finish(cli("train", "--resume", tmp_path, "--quiet"))
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{path}: is corrupt or not a visualstreams checkpoint" in err
    cause = {"truncated": "(PytorchStreamReader failed reading zip archive: failed finding central directory)",
             "foreign": "(no 'visualstreams-checkpoint' marker)"}[damage]
    assert cause in err  # the cause in whole words, then what to do
    assert err.rstrip().endswith("put back a good copy, or train the run again from the start (--overwrite)")


def test_resume_refuses_options_that_would_change_the_run(tmp_path):
    code, out, err = finish(cli("train", "--resume", tmp_path, "--epochs", 3))
    assert code == 2 and err.strip() == ("visualstreams: error: --epochs cannot be given with --resume "
                                         "(the run keeps the options in its config.json)")


# -- killing a whole comparison ----------------------------------------------------------------------------------
def assert_every_file_readable(out: Path) -> None:
    """No result file is ever half-written: only atomic writes' hidden temporaries may be."""
    for path in out.rglob("*"):
        if path.is_dir() or (path.name.startswith(".") and path.name.endswith(".tmp")):
            continue
        data = path.read_bytes()
        if path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".csv":
            if data.strip():  # a table with no rows is written as an empty file
                pd.read_csv(io.BytesIO(data))
        elif path.name == CHECKPOINT_FILE:
            read_checkpoint(path)
        elif path.suffix == ".pt":
            torch.load(io.BytesIO(data), weights_only=True)
        elif path.suffix == ".png":
            assert data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82"), path
        elif path.suffix == ".html":
            assert data.rstrip().endswith(b"</html>"), path
        else:
            data.decode()


def wait_until_training(proc, out: Path, since: float) -> float:
    """Wait until this process has written experiment.json (the plan; training starts next); return when."""
    path = out / "experiment.json"
    while proc.poll() is None and not (path.exists() and path.stat().st_mtime >= since):
        time.sleep(0.01)
    return time.time()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0])
def test_compare_killed_at_random_moments_ends_as_if_never_interrupted(tmp_path, seed):
    data_dir = write_idx_dir(tmp_path / "data", n_train=96, n_test=32)  # 6 batches per epoch
    args = ["compare", "--species", "human", "mouse", "--seeds", 2, "--data", data_dir, "--epochs", 2,
            "--batch-size", 16, "--checkpoint-every", 2, "--precision", "fp32", "--quiet"]
    proc = cli(*args, "--out", tmp_path / "whole")
    began = wait_until_training(proc, tmp_path / "whole", time.time() - 1)
    code, _, err = finish(proc)
    assert code == 0, err
    work = time.time() - began  # training, tables and report

    # Six kills, each at a random moment of the work left (after the imports and the plan: in training, the
    # tables or the report), then one resume left to finish.
    rng = random.Random(seed)
    out, kills, code = tmp_path / "killed", 0, None
    for _ in range(6):
        started = time.time()
        proc = cli(*args, "--out", out, "--resume")
        wait_until_training(proc, out, started - 0.01)
        try:
            # at most 15% of the uninterrupted run's time each: a run that ran slower than its resumes (a
            # loaded machine) still leaves the second resume unfinished (it once finished at 25%: one kill)
            proc.wait(timeout=rng.uniform(0.03, 0.15) * work)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        code, _, err = finish(proc)
        if code == 0:
            break
        assert code == -signal.SIGKILL, err
        kills += 1
        assert_every_file_readable(out)
    if code != 0:
        code, _, err = finish(cli(*args, "--out", out, "--resume"))
    assert code == 0, err
    assert kills >= 2, kills  # else the test did not test much
    assert_every_file_readable(out)

    whole, killed = pd.read_csv(tmp_path / "whole/summary.csv"), pd.read_csv(out / "summary.csv")
    same = [c for c in whole.columns if c not in ("seconds", "run_dir")]
    pd.testing.assert_frame_equal(whole[same], killed[same])
    for name in ("stats.csv", "tests.csv"):
        assert (tmp_path / "whole" / name).read_text() == (out / name).read_text()
    for run in whole["run_dir"]:
        rel = Path(run).relative_to(tmp_path / "whole")
        a = torch.load(tmp_path / "whole" / rel / "model.pt", weights_only=True)
        b = torch.load(out / rel / "model.pt", weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert without_seconds(tmp_path / "whole" / rel / "history.json") == without_seconds(out / rel / "history.json")
        assert not (out / rel / CHECKPOINT_FILE).exists()
