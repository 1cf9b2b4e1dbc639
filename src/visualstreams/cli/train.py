"""``visualstreams train``: train one network (or continue an interrupted run) and say what it reached."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import (
    Parser,
    add_anatomy_options,
    add_dataset_options,
    add_out,
    add_training_options,
    positive_int,
    train_config,
)

DESCRIPTION = ("Train one model compiled from a connectome, or one of the field's reference models (--model); "
               "writes config.json, history.json and model.pt to the run directory, and checkpoint.pt while it runs "
               "(at every epoch's end, and every --checkpoint-every batches), from which --resume continues an "
               "interrupted run to the same result.")
# With --resume the run's own config.json decides everything that changes the result.
RESUME_OPTIONS = {"command", "resume", "data", "checkpoint_every", "quiet"}


def add_arguments(pt: argparse.ArgumentParser) -> None:
    from ..connectome import preset_names
    from ..network.modes import MODES
    from ..network.reference import REFERENCE_MODELS

    pt.description = DESCRIPTION
    src = pt.add_mutually_exclusive_group(required=True)
    src.add_argument("--species", metavar="S", help=f"a preset ({', '.join(preset_names())})")
    src.add_argument("--connectome", metavar="FILE", help="a connectome .csv or .json file")
    src.add_argument("--model", metavar="NAME", choices=REFERENCE_MODELS,
                     help=f"a reference model instead of a connectome's network ({', '.join(REFERENCE_MODELS)}): the "
                          "torchvision and CORnet architectures, their stems adapted below 64 px (docs/network.md); "
                          "the connectome options (--mode, --steps, --intrinsic, --twin-of, --architecture) do not "
                          "apply to it")
    src.add_argument("--resume", metavar="RUN_DIR",
                     help="continue the interrupted run in RUN_DIR from its checkpoint, with the options in its "
                          "config.json (only --data, --checkpoint-every and --quiet may be given; --data names "
                          "where the run's Fashion-MNIST or --dataset is now)")
    add_out(pt, "run directory (default runs/NAME)")
    pt.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                    help="also write checkpoint.pt every N batches (default: at epoch ends only)")
    add_dataset_options(pt)
    pt.add_argument("--mode", default="gain", choices=list(MODES),
                    help="how strengths act: gain (fixed multiplier, the notebook's), learned-gain, density "
                         "(fraction of channel connections kept), none (all strengths 1: the control)")
    pt.add_argument("--steps", type=positive_int, default=1, metavar="T",
                    help="time steps (1: the feedforward network, the default; T >= 2 unrolls it over T steps with "
                         "the feedback and lateral projections, each carrying the previous step's output)")
    pt.add_argument("--intrinsic", action="store_true",
                    help="with --steps T >= 2, also give every area a recurrence within itself: a 3x3 convolution "
                         "of its own previous step, added before its ReLU (BLT's lateral connections)")
    pt.add_argument("--twin-of", type=positive_int, metavar="T",
                    help="train the feedforward twin of the T-step network (with --intrinsic: of that one) "
                         "instead: one step, every area widened to match it (--twin-match)")
    pt.add_argument("--twin-match", choices=["parameters", "compute"],
                    help="what --twin-of matches: parameters (the default: as many parameters used by the task, "
                         "within 2%%; Spoerer et al.'s BF, MODE-BF<T>) or compute (training FLOPs per image within "
                         "5%%; MODE-BC<T>)")
    pt.add_argument("--weights", metavar="FILE",
                    help="start from this state dict instead of the seed's draw: for a --model, torchvision's or "
                         "CORnet's own file (a published one you downloaded: its input must match, e.g. 3 channels "
                         "and 64 px or more for torchvision's ResNets); for a connectome network, another run's "
                         "model.pt. Checked against the network in one line; its path and SHA-256 go in config.json")
    pt.add_argument("--match-params", metavar="SPECIES",
                    help="with --model: scale every layer's channels so that the model has as many parameters, "
                         "within 2%%, as this connectome's one-step network uses on the task (a preset or a file; "
                         "depth, kernels, strides and stem kept; condition reference-matched; refused where the "
                         "architecture's steps cannot come that close). Published weights no longer fit it")
    pt.add_argument("--untrained", action="store_true",
                    help="do not train: score the network as it starts (the seed's draw, or --weights) and write it "
                         "as a run (history: epoch 0), for predict and similarity; the field's control")
    add_anatomy_options(pt)
    add_training_options(pt)


def _given_with_resume(args: argparse.Namespace) -> list[str]:
    """Options given beside --resume that would change the result (compared with train's own defaults)."""
    parser = Parser()
    add_arguments(parser)
    return [k for k, v in vars(args).items() if k not in RESUME_OPTIONS and v != parser.get_default(k)]


def run(args: argparse.Namespace) -> None:
    from ..connectome import load_connectome
    from ..errors import ConfigError
    from ..report.console import train_text
    from ..runs import RunDir, RunFinished, resume_run, train

    if args.resume:
        given = _given_with_resume(args)
        if given:
            raise ConfigError(f"--{given[0].replace('_', '-')} cannot be given with --resume (the run keeps "
                              "the options in its config.json)")
        out = args.resume
    elif args.model:
        if args.architecture:
            raise ConfigError(f"--architecture sets a connectome network's blocks; reference model {args.model} has "
                              "its own")
        conn = None
        out = args.out or str(Path("runs") / args.model)
    else:
        conn = load_connectome(args.species or args.connectome)
        out = args.out or str(Path("runs") / conn.name)
    try:
        if args.resume:
            result = resume_run(out, data_path=args.data, progress=not args.quiet,
                                checkpoint_every=args.checkpoint_every)
        else:
            result = train(conn, train_config(args), data_path=args.data, out=out, overwrite=args.overwrite,
                           progress=not args.quiet, checkpoint_every=args.checkpoint_every,
                           architecture=args.architecture, dataset=args.dataset, test_data=args.test_data,
                           image_size=args.image_size, weights=args.weights, untrained=args.untrained,
                           match_params=args.match_params)
    except RunFinished as exc:  # not an error: resuming is safe to repeat, e.g. from a job script
        print(" ".join(str(exc).split()))
        return
    except KeyboardInterrupt:
        if RunDir(out).has_checkpoint():
            print(f"visualstreams: continue with: visualstreams train --resume {out}", file=sys.stderr)
        raise
    except OSError as exc:  # a full disk mid-run: the last checkpoint is intact (atomic writes)
        if not RunDir(out).has_checkpoint():
            raise
        raise ConfigError(f"{exc.filename or out}: {exc.strerror or exc}; once that is fixed, continue with: "
                          f"visualstreams train --resume {out}") from None
    if result.resumed_from is not None:
        epoch, batch = result.resumed_from
        print(f"resumed {out} from its checkpoint at epoch {epoch}, batch {batch}")
    elif args.resume:
        print(f"{out}: no checkpoint, and no epoch had finished; trained from the first batch (equivalent to resuming)")
    print(train_text(result, out))
