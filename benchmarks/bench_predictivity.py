"""Neural predictivity at scale: recordings of S stimuli x N neuroids x R repetitions against K runs x 6 areas.

The issue's scale (the defaults): 2,000 stimuli x 10,000 neuroids x 10 repetitions, 15 runs (three species,
five seeds each, briefly trained) x 6 areas, ridge, 10 splits. Prints the time of each stage (training the runs is
not counted), the peak memory of the process (ru_maxrss) and a row for BENCHMARKS.md.

    python benchmarks/bench_predictivity.py                      # the full scale (about a quarter of an hour)
    python benchmarks/bench_predictivity.py --stimuli 300 --neuroids 500 --runs 3 --splits 2   # a smoke run

Responses: each neuroid is a random mixture of 40 smooth image features of the stimulus plus Gaussian noise per
repetition (the scores are not the point here; the sizes are).
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import visualstreams as vs
from visualstreams.analysis.ceiling import split_half_ceiling
from visualstreams.analysis.predictivity import PredictivityConfig, neural_predictivity
from visualstreams.data.recordings import Recordings
from visualstreams.data.stimuli import write_stimulus_images

SPECIES = ("human", "marmoset", "mouse")


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stimuli", type=int, default=2000)
    p.add_argument("--neuroids", type=int, default=10000)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--runs", type=int, default=15, help="runs: species cycle human, marmoset, mouse")
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--method", default="ridge", choices=["ridge", "pls"])
    p.add_argument("--max-features", type=int, default=1000)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="bench_predictivity_"))
    data = vs.load_fashion_mnist()
    print(f"{platform.processor() or platform.machine()}, {args.threads} torch threads, in {root}", flush=True)

    runs = []
    cfg = vs.make_config(epochs=1, batch_size=64, train_subset=1000, precision="fp32")
    for k in range(args.runs):
        species, seed = SPECIES[k % len(SPECIES)], k // len(SPECIES)
        out = root / "runs" / f"{species}-seed{seed}"
        vs.train(species, replace(cfg, seed=seed), data=data, out=out, progress=False)
        runs.append(out)
    idx = np.arange(args.stimuli) % len(data.test_labels)
    csv = write_stimulus_images(data.test_images[idx].numpy(), root / "stimuli",
                                object_names=[str(int(c)) for c in data.test_labels[idx]], size=64)
    table = pd.read_csv(csv)
    table["path"] = [str(root / "stimuli" / f) for f in table.pop("filename")]

    rng = np.random.default_rng(0)
    pixels = data.test_images[idx].float().numpy().reshape(len(idx), -1)
    basis = rng.standard_normal((pixels.shape[1], 40)).astype(np.float32)
    features = pixels @ basis
    features = (features - features.mean(0)) / features.std(0)
    signal = features @ rng.standard_normal((40, args.neuroids)).astype(np.float32) / np.sqrt(40)
    stim = np.repeat(np.arange(len(idx)), args.reps)
    responses = signal[stim]
    responses += rng.standard_normal(responses.shape, dtype=np.float32)
    del signal
    regions = np.array(["V1", "V4", "IT"])[np.arange(args.neuroids) % 3]
    rec = Recordings(responses, table["stimulus_id"].to_numpy()[stim], np.tile(np.arange(args.reps), len(idx)),
                     regions, np.array([f"n{i}" for i in range(args.neuroids)]), table, source="benchmark")
    del responses
    print(f"recordings: {rec.describe()}; {rec.responses.nbytes / 2**30:.2f} GiB of responses", flush=True)

    t0 = time.perf_counter()
    split_half_ceiling(rec)
    ceiling_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = neural_predictivity(runs, rec, config=PredictivityConfig(method=args.method, n_splits=args.splits,
                                                                      max_features=args.max_features),
                                 progress=sys.stderr.isatty())
    total = time.perf_counter() - t0
    fits = len(result.scores) // max(1, len(rec.regions))
    print(f"ceiling alone {ceiling_s:.1f} s; whole analysis (ceiling, activations, {fits} fits, RSA/CKA) "
          f"{total:.1f} s = {total / 60:.1f} min; {total / fits:.2f} s per fit; peak memory {peak_gib():.2f} GiB")
    print(f"| {args.stimuli} x {args.neuroids} x {args.reps} | {args.runs} runs x 6 areas | {args.method}, "
          f"{args.splits} splits, {args.max_features} features | {total / 60:.1f} min | {peak_gib():.1f} GiB |")


if __name__ == "__main__":
    main()
