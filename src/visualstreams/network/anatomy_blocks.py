"""Blocks from the anatomy (``--blocks anatomy``): each area's channels, map size and kernel, and the species' eye,
derived from its anatomy table (:mod:`visualstreams.connectome.anatomy`) for an image that spans ``field_degrees``
degrees of visual angle. The notebook's uniform blocks stay the default (``--blocks uniform``).

The rules (docs/network.md, "Blocks from the anatomy", with MouseNet's beside them):

- **Eye.** The image is averaged down to ``round(2 x acuity x field_degrees)`` pixels a side (never up): two samples
  per cycle of the finest grating the species resolves behaviourally (Nyquist), so a mouse (about 0.5 cycles/deg)
  sees a blurred image and a macaque (tens of cycles/deg) the image's own pixels.
- **Map size.** An area's map has ``round(UNITS_PER_RF x field_degrees / rf)`` positions a side, ``rf`` its
  receptive-field diameter: :data:`UNITS_PER_RF` units across each receptive field; never more than its primary
  input's map (a max-pool, any ratio, makes it).
- **Kernel.** The receptive field grows through the area's convolution and pooling as in any CNN, ``rf_out = rf_in
  + (k - 1 + p - 1) x spacing_in``, with ``p`` the pool's widest window as torch draws it; so ``k = 1 + (rf -
  rf_in) / spacing_in - (p - 1)``, ``rf_in`` the receptive field its primary input's units have *in the model*
  (carried through the recursion from the eye's pixel) and ``spacing_in`` that input's spacing, rounded to the
  nearest odd size, clamped to 1 .. :data:`MAX_KERNEL` and to the input map. The field each area's units get is
  in the derivation's table (``model_rf_deg``), with a note where it is more than 1.5 times from the anatomy's.
- **Channels.** The area's neurons spread over its map positions: channels proportional to ``neurons / size^2``,
  scaled so that all areas' channels sum exactly to the budget (largest remainders; ``channel_budget``, by default
  the notebook's 864 channels over six areas: 144 an area), at least one.

Imports the connectome layer and the compile step (whose wiring says which input is each area's primary).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..connectome import Connectome, load_connectome
from ..connectome.anatomy import Anatomy, anatomy_for
from ..errors import ConfigError
from .architecture import Architecture, AreaSpec
from .compile import compile_network

# Units across one receptive field's diameter: not in the tables (cortex samples far more densely: neighbouring
# neurons' fields overlap), so a stated choice: 4, between the Nyquist minimum of 2 (at which the receptive-field
# growth between areas comes from pooling alone, leaving 1x1 kernels after the first) and MouseNet's VISp (64
# positions over about 90 deg, with VISp's 27-deg fields: about 19).
UNITS_PER_RF = 4.0
MAX_KERNEL = 9  # larger kernels are clamped (a mouse V1 at 64 px would ask for ~21): the clamp is reported
CHANNELS_PER_AREA = 144  # the notebook's 864 channels over its six areas
DEFAULT_FIELD_DEG = 8.0  # the visual angle an image spans unless a run says otherwise: Brain-Score's default


def check_units_per_rf(units_per_rf: object) -> float:
    """Units per receptive field as the rules take them (1 to 64), else a one-line error."""
    if isinstance(units_per_rf, bool) or not (isinstance(units_per_rf, int | float) and 1 <= units_per_rf <= 64):
        raise ConfigError(f"units per receptive field must be between 1 and 64, got {units_per_rf!r}")
    return float(units_per_rf)


@dataclass(frozen=True)
class Derivation:
    """The architecture derived from an anatomy, and every area's numbers and rule outcome (:meth:`table`)."""

    architecture: Architecture
    anatomy: Anatomy
    field_degrees: float
    rows: tuple[dict[str, Any], ...]
    units_per_rf: float = UNITS_PER_RF

    def table(self) -> Any:
        """One row an area (and one for the eye): the anatomy's numbers and the block they give (a DataFrame)."""
        import pandas as pd

        return pd.DataFrame(list(self.rows))


def _odd(x: float, most: int) -> int:
    """The odd whole number nearest ``x`` (a tie to the larger), within 1 .. ``most`` (itself odd or made so): the
    kernel whose receptive field comes nearest the anatomy's, since the field grows linearly with the kernel."""
    most = max(1, most if most % 2 else most - 1)
    k = 2 * math.floor((x - 1) / 2 + 0.5) + 1
    return int(min(max(k, 1), most))


def _window(n_in: int, n_out: int) -> int:
    """The widest window of torch's adaptive pooling from ``n_in`` to ``n_out`` positions (windows start at
    floor(i n_in / n_out) and end at ceil((i + 1) n_in / n_out))."""
    return max(-(-(i + 1) * n_in // n_out) - (i * n_in // n_out) for i in range(n_out))


def _apportion(budget: int, weights: dict[str, float]) -> dict[str, int]:
    """``budget`` whole channels shared in proportion to ``weights``, summing to it exactly (largest remainders; at
    least one each, taken from the largest shares)."""
    total = sum(weights.values())
    exact = {a: budget * w / total for a, w in weights.items()}
    shares = {a: max(1, math.floor(x)) for a, x in exact.items()}
    by_remainder = sorted(exact, key=lambda a: exact[a] - math.floor(exact[a]), reverse=True)
    for a in by_remainder[: max(0, budget - sum(shares.values()))]:
        shares[a] += 1
    while sum(shares.values()) > budget:  # the ones raised to one channel are taken from the largest
        shares[max(shares, key=shares.get)] -= 1  # type: ignore[arg-type]
    return shares


def derive_blocks(connectome: Connectome | str, anatomy: Anatomy | str | None = None, image_size: int = 28,
                  field_degrees: float = DEFAULT_FIELD_DEG, channel_budget: int | None = None,
                  in_channels: int = 1, units_per_rf: float = UNITS_PER_RF) -> Derivation:
    """The anatomy-derived architecture of ``connectome``'s network for ``image_size``-pixel images spanning
    ``field_degrees`` degrees (rules in the module docstring). ``anatomy``: a table or a shipped species' name or a
    file; None: the connectome's species'. Heads and input area as the uniform network's."""
    conn = load_connectome(connectome)
    if not (isinstance(field_degrees, int | float) and 0 < field_degrees < 360):
        raise ConfigError(f"the image's field must be between 0 and 360 degrees, got {field_degrees!r}")
    units_per_rf = check_units_per_rf(units_per_rf)
    table = anatomy if isinstance(anatomy, Anatomy) else anatomy_for(conn, anatomy)
    per_area = table.for_areas(conn)
    budget = CHANNELS_PER_AREA * len(conn.areas) if channel_budget is None else int(channel_budget)
    if budget < len(conn.areas):
        raise ConfigError(f"a channel budget of {budget} leaves an area of {conn.name} without a channel")
    # The wiring (which input is each area's primary, in which order) does not depend on the blocks: the uniform
    # network's compile says it once, at a size no preset's pooling empties (a small image could refuse it).
    wiring = compile_network(conn, image_size=1024, in_channels=in_channels)
    acuity, fov = table.acuity.value, table.field_of_view.value
    eye = max(1, min(image_size, round(2 * acuity * field_degrees)))
    sizes: dict[str, int] = {}
    kernels: dict[str, int] = {}
    # The receptive field each unit of the built model has (degrees), carried through the recursion: the eye's
    # pixel (its averaging window), then each block's convolution and pooling windows as torch draws them.
    model_rf: dict[str, float] = {}
    eye_rf = _window(image_size, eye) * field_degrees / image_size
    eye_notes = [v.note for v in (table.acuity, table.field_of_view) if v.note.lower().startswith("stand-in")]
    if field_degrees > fov:
        eye_notes.append(f"the image ({field_degrees:g} deg) is wider than the species' field of view ({fov:g} deg)")
    rows: list[dict[str, Any]] = [{
        "area": "eye", "rule": "2 x acuity x field", "acuity_cpd": acuity, "field_degrees": field_degrees,
        "field_of_view_deg": fov, "size": eye, "model_rf_deg": eye_rf, "note": "; ".join(eye_notes)}]
    for area in wiring.areas:
        a = per_area[area.name]
        rf = a.rf_size.value
        primary = next((p.source for p in area.inputs if p.primary), None)
        in_size = eye if primary is None else sizes[primary]
        rf_in = eye_rf if primary is None else model_rf[primary]
        spacing = field_degrees / in_size
        wanted_size = round(units_per_rf * field_degrees / rf)
        size = max(1, min(in_size, wanted_size))
        window = _window(in_size, size)
        wanted = 1 + (rf - rf_in) / spacing - (window - 1)
        kernels[area.name] = k = _odd(wanted, min(MAX_KERNEL, in_size))
        sizes[area.name] = size
        model_rf[area.name] = rf_in + (k - 1 + window - 1) * spacing
        unclamped = _odd(wanted, 10 ** 6)
        note = [f"kernel {unclamped} clamped to {k}"] if unclamped != k else []
        if model_rf[area.name] > 1.5 * rf or model_rf[area.name] < rf / 1.5:
            note.append(f"its units' receptive field in the model is {model_rf[area.name]:.3g} deg, the anatomy's "
                        f"{rf:g} (a kernel and pooling of its input's spacing, {spacing:.3g} deg, come no nearer)")
        if wanted_size > in_size:
            note.append(f"map {wanted_size} capped at its input {primary or 'eye'}'s {in_size}")
        if rf < rf_in:
            note.append(f"its receptive field ({rf:g} deg) is below its input {primary or 'eye'}'s in the model "
                        f"({rf_in:.3g} deg): no block narrows it")
        ecc = a.field_max_eccentricity
        if ecc is not None and 2 * ecc.value < field_degrees:
            note.append(f"its map reaches {ecc.value:g} deg, less than the image's half-width")
        note.extend(a.stand_ins)
        rows.append({"area": area.name, "primary_input": primary or "eye", "neurons": a.neurons,
                     "rf_size_deg": rf, "rf_at_eccentricity_deg": a.rf_size.at_eccentricity_deg,
                     "size": size, "kernel_size": k, "model_rf_deg": model_rf[area.name], "note": "; ".join(note)})
    channels = _apportion(budget, {r["area"]: r["neurons"] / r["size"] ** 2 for r in rows[1:]})
    for r in rows[1:]:
        r["channels"] = channels[r["area"]]
        r["neurons_source"] = "; ".join(v.source for v in per_area[r["area"]].neurons_from)
        r["rf_source"] = per_area[r["area"]].rf_size.source
    areas = {a: AreaSpec(channels[a], kernel_size=kernels[a], size=sizes[a]) for a in sizes}
    base = wiring.architecture
    arch = Architecture(areas, dict(base.heads), base.input_area, in_channels, image_size,
                        f"anatomy-{table.species}", eye)
    return Derivation(arch, table, float(field_degrees), tuple(rows), units_per_rf)


__all__ = ["CHANNELS_PER_AREA", "DEFAULT_FIELD_DEG", "MAX_KERNEL", "UNITS_PER_RF", "Derivation", "derive_blocks"]
