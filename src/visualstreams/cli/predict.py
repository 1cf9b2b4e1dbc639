"""``visualstreams predict``: how well does each area predict recorded neurons? Neural predictivity per area and
region."""

from __future__ import annotations

import argparse

from .options import add_device, add_out, add_predict_options, add_quiet, add_run_sources, predict_config


def add_arguments(ppr: argparse.ArgumentParser) -> None:
    ppr.description = ("Record every area (every step AREA@tK of recurrent networks) on the recordings' stimuli, fit "
                    "a cross-validated linear map from each area to every recorded neuroid (PLS with 25 components "
                    "as Brain-Score, or ridge with its penalty chosen inside each training split), and score it by "
                    "the held-out Pearson r per neuroid, the median over each region's neuroids, the mean over "
                    "splits; beside it the split-half ceiling (Spearman-Brown) and the ceiled score r^2 / ceiling, "
                    "RSA and CKA per area and region, and the best area per region. Recordings as published: an "
                    "Allen Brain Observatory Visual Coding 2P session (.nwb: an AllenSDK cache's NWB 1.0 or the "
                    "DANDI release's NWB 2.0, which needs 'visualstreams[nwb]') or a folder of sessions; "
                    "brainio:IDENTIFIER, a Brain-Score assembly in the brainio cache ($BRAINIO_HOME, else "
                    "~/.brainio) with its stimulus set; a Sensorium-style folder (data/, meta/). Or our own forms: "
                    "a NetCDF assembly (.nc, presentation x neuroid [x time_bin]; needs 'visualstreams[brains]'), "
                    "an .npz, or a CSV with one REGION/NEUROID column per neuroid, with --stimuli: a CSV of "
                    "stimulus_id and filename (default: <recordings>_stimuli.csv or stimuli.csv beside it). "
                    "Check what was read first with `visualstreams data show RECORDINGS`. Writes predictivity*.csv, "
                    "ceilings.csv, brain_similarity.csv, best_areas*.csv, "
                    "predictivity.png, predictivity.md and predict.json into --out.")
    add_run_sources(ppr)
    ppr.add_argument("--recordings", required=True, metavar="PATH",
                     help="the recordings: .nwb or a folder of them, brainio:IDENTIFIER, a Sensorium folder, "
                          ".nc, .npz or .csv")
    add_predict_options(ppr)
    ppr.add_argument("--areas", nargs="+", metavar="AREA", help="areas to score (names, or AREA@tK; default all)")
    ppr.add_argument("--regions", nargs="+", metavar="REGION", help="recorded regions to score (default all)")
    add_out(ppr, "output directory (default: the compare directory, else beside the runs)")
    add_device(ppr)
    add_quiet(ppr)


def run(args: argparse.Namespace) -> None:
    from ..experiment import predict
    from ..report.console import predictivity_text
    from ..runs import PredictDir

    out, result = predict(args.runs, compare_dir=args.compare_dir, recordings=args.recordings, stimuli=args.stimuli,
                          window_ms=tuple(args.response_window) if args.response_window else None,
                          out=args.out, config=predict_config(args), areas=args.areas, regions=args.regions,
                          device=args.device, progress=not args.quiet)
    print(predictivity_text(result))
    print(f"wrote {PredictDir.SUMMARY}, {PredictDir.HEATMAP}, {PredictDir.REPORT} and the other tables in {out}")
