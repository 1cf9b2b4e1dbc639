"""What every command parses alike: the parser class, the number types, and the options several commands share,
each defined once (one default, one help text).

Light on purpose: nothing here imports torch, pandas or the package's stages, so that ``--help`` and ``--version``
start at once; the choices a stage owns (recipes, tasks, modes) are imported where the command that needs them
builds its options.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from ..errors import ConfigError

EXIT_USAGE = 2
PROG = "visualstreams"
ERROR = f"{PROG}: error:"  # the one prefix of every error, the parser's and the commands'


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line with the one prefix, not usage + message
        where = self.prog.removeprefix(PROG).strip()
        self.exit(EXIT_USAGE, f"{ERROR} {where + ': ' if where else ''}{message}\n")


def int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)
seed = nonnegative_int


def float_above(minimum: float, inclusive: bool) -> Callable[[str], float]:
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


positive_float = float_above(0.0, inclusive=False)
nonnegative_float = float_above(0.0, inclusive=True)


# -- the shared options ------------------------------------------------------------------------------------------
def add_device(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA when present, else the CPU; the default), cpu, "
                                                    "cuda, cuda:N")


def add_quiet(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_data(p: argparse.ArgumentParser | argparse._ArgumentGroup, *, of_runs: bool = False) -> None:
    """``--data``: where Fashion-MNIST is (training), or where the runs' data are now (commands that read runs)."""
    if of_runs:
        p.add_argument("--data", metavar="DIR", help="where the runs' data are (default: the dataset their "
                                                     "config.json records; give it when a run's image set has moved)")
    else:
        p.add_argument("--data", metavar="DIR", help="Fashion-MNIST directory (IDX .gz files or the Kaggle CSV "
                                                     "pair); default: see 'visualstreams data --help'")


def add_out(p: argparse.ArgumentParser | argparse._ArgumentGroup, what: str, *, default: str | None = None,
            required: bool = False, metavar: str = "DIR") -> None:
    """``--out``: what the command writes; the help says the default."""
    p.add_argument("--out", default=default, required=required, metavar=metavar, help=what)


def add_overwrite(p: argparse.ArgumentParser | argparse._ArgumentGroup,
                  help: str = "replace existing run directories") -> None:
    p.add_argument("--overwrite", action="store_true", help=help)


def add_run_sources(p: argparse.ArgumentParser) -> None:
    """The runs an analysis reads: run directories, or every finished run of a compare directory."""
    p.add_argument("runs", nargs="*", metavar="RUN_DIR", help="finished run directories")
    p.add_argument("--compare-dir", metavar="DIR", help="every finished run of a compare directory")


def add_dataset_options(p: argparse.ArgumentParser, every: str = "") -> None:
    dg = p.add_argument_group("dataset (default: Fashion-MNIST, found as --data or 'visualstreams data --help' "
                              "says)")
    dg.add_argument("--dataset", metavar="NAME|PATH",
                    help=f"{every}fashion-mnist, cifar-10 (needs a path), or a path: a .npz, cifar-10-batches-py, or "
                         "a folder of class subfolders of images (see 'visualstreams data show --help'); the network "
                         "takes its image size, channels (1 or 3) and number of classes; task what only")
    dg.add_argument("--test-data", metavar="DIR", help="the image folder's test set (class subfolders); default: "
                                                       "its test/ folder, else a seeded 20%% of each class")
    dg.add_argument("--image-size", type=positive_int, metavar="N",
                    help="resize a folder's images to N x N px (needed when their sizes differ)")


def add_training_options(p: argparse.ArgumentParser) -> None:
    """The recipe and its overrides, the task, and the runtime: what train and compare share."""
    from ..engine import PRECISIONS, RECIPES
    from ..tasks import DEFAULT_CANVAS, TASK_HEADS

    g = p.add_argument_group("training (defaults come from the recipe)")
    g.add_argument("--recipe", default="notebook", choices=list(RECIPES),
                   help="notebook: Adam 1e-3, batch 64, 5 epochs (the default); fast: batch 128, one-cycle "
                        "schedule, label smoothing, flips, 3 epochs")
    g.add_argument("--epochs", type=positive_int, help="training epochs")
    g.add_argument("--batch-size", type=positive_int, help="training batch size")
    g.add_argument("--lr", type=positive_float, help="learning rate (peak rate for one-cycle)")
    g.add_argument("--seed", type=seed, default=0, help="seed for initialisation, data order and subset (0)")
    g.add_argument("--crop-pad", type=nonnegative_int, metavar="PX",
                   help="random crop with padding: pad each training image by PX zero pixels and crop it back at "
                        "a random offset (the usual augmentation for natural images, e.g. 4 at 32 px; default 0: "
                        "none, as in both recipes)")
    g.add_argument("--train-subset", type=positive_int, metavar="N",
                   help="train on a random N-image subset (test set stays whole)")
    add_device(g)
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
                        "cover, comma-separated, 0-80 (default 0,20,40,60); training draws each image's level from "
                        "them, the test set is scored at each (test_acc@occ20, ...)")
    g.add_argument("--clutter-items", type=positive_int, metavar="N",
                   help="task clutter: items per image, each of another class, 2-9 (default 3; canvas 40 px)")
    g.add_argument("--canvas", type=positive_int, metavar="PX",
                   help=f"canvas size for where tasks (default {DEFAULT_CANVAS}) and clutter (default 40); items are "
                        "28x28")
    g.add_argument("--where-weight", type=positive_float, default=1.0,
                   help="weight of the localisation loss in what-where (1.0)")
    g.add_argument("--noise", type=nonnegative_float, default=0.0,
                   help="std of Gaussian pixel noise on the canvas (0)")
    g.add_argument("--loss-steps", choices=["last", "all"],
                   help="with --steps T >= 2, which steps the loss reads: last (the heads on the last step, the "
                        "default) or all (the heads at every step, the mean of their losses); the test accuracy at "
                        "every step is recorded either way (test_acc@t0 ..)")
    g.add_argument("--step-norm", action="store_true",
                   help="normalise every area's convolution output at each step with a GroupNorm of that step, "
                        "before its ReLU (CORnet-S normalises each step; off by default, as the notebook's network)")
    g.add_argument("--test-every", type=positive_int, metavar="N",
                   help="score the test set after every N-th epoch and after the last (default 1: every epoch); "
                        "the same weights and final metrics at any N, the epochs between without test metrics "
                        "(a recurrent network's scoring at every occlusion level can take as long as its training)")
    add_data(g)
    g.add_argument("--architecture", metavar="FILE",
                   help="architecture file (.json or .toml): blocks per area and the area feeding each head; "
                        "areas it does not list get the default block of their hierarchy level")
    add_overwrite(g)
    add_quiet(g)


def train_config(args: argparse.Namespace):  # -> TrainConfig (not imported here: it brings torch)
    """The training config the options describe (train's and compare's)."""
    from ..engine import make_config

    return make_config(args.recipe, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       train_subset=args.train_subset, device=args.device, precision=args.precision,
                       task=args.task, canvas=args.canvas, where_weight=args.where_weight, noise=args.noise,
                       mode=getattr(args, "mode", None), steps=getattr(args, "steps", None),
                       crop_pad=args.crop_pad, loss_steps=args.loss_steps, occlusion=args.occlusion,
                       clutter_items=args.clutter_items, twin_of=getattr(args, "twin_of", None),
                       twin_match=getattr(args, "twin_match", None),
                       intrinsic=getattr(args, "intrinsic", None) or None,
                       step_norm=getattr(args, "step_norm", None) or None,
                       model=getattr(args, "model", None), test_every=args.test_every,
                       **anatomy_options(args))


def add_anatomy_options(p: argparse.ArgumentParser, many: bool = False) -> None:
    """``--blocks`` (train: one; compare: a factor), ``--anatomy``; train's ``--field-degrees`` (compare shares
    predict's, one visual angle for both)."""
    g = p.add_argument_group("blocks from the anatomy")
    g.add_argument("--blocks", nargs="+" if many else None, choices=["uniform", "anatomy"],
                   default=["uniform"] if many else "uniform", metavar="uniform|anatomy" if many else None,
                   help="uniform: the notebook's blocks for every species (the default); anatomy: every area's "
                        "channels, map size and kernel and the species' eye derived from its anatomy table (rules "
                        "in docs/network.md; condition MODE-anatomy)" + (", a factor like --modes" if many else ""))
    g.add_argument("--budget", nargs="+" if many else None, choices=["natural", "parameters", "compute"],
                   default=["natural"] if many else "natural", metavar="natural|parameters|compute" if many else None,
                   help="with --blocks anatomy: the network's size: natural (the notebook's 864 channels spread by "
                        "the anatomy, the default; parameters and FLOPs differ from the uniform network's), or every "
                        "channel scaled to the uniform network's parameters used by the task (parameters, within 2%%; "
                        "MODE-anatomy-P) or training FLOPs per image (compute, within 5%%; MODE-anatomy-C)"
                        + (", a factor" if many else ""))
    g.add_argument("--anatomy", metavar="SPECIES|CSV",
                   help="with --blocks anatomy: the anatomy table (default: the connectome's species'; shipped: "
                        f"{', '.join(_shipped_anatomies())}; or a CSV of the same columns for one's own connectome, "
                        "e.g. a human or marmoset table: docs/network.md says what the sources lack)")
    add_units_per_rf(g)
    if not many:
        g.add_argument("--field-degrees", type=positive_float, metavar="DEG",
                       help="with --blocks anatomy: the visual angle the image spans (default 8, Brain-Score's); "
                            "the eye's pixels and every area's map size follow from it")


def _shipped_anatomies() -> list[str]:
    """The species an anatomy table ships for, as the package has them (the help never names one it lacks)."""
    from ..connectome.anatomy import anatomy_species

    return anatomy_species()


def add_units_per_rf(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--units-per-rf N`` (train, compare, connectome show/plot)."""
    p.add_argument("--units-per-rf", type=positive_float, metavar="N",
                   help="with --blocks anatomy: units across a receptive field's diameter, which sets every area's "
                        "map (round(N x field / rf) a side) and so its kernel (default 4; 2 is the Nyquist minimum, "
                        "MouseNet's VISp has about 19; docs/network.md)")


def anatomy_options(args: argparse.Namespace) -> dict[str, Any]:
    """The network fields the anatomy options give (none with uniform blocks only; refused if given then)."""
    blocks = getattr(args, "blocks", None) or "uniform"
    anatomy = "anatomy" in (blocks if isinstance(blocks, list) else [blocks])
    field = getattr(args, "field_degrees", None)
    budget = getattr(args, "budget", None) or "natural"
    budgets = budget if isinstance(budget, list) else [budget]
    units = getattr(args, "units_per_rf", None)
    if not anatomy:
        if getattr(args, "anatomy", None) is not None or (field is not None and isinstance(blocks, str)) or \
                budgets != ["natural"] or units is not None:
            raise ConfigError("--anatomy, --budget, --units-per-rf and --field-degrees go with --blocks anatomy")
        return {}
    # compare's budgets are a factor of its sweep: its config's network takes the first
    return {"blocks": "anatomy", "anatomy": getattr(args, "anatomy", None), "field_degrees": field,
            "budget": budgets[0], "units_per_rf": units}


def add_response_window(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--response-window START END``: how an Allen session's responses are read (predict, compare, data show)."""
    p.add_argument("--response-window", nargs=2, type=float, metavar=("START", "END"),
                   help="Allen sessions: a cell's response is its mean dF/F over the frames (a unit's rate over the "
                        "spikes) from START to END ms after an image's onset (default: over the image's own "
                        "presentation, its 250 ms)")


def add_predict_options(p: argparse.ArgumentParser, title: str = "neural predictivity") -> None:
    """How recordings are scored: predict's options, which compare --recordings shares."""
    g = p.add_argument_group(title)
    g.add_argument("--stimuli", metavar="CSV", help="the stimulus table: stimulus_id and filename (relative to it), "
                                                    "optionally object_name (default: beside the recordings)")
    add_response_window(g)
    g.add_argument("--method", default="pls", choices=["pls", "ridge"],
                   help="pls: partial least squares, 25 components, scale=False (Brain-Score's; default); ridge: "
                        "penalty by leave-one-out inside each training split")
    g.add_argument("--background", type=int, default=0, metavar="GREY",
                   help="grey level 0-255 around stimuli smaller than the field (default 0, black: the background "
                        "the networks were trained on; Brain-Score pads with grey, 128)")
    g.add_argument("--fit", default="region", choices=["region", "joint"],
                   help="region: one regression per recorded region, as a Brain-Score benchmark holds one (default); "
                        "joint: one regression to every region's neuroids at once (shared components and penalty)")
    g.add_argument("--splits", type=positive_int, default=10, metavar="N", help="train/test splits (10)")
    g.add_argument("--train-fraction", type=positive_float, default=0.9, metavar="F",
                   help="share of the stimuli to train on (0.9, Brain-Score's; the mouse work used 0.5); splits "
                        "are stratified by object_name where the stimulus table has one")
    g.add_argument("--max-features", type=positive_int, default=1000, metavar="N",
                   help="areas with more features are reduced: exactly to the stimuli's row space when there are "
                        "no more than N stimuli, else by a sparse random projection to N (1000)")
    g.add_argument("--stimulus-degrees", type=positive_float, metavar="DEG",
                   help="visual angle the stimuli covered when recorded (default: as the recordings state it, an "
                        "Allen session's 121.2 from its monitor geometry; else 8)")
    g.add_argument("--field-degrees", type=positive_float, default=8.0, metavar="DEG",
                   help="visual angle of the network's input (8, Brain-Score's default visual_degrees); a stimulus "
                        "is resized to input px x stimulus/field and centred on the --background")
    g.add_argument("--time-bin", type=nonnegative_int, metavar="K",
                   help="score one time bin of the recordings (default: their mean over time bins)")
    g.add_argument("--layers", default="areas", choices=["areas", "all"],
                   help="areas: each network's areas (a reference model's through its region map; the default); "
                        "all: a reference model's every candidate layer besides (module paths: AlexNet's and VGG's "
                        "ReLUs and pools, a ResNet's blocks), the best per region chosen on held-out splits, as "
                        "Brain-Score's layer selection (a connectome network's layers are its areas)")
    g.add_argument("--no-ceiling", dest="ceiling", action="store_false",
                   help="no split-half ceiling (recordings without repetitions): raw r only")


def predict_config(args: argparse.Namespace):  # -> PredictivityConfig
    from ..experiment import PredictivityConfig

    return PredictivityConfig(method=args.method, n_splits=args.splits, train_fraction=args.train_fraction,
                              max_features=args.max_features, stimulus_degrees=args.stimulus_degrees,
                              field_degrees=args.field_degrees, time_bin=args.time_bin, ceiling=args.ceiling,
                              fit=args.fit, background=args.background, layers=args.layers)
