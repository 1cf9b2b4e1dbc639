"""Figures: connectomes (``connectome``), results (``results``) and results by occlusion level (``levels``),
each a ``matplotlib.figure.Figure``. Imports the analysis layer and below; never run directories' writers,
experiments or reports."""

from .._lazy import export_names, lazy_exports

_EXPORTS = {
    ".connectome": ("connectome_layout", "plot_connectome", "plot_connectome_graph"),
    ".levels": ("plot_levels",),
    ".results": (
        "plot_anytime", "plot_confusion", "plot_final_metrics", "plot_learning_curves", "plot_lesions",
        "plot_per_class",
    ),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = export_names(_EXPORTS)
