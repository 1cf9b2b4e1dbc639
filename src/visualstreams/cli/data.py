"""``visualstreams data``: find or download Fashion-MNIST; show any dataset."""

from __future__ import annotations

import argparse

from .options import Parser, add_response_window


def add_arguments(pd_: argparse.ArgumentParser) -> None:
    pd_.description = ("Fashion-MNIST is looked for in: $VISUALSTREAMS_DATA; the cache "
                                     "($VISUALSTREAMS_CACHE, else $XDG_CACHE_HOME/visualstreams/fashion-mnist); "
                                     "/usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist); "
                                     "then it is downloaded into the cache and verified by checksum.")
    dsub = pd_.add_subparsers(dest="action", required=True, parser_class=Parser, metavar="ACTION")
    df_ = dsub.add_parser("fetch", help="find the data (downloading it if needed) and print where it is")
    df_.add_argument("--data", metavar="DIR", help="check this directory instead of searching")
    df_.add_argument("--url", help="download base URL (default: the canonical Fashion-MNIST location, "
                                   "or $VISUALSTREAMS_DATA_URL)")
    df_.add_argument("--no-download", action="store_true", help="only look, never download")
    ds_ = dsub.add_parser("show", help="load a dataset or recordings and print what was found: counts per class, "
                                       "image size, channels, where it came from; for recordings, stimuli, "
                                       "repetitions, neurons and reliability per area",
                          description="NAME is one of: fashion-mnist (the default; found by the search order above), "
                                      "cifar-10 (needs a path). PATH is recognised by what it holds: the Fashion-MNIST "
                                      "IDX files or CSV pair; cifar-10-batches-py (torchvision's layout, read without "
                                      "torchvision); a .npz (images, labels[, test_images, test_labels, classes]); "
                                      "else a folder of class subfolders of images (optionally train/ and test/; "
                                      "without a test set, a seeded 20% of each class is held out). Recordings, as "
                                      "predict --recordings reads them, are described instead: an Allen Brain "
                                      "Observatory session (.nwb, NWB 1.0 or 2.0) or a folder of them, "
                                      "brainio:IDENTIFIER (an assembly in $BRAINIO_HOME, else ~/.brainio), a "
                                      "Sensorium-style folder, a .nc assembly, an .npz with responses, a .csv with "
                                      "stimulus_id.")
    ds_.add_argument("dataset", nargs="?", default="fashion-mnist", metavar="NAME|PATH",
                     help="a dataset name or path, or recordings (default: fashion-mnist)")
    ds_.add_argument("--stimuli", metavar="CSV",
                     help="recordings' stimulus table (.nc, .npz, .csv recordings; default: beside them)")
    add_response_window(ds_)
    ds_.add_argument("--test-data", metavar="DIR", help="an image folder's test set (class subfolders)")
    ds_.add_argument("--image-size", type=int, metavar="N", help="resize every image of a folder to N x N px "
                                                                 "(needed when their sizes differ)")
    ds_.add_argument("--seed", type=int, default=0, help="seed of the held-out split when there is no test set (0)")


def run(args: argparse.Namespace) -> None:
    from ..data import show_dataset
    from ..report.console import fetch_text

    if args.action == "show":
        from ..data.recordings import is_recordings

        if is_recordings(args.dataset):
            from ..report.console import recordings_text

            window = tuple(args.response_window) if args.response_window else None
            print(recordings_text(args.dataset, args.stimuli, window))
        else:
            print(show_dataset(args.dataset, test_path=args.test_data, size=args.image_size, seed=args.seed))
    else:
        print(fetch_text(args.data, download=not args.no_download, url=args.url))
