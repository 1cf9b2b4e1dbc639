"""Experiments: ``compare`` trains connectomes x networks x seeds under one recipe and writes the comparison
(``comparison``; its grid and plan in ``sweep``); the notebook's own figures to set beside it (``reference``);
representational similarity (``similarity``); lesions of trained runs (``lesions``); networks against recorded
brains (``brains``). The top of the stack below the CLI: imports runs, analysis, figures and the report builder."""

from .brains import PredictivityConfig, predict
from .comparison import analyse, analyse_sweep, compare, execute
from .lesions import lesion
from .reference import NOTEBOOK_RESULTS
from .similarity import similarity_of
from .sweep import Execution, Sweep, SweepPlan, plan_sweep

__all__ = ["analyse", "analyse_sweep", "compare", "execute", "lesion", "NOTEBOOK_RESULTS", "PredictivityConfig",
           "predict", "similarity_of", "Execution", "Sweep", "SweepPlan", "plan_sweep"]
