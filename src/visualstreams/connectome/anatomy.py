"""Each species' anatomy beside its wiring: how many neurons each area has, how large its receptive fields are, and
the species' eye (behavioural acuity and field of view), as published, with the source of every number.

A table is a long CSV, one published value a row (shipped ones in ``anatomy_tables/<species>.csv``; a user's file
for their own connectome has the same columns)::

    species,area,quantity,value,unit,at_eccentricity_deg,citation,locator,note
    macaque,V1,neurons,...,neurons,,"Collins CE et al. (2010) PNAS ...",Table 1,...
    macaque,V1,rf_size,...,deg,5,...
    macaque,eye,acuity,...,cycles/deg,,...

Quantities (units as published, converted on reading; :data:`UNITS`; counts are one hemisphere's): ``neurons``,
or ``surface_area`` with ``neuron_density`` (neurons per mm^2 of cortical surface), or ``volume`` with
``neuron_volume_density`` (neurons per mm^3); ``rf_size`` (or ``rf_area``, in deg^2, read as the diameter of a
disc of that area) (a receptive field's diameter, at
``at_eccentricity_deg``); ``field_max_eccentricity`` (how far into the periphery the area's map reaches); and for
``eye``: ``acuity`` (cycles/degree) and ``field_of_view`` (degrees, both eyes, horizontal). Other quantities
(``rf_slope``, ``binocular_field``, ...) are kept for the record and not used. An area the sources count under
other names is ``made_of`` them (value ``PITd+PITv``, unit ``areas``): its neurons are theirs summed, its receptive
field its own row. Where a row stands in for a value the source does not give, its ``note`` begins "stand-in" and
says what and why (:attr:`AreaAnatomy.stand_ins`).

What the numbers become (a block per area) is the network layer's business
(:mod:`visualstreams.network.anatomy_blocks`); this module reads, validates and looks up. Imports the leaves.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .core import Connectome

TABLE_DIR = Path(__file__).parent / "anatomy_tables"
COLUMNS = ("species", "area", "quantity", "value", "unit", "at_eccentricity_deg", "citation", "locator", "note")
EYE = "eye"  # the area name of the species' own rows (acuity, field of view)
# Units a quantity may be published in, and the factor to the unit the derivation uses (first listed).
UNITS: dict[str, dict[str, float]] = {
    "neurons": {"neurons": 1.0, "thousand neurons": 1e3, "million neurons": 1e6},
    "surface_area": {"mm2": 1.0, "cm2": 100.0},
    "neuron_density": {"neurons/mm2": 1.0, "thousand neurons/mm2": 1e3},
    "volume": {"mm3": 1.0, "mm3 (both hemispheres)": 0.5},  # one hemisphere's, as every count here
    "neuron_volume_density": {"neurons/mm3": 1.0},
    "rf_size": {"deg": 1.0},
    "rf_area": {"deg2": 1.0},
    "field_max_eccentricity": {"deg": 1.0},
    "acuity": {"cycles/deg": 1.0},
    "field_of_view": {"deg": 1.0},
}
AREA_QUANTITIES = ("neurons", "surface_area", "neuron_density", "volume", "neuron_volume_density", "rf_size",
                   "rf_area", "field_max_eccentricity")
EYE_QUANTITIES = ("acuity", "field_of_view")
MADE_OF = "made_of"  # an area counted as the sum of others (value: their names joined by '+')


@dataclass(frozen=True)
class Value:
    """One published number in the derivation's unit, with where it comes from."""

    value: float
    citation: str
    locator: str = ""
    at_eccentricity_deg: float | None = None
    note: str = ""

    @property
    def source(self) -> str:
        return f"{self.citation}, {self.locator}" if self.locator else self.citation


@dataclass(frozen=True)
class AreaAnatomy:
    """One area's numbers: its neurons (counted, or surface area x density, or its parts') and its receptive-field
    size; a canonical area mapped to several source areas has their neurons summed and the first one's field."""

    name: str
    neurons: float
    rf_size: Value
    neurons_from: tuple[Value, ...]  # the count, or the surface area and the density it is their product of
    field_max_eccentricity: Value | None = None

    @property
    def stand_ins(self) -> tuple[str, ...]:
        """Notes of the values that stand in for one the sources do not give."""
        return tuple(v.note for v in (*self.neurons_from, self.rf_size) if v.note.lower().startswith("stand-in"))


@dataclass(frozen=True)
class Anatomy:
    """A species' anatomy table, read: its areas (under the source's names) and its eye."""

    species: str
    areas: Mapping[str, AreaAnatomy]
    acuity: Value  # cycles per degree
    field_of_view: Value  # degrees
    path: str = ""
    # every area's neurons and the values they come from, those without a receptive field (no block) included
    counts: Mapping[str, tuple[float, tuple[Value, ...]]] = field(default_factory=dict, repr=False)

    def _missing(self, name: str) -> str:
        if name in self.counts and name not in self.areas:
            return f"the {self.species} anatomy table counts {name!r}'s neurons but gives no receptive-field size"
        return f"the {self.species} anatomy table has no area {name!r} (areas: {', '.join(self.areas)})"

    def for_areas(self, connectome: Connectome) -> dict[str, AreaAnatomy]:
        """The anatomy of each of ``connectome``'s areas: its own, or (a six-area preset's canonical area) the
        source areas it is mapped to, their neurons summed and the receptive field of the first one listed."""
        mapping = dict(connectome.extra.get("mapping") or {})
        out: dict[str, AreaAnatomy] = {}
        for area in connectome.areas:
            names = [area] if area in self.areas else list(mapping.get(area, [area]))
            missing = [n for n in names[:1] if n not in self.areas] + [n for n in names if n not in self.counts]
            if missing:
                via = f" (mapped to {', '.join(names)})" if names != [area] else ""
                raise ConfigError(f"area {area}{via}: {self._missing(missing[0])}")
            first = self.areas[names[0]]
            out[area] = AreaAnatomy(area, sum(self.counts[n][0] for n in names), first.rf_size,
                                    tuple(v for n in names for v in self.counts[n][1]), first.field_max_eccentricity)
        return out


def anatomy_species() -> list[str]:
    """The species a table ships for."""
    return sorted(p.stem for p in TABLE_DIR.glob("*.csv"))


def load_anatomy(source: str | os.PathLike[str]) -> Anatomy:
    """A shipped species' table (:func:`anatomy_species`: ``macaque``, ``mouse``) or a CSV file of the same
    columns; a bad file is refused in one line naming the row."""
    text_source = str(source)
    path = TABLE_DIR / f"{text_source}.csv" if text_source in anatomy_species() else Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such anatomy table (shipped: {', '.join(anatomy_species())}; "
                          "or a .csv file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or 'not UTF-8 text'})") from None
    try:
        return parse_anatomy(text, str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def anatomy_for(connectome: Connectome, source: str | os.PathLike[str] | None = None) -> Anatomy:
    """The anatomy a connectome's network is derived from: ``source`` (a file or species), else its species'."""
    if source is None:
        if connectome.species.lower() not in anatomy_species():
            raise ConfigError(f"connectome {connectome.name!r} (species {connectome.species or 'not given'!r}) has "
                              f"no shipped anatomy table ({', '.join(anatomy_species())}): give an anatomy file "
                              "(--anatomy FILE)")
        source = connectome.species.lower()
    return load_anatomy(source)


def parse_anatomy(text: str, path: str = "") -> Anatomy:
    """Read a table's text (see the module docstring); errors name the row."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(f"missing column {missing[0]!r} (columns: {', '.join(COLUMNS)})")
    rows = list(reader)
    if not rows:
        raise ConfigError("no rows")
    species = {r["species"].strip() for r in rows}
    if len(species) != 1 or "" in species:
        raise ConfigError(f"one species a table, got {sorted(species)}")
    values: dict[tuple[str, str], Value] = {}
    made_of: dict[str, tuple[tuple[str, ...], Value]] = {}
    for line, row in enumerate(rows, start=2):
        area, quantity = row["area"].strip(), row["quantity"].strip()
        if not area or not row["citation"].strip():
            raise ConfigError(f"row {line}: every value needs an area and a citation")
        if quantity == MADE_OF:
            parts = tuple(p.strip() for p in row["value"].split("+"))
            if area in made_of or not all(parts):
                raise ConfigError(f"row {line}: made_of lists areas joined by '+', once an area")
            made_of[area] = (parts, Value(0.0, row["citation"].strip(), row["locator"].strip(), None,
                                          row["note"].strip()))
            continue
        if quantity not in UNITS:
            continue  # kept for the record (rf_slope, binocular_field, ...), not used
        if (area == EYE) != (quantity in EYE_QUANTITIES):
            raise ConfigError(f"row {line}: {quantity} is a quantity of "
                              f"{'the eye' if quantity in EYE_QUANTITIES else 'an area, not of the eye'}")
        unit = row["unit"].strip()
        if unit not in UNITS[quantity]:
            raise ConfigError(f"row {line}: {quantity} in {unit!r}? (units: {', '.join(UNITS[quantity])})")
        try:
            number = float(row["value"])
            ecc = float(row["at_eccentricity_deg"]) if row["at_eccentricity_deg"].strip() else None
        except ValueError:
            raise ConfigError(f"row {line}: {row['value']!r} / {row['at_eccentricity_deg']!r} is not a "
                              "number") from None
        if not number > 0 or number == float("inf"):
            raise ConfigError(f"row {line}: {quantity} must be a positive number, got {row['value']}")
        if (area, quantity) in values:
            raise ConfigError(f"row {line}: a second {quantity} of {area} (one value each is used; keep the other "
                              "under another quantity name)")
        values[area, quantity] = Value(number * UNITS[quantity][unit], row["citation"].strip(),
                                       row["locator"].strip(), ecc, row["note"].strip())
    for quantity in EYE_QUANTITIES:
        if (EYE, quantity) not in values:
            raise ConfigError(f"no {quantity} of the eye (area 'eye')")
    counted: dict[str, tuple[float, tuple[Value, ...]]] = {}
    for area in dict.fromkeys(a for a, _ in values if a != EYE):
        got = {q: values[area, q] for q in AREA_QUANTITIES if (area, q) in values}
        if "neurons" in got:
            counted[area] = (got["neurons"].value, (got["neurons"],))
        else:
            for size, density in (("surface_area", "neuron_density"), ("volume", "neuron_volume_density")):
                if size in got and density in got:
                    counted[area] = (got[size].value * got[density].value, (got[size], got[density]))
                    break
    for area, (parts, how) in made_of.items():
        missing = [p for p in parts if p not in counted]
        if missing or area in counted:
            raise ConfigError(f"area {area}: made_of {missing[0]!r}, which has no neurons" if missing else
                              f"area {area}: both its own neurons and made_of")
        counted[area] = (sum(counted[p][0] for p in parts), (how, *(v for p in parts for v in counted[p][1])))
    areas: dict[str, AreaAnatomy] = {}
    for area in dict.fromkeys([*(a for a, _ in values if a != EYE), *made_of]):
        got = {q: values[area, q] for q in AREA_QUANTITIES if (area, q) in values}
        if "rf_size" not in got and "rf_area" in got:  # the diameter of a disc of the published area
            a = got["rf_area"]
            got["rf_size"] = Value(2 * math.sqrt(a.value / math.pi), a.citation, a.locator, a.at_eccentricity_deg,
                                   a.note)
        if area not in counted:
            raise ConfigError(f"area {area}: needs neurons, or surface_area and neuron_density, or volume and "
                              "neuron_volume_density"
                              + (", or made_of" if "rf_size" in got else ""))
        if "rf_size" not in got:  # counted only (a part of an area, or one no receptive field was found for)
            continue
        neurons, parts = counted[area]
        areas[area] = AreaAnatomy(area, neurons, got["rf_size"], parts, got.get("field_max_eccentricity"))
    return Anatomy(species.pop(), areas, values[EYE, "acuity"], values[EYE, "field_of_view"], path, counted)


__all__ = ["COLUMNS", "EYE", "TABLE_DIR", "UNITS", "Anatomy", "AreaAnatomy", "Value", "anatomy_for",
           "anatomy_species", "load_anatomy", "parse_anatomy"]
