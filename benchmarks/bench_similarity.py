"""Representational similarity at the size of a sweep: 15 runs x 6 areas x 2,000 probe images, CKA and RSA.

Times what ``visualstreams similarity`` does after the runs exist: each run's activations on the probe set
(loading the run, one forward pass in batches) and the run x run matrices of every area for both metrics, plus
the species test. The 15 runs (3 species x 5 seeds) are trained first on 256 images for one epoch (untimed;
their weights do not change the cost). Needs Fashion-MNIST (``make data``).

    python benchmarks/bench_similarity.py [--images 2000] [--out runs/bench-similarity]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

import visualstreams as vs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--out", default="runs/bench-similarity")
    args = p.parse_args()
    cfg = vs.make_config(epochs=1, train_subset=256, precision="fp32")
    data = vs.load_fashion_mnist()
    out = Path(args.out)
    if not (out / "summary.csv").is_file():
        vs.compare(["human", "marmoset", "mouse"], cfg, out, seeds=range(5), data=data, progress=False,
                   report=False, similarity=False, overwrite=True)
    from visualstreams.experiment.chosen import compare_runs

    dirs, labels, species = compare_runs(out)
    t0 = time.perf_counter()
    result = vs.similarity(dirs, labels=labels, species=species, n_images=args.images, data=data, progress=False)
    seconds = time.perf_counter() - t0
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    print(f"{len(dirs)} runs x {len(result.areas)} areas x {args.images} images, metrics {', '.join(result.metrics)}: "
          f"{seconds:.1f} s (activations, run x run matrices, species tests)")


if __name__ == "__main__":
    main()
