"""Experiments: ``compare`` trains connectomes x modes x seeds under one recipe and writes the comparison
(``comparison``); the notebook's own figures to set beside it (``reference``); representational similarity
(``similarity``); lesions of trained runs (``lesions``); networks against recorded brains (``brains``). The top
of the stack below the CLI: imports runs, analysis, figures and the report builder."""

from .brains import PredictivityConfig, predict
from .comparison import analyse, compare
from .lesions import lesion
from .reference import NOTEBOOK_RESULTS
from .similarity import similarity_of

__all__ = ["analyse", "compare", "lesion", "NOTEBOOK_RESULTS", "PredictivityConfig", "predict", "similarity_of"]
