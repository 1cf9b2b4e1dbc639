"""Figures: connectomes (``connectome``), results (``results``) and results by occlusion level (``levels``),
each a ``matplotlib.figure.Figure``. Imports the analysis layer and below; never run directories' writers,
experiments or reports."""

from .blocks import plot_anatomy_blocks
from .connectome import connectome_layout, plot_connectome, plot_connectome_graph
from .levels import plot_levels
from .results import (
    plot_anytime,
    plot_confusion,
    plot_final_metrics,
    plot_learning_curves,
    plot_lesions,
    plot_per_class,
)

__all__ = ["connectome_layout", "plot_anatomy_blocks", "plot_connectome", "plot_connectome_graph", "plot_anytime",
           "plot_confusion", "plot_final_metrics", "plot_learning_curves", "plot_levels", "plot_lesions",
           "plot_per_class"]
