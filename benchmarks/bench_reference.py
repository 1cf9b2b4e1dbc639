"""The reference models' training speed: the engine (``visualstreams.train``, the loop every run trains in) beside a
plain PyTorch loop as torchvision's reference script writes it (``references/classification/train.py``'s
``train_one_epoch``: forward, cross-entropy, ``zero_grad``, ``backward``, ``step``, one batch after another from a
shuffled index), on the same model, images and batch size, side by side in one run.

Each (model, image size) trains one epoch of ``--images`` random uint8 images (3 channels; 10 classes) both ways,
the two alternating ``--reps`` times; the median images/s of each: the engine's over its epoch (the history's
``seconds``: the steps with the per-batch augmentation draw and the epoch's training metrics) and over the whole
run (model build, the FLOP count, the 64-image test; no run directory); the plain loop does only the steps.
Precision: the engine's choice on this machine (``--precision``, default auto: bf16 autocast where the CPU or GPU
runs it fast, else fp32); the plain loop runs in the same autocast. ``--many N`` also trains N seeds of the first
model in one ``compare`` (one after another: a reference model's batch norms are not stacked), total images/s.

    python benchmarks/bench_reference.py                             # 28 and 64 px, four models (CPU: minutes)
    python benchmarks/bench_reference.py --sizes 28 64 224 --images 512 --device cuda
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import tempfile
import time

import torch

MODELS = ("cornet-z", "alexnet", "resnet18", "cornet-s")


def images(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g),
            torch.randint(0, 10, (n,), generator=g))


def image_set(n: int, size: int):  # noqa: ANN201 - a benchmark's helper
    from visualstreams.data.datasets import ImageSet

    x, y = images(n, size, 0)
    tx, ty = images(64, size, 1)
    return ImageSet(f"random-{size}", x, y, tx, ty, tuple(str(k) for k in range(10)), source="memory")


def engine(model: str, data, batch: int, precision: str, device: str) -> tuple[float, float]:  # noqa: ANN001
    """Images/s of the epoch's steps (the history's ``seconds``) and of the whole run (build, FLOP count, test)."""
    import visualstreams as vs

    cfg = vs.make_config(model=model, epochs=1, batch_size=batch, precision=precision, device=device)
    start = time.perf_counter()
    result = vs.train(None, cfg, data=data, progress=False)
    n = len(data.train_labels)
    return n / float(result.history["seconds"].iloc[0]), n / (time.perf_counter() - start)


def plain(model: str, data, batch: int, precision: str, device: str) -> float:  # noqa: ANN001
    """torchvision's train_one_epoch on the same model: what the engine is measured against."""
    from visualstreams.engine import resolve_runtime
    from visualstreams.network import ReferenceNetwork

    runtime = resolve_runtime(device, precision)
    dev = runtime.device
    torch.manual_seed(0)
    size = data.train_images.shape[-1]
    net = ReferenceNetwork(model, size, 3, 10).build().to(dev).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()
    x_all, y_all = data.train_images, data.train_labels
    autocast = (torch.autocast(dev.type, dtype=torch.bfloat16) if runtime.precision == "bf16"
                else contextlib.nullcontext())
    start = time.perf_counter()
    order = torch.randperm(len(y_all))
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        image = x_all[idx].to(dev).float().div_(255)
        target = y_all[idx].to(dev)
        with autocast:
            loss = criterion(net(image)["what"], target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return len(y_all) / (time.perf_counter() - start)


def many(model: str, n: int, data, batch: int, precision: str, device: str) -> float:  # noqa: ANN001
    """``compare`` of n seeds of one reference model: total images/s over the n runs."""
    import visualstreams as vs

    cfg = vs.make_config(epochs=1, batch_size=batch, precision=precision, device=device)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        vs.compare([], cfg, out, seeds=list(range(n)), models=[model], data=data, report=False, similarity=False,
                   progress=False)
        return n * len(data.train_labels) / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--sizes", nargs="+", type=int, default=[28, 64])
    p.add_argument("--images", type=int, default=256, help="training images per epoch (256)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--precision", default="auto")
    p.add_argument("--device", default="auto")
    p.add_argument("--many", type=int, default=0, help="also a compare of this many seeds of the first model")
    args = p.parse_args()
    from visualstreams.engine import resolve_runtime

    runtime = resolve_runtime(args.device, args.precision)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.cuda.get_device_name() if runtime.device.type == 'cuda' else 'CPU'}, {runtime.precision}, "
          f"{torch.get_num_threads()} threads; {args.images} images per epoch, batch {args.batch}, "
          f"median of {args.reps}; {time.strftime('%Y-%m-%d %H:%M')}")
    print("| model | px | parameters | plain loop img/s | engine img/s (epoch) | engine / plain | engine img/s "
          "(whole run) |")
    print("|---|---|---|---|---|---|---|")
    from visualstreams.network import ReferenceNetwork

    for size in args.sizes:
        data = image_set(args.images, size)
        for model in args.models:
            ours, whole, theirs = [], [], []
            for _ in range(args.reps):  # alternating: a machine that slows down slows both
                theirs.append(plain(model, data, args.batch, args.precision, args.device))
                epoch, run = engine(model, data, args.batch, args.precision, args.device)
                ours.append(epoch)
                whole.append(run)
            o, t = statistics.median(ours), statistics.median(theirs)
            n = ReferenceNetwork(model, size, 3, 10).n_parameters
            print(f"| {model} | {size} | {n:,} | {t:.1f} | {o:.1f} | {o / t:.2f} | {statistics.median(whole):.1f} |",
                  flush=True)
    if args.many:
        data = image_set(args.images, args.sizes[0])
        total = many(args.models[0], args.many, data, args.batch, args.precision, args.device)
        one = plain(args.models[0], data, args.batch, args.precision, args.device)
        print(f"\n{args.many} seeds of {args.models[0]} at {args.sizes[0]} px under compare: {total:.1f} img/s in all "
              f"(one plain loop: {one:.1f})")


if __name__ == "__main__":
    main()
