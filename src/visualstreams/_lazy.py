"""Package namespaces that import their modules on first use (PEP 562), so that ``visualstreams --help`` and the
light commands start without torch, SciPy and matplotlib.

A lazy package writes its exports as ordinary imports under ``if TYPE_CHECKING:`` (what the docs, type checkers
and editors read) and an ``__all__`` list; :func:`lazy_exports` reads those import statements from the package's
own source the first time a name is asked for, and imports that module then. A name that is not an export but a
submodule (``visualstreams.viz``) is imported as a submodule, as attribute access on an eagerly imported package
would find it. Nothing is cached on the package: a test that patches a module's function and undoes it leaves
the package's name as it was. A leaf: imports nothing from visualstreams.
"""

from __future__ import annotations

import ast
import functools
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _type_checking_imports(package: str) -> dict[str, str]:
    """name -> relative module, from the ``from .module import name`` statements under the package's top-level
    ``if TYPE_CHECKING:``."""
    source = Path(sys.modules[package].__file__ or "").read_text()
    where = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom) and imp.level:
                    where.update({a.asname or a.name: "." * imp.level + (imp.module or "") for a in imp.names})
    return where


def lazy_exports(package: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``. Use: ``__getattr__, __dir__ = lazy_exports(__name__)``."""
    exports = functools.cache(lambda: _type_checking_imports(package))

    def __getattr__(name: str) -> Any:
        module = None if name.startswith("__") else exports().get(name)
        if module is not None:
            return getattr(importlib.import_module(module, package), name)
        if not name.startswith("__"):
            try:
                return importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports()))

    return __getattr__, __dir__
