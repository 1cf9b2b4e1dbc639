"""The published numbers behind the presets (:mod:`.published`): each dataset's own hierarchy (Markov et al. 2014
levels, through macaque homologues for the marmoset; Harris et al. 2019 scores for the mouse) and how each
dataset's measure becomes a strength in [0, 1] (FLN and Oh et al.'s W on log scales, HCP's SC linearly).
``scripts/derive_presets.py`` imports these, so the shipped tables and the presets cannot disagree."""

from __future__ import annotations

import math

# Markov et al. 2014 (J Comp Neurol 522:225-259), the SLN-derived hierarchical level (1-10) of each M132 area,
# as in the data's Markov2014JCN_hierarchy.csv (third column; scripts/derive_presets.py checks every value).
MARKOV2014_LEVELS: dict[str, float] = {
    "V1": 1.0, "V2": 2.0, "V4": 4.4, "8l": 4.2, "TEO": 5.65, "MT": 5.8, "DP": 6.6, "LIP": 7.3, "TEpd": 7.4,
    "7A": 8.8, "MST": 9.15,
}
# Harris et al. 2019 (Nature 575:195-202) hierarchy scores: all regions, CC+TC+CT iterated, Cre-line confidence
# (hierarchy_summary_CreConf.xlsx, sheet hierarchy_all_regions), to 4 decimals, by CCFv3 name.
HARRIS2019_SCORES: dict[str, float] = {
    "VISp": -0.421, "VISl": -0.0856, "VISpl": -0.0039, "VISal": 0.0226, "VISpm": 0.1124, "VISam": 0.2747,
    "VISa": 0.2785, "VISrl": -0.055, "TEa": 0.332,
}
# Oh 2014's PTLp (CCFv2) is VISa + VISrl in the CCFv3 that Harris scored: its level is the mean of the two.
PTLP_PARTS: tuple[str, ...] = ("VISa", "VISrl")
# A marmoset area's macaque homologue in Markov's hierarchy, where the name differs (the Paxinos atlas's V5 is
# MT; TE3 is taken for TEpd and PG for 7A); the marmoset data have no SLN or hierarchy of their own.
MARMOSET_MACAQUE_HOMOLOGUE: dict[str, str] = {"V5": "MT", "TE3": "TEpd", "PG": "7A"}
# The SLN rule's lateral band: |SLN - 0.5| <= this is lateral. A convention (the data give no threshold).
SLN_LATERAL_BAND = 0.05


def markov_level(area: str) -> float:
    return MARKOV2014_LEVELS[MARMOSET_MACAQUE_HOMOLOGUE.get(area, area)]


def harris_level(area: str) -> float:
    if area == "PTLp":
        return round(sum(HARRIS2019_SCORES[a] for a in PTLP_PARTS) / len(PTLP_PARTS), 6)
    return HARRIS2019_SCORES[area]

# Decades of dynamic range kept by the log rescales (below that the strength is clipped to 0).
FLN_DECADES = 6  # FLN runs from ~1e-6 (a single labelled neuron) to ~1 (Markov et al. 2014)
OH_DECADES = 3


def fln_strength(fln: float) -> float:
    """clip((log10(FLN) + 6) / 6, 0, 1); 0 for FLN = 0."""
    if fln <= 0:
        return 0.0
    return min(max((math.log10(fln) + FLN_DECADES) / FLN_DECADES, 0.0), 1.0)


def oh_strength(w: float, w_max: float) -> float:
    """clip(1 + log10(W / W_max) / 3, 0, 1); 0 for W = 0."""
    if w <= 0:
        return 0.0
    return min(max(1.0 + math.log10(w / w_max) / OH_DECADES, 0.0), 1.0)


def hcp_strength(sc: float, sc_max: float) -> float:
    """clip(SC / SC_max, 0, 1); SC is already log-transformed by the data's authors."""
    if sc <= 0:
        return 0.0
    return min(max(sc / sc_max, 0.0), 1.0)
