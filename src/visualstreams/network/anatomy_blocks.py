"""Blocks from the anatomy (``--blocks anatomy``): each area's channels, map size and kernel, and the species' eye,
derived from its anatomy table (:mod:`visualstreams.connectome.anatomy`) for an image that spans ``field_degrees``
degrees of visual angle. The notebook's uniform blocks stay the default (``--blocks uniform``).

The rules (docs/network.md, "Blocks from the anatomy", with MouseNet's beside them):

- **Eye.** The image is averaged down to ``round(2 x acuity x field_degrees)`` pixels a side (never up): two samples
  per cycle of the finest grating the species resolves behaviourally (Nyquist), so a mouse (about 0.5 cycles/deg)
  sees a blurred image and a macaque (tens of cycles/deg) the image's own pixels.
- **Map size.** An area's map has ``round(2 x field_degrees / rf)`` positions a side, ``rf`` its receptive-field
  diameter: two units per receptive field across the image, as the eye has two samples per cycle; never more
  than its primary input's map (a max-pool, any ratio, makes it).
- **Kernel.** The receptive field grows through the area's convolution and pooling as in any CNN, ``rf_out = rf_in
  + (k - 1 + p - 1) x spacing_in``, with ``p`` the pool's window; so ``k = 1 + (rf - rf_in) / spacing_in - (p - 1)``,
  ``rf_in`` and ``spacing_in`` its primary input's (the eye's pixel for the input area), rounded up to an odd
  size (the unit's receptive field at least spans the anatomy's), clamped to 1 .. :data:`MAX_KERNEL` and to the
  input map.
- **Channels.** The area's neurons spread over its map positions: channels proportional to ``neurons / size^2``,
  scaled so that all areas' channels sum to the budget (``channel_budget``, by default the notebook's 864
  channels over six areas: 144 an area), at least one.

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

MAX_KERNEL = 9  # larger kernels are clamped (a mouse V1 at 64 px would ask for ~21): the clamp is reported
CHANNELS_PER_AREA = 144  # the notebook's 864 channels over its six areas
DEFAULT_FIELD_DEG = 8.0  # the visual angle an image spans unless a run says otherwise: Brain-Score's default


@dataclass(frozen=True)
class Derivation:
    """The architecture derived from an anatomy, and every area's numbers and rule outcome (:meth:`table`)."""

    architecture: Architecture
    anatomy: Anatomy
    field_degrees: float
    rows: tuple[dict[str, Any], ...]

    def table(self) -> Any:
        """One row an area (and one for the eye): the anatomy's numbers and the block they give (a DataFrame)."""
        import pandas as pd

        return pd.DataFrame(list(self.rows))


def _odd(x: float, most: int) -> int:
    """The smallest odd whole number >= ``x`` (so the unit's receptive field at least spans the anatomy's), within
    1 .. ``most`` (itself odd or made so)."""
    most = max(1, most if most % 2 else most - 1)
    k = 2 * math.ceil((x - 1) / 2 - 1e-9) + 1
    return int(min(max(k, 1), most))


def derive_blocks(connectome: Connectome | str, anatomy: Anatomy | str | None = None, image_size: int = 28,
                  field_degrees: float = DEFAULT_FIELD_DEG, channel_budget: int | None = None,
                  in_channels: int = 1) -> Derivation:
    """The anatomy-derived architecture of ``connectome``'s network for ``image_size``-pixel images spanning
    ``field_degrees`` degrees (rules in the module docstring). ``anatomy``: a table or a shipped species' name or a
    file; None: the connectome's species'. Heads and input area as the uniform network's."""
    conn = load_connectome(connectome)
    if not (isinstance(field_degrees, int | float) and 0 < field_degrees < 360):
        raise ConfigError(f"the image's field must be between 0 and 360 degrees, got {field_degrees!r}")
    table = anatomy if isinstance(anatomy, Anatomy) else anatomy_for(conn, anatomy)
    per_area = table.for_areas(conn)
    budget = CHANNELS_PER_AREA * len(conn.areas) if channel_budget is None else int(channel_budget)
    if budget < len(conn.areas):
        raise ConfigError(f"a channel budget of {budget} leaves an area of {conn.name} without a channel")
    # The wiring (which input is each area's primary, in which order) does not depend on the blocks: the uniform
    # network's compile says it once.
    wiring = compile_network(conn, image_size=1024, in_channels=in_channels)
    acuity, fov = table.acuity.value, table.field_of_view.value
    eye = max(1, min(image_size, round(2 * acuity * field_degrees)))
    sizes: dict[str, int] = {}
    kernels: dict[str, int] = {}
    rows: list[dict[str, Any]] = [{
        "area": "eye", "rule": "2 x acuity x field", "acuity_cpd": acuity, "field_degrees": field_degrees,
        "field_of_view_deg": fov, "size": eye, "note": "" if field_degrees <= fov else
        f"the image ({field_degrees:g} deg) is wider than the species' field of view ({fov:g} deg)"}]
    for area in wiring.areas:
        a = per_area[area.name]
        primary = next((p.source for p in area.inputs if p.primary), None)
        in_size = eye if primary is None else sizes[primary]
        rf_in = field_degrees / eye if primary is None else per_area[primary].rf_size.value
        spacing = field_degrees / in_size
        size = max(1, min(in_size, round(2 * field_degrees / a.rf_size.value)))
        window = in_size / size
        wanted = 1 + (a.rf_size.value - rf_in) / spacing - (window - 1)
        kernels[area.name] = _odd(wanted, min(MAX_KERNEL, in_size))
        sizes[area.name] = size
        unclamped = _odd(wanted, 10 ** 6)
        note = [f"kernel {unclamped} clamped to {kernels[area.name]}"] if unclamped != kernels[area.name] else []
        ecc = a.field_max_eccentricity
        if ecc is not None and 2 * ecc.value < field_degrees:
            note.append(f"its map reaches {ecc.value:g} deg, less than the image's half-width")
        note.extend(a.stand_ins)
        rows.append({"area": area.name, "primary_input": primary or "eye", "neurons": a.neurons,
                     "rf_size_deg": a.rf_size.value, "rf_at_eccentricity_deg": a.rf_size.at_eccentricity_deg,
                     "size": size, "kernel_size": kernels[area.name], "note": "; ".join(note)})
    weights = {r["area"]: r["neurons"] / r["size"] ** 2 for r in rows[1:]}
    total = sum(weights.values())
    channels = {a: max(1, round(budget * w / total)) for a, w in weights.items()}
    for r in rows[1:]:
        r["channels"] = channels[r["area"]]
        r["neurons_source"] = "; ".join(v.source for v in per_area[r["area"]].neurons_from)
        r["rf_source"] = per_area[r["area"]].rf_size.source
    areas = {a: AreaSpec(channels[a], kernel_size=kernels[a], size=sizes[a]) for a in sizes}
    base = wiring.architecture
    arch = Architecture(areas, dict(base.heads), base.input_area, in_channels, image_size,
                        f"anatomy-{table.species}", eye)
    return Derivation(arch, table, float(field_degrees), tuple(rows))


__all__ = ["CHANNELS_PER_AREA", "DEFAULT_FIELD_DEG", "MAX_KERNEL", "Derivation", "derive_blocks"]
