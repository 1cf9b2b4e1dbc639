"""Experiments: ``compare`` trains connectomes x modes x seeds under one recipe and writes the comparison
(``comparison``); the notebook's own figures to set beside it (``reference``); representational similarity
(``similarity``). The top of the stack below the CLI:
imports runs, analysis, figures and the report builder."""

from .comparison import analyse, compare
from .reference import NOTEBOOK_RESULTS
from .similarity import similarity_of

__all__ = ["analyse", "compare", "NOTEBOOK_RESULTS", "similarity_of"]
