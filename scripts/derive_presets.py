#!/usr/bin/env python
"""Regenerate the published-data preset tables, ``src/visualstreams/connectome/presets/<name>.csv``.

Reads the DERIVED_* tables in the shared connectivity folder (see its SOURCES.txt for origin, citation and
licence) and writes one CSV per preset in ``visualstreams.connectome.presets.published.PRESETS``. The area
mappings and the strength formulas are imported from that module, so this script only does the lookups.
Run on demand; the package never runs it. Output is deterministic: rerunning reproduces the shipped files
byte for byte (tests/test_published.py checks that).

    python scripts/derive_presets.py [DATA_DIR] [--out OUT_DIR]

DATA_DIR defaults to ``../shared/data/connectivity`` relative to the repository root; OUT_DIR to
``src/visualstreams/connectome/presets``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "connectivity"
DEFAULT_OUT = REPO / "src" / "visualstreams" / "connectome" / "presets"

if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))  # so the script runs from a checkout without installing

from visualstreams.connectome import CANONICAL_AREAS  # noqa: E402
from visualstreams.connectome.presets.measures import (  # noqa: E402
    HARRIS2019_SCORES,
    MARKOV2014_LEVELS,
    fln_strength,
    hcp_strength,
    oh_strength,
)
from visualstreams.connectome.presets.published import PRESETS, direction  # noqa: E402

Row = dict[str, str]


def read_rows(path: Path) -> list[Row]:
    if not path.is_file():
        raise SystemExit(f"derive_presets: missing data file {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def by_pair(rows: list[Row]) -> dict[tuple[str, str], Row]:
    return {(r["source"], r["target"]): r for r in rows}


def fmt(x: float) -> str:
    return f"{x:.6f}"


def ordered_pairs(areas: Sequence[str] = CANONICAL_AREAS) -> list[tuple[str, str]]:
    return [(s, t) for s in areas for t in areas if s != t]


def base_row(s: str, t: str, ds: str, dt: str, raw: str, strength: float, levels: dict[str, float]) -> Row:
    d = direction(s, t, levels)
    return {
        "source": s,
        "target": t,
        "source_area_in_data": ds,
        "target_area_in_data": dt,
        "raw_value": raw,
        "strength": fmt(strength),
        "direction": d,
        "used": "1" if d == "feedforward" and float(raw) > 0 else "0",
    }


def _one(name: str, area: str) -> str:
    (data_area,) = PRESETS[name].mapping[area]  # tracer presets map one data area per canonical area
    return data_area


# -- one function per preset ------------------------------------------------------------------------------------
def derive_macaque(data: Path, name: str = "macaque-markov2014") -> list[Row]:
    spec = PRESETS[name]
    table = by_pair(read_rows(data / "macaque" / "DERIVED_macaque_visual_pairs_FLN_SLN.csv"))
    check_markov_levels(data)
    rows = []
    for s, t in ordered_pairs(spec.areas):
        ds, dt = _one(name, s), _one(name, t)
        r = table.get((ds, dt))
        if r is None:
            continue
        # Markov 2014 where it injected the target; Froudist-Walsh 2021 otherwise (only target LIP here).
        if r["FLN_Markov2014_mean"] != "":
            raw, dataset, n = r["FLN_Markov2014_mean"], "Markov2014", r["n_inj_Markov2014"]
        elif r["FLN_FroudistWalsh2021_mean"] != "":
            raw, dataset, n = r["FLN_FroudistWalsh2021_mean"], "FroudistWalsh2021", r["n_inj_FW2021"]
        else:
            continue
        row = base_row(s, t, ds, dt, raw, fln_strength(float(raw)), spec.levels)
        row.update(dataset=dataset, n_injections=n, SLN_FW2021=r["SLN_FW2021_pooled"])
        rows.append(row)
    return rows


def check_markov_levels(data: Path) -> None:
    """The package's Markov 2014 levels (every preset of the macaque and the marmoset takes its levels from them)
    must be the hierarchical levels of this file, area by area."""
    path = data / "macaque" / "Markov2014JCN_hierarchy.csv"
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(",")
        if len(parts) == 3:
            found[parts[0].strip().lower()] = float(parts[2])
    for area, level in MARKOV2014_LEVELS.items():
        if found.get(area.lower()) != level:
            raise SystemExit(f"derive_presets: level of {area} is {found.get(area.lower())} in {path}, "
                             f"{level} in visualstreams.connectome.presets.published")


def check_harris_scores(data: Path) -> None:
    """The package's Harris 2019 scores must be those of the data (all regions, CC+TC+CT iterated, Cre
    confidence): the visual areas from the DERIVED table, TEa (not in it) from the source workbook."""
    found = {
        r["area"]: float(r["hierarchy_score"])
        for r in read_rows(data / "mouse" / "DERIVED_Harris2019_hierarchy_visual.csv")
        if r["sheet"] == "hierarchy_all_regions" and r["score_type"] == "CC+TC+CT iterated"
    }
    import openpyxl  # only this script reads the workbook (dev extra)

    book = openpyxl.load_workbook(data / "mouse" / "Harris2019_hierarchy_summary_CreConf.xlsx", read_only=True)
    rows = book["hierarchy_all_regions"].iter_rows(values_only=True)
    header = list(next(rows))
    col = header.index("CC+TC+CT iterated")
    for row in rows:
        if row[0] not in found and row[col] is not None:
            found[str(row[0])] = round(float(row[col]), 4)
    for area, score in HARRIS2019_SCORES.items():
        if found.get(area) != score:
            raise SystemExit(f"derive_presets: Harris 2019 score of {area} is {found.get(area)} in {data / 'mouse'}, "
                             f"{score} in visualstreams.connectome.presets.published")


def derive_marmoset(data: Path, name: str = "marmoset-majka2020") -> list[Row]:
    spec = PRESETS[name]
    table = by_pair(read_rows(data / "marmoset" / "DERIVED_marmoset_visual_pairs_FLNe.csv"))
    check_markov_levels(data)
    rows = []
    for s, t in ordered_pairs(spec.areas):
        ds, dt = _one(name, s), _one(name, t)
        r = table.get((ds, dt))
        if r is None or r["FLNe"] == "":  # target not injected
            continue
        rows.append(base_row(s, t, ds, dt, r["FLNe"], fln_strength(float(r["FLNe"])), spec.levels))
    return rows


def derive_mouse(data: Path, name: str = "mouse-oh2014") -> list[Row]:
    spec = PRESETS[name]
    table = by_pair(read_rows(data / "mouse" / "DERIVED_Oh2014_W_ipsi_visual_subset.csv"))
    hierarchy = {
        r["area"]: r["hierarchy_score"]
        for r in read_rows(data / "mouse" / "DERIVED_Harris2019_hierarchy_visual.csv")
        if r["sheet"] == "hierarchy_all_regions" and r["score_type"] == "CC+TC+CT iterated"
    }
    check_harris_scores(data)
    found = []
    for s, t in ordered_pairs(spec.areas):
        ds, dt = _one(name, s), _one(name, t)
        r = table.get((ds, dt))
        if r is not None:
            found.append((s, t, ds, dt, r))
    kept = [
        float(r["W_ipsi_normalized_connection_strength"])
        for s, t, _, _, r in found
        if direction(s, t, spec.levels) == "feedforward" and float(r["W_ipsi_normalized_connection_strength"]) > 0
    ]
    w_max = max(kept)
    rows = []
    for s, t, ds, dt, r in found:
        raw = r["W_ipsi_normalized_connection_strength"]
        row = base_row(s, t, ds, dt, raw, oh_strength(float(raw), w_max), spec.levels)
        row.update(
            p_value=r["p_value_ipsi"],
            source_hierarchy_Harris2019=harris_cell(hierarchy, ds),
            target_hierarchy_Harris2019=harris_cell(hierarchy, dt),
        )
        rows.append(row)
    return rows


def harris_cell(derived: dict[str, str], area: str) -> str:
    """An area's Harris 2019 score as the table shows it: the DERIVED file's text, else (TEa, which the DERIVED
    subset lacks) the workbook's value to 4 decimals; PTLp has no score of its own (its level is a mean)."""
    if area in derived:
        return derived[area]
    return f"{HARRIS2019_SCORES[area]:.4f}" if area in HARRIS2019_SCORES else ""


def derive_human(data: Path) -> list[Row]:
    spec = PRESETS["human-hcp"]
    table: dict[tuple[str, str], Row] = {}
    for r in read_rows(data / "human" / "DERIVED_human_visual_pairs_HCP_SC.csv"):
        table[(r["area_a"], r["area_b"])] = table[(r["area_b"], r["area_a"])] = r  # undirected
    oriented = []
    for i, a in enumerate(CANONICAL_AREAS):
        for b in CANONICAL_AREAS[i + 1:]:
            # Undirected tract: give it the feedforward direction; same-level pairs keep the canonical order.
            s, t = (b, a) if direction(a, b, spec.levels) == "feedback" else (a, b)
            oriented.append((s, t))
    found = []
    for s, t in oriented:
        best, considered = None, []
        for ds in spec.mapping[s]:
            for dt in spec.mapping[t]:
                r = table.get((ds, dt))
                if r is None:
                    raise SystemExit(f"derive_presets: human pair {ds}-{dt} is not in the DERIVED table")
                considered.append(f"{ds}-{dt}={r['SC_mean_LR']}")
                if best is None or float(r["SC_mean_LR"]) > float(best[2]["SC_mean_LR"]):
                    best = (ds, dt, r)
        assert best is not None
        found.append((s, t, best, ";".join(considered)))
    sc_max = max(float(b[2]["SC_mean_LR"]) for s, t, b, _ in found if direction(s, t, spec.levels) == "feedforward")
    rows = []
    for s, t, (ds, dt, r), considered in found:
        raw = r["SC_mean_LR"]
        if float(raw) > 0:
            row = base_row(s, t, ds, dt, raw, hcp_strength(float(raw), sc_max), spec.levels)
            row.update(SC_left=r["SC_left"], SC_right=r["SC_right"])
        else:  # no parcel pair has a tract: name the whole groups
            row = base_row(s, t, "|".join(spec.mapping[s]), "|".join(spec.mapping[t]), raw, 0.0, spec.levels)
            row.update(SC_left="", SC_right="")
        row["pairs_considered"] = considered
        rows.append(row)
    order = {a: i for i, a in enumerate(CANONICAL_AREAS)}
    return sorted(rows, key=lambda r: (order[r["source"]], order[r["target"]]))


DERIVERS: dict[str, Callable[[Path], list[Row]]] = {
    "macaque-markov2014": derive_macaque,
    "macaque-markov2014-full": lambda data: derive_macaque(data, "macaque-markov2014-full"),
    "marmoset-majka2020": derive_marmoset,
    "marmoset-majka2020-full": lambda data: derive_marmoset(data, "marmoset-majka2020-full"),
    "mouse-oh2014": derive_mouse,
    "mouse-oh2014-full": lambda data: derive_mouse(data, "mouse-oh2014-full"),
    "human-hcp": derive_human,
}


def write_table(rows: list[Row], columns: Sequence[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def derive(data_dir: Path | str = DEFAULT_DATA, out_dir: Path | str = DEFAULT_OUT) -> list[Path]:
    """Write every preset table into ``out_dir``; returns the paths written."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    written = []
    for name, fn in DERIVERS.items():
        path = out_dir / f"{name}.csv"
        write_table(fn(data_dir), PRESETS[name].columns, path)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default=str(DEFAULT_DATA), help="the shared connectivity folder")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="where to write the preset CSVs")
    args = parser.parse_args(argv)
    for path in derive(args.data_dir, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
