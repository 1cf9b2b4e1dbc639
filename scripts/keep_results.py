"""Keep a compare directory's record without its weights: copy its tables and every run's config, history,
confusion matrix and lesions into DEST, so an experiment's numbers can be committed and rebuilt from (the weights,
about 5 MB a run, are what is left behind; retrain a run from its config.json to get them back).

    python scripts/keep_results.py runs/occlusion/macaque-markov2014/seed0 results/occlusion/macaque-markov2014/seed0

DEST must not exist yet or must hold an earlier copy of the same directory, which is replaced whole (a file the
earlier copy had and the source no longer has does not stay behind).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from visualstreams.runs import CompareDir, RunDir

COMPARE_FILES = (CompareDir.EXPERIMENT, CompareDir.SUMMARY, CompareDir.STATS, CompareDir.TESTS, CompareDir.REPORT_MD)
RUN_FILES = (RunDir.CONFIG, RunDir.HISTORY, RunDir.CONFUSION, RunDir.LESIONS)


def keep(source: Path, dest: Path) -> list[Path]:
    """Copy the record of compare directory ``source`` into ``dest``; return the files written."""
    written = []
    for name in COMPARE_FILES:
        if (source / name).is_file():
            dest.mkdir(parents=True, exist_ok=True)
            written.append(Path(shutil.copy2(source / name, dest / name)))
    for name in RUN_FILES:  # run directories lie at <species>/<label> (CompareDir.run_name)
        for path in sorted(source.glob(f"*/*/{name}")):
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            written.append(Path(shutil.copy2(path, target)))
    return written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path, help="a compare directory")
    p.add_argument("dest", type=Path, help="where its record goes")
    args = p.parse_args()
    if not (args.source / CompareDir.SUMMARY).is_file():
        p.exit(2, f"keep_results: {args.source} has no {CompareDir.SUMMARY} (not a finished compare directory)\n")
    if args.dest.exists() and not (args.dest / CompareDir.SUMMARY).is_file():
        p.exit(2, f"keep_results: {args.dest} exists and is not a kept compare directory\n")
    # copy beside DEST and swap, so that a copy that fails half-way leaves the earlier copy as it was
    staged = args.dest.with_name(f".{args.dest.name}.keeping")
    shutil.rmtree(staged, ignore_errors=True)
    files = [args.dest / f.relative_to(staged) for f in keep(args.source, staged)]
    if args.dest.exists():
        old = args.dest.with_name(f".{args.dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        args.dest.rename(old)
        staged.rename(args.dest)
        shutil.rmtree(old)
    else:
        staged.rename(args.dest)
    print(f"{len(files)} files, {sum(f.stat().st_size for f in files) / 1e3:.0f} kB in {args.dest}")


if __name__ == "__main__":
    main()
