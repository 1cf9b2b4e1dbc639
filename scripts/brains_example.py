"""The known-answer run shown in docs/brains.md, rebuilt from scratch: a macaque-markov2014 network trained one epoch
on 3,000 Fashion-MNIST images; 600 test items as 64 px colour stimuli; recordings of 30 single units of its V1 and
30 of its IT, noise 0.3, 10 repetitions (written as a brainio-style NetCDF and read back); then
``visualstreams predict`` with ridge and with PLS. Rewrites the block between the markers in docs/brains.md and
the heatmap docs/brains_known_answer.png.

    python scripts/brains_example.py [--out runs/brains_example]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

import visualstreams as vs
from visualstreams.data.stimuli import write_stimulus_images
from visualstreams.testing import analytic_ceiling, known_answer_recordings

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "brains.md"
START, END = "<!-- known-answer:start -->", "<!-- known-answer:end -->"


def markdown(df: pd.DataFrame) -> str:
    """A small table as Markdown (pandas' to_markdown needs tabulate, which nothing else here does)."""
    head = "| name | " + " | ".join(df.columns) + " |"
    rule = "|---" * (len(df.columns) + 1) + "|"
    rows = [f"| {i} | " + " | ".join(f"{v:.3f}" for v in row) + " |"
            for i, row in zip(df.index, df.to_numpy(), strict=True)]
    return "\n".join([head, rule, *rows])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="runs/brains_example")
    args = p.parse_args()
    torch.set_num_threads(2)
    out = Path(args.out)
    data = vs.load_fashion_mnist()
    cfg = vs.make_config(epochs=1, batch_size=64, train_subset=3000, precision="fp32")
    vs.train("macaque-markov2014", cfg, data=data, out=out / "run", overwrite=True, progress=False)
    labels = data.test_labels[:600].numpy()
    csv = write_stimulus_images(data.test_images[:600].numpy(), out / "stimuli",
                                object_names=[str(k) for k in labels], size=64, tint=(1.0, 0.8, 0.6))
    table = pd.read_csv(csv)
    table["path"] = [str(out / "stimuli" / f) for f in table.pop("filename")]
    rec = known_answer_recordings(out / "run", table, noise=0.3, repetitions=10, n_neuroids=30)
    vs.write_recordings(rec, out / "recordings" / "known.nc")
    blocks, caption = [], ""
    for method in ("ridge", "pls"):
        done = subprocess.run([sys.executable, "-m", "visualstreams", "predict", str(out / "run"), "--recordings",
                               str(out / "recordings" / "known.nc"), "--method", method, "--out",
                               str(out / f"predict-{method}"), "--quiet"], capture_output=True, text=True, check=True)
        summary = pd.read_csv(out / f"predict-{method}" / "predictivity.csv")
        wide = summary.pivot_table(index="name", columns="region", values=["r", "ceiled"], sort=False)
        wide = wide.reindex(list(dict.fromkeys(summary["name"])))
        wide.columns = [f"{v} {r}" for v, r in wide.columns]
        best = [line.strip() for line in done.stdout.splitlines() if "best area" in line]
        if method == "ridge":  # the figure's caption, in the page (not only in the image's alt text)
            winners = {r: summary[summary["region"] == r].sort_values("ceiled").iloc[-1]
                       for r in dict.fromkeys(summary["region"])}
            caption = ("*The ridge run's heatmap: the ceiled score (r² / ceiling) of each area (rows) for each "
                       "recorded region's neuroids (columns); each region is best predicted by the area its "
                       "neuroids were made from (" + "; ".join(f"{r}: {b['name']} {b['ceiled']:.3f}"
                                                               for r, b in winners.items()) + ").*\n")
        blocks.append(f"**{method}** (`visualstreams predict ... --method {method}`):\n\n"
                      + markdown(wide.round(3)) + "\n\n" + "\n".join(f"- {b}" for b in best) + "\n")
    shutil.copy(out / "predict-ridge" / "predictivity.png", ROOT / "docs" / "brains_known_answer.png")
    ceil = pd.read_csv(out / "predict-ridge" / "ceilings.csv")
    text = ("Ceilings (split-half, Spearman-Brown): "
            + ", ".join(f"{r.region} {r.ceiling:.4f}" for r in ceil.itertuples())
            + f"; analytic {analytic_ceiling(0.3, 10):.4f}.\n\n" + "\n".join(blocks)
            + "\n![The ridge run's heatmap](brains_known_answer.png)\n\n" + caption)
    page = PAGE.read_text()
    page = re.sub(f"{re.escape(START)}.*{re.escape(END)}", f"{START}\n{text}\n{END}", page, flags=re.S)
    PAGE.write_text(page)
    print(text)


if __name__ == "__main__":
    main()
