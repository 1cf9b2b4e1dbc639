"""The published-data presets: metadata, values against the source tables, compilation, reproducibility."""

import csv
import importlib.util
import math
from importlib import resources
from pathlib import Path

import pytest
import torch

import visualstreams as vs
from visualstreams.connectome import CANONICAL_AREAS, feedforward_part, find_cycle, preset_names
from visualstreams.connectome.presets.published import PRESETS, build_published, direction_rules, read_table

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data" / "connectivity"
NAMES = ["macaque-markov2014", "marmoset-majka2020", "mouse-oh2014", "human-hcp"]
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared connectivity data folder is absent")


# The formulas, written out again so the test does not trust the module's own helpers.
def fln(x):
    return min(max((math.log10(x) + 6) / 6, 0.0), 1.0)


OH_W_MAX = 1.207  # VISl -> VISal, the largest W among the mouse preset's kept pairs (full version too)


def oh(w):
    return min(max(1 + math.log10(w / OH_W_MAX) / 3, 0.0), 1.0)
HCP_SC_MAX = 12.252  # V1 - V2, the largest SC_mean_LR among the human preset's kept pairs

# (preset, canonical source, canonical target, data source, data target, raw value copied from the DERIVED table,
#  how to find it there, strength formula)
NAMED_PAIRS = [
    ("macaque-markov2014", "V1", "V2", "V1", "V2", 0.7637, "FLN_Markov2014_mean", fln),
    ("macaque-markov2014", "V4", "IT", "V4", "TEO", 0.256, "FLN_Markov2014_mean", fln),
    ("macaque-markov2014", "MT", "LIP", "MT", "LIP", 0.06411, "FLN_FroudistWalsh2021_mean", fln),
    ("marmoset-majka2020", "V1", "V2", "V1", "V2", 0.6055, "FLNe", fln),
    ("marmoset-majka2020", "V1", "MT", "V1", "V5", 0.2485, "FLNe", fln),
    ("marmoset-majka2020", "V4", "IT", "V4", "TEO", 0.1837, "FLNe", fln),
    ("mouse-oh2014", "V1", "V2", "VISp", "VISl", 0.06563, "W_ipsi_normalized_connection_strength",
     oh),
    ("mouse-oh2014", "V2", "MT", "VISl", "VISal", 1.207, "W_ipsi_normalized_connection_strength",
     oh),
    ("mouse-oh2014", "MT", "LIP", "VISal", "PTLp", 0.3678, "W_ipsi_normalized_connection_strength",
     oh),
    ("human-hcp", "V1", "V2", "V1", "V2", 12.252, "SC_mean_LR", lambda s: s / HCP_SC_MAX),
    ("human-hcp", "V4", "IT", "V4", "PIT", 9.198, "SC_mean_LR", lambda s: s / HCP_SC_MAX),
    ("human-hcp", "MT", "LIP", "V4t", "V7", 5.125, "SC_mean_LR", lambda s: s / HCP_SC_MAX),
    # the full version: the source's own area names, no homology mapping
    ("macaque-markov2014-full", "TEO", "TEpd", "TEO", "TEpd", 0.138, "FLN_Markov2014_mean", fln),
    ("macaque-markov2014-full", "LIP", "7A", "LIP", "7A", 0.129, "FLN_Markov2014_mean", fln),
    ("macaque-markov2014-full", "V4", "DP", "V4", "DP", 0.338, "FLN_Markov2014_mean", fln),
    ("marmoset-majka2020-full", "LIP", "PG", "LIP", "PG", 0.108, "FLNe", fln),
    ("mouse-oh2014-full", "VISl", "VISpl", "VISl", "VISpl", 0.5567, "W_ipsi_normalized_connection_strength",
     oh),
    ("mouse-oh2014-full", "VISp", "VISam", "VISp", "VISam", 0.2253, "W_ipsi_normalized_connection_strength",
     oh),
    ("marmoset-majka2020-full", "V4", "TE3", "V4", "TE3", 0.02047, "FLNe", fln),
]

DERIVED = {
    "macaque-markov2014": "macaque/DERIVED_macaque_visual_pairs_FLN_SLN.csv",
    "macaque-markov2014-full": "macaque/DERIVED_macaque_visual_pairs_FLN_SLN.csv",
    "marmoset-majka2020": "marmoset/DERIVED_marmoset_visual_pairs_FLNe.csv",
    "marmoset-majka2020-full": "marmoset/DERIVED_marmoset_visual_pairs_FLNe.csv",
    "mouse-oh2014": "mouse/DERIVED_Oh2014_W_ipsi_visual_subset.csv",
    "mouse-oh2014-full": "mouse/DERIVED_Oh2014_W_ipsi_visual_subset.csv",
    "human-hcp": "human/DERIVED_human_visual_pairs_HCP_SC.csv",
}


def derived_value(preset, ds, dt, column):
    with (DATA / DERIVED[preset]).open(newline="") as fh:
        for r in csv.DictReader(fh):
            pair = (r["area_a"], r["area_b"]) if preset == "human-hcp" else (r["source"], r["target"])
            if pair == (ds, dt) or (preset == "human-hcp" and pair == (dt, ds)):  # tractography is undirected
                return float(r[column])
    raise AssertionError(f"{ds}->{dt} not in {DERIVED[preset]}")


def test_presets_are_registered():
    assert set(NAMES) <= set(preset_names())
    assert set(NAMES) <= set(vs.list_connectomes()["name"])


@pytest.mark.parametrize("name", NAMES)
def test_preset_loads_validates_and_documents_itself(name):
    conn = vs.compile_network(name).connectome
    assert conn.name == name and conn.areas == CANONICAL_AREAS
    assert conn.species and conn.source and conn.measure and conn.notes
    assert "strength =" in conn.measure and "{" not in conn.measure  # the formula, filled in
    assert "(20" in conn.source  # a dated citation
    assert set(conn.extra["mapping"]) == set(CANONICAL_AREAS)
    assert all(conn.extra["mapping"][a] for a in CANONICAL_AREAS)
    assert conn.extra["raw_measure"] and conn.extra["licence"]
    assert "Licence" in conn.notes and "Homology" in conn.notes


def test_licences_and_direction_are_stated():
    for name in ("macaque-markov2014", "mouse-oh2014"):
        conn = vs.load_connectome(name)
        assert "NON-COMMERCIAL" in conn.notes and "NON-COMMERCIAL" in conn.extra["licence"]
    human = vs.load_connectome("human-hcp")
    assert "UNDIRECTED" in human.notes and "feedforward direction" in human.notes


# The sources' hierarchies, written out by hand from the papers (not read from the package): Markov et al. 2014
# (J Comp Neurol 522:225, hierarchical levels of the M132 areas), Harris et al. 2019 (Nature 575:195, hierarchy
# scores, all regions, CC+TC+CT iterated, Cre-confidence), and the textbook levels for the undirected human tracts.
MARKOV_2014 = {"V1": 1, "V2": 2, "V4": 4.4, "8l": 4.2, "TEO": 5.65, "MT": 5.8, "DP": 6.6, "LIP": 7.3, "TEpd": 7.4,
               "7A": 8.8, "MST": 9.15}
HARRIS_2019 = {"VISp": -0.4210, "VISl": -0.0856, "VISpl": -0.0039, "VISal": 0.0226, "VISpm": 0.1124,
               "VISam": 0.2747, "VISa": 0.2785, "VISrl": -0.0550, "TEa": 0.3320}
TEXTBOOK = {"V1": 0, "V2": 1, "V4": 2, "MT": 2, "IT": 3, "LIP": 3}
MARMOSET_AS_MACAQUE = {"V5": "MT", "TE3": "TEpd", "PG": "7A"}
SIX_AREA_DATA = {  # each canonical area's area in the data
    "macaque-markov2014": {"V1": "V1", "V2": "V2", "V4": "V4", "IT": "TEO", "MT": "MT", "LIP": "LIP"},
    "marmoset-majka2020": {"V1": "V1", "V2": "V2", "V4": "V4", "IT": "TEO", "MT": "V5", "LIP": "LIP"},
    "mouse-oh2014": {"V1": "VISp", "V2": "VISl", "V4": "VISpl", "IT": "TEa", "MT": "VISal", "LIP": "PTLp"},
}


def published_level(preset, area):
    """The level the source publishes for a preset's area (PTLp: the mean of its parts VISa and VISrl)."""
    base = preset.removesuffix("-full")
    if base == "human-hcp":
        return TEXTBOOK[area]
    data_area = SIX_AREA_DATA[base][area] if not preset.endswith("-full") else area
    if base == "mouse-oh2014":
        return (HARRIS_2019["VISa"] + HARRIS_2019["VISrl"]) / 2 if data_area == "PTLp" else HARRIS_2019[data_area]
    return MARKOV_2014[MARMOSET_AS_MACAQUE.get(data_area, data_area)]


def published_direction(preset, s, t):
    ls, lt = published_level(preset, s), published_level(preset, t)
    return "feedforward" if ls < lt else "feedback" if ls > lt else "lateral"


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_projection_takes_its_direction_from_the_sources_published_hierarchy(name):
    conn = vs.load_connectome(name)
    assert all(0 < v <= 1 for _, _, v in conn.edges())
    rows = read_table(name)
    for r in rows:
        expected = published_direction(name, r["source"], r["target"])
        assert r["direction"] == expected, r
        assert r["used"] == ("1" if expected == "feedforward" and float(r["raw_value"]) > 0 else "0"), r
    assert all(conn.directions[(s, t)] == published_direction(name, s, t) for s, t, _ in conn.edges())
    # the feedforward projections are the used rows; the nonzero rest are feedback or lateral, as the table says
    ff = {(s, t): v for s, t, v in conn.edges() if conn.directions[(s, t)] == "feedforward"}
    assert ff == {(r["source"], r["target"]): float(r["strength"]) for r in rows if r["used"] == "1"}
    assert find_cycle(feedforward_part(conn, conn.directions)) is None
    tabled = {(r["source"], r["target"]) for r in rows if float(r["strength"]) > 0}
    if name == "human-hcp":  # undirected tracts: each one also stands for its reverse
        assert {(s, t) for s, t, _ in conn.edges()} == tabled | {(t, s) for s, t in tabled}
        assert conn.strength("V2", "V1") == conn.strength("V1", "V2") and conn.directions[("V2", "V1")] == "feedback"
    else:
        assert {(s, t) for s, t, _ in conn.edges()} == tabled
        raw = {f"{r['source']}->{r['target']}": float(r["raw_value"]) for r in rows if float(r["strength"]) > 0}
        assert conn.extra["raw_values"] == raw


def test_six_area_and_full_presets_share_one_hierarchy():
    for six, full in (("macaque-markov2014", "macaque-markov2014-full"),
                      ("marmoset-majka2020", "marmoset-majka2020-full")):
        a, b = vs.load_connectome(six).extra["levels"], vs.load_connectome(full).extra["levels"]
        for area, data_area in SIX_AREA_DATA[six].items():
            assert a[area] == b[data_area]
    mouse, full = vs.load_connectome("mouse-oh2014").extra["levels"], vs.load_connectome("mouse-oh2014-full").extra
    assert all(mouse[a] == full["levels"][d] for a, d in SIX_AREA_DATA["mouse-oh2014"].items() if d in full["levels"])


def test_the_issues_pairs_follow_the_data():
    macaque = vs.load_connectome("macaque-markov2014")
    # Markov: V4 (4.4) below MT (5.8), MT above TEO (5.65): V4->MT (FLN 0.381) is in the one-step network now
    assert macaque.directions[("V4", "MT")] == "feedforward" and macaque.directions[("MT", "IT")] == "feedback"
    assert ("V4", "MT") in vs.compile_network(macaque).edges and ("MT", "IT") not in vs.compile_network(macaque).edges
    mouse = vs.load_connectome("mouse-oh2014")
    assert mouse.directions[("V4", "MT")] == "feedforward"  # VISpl -0.0039 below VISal 0.0226
    assert "Markov et al. 2014" in macaque.notes and "Harris et al. 2019" in mouse.notes
    assert "convention" in vs.load_connectome("human-hcp").notes


@needs_data
def test_hand_written_hierarchies_are_the_data_files_numbers():
    levels = {}
    for line in (DATA / "macaque" / "Markov2014JCN_hierarchy.csv").read_text().splitlines():
        parts = line.split(",")
        if len(parts) == 3:
            levels[parts[0].strip().lower()] = float(parts[2])
    assert all(levels[a.lower()] == v for a, v in MARKOV_2014.items())
    with (DATA / "mouse" / "DERIVED_Harris2019_hierarchy_visual.csv").open(newline="") as fh:
        scores = {r["area"]: float(r["hierarchy_score"]) for r in csv.DictReader(fh)
                  if r["sheet"] == "hierarchy_all_regions" and r["score_type"] == "CC+TC+CT iterated"}
    assert all(scores[a] == v for a, v in HARRIS_2019.items() if a != "TEa")
    openpyxl = pytest.importorskip("openpyxl")
    sheet = openpyxl.load_workbook(DATA / "mouse" / "Harris2019_hierarchy_summary_CreConf.xlsx",
                                   read_only=True)["hierarchy_all_regions"]
    rows = list(sheet.iter_rows(values_only=True))
    tea = next(r for r in rows if r[0] == "TEa")[rows[0].index("CC+TC+CT iterated")]
    assert round(tea, 4) == HARRIS_2019["TEa"]


# Each pair's SLN (Froudist-Walsh 2021, pooled), written out for the pairs where the two rules part.
SLN = {("IT", "MT"): 0.334, ("IT", "LIP"): 0.000, ("LIP", "MT"): 0.529, ("V4", "MT"): 0.642, ("MT", "IT"): 0.419,
       ("V2", "V1"): 0.442}


def test_the_sln_rule_is_an_option_and_its_differences_are_reported():
    sln = vs.load_connectome("macaque-markov2014-sln")
    for pair, value in SLN.items():
        expected = "feedforward" if value > 0.55 else "feedback" if value < 0.45 else "lateral"
        assert sln.directions[pair] == expected, pair
    assert sln.name == "macaque-markov2014-sln" and sln.extra["direction_rule"].startswith("sln")
    vs.compile_network(sln, steps=4)  # acyclic feedforward part: it compiles
    table = direction_rules("macaque-markov2014")
    differ = table[table["agree"] == False]  # noqa: E712 (a column of True/False/None)
    assert {(r.source, r.target) for r in differ.itertuples()} == {("IT", "MT"), ("IT", "LIP"), ("LIP", "MT")}
    assert len(table) == 29 and "26 of the 29 pairs" in vs.load_connectome("macaque-markov2014").notes
    # the full version by SLN alone has feedforward cycles: reported, not offered as a preset
    full = direction_rules("macaque-markov2014-full")
    assert int(full["agree"].sum()) == 60 and len(full) == 85
    with pytest.raises(vs.ConnectomeError, match="form a cycle"):
        vs.compile_network(build_published("macaque-markov2014-full", rule="sln"))
    assert "macaque-markov2014-full-sln" not in preset_names()
    with pytest.raises(vs.ConnectomeError, match="no SLN"):
        build_published("mouse-oh2014", rule="sln")


@pytest.mark.parametrize(("name", "s", "t", "ds", "dt", "raw", "column", "formula"), NAMED_PAIRS,
                         ids=[f"{p[0]}:{p[1]}->{p[2]}" for p in NAMED_PAIRS])
def test_named_pairs_match_the_source_table(name, s, t, ds, dt, raw, column, formula):
    if DATA.is_dir():
        assert derived_value(name, ds, dt, column) == raw  # the hard-coded copy is still right
    conn = vs.load_connectome(name)
    assert conn.strength(s, t) == pytest.approx(formula(raw), abs=1e-6)
    row = next(r for r in read_table(name) if (r["source"], r["target"]) == (s, t))
    assert (row["source_area_in_data"], row["target_area_in_data"]) == (ds, dt)
    assert float(row["raw_value"]) == raw
    assert ds in conn.extra["mapping"][s] and dt in conn.extra["mapping"][t]


def test_feedback_is_kept_with_its_direction_but_only_unrolled_networks_use_it():
    macaque = vs.load_connectome("macaque-markov2014")
    row = next(r for r in read_table("macaque-markov2014") if (r["source"], r["target"]) == ("V2", "V1"))
    assert row["direction"] == "feedback" and row["used"] == "0" and float(row["raw_value"]) > 0
    assert macaque.strength("V2", "V1") == float(row["strength"]) and macaque.directions[("V2", "V1")] == "feedback"
    one = vs.compile_network(macaque)
    assert ("V2", "V1") not in one.edges and ("MT", "IT") not in one.edges and not one.recurrent_projections
    four = vs.compile_network(macaque, steps=4)
    assert four.edges[: len(one.edges)] == one.edges
    assert {(p.source, p.target): p.direction for p in four.recurrent_projections} == {
        e: d for e, d in macaque.directions.items() if d != "feedforward"}


@pytest.mark.parametrize("name", NAMES)
def test_preset_compiles_and_runs(name):
    torch.manual_seed(0)
    model = vs.build_model(name)
    with torch.no_grad():
        out = model(torch.zeros(2, 1, 28, 28))
    assert out["what"].shape == (2, 10) and out["where"].shape == (2, 2)
    conn = vs.load_connectome(name)
    assert set(model.edges) == {(s, t) for s, t, _ in conn.edges() if conn.directions[(s, t)] == "feedforward"}


@needs_data
def test_derive_script_reproduces_the_shipped_tables(tmp_path):
    spec = importlib.util.spec_from_file_location("derive_presets", REPO / "scripts" / "derive_presets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.derive(DATA, tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{n}.csv" for n in PRESETS)
    shipped = resources.files("visualstreams.connectome.presets")
    for path in written:
        assert path.read_bytes() == shipped.joinpath(path.name).read_bytes(), path.name


# -- the full version --------------------------------------------------------------------------------------------
FULL_AREAS = ("V1", "V2", "V4", "8l", "TEO", "MT", "DP", "LIP", "TEpd", "7A")


def test_full_macaque_keeps_the_sources_areas_and_hierarchy():
    full = vs.compile_network("macaque-markov2014-full").connectome
    assert full.areas == FULL_AREAS and full.species == "macaque"
    assert full.extra["heads"] == {"what": "TEpd", "where": "7A"}
    levels = full.extra["levels"]
    for s, t, _ in full.edges():  # direction by Markov's hierarchy
        assert full.directions[(s, t)] == ("feedforward" if levels[s] < levels[t] else "feedback")
    rows = read_table("macaque-markov2014-full")
    assert {(r["source"], r["target"]) for r in rows if r["used"] == "1"} == set(
        vs.compile_network("macaque-markov2014-full").edges)
    # on the areas both have, the six-area preset is the full one (IT = TEO there)
    six = vs.load_connectome("macaque-markov2014")
    for s, t in [("V1", "V2"), ("V2", "V4"), ("V2", "MT"), ("MT", "LIP"), ("V1", "MT")]:
        assert full.strength(s, t) == six.strength(s, t)
    assert full.strength("V4", "TEO") == six.strength("V4", "IT")


def test_full_macaque_compiles_with_its_heads_and_trains():
    torch.manual_seed(0)
    model = vs.build_model("macaque-markov2014-full")
    assert model.architecture.heads["what"].area == "TEpd" and model.architecture.heads["where"].area == "7A"
    x = torch.rand(4, 1, 28, 28)
    out, acts = model(x, return_areas=True)
    assert set(acts) == set(FULL_AREAS) and acts["7A"].shape[1] == 256
    loss = torch.nn.functional.cross_entropy(out["what"], torch.tensor([0, 1, 2, 3])) + out["where"].pow(2).mean()
    loss.backward()
    assert model.areas["TEpd"].conv.weight.grad.abs().sum() > 0 and model.areas["7A"].conv.weight.grad.abs().sum() > 0


def test_full_marmoset_orients_by_the_macaque_homologues():
    full = vs.compile_network("marmoset-majka2020-full").connectome
    assert full.areas == ("V1", "V2", "V4", "TEO", "V5", "LIP", "TE3", "PG", "MST")
    assert full.extra["heads"] == {"what": "TE3", "where": "PG"}
    assert full.directions[("PG", "MST")] == "feedforward"  # MST above PG (7A) in Markov 2014
    assert ("MST", "PG") not in full.directions or full.directions[("MST", "PG")] == "feedback"
    six = vs.load_connectome("marmoset-majka2020")
    assert full.strength("V1", "V5") == six.strength("V1", "MT")
    assert full.strength("V4", "TEO") == six.strength("V4", "IT")
    assert "homologue" in full.notes and "V3, which was not injected" in full.notes


def test_full_mouse_starts_at_visp_and_follows_harris_scores():
    full = vs.compile_network("mouse-oh2014-full").connectome
    assert full.areas == ("VISp", "VISl", "VISpl", "VISal", "VISpm", "VISam")
    levels = full.extra["levels"]
    for s, t, _ in full.edges():
        assert full.directions[(s, t)] == ("feedforward" if levels[s] < levels[t] else "feedback")
    assert full.directions[("VISl", "VISp")] == "feedback" and full.directions[("VISp", "VISl")] == "feedforward"
    model = vs.build_model(full)
    assert model.architecture.input_area == "VISp"
    assert (model.architecture.heads["what"].area, model.architecture.heads["where"].area) == ("VISpl", "VISam")
    with torch.no_grad():
        out = model(torch.zeros(2, 1, 28, 28))
    assert out["what"].shape == (2, 10) and out["where"].shape == (2, 2)


def test_connectome_directions_prints_both_rules(capsys):
    from visualstreams.cli import main

    assert main(["connectome", "directions", "macaque-markov2014"]) in (0, None)
    out = capsys.readouterr().out
    assert "agrees for 26 of the 29 projections with an SLN" in out and "Markov et al. 2014" in out
    row = next(line.split() for line in out.splitlines() if line.split()[:2] == ["IT", "MT"])
    assert row[-3:] == ["feedforward", "feedback", "False"]
    assert main(["connectome", "directions", "mouse-oh2014"]) in (0, None)
    assert "the data have no SLN" in capsys.readouterr().out
