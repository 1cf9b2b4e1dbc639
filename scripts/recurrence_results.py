"""The recurrence experiment's table and figure (docs/recurrence.md), from the compare directories it wrote.

    visualstreams compare --species macaque-markov2014 --modes gain none --steps 1 4 --seeds 5 \\
        --train-subset 10000 --epochs 3 --out runs/rec-clean            # and with --noise 0.5 --out runs/rec-noise
    visualstreams lesion runs/rec-clean/macaque-markov2014/*-T4-seed* --cut feedback     # and runs/rec-noise
    python scripts/recurrence_results.py runs/rec-clean runs/rec-noise --figure docs/recurrence_results.png

Prints, per task: each condition's test accuracy (n, mean, 95% CI), recurrent minus feedforward within each mode
(Welch, as compare's tests.csv, Holm across the pairs compare tested), and the feedback-cut lesions of the trained
recurrent networks (paired over seeds: the same network intact and cut; paired t-test, SciPy).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats as sps

from visualstreams.analysis.stats import mean_ci
from visualstreams.format import format_p
from visualstreams.runs import upgrade_table


def conditions(cdir: Path) -> pd.DataFrame:
    summary = upgrade_table(pd.read_csv(cdir / "summary.csv"))
    return summary[summary["status"] == "ok"]


def lesion_rows(cdir: Path) -> pd.DataFrame:
    frames = []
    for path in sorted(cdir.glob("*/*-T*-seed*/lesions.csv")):
        mode, _, seed = path.parent.name.rpartition("-seed")
        frames.append(pd.read_csv(path).assign(condition=mode, seed=int(seed)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="+", type=Path)
    p.add_argument("--figure", type=Path)
    args = p.parse_args()
    fig = Figure(figsize=(5.2 * len(args.dirs), 3.6), layout="constrained")
    axes = fig.subplots(1, len(args.dirs), squeeze=False)[0]
    for ax, cdir in zip(axes, args.dirs, strict=True):
        runs = conditions(cdir)
        tests = upgrade_table(pd.read_csv(cdir / "tests.csv"))
        lesions = lesion_rows(cdir)
        print(f"\n### {cdir.name}\n")
        print("| condition | n | test accuracy, mean [95% CI] |\n|---|---|---|")
        order = list(dict.fromkeys(runs["condition"]))
        for x, mode in enumerate(order):
            acc = runs.loc[runs["condition"] == mode, "test_acc"].to_numpy(float)
            ci = mean_ci(acc)
            print(f"| {mode} | {len(acc)} | {ci['mean']:.2f} [{ci['ci_low']:.2f}, {ci['ci_high']:.2f}] |")
            ax.errorbar([x], [ci["mean"]], yerr=[[ci["mean"] - ci["ci_low"]], [ci["ci_high"] - ci["mean"]]],
                        fmt="o", color="k", capsize=4, zorder=3)
            ax.scatter(np.full(len(acc), x) + np.linspace(-0.12, 0.12, len(acc)), acc, s=12, color="0.6", zorder=2)
        print("\n| comparison | difference [95% CI] | p (Welch) | p (Holm) |\n|---|---|---|---|")
        acc_tests = tests[(tests["compare"] == "condition") & (tests["metric"] == "test_acc")]
        for r in acc_tests.itertuples():
            if f"{r.group_a}-T" in r.group_b:
                print(f"| {r.group_b} - {r.group_a} | {-r.diff:+.2f} [{-r.ci_high:+.2f}, {-r.ci_low:+.2f}] | "
                      f"{format_p(r.p)} | {format_p(r.p_holm)} |")
        if len(lesions):
            print("\n| trained recurrent network | lesion | n | change in accuracy [95% CI] | p (paired t) |\n"
                  "|---|---|---|---|---|")
            xs = len(order)
            for mode, grp in lesions.groupby("condition", sort=False):
                intact = grp[grp["lesion"] == "intact"].set_index("seed")["test_acc"]
                labels = [label for label in dict.fromkeys(grp["lesion"]) if label != "intact"]
                # the figure shows the widest cut run: every feedback and lateral projection, or every feedback one
                # where the network has no lateral projection
                widest = next((c for c in ("all feedback+all lateral", "all feedback") if c in labels), None)
                for lesion in labels:
                    cut = grp[grp["lesion"] == lesion].set_index("seed")["test_acc"].reindex(intact.index)
                    change = (cut - intact).to_numpy(float)
                    ci = mean_ci(change)
                    test = sps.ttest_rel(cut.to_numpy(float), intact.to_numpy(float))
                    print(f"| {mode} | {lesion} | {len(change)} | {ci['mean']:+.2f} [{ci['ci_low']:+.2f}, "
                          f"{ci['ci_high']:+.2f}] | {format_p(float(test.pvalue))} |")
                    if lesion == widest:
                        acc = cut.to_numpy(float)
                        c2 = mean_ci(acc)
                        ax.errorbar([xs], [c2["mean"]], yerr=[[c2["mean"] - c2["ci_low"]],
                                                              [c2["ci_high"] - c2["mean"]]],
                                    fmt="s", color="#c0392b", capsize=4, zorder=3)
                        ax.scatter(np.full(len(acc), xs) + np.linspace(-0.12, 0.12, len(acc)), acc, s=12,
                                   color="#e6a39b", zorder=2)
                        order.append(f"{mode}\n{'fb+lat' if '+' in lesion else 'feedback'} cut")
                        xs += 1
        ax.set_xticks(range(len(order)), order, fontsize=7)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(cdir.name, fontsize=10)
    if args.figure:
        fig.savefig(args.figure, dpi=120)
        print(f"\nwrote {args.figure}")


if __name__ == "__main__":
    main()
