"""The course notebook's three connectomes (human, marmoset, mouse), value for value, registered as presets.
Imports the connectome type and the registry; nothing above the connectome layer."""

from __future__ import annotations

from collections.abc import Callable

from ..core import CANONICAL_AREAS, Connectome
from ..registry import register_connectome

NOTEBOOK_CITATION = (
    "Estimates after Felleman & Van Essen (1991) Cereb Cortex 1:1-47 and Kaas (2001) "
    "Curr Opin Neurobiol 11:498-504, as written in the course notebook (not measured data)"
)
NOTEBOOK_MEASURE = "relative projection strength in [0, 1], estimated by hand (unitless)"

# The notebook's matrices, value for value (seed notebook, cell "Creating the Data").
NOTEBOOK_CONNECTIVITY: dict[str, dict[tuple[str, str], float]] = {
    "human": {("V1", "V2"): 0.90, ("V2", "V4"): 0.75, ("V4", "IT"): 0.80, ("V2", "MT"): 0.70, ("MT", "LIP"): 0.75},
    "marmoset": {("V1", "V2"): 0.85, ("V2", "V4"): 0.70, ("V4", "IT"): 0.75, ("V2", "MT"): 0.65, ("MT", "LIP"): 0.70},
    "mouse": {
        ("V1", "V2"): 0.75, ("V2", "V4"): 0.60, ("V4", "IT"): 0.65, ("V2", "MT"): 0.55, ("MT", "LIP"): 0.60,
        ("V1", "V4"): 0.30, ("V1", "MT"): 0.35,
    },
}


def _notebook(species: str, edges: dict[tuple[str, str], float], notes: str = "") -> Callable[[], Connectome]:
    def build() -> Connectome:
        return Connectome.from_edges(
            [(s, t, v) for (s, t), v in edges.items()],
            areas=CANONICAL_AREAS,
            name=species,
            species=species,
            source=NOTEBOOK_CITATION,
            measure=NOTEBOOK_MEASURE,
            notes=notes,
        )

    return build


for _sp, _edges in NOTEBOOK_CONNECTIVITY.items():
    register_connectome(
        _sp,
        _notebook(
            _sp,
            _edges,
            notes="V1->V4 and V1->MT shortcuts (ignored by the notebook's hard-coded model)" if _sp == "mouse" else "",
        ),
    )
