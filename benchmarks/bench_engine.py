"""Side-by-side speed benchmark: the notebook's training loop vs the visualstreams engine, same run.

The baseline re-implements the notebook's pipeline: a pandas-backed Dataset that builds each item in Python
(reshape, / 255, FloatTensor), a shuffling DataLoader at batch 64, fp32, and a forward pass through both
streams although only the "what" head is trained. The engine keeps the data as one uint8 tensor, cuts
batches by index, runs only the ventral stream, and uses the device's precision (bf16 autocast where native).

    python benchmarks/bench_engine.py [--data DIR] [--epochs 1] [--baseline-batches 300] [--seeds 0]
    python benchmarks/bench_engine.py --many 1 4 --skip-baseline     # models at once: sequential vs stacked
    python benchmarks/bench_engine.py --sizes 28 32 64 --skip-baseline  # images/s at 28 (grey), 32, 64 px (RGB)
    python benchmarks/bench_engine.py --sizes 32 64 --sizes-stream --skip-baseline  # ... in memory and streamed

On CUDA the many-models section runs by default (1, 12 and 48 models at batch 512).

Prints one table (images/s, seconds per epoch, test accuracy, speed-up); not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import visualstreams as vs
from visualstreams.data import DeviceData
from visualstreams.data.streaming import LazyImages
from visualstreams.engine import fit, fit_stacked, resolve_device, resolve_precision

NOTEBOOK_EPOCH_BATCHES = 938  # 60000 / 64, rounded up


class PandasDataset(Dataset):
    """The notebook's FashionMNISTDataset: a DataFrame, one item built per call."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.labels = df["label"].values
        self.pixels = df.drop("label", axis=1).values

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int):
        pixels = self.pixels[idx].reshape(28, 28) / 255.0
        return torch.FloatTensor(pixels).unsqueeze(0), torch.LongTensor([self.labels[idx]])[0]


def frame(images: torch.Tensor, labels: torch.Tensor) -> pd.DataFrame:
    flat = images.reshape(len(images), -1).numpy()
    df = pd.DataFrame(flat, columns=[f"pixel{i}" for i in range(1, 785)])
    df.insert(0, "label", labels.numpy())
    return df


def baseline(data: vs.FashionMNIST, device: torch.device, batches: int, epochs: int, seed: int) -> dict:
    """The notebook's loop; ``batches`` > 0 times that many steps and extrapolates to an epoch."""
    torch.manual_seed(seed)
    train_loader = DataLoader(PandasDataset(frame(data.train_images, data.train_labels)), batch_size=64,
                              shuffle=True)
    test_loader = DataLoader(PandasDataset(frame(data.test_images, data.test_labels)), batch_size=64)
    model = vs.build_model("human").to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    seconds, steps = 0.0, 0
    for _ in range(epochs):
        model.train()
        t0 = time.perf_counter()
        n = 0
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            out = model(images)  # both streams, as the notebook's forward
            loss = crit(out["what"], labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
            n += 1
            if batches and n >= batches:
                break
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - t0
        steps += n
    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in test_loader:
            correct += (model(images.to(device))["what"].argmax(1).cpu() == labels).sum().item()
    per_epoch = seconds / steps * NOTEBOOK_EPOCH_BATCHES
    return {"images_per_s": steps * 64 / seconds, "epoch_s": per_epoch,
            "test_acc": 100 * correct / len(data.test_labels) if not batches else float("nan")}


def engine(data: vs.FashionMNIST, device: torch.device, epochs: int | None, seed: int, precision: str,
           recipe: str = "notebook") -> dict:
    """The engine under a recipe; ``epochs=None`` keeps the recipe's own number of epochs."""
    cfg = vs.make_config(recipe, epochs=epochs, seed=seed, precision=precision)
    torch.manual_seed(seed)
    model = vs.build_model("human").to(device=device, memory_format=torch.channels_last)
    dev = DeviceData.from_dataset(data, device)
    hist = fit(model, dev, cfg, resolve_precision(precision, device), progress=False)
    sec = sum(h["seconds"] for h in hist) / len(hist)
    return {"images_per_s": len(data.train_labels) / sec, "epoch_s": sec, "test_acc": hist[-1]["test_acc"],
            "wall_s": sum(h["seconds"] for h in hist)}


def roofline(device: torch.device) -> dict:
    """Training FLOPs per image (counted by torch's FlopCounterMode) and this device's matmul peak per dtype:
    how close each loop runs to the arithmetic the hardware can do."""
    from torch.utils.flop_counter import FlopCounterMode

    model = vs.build_model("human").to(device)
    x = torch.rand(64, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (64,), device=device)
    flops = {}
    for label, heads in (("engine", ("what",)), ("notebook", None)):
        counter = FlopCounterMode(display=False)
        with counter:
            out = model(x) if heads is None else model(x, heads=heads)
            nn.functional.cross_entropy(out["what"], y).backward()
        flops[label] = counter.get_total_flops() / 64
        model.zero_grad()
    peaks = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.randn(2048, 2048, dtype=dtype, device=device)
        b = torch.randn(2048, 2048, dtype=dtype, device=device)
        for _ in range(3):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0, reps = time.perf_counter(), 10
        for _ in range(reps):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        peaks[name] = 2 * 2048 ** 3 * reps / (time.perf_counter() - t0)
    row = {"engine_mflop_per_image": flops["engine"] / 1e6, "notebook_mflop_per_image": flops["notebook"] / 1e6,
           "matmul_fp32_gflops": peaks["fp32"] / 1e9, "matmul_bf16_gflops": peaks["bf16"] / 1e9}
    print(json.dumps(row), flush=True)
    return row


def _models(cfgs: list, device: torch.device) -> list:
    out = []
    for c in cfgs:
        torch.manual_seed(c.seed)
        out.append(vs.build_model("human").to(device=device, memory_format=torch.channels_last))
    return out


def many_models(data: vs.FashionMNIST, device: torch.device, counts: list[int], batch: int, steps: int,
                precision: str) -> list[dict]:
    """Seconds per model-epoch for M models: trained one after another, and stacked (one vmapped step).

    Each model trains ``steps`` steps on the same subset; the training seconds (evaluation excluded) are
    extrapolated to a 60,000-image epoch.
    """
    subset = data.subset(steps * batch, seed=0)
    dev = DeviceData.from_dataset(subset, device)
    scale = len(data.train_labels) / (steps * batch)
    rows = []
    for m_count in counts:
        cfgs = [vs.make_config("notebook", epochs=1, batch_size=batch, seed=s, precision=precision)
                for s in range(m_count)]

        prec = resolve_precision(precision, device)
        seq = sum(fit(m, dev, c, prec, progress=False)[0]["seconds"]
                  for m, c in zip(_models(cfgs, device), cfgs, strict=True))
        hist = fit_stacked(_models(cfgs, device), [dev] * m_count, cfgs, prec, progress=False)
        stk = hist[0][0]["stack_seconds"]  # the whole stack's training time in that epoch
        rows.append({"run": f"{m_count} models, batch {batch}", "models": m_count,
                     "sequential_s_per_model_epoch": seq * scale / m_count,
                     "stacked_s_per_model_epoch": stk * scale / m_count, "stacked_speedup": seq / stk})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _streamed(images: torch.Tensor, labels: torch.Tensor, root: Path, device: torch.device) -> LazyImages:
    """``images`` written as PNG files in class folders under ``root``, as a streamed set of them."""
    from PIL import Image

    files = []
    for i, (im, k) in enumerate(zip(images, labels.tolist(), strict=True)):
        d = root / f"c{k}"
        d.mkdir(parents=True, exist_ok=True)
        a = im.permute(1, 2, 0).numpy()
        Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a).save(d / f"{i:05d}.png")
        files.append(str(d / f"{i:05d}.png"))
    return LazyImages(files, (images.shape[3], images.shape[2]), images.shape[1] == 3, device)


def image_sizes(device: torch.device, sizes: list[int], n_images: int, precision: str, seed: int = 0,
                stream: bool = False) -> list[dict]:
    """Images/s of the engine's training step at each input size, side by side: generated uint8 images (28 px grey,
    as Fashion-MNIST's; RGB at every other size), 10 classes, the human network compiled for that size, channels
    and classes, the notebook recipe (batch 64), ``n_images`` training images, one epoch (training seconds only,
    evaluation excluded). The pixels are random: speed does not depend on what they show. With ``stream``, the same
    images also as PNG files, streamed (decoded per item by the DataLoader's workers; see
    :mod:`visualstreams.data.streaming`)."""
    from visualstreams.network import VisualStreamsNet

    rows = []
    prec = resolve_precision(precision, device)
    for size in sizes:
        channels = 1 if size == 28 else 3
        g = torch.Generator().manual_seed(seed)
        images = torch.randint(0, 256, (n_images + 256, channels, size, size), generator=g, dtype=torch.uint8)
        labels = torch.randint(0, 10, (n_images + 256,), generator=g)
        dev = DeviceData(images[:n_images].to(device), labels[:n_images].to(device), images[n_images:].to(device),
                         labels[n_images:].to(device))
        spec = vs.compile_network("human", image_size=size, in_channels=channels, classes=10)
        torch.manual_seed(seed)
        model = VisualStreamsNet(spec).to(device=device, memory_format=torch.channels_last)
        cfg = vs.make_config("notebook", epochs=1, seed=seed, precision=precision)
        fit(model, DeviceData(dev.train_x[:640], dev.train_y[:640], dev.test_x, dev.test_y), cfg, prec,
            progress=False)  # warm-up: the first steps at a new shape pay for kernel selection
        sec = fit(model, dev, cfg, prec, progress=False)[0]["seconds"]
        maps = " ".join(f"{a.name} {a.size}" for a in spec.areas if a.name in ("V1", "V2", "V4", "IT"))
        rows.append({"input": f"{size} px, {'grey' if channels == 1 else 'RGB'}", "images": n_images,
                     "parameters": spec.n_parameters, "maps (px)": maps, "images_per_s": n_images / sec,
                     "epoch_s_per_60k": sec * 60000 / n_images})
        if stream:
            with tempfile.TemporaryDirectory() as tmp:
                lazy = _streamed(images[:n_images], labels[:n_images], Path(tmp), device)
                sdev = DeviceData(lazy, dev.train_y, dev.test_x, dev.test_y)
                ssec = fit(model, sdev, cfg, prec, progress=False)[0]["seconds"]
            rows[-1].update({"streamed_images_per_s": n_images / ssec, "stream_workers": lazy.workers})
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["images_per_s"] if rows else 1.0
    for r in rows:
        r["relative"] = r["images_per_s"] / base
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="Fashion-MNIST directory (default: the usual search order)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--epochs", type=int, default=1, help="engine epochs per configuration (1)")
    ap.add_argument("--baseline-batches", type=int, default=300,
                    help="baseline steps to time, extrapolated to an epoch (0: whole epochs)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--fp32", action="store_true", help="also time the engine in fp32 (accuracy control)")
    ap.add_argument("--fast", action="store_true", help="also run the fast recipe (its own epochs)")
    ap.add_argument("--json", help="write the rows as JSON here")
    ap.add_argument("--many", type=int, nargs="*",
                    help="also time this many models at once, sequential vs stacked (default on CUDA: 1 12 48)")
    ap.add_argument("--many-batch", type=int, help="batch size for --many (64 on the CPU, 512 on CUDA)")
    ap.add_argument("--many-steps", type=int, default=50, help="steps per model for --many (50)")
    ap.add_argument("--skip-baseline", action="store_true", help="skip the loop-vs-engine section")
    ap.add_argument("--sizes", type=int, nargs="*",
                    help="also time the engine at these input sizes, side by side (e.g. 28 32 64: 28 px grey, RGB "
                         "at the others; generated images, 10 classes)")
    ap.add_argument("--sizes-images", type=int, default=4096, help="training images per size for --sizes (4096)")
    ap.add_argument("--sizes-stream", action="store_true",
                    help="with --sizes, also time the same images as PNG files, streamed by the DataLoader's workers")
    ap.add_argument("--roofline", action="store_true",
                    help="also print training FLOPs per image and this device's fp32/bf16 matmul peaks")
    args = ap.parse_args()

    device = resolve_device(args.device)
    many = args.many if args.many is not None else ([1, 12, 48] if device.type == "cuda" else [])
    only_sizes = bool(args.sizes) and args.skip_baseline and not many
    data = None if only_sizes else vs.load_fashion_mnist(args.data)  # generated images need no Fashion-MNIST
    auto = resolve_precision("auto", device)
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {device}"
          + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else "")
          + f", engine precision {auto}", flush=True)
    if args.roofline:
        roofline(device)
    if args.sizes:
        size_rows = image_sizes(device, args.sizes, args.sizes_images, "auto", stream=args.sizes_stream)
        print(pd.DataFrame(size_rows).round(3).to_string(index=False), flush=True)
    if many:
        batch = args.many_batch or (512 if device.type == "cuda" else 64)
        stack_rows = many_models(data, device, many, batch, args.many_steps, "auto")
        print(pd.DataFrame(stack_rows).round(4).to_string(index=False), flush=True)
    if args.skip_baseline:
        return
    rows = []
    for seed in args.seeds:
        base = baseline(data, device, args.baseline_batches, 1 if args.baseline_batches else args.epochs, seed)
        rows.append({"run": "notebook loop (fp32, both streams, batch 64)", "seed": seed, **base})
        print(json.dumps(rows[-1]), flush=True)
        configs = [("engine, notebook recipe", auto, "notebook")]
        if args.fp32 and auto != "fp32":
            configs.append(("engine, notebook recipe, fp32", "fp32", "notebook"))
        if args.fast:
            configs.append(("engine, fast recipe", auto, "fast"))
        for label, precision, recipe in configs:
            res = engine(data, device, None if recipe == "fast" else args.epochs, seed, precision, recipe)
            rows.append({"run": f"{label} ({precision})", "seed": seed, **res,
                         "speedup": base["epoch_s"] / res["epoch_s"]})
            print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("run", sort=False).agg(
        seeds=("seed", "count"), images_per_s=("images_per_s", "mean"), epoch_s=("epoch_s", "mean"),
        test_acc=("test_acc", "mean"), train_wall_s=("wall_s", "mean"), speedup=("speedup", "mean"))
    print(f"\nengine epochs: {args.epochs}; baseline: "
          + (f"{args.baseline_batches} steps extrapolated to {NOTEBOOK_EPOCH_BATCHES}" if args.baseline_batches
             else f"{args.epochs} full epochs"))
    print(summary.round(3).to_string())
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
