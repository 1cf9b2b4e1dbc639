"""Exports of trained runs to the field's other tools: a Brain-Score vision plugin (``brainscore``). Imports runs,
the engine, the network's naming and the data layer; nothing imports it but the CLI and the package facade."""

from .brainscore import export_brainscore

__all__ = ["export_brainscore"]
