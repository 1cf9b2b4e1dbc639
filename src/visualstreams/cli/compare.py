"""``visualstreams compare``: train connectomes x conditions x seeds under one recipe and print the comparison."""

from __future__ import annotations

import argparse
from pathlib import Path

from .options import (
    add_anatomy_options,
    add_dataset_options,
    add_out,
    add_predict_options,
    add_training_options,
    nonnegative_float,
    positive_float,
    positive_int,
    predict_config,
    train_config,
)

DESCRIPTION = ("Train one model per species or connectome file under the same recipe and print one table beside the "
               "notebook's figures; writes summary.csv, learning_curves.png and one run directory per species in "
               "--out.")


def add_arguments(pm: argparse.ArgumentParser) -> None:
    from ..network.modes import MODES
    from ..network.reference import REFERENCE_MODELS

    pm.description = DESCRIPTION
    pm.add_argument("--species", nargs="+", default=[], metavar="S",
                    help="presets or connectome files (default without --models: human marmoset mouse)")
    pm.add_argument("--connectome", nargs="+", default=[], metavar="FILE", help="more connectome files")
    pm.add_argument("--models", nargs="+", default=[], choices=REFERENCE_MODELS, metavar="NAME",
                    help=f"also train these reference models on the same data, recipe and seeds "
                         f"({', '.join(REFERENCE_MODELS)}; condition 'reference', the name in the species column); "
                         "each is tested against every species within every condition")
    pm.add_argument("--match-params", metavar="SPECIES",
                    help="scale every --models model's channels to the parameters this connectome's one-step network "
                         "uses on the task, within 2%% (see 'train --help'; condition reference-matched)")
    add_out(pm, "output directory (runs/compare)", default="runs/compare")
    pm.add_argument("--seeds", type=positive_int, default=1, metavar="N",
                    help="seeds per species and mode: --seed, --seed+1, ... (1)")
    pm.add_argument("--modes", nargs="+", default=["gain"], choices=list(MODES), metavar="MODE",
                    help=f"connection modes to compare ({', '.join(MODES)}; default gain)")
    pm.add_argument("--steps", nargs="+", type=positive_int, default=[1], metavar="T", dest="step_counts",
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
    pm.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                    help="also checkpoint every N batches (default: at epoch ends only)")
    pm.add_argument("--strategy", default="auto", choices=["auto", "stacked", "sequential"],
                    help="stacked: train runs of the same network structure together, one vmapped step for all "
                         "(fast on GPUs; epoch-end checkpoints only); sequential: one after another; auto "
                         "(default): stacked on CUDA, sequential on the CPU, where stacking is slower")
    pm.add_argument("--max-stack", type=positive_int, default=48, metavar="M",
                    help="at most M models in one stack (48)")
    pm.add_argument("--executor", default="local", choices=["local", "ray"],
                    help="local: train in this process (default); ray: each run (or stack) one Ray task, on a local "
                         "Ray instance or the cluster at --ray-address (pip install 'visualstreams[ray]'); the "
                         "output directory must be on a file system every worker sees")
    pm.add_argument("--ray-address", metavar="ADDR",
                    help="an existing Ray cluster (e.g. auto, or HOST:6379 after 'ray start --head'); default: start "
                         "a local Ray instance for this sweep")
    pm.add_argument("--workers", type=positive_int, metavar="N",
                    help="at most N runs at once under Ray (default: as many as the CPUs allow)")
    pm.add_argument("--cpus-per-run", type=positive_float, default=1.0, metavar="C",
                    help="CPUs (and torch threads, at least 1) per run under Ray (1); results equal a local "
                         "sweep's at equal threads")
    pm.add_argument("--gpus-per-run", type=nonnegative_float, default=0.0, metavar="G",
                    help="GPUs per run under Ray; a fraction such as 0.25 puts four runs on one GPU (0)")
    pm.add_argument("--ray-verbose", action="store_true",
                    help="let Ray's own log lines and the workers' output through to stderr (default: only "
                         "visualstreams' own)")
    pm.add_argument("--similarity", action=argparse.BooleanOptionalAction, default=None,
                    help="compare what the areas compute across runs (CKA, RSA; see 'visualstreams similarity') and "
                         "add it to the report; default: when a species has two seeds or more")
    pm.add_argument("--recordings", metavar="FILE",
                    help="also score every finished run against these recordings (the options below; see "
                         "'visualstreams predict --help'): tables and heatmap in --out, scores per species and "
                         "condition with 95%% CIs, Welch tests with Holm's correction, a report section")
    add_anatomy_options(pm, many=True)
    add_predict_options(pm, "neural predictivity (with --recordings); --field-degrees is also the field the "
                            "anatomy blocks are derived for")
    add_dataset_options(pm, "every run trains on it (loaded once; a folder's held-out split drawn by --seed): ")
    add_training_options(pm)


def run(args: argparse.Namespace) -> None:
    from ..errors import ConfigError
    from ..experiment import NOTEBOOK_RESULTS, compare
    from ..report.console import comparison_text
    from ..runs import CompareDir

    species = list(args.species) + list(args.connectome) or ([] if args.models else list(NOTEBOOK_RESULTS))
    seeds = [args.seed + i for i in range(args.seeds)]
    out = Path(args.out)
    try:
        summary = compare(species, train_config(args), out, seeds=seeds, modes=args.modes, steps=args.step_counts,
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
                          window_ms=tuple(args.response_window) if args.response_window else None,
                          predictivity=predict_config(args) if args.recordings else None, models=args.models,
                          match_params=args.match_params, blocks=args.blocks, budgets=args.budget)
    except OSError as exc:  # finished runs and the last checkpoint are intact (atomic writes)
        if not CompareDir(out).has_experiment():
            raise
        raise ConfigError(f"{exc.filename or out}: {exc.strerror or exc}; once that is fixed, continue with the "
                          "same command and --resume") from None
    cdir = CompareDir(out)
    print(comparison_text(summary, cdir.read_table(CompareDir.STATS), cdir.read_table(CompareDir.TESTS),
                          cdir.similarity_skipped()))
    print(f"wrote {cdir.file(CompareDir.SUMMARY)}, {CompareDir.STATS}, {CompareDir.TESTS}, {CompareDir.CURVES} and "
          f"{CompareDir.REPORT_HTML} in {out}")
