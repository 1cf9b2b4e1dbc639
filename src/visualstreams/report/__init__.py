"""The comparison report (``build``), rendered by Jinja2 templates (``document``, ``templates/``) from the files
of a compare directory alone. Imports figures, analysis and the run/compare directory types."""

from .build import QUESTION, build_report

__all__ = ["QUESTION", "build_report"]
