"""Analysis of finished runs: statistics for comparing species across seeds (``stats``)."""

from .stats import (  # noqa: F401  (re-exports)
    betainc,
    describe_difference,
    hedges_g,
    holm,
    mean_ci,
    normal_cdf,
    normal_ppf,
    normal_sf,
    pairwise_tests,
    permutation_test,
    summarize,
    t_cdf,
    t_isf,
    t_pdf,
    t_ppf,
    t_sf,
    welch_test,
)
