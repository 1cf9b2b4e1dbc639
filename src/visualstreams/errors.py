"""User-facing errors: the CLI turns each into one line on stderr and exit code 2."""

from __future__ import annotations


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
