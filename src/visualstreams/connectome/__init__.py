"""Connectomes: the graph type (``core``), files (``io``), the preset registry and factory (``registry``) and
the shipped presets (``presets``, registered on import). Imports only the leaves below it."""

from . import presets as _presets  # noqa: F401  (registers the shipped presets)
from .core import (
    CANONICAL_AREAS,
    CANONICAL_LEVELS,
    Connectome,
    feedforward_part,
    find_cycle,
    hierarchy_levels,
    projection_directions,
    reachable,
    topological_order,
)
from .io import diff_connectomes, read_csv, read_json, save_connectome, write_csv, write_json_connectome
from .presets.notebook import NOTEBOOK_CONNECTIVITY
from .presets.published import direction_rules
from .registry import list_connectomes, load_connectome, preset_names, preset_records, register_connectome

__all__ = [
    "CANONICAL_AREAS", "CANONICAL_LEVELS", "Connectome", "feedforward_part", "find_cycle", "hierarchy_levels",
    "projection_directions", "reachable", "topological_order", "diff_connectomes", "read_csv", "read_json",
    "save_connectome", "write_csv", "direction_rules",
    "write_json_connectome", "NOTEBOOK_CONNECTIVITY", "list_connectomes", "load_connectome", "preset_names",
    "preset_records", "register_connectome",
]
