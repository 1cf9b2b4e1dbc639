"""``visualstreams similarity``: do the areas of trained runs represent the same things? CKA and RSA across runs."""

from __future__ import annotations

import argparse

from .options import add_data, add_device, add_out, add_quiet, add_run_sources, positive_int


def add_arguments(psim: argparse.ArgumentParser) -> None:
    psim.description = ("Record each area's activations on one fixed probe set (--images test images chosen by a fixed "
                    "seed, the same for every run; fixed positions on canvas tasks) and compare them: area x area "
                    "within each run, run x run for each area, and for each area and pair of species whether runs of "
                    "two species differ more than seeds of one species do (within- minus between-species similarity "
                    "with a 95% bootstrap CI over seeds, a one-sided permutation test over run labels within seeds, "
                    "Holm across areas and pairs). Runs of the same seed share their initial weights, so they are "
                    "left out of the between-species pairs and keep their seed's pairing in every relabelling. "
                    "Writes similarity_*.csv and similarity_*.png into --out.")
    add_run_sources(psim)
    psim.add_argument("--areas", nargs="+", metavar="AREA", help="areas to compare (default: every shared area)")
    psim.add_argument("--metric", nargs="+", default=["cka", "rsa"], choices=["cka", "cka-biased", "rsa",
                                                                             "rsa-whitened"],
                      help="cka: linear CKA, debiased (unbiased HSIC); rsa: correlation-distance RDMs compared by "
                           "Spearman; cka-biased, rsa-whitened (whitened cosine) also (default: cka rsa)")
    psim.add_argument("--images", type=positive_int, default=1000, metavar="N", help="probe images (1000)")
    psim.add_argument("--homology", default="name", metavar="name|presets|FILE",
                      help="name: compare areas by name (default); presets: the homology the six-area presets "
                           "state, for their full versions (e.g. the marmoset's V5 as MT, TEO as IT); FILE: a JSON "
                           "object mapping area names to the names to compare them under")
    psim.add_argument("--include-same-seed", action="store_true",
                      help="also use between-species pairs of the same seed (inflated by shared initial weights)")
    add_out(psim, "output directory (default: the compare directory, else beside the runs)")
    add_data(psim, of_runs=True)
    add_device(psim)
    add_quiet(psim)


def run(args: argparse.Namespace) -> None:
    from ..experiment import similarity_of
    from ..report.console import similarity_text
    from ..runs import CompareDir

    out, result = similarity_of(args.runs, compare_dir=args.compare_dir, areas=args.areas, metrics=args.metric,
                                n_images=args.images, homology=args.homology, include_same_seed=args.include_same_seed,
                                out=args.out, data_path=args.data, device=args.device, progress=not args.quiet)
    print(similarity_text(result))
    print(f"wrote {', '.join(CompareDir.SIMILARITY)} and the figures in {out}")
