"""Species all the way down (#33): each species' anatomy table as published, and networks whose blocks and eye are
derived from it (``--blocks anatomy``), through the pipeline. The shipped numbers are checked against the sources'
values written here, with the sources named."""

import csv
import json
import math

import numpy as np
import pytest
import torch
from synthetic import synthetic_dataset
from test_cli import assert_one_line_error, run

import visualstreams as vs
from visualstreams.connectome.anatomy import TABLE_DIR, anatomy_species, load_anatomy, parse_anatomy
from visualstreams.errors import ConfigError
from visualstreams.experiment.sweep import Sweep
from visualstreams.network import NetworkConfig, build_network, compile_network
from visualstreams.network.anatomy_blocks import MAX_KERNEL, derive_blocks
from visualstreams.network.config import parse_condition
from visualstreams.runs import RunDir
from visualstreams.runs.lifecycle import rebuild_run

pytestmark = pytest.mark.usefixtures("one_thread")

# Schmidt M et al. (2018) Brain Struct Funct 223:1409, the multi-area model's processed data
# (realistic_neuronal_numbers[area]['total'], one hemisphere, FV91 areas) and its surface areas (mm^2).
SCHMIDT_NEURONS = {"V1": 293861465, "V2": 187467855, "V4": 89304421, "MT": 8347404, "LIP": 7835772,
                   "PITd": 21417123, "PITv": 14782048}
SCHMIDT_SURFACE = {"V1": 1484.629, "V2": 1193.395, "V4": 561.413, "MT": 55.901, "LIP": 56.04, "PITd": 145.383,
                   "PITv": 100.343}
# RF diameter at 5 deg eccentricity as compiled by Tripp (2019) Neural Comput 31:1551 (CALC): V1, V2 Gattass et al.
# 1981; V4 Gattass 1988 / Boussaoud 1991; MT Komatsu & Wurtz 1988 / Maunsell 1987; TEO Boussaoud 1991; MSTd
# (LIP's stand-in) Komatsu & Wurtz 1988.
TRIPP_RF_5DEG = {"V1": 1.3, "V2": 2.2, "V4": 4.8, "MT": 4.2, "TEO": 8.9, "LIP": 16.0}
MACAQUE_EYE = {"acuity": 38.0,  # Merigan & Katz (1990) Vision Res 30:985, behavioural grating acuity
               "field_of_view": 190.0}  # the human's (CIE S 017, "field of vision"), standing in
# Rodarie D et al. (2022) PLoS Comput Biol 18:e1010739, S2 "Densities BBCAv2": neurons/mm^3 and volumes (mm^3, both
# hemispheres) of the CCFv3 areas.
RODARIE = {"VISp": (99795, 6.2302), "VISl": (64957, 0.9031), "VISpl": (95466, 0.6654), "VISal": (89818, 2.0524),
           "VISpm": (161663, 1.2226), "VISam": (90933, 1.8835), "PTLp": (87116, 3.5568), "TEa": (100078, 3.8610)}
# Siegle JH et al. (2021) Nature 592:86, Fig. 3: each area's mean receptive-field area (deg^2), read off the plot
# (AllenInstitute/neuropixels_platform_paper, Figure3); VISpl, PTLp and TEa stand in with VISl's, VISrl's, VISam's
SIEGLE_RF_AREA = {"VISp": 570, "VISl": 715, "VISal": 740, "VISpm": 812, "VISam": 868, "VISpl": 715, "PTLp": 700,
                  "TEa": 868}
MOUSE_RF_MEI = 20.6  # VISp, Nat Neurosci 2026 (doi:10.1038/s41593-026-02213-3), kept for the record, not used
MOUSE_EYE = {"acuity": 0.5,  # Prusky, West & Douglas (2000) Vision Res 40:2201
             "field_of_view": 180.0}  # one eye, Sterratt et al. (2013) PLoS Comput Biol 9:e1002921


def rows(species):
    with open(TABLE_DIR / f"{species}.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_shipped_number_is_the_sources_value():
    expected = {}
    for a, n in SCHMIDT_NEURONS.items():
        expected["macaque", a, "neurons"] = n
        expected["macaque", a, "surface_area"] = SCHMIDT_SURFACE[a]
    expected |= {("macaque", a, "rf_size"): v for a, v in TRIPP_RF_5DEG.items()}
    expected |= {("macaque", "eye", q): v for q, v in MACAQUE_EYE.items()}
    for a, (density, volume) in RODARIE.items():
        expected["mouse", a, "neuron_volume_density"] = density
        expected["mouse", a, "volume"] = volume
        expected["mouse", a, "rf_area"] = SIEGLE_RF_AREA[a]
    expected["mouse", "VISp", "rf_size_mei"] = MOUSE_RF_MEI
    expected |= {("mouse", "eye", q): v for q, v in MOUSE_EYE.items()}
    seen = {}
    for species in anatomy_species():
        for r in rows(species):
            assert r["citation"] and r["locator"] and r["verified_from"], r  # never a number without a source
            if r["quantity"] != "made_of":
                seen[r["species"], r["area"], r["quantity"]] = float(r["value"])
    assert seen == pytest.approx(expected, rel=1e-4) and set(seen) == set(expected)  # none untested, none missing
    # stand-ins say so: LIP's receptive field, TEO's count, the macaque's field of view, the mouse's higher areas
    notes = {(r["species"], r["area"], r["quantity"]): r["note"] for s in anatomy_species() for r in rows(s)}
    for key in [("macaque", "LIP", "rf_size"), ("macaque", "TEO", "made_of"), ("macaque", "eye", "field_of_view"),
                ("mouse", "VISpl", "rf_area"), ("mouse", "PTLp", "rf_area"), ("mouse", "TEa", "rf_area"),
                ("mouse", "eye", "field_of_view")]:
        assert notes[key].startswith("stand-in:"), key


def test_a_species_table_reads_into_one_hemispheres_neurons():
    mac = load_anatomy("macaque")
    assert mac.areas["V1"].neurons == SCHMIDT_NEURONS["V1"]
    assert mac.areas["TEO"].neurons == SCHMIDT_NEURONS["PITd"] + SCHMIDT_NEURONS["PITv"]  # made of FV91's PIT
    assert mac.areas["TEO"].stand_ins and not mac.areas["V4"].stand_ins
    mouse = load_anatomy("mouse")
    density, volume = RODARIE["VISp"]
    assert mouse.areas["VISp"].neurons == pytest.approx(density * volume / 2)  # the atlas's volume is both sides
    assert mouse.areas["VISp"].rf_size.value == pytest.approx(2 * math.sqrt(570 / math.pi))  # a disc of 570 deg^2
    assert not mouse.areas["VISl"].stand_ins and mouse.areas["TEa"].stand_ins
    conn = vs.load_connectome("mouse-oh2014")
    per_area = mouse.for_areas(conn)  # the six-area preset's areas through its mapping
    assert per_area["V1"].neurons == mouse.areas["VISp"].neurons
    assert per_area["IT"].neurons == mouse.areas["TEa"].neurons


TABLE = """species,area,quantity,value,unit,at_eccentricity_deg,citation,locator,note
toy,A,neurons,4000,neurons,,src,t1,
toy,A,rf_size,2,deg,5,src,t1,
toy,B,neurons,2,thousand neurons,,src,t1,
toy,B,rf_size,4,deg,5,src,t1,
toy,eye,acuity,1,cycles/deg,,src,t1,
toy,eye,field_of_view,100,deg,,src,t1,
"""


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda t: t.replace("citation,", "cite,", 1), "missing column 'citation'"),
    (lambda t: t.replace("4,deg,5,src", "4,furlongs,5,src"), "rf_size in 'furlongs'"),
    (lambda t: t.replace("toy,B,neurons,2,thousand neurons,,src", "toy,B,neurons,2,thousand neurons,,"),
     "needs an area and a citation"),
    (lambda t: t.replace("toy,eye,acuity", "toy,A,acuity"), "acuity is a quantity of the eye"),
    (lambda t: t.replace("toy,eye,field_of_view,100", "toy,eye,field_of_view,-1"), "positive number"),
    (lambda t: t + "toy,A,neurons,5,neurons,,src,t2,\n", "a second neurons of A"),
    (lambda t: t.replace("toy,B,neurons,2,thousand neurons,,src,t1,\n", ""), "area B: needs neurons"),
    (lambda t: "\n".join(line for line in t.splitlines() if "acuity" not in line), "no acuity of the eye"),
])
def test_a_bad_anatomy_table_is_refused_in_one_line(edit, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_anatomy(edit(TABLE))


def test_the_rules_give_each_block_from_the_numbers(tmp_path):
    """By hand for a two-area network on a 28 px image of 14 deg: eye min(28, 2 x 1 x 14) = 28 px (0.5 deg a pixel,
    its field 0.5 deg); A (rf 2 deg): 4 x 14 / 2 = 28 positions (no pooling), kernel 1 + (2 - 0.5) / 0.5 = 4 -> 5
    (the nearer odd size, a tie to the larger; its units' field 0.5 + 4 x 0.5 = 2.5 deg); B (rf 4 deg, from A):
    4 x 14 / 4 = 14 positions (pooling windows of 2), kernel 1 + (4 - 2.5) / 0.5 - (2 - 1) = 3, its field
    2.5 + (2 + 1) x 0.5 = 4 deg; channels in proportion to neurons / positions^2: A 4000/784, B 2000/196, so B gets
    twice A's."""
    path = tmp_path / "toy.csv"
    path.write_text(TABLE)
    conn = vs.Connectome.from_edges([("A", "B", 1.0)], areas=["A", "B"], name="toy", species="toy",
                                    extra={"input_area": "A", "heads": {"what": "B", "where": "B"}})
    d = derive_blocks(conn, str(path), image_size=28, field_degrees=14.0, channel_budget=30)
    arch = d.architecture
    assert arch.eye_size == 28 and arch.input_area == "A"
    assert (arch.areas["A"].size, arch.areas["A"].kernel_size) == (28, 5)
    assert (arch.areas["B"].size, arch.areas["B"].kernel_size) == (14, 3)
    assert (arch.areas["A"].channels, arch.areas["B"].channels) == (10, 20)
    assert [r["model_rf_deg"] for r in d.rows] == pytest.approx([0.5, 2.5, 4.0])
    # a coarser eye: a species of 0.25 cycles/deg resolves 7 px over 14 deg; the image is averaged down to it
    d2 = derive_blocks(conn, parse_anatomy(TABLE.replace("acuity,1,", "acuity,0.25,")), 28, 14.0, 30)
    assert d2.architecture.eye_size == 7 and d2.architecture.areas["A"].size == 7  # never more than its input
    spec = compile_network(conn, d2.architecture)
    model = build_network(spec)
    x = torch.rand(2, 1, 28, 28)
    _, acts = model(x, return_areas=True)
    assert {a: tuple(t.shape[1:]) for a, t in acts.items()} == spec.area_shapes
    block = model.areas["A"]
    by_hand = block.pool(torch.relu(block.conv(torch.nn.functional.adaptive_avg_pool2d(x, 7))))
    torch.testing.assert_close(acts["A"], by_hand)  # the eye is the image averaged to 7 px, then A's block


def test_the_macaque_and_mouse_networks_differ_as_their_anatomy_does():
    mac = derive_blocks("macaque-markov2014", image_size=64, field_degrees=64.0)
    mouse = derive_blocks("mouse-oh2014", image_size=64, field_degrees=64.0)
    assert mac.architecture.eye_size == 64 and mouse.architecture.eye_size == 64  # 2 x 0.5 x 64 = 64 for the mouse
    assert derive_blocks("mouse-oh2014", image_size=64, field_degrees=16.0).architecture.eye_size == 16  # blurred
    mouse_v1 = 2 * math.sqrt(570 / math.pi)  # VISp's receptive field: 26.9 deg
    assert mac.architecture.areas["V1"].size == 64 and mouse.architecture.areas["V1"].size == round(4 * 64 / mouse_v1)
    assert mouse.architecture.areas["V1"].kernel_size == MAX_KERNEL  # asks for more: clamped, and the table says so
    assert "clamped" in mouse.table().set_index("area").loc["V1", "note"]
    for d in (mac, mouse):
        assert sum(b.channels for b in d.architecture.areas.values()) == 864
    with pytest.raises(ConfigError, match="no area '8l'"):
        derive_blocks("macaque-markov2014-full")
    with pytest.raises(ConfigError, match="no shipped anatomy table"):
        derive_blocks("human-hcp")


def test_the_figure_shows_each_areas_channels_and_map(tmp_path):
    from visualstreams.viz import plot_anatomy_blocks

    ds = [derive_blocks(p, image_size=64, field_degrees=64.0) for p in ("macaque-markov2014", "mouse-oh2014")]
    fig = plot_anatomy_blocks(ds, path=tmp_path / "blocks.png")
    assert (tmp_path / "blocks.png").stat().st_size > 0
    for ax, d in zip(fig.axes, ds, strict=True):
        assert [p.get_height() for p in ax.patches] == [r["channels"] for r in d.rows[1:]]
        assert [t.get_text().split("\n")[0] for t in ax.texts] == [f"{r['size']}x{r['size']}" for r in d.rows[1:]]


def test_the_condition_names_the_blocks_and_uniform_runs_are_written_as_before():
    assert NetworkConfig(blocks="anatomy").label == "gain-anatomy"
    assert NetworkConfig(steps=4, intrinsic=True, blocks="anatomy").label == "gain-T4i-anatomy"
    for label in ("gain-anatomy", "gain-T4i-anatomy", "none-BF4-anatomy", "gain-T4"):
        assert parse_condition(label).label == label
    assert "blocks" not in NetworkConfig().to_dict()  # the notebook's config.json as before
    assert NetworkConfig(blocks="anatomy").field_degrees == 8.0  # recorded: what the blocks were derived for
    with pytest.raises(ConfigError, match="settings of --blocks anatomy"):
        NetworkConfig(field_degrees=16)
    with pytest.raises(ConfigError, match="takes none"):
        NetworkConfig(model="alexnet", blocks="anatomy")
    with pytest.raises(ConfigError, match="takes no --architecture"):
        NetworkConfig(blocks="anatomy").compile("macaque-markov2014", "arch.toml")


def test_an_anatomy_run_trains_records_its_blocks_and_rebuilds(tmp_path):
    data = synthetic_dataset(64, 32)
    cfg = vs.make_config(epochs=1, batch_size=16, precision="fp32", blocks="anatomy", field_degrees=16.0)
    vs.train("mouse-oh2014", cfg, data=data, out=tmp_path, progress=False)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["network"]["blocks"] == "anatomy" and saved["network"]["field_degrees"] == 16.0
    assert saved["architecture"]["eye_size"] == 16 and saved["architecture"]["name"] == "anatomy-mouse"
    _, spec = rebuild_run(RunDir(tmp_path), saved)
    assert spec == NetworkConfig(blocks="anatomy", field_degrees=16.0, image_size=28, in_channels=1,
                                 classes=10).compile("mouse-oh2014")
    twin = NetworkConfig(twin_of=2, blocks="anatomy", image_size=28).compile("macaque-markov2014")
    recurrent = NetworkConfig(steps=2, blocks="anatomy", image_size=28).compile("macaque-markov2014")
    assert math.isclose(twin.parameters_used(("what",)), recurrent.parameters_used(("what",)), rel_tol=0.02)
    assert twin.area("V2").size == recurrent.area("V2").size  # widened, not resized


def test_compare_takes_blocks_as_a_factor(tmp_path):
    data = synthetic_dataset(64, 32)
    cfg = vs.make_config(epochs=1, batch_size=32, precision="fp32", train_subset=32)
    summary = vs.compare(["macaque-markov2014"], cfg, tmp_path / "cmp", seeds=[0], blocks=["uniform", "anatomy"],
                         data=data, report=False, similarity=False, progress=False)
    assert list(summary["condition"]) == ["gain", "gain-anatomy"]
    assert summary.set_index("condition").loc["gain-anatomy", "parameters"] != summary.set_index(
        "condition").loc["gain", "parameters"]
    experiment = json.loads((tmp_path / "cmp" / "experiment.json").read_text())
    assert experiment["blocks"] == ["uniform", "anatomy"]


def test_the_cli_shows_trains_and_refuses(tmp_path):
    shown = run("connectome", "show", "mouse-oh2014", "--blocks", "anatomy", "--field-degrees", "64",
                "--image-size", "64")
    assert shown.returncode == 0, shown.stderr
    assert "Blocks from the mouse anatomy (shipped mouse.csv)" in shown.stdout and "Rodarie" in shown.stdout
    assert "stand-in" in shown.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(TABLE.replace("4,deg,5,src", "4,furlongs,5,src"))
    assert_one_line_error(run("connectome", "show", "macaque-markov2014", "--blocks", "anatomy", "--anatomy", bad),
                          "rf_size in 'furlongs'")
    assert_one_line_error(run("train", "--species", "mouse-oh2014", "--field-degrees", "20"), "--blocks anatomy")
    assert_one_line_error(run("connectome", "show", "macaque-markov2014-full", "--blocks", "anatomy"), "'8l'")


def test_anatomy_networks_train_stacked_as_alone():
    from stacking import alone_and_stacked, weight_diffs

    from visualstreams.data import DeviceData
    from visualstreams.runs import compile_for

    dev = DeviceData.from_dataset(synthetic_dataset(32, 32), torch.device("cpu"))
    cfgs = [vs.make_config(batch_size=16, precision="fp32", seed=s, epochs=1, blocks="anatomy", field_degrees=16.0)
            for s in (0, 1)]
    spec = compile_for("mouse-oh2014", cfgs[0])
    assert spec.architecture.eye_size == 16  # the eye (an average pool) and adaptive pools under vmap
    alone, stacked, hist_alone, hist_stacked = alone_and_stacked(spec, dev, cfgs)
    for a, b, ha, hb in zip(alone, stacked, hist_alone, hist_stacked, strict=True):
        assert weight_diffs(a, b).max() < 1e-4  # measured 2e-5: the batched kernels' rounding
        assert ha[0]["train_loss"] == pytest.approx(hb[0]["train_loss"], rel=1e-5)


def test_a_budget_scales_an_anatomy_network_to_the_uniform_ones_size():
    from visualstreams.network.twins import training_flops

    heads = ("what", "where")
    uniform = NetworkConfig(image_size=56).compile("mouse-oh2014", heads=heads)
    natural = NetworkConfig(blocks="anatomy", image_size=56).compile("mouse-oh2014", heads=heads)
    params = NetworkConfig(blocks="anatomy", budget="parameters", image_size=56).compile("mouse-oh2014", heads=heads)
    compute = NetworkConfig(blocks="anatomy", budget="compute", image_size=56).compile("mouse-oh2014", heads=heads)
    assert natural.parameters_used(heads) < uniform.parameters_used(heads) / 4  # 214,941 against 1,255,564
    assert params.parameters_used(heads) == pytest.approx(uniform.parameters_used(heads), rel=0.02)
    assert training_flops(compute, heads) == pytest.approx(training_flops(uniform, heads), rel=0.05)
    for spec in (params, compute):  # every channel scaled alike; the maps, kernels and eye stay the anatomy's
        assert [(a.size, a.block.kernel_size) for a in spec.areas] == [(a.size, a.block.kernel_size)
                                                                       for a in natural.areas]
        assert spec.architecture.eye_size == natural.architecture.eye_size
    assert NetworkConfig(blocks="anatomy", budget="compute").label == "gain-anatomy-C"
    assert parse_condition("gain-T4-anatomy-P") == NetworkConfig(steps=4, blocks="anatomy", budget="parameters")
    with pytest.raises(ConfigError, match="settings of --blocks anatomy"):
        NetworkConfig(budget="parameters")
    with pytest.raises(ConfigError, match="unknown budget"):
        NetworkConfig(blocks="anatomy", budget="some")
    sweep = Sweep(("human",), blocks=("uniform", "anatomy"), budgets=("natural", "parameters"))
    assert [v.label for v in sweep.networks()] == ["gain", "gain-anatomy", "gain-anatomy-P"]
    with pytest.raises(ConfigError, match="give --blocks anatomy"):
        Sweep(("human",), budgets=("parameters",)).networks()


def test_a_compare_gives_every_species_one_budget():
    from visualstreams.experiment.sweep import plan_sweep

    cfg = vs.make_config(epochs=1, precision="fp32")
    species = ("macaque-markov2014", "mouse-oh2014")
    plan = plan_sweep(Sweep(species, cfg, blocks=("anatomy",), budgets=("parameters",)),
                      data=synthetic_dataset(32, 16))
    (net,) = plan.networks
    uniform = [NetworkConfig(image_size=28, in_channels=1, classes=10).compile(s).parameters_used(("what",))
               for s in species]
    assert uniform == [421_130, 1_209_994]  # as docs/network.md states them
    assert net.budget_target == round(sum(uniform) / 2)  # the mean of their uniform networks'
    for s in species:
        assert plan.specs[(s, net)].parameters_used(("what",)) == pytest.approx(net.budget_target, rel=0.02)


def test_an_anatomy_run_is_scored_and_exported_at_its_own_field(tmp_path):
    from visualstreams.analysis.area_activations import stimulus_activations
    from visualstreams.export import export_brainscore

    cfg = vs.make_config(epochs=1, batch_size=16, precision="fp32", blocks="anatomy", field_degrees=16.0)
    vs.train("macaque-markov2014", cfg, data=synthetic_dataset(32, 16), out=tmp_path / "run", progress=False)
    asked = []

    def images(size, channels, field=None):
        asked.append((size, channels, field))
        return np.zeros((4, channels, size, size), dtype=np.uint8)

    acts = stimulus_activations(tmp_path / "run", images, areas=["V1", "IT"])
    assert asked == [(28, 1, 16.0)] and set(acts.acts) == {"V1", "IT"}
    out = export_brainscore(tmp_path / "run", tmp_path / "plugin")
    assert "VISUAL_DEGREES = 16.0" in (out / "model.py").read_text()
    with pytest.raises(ConfigError, match="export it at --visual-degrees 16"):
        export_brainscore(tmp_path / "run", tmp_path / "plugin2", visual_degrees=8.0)


def test_a_twin_of_a_budgeted_anatomy_network_shares_its_budget():
    """A compare of steps 1 and 2 with twins: the twin's budget is its recurrent network's (before, the twin got its
    own, and the plan could not find the recurrent network it is matched to: a KeyError)."""
    from visualstreams.experiment.sweep import plan_sweep

    cfg = vs.make_config(epochs=1, precision="fp32")
    plan = plan_sweep(Sweep(("macaque-markov2014",), cfg, steps=(1, 2), twins=("parameters",), blocks=("anatomy",),
                            budgets=("parameters",)), data=synthetic_dataset(32, 16))
    one, recurrent, twin = plan.networks
    assert twin.label == "gain-BF2-anatomy-P" and twin.recurrent == recurrent
    assert twin.budget_target == recurrent.budget_target == NetworkConfig(
        steps=2, image_size=28, in_channels=1, classes=10).compile("macaque-markov2014").parameters_used(("what",))
    used = plan.specs["macaque-markov2014", twin].parameters_used(("what",))
    assert used == pytest.approx(plan.specs["macaque-markov2014", recurrent].parameters_used(("what",)), rel=0.02)


def test_units_per_receptive_field_set_every_map_and_are_recorded(tmp_path):
    """The one stated choice of the rules, as an option: at 2 units per field the macaque's V4 (4.8 deg at 5 deg)
    gets round(2 x 16 / 4.8) = 7 positions over a 16-deg image, at 4 units 13; recorded in config.json (a run
    written before the option, without it, reads as the 4 it used)."""
    from visualstreams.experiment.sweep import plan_sweep

    two = derive_blocks("macaque-markov2014", image_size=28, field_degrees=16.0, units_per_rf=2)
    four = derive_blocks("macaque-markov2014", image_size=28, field_degrees=16.0)
    assert (two.architecture.areas["V4"].size, four.architecture.areas["V4"].size) == (7, 13)
    assert (two.units_per_rf, four.units_per_rf) == (2.0, 4.0)
    net = NetworkConfig(blocks="anatomy", field_degrees=16.0, units_per_rf=2, image_size=28, in_channels=1,
                        classes=10)
    assert net.compile("macaque-markov2014").area("V4").size == 7
    assert net.to_dict()["units_per_rf"] == 2.0 and "units_per_rf" not in NetworkConfig().to_dict()
    old = {k: v for k, v in NetworkConfig(blocks="anatomy").to_dict().items() if k != "units_per_rf"}
    assert NetworkConfig.from_dict(old) == NetworkConfig(blocks="anatomy", units_per_rf=4)
    with pytest.raises(ConfigError, match="settings of --blocks anatomy"):
        NetworkConfig(units_per_rf=2)
    with pytest.raises(ConfigError, match="between 1 and 64"):
        NetworkConfig(blocks="anatomy", units_per_rf=0.5)
    cfg = vs.make_config(epochs=1, precision="fp32", blocks="anatomy", units_per_rf=2)
    plan = plan_sweep(Sweep(("macaque-markov2014",), cfg, blocks=("uniform", "anatomy")),
                      data=synthetic_dataset(32, 16))
    assert [n.units_per_rf for n in plan.networks] == [None, 2.0]
    shown = run("connectome", "show", "macaque-markov2014", "--blocks", "anatomy", "--units-per-rf", "2")
    assert shown.returncode == 0 and "2 units per receptive field" in shown.stdout
    assert_one_line_error(run("train", "--species", "mouse-oh2014", "--units-per-rf", "2"), "--blocks anatomy")
