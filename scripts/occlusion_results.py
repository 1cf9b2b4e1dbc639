"""The occlusion (or debris) experiment's tables and figure (docs/recurrence.md), from the compare directories it
wrote. The task, read from the runs' config.json, names the levels: "occlusion" (the share of the item hidden) or
"debris" (the share covered by fragments; the record in results/debris, trained before 0.2 as task "occlusion").

    OMP_NUM_THREADS=1 visualstreams compare --species macaque-markov2014 --steps 1 4 --twins --loss-steps all \\
        --task occlusion --occlusion 0,20,40,60 --seeds 5 --train-subset 20000 --epochs 4 --no-similarity \\
        --out runs/occ-macaque                                   # and mouse-oh2014, --out runs/occ-mouse
    visualstreams lesion runs/occ-macaque/macaque-markov2014/gain-T4-seed* --cut feedback   # and runs/occ-mouse
    python scripts/occlusion_results.py runs/occ-macaque runs/occ-mouse --figure docs/occlusion_results.png

Prints markdown, per species: each condition's test accuracy at each occlusion level (n, mean, 95% CI); the
recurrent network minus its matched twin and minus the one-step network at each level (Welch, Holm over the
levels); the slope over the levels (points per 10 points of occlusion) and recurrent-minus-twin on it (the
hypothesis's test; Welch, Holm over the species); the anytime readout of the recurrent runs at each level; and
the feedback cut of the trained recurrent networks at each level (paired within each run; Holm over the levels)
with its slope. The statistics are visualstreams.analysis.levels'; this script only lays them out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from visualstreams.analysis import levels as lv
from visualstreams.analysis.stats import mean_ci
from visualstreams.engine import TrainConfig
from visualstreams.errors import ConfigError
from visualstreams.format import format_p, p_clause
from visualstreams.runs import CompareDir, upgrade_table
from visualstreams.storage import write_text
from visualstreams.viz.levels import plot_levels


def ci(row: pd.Series | tuple, key: str = "mean", signed: bool = False) -> str:
    """``value [low, high]`` of a table row (a Series or an itertuples row); the value alone where there is no
    interval (one run)."""
    get = row.__getitem__ if isinstance(row, pd.Series) else lambda k: getattr(row, k)
    f = "+.2f" if signed else ".2f"
    if pd.isna(get("ci_low")) or pd.isna(get("ci_high")):
        return f"{get(key):{f}}"
    return f"{get(key):{f}} [{get('ci_low'):{f}}, {get('ci_high'):{f}}]"


def load_runs(dirs: list[Path]) -> pd.DataFrame:
    """The finished runs of every compare directory (summary.csv), each with its compare directory."""
    tables = [upgrade_table(pd.read_csv(d / CompareDir.SUMMARY)).assign(compare_dir=str(d)) for d in dirs]
    runs = pd.concat(tables, ignore_index=True)
    return runs[runs["status"] == "ok"].reset_index(drop=True)


def load_lesions(runs: pd.DataFrame) -> pd.DataFrame:
    """The lesions.csv rows of the runs, each with the species, condition (mode) and seed of its run."""
    frames = []
    for r in runs.itertuples():
        # Located from the compare directory, not summary.csv's run_dir (the path at training time), so a kept
        # copy of the directories (results/debris) reads the same wherever it lies.
        path = CompareDir(r.compare_dir).run(r.species, r.condition, r.seed).lesions_path
        if path.exists():
            frames.append(pd.read_csv(path).assign(species=r.species, condition=r.condition, seed=r.seed))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def task_of(runs: pd.DataFrame) -> str:
    """The task the runs were trained on ("occlusion" or "debris"), as their config.json reads in this version."""
    r = runs.iloc[0]
    run = CompareDir(r["compare_dir"]).run(r["species"], r["condition"], r["seed"])
    if not run.config_path.is_file():  # tables without their runs' configs (written by hand): levels of occlusion
        return "occlusion"
    return TrainConfig.of_run(run.read_config()).task


def glance(table: pd.DataFrame, diffs: dict[tuple[str, str], pd.DataFrame], cut: pd.DataFrame,
           pairs: list[tuple[str, str]], ff: str, word: str = "occlusion") -> str:
    """One table of the whole experiment (the README's): each condition's mean accuracy per species and level,
    each recurrent-minus-twin difference with its CI and Holm p, and each recurrent network's accuracy with its
    feedback cut."""
    cut = cut[cut["lesion"] == "all feedback"] if len(cut) else cut
    cut_acc = lv.by_level(cut, by=("species", "condition", "lesion")) if len(cut) else pd.DataFrame()
    n = table.groupby(["species", "condition"])["n"].max()
    conditions = list(dict.fromkeys([ff, *(c for pair in pairs for c in pair)]))
    recurrent = list(dict.fromkeys(rec for rec, _ in pairs))
    head = ([f"{ff} (T = 1)", *conditions[1:]] + [h for rec, twin in pairs for h in (f"{rec} - {twin} [95% CI]",
                                                                                     "p (Holm)")]
            + [f"{rec}, feedback cut" for rec in recurrent])
    out = [f"| preset | {word} | " + " | ".join(head) + " |", "|---" * (len(head) + 2) + "|"]
    for (sp, level), grp in table.groupby(["species", "level"], sort=False):
        acc = grp.set_index("condition")["mean"]
        cells = [f"{acc[m]:.2f}" if m in acc else "-" for m in conditions]
        for pair in pairs:
            d = diffs[pair][(diffs[pair]["species"] == sp) & (diffs[pair]["level"] == level)].iloc[0]
            cells += [ci(d, "diff", True), format_p(d.p_holm)]
        for rec in recurrent:
            c = (cut_acc[(cut_acc["species"] == sp) & (cut_acc["level"] == level) & (cut_acc["condition"] == rec)]
                 if len(cut_acc) else cut_acc)
            cells.append(f"{c['mean'].iloc[0]:.2f}" if len(c) else "-")
        out.append(f"| {sp} | {level:g}% | {' | '.join(cells)} |")
    per_species = n.groupby(level="species", sort=False).agg(["min", "max"])
    if n.nunique() == 1:
        counts = f"{n.iloc[0]} seed{'s' if n.iloc[0] != 1 else ''} per condition"
    elif (per_species["min"] == per_species["max"]).all():
        counts = "the seeds run (" + ", ".join(f"{sp} {r['min']}" for sp, r in per_species.iterrows()) + ")"
    else:
        counts = "the seeds run (" + ", ".join(f"{sp} {m} {k}" for (sp, m), k in n.items()) + ")"
    return (f"Test accuracy (%), mean over {counts}; the difference with its 95% CI (Welch; Holm over the "
            "levels).\n\n" + "\n".join(out))


def parse_pair(text: str) -> tuple[str, str]:
    rec, sep, twin = text.partition(":")
    if not (sep and rec and twin):
        raise argparse.ArgumentTypeError(f"a pair is RECURRENT:TWIN, e.g. gain-T4i:gain-BC4i, got {text!r}")
    return rec, twin


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dirs", nargs="+", type=Path)
    p.add_argument("--figure", type=Path, help="draw the figure (viz.levels.plot_levels) into this PNG")
    p.add_argument("--markdown", type=Path,
                   help="also write the tables into this file (docs/recurrence.md includes results/debris.md)")
    p.add_argument("--recurrent", default="gain-T4", help="the recurrent condition (gain-T4)")
    p.add_argument("--twin", default="gain-BF4", help="its matched feedforward twin (gain-BF4)")
    p.add_argument("--pair", action="append", type=parse_pair, metavar="RECURRENT:TWIN",
                   help="a recurrent condition and the twin it is compared with, repeatable (e.g. --pair "
                        "gain-T4:gain-BF4 --pair gain-T4i:gain-BF4i --pair gain-T4i:gain-BC4i); default "
                        "--recurrent:--twin")
    p.add_argument("--feedforward", default="gain", help="the one-step network (gain)")
    args = p.parse_args()
    missing = [d for d in args.dirs if not (d / CompareDir.SUMMARY).is_file()]
    if missing:
        p.exit(2, f"occlusion_results: {missing[0]} has no summary.csv (not a compare directory)\n")
    runs = load_runs(args.dirs)
    try:
        table = lv.by_level(runs)
    except ConfigError as exc:
        p.exit(2, f"occlusion_results: {exc}\n")
    pairs = args.pair or [(args.recurrent, args.twin)]
    absent = [c for pair in pairs for c in pair if c not in set(runs["condition"])]
    if absent:
        p.exit(2, f"occlusion_results: no runs of condition {absent[0]!r} (conditions: "
                  f"{', '.join(dict.fromkeys(runs['condition']))})\n")
    lesions = load_lesions(runs)
    word = task_of(runs)
    ff = args.feedforward
    recurrent = list(dict.fromkeys(rec for rec, _ in pairs))
    diffs = {pair: lv.level_differences(runs, *pair) for pair in pairs}
    to_ff = {rec: lv.level_differences(runs, rec, ff) for rec in recurrent}
    trends = {pair: lv.trend_difference(runs, *pair) for pair in pairs}
    slopes = runs.assign(slope=lv.level_slopes(runs))
    anytime = {rec: lv.anytime_by_level(runs[runs["condition"] == rec]) for rec in recurrent}
    cut = lesions[lesions["lesion"] != "intact"] if len(lesions) else lesions
    levels = sorted(table["level"].unique())
    lines: list[str] = []
    emit = lines.append
    emit(glance(table, diffs, cut, pairs, ff, word))
    for sp in dict.fromkeys(runs["species"]):
        emit(f"\n#### {sp}\n")
        head = " | ".join(f"{lvl:g}%" for lvl in levels)
        # runs of 0.2 on record what they cost: the parameters the task uses and the training FLOPs per image
        costs = {"parameters_used", "flops"} <= set(runs.columns) and runs["flops"].notna().all()
        extra = " used | training FLOPs per image |" if costs else ""
        emit(f"| condition | parameters |{extra} n | {head} | slope per 10 points |\n"
              f"|---|---|{'---|---|' if costs else ''}---|{'---|' * len(levels)}---|")
        for mode in dict.fromkeys(runs.loc[runs["species"] == sp, "condition"]):
            sub = table[(table["species"] == sp) & (table["condition"] == mode)].set_index("level")
            own = runs[(runs["species"] == sp) & (runs["condition"] == mode)]
            s = mean_ci(slopes.loc[own.index, "slope"].to_numpy(float))
            cells = " | ".join(ci(sub.loc[lvl]) for lvl in levels)
            spent = (f" {int(own['parameters_used'].iloc[0]):,} | {int(own['flops'].iloc[0]):,} |" if costs else "")
            emit(f"| {mode} | {int(own['parameters'].iloc[0]):,} |{spent} {len(own)} | {cells} | "
                  f"{ci(pd.Series(s), signed=True)} |")
        emit(f"\n| comparison | {word} | difference [95% CI] | p (Welch) | p (Holm, over levels) |\n"
              "|---|---|---|---|---|")
        for (a, b), d in [*diffs.items(), *(((rec, ff), d) for rec, d in to_ff.items())]:
            for r in d[d["species"] == sp].itertuples():
                emit(f"| {a} - {b} | {r.level:g}% | {ci(r, 'diff', True)} | {format_p(r.p)} | "
                      f"{format_p(r.p_holm)} |")
        for (rec, twin), tr in trends.items():
            t = tr[tr["species"] == sp] if len(tr) else tr  # none with a single run per condition
            for r in t.itertuples():
                emit(f"\nSlope over the levels, {rec} - {twin}: {r.diff:+.2f} points per 10 points of {word} "
                      f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}] ({rec} {r.slope_a:+.2f}, {twin} {r.slope_b:+.2f}; "
                      f"n = {r.n_a}, {r.n_b}; Welch p {p_clause(r.p)}, Holm over the species p {p_clause(r.p_holm)})")
        for rec in recurrent:
            a = anytime[rec][anytime[rec]["species"] == sp] if len(anytime[rec]) else anytime[rec]
            if len(a):
                steps = sorted(a["step"].unique())
                emit(f"\nAnytime readout of {rec} (accuracy at each step, mean [95% CI], n = {int(a['n'].max())}):\n")
                emit(f"| {word} | " + " | ".join(f"step {k}" for k in steps) + " |\n|---|" + "---|" * len(steps))
                for lvl in levels:
                    cells = a[a["level"] == lvl].set_index("step")
                    emit(f"| {lvl:g}% | " + " | ".join(ci(cells.loc[k]) for k in steps) + " |")
            c = cut[(cut["species"] == sp) & (cut["condition"] == rec)] if len(cut) else cut
            if len(c):
                effects = lv.lesion_by_level(c)
                trend = lv.lesion_trend(c).set_index("lesion")
                emit(f"\n| trained {rec} | {word} | n | accuracy cut | change [95% CI] | p (paired t) | "
                      "p (Holm, over levels) |\n|---|---|---|---|---|---|---|")
                cut_acc = lv.by_level(c, by=("species", "condition", "lesion"))
                for r in effects.itertuples():
                    acc = cut_acc[(cut_acc["lesion"] == r.lesion) & (cut_acc["level"] == r.level)].iloc[0]
                    emit(f"| {r.lesion} | {r.level:g}% | {r.n} | {acc['mean']:.2f} | {ci(r, 'mean', True)} | "
                          f"{format_p(r.p)} | {format_p(r.p_holm)} |")
                for lesion, r in trend.iterrows():
                    emit(f"\nSlope of the cost of '{lesion}' over the levels: {ci(r, signed=True)} points per 10 "
                          f"points (n = {int(r['n'])}, one-sample t "
                          f"p {p_clause(r['p'])}; negative: costs more as {word} rises)")
    if args.figure:
        lesioned = None
        if len(cut):
            lesioned = lv.by_level(cut, by=("species", "condition", "lesion"))
            lesioned["condition"] = lesioned["condition"] + ", " + lesioned["lesion"] + " cut"
        first = pairs[0]
        plot_levels(table, differences=diffs[first], anytime=anytime[first[0]] if len(anytime[first[0]]) else None,
                    lesioned=lesioned, path=args.figure, difference_label=f"{first[0]} - {first[1]}", task=word)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.markdown:
        # the number of runs in its first line: the page says how much of the design its tables hold
        write_text(args.markdown, f"<!-- written by scripts/occlusion_results.py from {len(args.dirs)} compare "
                                  f"directories, {len(runs)} runs; do not edit -->\n{text}")
        print(f"\nwrote {args.markdown}")
    if args.figure:
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
