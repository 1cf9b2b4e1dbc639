"""The docs' table of bad inputs (docs/reliability.md) is true: each command in it, run as written, prints what the
table says."""

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic import synthetic_dataset, write_idx_dir

import visualstreams as vs
from visualstreams.cli import main

TABLE = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
SIX = ["V1", "V2", "V4", "IT", "MT", "LIP"]


def _matrix(edges: dict[tuple[str, str], str], areas=SIX) -> str:
    rows = [f"{a}," + ",".join(edges.get((a, b), "0") for b in areas) for a in areas]
    return "," + ",".join(areas) + "\n" + "\n".join(rows) + "\n"


NOTEBOOK = {("V1", "V2"): "1", ("V2", "V4"): "1", ("V4", "IT"): "1", ("V2", "MT"): "1", ("MT", "LIP"): "1"}
FILES = {
    "notes.txt": "V1 V2 0.5\n",
    "ragged.csv": ",V1,V2\nV1,0,1\n",
    "words.json": '{"edges": [{"source": "V1", "target": "V2", "strength": "strong"}]}',
    "negative.csv": _matrix({**NOTEBOOK, ("V1", "V2"): "-1"}),
    "nan.csv": _matrix({**NOTEBOOK, ("V1", "V2"): "nan"}),
    "cycle.csv": _matrix({**NOTEBOOK, ("IT", "V2"): "1"}),
    "unreachable.csv": _matrix({k: v for k, v in NOTEBOOK.items() if k != ("V2", "MT")}),
    "no_it.csv": _matrix({k: v for k, v in NOTEBOOK.items() if "IT" not in k}, ["V1", "V2", "V4", "MT", "LIP"]),
    "arch.yaml": "areas: {}\n",
    "sideways.csv": "source,target,strength,direction\nV1,V2,1,sideways\n",
    "into_input.csv": "source,target,strength,direction\nV1,V2,1,\nV2,V4,1,\nV4,IT,1,\nV2,MT,1,\nMT,LIP,1,\n"
                      "V2,V1,0.5,feedforward\n",
    "back_only.csv": "source,target,strength,direction\nV1,V2,1,\nV2,V4,1,\nV4,IT,1,\nV2,MT,1,\nIT,LIP,1,feedback\n"
                     "LIP,MT,1,\n",
    "wide.toml": "[heads.what]\narea = 'IT'\noutputs = 12\n",
}


def _image_folders(d: Path) -> None:
    """Bad image sets for the --dataset rows: each differs from a good two-class folder of 8 px PNGs in one way."""
    from PIL import Image

    def folder(name: str, classes: tuple[str, ...] = ("a", "b"), n: int = 3) -> Path:
        for c in classes:
            (d / name / c).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(d / name / c / f"{i}.png")
        return d / name

    for f in (folder("imgs_empty") / "b").iterdir():
        f.unlink()
    (folder("imgs_bad") / "b" / "9.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(folder("imgs_mixed") / "b" / "big.png")
    folder("imgs_one", ("a",))
    folder("imgs_two")
    folder("imgs_extra", ("a", "b", "c"))
    np.savez(d / "labels.npz", images=np.zeros((4, 8, 8), np.uint8), labels=np.array([0, 1, 2, 5]),
             classes=np.array(["x", "y", "z"]))


def _recordings(d: Path) -> None:
    """Recordings for the predict rows: 30 stimuli shown twice, 4 neuroids; each bad file differs in one way."""
    from visualstreams.data.stimuli import write_stimulus_images

    images = np.zeros((30, 28, 28), np.uint8)
    images[:, 5:20, 5:20] = (np.arange(30) * 8)[:, None, None]
    write_stimulus_images(images, d / "stim")
    ids = np.repeat([f"stim{i:05d}" for i in range(30)], 2)
    responses = np.random.default_rng(0).standard_normal((60, 4))
    region = np.array(["V1", "V1", "IT", "IT"])
    np.savez(d / "stim" / "good.npz", responses=responses, stimulus_id=ids, region=region)
    nan = responses.copy()
    nan[3, 1] = np.nan
    np.savez(d / "stim" / "nan.npz", responses=nan, stimulus_id=ids, region=region)
    np.savez(d / "stim" / "once.npz", responses=responses[::2], stimulus_id=ids[::2], region=region)
    np.savez(d / "stim" / "noimg.npz", responses=responses, stimulus_id=np.where(ids == "stim00007", "stim00099", ids),
             region=region)
def _gone_run(d: Path) -> None:
    """A run trained on an image folder that was deleted afterwards (the lesion row)."""
    import shutil

    from PIL import Image

    for c in ("a", "b"):
        (d / "imgs_gone" / c).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((32, 32, 3), 60 * i, np.uint8)).save(d / "imgs_gone" / c / f"{i}.png")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    vs.train("mouse", vs.make_config("notebook", epochs=1, batch_size=32), dataset=d / "imgs_gone",
             out=d / "gone_run", progress=False)
    torch.set_num_threads(threads)
    shutil.rmtree(d / "imgs_gone")


def table_rows() -> list[tuple[str, str]]:
    text = TABLE.read_text()
    start, end = text.index("<!-- bad-input-table"), text.index("<!-- /bad-input-table -->")
    rows = []
    for line in text[start:end].splitlines():
        m = re.match(r"^\| `visualstreams ([^`]*)`[^|]*\| (.*) \|$", line)
        if m:
            rows.append((m.group(1), m.group(2)))
    return rows


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad-input")
    for name, body in FILES.items():
        (d / name).write_text(body)
    (d / "binary.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (d / "empty").mkdir()
    truncated = write_idx_dir(d / "truncated", n_train=64, n_test=32)
    label_file = truncated / "t10k-labels-idx1-ubyte.gz"
    label_file.write_bytes(label_file.read_bytes()[: label_file.stat().st_size // 2])  # gzip missing its end
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    vs.train("human", vs.make_config("notebook", epochs=1, batch_size=32), data=synthetic_dataset(64, 32),
             out=d / "run", progress=False)
    torch.set_num_threads(threads)
    _image_folders(d)
    _recordings(d)
    _gone_run(d)
    write_idx_dir(d / "fmnist", n_train=64, n_test=32)
    (d / "cmp").mkdir()
    (d / "cmp" / "experiment.json").write_text("{}")
    (d / "done").mkdir()
    (d / "done" / "config.json").write_text("{}")
    # Another process writing into "busy": it holds the directory's lock for as long as this module runs.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom visualstreams.runs import CompareDir\n"
                               "CompareDir(sys.argv[1]).lock()\nprint('locked', flush=True)\ntime.sleep(600)",
                               str(d / "busy")], env=env, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    yield d
    holder.kill()
    holder.wait(timeout=30)


def test_the_table_lists_the_cases():
    assert len(table_rows()) >= 25


@pytest.mark.parametrize("command, expected", table_rows(), ids=[c for c, _ in table_rows()])
def test_each_bad_input_gets_the_line_the_docs_show(workdir, monkeypatch, capsys, command, expected):
    if "cuda" in command and torch.cuda.is_available():
        pytest.skip("the row is about a machine without CUDA")
    if "siibra" in command and importlib.util.find_spec("siibra") is not None:
        pytest.skip("the row is about a machine without siibra")
    if "--executor ray" in command and importlib.util.find_spec("ray") is None:
        pytest.skip("the row needs Ray installed")
    if "--cpus-per-run 64" in command and (os.cpu_count() or 1) >= 64:
        pytest.skip("the row is about a machine of fewer than 64 CPUs")
    monkeypatch.chdir(workdir)
    try:
        code = main(shlex.split(command))
    except SystemExit as exc:
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    line = lines[0]
    assert re.match(r"visualstreams( [a-z]+)*: error: ", line), line
    at = 0
    for fragment in expected.split("..."):  # "..." in the table elides part of a long message
        fragment = fragment.strip()
        found = line.find(fragment, at)
        assert found >= 0, f"{fragment!r} not in {line!r}"
        at = found + len(fragment)
