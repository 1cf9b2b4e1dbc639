"""What unrolling costs: seconds per training epoch of one network at T = 1, 2 and 4 steps, side by side in one
run (same data, seed, recipe, device and precision), what the feedback projections add in parameters, and where
a step's time goes.

    python benchmarks/bench_recurrence.py [--species macaque-markov2014] [--train-subset 6000] [--device auto]
                                          [--steps 1 4] [--no-breakdown]

A T-step network computes T feedforward sweeps plus its feedback and lateral 1x1 convolutions (the input area's
convolution of the image only once), so about T times the one-step cost is expected; but a one-step network
computes only the areas its heads read (V1, V2, V4 and IT under "what"), while a recurrent one also needs every
area that sends feedback to them (MT and LIP) at every step but the last. Needs Fashion-MNIST.

The breakdown (after the epochs) times one training step of a synthetic batch of the recipe's size, forward and
backward, for the one-step network, the same network with every head (all its areas: a full sweep) and the
T-step network, interleaved (the medians of --reps rounds, so a load that comes and goes hits each alike); then
each area's block (its feedforward adapters, convolution, ReLU and pooling) and each feedback group (the sources of
one size brought to one target: concatenated, one 1x1 convolution, resampled and added to the target's
convolution output) alone, forward and backward, at the batch's sizes. The parts alone do not sum exactly to the
step: the step also has the heads, the loss, the optimizer and the accumulation of gradients.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

import visualstreams as vs
from visualstreams.engine import resolve_runtime
from visualstreams.engine.runtime import autocast
from visualstreams.network.model import VisualStreamsNet, add_feedback, bring


def median_ms(fn: Callable[[], None], reps: int) -> float:
    fn()  # warm-up: oneDNN picks and caches its kernels on the first call of each shape
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def fwd_bwd(fn: Callable[[], torch.Tensor], device: torch.device, precision: str,
            leaves: list[torch.Tensor]) -> Callable[[], None]:
    """``fn`` forward and backward, from a ready gradient of its output's shape, dtype and layout (so no loss is
    timed), the leaves' gradients cleared each time (none accumulates over the rounds)."""
    with autocast(device, precision):
        grad = torch.ones_like(fn())

    def run() -> None:
        for leaf in leaves:
            leaf.grad = None
        with autocast(device, precision):
            out = fn()
        out.backward(grad)
    return run


def breakdown(species: str, steps: int, batch: int, device: torch.device, precision: str, reps: int) -> None:
    torch.manual_seed(0)
    nets = {name: VisualStreamsNet(vs.compile_network(species, steps=t)).to(device, memory_format=torch.channels_last)
            for name, t in (("one", 1), ("many", steps))}
    opts = {name: torch.optim.Adam(m.parameters(), 1e-3) for name, m in nets.items()}
    x = torch.rand(batch, 1, 28, 28, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)

    def train_step(name: str, heads: tuple[str, ...]) -> Callable[[], None]:
        model, opt = nets[name], opts[name]

        def run() -> None:
            with autocast(device, precision):
                out = model(x, heads=heads)
                loss = sum(F.cross_entropy(out[h].float(), y) for h in ("what",)) + sum(
                    out[h].float().mean() for h in heads if h != "what")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return run

    everything = nets["one"].head_names
    rows = {"T = 1 (its heads' areas)": train_step("one", ("what",)),
            "T = 1, every area (a full sweep)": train_step("one", everything),
            f"T = {steps}": train_step("many", ("what",))}
    for fn in rows.values():
        for _ in range(3):
            fn()
    times: dict[str, list[float]] = {k: [] for k in rows}
    for _ in range(reps):  # interleaved: a load that comes and goes hits each alike
        for k, fn in rows.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    step_ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    base = step_ms["T = 1 (its heads' areas)"]
    print(f"\none training step of {batch} synthetic images, forward + backward + Adam (median of {reps}):")
    for k, ms in step_ms.items():
        print(f"  {k:34s} {ms:7.1f} ms  {ms / base:5.2f}x")

    model = nets["many"]
    spec = model.spec
    shapes = {a: (batch, *spec.area_shapes[a]) for a in model.order}

    def act(area: str) -> torch.Tensor:
        return torch.rand(shapes[area], device=device).contiguous(memory_format=torch.channels_last).requires_grad_()

    acts = {a: act(a) for a in model.order}
    last = set(model._feedforward_needed(("what",)))
    print(f"\nwhere the T = {steps} step's time goes: each part alone, forward + backward (median of {reps}); calls "
          f"per training step; ms per step = ms x calls")
    print(f"{'part':38s} {'sizes':30s} ms/call  calls  ms/step")
    parts: list[tuple[str, str, float, int]] = []  # label, sizes, ms alone, calls per training step
    for area in model.needed_areas(("what",)):
        block = model.areas[area]
        a = spec.area(area)
        if not model.inputs[area]:
            with autocast(device, precision):
                first = block.conv(x).detach().requires_grad_()
            fn = fwd_bwd(lambda block=block, first=first: block.pool(torch.relu(first)), device, precision, [first])
            conv_once = median_ms(fwd_bwd(lambda block=block: block.conv(x), device, precision, []), reps)
            parts.append((f"{area} convolution of the image (once)", f"1 -> {a.block.channels} ch at {a.in_size}",
                          conv_once, 1))
            label = f"{area} ReLU + pool"
        else:
            def fn_block(area: str = area, block: torch.nn.Module = block) -> torch.Tensor:
                return block.pool(torch.relu(block.conv(model._feedforward_input(area, acts))))
            fn = fwd_bwd(fn_block, device, precision, list(acts.values()))
            label = f"{area} block (+ {len(model.inputs[area]) - 1} adapters)"
        calls = steps if area in last else steps - 1
        parts.append((label, f"{a.in_channels} -> {a.block.channels} ch at {a.in_size} px", median_ms(fn, reps),
                      calls))
    for area in model.needed_areas(("what",)):
        size = spec.area(area).in_size
        groups = model._recurrent_groups[area]
        z = torch.rand(batch, spec.area(area).block.channels, size, size, device=device).contiguous(
            memory_format=torch.channels_last).requires_grad_()
        weights = [model._group_weight(group).detach().requires_grad_() for group in groups]
        leaves = [z, *weights, *acts.values()]
        for group, weight in zip(groups, weights, strict=True):
            srcs = [s for s, _, _ in group]

            def fn_group(group: list = group, weight: torch.Tensor = weight, z: torch.Tensor = z) -> torch.Tensor:
                return z + bring(model._group_source(group, acts), weight, z.shape[-1])
            channels = sum(spec.area_shapes[s][0] for s in srcs)
            parts.append((f"{'  ' if len(groups) > 1 else ''}feedback {'+'.join(srcs)} -> {area}",
                          f"{channels} -> {z.shape[1]} ch, {spec.area_shapes[srcs[0]][-1]} -> {size} px",
                          median_ms(fwd_bwd(fn_group, device, precision, leaves), reps), steps - 1))
        if len(groups) > 1:  # what the forward runs: every group of the target in one sum (add_feedback)
            def fn_all(groups: list = groups, weights: list = weights, z: torch.Tensor = z) -> torch.Tensor:
                return add_feedback(z, [(model._group_source(g, acts), w) for g, w in zip(groups, weights,
                                                                                          strict=True)])
            parts.append((f"feedback into {area}, all {len(groups)} groups", f"at {size} px",
                          median_ms(fwd_bwd(fn_all, device, precision, leaves), reps), steps - 1))
    total = sum(ms * calls for label, _, ms, calls in parts if not label.startswith("  "))
    fb = sum(ms * calls for label, _, ms, calls in parts if label.startswith("feedback"))
    for label, sizes, ms, calls in parts:
        print(f"{label:38s} {sizes:30s} {ms:7.2f}  {calls:5d}  {ms * calls:7.1f}")
    print(f"sum of the parts {total:.1f} ms (indented rows are within the row below them), of which feedback "
          f"{fb:.1f} ms ({100 * fb / total:.0f}%); the whole step {step_ms[f'T = {steps}']:.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--species", default="macaque-markov2014")
    p.add_argument("--train-subset", type=int, default=6000)
    p.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--device", default="auto")
    p.add_argument("--repeats", type=int, default=2, help="epochs timed per step count (the first is a warm-up)")
    p.add_argument("--no-breakdown", action="store_true", help="the epochs only")
    p.add_argument("--reps", type=int, default=20, help="rounds of the breakdown's timings")
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
    if not args.no_breakdown and max(args.steps) > 1:
        breakdown(args.species, max(args.steps), 64, runtime.device, runtime.precision, args.reps)


if __name__ == "__main__":
    main()
