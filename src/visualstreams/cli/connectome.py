"""``visualstreams connectome``: list, show, diff, plot the connectomes; directions; the human atlas's counts."""

from __future__ import annotations

import argparse
from pathlib import Path

from .options import Parser


def add_arguments(pc: argparse.ArgumentParser) -> None:
    from ..connectome import preset_names

    pc.description = "Inspect connectomes: presets or CSV/JSON files."
    presets = ", ".join(preset_names())
    csub = pc.add_subparsers(dest="action", required=True, parser_class=Parser, metavar="ACTION")
    csub.add_parser("list", help="the presets, with species, source and what the strengths measure")
    ps = csub.add_parser("show", help="the labelled matrix and the pathway table",
                         description="Print a connectome as the notebook did: the labelled matrix "
                                     "(rows = source, columns = target) and the pathway table.")
    ps.add_argument("connectome", metavar="SPECIES|FILE", help=f"a preset ({presets}) or a .csv/.json file")
    ps.add_argument("--save", metavar="FILE", help="also write it as .csv or .json")
    _add_blocks(ps)
    pdiff = csub.add_parser("diff", help="two connectomes side by side, on the areas they share",
                            description="Every projection present in either connectome, restricted to the "
                                        "areas both have, with both strengths and their difference (B - A).")
    pdiff.add_argument("a", metavar="A", help="preset or file")
    pdiff.add_argument("b", metavar="B", help="preset or file")
    pdir = csub.add_parser("directions", help="a published preset's directions by its hierarchy and by SLN",
                           description="Every projection of a published preset with the levels of its source's "
                                       "hierarchy (which gives the preset its directions), its own SLN where the "
                                       "data have one, the direction the SLN rule would give (SLN above 0.5 + "
                                       "band feedforward, below 0.5 - band feedback, between lateral) and "
                                       "whether the two agree.")
    pdir.add_argument("connectome", metavar="PRESET", help="a published preset (macaque-markov2014, ...)")
    pdir.add_argument("--band", type=float, default=0.05, metavar="B",
                      help="half-width of the SLN rule's lateral band around 0.5 (default 0.05, a convention)")
    pa = csub.add_parser("siibra", help="human streamline counts from the EBRAINS atlas, as a connectome file",
                         description="Ask siibra (pip install 'visualstreams[siibra]'; needs network) for the "
                                     "streamline counts between the Julich-Brain regions mapped onto the six "
                                     "areas (V1 = hOc1, V2 = hOc2, V4 = hOc4v+hOc4d, MT = hOc5, IT = FG1-FG4, "
                                     "LIP = hIP1-hIP3) and write them as a connectome file.")
    pa.add_argument("--out", required=True, metavar="FILE", help="connectome file to write (.csv or .json)")
    pa.add_argument("--parcellation", default="julich 3.1", help="siibra parcellation (julich 3.1)")
    pa.add_argument("--cohort", default="HCP", help="cohort of the streamline counts (HCP)")
    pa.add_argument("--subject", help="one subject of the cohort (default: the first siibra lists)")
    pa.add_argument("--average", action="store_true", help="average every matrix of the cohort (downloads each)")
    pp = csub.add_parser("plot", help="draw the connectome as a heatmap")
    pp.add_argument("connectome", metavar="SPECIES|FILE", help=f"a preset ({presets}) or a .csv/.json file")
    pp.add_argument("--out", required=True, metavar="PNG", help="heatmap image to write")
    pp.add_argument("--graph", metavar="PNG", help="also draw the areas as a graph, edge widths by strength")
    _add_blocks(pp)


def _add_blocks(p: argparse.ArgumentParser) -> None:
    from .options import add_units_per_rf, positive_float, positive_int

    p.add_argument("--blocks", choices=["uniform", "anatomy"], default="uniform",
                   help="anatomy: also print every area's block derived from the species' anatomy table (channels, "
                        "map size, kernel, the eye) beside the numbers it came from and their sources")
    p.add_argument("--anatomy", metavar="SPECIES|CSV", help="with --blocks anatomy: the anatomy table (default: the "
                                                            "connectome's species')")
    p.add_argument("--field-degrees", type=positive_float, metavar="DEG",
                   help="with --blocks anatomy: the visual angle the image spans (8)")
    p.add_argument("--image-size", type=positive_int, metavar="PX", help="with --blocks anatomy: the image's "
                                                                         "pixels a side (28)")
    add_units_per_rf(p)


def run(args: argparse.Namespace) -> None:
    from .. import connectome as api
    from ..errors import VisualStreamsError
    from ..report import console

    if args.action == "list":
        print(console.presets_text())
    elif args.action == "diff":
        a, b = api.load_connectome(args.a), api.load_connectome(args.b)
        if a.name == b.name:
            b = b.replace(name=f"{b.name} (B)")
        table = api.diff_connectomes(a, b)
        print(f"A = {a.name}: {a.source}\nB = {b.name}: {b.source}\n")
        print(table.round(3).to_string(index=False) if len(table) else "no shared projections")
    elif args.action == "directions":
        print(console.directions_text(args.connectome, args.band))
    elif args.action == "siibra":
        from ..connectome.presets.atlas import fetch_siibra_connectome

        if Path(args.out).suffix.lower() not in (".csv", ".json"):  # before minutes of downloading
            raise VisualStreamsError(f"{args.out}: connectome files end in .csv or .json")
        conn = fetch_siibra_connectome(args.parcellation, args.cohort, args.subject, average=args.average)
        api.save_connectome(conn, args.out)
        print(conn.to_frame().round(2).to_string())
        print(f"wrote {args.out}")
    elif args.action == "plot":
        from ..viz import plot_connectome, plot_connectome_graph

        conn = console.compiled(args.connectome).connectome
        blocks = _blocks(args, conn)  # refused before anything is written
        plot_connectome(conn, args.out)
        print(f"wrote {args.out}")
        if args.graph:
            plot_connectome_graph(conn, args.graph)
            print(f"wrote {args.graph}")
        if blocks:
            print(blocks)
    else:  # show
        spec = console.compiled(args.connectome)
        blocks = _blocks(args, spec.connectome)
        print(console.connectome_text(spec))
        if blocks:
            print(blocks)
        if args.save:
            api.save_connectome(spec.connectome, args.save)
            print(f"wrote {args.save}")


def _blocks(args: argparse.Namespace, conn) -> str:  # noqa: ANN001 (a Connectome; not imported for --help)
    """The anatomy-derived blocks' text, or "" with uniform blocks (then the anatomy options are refused)."""
    from ..errors import ConfigError
    from ..report import console

    if args.blocks != "anatomy":
        if args.anatomy or args.field_degrees or args.image_size or args.units_per_rf:
            raise ConfigError("--anatomy, --field-degrees, --image-size and --units-per-rf go with --blocks anatomy")
        return ""
    return console.blocks_text(conn, args.anatomy, args.field_degrees, args.image_size, args.units_per_rf)
