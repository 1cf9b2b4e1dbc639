"""Connectomes from the EBRAINS human brain atlas, through siibra (optional: ``pip install visualstreams[siibra]``).

The notebook tried this and failed; here it is one call, :func:`fetch_siibra_connectome`, or one command,
``visualstreams connectome siibra --out human-siibra.csv``. siibra returns streamline-count matrices
(diffusion tractography) between the Julich-Brain regions, as a pandas DataFrame whose index and columns
are region objects named like ``"Area hOc1 (V1, 17, CalcS) left"``. :func:`connectome_from_streamlines`
turns such a matrix into a connectome over the six canonical areas:

* each canonical area is a group of Julich-Brain regions (:data:`JULICH_AREAS`; V1 = hOc1, V2 = hOc2,
  V4 = hOc4v + hOc4d, MT = hOc5, IT = the fusiform areas FG1-FG4, LIP = the intraparietal areas hIP1-hIP3);
* the count between two areas is the sum over their regions' pairs, within each hemisphere (the two
  hemispheres added);
* tractography is undirected: each pair gets the feedforward direction (levels V1 = 0, V2 = 1, V4 = MT = 2,
  IT = LIP = 3); same-level pairs are left out;
* strength = log10(1 + n) / log10(1 + n_max), n_max the largest count among the kept pairs.

Without siibra installed, or without network, the functions say so in one line (a :class:`ConnectomeError`).
Imports the connectome type; siibra only when called.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ConnectomeError
from ..core import CANONICAL_AREAS, CANONICAL_LEVELS, Connectome

JULICH_AREAS: dict[str, tuple[str, ...]] = {
    "V1": ("hOc1",),
    "V2": ("hOc2",),
    "V4": ("hOc4v", "hOc4d"),
    "IT": ("FG1", "FG2", "FG3", "FG4"),
    "MT": ("hOc5",),
    "LIP": ("hIP1", "hIP2", "hIP3"),
}
LEVELS = CANONICAL_LEVELS  # the level decides each undirected tract's direction
SOURCE = ("EBRAINS multilevel human brain atlas via siibra (Dickscheid T et al., siibra-python); Julich-Brain "
          "cytoarchitectonic maps (Amunts K et al. 2020, Science 369:988)")
INSTALL_HINT = "pip install 'visualstreams[siibra]'"


def _region_name(region: Any) -> str:
    return str(getattr(region, "name", region))


def _hemisphere(name: str) -> str:
    low = name.lower()
    return "left" if low.endswith("left") else "right" if low.endswith("right") else ""


def _matches(name: str, code: str) -> bool:
    # "hOc4v" must not match "hOc4", nor "FG1" match "FG10": the code stands alone in the name.
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(code)}(?![A-Za-z0-9])", name) is not None


def connectome_from_streamlines(
    matrix: pd.DataFrame,
    areas: Mapping[str, Sequence[str]] = JULICH_AREAS,
    *,
    name: str = "human-siibra",
    description: str = "",
) -> Connectome:
    """A six-area connectome from a square streamline-count matrix whose index and columns are regions
    (siibra's Region objects, or their names). See the module docstring for the rules."""
    unknown = [a for a in areas if a not in LEVELS]
    if unknown:  # the level decides each tract's direction
        raise ConnectomeError(f"siibra: area {unknown[0]!r} has no level (areas: {', '.join(LEVELS)})")
    if not isinstance(matrix, pd.DataFrame) or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ConnectomeError("siibra: expected a square, non-empty streamline-count matrix (a DataFrame)")
    names = [_region_name(r) for r in matrix.index]
    if [_region_name(c) for c in matrix.columns] != names:
        raise ConnectomeError("siibra: the matrix's rows and columns name different regions")
    values = matrix.to_numpy(dtype=np.float64)
    values = np.nan_to_num(values, nan=0.0)
    members: dict[str, list[int]] = {}
    for area, codes in areas.items():
        members[area] = [i for i, n in enumerate(names) if any(_matches(n, c) for c in codes)]
        if not members[area]:
            raise ConnectomeError(f"siibra: no region of the matrix matches {area} ({', '.join(codes)})")
    counts: dict[tuple[str, str], float] = {}
    pairs: dict[tuple[str, str], int] = {}
    order = list(areas)
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if LEVELS.get(a, 0) == LEVELS.get(b, 0):
                continue  # same level: no direction to give an undirected tract
            s, t = (a, b) if LEVELS.get(a, 0) < LEVELS.get(b, 0) else (b, a)
            total, n = 0.0, 0
            for r in members[s]:
                for c in members[t]:
                    if _hemisphere(names[r]) == _hemisphere(names[c]):  # within a hemisphere
                        total += values[r, c]
                        n += 1
            counts[(s, t)], pairs[(s, t)] = total, n
    kept = {k: v for k, v in counts.items() if v > 0}
    if not kept:
        raise ConnectomeError("siibra: no streamlines between any two of the areas")
    top = max(kept, key=lambda k: kept[k])
    n_max = kept[top]
    edges = [(s, t, float(np.log10(1 + n) / np.log10(1 + n_max))) for (s, t), n in kept.items()]
    return Connectome.from_edges(
        edges, areas=tuple(a for a in CANONICAL_AREAS if a in areas) or tuple(areas), name=name, species="human",
        source=SOURCE,
        measure=("streamline counts (diffusion tractography), summed over the Julich-Brain regions of each area "
                 f"within each hemisphere; strength = log10(1 + n) / log10(1 + n_max), n_max = {n_max:g} "
                 f"({top[0]}-{top[1]})"),
        notes=("Tractography is UNDIRECTED: each pair has the feedforward direction (V1 < V2 < V4 = MT < IT = LIP); "
               "same-level pairs are not used. Regions: "
               + "; ".join(f"{a} = {'+'.join(c)}" for a, c in areas.items())
               + (f". {description}" if description else "")),
        extra={"raw_values": {f"{s}->{t}": v for (s, t), v in counts.items()},
               "mapping": {a: list(c) for a, c in areas.items()},
               "region_pairs": {f"{s}->{t}": n for (s, t), n in pairs.items()}},
    )


def fetch_siibra_connectome(
    parcellation: str = "julich 3.1",
    cohort: str = "HCP",
    subject: str | None = None,
    areas: Mapping[str, Sequence[str]] = JULICH_AREAS,
    average: bool = False,
) -> Connectome:
    """Ask siibra for the streamline counts of ``cohort`` in ``parcellation`` and convert them.

    siibra lists one matrix per subject (or per group, for cohorts published as group averages):
    ``subject`` picks one by name, ``average=True`` averages them all (downloading each), and by default the
    first one listed is used (the notes name it). Needs siibra and network access to the EBRAINS atlas.
    """
    try:
        import siibra
    except ImportError:
        raise ConnectomeError(f"siibra is not installed ({INSTALL_HINT})") from None
    try:
        parc = siibra.parcellations.get(parcellation)
        features = list(siibra.features.get(parc, "StreamlineCounts"))
    except Exception as exc:  # siibra raises requests/urllib/its own errors when the atlas is unreachable
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise ConnectomeError(f"siibra could not reach the EBRAINS atlas (no network?): {first}") from None
    chosen = [f for f in features if str(getattr(f, "cohort", "")).upper() == cohort.upper()]
    if not chosen:
        found = sorted({str(getattr(f, "cohort", "?")) for f in features})
        raise ConnectomeError(f"siibra: no streamline counts for cohort {cohort!r} (found: {', '.join(found)})")
    feature = chosen[0]
    elements = list(feature) if hasattr(feature, "__iter__") else [feature]
    if subject is not None:
        elements = [e for e in elements if str(getattr(e, "subject", "")) == subject]
        if not elements:
            raise ConnectomeError(f"siibra: cohort {cohort} has no subject {subject!r}")
    chosen_elements = elements if average else elements[:1]
    try:
        matrices = [e.data for e in chosen_elements]
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise ConnectomeError(f"siibra could not download the matrix (no network?): {first}") from None
    matrix = matrices[0] if len(matrices) == 1 else sum(matrices[1:], matrices[0]) / len(matrices)
    label = (f"{cohort}, mean of {len(matrices)} matrices" if average
             else f"{cohort} {getattr(elements[0], 'subject', '') or ''}".strip())
    return connectome_from_streamlines(matrix, areas, name="human-siibra",
                                       description=f"Parcellation {parcellation}, cohort {label}.")
