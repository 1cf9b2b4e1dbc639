"""PLS regression: scikit-learn's ``PLSRegression(scale=False)`` (Brain-Score's, and predict's before 0.4) beside
:func:`visualstreams.analysis.pls.fit_pls` (its NIPALS iterates run on the cross-product), side by side in one run.

* **Per fit**, on the shapes predict fits (features of the structure a network's have; targets reading part of it
  through noise): a Brain-Score-sized region (2,880 training stimuli x 1,000 features -> 128 neuroids), both of its
  regions at once (256, ``fit="joint"``), an Allen-sized area (106 stimuli in the row space -> 106 rotated targets)
  and 10,000 neuroids rotated onto 2,880 directions. The two alternate, ``--reps`` times; median seconds, the
  iterations per component (equal) and the largest difference of the held-out predictions over their scale.
* **End to end** (``--end-to-end``): ``neural_predictivity`` on a brainio cache at MajajHong2015's size (3,200
  stimuli x 256 neuroids, V4 and IT) against one trained run, once with each regression (scikit-learn's swapped
  in for the one predict calls), and the largest difference between the two score tables.

    python benchmarks/bench_pls.py                    # per fit (a few minutes)
    python benchmarks/bench_pls.py --end-to-end       # and the scoring of one run both ways (about 10 minutes)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

SHAPES = (  # label, training stimuli, features, targets
    ("Brain-Score-sized region", 2880, 1000, 128),
    ("Brain-Score-sized, both regions", 2880, 1000, 256),
    ("Allen-sized area (row space, rotated)", 106, 106, 106),
    ("10,000 neuroids rotated", 2880, 1000, 2880),
)


def sklearn_pls(x: np.ndarray, y: np.ndarray, k: int):  # noqa: ANN201 - a benchmark's helper
    from sklearn.cross_decomposition import PLSRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PLSRegression(n_components=k, scale=False).fit(x, y)


def data(n: int, p: int, q: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n + 100, 50))
    x = np.maximum(z @ rng.standard_normal((50, p)), 0) + 0.5 * rng.standard_normal((n + 100, p))
    y = z[:, :20] @ rng.standard_normal((20, q)) + 2 * rng.standard_normal((n + 100, q))
    return x[:n].astype(np.float32), y[:n].astype(np.float32), x[n:].astype(np.float32)


def per_fit(reps: int, k: int) -> list[str]:
    from visualstreams.analysis.pls import fit_pls

    rows = []
    for label, n, p, q in SHAPES:
        x, y, held_out = data(n, p, q)
        times: dict[str, list[float]] = {"sklearn": [], "ours": []}
        for _ in range(reps):
            t = time.perf_counter()
            theirs = sklearn_pls(x, y, k)
            times["sklearn"].append(time.perf_counter() - t)
            t = time.perf_counter()
            ours = fit_pls(x, y, k)
            times["ours"].append(time.perf_counter() - t)
        want = theirs.predict(held_out)
        diff = float(np.abs(ours.predict(held_out) - want).max() / np.abs(want).max())
        same = list(ours.n_iter) == list(theirs.n_iter_)
        a, b = statistics.median(times["sklearn"]), statistics.median(times["ours"])
        row = (f"| {label} | {n} x {p} -> {q} | {a:.3f} s | {b:.3f} s | {a / b:.1f}x | {sum(ours.n_iter)} "
               f"({'equal' if same else 'DIFFER'}) | {diff:.1e} |")
        print(row, flush=True)
        rows.append(row)
    return rows


def end_to_end(root: Path) -> list[str]:
    from dataclasses import replace

    import visualstreams as vs
    from visualstreams.analysis import predictivity
    from visualstreams.analysis.predictivity import PredictivityConfig, neural_predictivity
    from visualstreams.data.recordings import load_recordings
    from visualstreams.testing import write_brainio_cache

    run = root / "run"
    cfg = vs.make_config(epochs=1, batch_size=64, train_subset=1000, precision="fp32")
    vs.train("mouse", replace(cfg, seed=0), data=vs.load_fashion_mnist(), out=run, progress=False)
    write_brainio_cache(root / "brainio", n_stimuli=3200, n_neuroids=256, repetitions=50, size=256, noise=1.0,
                        time_bins=1)
    os.environ["BRAINIO_HOME"] = str(root / "brainio")
    rec = load_recordings("brainio:MajajHong2015.public")
    config = PredictivityConfig()
    ours_fit = predictivity.fit_pls
    tables, rows = {}, []
    for name, fit in (("sklearn", sklearn_pls), ("ours", ours_fit)):
        predictivity.fit_pls = fit
        try:
            t = time.perf_counter()
            tables[name] = neural_predictivity([run], rec, config=config, progress=False).summary
            seconds = time.perf_counter() - t
        finally:
            predictivity.fit_pls = ours_fit
        print(f"end to end, {name}: {seconds / 60:.1f} min", flush=True)
        rows.append(seconds)
    diff = float((tables["sklearn"]["r"] - tables["ours"]["r"]).abs().max())
    return [f"| score Brain-Score-sized against 1 run (3,200 x 50 x 256; 6 areas x 2 regions x 10 splits) | "
            f"{rows[0] / 60:.1f} min | {rows[1] / 60:.1f} min | {rows[0] / rows[1]:.1f}x | largest difference of r: "
            f"{diff:.1e} |"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--components", type=int, default=25)
    p.add_argument("--end-to-end", action="store_true", help="also score one run both ways (about 10 minutes)")
    args = p.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs", flush=True)
    print("| fit | shape | scikit-learn | fit_pls | speed-up | iterations | difference / scale |\n"
          "|---|---|---|---|---|---|---|", flush=True)
    rows = per_fit(args.reps, args.components)
    if args.end_to_end:
        rows += end_to_end(Path(tempfile.mkdtemp(prefix="bench_pls_")))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
