"""Analysis of finished runs: statistics across seeds (``stats``, on SciPy), metrics by occlusion level
(``levels``), lesions (``lesions``), and representations: the measures (``similarity``: CKA, RSA), the views and
activations (``representations``) and the species-against-seeds test (``differences``). Imports runs, the engine
and the layers below; never figures or reports."""

from .._lazy import export_names, lazy_exports

_EXPORTS = {
    ".stats": (
        "describe_difference", "hedges_g", "holm", "mean_ci", "pairwise_tests", "permutation_test", "summarize",
        "welch_test",
    ),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = export_names(_EXPORTS)
