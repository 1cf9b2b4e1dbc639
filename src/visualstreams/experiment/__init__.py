"""Experiments: ``compare`` trains connectomes x modes x seeds under one recipe and writes the comparison
(``comparison``); the notebook's own figures to set beside it (``reference``); representational similarity
(``similarity``); lesions of trained runs (``lesions``); networks against recorded brains (``brains``). The top
of the stack below the CLI: imports runs, analysis, figures and the report builder."""

from .._lazy import export_names, lazy_exports

_EXPORTS = {
    ".brains": ("PredictivityConfig", "predict"),
    ".comparison": ("analyse", "compare"),
    ".lesions": ("lesion",),
    ".reference": ("NOTEBOOK_RESULTS",),
    ".similarity": ("similarity_of",),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = export_names(_EXPORTS)
