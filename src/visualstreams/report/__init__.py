"""The comparison report (``build``), rendered by Jinja2 templates (``document``, ``templates/``) from the files
of a compare directory alone. Imports figures, analysis and the run/compare directory types."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:  # the exports, imported on first use by lazy_exports (docs and type checkers read these)
    from .build import QUESTION, build_report

__getattr__, __dir__ = lazy_exports(__name__)
__all__ = ["QUESTION", "build_report"]
