"""Package namespaces that import their modules on first use (PEP 562), so that ``visualstreams --help`` and the
light commands start without torch, SciPy and matplotlib: a subpackage's ``__init__`` names what it exports and
where it lives, and nothing is imported until a name is asked for. A leaf: imports nothing from visualstreams."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, Iterable[str]]) -> tuple[Callable[[str], Any],
                                                                              Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``exports`` map a module (relative, e.g.
    ``".compile"``) to the names it exports. Use: ``__getattr__, __dir__ = lazy_exports(__name__, {...})``."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # asked once: the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__


def export_names(exports: Mapping[str, Iterable[str]]) -> list[str]:
    """``__all__`` of a lazy package: every name it exports, in the order given."""
    return [name for names in exports.values() for name in names]
