"""The comparison report (``build``), rendered by Jinja2 templates (``document``, ``templates/``) from the files
of a compare directory alone. Imports figures, analysis and the run/compare directory types."""

from .._lazy import export_names, lazy_exports

_EXPORTS = {
    ".build": ("QUESTION", "build_report"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = export_names(_EXPORTS)
