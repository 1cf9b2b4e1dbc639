"""``visualstreams export``: write a trained run for another tool (a Brain-Score vision plugin)."""

from __future__ import annotations

import argparse

from .options import Parser, add_out, add_overwrite, positive_float


def add_arguments(pex: argparse.ArgumentParser) -> None:
    pex.description = "Write a trained run in another tool's form."
    exsub = pex.add_subparsers(dest="export_command", required=True, parser_class=Parser, metavar="FORMAT")
    pbs = exsub.add_parser(
        "brainscore", help="a Brain-Score vision 2.x model plugin folder",
        description="Write a brainscore-vision 2.x model plugin: __init__.py (its registry entry: a ModelCommitment "
                    "with an explicit region-to-layer map V1, V2, V4, IT from the connectome's areas; for a "
                    "network of several steps, CORnet-S's commitment mapping per-step layers to time bins), model.py "
                    "(the network in Brain-Score's PytorchWrapper and the preprocessing of its stimuli to the "
                    "network's input), region_layer_map/<id>.json, requirements.txt, metadata.yaml, test.py and "
                    "the run's files. Submit it as brainscore_vision/models/<id>/ (see docs/brains.md).")
    pbs.add_argument("run", metavar="RUN_DIR", help="a finished run directory")
    add_out(pbs, "the plugin folder to write", required=True)
    pbs.add_argument("--identifier", metavar="ID",
                     help="the model's Brain-Score identifier (default visualstreams-<species>-<condition>-seed<k>)")
    pbs.add_argument("--visual-degrees", type=positive_float, metavar="DEG",
                     help="the network's field of view in degrees (default 8, Brain-Score's; a run with --blocks "
                          "anatomy: the field its blocks were derived for, and no other)")
    add_overwrite(pbs, "replace a non-empty --out")


def run(args: argparse.Namespace) -> None:
    from ..export import export_brainscore

    out = export_brainscore(args.run, args.out, identifier=args.identifier, visual_degrees=args.visual_degrees,
                            overwrite=args.overwrite)
    print(f"wrote the Brain-Score plugin in {out}: copy it to brainscore_vision/models/{out.name}/ "
          "of a brain-score/vision checkout to score or submit it")
