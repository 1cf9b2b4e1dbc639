"""What the command line prints: its tables and sentences as text, formatted by the one formatter
(:mod:`visualstreams.format`), so that a console table and the report say a number the same way.

Light at import (the network's compile step; pandas where a table is printed), so that the quick commands start at
once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..connectome import Connectome, direction_rules, load_connectome, preset_records
from ..format import format_metric, format_number, p_clause
from ..metrics import TEST_METRICS, TESTED_METRICS
from ..network.compile import CompiledNetwork, compile_network

if TYPE_CHECKING:  # imported where a table is printed: `connectome list` starts without it
    import pandas as pd


def _short(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def presets_text() -> str:
    """``connectome list``: each preset with its species, size, source and what its strengths measure."""
    presets = preset_records()
    width = max(len(str(r["name"])) for r in presets) + 1
    lines = []
    for r in presets:
        edges, recurrent = r["edges"], r["recurrent"]
        fb = f" ({edges - recurrent} feedforward, {recurrent} feedback or lateral)" if recurrent else ""
        lines += [f"{r['name']:<{width}} {r['species']:<9} {r['areas']} areas, {edges} projections{fb}",
                  f"    source:  {_short(str(r['source']))}", f"    measure: {_short(str(r['measure']))}"]
    return "\n".join(lines)


def compiled(connectome: str | Connectome) -> CompiledNetwork:
    """The network a connectome compiles into, as the connectome commands show it: at two steps, so that a cycle
    (recurrence) is shown rather than refused, and a connectome that compiles into no network is refused."""
    return compile_network(connectome, steps=2)


def connectome_text(spec: CompiledNetwork) -> str:
    """``connectome show``: the labelled matrix, as the notebook printed it, and the pathway table with each
    projection's direction."""
    conn = spec.connectome
    lines = [f"{conn.name.upper()} connectivity (rows: source, columns: target)"]
    lines += [f"  {key}: {getattr(conn, key)}" for key in ("species", "measure", "source", "notes")
              if getattr(conn, key)]
    lines.append(conn.to_frame().round(2).to_string())
    kinds = {(p.source, p.target): p.direction for p in spec.projections}
    paths = conn.pathways()
    paths["direction"] = [kinds[(s, t)] for s, t in zip(paths["source"], paths["target"], strict=True)]
    counts = paths["direction"].value_counts()
    lines.append(f"\n{len(paths)} projections: "
                 + ", ".join(f"{counts.get(d, 0)} {d}" for d in ("feedforward", "feedback", "lateral"))
                 + " (a one-step network uses the feedforward ones; --steps 2 or more uses all)")
    lines.append(paths[["pathway", "strength", "direction"]].round(3).to_string(index=False))
    return "\n".join(lines)


def blocks_text(connectome: str | Connectome, anatomy: str | None, field_degrees: float | None,
                image_size: int | None, units_per_rf: float | None = None) -> str:
    """``connectome show/plot --blocks anatomy``: every area's block derived from its species' anatomy, beside the
    numbers it came from and their sources (:func:`~visualstreams.network.anatomy_blocks.derive_blocks`)."""
    from ..network.anatomy_blocks import DEFAULT_FIELD_DEG, UNITS_PER_RF, derive_blocks

    d = derive_blocks(connectome, anatomy, image_size or 28, field_degrees or DEFAULT_FIELD_DEG,
                      units_per_rf=units_per_rf or UNITS_PER_RF)
    table = d.table()
    eye = table.iloc[0]
    field = f"{d.field_degrees:g} deg"
    from ..connectome.anatomy import TABLE_DIR

    table_path = Path(d.anatomy.path)
    where = f"shipped {table_path.name}" if table_path.parent == TABLE_DIR else str(table_path)
    lines = [f"\nBlocks from the {d.anatomy.species} anatomy ({where}) for a {d.architecture.image_size} px "
             f"image spanning {field}: the eye {int(eye['size'])} px (2 x {eye['acuity_cpd']:g} cycles/deg x {field}, "
             f"at most the image's); {d.units_per_rf:g} units per receptive field; rules in docs/network.md"]
    areas = table.iloc[1:].copy()
    areas["neurons"] = areas["neurons"].map(lambda n: f"{n:,.0f}")
    areas[["size", "kernel_size", "channels"]] = areas[["size", "kernel_size", "channels"]].astype(int)
    areas[["rf_size_deg", "model_rf_deg"]] = areas[["rf_size_deg", "model_rf_deg"]].astype(float).round(2)
    lines.append(areas[["area", "primary_input", "neurons", "rf_size_deg", "rf_at_eccentricity_deg", "size",
                        "kernel_size", "model_rf_deg", "channels"]].to_string(index=False))
    for _, r in areas.iterrows():
        lines.append(f"  {r['area']}: neurons from {r['neurons_source']}; receptive field from {r['rf_source']}"
                     + (f" [{r['note']}]" if r["note"] else ""))
    if eye["note"]:
        lines.append(f"  eye: {eye['note']}")
    return "\n".join(lines)


def directions_text(preset: str, band: float) -> str:
    """``connectome directions``: a published preset's directions by its hierarchy beside the SLN rule's."""
    table = direction_rules(preset, band)
    conn = load_connectome(preset)
    lines = [f"{conn.name}: directions by {conn.extra['level_source']}"]
    with_sln = table[table["SLN"].notna()]
    if len(with_sln):
        lines.append(f"the SLN rule (lateral band {0.5 - band:g}-{0.5 + band:g}) agrees for "
                     f"{int(with_sln['agree'].sum())} of the {len(with_sln)} projections with an SLN")
    else:
        lines.append("the data have no SLN: the hierarchy alone gives the directions")
        table = table.drop(columns=["SLN", "sln", "agree"])
    lines.append(table.to_string(index=False))
    return "\n".join(lines)


def comparison_text(summary: pd.DataFrame, stats: pd.DataFrame, tests: pd.DataFrame,
                    similarity_skipped: str | None = None) -> str:
    """``compare``'s table: one row per condition and species, mean ± 95% CI half-width over seeds beside the
    notebook's figures; then the pairwise differences with Holm's correction; last, why the similarity section is
    missing when its analysis failed (``similarity_skipped``)."""
    import pandas as pd

    metrics = [m for m in TEST_METRICS if m in set(stats.get("metric", []))]
    rows: list[dict[str, Any]] = []
    for (mode, species), grp in stats.groupby(["condition", "species"], sort=False):
        row: dict[str, Any] = {"species": species, "condition": mode, "n": int(grp["n"].iloc[0])}
        for m in metrics:
            s = grp[grp["metric"] == m].iloc[0]
            half = (s["ci_high"] - s["ci_low"]) / 2
            row[m.removeprefix("test_")] = format_metric(s["mean"], m) + ("" if pd.isna(half) else
                                                                          f" ± {format_metric(half, m)}")
        runs = summary[(summary["species"] == species) & (summary["condition"] == mode)]
        if "notebook_test_acc" in summary and summary["notebook_test_acc"].notna().any():
            row["notebook acc"] = format_metric(runs["notebook_test_acc"].iloc[0], "test_acc")
        row["train s/run"] = format_number(runs["seconds"].mean(), 1)
        rows.append(row)
    lines = [pd.DataFrame(rows).to_string(index=False)]
    for r in summary[summary["status"] != "ok"].itertuples():
        lines.append(f"FAILED {r.species} {r.condition} seed {r.seed}: {r.status}")
    testable = tests[tests["p"].notna()] if len(tests) else tests
    if len(tests) and not len(testable):
        lines.append("(one seed per group: no test can separate a difference from seed noise; use --seeds N)")
    shown = testable[testable["metric"].isin(TESTED_METRICS)] if len(testable) else testable
    if len(shown):
        lines += ["", "pairwise differences (Welch t-test, Holm-corrected within each metric and stratum):"]
        for r in shown.itertuples():
            flag = "*" if r.significant else " "
            # conditions compared within a species; species (and reference models) within a condition
            stratum = getattr(r, "species", None) if r.compare == "condition" else getattr(r, "condition", None)
            lines.append(f" {flag} {r.metric:<12} {r.group_a} - {r.group_b} ({stratum}): {r.diff:+.3f} "
                         f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}], p {p_clause(r.p)}, p_holm {p_clause(r.p_holm)}")
        lines.append("(* = significant after correction)")
    if similarity_skipped:  # at the end, where it is read: the warning about it scrolled by before the table
        lines += ["", "MISSING representational similarity (no similarity_*.csv, none in the report): "
                      f"{similarity_skipped}"]
    return "\n".join(lines)


# train's closing sentence: the final test metrics a task has, each as it reads in words
_FINAL_WORDS = {"test_acc": "test accuracy {}%", "test_loc_err": "localisation error {} px", "test_r2": "R^2 {}",
                "test_loss": "test loss {}"}


def train_text(result: Any, out: str) -> str:
    """``train``'s output: the history table, the final metrics with where and how they were computed, and what a
    twin is matched on or which projections a one-step network leaves out. ``result``: a TrainResult."""
    lines = [result.history.round(4).to_string(index=False)]
    f = result.final
    parts = [words.format(format_metric(f[m], m)) for m, words in _FINAL_WORDS.items() if m in f]
    resolved = result.config.get("resolved", {})
    how = ", ".join(str(resolved[k]) for k in ("device", "precision") if k in resolved)
    if isinstance(resolved.get("threads"), int):  # configs written before threads were recorded lack them
        how += f", {resolved['threads']} thread{'s' if resolved['threads'] > 1 else ''}"
    lines.append(f"{result.config['name']}: {', '.join(parts)}" + (f" ({how})" if how else "")
                 + f"; run written to {out}")
    spec = result.model.spec
    # the network's section, or the train section of a config.json written before the split
    net_cfg = result.config.get("network") or result.config.get("train", {})
    twin_of = net_cfg.get("twin_of")
    unused = (sum(d != "feedforward" for d in spec.connectome.directions.values())
              if spec.steps == 1 and isinstance(spec, CompiledNetwork) else 0)
    model = result.config.get("model")
    if isinstance(model, dict):  # a reference model: what it is, its size and cost, any adaptation to the input
        rule = f"; stem adapted to {model.get('image_size')} px ({model['small_input']})" if model.get(
            "small_input") else ""
        lines.append(f"(reference model: {result.config.get('parameters'):,} parameters, "
                     f"{result.config.get('flops'):,} training FLOPs per image{rule})")
    init = result.config.get("init") or {}
    if init:  # not the seed's draw trained: say where it started and whether it trained
        start = f"started from {init['weights']}" if init.get("weights") else "the seed's initial weights"
        how = "not trained: scored as it starts" if init.get("untrained") else "then trained"
        lines.append(f"({start}; {how})")
    if twin_of:  # the control, not a network that leaves its feedback out: say what it is matched to
        on = ("training FLOPs per image (within 5%)" if net_cfg.get("twin_match") == "compute" else
              "parameters used by the task (within 2%)")
        lines.append(f"(the feedforward twin of the {twin_of}-step network: one step, "
                     f"{result.config.get('parameters'):,} parameters, {result.config.get('parameters_used'):,} "
                     f"used, {result.config.get('flops'):,} training FLOPs per image; matched on {on})")
    elif unused:  # nothing silent: the data's feedback is left out of a one-step network on purpose, and said so
        lines.append(f"(a one-step network: its {unused} feedback and lateral projections are used with --steps 2 "
                     "or more)")
    return "\n".join(lines)


def lesion_text(table: pd.DataFrame) -> str:
    """``lesion``'s table: each lesion's test metrics and their change, the mean over runs."""
    cols = [c for c in table.columns if c.startswith("test_") or c.startswith("change_")]
    means = table.groupby("lesion", sort=False)[cols].mean()
    n = table["run"].nunique()
    return (f"test metrics intact and lesioned (mean over {n} run{'s' if n > 1 else ''}):\n"
            + means.round(4).to_string())


def similarity_text(result: Any) -> str:
    """``similarity``'s output: what was compared, the species and condition differences as sentences, else the
    mean similarity between runs per area. ``result``: a SimilarityResult."""
    n = len(result.runs)
    lines = [f"{n} run{'s' if n > 1 else ''}, {len(result.areas)} areas ({', '.join(result.areas)}), "
             f"{result.n_images} probe images"]
    for table in (result.differences, result.mode_differences):
        lines += [f"  {sentence}" for sentence in (table["sentence"] if len(table) else ())]
    if not len(result.differences) and not len(result.mode_differences) and len(result.across):
        means = result.across.groupby(["metric", "area"], sort=False)["similarity"].mean().unstack(0)
        lines.append("mean similarity between runs:\n" + means.round(3).to_string())
    return "\n".join(lines)


def predictivity_text(result: Any) -> str:
    """``predict``'s output: the (ceiled) score per area and region, the ceilings, the best area per region and
    the notes. ``result``: a PredictivityResult."""
    from ..analysis.best_areas import best_areas  # SciPy and scikit-learn: only when predict has run
    from .predictivity import best_area_sentences

    lines = [f"{len(result.runs)} run(s) against {result.recordings['source']}: {result.recordings['stimuli']} "
             "stimuli"]
    col = "ceiled" if result.summary["ceiled"].notna().any() else "r"
    table = result.summary.groupby(["name", "region"], sort=False)[col].mean().unstack()
    lines.append(f"{col} (mean over runs):\n" + table.round(3).to_string())
    lines.append("ceilings: " + ", ".join(f"{r.region} {format_number(r.ceiling, 3)}"
                                          for r in result.ceilings.itertuples()))
    lines += [f"  {line}" for line in best_area_sentences(best_areas(result))]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def fetch_text(path: str | None = None, download: bool = True, url: str | None = None) -> str:
    """``data fetch``: where Fashion-MNIST was found (downloaded if need be and allowed), its size and checksums."""
    from ..data import find_data, load_fashion_mnist  # torch: only when the data are read

    directory = find_data(path, download=download, url=url)
    ds = load_fashion_mnist(directory)
    return "\n".join([f"Fashion-MNIST ({ds.format}) at {directory}: {len(ds.train_labels)} train, "
                      f"{len(ds.test_labels)} test"] + [f"  {name}  md5 {md5}" for name, md5 in ds.checksums.items()])


def recordings_text(recordings: str | Any, stimuli: str | None = None,
                    window_ms: tuple[float, float] | None = None) -> str:
    """``data show`` of recordings: what was read (stimuli, presentations, repetitions, neurons per area, the
    stimuli's stated visual angle), what reading them decided, and each area's reliability (the split-half
    ceiling, Spearman-Brown corrected, as ``predict`` computes it; where repetitions allow)."""
    from ..analysis.ceiling import split_half_ceiling
    from ..data.recordings import Recordings, load_recordings
    from ..errors import ConfigError

    rec = recordings if isinstance(recordings, Recordings) else load_recordings(recordings, stimuli,
                                                                                window_ms=window_ms)
    info = rec.info()
    lo, hi = info["repetitions"]
    lines = [f"{info['source']}: {info['stimuli']} stimuli, {info['presentations']} presentations "
             f"({lo if lo == hi else f'{lo}-{hi}'} repetition{'' if hi == 1 else 's'} each)"
             + (f", {info['time_bins']} time bins" if info["time_bins"] else "")]
    if rec.images is not None:
        shape = " x ".join(map(str, rec.images.shape[1:]))
        lines.append(f"  stimuli: held in the source ({shape} px each)")
    lines.append(f"  visual angle: {info['stimulus_degrees']:g} degrees (as the source states)"
                 if info["stimulus_degrees"] is not None else
                 "  visual angle: not stated by the source (predict assumes 8 degrees unless --stimulus-degrees)")
    lines += [f"  note: {n}" for n in rec.notes]
    try:
        halves, _ = split_half_ceiling(rec)
        reliability = halves.groupby("region", sort=False)["ceiling"].mean()
    except ConfigError as exc:
        reliability, why = None, str(exc).split(": ", 1)[-1]
    lines.append("  neurons per area" + (" and reliability (split-half, Spearman-Brown; median over neurons, "
                                         "mean of 10 half-splits):" if reliability is not None else ":"))
    for region, n in info["neuroids"].items():
        lines.append(f"    {region:<8} {n:>6}" + (f"   {format_number(float(reliability[region]), 3)}"
                                                  if reliability is not None else ""))
    if reliability is None:
        lines.append(f"  reliability: none ({why})")
    return "\n".join(lines)
