"""User-facing errors: the CLI turns each into one line on stderr and exit code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class VisualStreamsError(Exception):
    """Base class for errors caused by the user's input, not by a bug."""


class ConnectomeError(VisualStreamsError, ValueError):
    """A connectome file or matrix that cannot be used."""


class DataError(VisualStreamsError):
    """A dataset that is missing, truncated or corrupt."""


class ConfigError(VisualStreamsError, ValueError):
    """An option or configuration value that is out of range or unknown."""


class DivergenceError(VisualStreamsError):
    """Training produced a NaN or infinite loss; the run stops, its last finished epoch is kept."""


class DirectoryInUse(VisualStreamsError):
    """Another process is writing into the run or compare directory (it holds its lock)."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice nearest a misspelt ``word`` (difflib's ratio, or the one choice it
    begins), else ""."""
    choices = list(choices)
    starts = [c for c in choices if c.startswith(word)] if word else []
    close = starts if len(starts) == 1 else difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
