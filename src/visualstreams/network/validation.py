"""The checks a (connectome, architecture) pair passes before it compiles (:func:`validate_pair`, called by
:func:`~visualstreams.network.compile.compile_network` only): input area present, head areas present, every area
reachable, nothing feedforward into the input, no feedforward cycle, recurrence the file leaves undirected only
with steps. Imports the connectome layer and the architecture."""

from __future__ import annotations

from .. import graph
from ..connectome import Connectome, find_cycle, reachable
from ..errors import ConnectomeError
from .architecture import Architecture


def validate_pair(conn: Connectome, ff: Connectome, arch: Architecture, directions: dict[tuple[str, str], str],
              steps: int) -> None:
    """``ff`` is ``conn``'s feedforward part; every message names one problem, the most basic first."""
    name, root = conn.name, arch.input_area
    if root not in conn.areas:
        raise ConnectomeError(f"connectome {name!r}: input area {root!r} is missing")
    for head, spec in arch.heads.items():
        if spec.area not in conn.areas:
            raise ConnectomeError(f"connectome {name!r}: area {spec.area!r} for the {head!r} head is missing")
    reach = reachable(conn, root)  # type: ignore[arg-type]
    cut = [a for a in conn.areas if a not in reach]
    if cut:
        raise ConnectomeError(f"connectome {name!r}: area {cut[0]!r} cannot be reached from the input area {root!r}")
    into_input = [s for s in conn.sources(root) if directions[(s, root)] == "feedforward"]
    if into_input:
        raise ConnectomeError(f"connectome {name!r}: {into_input[0]}->{root} enters the input area {root!r} as "
                              "feedforward; the input area takes only the image feedforward (make it feedback)")
    cycle = find_cycle(ff)
    if cycle:
        raise ConnectomeError(f"connectome {name!r}: feedforward projections {' -> '.join(cycle)} form a cycle "
                              "(give one of them the direction feedback)")
    if steps == 1:
        # A cycle the file leaves undirected is recurrence the user asked for: never dropped in silence. (Directions
        # given by the data, as in the published presets, say which projections a one-step network leaves out.)
        ruled = [e for e, d in directions.items() if d != "feedforward" and e not in conn.directions]
        if ruled:
            s, t = ruled[0]
            path = graph.path(ff.graph(), t, s) + [t]  # the rule's feedback edge s->t closes t -> ... -> s -> t
            raise ConnectomeError(f"connectome {name!r}: cycle {' -> '.join(path)} is recurrence: it needs "
                                  "--steps 2 or more")
    ff_reach = reachable(ff, root)  # type: ignore[arg-type]
    cut = [a for a in conn.areas if a not in ff_reach]
    if cut:
        raise ConnectomeError(f"connectome {name!r}: area {cut[0]!r} is reached from the input area {root!r} only "
                              "through feedback or lateral projections (it needs a feedforward path)")


__all__ = ["validate_pair"]
