"""A 4-run sweep locally (2 threads, one run at a time) and on Ray (2 workers of 1 thread), side by side; Ray's
start-up and its overhead per task.

    python benchmarks/bench_ray.py [--train-subset 6000] [--epochs 1] [--out runs/bench-ray]

Needs Fashion-MNIST (``make data``) and Ray (``pip install 'visualstreams[ray]'``).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import time
from pathlib import Path

import ray
import torch

import visualstreams as vs


def sweep(out: Path, cfg: vs.TrainConfig, data: vs.FashionMNIST, **kw: object) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    vs.compare(["human", "mouse"], cfg, out, seeds=[0, 1], data=data, progress=False, report=False,
               similarity=False, **kw)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-subset", type=int, default=6000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--out", default="runs/bench-ray")
    args = p.parse_args()
    data = vs.load_fashion_mnist()
    cfg = vs.make_config(epochs=args.epochs, train_subset=args.train_subset)
    out = Path(args.out)
    torch.set_num_threads(2)
    local = sweep(out / "local", cfg, data)
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - t0

    @ray.remote(num_cpus=1)
    def nothing(x: int) -> int:
        return x

    ray.get(nothing.remote(0))  # a worker up
    t0 = time.perf_counter()
    ray.get([nothing.remote(i) for i in range(200)])
    per_task = (time.perf_counter() - t0) / 200
    on_ray = sweep(out / "ray", cfg, data, executor="ray", workers=2, cpus_per_run=1)
    ray.shutdown()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"ray {ray.__version__}")
    print(f"4 runs ({args.train_subset} images, {args.epochs} epoch(s) each):")
    print(f"  local, 2 threads, one run at a time:   {local:7.1f} s")
    print(f"  ray, 2 workers x 1 thread:            {on_ray:7.1f} s  ({local / on_ray:.2f}x)")
    print(f"  ray.init of a local instance:         {startup:7.1f} s")
    print(f"  per empty task (200, 2 workers):      {1000 * per_task:7.2f} ms")


if __name__ == "__main__":
    main()
