"""Connectome presets built from published connectivity data, over the six canonical areas.

Four presets, one per species: ``macaque-markov2014`` (retrograde tracer FLN), ``marmoset-majka2020``
(retrograde tracer FLNe), ``mouse-oh2014`` (anterograde viral tracer, Oh et al. regional model) and
``human-hcp`` (diffusion tractography). Each is read from a small CSV shipped beside this module;
``scripts/derive_presets.py`` regenerates those CSVs from the data in ``../shared/data/connectivity`` (run on
demand, never at import). This module holds the single definition of the area mappings, and
:mod:`.measures` the hierarchies and strength formulas; the script imports both, so the tables and the presets
cannot disagree.

Three of them also come as a full version (``macaque-markov2014-full``, ``marmoset-majka2020-full``,
``mouse-oh2014-full``): the source's own areas under its own names, oriented by a published hierarchy (Markov
et al. 2014 levels; for the marmoset, those of its macaque homologues; Harris et al. 2019 scores for the
mouse), naming their head areas (and the mouse its input area, VISp) in ``extra``.

Rules shared by all presets:

* Levels: each preset's own data's hierarchy, one table per source, the same numbers for the six-area and the
  full version (:data:`MARKOV2014_LEVELS` for the macaque and, through its macaque homologues, the marmoset;
  :data:`HARRIS2019_SCORES` for the mouse); the human tractography has no direction, so its tracts are
  oriented by the textbook's canonical levels (V1 0, V2 1, V4 = MT 2, IT = LIP 3), a convention, stated. Every
  pair with a nonzero value is a projection with a direction (the CSV's ``direction`` column, given to the
  connectome as ``directions``): feedforward (source level < target level; ``used = 1``, the one-step network,
  acyclic by construction), feedback (above) or lateral (same level), which networks of two steps or more use.
* The per-pair SLN rule (:func:`sln_direction`) is an option where the data have SLN (the macaque presets,
  registered as ``<name>-sln``); :func:`direction_rules` lists where the two rules differ.
* Every CSV row keeps the raw value verbatim (as written in the source table) next to the strength.
Imports the connectome type, the registry and the graph leaf; nothing above the connectome layer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from importlib import resources
from typing import TYPE_CHECKING, Any

from ...errors import ConnectomeError
from ...graph import direction
from ..core import CANONICAL_AREAS, CANONICAL_LEVELS, Connectome
from ..registry import register_connectome
from .measures import (
    HARRIS2019_SCORES,
    MARKOV2014_LEVELS,
    SLN_LATERAL_BAND,
    fln_strength,
    harris_level,
    hcp_strength,
    markov_level,
    oh_strength,
)

if TYPE_CHECKING:  # imported where used: the connectome commands start without it
    import pandas as pd

BASE_COLUMNS: tuple[str, ...] = (
    "source", "target", "source_area_in_data", "target_area_in_data", "raw_value", "strength", "direction", "used",
)

__all__ = ["HARRIS2019_SCORES", "MARKOV2014_LEVELS", "PRESETS", "PublishedPreset", "build_published", "direction",
           "direction_rules", "fln_strength", "hcp_strength", "oh_strength", "read_table", "sln_direction"]


@dataclass(frozen=True)
class PublishedPreset:
    """Everything about one preset except its numbers, which live in ``presets/<name>.csv``."""

    name: str
    species: str
    source: str
    measure: str  # may contain {max_value} and {max_pair}, filled from the table
    notes: str
    raw_measure: str
    mapping: Mapping[str, tuple[str, ...]]
    licence: str
    extra_columns: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    # The hierarchy that orients every pair: a level per area (in ``areas``) and where the numbers come from.
    levels: Mapping[str, float] = field(default_factory=dict)
    level_source: str = ""
    # Full versions keep the source's own areas, ordered by the source's hierarchy, and name their head areas.
    areas: tuple[str, ...] = CANONICAL_AREAS
    heads: Mapping[str, str] = field(default_factory=dict)
    undirected: bool = False  # tractography: each tract also stands for its reverse (feedback or lateral)
    sln_column: str = ""  # the table's per-pair SLN, where the data have one (the SLN rule's input)

    @property
    def columns(self) -> tuple[str, ...]:
        return BASE_COLUMNS + self.extra_columns


def rules_text(levels: Mapping[str, float], level_source: str) -> str:
    """The notes' sentence on direction, made from the levels the table was derived with."""
    listed = ", ".join(f"{a} {v:g}" for a, v in sorted(levels.items(), key=lambda kv: (kv[1], kv[0])))
    return (
        f"Direction: levels from {level_source} ({listed}); a pair whose source level is below its target's is "
        "feedforward, above it feedback, at the same level lateral (the table's direction column). Feedforward "
        "pairs with a nonzero value in the data (used=1) make the one-step network, acyclic by construction; the "
        "nonzero feedback and lateral pairs are projections too, used by networks of two steps or more (--steps)."
    )


_MARKOV_SOURCE = "Markov et al. 2014 (J Comp Neurol), the SLN-derived hierarchical levels of the M132 areas"
_MARMOSET_SOURCE = ("the macaque homologues' levels in Markov et al. 2014 (J Comp Neurol; the marmoset data have no "
                    "SLN): V5 = MT, TE3 = TEpd, PG = 7A, the rest by name")
_HARRIS_SOURCE = ("Harris et al. 2019 hierarchy scores (all regions, CC+TC+CT iterated, Cre-confidence; PTLp, "
                  "which is VISa + VISrl in the scored atlas, the mean of the two)")
_CANONICAL_SOURCE = ("the textbook's canonical levels (Felleman & Van Essen 1991): tractography gives no direction, "
                     "so this is a convention, not the data's")
# Each preset's hierarchy: the level of a data area, and where the numbers come from (the six-area and the full
# version of a preset take their levels from the same function, applied to their own data areas).
_HIERARCHY = {
    "macaque-markov2014": (markov_level, _MARKOV_SOURCE),
    "marmoset-majka2020": (markov_level, _MARMOSET_SOURCE),
    "mouse-oh2014": (harris_level, _HARRIS_SOURCE),
    "human-hcp": (None, _CANONICAL_SOURCE),
}


_SIX_AREA: dict[str, PublishedPreset] = {
    "macaque-markov2014": PublishedPreset(
        name="macaque-markov2014",
        species="macaque",
        source=(
            "Markov NT et al. (2014) Cereb Cortex 24:17-36, doi:10.1093/cercor/bhs270 (FLN); "
            "Markov NT et al. (2014) J Comp Neurol 522:225-259, doi:10.1002/cne.23458 (SLN); "
            "Froudist-Walsh S et al. (2021) Neuron 109:3500-3520 (LIP injection; data from core-nets.org, "
            "Kennedy lab); files as curated by Schmidt M et al. (2018) Brain Struct Funct 223:1409 "
            "(github.com/INM-6/multi-area-model) and github.com/seanfw/macaque_hierarchy"
        ),
        measure=(
            "FLN (extrinsic fraction of labelled neurons: neurons labelled in the source area after a retrograde "
            "tracer injection in the target, over all labelled neurons outside the target), mean over injections "
            "of the target; strength = clip((log10(FLN) + 6) / 6, 0, 1); FLN = 0 means no projection"
        ),
        notes=(
            "Homology: V1=V1, V2=V2, V4=V4, MT=MT, LIP=LIP (same names in the M132 atlas); IT=TEO, the posterior "
            "inferotemporal area that V4 drives most (the alternative, TEpd, gets FLN 0.0274 from V4 vs 0.256 for "
            "TEO). FLN for targets V1, V2, V4, TEO and MT: Markov et al. 2014 (mean over their "
            "injections); for target LIP, which Markov 2014 did not inject: Froudist-Walsh et al. 2021 (one LIP "
            "injection). SLN (fraction of supragranular labelled neurons, pooled, Froudist-Walsh 2021) is in the "
            "table; strength is FLN-based. Direction follows Markov et al. 2014's SLN-derived levels of the "
            "homologous M132 areas (the same numbers as macaque-markov2014-full), so V4->MT and TEO->MT are "
            "feedforward (V4 4.4, TEO 5.65, MT 5.8) and MT->TEO feedback. Each pair's own SLN by the SLN rule "
            "(above 0.55 feedforward, below 0.45 feedback, between lateral; the preset macaque-markov2014-sln) "
            "agrees for 26 of the 29 pairs: IT->MT (SLN 0.334) and IT->LIP (0.000) would be feedback, LIP->MT "
            "(0.529) lateral. "
            "V1->LIP rests on 2 labelled neurons. "
            + "{rules}"
            + " Licence: NON-COMMERCIAL. Markov 2014 files: CC BY-NC-SA 4.0 (INM-6/multi-area-model); "
            "Froudist-Walsh 2021 files: CC BY-NC 4.0."
        ),
        raw_measure="FLN (Markov 2014 mean over injections; Froudist-Walsh 2021 for target LIP)",
        mapping={"V1": ("V1",), "V2": ("V2",), "V4": ("V4",), "IT": ("TEO",), "MT": ("MT",), "LIP": ("LIP",)},
        licence="NON-COMMERCIAL: CC BY-NC-SA 4.0 (Markov 2014 via INM-6/multi-area-model); CC BY-NC 4.0 "
        "(Froudist-Walsh 2021)",
        extra_columns=("dataset", "n_injections", "SLN_FW2021"),
        sln_column="SLN_FW2021",
    ),
    "marmoset-majka2020": PublishedPreset(
        name="marmoset-majka2020",
        species="marmoset",
        source=(
            "Majka P et al. (2020) Nat Commun 11:1133, doi:10.1038/s41467-020-14858-0 (data, marmosetbrain.org); "
            "matrix as assembled by Pailthorpe BA (2024) 'Network analysis of Marmoset cortical connections "
            "reveals pFC and sensory clusters' (bioRxiv / Front Neuroanat), github.com/BrainDynamicsUSYD/MarmosetCortex"
        ),
        measure=(
            "FLNe (extrinsic fraction of labelled neurons, retrograde tracers; each injected target's column sums "
            "to 1); strength = clip((log10(FLNe) + 6) / 6, 0, 1); FLNe = 0 means no projection"
        ),
        notes=(
            "Homology (Paxinos et al. marmoset atlas names): V1=V1, V2=V2, V4=V4, MT=V5 (the atlas calls MT V5), "
            "LIP=LIP (the atlas has its own LIP; PG/PFG are the 7a-like alternatives), IT=TEO (posterior "
            "inferotemporal, as for the macaque preset; TE3 is the more anterior alternative and gets FLNe 0.0205 "
            "from V4 vs 0.184 for TEO). All six targets were injected. Caveat from the data's provenance notes: the "
            "matrix's label order was verified only by spot checks (V2<-V1 0.6055 and V1 column sum 1.000 "
            "agree). "
            + "{rules}"
            + " Licence: none stated in the Pailthorpe repository; the underlying marmosetbrain.org data are "
            "CC BY-SA 4.0 (share-alike, attribution)."
        ),
        raw_measure="FLNe (Majka et al. 2020, Pailthorpe 2024 matrix; row = source, column = target)",
        mapping={"V1": ("V1",), "V2": ("V2",), "V4": ("V4",), "IT": ("TEO",), "MT": ("V5",), "LIP": ("LIP",)},
        licence="none stated in repository; underlying marmosetbrain.org data CC BY-SA 4.0",
    ),
    "mouse-oh2014": PublishedPreset(
        name="mouse-oh2014",
        species="mouse",
        source=(
            "Oh SW et al. (2014) Nature 508:207-214, doi:10.1038/nature13186 (Supplementary Table 3, W_ipsi, via "
            "github.com/benfulcher/mouseStructuralConnectivity); hierarchy scores: Harris JA et al. (2019) Nature "
            "575:195-202, doi:10.1038/s41586-019-1716-z"
        ),
        measure=(
            "Oh et al. 2014 normalized connection strength W (ipsilateral; regional linear model of anterograde "
            "viral tracer projections, per unit injection volume); strength = clip(1 + log10(W / W_max) / 3, 0, 1) "
            "with W_max = {max_value} ({max_pair}), the largest W among the kept pairs; W = 0 means no projection"
        ),
        notes=(
            "Homology is debated; one area per canonical area, from what Oh 2014's (CCFv2) region list offers: it "
            "has no VISli, VISpor, VISrl or VISa (VISa and VISrl are inside PTLp there). V1=VISp (uncontroversial). "
            "V2=VISl (LM: the densest V1 target, proposed V2 homologue, Wang & Burkhalter 2007). V4=VISpl (P: a "
            "ventral-stream area after Wang, Sporns & Burkhalter 2012; VISli/VISpor would be better but are "
            "absent). IT=TEa (temporal association cortex, the ventral stream's temporal target; ECT is the "
            "alternative). MT=VISal (AL: dorsal stream, high temporal-frequency and speed tuning, Marshel et al. "
            "2011, Andermann et al. 2011; VISrl is absent). LIP=PTLp (posterior parietal association cortex, the "
            "usual rodent PPC; it lumps VISa and VISrl; VISam is the alternative). Weak points: in Oh 2014, "
            "VISp->VISpl, VISpl->TEa and VISpl->PTLp are 0, so V4 is a dead end (reached from V2 only); "
            "VISp->VISl (0.0656) is far weaker than VISl->VISp (3.89), against tracer studies (probably the "
            "regional model's trouble with adjacent regions); VISp->TEa (p = 0.44) and VISal->TEa (p = 0.06) are "
            "not significant in Oh 2014 but nonzero, so kept (p-values are in the table). Harris 2019 hierarchy "
            "scores (all regions, CC+TC+CT iterated) are in the table where the area has one (PTLp, split into "
            "VISa and VISrl in the atlas Harris scored, has none of its own). "
            + "{rules}"
            + " Licence: NON-COMMERCIAL for the Harris 2019 scores (Allen Institute Software License, BSD-2 with a "
            "non-commercial clause); Oh 2014 Supplementary Table 3: no licence stated in the hosting repository "
            "(Allen Institute terms of use apply to Allen connectivity data)."
        ),
        raw_measure="W_ipsi normalized connection strength (Oh et al. 2014, Supplementary Table 3; row = source)",
        mapping={"V1": ("VISp",), "V2": ("VISl",), "V4": ("VISpl",), "IT": ("TEa",), "MT": ("VISal",),
                 "LIP": ("PTLp",)},
        licence="NON-COMMERCIAL (Harris 2019: Allen Institute Software License, BSD-2 + non-commercial clause); "
        "Oh 2014 table: no licence stated, Allen Institute terms of use",
        extra_columns=("p_value", "source_hierarchy_Harris2019", "target_hierarchy_Harris2019"),
    ),
    "human-hcp": PublishedPreset(
        name="human-hcp",
        species="human",
        source=(
            "Lariviere S et al. (2021) Nat Methods 18:698-700 (ENIGMA Toolbox: HCP group structural connectivity, "
            "strucMatrix_ctx_glasser_360, github.com/MICA-MNI/ENIGMA); Glasser MF et al. (2016) Nature 536:171 "
            "(HCP-MMP1 parcellation); data from the WU-Minn Human Connectome Project"
        ),
        measure=(
            "group structural connectivity from diffusion tractography (HCP unrelated adults, MRtrix3, SIFT2, "
            "distance-dependent consensus threshold, log-transformed), mean of left and right hemispheres "
            "(SC_mean_LR), maximum over the pairs of Glasser parcels mapped to the two areas; strength = "
            "clip(SC / SC_max, 0, 1) with SC_max = {max_value} ({max_pair}), the largest kept value; SC = 0 means "
            "no projection (removed by the threshold)"
        ),
        notes=(
            "Tractography is UNDIRECTED: each tract is given the feedforward direction (from the lower to the "
            "higher canonical level) for the one-step network; networks of two steps or more also get each tract "
            "reversed as a feedback projection of the same strength, and the same-level tracts (V4-MT, IT-LIP) "
            "as lateral projections both ways (the data cannot tell one direction from the other). "
            "Homology (Glasser 2016 "
            "names): V1=V1, V2=V2, V4=V4, IT=PIT (posterior inferotemporal complex, as TEO for the macaque). "
            "MT = the MT+ complex MT, MST, FST, V4t (Glasser 2016; Kolster et al. 2010), because the thresholded "
            "matrix has no V1/V2/V4 tract to MT itself. LIP = the intraparietal cluster V7 (= retinotopic IPS0), "
            "IPS1, LIPv, LIPd: the human LIP homologue is contested between retinotopic IPS0-2 (Sereno et al. "
            "2001; Swisher et al. 2007) and Glasser's LIPv/LIPd, and LIPv/LIPd themselves keep no tract to V1, V2, "
            "V4 or the MT+ complex. In practice every LIP input here is a tract ending in V7, and MT's only input "
            "is V1-FST (left hemisphere only). For a group, the value is the largest SC_mean_LR over its parcel "
            "pairs (all pairs are listed in the table). Tractography misses long-range connections by design of "
            "the threshold; absent edges are not evidence of absent projections. "
            + "{rules}"
            + " Licence: ENIGMA Toolbox BSD-3-Clause; HCP Open Access Data Use Terms apply to the HCP-derived "
            "matrix."
        ),
        raw_measure="SC_mean_LR: log-transformed group structural connectivity (HCP, ENIGMA Toolbox), mean of L/R",
        mapping={"V1": ("V1",), "V2": ("V2",), "V4": ("V4",), "IT": ("PIT",), "MT": ("MT", "MST", "FST", "V4t"),
                 "LIP": ("V7", "IPS1", "LIPv", "LIPd")},
        licence="BSD-3-Clause (ENIGMA Toolbox); HCP Open Access Data Use Terms",
        extra_columns=("SC_left", "SC_right", "pairs_considered"),
        undirected=True,
    ),
}


# Full versions: the six-area preset's citation, measure, licence, table columns and hierarchy, the source's own
# areas.
_FULL: dict[str, dict[str, Any]] = {
    "macaque-markov2014": dict(
        notes=(
            "The full version: every area of the data table, named as the M132 atlas names them (V1, V2, V4, 8l, "
            "TEO, MT, DP, LIP, TEpd, 7A), no homology mapping. Heads: 'what' reads TEpd, the highest "
            "inferotemporal area here, 'where' reads 7A, the highest parietal area (LIP -> 7A FLN 0.129). 8l (the "
            "frontal eye field) is in the data table and kept; it is not visual cortex. FLN sources and formula "
            "as in macaque-markov2014. {rules} Licence: NON-COMMERCIAL, as for macaque-markov2014."
        ),
        areas=("V1", "V2", "V4", "8l", "TEO", "MT", "DP", "LIP", "TEpd", "7A"),
        heads={"what": "TEpd", "where": "7A"},
    ),
    "marmoset-majka2020": dict(
        notes=(
            "The full version: the areas of the data table under the Paxinos atlas's names (V1, V2, V4, TEO, V5, "
            "LIP, TE3, PG, MST), no homology mapping. Two areas of the data table are left out: V3, which was not "
            "injected (its inputs are unknown, so V1 could not reach it), and V6, which has no macaque level "
            "there. Heads: 'what' reads TE3 (anterior inferotemporal), 'where' reads PG (the 7a-like parietal "
            "area); MST, above PG, is a dead end and is not computed. FLNe source, formula and licence as for "
            "marmoset-majka2020. {rules}"
        ),
        areas=("V1", "V2", "V4", "TEO", "V5", "LIP", "TE3", "PG", "MST"),
        heads={"what": "TE3", "where": "PG"},
    ),
    "mouse-oh2014": dict(
        notes=(
            "The full version: the visual cortical areas of Oh et al. 2014 under the Allen atlas's (CCFv2) names, "
            "no homology mapping: VISp, VISl, VISpl, VISal, VISpm, VISam (Oh 2014 has no separate VISli, VISpor, "
            "VISrl or VISa). The input is VISp. Heads: 'what' reads VISpl (P, the ventral-stream area here, "
            "reached through VISl), 'where' reads VISam (the highest-scoring area, dorsomedial). Areas beyond "
            "visual cortex (TEa, PTLp, ...) are left out: this version keeps the visual areas (the six-area "
            "preset has TEa and PTLp, oriented by the same scores). Strength formula as for mouse-oh2014, with "
            "W_max taken over this version's kept pairs. {rules} Licence as for mouse-oh2014 (NON-COMMERCIAL)."
        ),
        areas=("VISp", "VISl", "VISpl", "VISal", "VISpm", "VISam"),
        heads={"what": "VISpl", "where": "VISam"},
        extra={"input_area": "VISp"},
    ),
}


def _oriented(spec: PublishedPreset) -> PublishedPreset:
    """The preset with its levels (from its source's hierarchy, for its own data areas) and the notes that say so."""
    level_of, level_source = _HIERARCHY[spec.name.removesuffix("-full")]
    if level_of is None:
        levels: dict[str, float] = {a: float(v) for a, v in CANONICAL_LEVELS.items()}
    else:  # tracer presets map one data area to each area
        levels = {a: level_of(spec.mapping[a][0]) for a in spec.areas}
    notes = spec.notes.replace("{rules}", rules_text(levels, level_source))
    return replace(spec, levels=levels, level_source=level_source, notes=notes)


def _full_version(six: PublishedPreset, **fields: Any) -> PublishedPreset:
    return replace(six, name=f"{six.name}-full", mapping={a: (a,) for a in fields["areas"]}, **fields)


TABLE_DIR = __package__.replace(".", "/")  # where the shipped tables live, as extra["table"] names them
PRESETS: dict[str, PublishedPreset] = {}
for _name, _spec in _SIX_AREA.items():
    PRESETS[_name] = _oriented(_spec)
    if _name in _FULL:
        PRESETS[f"{_name}-full"] = _oriented(_full_version(_spec, **_FULL[_name]))


def read_table(name: str) -> list[dict[str, str]]:
    """The shipped CSV of one preset, as rows of strings."""
    spec = _spec(name)
    try:
        text = resources.files(__package__).joinpath(f"{name}.csv").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConnectomeError(f"preset {name!r}: table {TABLE_DIR}/{name}.csv is missing from the package") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or tuple(rows[0].keys()) != spec.columns:
        raise ConnectomeError(f"preset {name!r}: {TABLE_DIR}/{name}.csv does not have the columns {spec.columns}")
    return rows


def sln_direction(sln: float, band: float = SLN_LATERAL_BAND) -> str:
    """The per-pair SLN rule: a projection whose labelled neurons are mostly supragranular ascends (Markov et al.
    2014): SLN above 0.5 + ``band`` is feedforward, below 0.5 - ``band`` feedback, in between lateral."""
    if not 0 <= band < 0.5:
        raise ConnectomeError(f"the SLN rule's lateral band must be in [0, 0.5), got {band}")
    return "feedforward" if sln > 0.5 + band else "feedback" if sln < 0.5 - band else "lateral"


def _sln(row: Mapping[str, str], spec: PublishedPreset) -> float | None:
    value = row.get(spec.sln_column, "") if spec.sln_column else ""
    return float(value) if value not in ("", "NA") else None


def direction_rules(name: str, band: float = SLN_LATERAL_BAND) -> pd.DataFrame:
    """Every projection of a preset with its direction by the hierarchy (the preset's) and by its own SLN (where
    the data have one): columns source, target, level_source, level_target, SLN, hierarchy, sln, agree."""
    import pandas as pd
    if name.endswith("-sln") and name.removesuffix("-sln") in SLN_PRESETS:
        name = name.removesuffix("-sln")
    spec = _spec(name)
    sln_direction(0.5, band)  # a bad band in one line, before the table is read
    rows = [r for r in read_table(spec.name) if float(r["strength"]) > 0]
    out = []
    for r in rows:
        sln = _sln(r, spec)
        by_sln = sln_direction(sln, band) if sln is not None else None
        out.append({"source": r["source"], "target": r["target"], "level_source": spec.levels[r["source"]],
                    "level_target": spec.levels[r["target"]], "SLN": sln, "hierarchy": r["direction"],
                    "sln": by_sln, "agree": None if by_sln is None else by_sln == r["direction"]})
    return pd.DataFrame(out, columns=["source", "target", "level_source", "level_target", "SLN", "hierarchy", "sln",
                                      "agree"])


def build_published(name: str, rule: str = "hierarchy", band: float = SLN_LATERAL_BAND) -> Connectome:
    """Build one preset from its shipped table: rows with ``used = 1`` are the feedforward projections, the other
    rows with a nonzero strength the feedback and lateral ones (their direction from the table's column).

    ``rule="sln"``: each projection whose data have an SLN takes its direction from :func:`sln_direction`
    instead (the others keep the hierarchy's); the connectome is named ``<name>-sln``.
    """
    spec = _spec(name)
    if rule not in ("hierarchy", "sln"):
        raise ConnectomeError(f"unknown direction rule {rule!r} (rules: hierarchy, sln)")
    if rule == "sln" and not spec.sln_column:
        raise ConnectomeError(f"preset {name!r}: its data have no SLN, so the SLN rule does not apply")
    rows = read_table(name)
    if rule == "sln":
        rows = [dict(r, direction=sln_direction(v, band)) if (v := _sln(r, spec)) is not None else r for r in rows]
        rows = [dict(r, used="1" if r["direction"] == "feedforward" and float(r["raw_value"]) > 0 else "0")
                for r in rows]
    used = [r for r in rows if r["used"] == "1"]
    recurrent = [r for r in rows if r["used"] != "1" and float(r["strength"]) > 0]
    edges = [(r["source"], r["target"], float(r["strength"])) for r in used + recurrent]
    directions = {(r["source"], r["target"]): r["direction"] for r in used + recurrent}
    reversed_edges: list[tuple[str, str]] = []
    if spec.undirected:  # a tract stands for both directions: the reverse of each one is feedback (or lateral)
        for r in used + recurrent:
            back = (r["target"], r["source"])
            if back not in directions:
                reversed_edges.append(back)
                edges.append((*back, float(r["strength"])))
                directions[back] = "feedback" if r["direction"] == "feedforward" else r["direction"]
    top = max(used, key=lambda r: float(r["raw_value"]))
    measure = spec.measure.format(
        max_value=top["raw_value"], max_pair=f"{top['source_area_in_data']}->{top['target_area_in_data']}"
    )
    extra = {
        "raw_measure": spec.raw_measure,
        "mapping": {a: list(spec.mapping[a]) for a in spec.areas},
        "licence": spec.licence,
        "levels": dict(spec.levels),
        "level_source": spec.level_source,
        "direction_rule": "hierarchy" if rule == "hierarchy" else f"sln (lateral band {band:g}; hierarchy where "
                                                                  "the data have no SLN)",
        **({"heads": dict(spec.heads)} if spec.heads else {}),
        "raw_values": {f"{r['source']}->{r['target']}": float(r["raw_value"]) for r in used + recurrent},
        # a tract's reverse has no raw value of its own: these are the projections added that way
        **({"reversed_tracts": [f"{s}->{t}" for s, t in reversed_edges]} if spec.undirected else {}),
        "table": f"{TABLE_DIR}/{name}.csv",
        **spec.extra,
    }
    return Connectome.from_edges(
        edges,
        areas=spec.areas,
        name=name if rule == "hierarchy" else f"{name}-sln",
        species=spec.species,
        source=spec.source,
        measure=measure,
        notes=spec.notes,
        extra=extra,
        directions=directions,
    )


def _spec(name: str) -> PublishedPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConnectomeError(f"unknown published preset {name!r} ({', '.join(PRESETS)})") from None


# Offered with the SLN rule: the six-area macaque. The full version's SLN is listed by direction_rules, but by
# SLN alone its feedforward projections form cycles (V4 <-> 8l, TEO <-> 8l, MT <-> 7A, LIP <-> TEpd), which no
# network can be compiled from.
SLN_PRESETS: tuple[str, ...] = ("macaque-markov2014",)
for _name in PRESETS:
    register_connectome(_name, partial(build_published, _name))
for _name in SLN_PRESETS:
    register_connectome(f"{_name}-sln", partial(build_published, _name, "sln"))
