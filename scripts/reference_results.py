"""Issue 34's tables from what scripts/reference_compare.sh wrote: every network's accuracy with its size, the
species-against-model tests as compare computed them (Welch, Holm within each family), and every network's neural
predictivity on the known-answer recordings. Reads only the compare directories' tables and predict's; computes no
statistic of its own, so the numbers are the library's.

    python scripts/reference_results.py runs/reference-compare --markdown results/reference.md \
        --figure docs/reference_compare.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from visualstreams.format import format_number, format_p
from visualstreams.runs import CompareDir

VARIANTS = {"full": "published widths", "matched": "matched to macaque-markov2014's used parameters"}


def _ci(mean: float, low: float, high: float, digits: int = 2) -> str:
    return f"{format_number(mean, digits)} [{format_number(low, digits)}, {format_number(high, digits)}]"


def regime(out: Path) -> str:
    """The recipe and data every run shared, as the first full-width run's config.json records them."""
    configs = sorted((out / "full").glob("*/*/config.json"))
    if not configs:
        return "(no run's config.json: the recipe is not stated)"
    shared = {json.dumps({"train": {**c["train"], "seed": None}, "data": c["data"]}, sort_keys=True)
              for c in (json.loads(f.read_text()) for f in configs)}
    if len(shared) > 1:  # the sentence says one recipe and one data set for every network: it must be so
        raise SystemExit(f"the runs in {out / 'full'} differ in recipe or data (bar the seed): no one regime to state")
    config = json.loads(configs[0].read_text())
    t, d = config["train"], config["data"]
    # the matched compare's connectome runs are the full one's again (the same seeds give the same weights)
    n = len(configs) + len(list((out / "matched").glob("*/reference*/config.json")))
    return (f"{n} runs. Fashion-MNIST 'what' at {d['size'][0]} px: {t['train_subset']:,} training images (a seeded "
            f"subset per seed), {t['epochs']} epochs, the {t['recipe']} recipe (lr {t['lr']:g}, batch "
            f"{t['batch_size']}, {t['schedule']} schedule) for every network; tested on {d['test']:,} held-out "
            f"images ({d['dataset']}, tensors checksum {d['checksums']['tensors']}).")


def accuracy_table(out: Path) -> list[str]:
    """One row a network and variant: parameters used, training GFLOPs per image, n, test accuracy mean [95% CI]."""
    lines = ["| network | variant | parameters used | training GFLOPs / image | n | test accuracy, % [95% CI] |",
             "|---|---|---|---|---|---|"]
    for variant, what in VARIANTS.items():
        cdir = out / variant
        if not (cdir / CompareDir.STATS).is_file():
            continue
        summary = pd.read_csv(cdir / CompareDir.SUMMARY)
        stats = pd.read_csv(cdir / CompareDir.STATS)
        acc = stats[stats["metric"] == "test_acc"].set_index(["species", "condition"])
        for (species, condition), runs in summary.groupby(["species", "condition"], sort=False):
            if variant == "matched" and not condition.startswith("reference"):
                continue  # the connectome networks are the full compare's, trained again: shown once
            row = acc.loc[(species, condition)]
            used = runs["parameters_used"].iloc[0]
            gflops = runs["flops"].iloc[0] / 1e9
            lines.append(f"| {species} | {what if condition.startswith('reference') else condition} | {used:,} | "
                         f"{gflops:.3f} | {int(row['n'])} | {_ci(row['mean'], row['ci_low'], row['ci_high'])} |")
    return lines


def tests_table(out: Path) -> list[str]:
    """The tests compare wrote with the reference models (its ``compare`` column ``reference``) and the species'
    own test, on test accuracy: difference a - b with its 95% CI, Hedges' g, Welch p, and p after Holm in compare's
    families (each species against each model within a condition; the models against each other)."""
    lines = ["| variant | a | b | a - b, points [95% CI] | Hedges' g | p (Welch) | p (Holm) |",
             "|---|---|---|---|---|---|---|"]
    for variant, what in VARIANTS.items():
        path = out / variant / CompareDir.TESTS
        if not path.is_file():
            continue
        tests = pd.read_csv(path)
        tests = tests[tests["metric"] == "test_acc"]
        if variant == "matched":
            tests = tests[tests["compare"] == "reference"]
        for _, t in tests.iterrows():
            family = what if t["compare"] == "reference" else "the connectomes' own test"
            lines.append(f"| {family} | {t['group_a']} | {t['group_b']} | "
                         f"{_ci(t['diff'], t['ci_low'], t['ci_high'])} | {t['hedges_g']:.2f} | {format_p(t['p'])} | "
                         f"{format_p(t['p_holm'])} |")
    return lines


def figure(out: Path, path: Path) -> None:
    """Test accuracy of every network at both widths, mean and 95% CI with each seed's dot (compare's own figure
    function, on the two compares' tables; the matched compare's connectome runs are the full one's again)."""
    from visualstreams.viz import plot_final_metrics

    stats, runs = [], []
    for variant in VARIANTS:
        if not (out / variant / CompareDir.STATS).is_file():
            continue  # as the tables: a compare not run yet is left out
        st = pd.read_csv(out / variant / CompareDir.STATS)
        su = pd.read_csv(out / variant / CompareDir.SUMMARY)
        if variant == "matched":
            st, su = (t[t["condition"].str.startswith("reference")] for t in (st, su))
        stats.append(st[st["metric"] == "test_acc"])
        runs.append(su[su["status"] == "ok"])
    fig = plot_final_metrics(pd.concat(stats, ignore_index=True), runs=pd.concat(runs, ignore_index=True))
    fig.savefig(path, dpi=110)


def predictivity_table(brains: Path, source: str) -> list[str]:
    """predict's scores on the known-answer recordings: per region and network, the ceiled score of the area of the
    region's name (a CORnet's last step of it) and the best area chosen on held-out splits (predict's own tables,
    mean and 95% CI over seeds); then which run scores highest on each region (the recordings were made from
    ``source``)."""
    stats_path = brains / "predictivity_stats.csv"
    if not stats_path.is_file():
        return []
    stats = pd.read_csv(stats_path)
    stats = stats[stats["metric"] == "ceiled_score"]
    best = pd.read_csv(brains / "best_areas_groups.csv")
    lines = ["| region | network | its area of that name: ceiled score [95% CI] | best area (held-out splits) | "
             "its ceiled score [95% CI] | share of runs |", "|---|---|---|---|---|---|"]
    for _, b in best.iterrows():
        own = stats[(stats["species"] == b["species"]) & (stats["region"] == b["region"])
                    & stats["name"].map(lambda n, r=b["region"]: n.split("@")[0] == r)]
        own = own.iloc[-1] if len(own) else None  # the last step of a recurrent one (predict orders them)
        area = "-" if own is None else f"{own['name']}: {_ci(own['mean'], own['ci_low'], own['ci_high'], 3)}"
        lines.append(f"| {b['region']} | {b['species']} | {area} | {b['best']} | "
                     f"{_ci(b['mean'], b['ci_low'], b['ci_high'], 3)} | {b['share_of_runs']:.0%} |")
    runs = pd.read_csv(brains / "predictivity.csv")
    named = runs[runs["name"].map(lambda n: n.split("@")[0]) == runs["region"]]
    lines.append("")
    for region, part in named.groupby("region", sort=False):
        top = part.sort_values("ceiled", ascending=False)
        first, second = top.iloc[0], top[top["run"] != top.iloc[0]["run"]].iloc[0]
        lines.append(f"- {region}: the highest ceiled score of any run's {region} is {first['ceiled']:.3f} "
                     f"({Path(first['run']).parent.name}/{Path(first['run']).name}; the recordings were made from "
                     f"{source}), the next {second['ceiled']:.3f} ({Path(second['run']).parent.name}/"
                     f"{Path(second['run']).name}).")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the directory scripts/reference_compare.sh wrote (OUT)")
    parser.add_argument("--markdown", type=Path, required=True, help="the tables, as markdown")
    parser.add_argument("--figure", type=Path, help="draw every network's test accuracy here (PNG)")
    parser.add_argument("--source", default="macaque-markov2014/seed0",
                        help="the run the known-answer recordings were made from (as reference_compare.sh makes them)")
    args = parser.parse_args()
    if not (args.out / "full" / CompareDir.SUMMARY).is_file():
        parser.error(f"{args.out}: no full/{CompareDir.SUMMARY} (run scripts/reference_compare.sh into it first)")
    lines = [f"<!-- written by scripts/reference_results.py from {args.out}; do not edit -->", "",
             regime(args.out), "",
             *accuracy_table(args.out), "", *tests_table(args.out), ""]
    brains = predictivity_table(args.out / "full" / "brains", args.source)
    if brains:
        lines += [f"Known-answer recordings made from {args.source}'s V1 and IT (predict on every full-width run):",
                  "", *brains, ""]
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text("\n".join(lines))
    if args.figure is not None:
        figure(args.out, args.figure)
    print(f"wrote {args.markdown}" + (f" and {args.figure}" if args.figure else ""))


if __name__ == "__main__":
    main()
