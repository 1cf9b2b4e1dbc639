"""What unrolling costs: seconds per training epoch of one network at T = 1, 2 and 4 steps, side by side in one
run (same data, seed, recipe, device and precision), and what the feedback projections add in parameters.

    python benchmarks/bench_recurrence.py [--species macaque-markov2014] [--train-subset 6000] [--device auto]

A T-step network computes T feedforward sweeps plus its feedback and lateral 1x1 convolutions (the input area's
convolution of the image only once), so about T times the one-step cost is expected. Needs Fashion-MNIST.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

import visualstreams as vs
from visualstreams.engine import resolve_runtime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--species", default="macaque-markov2014")
    p.add_argument("--train-subset", type=int, default=6000)
    p.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--device", default="auto")
    p.add_argument("--repeats", type=int, default=2, help="epochs timed per step count (the first is a warm-up)")
    args = p.parse_args()
    data = vs.load_fashion_mnist()
    rows = []
    for steps in args.steps:
        cfg = vs.make_config(epochs=args.repeats, train_subset=args.train_subset, steps=steps, device=args.device)
        result = vs.train(args.species, cfg, data=data, progress=False)
        seconds = float(result.history["seconds"].iloc[-1])  # the last epoch: past warm-up and compilation
        spec = result.model.spec
        rows.append((steps, seconds, args.train_subset / seconds, spec.n_parameters, len(spec.recurrent_projections),
                     float(result.history["test_acc"].iloc[-1])))
    runtime = resolve_runtime(args.device)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, device {runtime.device}, precision {runtime.precision}, "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"{args.species}, {args.train_subset} training images an epoch, notebook recipe (batch 64)")
    print("steps  s/epoch  images/s  x T=1  parameters  feedback+lateral  test acc")
    base = rows[0][1]
    for steps, seconds, ips, n, fb, acc in rows:
        print(f"{steps:5d}  {seconds:7.1f}  {ips:8.0f}  {seconds / base:5.2f}  {n:10,}  {fb:16d}  {acc:7.2f}")


if __name__ == "__main__":
    main()
