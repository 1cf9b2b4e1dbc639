"""Analysis of finished runs: statistics across seeds (``stats``, on SciPy), metrics by occlusion level
(``levels``), lesions (``lesions``), and representations: the measures (``similarity``: CKA, RSA), the views and
activations (``representations``) and the species-against-seeds test (``differences``). Imports runs, the engine
and the layers below; never figures or reports."""

from .stats import describe_difference, hedges_g, holm, mean_ci, pairwise_tests, permutation_test, summarize, welch_test

__all__ = ["describe_difference", "hedges_g", "holm", "mean_ci", "pairwise_tests", "permutation_test", "summarize",
           "welch_test"]
