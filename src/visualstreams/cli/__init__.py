"""The command line: a thin layer over the Python API. Bad input: one line on stderr, exit code 2.

The top layer: it may import any other; nothing imports it (but ``__main__``). :mod:`.main` holds the entry point
and the table of commands, :mod:`.options` what commands parse alike, and each command is a module of its own.
"""

from .main import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
