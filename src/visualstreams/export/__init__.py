"""Exports of trained runs to the field's other tools: a Brain-Score vision plugin (``brainscore``). Imports runs,
the engine, the network's naming and the data layer; nothing imports it but the CLI and the package facade."""

from .._lazy import export_names, lazy_exports

_EXPORTS = {
    ".brainscore": ("export_brainscore",),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = export_names(_EXPORTS)
