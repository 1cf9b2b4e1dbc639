"""``visualstreams``: the entry point, the table of commands, and the mapping of errors to one line and exit code 2.

Each command is a module of this package with ``add_arguments(parser)`` and ``run(args)``; only the module of the
command being run is imported (and only its options are built), so ``--help``, ``--version`` and the light commands
start without loading torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import TextIO

from .._version import __version__
from .options import ERROR, EXIT_USAGE, PROG, Parser

# name -> the one-line help in the command list; each name is also its module's (``-`` read as ``_``)
COMMANDS: dict[str, str] = {
    "connectome": "list, show or plot connectomes",
    "train": "train one model",
    "compare": "train several species and compare them",
    "lesion": "silence areas or projections of trained runs and evaluate again",
    "similarity": "do the areas of trained runs represent the same things? CKA and RSA across runs",
    "predict": "how well does each area predict recorded neurons? neural predictivity per area and region",
    "export": "write a trained run for another tool (a Brain-Score vision plugin)",
    "data": "find or download Fashion-MNIST; show any dataset",
}


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f".{name.replace('-', '_')}", __package__)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser: every command listed; the options of ``command`` only (of every command when None, of none
    when ``""``: enough for ``--help`` and ``--version``)."""
    p = Parser(prog=PROG, description="Species-specific two-stream models of the visual cortex, compiled from "
                                      "connectomes, trained on Fashion-MNIST and compared.")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    for name, help_ in COMMANDS.items():
        sp = sub.add_parser(name, help=help_, description=help_)
        if command is None or name == command:
            command_module(name).add_arguments(sp)
    return p


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named on the line, so that only its options are built: the first word that is not an option
    (the program's own options, --help and --version, take no value), when it names a command."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: TextIO | None = None, line: str | None = None) -> None:
    """A warning as one line on stderr, like an error (Python's default adds the file and the source line)."""
    print(f"{PROG}: warning: {' '.join(str(message).split())}", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_in(argv) or "").parse_args(argv)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from ..errors import VisualStreamsError

    try:
        with warnings.catch_warnings():  # restores the caller's warning display (main may run inside a program)
            warnings.showwarning = _one_line_warning
            command_module(args.command).run(args)
            sys.stdout.flush()  # a pipe closed early shows here, in the handler below, not at interpreter exit
    except VisualStreamsError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:  # `visualstreams ... | head` closed the pipe: what it wanted was printed, no error
        # Python would report the pipe again when it flushes stdout at exit: point stdout at nothing first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # e.g. the disk filled up mid-run: results written so far stay whole (atomic writes)
        _error(f"{exc.filename}: " * bool(exc.filename) + f"{exc.strerror or exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


def _error(message: str) -> None:
    sys.stdout.flush()  # what was printed before the error comes before it
    print(f"{ERROR} {' '.join(message.split())}", file=sys.stderr)
