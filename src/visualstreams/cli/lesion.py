"""``visualstreams lesion``: silence areas or cut projections of trained runs and evaluate again."""

from __future__ import annotations

import argparse

from .options import add_data, add_device, positive_int


def add_arguments(pl: argparse.ArgumentParser) -> None:
    pl.description = ("Evaluate trained runs intact and with areas silenced (output set to zero; in runs of several "
                      "steps also from a step on) or projections cut (strength 0; one, or every feedback or lateral "
                      "one at once), without retraining. Prints the metrics before and after, writes lesions.csv "
                      "into each run directory and a bar chart (means over runs, 95% CI error bars).")
    pl.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (e.g. one per seed)")
    pl.add_argument("--area", action="append", default=[], metavar="AREA[@tK]",
                    help="silence this area (repeatable); AREA@tK from step K on, in a run of several steps")
    pl.add_argument("--edge", action="append", default=[], metavar="SRC:TGT",
                    help="cut this projection, e.g. V2:MT or a feedback one, IT:V4 (repeatable)")
    pl.add_argument("--cut", action="append", default=[], choices=["feedback", "lateral", "recurrent", "intrinsic"],
                    help="cut every feedback projection at once, every lateral one, both (recurrent), or every "
                         "area's recurrence within itself (intrinsic, networks trained with --intrinsic); repeatable")
    pl.add_argument("--sweep", action="store_true",
                    help="every area and every projection, each on its own (and all feedback, all lateral at once)")
    pl.add_argument("--steps", type=positive_int, metavar="T",
                    help="evaluate unrolled over T steps instead of the run's own (1: the feedforward sweep alone)")
    add_data(pl, of_runs=True)
    add_device(pl)
    pl.add_argument("--figure", metavar="PNG", help="bar chart path (default lesions.png beside the runs)")


def run(args: argparse.Namespace) -> None:
    from ..experiment import lesion
    from ..report.console import lesion_text

    table, figure = lesion(args.runs, areas=args.area, edges=args.edge, sweep=args.sweep, cut=args.cut,
                           steps=args.steps, data_path=args.data, device=args.device, figure=args.figure)
    print(lesion_text(table))
    print(f"wrote lesions.csv in each run directory and {figure}")
