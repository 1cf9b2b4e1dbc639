"""The command line: a thin layer over the Python API. Bad input: one line on stderr, exit code 2.

The top layer: it may import any other; nothing imports it (but ``__main__``).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

import pandas as pd

from ._version import __version__
from .connectome import list_connectomes, load_connectome, preset_names
from .errors import VisualStreamsError
from .experiment.reference import NOTEBOOK_RESULTS
from .format import p_clause
from .network.modes import MODES
from .runs.rundir import CompareDir, PredictDir, RunDir

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_seed = _int_at_least(0)
_nonnegative_int = _int_at_least(0)


def _float_above(minimum: float, inclusive: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = value >= minimum if inclusive else value > minimum
        if not ok or value == float("inf"):  # `not ok` also catches NaN
            kind = "a number >= 0" if inclusive else "a positive number"
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text}")
        return value

    return parse


_positive_float = _float_above(0.0, inclusive=False)
_nonnegative_float = _float_above(0.0, inclusive=True)


def _add_training_options(p: argparse.ArgumentParser) -> None:
    from .engine import PRECISIONS, RECIPES
    from .tasks import DEFAULT_CANVAS, TASK_HEADS

    g = p.add_argument_group("training (defaults come from the recipe)")
    g.add_argument("--recipe", default="notebook", choices=list(RECIPES),
                   help="notebook: Adam 1e-3, batch 64, 5 epochs (the default); fast: batch 128, one-cycle "
                        "schedule, label smoothing, flips, 3 epochs")
    g.add_argument("--epochs", type=_positive_int, help="training epochs")
    g.add_argument("--batch-size", type=_positive_int, help="training batch size")
    g.add_argument("--lr", type=_positive_float, help="learning rate (peak rate for one-cycle)")
    g.add_argument("--seed", type=_seed, default=0, help="seed for initialisation, data order and subset (0)")
    g.add_argument("--crop-pad", type=_nonnegative_int, metavar="PX",
                   help="random crop with padding: pad each training image by PX zero pixels and crop it back at "
                        "a random offset (the usual augmentation for natural images, e.g. 4 at 32 px; default 0: "
                        "none, as in both recipes)")
    g.add_argument("--train-subset", type=_positive_int, metavar="N",
                   help="train on a random N-image subset (test set stays whole)")
    g.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda, cuda:N")
    g.add_argument("--precision", default="auto", choices=list(PRECISIONS),
                   help="auto: bf16 autocast on CUDA and on CPUs with native bf16, else fp32")
    g.add_argument("--task", default="what", choices=list(TASK_HEADS),
                   help="what: classify (the notebook's); where: locate the item on a canvas; what-where: both; "
                        "occlusion: classify items partly hidden by opaque blobs (deleted to the background; "
                        "--occlusion); debris: classify items under fragments of other items drawn where they "
                        "have ink (Spoerer's digit debris, the silhouette left whole); clutter: say "
                        "which classes of several overlapping items are present (--clutter-items)")
    g.add_argument("--occlusion", metavar="LEVELS",
                   help="tasks occlusion and debris: percent of each item's pixels the blobs hide or the fragments "
                        "cover, comma-separated, 0-80 "
                        "(default 0,20,40,60); training draws each image's level from them, the test set is scored "
                        "at each (test_acc@occ20, ...)")
    g.add_argument("--clutter-items", type=_positive_int, metavar="N",
                   help="task clutter: items per image, each of another class, 2-9 (default 3; canvas 40 px)")
    g.add_argument("--canvas", type=_positive_int, metavar="PX",
                   help=f"canvas size for where tasks (default {DEFAULT_CANVAS}) and clutter (default 40); items are "
                        "28x28")
    g.add_argument("--where-weight", type=_positive_float, default=1.0,
                   help="weight of the localisation loss in what-where (1.0)")
    g.add_argument("--noise", type=_nonnegative_float, default=0.0,
                   help="std of Gaussian pixel noise on the canvas (0)")
    g.add_argument("--loss-steps", choices=["last", "all"],
                   help="with --steps T >= 2, which steps the loss reads: last (the heads on the last step, the "
                        "default) or all (the heads at every step, the mean of their losses); the test accuracy at "
                        "every step is recorded either way (test_acc@t0 ..)")
    g.add_argument("--step-norm", action="store_true",
                   help="normalise every area's convolution output at each step with a GroupNorm of that step, "
                        "before its ReLU (CORnet-S normalises each step; off by default, as the notebook's network)")
    g.add_argument("--test-every", type=_positive_int, metavar="N",
                   help="score the test set after every N-th epoch and after the last (default 1: every epoch); "
                        "the same weights and final metrics at any N, the epochs between without test metrics "
                        "(a recurrent network's scoring at every occlusion level can take as long as its training)")
    g.add_argument("--data", metavar="DIR",
                   help="Fashion-MNIST directory (IDX .gz files or the Kaggle CSV pair); "
                        "default: see 'visualstreams data --help'")
    g.add_argument("--architecture", metavar="FILE",
                   help="architecture file (.json or .toml): blocks per area and the area feeding each head; "
                        "areas it does not list get the default block of their hierarchy level")
    g.add_argument("--overwrite", action="store_true", help="replace existing run directories")
    g.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_run_sources(p: argparse.ArgumentParser) -> None:
    """The runs an analysis reads: run directories, or every finished run of a compare directory."""
    p.add_argument("runs", nargs="*", metavar="RUN_DIR", help="finished run directories")
    p.add_argument("--compare-dir", metavar="DIR", help="every finished run of a compare directory")


def _add_predict_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("neural predictivity (see 'visualstreams predict --help')")
    g.add_argument("--stimuli", metavar="CSV", help="the stimulus table: stimulus_id and filename (relative to it), "
                                                    "optionally object_name (default: beside the recordings)")
    g.add_argument("--method", default="pls", choices=["pls", "ridge"],
                   help="pls: partial least squares, 25 components, scale=False (Brain-Score's; default); ridge: "
                        "penalty by leave-one-out inside each training split (faster with many neuroids)")
    g.add_argument("--background", type=int, default=0, metavar="GREY",
                   help="grey level 0-255 around stimuli smaller than the field (default 0, black: the background "
                        "the networks were trained on; Brain-Score pads with grey, 128)")
    g.add_argument("--fit", default="region", choices=["region", "joint"],
                   help="region: one regression per recorded region, as a Brain-Score benchmark holds one (default); "
                        "joint: one regression to every region's neuroids at once (shared components and penalty)")
    g.add_argument("--splits", type=_positive_int, default=10, metavar="N", help="train/test splits (10)")
    g.add_argument("--train-fraction", type=_positive_float, default=0.9, metavar="F",
                   help="share of the stimuli to train on (0.9, Brain-Score's; the mouse work used 0.5); splits "
                        "are stratified by object_name where the stimulus table has one")
    g.add_argument("--max-features", type=_positive_int, default=1000, metavar="N",
                   help="areas with more features are reduced: exactly to the stimuli's row space when there are "
                        "no more than N stimuli, else by a sparse random projection to N (1000)")
    g.add_argument("--stimulus-degrees", type=_positive_float, default=8.0, metavar="DEG",
                   help="visual angle the stimuli covered when recorded (8)")
    g.add_argument("--field-degrees", type=_positive_float, default=8.0, metavar="DEG",
                   help="visual angle of the network's input (8, Brain-Score's default visual_degrees); a stimulus "
                        "is resized to input px x stimulus/field and centred on black")
    g.add_argument("--time-bin", type=_nonnegative_int, metavar="K",
                   help="score one time bin of the recordings (default: their mean over time bins)")
    g.add_argument("--no-ceiling", dest="ceiling", action="store_false",
                   help="no split-half ceiling (recordings without repetitions): raw r only")


def _predict_config(args: argparse.Namespace):  # -> PredictivityConfig
    from .analysis.predictivity import PredictivityConfig

    return PredictivityConfig(method=args.method, n_splits=args.splits, train_fraction=args.train_fraction,
                              max_features=args.max_features, stimulus_degrees=args.stimulus_degrees,
                              field_degrees=args.field_degrees, time_bin=args.time_bin, ceiling=args.ceiling,
                              fit=args.fit, background=args.background)

def _add_dataset_options(p: argparse.ArgumentParser, every: str = "") -> None:
    dg = p.add_argument_group("dataset (default: Fashion-MNIST, found as --data or 'visualstreams data --help' "
                              "says)")
    dg.add_argument("--dataset", metavar="NAME|PATH",
                    help=f"{every}fashion-mnist, cifar-10 (needs a path), or a path: a .npz, cifar-10-batches-py, or "
                         "a folder of class subfolders of images (see 'visualstreams data show --help'); the network "
                         "takes its image size, channels (1 or 3) and number of classes; task what only")
    dg.add_argument("--test-data", metavar="DIR", help="the image folder's test set (class subfolders); default: "
                                                       "its test/ folder, else a seeded 20%% of each class")
    dg.add_argument("--image-size", type=_positive_int, metavar="N",
                    help="resize a folder's images to N x N px (needed when their sizes differ)")


def _config(args: argparse.Namespace):  # -> TrainConfig
    from .engine import make_config

    return make_config(args.recipe, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       train_subset=args.train_subset, device=args.device, precision=args.precision,
                       task=args.task, canvas=args.canvas, where_weight=args.where_weight, noise=args.noise,
                       mode=getattr(args, "mode", None), steps=getattr(args, "steps", None),
                       crop_pad=args.crop_pad, loss_steps=args.loss_steps, occlusion=args.occlusion,
                       clutter_items=args.clutter_items, twin_of=getattr(args, "twin_of", None),
                       twin_match=getattr(args, "twin_match", None),
                       intrinsic=getattr(args, "intrinsic", None) or None,
                       step_norm=getattr(args, "step_norm", None) or None,
                       test_every=args.test_every)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="visualstreams", description="Species-specific two-stream models of the visual cortex, "
                "compiled from connectomes, trained on Fashion-MNIST and compared.")
    p.add_argument("--version", action="version", version=f"visualstreams {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    pc = sub.add_parser("connectome", help="list, show or plot connectomes",
                        description="Inspect connectomes: presets or CSV/JSON files.")
    csub = pc.add_subparsers(dest="action", required=True, parser_class=_Parser, metavar="ACTION")
    csub.add_parser("list", help="the presets, with species, source and what the strengths measure")
    ps = csub.add_parser("show", help="the labelled matrix and the pathway table",
                         description="Print a connectome as the notebook did: the labelled matrix "
                                     "(rows = source, columns = target) and the pathway table.")
    ps.add_argument("connectome", metavar="SPECIES|FILE", help=f"a preset ({', '.join(preset_names())}) "
                    "or a .csv/.json file")
    ps.add_argument("--save", metavar="FILE", help="also write it as .csv or .json")
    pdiff = csub.add_parser("diff", help="two connectomes side by side, on the areas they share",
                            description="Every projection present in either connectome, restricted to the "
                                        "areas both have, with both strengths and their difference (B - A).")
    pdiff.add_argument("a", metavar="A", help="preset or file")
    pdiff.add_argument("b", metavar="B", help="preset or file")
    pdir = csub.add_parser("directions", help="a published preset's directions by its hierarchy and by SLN",
                           description="Every projection of a published preset with the levels of its source's "
                                       "hierarchy (which gives the preset its directions), its own SLN where the "
                                       "data have one, the direction the SLN rule would give (SLN above 0.5 + "
                                       "band feedforward, below 0.5 - band feedback, between lateral) and "
                                       "whether the two agree.")
    pdir.add_argument("connectome", metavar="PRESET", help="a published preset (macaque-markov2014, ...)")
    pdir.add_argument("--band", type=float, default=0.05, metavar="B",
                      help="half-width of the SLN rule's lateral band around 0.5 (default 0.05, a convention)")
    pa = csub.add_parser("siibra", help="human streamline counts from the EBRAINS atlas, as a connectome file",
                         description="Ask siibra (pip install 'visualstreams[siibra]'; needs network) for the "
                                     "streamline counts between the Julich-Brain regions mapped onto the six "
                                     "areas (V1 = hOc1, V2 = hOc2, V4 = hOc4v+hOc4d, MT = hOc5, IT = FG1-FG4, "
                                     "LIP = hIP1-hIP3) and write them as a connectome file.")
    pa.add_argument("--out", required=True, metavar="FILE", help="connectome file to write (.csv or .json)")
    pa.add_argument("--parcellation", default="julich 3.1", help="siibra parcellation (julich 3.1)")
    pa.add_argument("--cohort", default="HCP", help="cohort of the streamline counts (HCP)")
    pa.add_argument("--subject", help="one subject of the cohort (default: the first siibra lists)")
    pa.add_argument("--average", action="store_true", help="average every matrix of the cohort (downloads each)")
    pp = csub.add_parser("plot", help="draw the connectome as a heatmap")
    pp.add_argument("connectome", metavar="SPECIES|FILE")
    pp.add_argument("--out", required=True, metavar="PNG", help="heatmap image to write")
    pp.add_argument("--graph", metavar="PNG", help="also draw the areas as a graph, edge widths by strength")

    pt = sub.add_parser("train", help="train one model", description="Train one model compiled from a "
                        "connectome; writes config.json, history.json and model.pt to the run directory, and "
                        "checkpoint.pt while it runs (at every epoch's end, and every --checkpoint-every steps), "
                        "from which --resume continues an interrupted run to the same result.")
    src = pt.add_mutually_exclusive_group(required=True)
    src.add_argument("--species", metavar="S", help=f"a preset ({', '.join(preset_names())})")
    src.add_argument("--connectome", metavar="FILE", help="a connectome .csv or .json file")
    src.add_argument("--resume", metavar="RUN_DIR",
                     help="continue the interrupted run in RUN_DIR from its checkpoint, with the options in its "
                          "config.json (only --data, --checkpoint-every and --quiet may be given; --data names "
                          "where the run's Fashion-MNIST or --dataset is now)")
    pt.add_argument("--out", metavar="DIR", help="run directory (default runs/NAME)")
    pt.add_argument("--checkpoint-every", type=_positive_int, metavar="N",
                    help="also write checkpoint.pt every N optimizer steps (default: at epoch ends only)")
    _add_dataset_options(pt)
    pt.add_argument("--mode", default="gain", choices=list(MODES),
                    help="how strengths act: gain (fixed multiplier, the notebook's), learned-gain, density "
                         "(fraction of channel connections kept), none (all strengths 1: the control)")
    pt.add_argument("--steps", type=_positive_int, default=1, metavar="T",
                    help="time steps (1: the feedforward network, the default; T >= 2 unrolls it over T steps with "
                         "the feedback and lateral projections, each carrying the previous step's output)")
    pt.add_argument("--intrinsic", action="store_true",
                    help="with --steps T >= 2, also give every area a recurrence within itself: a 3x3 convolution "
                         "of its own previous step, added before its ReLU (BLT's lateral connections)")
    pt.add_argument("--twin-of", type=_positive_int, metavar="T",
                    help="train the feedforward twin of the T-step network (with --intrinsic: of that one) "
                         "instead: one step, every area widened to match it (--twin-match)")
    pt.add_argument("--twin-match", choices=["parameters", "compute"],
                    help="what --twin-of matches: parameters (the default: as many parameters used by the task, "
                         "within 2%%; Spoerer et al.'s BF, MODE-BF<T>) or compute (training FLOPs per image within "
                         "5%%; MODE-BC<T>)")
    _add_training_options(pt)

    pm = sub.add_parser("compare", help="train several species and compare them",
                        description="Train one model per species or connectome file under the same recipe "
                                    "and print one table beside the notebook's figures; writes summary.csv, "
                                    "learning_curves.png and one run directory per species in --out.")
    pm.add_argument("--species", nargs="+", default=[], metavar="S",
                    help="presets or connectome files (default: human marmoset mouse)")
    pm.add_argument("--connectome", nargs="+", default=[], metavar="FILE", help="more connectome files")
    pm.add_argument("--out", default="runs/compare", metavar="DIR", help="output directory (runs/compare)")
    pm.add_argument("--seeds", type=_positive_int, default=1, metavar="N",
                    help="seeds per species and mode: --seed, --seed+1, ... (1)")
    pm.add_argument("--modes", nargs="+", default=["gain"], choices=list(MODES), metavar="MODE",
                    help=f"connection modes to compare ({', '.join(MODES)}; default gain)")
    pm.add_argument("--steps", nargs="+", type=_positive_int, default=[1], metavar="T", dest="step_counts",
                    help="time steps to compare, a factor like --modes (default 1; e.g. --steps 1 4: feedforward "
                         "vs unrolled over 4 steps; runs of T >= 2 steps are labelled MODE-T<k>, e.g. gain-T4)")
    pm.add_argument("--intrinsic", nargs="+", choices=["off", "on"], metavar="off|on", dest="within",
                    help="for step counts T >= 2: without (off, the default) and/or with (on) every area's "
                         "recurrence within itself, a factor like --steps (e.g. --intrinsic off on: MODE-T4 and "
                         "MODE-T4i)")
    pm.add_argument("--twins", nargs="*", choices=["parameters", "compute"], metavar="MATCH",
                    help="for each recurrent network also train its feedforward twin, one step with every area "
                         "widened to match it: on the parameters the task uses (parameters, the default of a bare "
                         "--twins; within 2%%, MODE-BF<T>) and/or on training FLOPs per image (compute; within "
                         "5%%, MODE-BC<T>)")
    pm.add_argument("--resume", action="store_true",
                    help="keep finished runs in --out, continue interrupted ones from their checkpoints, train "
                         "the rest (give the same options as the interrupted command)")
    pm.add_argument("--checkpoint-every", type=_positive_int, metavar="N",
                    help="also checkpoint every N optimizer steps (default: at epoch ends only)")
    pm.add_argument("--strategy", default="auto", choices=["auto", "stacked", "sequential"],
                    help="stacked: train runs of the same network structure together, one vmapped step for all "
                         "(fast on GPUs; epoch-end checkpoints only); sequential: one after another; auto "
                         "(default): stacked on CUDA, sequential on the CPU, where stacking is slower")
    pm.add_argument("--max-stack", type=_positive_int, default=48, metavar="M",
                    help="at most M models in one stack (48)")
    pm.add_argument("--executor", default="local", choices=["local", "ray"],
                    help="local: train in this process (default); ray: each run (or stack) one Ray task, on a local "
                         "Ray instance or the cluster at --ray-address (pip install 'visualstreams[ray]'); the "
                         "output directory must be on a file system every worker sees")
    pm.add_argument("--ray-address", metavar="ADDR",
                    help="an existing Ray cluster (e.g. auto, or HOST:6379 after 'ray start --head'); default: start "
                         "a local Ray instance for this sweep")
    pm.add_argument("--workers", type=_positive_int, metavar="N",
                    help="at most N runs at once under Ray (default: as many as the CPUs allow)")
    pm.add_argument("--cpus-per-run", type=_positive_float, default=1.0, metavar="C",
                    help="CPUs (and torch threads, at least 1) per run under Ray (1); results equal a local "
                         "sweep's at equal threads")
    pm.add_argument("--gpus-per-run", type=_nonnegative_float, default=0.0, metavar="G",
                    help="GPUs per run under Ray; a fraction such as 0.25 puts four runs on one GPU (0)")
    pm.add_argument("--ray-verbose", action="store_true",
                    help="let Ray's own log lines and the workers' output through to stderr (default: only "
                         "visualstreams' own)")
    pm.add_argument("--similarity", action=argparse.BooleanOptionalAction, default=None,
                    help="compare what the areas compute across runs (CKA, RSA; see 'visualstreams similarity') and "
                         "add it to the report; default: when a species has two seeds or more")
    pm.add_argument("--recordings", metavar="FILE",
                    help="also score every finished run against these recordings (see 'visualstreams predict "
                         "--help'): tables and heatmap in --out, scores per species and condition with 95%% CIs, "
                         "Welch tests with Holm's correction, a report section")
    _add_predict_options(pm)
    _add_dataset_options(pm, "every run trains on it (loaded once; a folder's held-out split drawn by --seed): ")
    _add_training_options(pm)

    pl = sub.add_parser("lesion", help="silence areas or projections of trained runs and evaluate again",
                        description="Evaluate trained runs intact and with areas silenced (output set to zero; in "
                                    "runs of several steps also from a step on) or projections cut (strength 0; one, "
                                    "or every feedback or lateral one at once), without retraining. Prints the "
                                    "metrics before "
                                    "and after, writes lesions.csv into each run directory and a bar chart "
                                    "(means over runs, 95% CI error bars).")
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
    pl.add_argument("--steps", type=_positive_int, metavar="T",
                    help="evaluate unrolled over T steps instead of the run's own (1: the feedforward sweep alone)")
    pl.add_argument("--data", metavar="DIR", help="where the runs' data are (default: the dataset their config.json "
                                                  "records; give it when a run's image set has moved)")
    pl.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    pl.add_argument("--figure", metavar="PNG", help="bar chart path (default lesions.png beside the runs)")

    psim = sub.add_parser(
        "similarity", help="do the areas of trained runs represent the same things? CKA and RSA across runs",
        description="Record each area's activations on one fixed probe set (--images test images chosen by a fixed "
                    "seed, the same for every run; fixed positions on canvas tasks) and compare them: area x area "
                    "within each run, run x run for each area, and for each area and pair of species whether runs of "
                    "two species differ more than seeds of one species do (within- minus between-species similarity "
                    "with a 95% bootstrap CI over seeds, a one-sided permutation test over run labels within seeds, "
                    "Holm across areas and pairs). Runs of the same seed share their initial weights, so they are "
                    "left out of the between-species pairs and keep their seed's pairing in every relabelling. "
                    "Writes similarity_*.csv and similarity_*.png into --out.")
    _add_run_sources(psim)
    psim.add_argument("--areas", nargs="+", metavar="AREA", help="areas to compare (default: every shared area)")
    psim.add_argument("--metric", nargs="+", default=["cka", "rsa"], choices=["cka", "cka-biased", "rsa",
                                                                             "rsa-whitened"],
                      help="cka: linear CKA, debiased (unbiased HSIC); rsa: correlation-distance RDMs compared by "
                           "Spearman; cka-biased, rsa-whitened (whitened cosine) also (default: cka rsa)")
    psim.add_argument("--images", type=_positive_int, default=1000, metavar="N", help="probe images (1000)")
    psim.add_argument("--homology", default="name", metavar="name|presets|FILE",
                      help="name: compare areas by name (default); presets: the homology the six-area presets "
                           "state, for their full versions (e.g. the marmoset's V5 as MT, TEO as IT); FILE: a JSON "
                           "object mapping area names to the names to compare them under")
    psim.add_argument("--include-same-seed", action="store_true",
                      help="also use between-species pairs of the same seed (inflated by shared initial weights)")
    psim.add_argument("--out", metavar="DIR", help="output directory (default: the compare directory, else beside "
                                                   "the runs)")
    psim.add_argument("--data", metavar="DIR", help="where the runs' data are (default: the dataset their "
                                                    "config.json records; give it when an image set has moved)")
    psim.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    psim.add_argument("--quiet", action="store_true", help="no progress bar")

    ppr = sub.add_parser(
        "predict", help="how well does each area predict recorded neurons? neural predictivity per area and region",
        description="Record every area (every step AREA@tK of recurrent networks) on the recordings' stimuli, fit "
                    "a cross-validated linear map from each area to every recorded neuroid (PLS with 25 components "
                    "as Brain-Score, or ridge with its penalty chosen inside each training split), and score it by "
                    "the held-out Pearson r per neuroid, the median over each region's neuroids, the mean over "
                    "splits; beside it the split-half ceiling (Spearman-Brown) and the ceiled score r^2 / ceiling, "
                    "RSA and CKA per area and region, and the best area per region. Recordings: a Brain-Score/"
                    "brainio NetCDF assembly (.nc, presentation x neuroid [x time_bin]; needs "
                    "'visualstreams[brains]'), an .npz, or a CSV with one REGION/NEUROID column per neuroid; "
                    "stimuli: a CSV of stimulus_id and filename (default: <recordings>_stimuli.csv or stimuli.csv "
                    "beside it). Writes predictivity*.csv, ceilings.csv, brain_similarity.csv, best_areas*.csv, "
                    "predictivity.png, predictivity.md and predict.json into --out.")
    _add_run_sources(ppr)
    ppr.add_argument("--recordings", required=True, metavar="FILE", help="the recordings (.nc, .npz or .csv)")
    _add_predict_options(ppr)
    ppr.add_argument("--areas", nargs="+", metavar="AREA", help="areas to score (names, or AREA@tK; default all)")
    ppr.add_argument("--regions", nargs="+", metavar="REGION", help="recorded regions to score (default all)")
    ppr.add_argument("--out", metavar="DIR", help="output directory (default: the compare directory, else beside "
                                                  "the runs)")
    ppr.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N")
    ppr.add_argument("--quiet", action="store_true", help="no progress bars")

    pex = sub.add_parser("export", help="write a trained run for another tool (a Brain-Score vision plugin)",
                         description="Write a trained run in another tool's form.")
    exsub = pex.add_subparsers(dest="export_command", required=True, parser_class=_Parser, metavar="FORMAT")
    pbs = exsub.add_parser(
        "brainscore", help="a Brain-Score vision 2.x model plugin folder",
        description="Write a brainscore-vision 2.x model plugin: __init__.py (its registry entry: a ModelCommitment "
                    "with an explicit region-to-layer map V1, V2, V4, IT from the connectome's areas; for a "
                    "network of several steps, CORnet-S's commitment mapping per-step layers to time bins), model.py "
                    "(the network in Brain-Score's PytorchWrapper and the preprocessing of its stimuli to the "
                    "network's input), region_layer_map/<id>.json, requirements.txt, metadata.yaml, test.py and "
                    "the run's files. Submit it as brainscore_vision/models/<id>/ (see docs/brains.md).")
    pbs.add_argument("run", metavar="RUN_DIR", help="a finished run directory")
    pbs.add_argument("--out", required=True, metavar="DIR", help="the plugin folder to write")
    pbs.add_argument("--identifier", metavar="ID",
                     help="the model's Brain-Score identifier (default visualstreams-<species>-<condition>-seed<k>)")
    pbs.add_argument("--visual-degrees", type=_positive_float, default=8.0, metavar="DEG",
                     help="the network's field of view in degrees (8, Brain-Score's default)")
    pbs.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")

    pd_ = sub.add_parser("data", help="find or download Fashion-MNIST; show any dataset",
                         description="Fashion-MNIST is looked for in: $VISUALSTREAMS_DATA; the cache "
                                     "($VISUALSTREAMS_CACHE, else $XDG_CACHE_HOME/visualstreams/fashion-mnist); "
                                     "/usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist); "
                                     "then it is downloaded into the cache and verified by checksum.")
    dsub = pd_.add_subparsers(dest="action", required=True, parser_class=_Parser, metavar="ACTION")
    df_ = dsub.add_parser("fetch", help="find the data (downloading it if needed) and print where it is")
    df_.add_argument("--data", metavar="DIR", help="check this directory instead of searching")
    df_.add_argument("--url", help="download base URL (default: the canonical Fashion-MNIST location, "
                                   "or $VISUALSTREAMS_DATA_URL)")
    df_.add_argument("--no-download", action="store_true", help="only look, never download")
    ds_ = dsub.add_parser("show", help="load a dataset and print what was found: counts per class, image size, "
                                       "channels, where it came from",
                          description="NAME is one of: fashion-mnist (the default; found by the search order above), "
                                      "cifar-10 (needs a path). PATH is recognised by what it holds: the Fashion-MNIST "
                                      "IDX files or CSV pair; cifar-10-batches-py (torchvision's layout, read without "
                                      "torchvision); a .npz (images, labels[, test_images, test_labels, classes]); "
                                      "else a folder of class subfolders of images (optionally train/ and test/; "
                                      "without a test set, a seeded 20% of each class is held out).")
    ds_.add_argument("dataset", nargs="?", default="fashion-mnist", metavar="NAME|PATH",
                     help="a dataset name or path (default: fashion-mnist)")
    ds_.add_argument("--test-data", metavar="DIR", help="an image folder's test set (class subfolders)")
    ds_.add_argument("--image-size", type=int, metavar="N", help="resize every image of a folder to N x N px "
                                                                 "(needed when their sizes differ)")
    ds_.add_argument("--seed", type=int, default=0, help="seed of the held-out split when there is no test set (0)")
    return p


# -- commands ----------------------------------------------------------------------------------------------------
def cmd_connectome(args: argparse.Namespace) -> None:
    from .connectome import save_connectome

    if args.action == "list":
        def short(text: str, width: int = 100) -> str:
            return text if len(text) <= width else text[: width - 3] + "..."

        presets = list_connectomes()
        width = max(len(n) for n in presets["name"]) + 1
        for r in presets.itertuples():
            fb = f" ({r.edges - r.recurrent} feedforward, {r.recurrent} feedback or lateral)" if r.recurrent else ""
            print(f"{r.name:<{width}} {r.species:<9} {r.areas} areas, {r.edges} projections{fb}")
            print(f"    source:  {short(r.source)}")
            print(f"    measure: {short(r.measure)}")
        return
    if args.action == "diff":
        from .connectome import diff_connectomes

        a, b = load_connectome(args.a), load_connectome(args.b)
        if a.name == b.name:
            b = b.replace(name=f"{b.name} (B)")
        table = diff_connectomes(a, b)
        print(f"A = {a.name}: {a.source}\nB = {b.name}: {b.source}\n")
        print(table.round(3).to_string(index=False) if len(table) else "no shared projections")
        return
    if args.action == "directions":
        from .connectome import direction_rules

        table = direction_rules(args.connectome, args.band)
        conn = load_connectome(args.connectome)
        print(f"{conn.name}: directions by {conn.extra['level_source']}")
        with_sln = table[table["SLN"].notna()]
        if len(with_sln):
            print(f"the SLN rule (lateral band {0.5 - args.band:g}-{0.5 + args.band:g}) agrees for "
                  f"{int(with_sln['agree'].sum())} of the {len(with_sln)} projections with an SLN")
        else:
            print("the data have no SLN: the hierarchy alone gives the directions")
            table = table.drop(columns=["SLN", "sln", "agree"])
        print(table.to_string(index=False))
        return
    if args.action == "siibra":
        from .connectome.presets.atlas import fetch_siibra_connectome

        if Path(args.out).suffix.lower() not in (".csv", ".json"):  # before minutes of downloading
            raise VisualStreamsError(f"{args.out}: connectome files end in .csv or .json")
        conn = fetch_siibra_connectome(args.parcellation, args.cohort, args.subject, average=args.average)
        save_connectome(conn, args.out)
        print(conn.to_frame().round(2).to_string())
        print(f"wrote {args.out}")
        return
    from .network import compile_network

    # Shows only what compiles into a network; at two steps, so that a cycle (recurrence) is shown, not refused.
    spec = compile_network(args.connectome, steps=2)
    conn = spec.connectome
    if args.action == "plot":
        from .viz import plot_connectome, plot_connectome_graph

        plot_connectome(conn, args.out)
        print(f"wrote {args.out}")
        if args.graph:
            plot_connectome_graph(conn, args.graph)
            print(f"wrote {args.graph}")
        return
    print(f"{conn.name.upper()} connectivity (rows: source, columns: target)")
    for key in ("species", "measure", "source", "notes"):
        value = getattr(conn, key)
        if value:
            print(f"  {key}: {value}")
    print(conn.to_frame().round(2).to_string())
    kinds = {(p.source, p.target): p.direction for p in spec.projections}
    paths = conn.pathways().assign(direction=lambda d: [kinds[(s, t)] for s, t in zip(d["source"], d["target"],
                                                                                        strict=True)])
    counts = paths["direction"].value_counts()
    print(f"\n{len(paths)} projections: " + ", ".join(f"{counts.get(d, 0)} {d}" for d in
                                                     ("feedforward", "feedback", "lateral")) +
          " (a one-step network uses the feedforward ones; --steps 2 or more uses all)")
    print(paths[["pathway", "strength", "direction"]].round(3).to_string(index=False))
    if args.save:
        save_connectome(conn, args.save)
        print(f"wrote {args.save}")


# With --resume the run's own config.json decides everything that changes the result.
RESUME_OPTIONS = {"command", "resume", "data", "checkpoint_every", "quiet"}


def cmd_train(args: argparse.Namespace) -> None:
    from .errors import ConfigError
    from .runs import RunFinished, resume_run, train

    if args.resume:
        defaults = vars(build_parser().parse_args(["train", "--resume", args.resume]))
        given = [k for k, v in vars(args).items() if k not in RESUME_OPTIONS and v != defaults.get(k)]
        if given:
            raise ConfigError(f"--{given[0].replace('_', '-')} cannot be given with --resume (the run keeps "
                              "the options in its config.json)")
        out = args.resume
    else:
        conn = load_connectome(args.species or args.connectome)
        out = args.out or str(Path("runs") / conn.name)
    try:
        if args.resume:
            result = resume_run(out, data_path=args.data, progress=not args.quiet,
                                checkpoint_every=args.checkpoint_every)
        else:
            result = train(conn, _config(args), data_path=args.data, out=out, overwrite=args.overwrite,
                           progress=not args.quiet, checkpoint_every=args.checkpoint_every,
                           architecture=args.architecture, dataset=args.dataset, test_data=args.test_data,
                           image_size=args.image_size)
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
    name = result.config["name"]
    if result.resumed_from is not None:
        epoch, step = result.resumed_from
        print(f"resumed {out} from its checkpoint at epoch {epoch}, step {step}")
    elif args.resume:
        print(f"{out}: no checkpoint, and no epoch had finished; trained from step 0 (equivalent to resuming)")
    print(result.history.round(4).to_string(index=False))
    f = result.final
    described = {"acc": "test accuracy {:.2f}%", "loc_err": "localisation error {:.2f} px", "r2": "R^2 {:.3f}",
                 "loss": "test loss {:.4f}"}
    parts = [fmt.format(f[f"test_{k}"]) for k, fmt in described.items() if f"test_{k}" in f]
    resolved = result.config.get("resolved", {})
    how = ", ".join(str(resolved[k]) for k in ("device", "precision") if k in resolved)
    if isinstance(resolved.get("threads"), int):  # configs written before threads were recorded lack them
        how += f", {resolved['threads']} thread{'s' if resolved['threads'] > 1 else ''}"
    print(f"{name}: {', '.join(parts)}" + (f" ({how})" if how else "") + f"; run written to {out}")
    spec = result.model.spec
    train_cfg = result.config.get("train", {})
    twin_of = train_cfg.get("twin_of")
    unused = sum(d != "feedforward" for d in spec.connectome.directions.values()) if spec.steps == 1 else 0
    if twin_of:  # the control, not a network that leaves its feedback out: say what it is matched to
        on = ("training FLOPs per image (within 5%)" if train_cfg.get("twin_match") == "compute" else
              "parameters used by the task (within 2%)")
        print(f"(the feedforward twin of the {twin_of}-step network: one step, {result.config.get('parameters'):,} "
              f"parameters, {result.config.get('parameters_used'):,} used, "
              f"{result.config.get('flops'):,} training FLOPs per image; matched on {on})")
    elif unused:  # nothing silent: the data's feedback is left out of a one-step network on purpose, and said so
        print(f"(a one-step network: its {unused} feedback and lateral projections are used with --steps 2 or more)")


def cmd_compare(args: argparse.Namespace) -> None:
    from .errors import ConfigError
    from .experiment import compare

    species = list(args.species) + list(args.connectome)
    if not species:
        species = list(NOTEBOOK_RESULTS)
    seeds = [args.seed + i for i in range(args.seeds)]
    out = Path(args.out)
    try:
        summary = compare(species, _config(args), out, seeds=seeds, modes=args.modes, steps=args.step_counts,
                          twins=False if args.twins is None else (args.twins or True),
                          intrinsic=None if args.within is None else [v == "on" for v in args.within],
                          data_path=args.data, dataset=args.dataset, test_data=args.test_data,
                          image_size=args.image_size, overwrite=args.overwrite, resume=args.resume,
                          progress=not args.quiet,
                          checkpoint_every=args.checkpoint_every, architecture=args.architecture,
                          strategy=args.strategy, max_stack=args.max_stack, similarity=args.similarity,
                          executor=args.executor, ray_address=args.ray_address, workers=args.workers,
                          cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run,
                          ray_verbose=args.ray_verbose, recordings=args.recordings, stimuli=args.stimuli,
                          predictivity=_predict_config(args) if args.recordings else None)
    except OSError as exc:  # finished runs and the last checkpoint are intact (atomic writes)
        if not CompareDir(out).has_experiment():
            raise
        raise ConfigError(f"{exc.filename or out}: {exc.strerror or exc}; once that is fixed, continue with the "
                          "same command and --resume") from None
    cdir = CompareDir(out)
    print(format_comparison(summary, cdir.read_table(CompareDir.STATS), cdir.read_table(CompareDir.TESTS),
                            cdir.similarity_skipped()))
    print(f"wrote {cdir.file(CompareDir.SUMMARY)}, {CompareDir.STATS}, {CompareDir.TESTS}, {CompareDir.CURVES} and "
          f"{CompareDir.REPORT_HTML} in {out}")


def format_comparison(summary: pd.DataFrame, stats: pd.DataFrame, tests: pd.DataFrame,
                      similarity_skipped: str | None = None) -> str:
    """One row per mode and species: mean +/- 95% CI half-width over seeds, beside the notebook's figures;
    then the pairwise differences that survive Holm's correction; last, why the similarity section is missing
    when its analysis failed (``similarity_skipped``)."""
    def num(x: object, fmt: str) -> str:
        return "-" if x is None or pd.isna(x) else format(x, fmt)

    metrics = [m for m in ("test_acc", "test_loss", "test_loc_err", "test_r2") if m in set(stats.get("metric", []))]
    rows = []
    for (mode, species), grp in stats.groupby(["mode", "species"], sort=False):
        row = {"species": species, "mode": mode, "n": int(grp["n"].iloc[0])}
        for m in metrics:
            s = grp[grp["metric"] == m].iloc[0]
            half = (s["ci_high"] - s["ci_low"]) / 2
            digits = ".2f" if m.endswith("acc") or m.endswith("err") else ".4f"
            row[m.removeprefix("test_")] = num(s["mean"], digits) + ("" if pd.isna(half) else f" ± {half:{digits}}")
        runs = summary[(summary["species"] == species) & (summary["mode"] == mode)]
        if "notebook_test_acc" in summary and summary["notebook_test_acc"].notna().any():
            row["notebook acc"] = num(runs["notebook_test_acc"].iloc[0], ".2f")
        row["train s/run"] = num(runs["seconds"].mean(), ".1f")
        rows.append(row)
    lines = [pd.DataFrame(rows).to_string(index=False)]
    failed = summary[summary["status"] != "ok"]
    for r in failed.itertuples():
        lines.append(f"FAILED {r.species} {r.mode} seed {r.seed}: {r.status}")
    testable = tests[tests["p"].notna()] if len(tests) else tests
    if len(tests) and not len(testable):
        lines.append("(one seed per group: no test can separate a difference from seed noise; use --seeds N)")
    tests = testable
    if len(tests):
        lines.append("")
        lines.append("pairwise differences (Welch t-test, Holm-corrected within each metric and stratum):")
        for r in tests[tests["metric"].isin(["test_acc", "test_loc_err", "test_r2"])].itertuples():
            flag = "*" if r.significant else " "
            stratum = getattr(r, "mode", None) if r.compare == "species" else getattr(r, "species", None)
            lines.append(f" {flag} {r.metric:<12} {r.group_a} - {r.group_b} ({stratum}): {r.diff:+.3f} "
                         f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}], p {p_clause(r.p)}, p_holm {p_clause(r.p_holm)}")
        lines.append("(* = significant after correction)")
    if similarity_skipped:  # at the end, where it is read: the warning about it scrolled by before the table
        lines.append("")
        lines.append(f"MISSING representational similarity (no similarity_*.csv, none in the report): "
                     f"{similarity_skipped}")
    return "\n".join(lines)


def cmd_data(args: argparse.Namespace) -> None:
    from .data import find_data, load_fashion_mnist, show_dataset

    if args.action == "show":
        print(show_dataset(args.dataset, test_path=args.test_data, size=args.image_size, seed=args.seed))
        return
    directory = find_data(args.data, download=not args.no_download, url=args.url)
    ds = load_fashion_mnist(directory)
    print(f"Fashion-MNIST ({ds.format}) at {directory}: {len(ds.train_labels)} train, {len(ds.test_labels)} test")
    for name, md5 in ds.checksums.items():
        print(f"  {name}  md5 {md5}")


def cmd_lesion(args: argparse.Namespace) -> None:
    from .analysis.lesions import lesion_runs
    from .runs import lesion_figure_path
    from .viz import plot_lesions

    df = lesion_runs(args.runs, args.area, args.edge, args.sweep, args.data, args.device, cut=args.cut,
                     steps=args.steps)
    cols = [c for c in df.columns if c.startswith("test_") or c.startswith("change_")]
    table = df.groupby("lesion", sort=False)[cols].mean()
    n = df["run"].nunique()
    print(f"test metrics intact and lesioned (mean over {n} run{'s' if n > 1 else ''}):")
    print(table.round(4).to_string())
    figure = Path(args.figure) if args.figure else lesion_figure_path(args.runs)
    plot_lesions(df, figure)
    print(f"wrote lesions.csv in each run directory and {figure}")


def cmd_similarity(args: argparse.Namespace) -> None:
    from .experiment import similarity_of

    out, result = similarity_of(args.runs, compare_dir=args.compare_dir, areas=args.areas, metrics=args.metric,
                                n_images=args.images, homology=args.homology, include_same_seed=args.include_same_seed,
                                out=args.out, data_path=args.data, device=args.device, progress=not args.quiet)
    n = len(result.runs)
    print(f"{n} run{'s' if n > 1 else ''}, {len(result.areas)} areas ({', '.join(result.areas)}), "
          f"{result.n_images} probe images")
    for table in (result.differences, result.mode_differences):
        for sentence in table["sentence"] if len(table) else ():
            print(f"  {sentence}")
    if not len(result.differences) and not len(result.mode_differences) and len(result.across):
        means = result.across.groupby(["metric", "area"], sort=False)["similarity"].mean().unstack(0)
        print("mean similarity between runs:\n" + means.round(3).to_string())
    print(f"wrote {', '.join(CompareDir.SIMILARITY)} and the figures in {out}")


def cmd_export(args: argparse.Namespace) -> None:
    from .export import export_brainscore

    out = export_brainscore(args.run, args.out, identifier=args.identifier, visual_degrees=args.visual_degrees,
                            overwrite=args.overwrite)
    print(f"wrote the Brain-Score plugin in {out}: copy it to brainscore_vision/models/{out.name}/ "
          "of a brain-score/vision checkout to score or submit it")


def cmd_predict(args: argparse.Namespace) -> None:
    from .experiment import predict
    from .report.predictivity import best_area_sentences

    out, result = predict(args.runs, compare_dir=args.compare_dir, recordings=args.recordings, stimuli=args.stimuli,
                          out=args.out, config=_predict_config(args), areas=args.areas, regions=args.regions,
                          device=args.device, progress=not args.quiet)
    print(f"{len(result.runs)} run(s) against {result.recordings['source']}: {result.recordings['stimuli']} stimuli")
    col = "ceiled" if result.summary["ceiled"].notna().any() else "r"
    table = result.summary.groupby(["name", "region"], sort=False)[col].mean().unstack()
    print(f"{col} (mean over runs):\n" + table.round(3).to_string())
    print("ceilings: " + ", ".join(f"{r.region} {r.ceiling:.3f}" for r in result.ceilings.itertuples()))
    from .analysis.predictivity import best_areas

    for line in best_area_sentences(best_areas(result)):
        print(f"  {line}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"wrote {PredictDir.SUMMARY}, {PredictDir.HEATMAP}, {PredictDir.REPORT} and the other tables in {out}")


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: TextIO | None = None, line: str | None = None) -> None:
    """A warning as one line on stderr, as errors are, not Python's two (file, line and source)."""
    print(f"visualstreams: warning: {' '.join(str(message).split())}", file=file or sys.stderr)


COMMANDS = {"connectome": cmd_connectome, "train": cmd_train, "compare": cmd_compare, "lesion": cmd_lesion,
            "similarity": cmd_similarity, "predict": cmd_predict, "export": cmd_export,
            "data": cmd_data}


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: TextIO | None = None, line: str | None = None) -> None:
    """A warning as one line on stderr, like an error (Python's default adds the file and the source line)."""
    print(f"visualstreams: warning: {' '.join(str(message).split())}", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():  # restores the caller's warning display on return
        warnings.showwarning = _one_line_warning
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        with warnings.catch_warnings():  # restores the caller's warning display (main may run inside a program)
            warnings.showwarning = _one_line_warning
            COMMANDS[args.command](args)
            sys.stdout.flush()  # a pipe closed early shows here, in the handler below, not at interpreter exit
    except VisualStreamsError as exc:
        print(f"visualstreams: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `visualstreams ... | head` closed the pipe: what it wanted was printed, no error
        # Python would report the pipe again when it flushes stdout at exit: point stdout at nothing first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # e.g. the disk filled up mid-run: results written so far stay whole (atomic writes)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"visualstreams: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("visualstreams: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
