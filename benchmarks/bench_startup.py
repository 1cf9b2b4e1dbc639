"""How long the command line takes to start: wall seconds of `python -m visualstreams ARGS` for the quick commands,
this checkout beside another one (``--baseline``: a checkout's src folder, e.g. a worktree of the commit before
the CLI became a package), alternated round by round so that a load that comes and goes hits both alike; the
median of ``--reps`` rounds, and the modules each loaded.

    git worktree add /tmp/before 35f28cb
    python benchmarks/bench_startup.py --baseline /tmp/before/src [--reps 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
COMMANDS = (["--version"], ["--help"], ["data", "--help"], ["connectome", "--help"], ["connectome", "list"],
            ["connectome", "show", "mouse"], ["train", "--help"])


def once(src: Path, argv: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "visualstreams", *argv], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def loaded(src: Path, argv: list[str]) -> int:
    code = ("import atexit, sys, runpy\n"
            "atexit.register(lambda: sys.__stderr__.write(f'MODULES {len(sys.modules)}\\n'))\n"
            f"sys.argv = ['visualstreams', *{argv!r}]\n"
            "runpy.run_module('visualstreams', run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(src)},
                          capture_output=True, text=True)
    return int(next(x for x in proc.stderr.splitlines() if x.startswith("MODULES")).split()[1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", type=Path, help="another checkout's src folder to time beside this one")
    p.add_argument("--reps", type=int, default=7)
    args = p.parse_args()
    trees = {"this": SRC} | ({"baseline": args.baseline} if args.baseline else {})
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'command':<26}" + "".join(f"{name + ' s':>12}{name + ' mods':>14}" for name in trees))
    for argv in COMMANDS:
        times: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.reps):
            for name, src in trees.items():  # alternated: this, baseline, this, ...
                times[name].append(once(src, argv))
        cells = "".join(f"{statistics.median(times[n]):>12.2f}{loaded(src, argv):>14d}" for n, src in trees.items())
        print(f"{' '.join(argv):<26}{cells}")


if __name__ == "__main__":
    main()
