"""Published recordings at their real sizes: read, then scored against K runs.

* **Allen**: Visual Coding 2P sessions written in both published layouts (NWB 1.0 with h5py, NWB 2.0 with
  pynwb) at a real session's size (118 natural scenes x 50 trials, 10 blank sweeps, ``--cells`` cells, 918 x 1174
  px templates); each read timed. A recording of ``--allen-neurons`` neurons (30,000: about a hundred sessions;
  writing a hundred 60 MB files is not the point) is then built from the read session's presentations, its
  neurons drawn as mixtures of its cells plus noise, and scored.
* **Brain-Score**: a brainio cache written at MajajHong2015's size (3,200 stimuli x 256 neuroids x 50
  repetitions, V4 and IT, one time bin; 256 px PNGs zipped), read by ``brainio:MajajHong2015.public`` (timed) and
  scored.

Scoring is ``neural_predictivity`` as ``predict`` runs it (PLS, 25 components, 10 splits, 1,000 features, the
ceiling, RSA and CKA) against ``--runs`` runs of three species (1 epoch on 1,000 Fashion-MNIST images; training
not timed). Prints each stage's time, the peak memory of the process (ru_maxrss) and rows for BENCHMARKS.md.

    python benchmarks/bench_recordings.py                         # the issue's sizes (about half an hour)
    python benchmarks/bench_recordings.py --runs 2 --allen-neurons 600 --bs-stimuli 200 --reps 6 --splits 2
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import visualstreams as vs
from visualstreams.analysis.predictivity import PredictivityConfig, neural_predictivity
from visualstreams.data.recordings import Recordings, load_recordings
from visualstreams.testing import plant_session, write_allen_nwb1, write_allen_nwb2, write_brainio_cache

SPECIES = ("human", "marmoset", "mouse")


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def timed(label: str, fn):  # noqa: ANN001, ANN202 - a benchmark's helper
    t0 = time.perf_counter()
    out = fn()
    s = time.perf_counter() - t0
    print(f"{label}: {s:.1f} s (peak memory so far {peak_gib():.2f} GiB)", flush=True)
    return out, s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--cells", type=int, default=300, help="cells per written Allen session (300)")
    p.add_argument("--allen-neurons", type=int, default=30000)
    p.add_argument("--bs-stimuli", type=int, default=3200)
    p.add_argument("--bs-neuroids", type=int, default=256)
    p.add_argument("--reps", type=int, default=50, help="trials per image / repetitions per stimulus (50)")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--method", default="pls", choices=["pls", "ridge"], help="the regression (pls, predict's default)")
    p.add_argument("--bs-method", choices=["pls", "ridge"], help="the Brain-Score-sized one's regression (default "
                                                                 "--method; PLS takes about 7 minutes a run there)")
    p.add_argument("--only", choices=["allen", "brainscore"], help="one of the two recordings (default both)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="bench_recordings_"))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} torch threads, "
          f"in {root}", flush=True)
    rows = []

    # -- Allen: write and read one session in each layout
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, (118, 918, 1174)).astype(np.uint8)
    planted = plant_session(n_cells=args.cells, repetitions=args.reps, blanks=10, noise=0.5, templates=templates)
    for form, writer in (("NWB 1.0", write_allen_nwb1), ("NWB 2.0", write_allen_nwb2)):
        path = root / f"session_{form[-3]}.nwb"
        _, w = timed(f"write {form} session", lambda path=path, writer=writer: writer(path, planted))
        rec, s = timed(f"read {form} session ({path.stat().st_size / 2**20:.0f} MiB)",
                       lambda path=path: load_recordings(path))
        rows.append(f"| read one Allen session, {form} | 118 x {args.reps} + 10 blanks, {args.cells} cells, "
                    f"{path.stat().st_size / 2**20:.0f} MiB | {s:.1f} s | |")
    session = rec

    # -- the runs
    data = vs.load_fashion_mnist()
    cfg = vs.make_config(epochs=1, batch_size=64, train_subset=1000, precision="fp32")
    runs = []
    for k in range(args.runs):
        species, seed = SPECIES[k % len(SPECIES)], k // len(SPECIES)
        out = root / "runs" / f"{species}-seed{seed}"
        vs.train(species, replace(cfg, seed=seed), data=data, out=out, progress=False)
        runs.append(out)
    config = PredictivityConfig(n_splits=args.splits, method=args.method)

    # -- Allen-sized: the session's presentations, neurons mixed from its cells, six areas
    if args.only == "brainscore":
        print("\n".join(rows))
        return brainscore(args, root, runs, config, rows)
    mix = rng.standard_normal((args.cells, args.allen_neurons)).astype(np.float32) / np.sqrt(args.cells)
    responses = session.responses @ mix
    responses += rng.standard_normal(responses.shape, dtype=np.float32)
    areas = np.array(["VISp", "VISl", "VISal", "VISpm", "VISam", "VISrl"])[np.arange(args.allen_neurons) % 6]
    allen = Recordings(responses, session.stimulus_id, session.repetition, areas,
                       np.array([f"c{i}" for i in range(args.allen_neurons)]), session.stimuli, "allen-sized",
                       None, session.images, session.stimulus_degrees)
    del responses
    print(f"Allen-sized: {allen.describe()}; {allen.responses.nbytes / 2**30:.2f} GiB of responses", flush=True)
    _, s = timed("score Allen-sized", lambda: neural_predictivity(runs, allen, config=config,
                                                                     progress=sys.stderr.isatty()))
    rows.append(f"| score Allen-sized against {args.runs} runs ({config.method}) | {len(allen.stimulus_ids)} x "
                f"{args.reps} x "
                f"{args.allen_neurons} | {s / 60:.1f} min | {peak_gib():.1f} GiB |")
    allen = None  # freed before the next recording
    if args.only != "allen":
        brainscore(args, root, runs, config, rows)
    else:
        print("\n| stage | size | time | peak memory of the process |\n|---|---|---|---|\n" + "\n".join(rows))


def brainscore(args: argparse.Namespace, root: Path, runs: list[Path], config: PredictivityConfig,
               rows: list[str]) -> None:
    """A brainio cache at MajajHong2015's size, read by identifier and scored."""
    home = root / "brainio"
    config = replace(config, method=args.bs_method or config.method)
    timed("write brainio cache", lambda: write_brainio_cache(
        home, n_stimuli=args.bs_stimuli, n_neuroids=args.bs_neuroids, repetitions=args.reps, size=256, noise=1.0,
        time_bins=1))
    os.environ["BRAINIO_HOME"] = str(home)
    bs, s = timed("read brainio:MajajHong2015.public", lambda: load_recordings("brainio:MajajHong2015.public"))
    rows.append(f"| read brainio:MajajHong2015.public (assembly + zipped set) | {args.bs_stimuli} x {args.reps} x "
                f"{args.bs_neuroids} | {s:.1f} s | |")
    print(f"Brain-Score-sized: {bs.describe()}", flush=True)
    _, s = timed("score Brain-Score-sized", lambda: neural_predictivity(runs, bs, config=config,
                                                                      progress=sys.stderr.isatty()))
    rows.append(f"| score Brain-Score-sized against {args.runs} runs ({config.method}) | {args.bs_stimuli} x "
                f"{args.reps} x {args.bs_neuroids} | {s / 60:.1f} min | {peak_gib():.1f} GiB |")
    print("\n| stage | size | time | peak memory of the process |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
