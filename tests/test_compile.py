"""The one compile step: a validated, immutable spec that everything else takes, and its graph algorithms."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest
from synthetic import synthetic_dataset

import visualstreams as vs
import visualstreams.network.compile as compile_module
from visualstreams import graph
from visualstreams.connectome import preset_names
from visualstreams.network import MODES, count_parameters


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", preset_names())
def test_the_spec_counts_parameters_without_building_a_model(name, mode):
    spec = vs.compile_network(name, mode=mode)
    assert spec.n_parameters == count_parameters(vs.VisualStreamsNet(spec))


def test_the_spec_is_immutable_and_keyed_by_what_the_network_computes():
    human, marmoset = (vs.compile_network(s, mode="none") for s in ("human", "marmoset"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        human.mode = "gain"  # type: ignore[misc]
    assert human == marmoset and human.key == marmoset.key  # same graph, every strength 1 under `none`
    assert vs.compile_network("human") != vs.compile_network("marmoset")  # other gains
    assert vs.compile_network("human", mode="density") != vs.compile_network("marmoset", mode="density")  # masks
    mouse = vs.compile_network("mouse")
    assert mouse.order == ["V1", "V2", "V4", "IT", "MT", "LIP"]
    v4 = mouse.area("V4")
    assert [(p.source, p.primary, p.adapter is not None) for p in v4.inputs] == [("V2", True, False),
                                                                                ("V1", False, True)]
    assert v4.inputs[1].adapter == compile_module.Adapter(32, 64, 7)  # V1's 32 x 14 x 14 brought to V2's 64 x 7 x 7
    assert mouse.needed_areas(["what"]) == ["V1", "V2", "V4", "IT"]


def test_a_compiled_spec_passes_through_and_image_size_is_applied_once():
    spec = vs.compile_network("human", image_size=56)
    assert vs.compile_network(spec) is spec and vs.build_model(spec).spec is spec
    assert spec.architecture.image_size == 56 and spec.area_shapes["IT"] == (256, 7, 7)
    with pytest.raises(vs.ConfigError, match="pooled away"):
        vs.compile_network("human", image_size=4)


def test_a_compare_of_two_species_compiles_each_network_once(tmp_path, monkeypatch, one_thread):
    compiled = []
    real = compile_module.validate_pair

    def counting(conn, *args):
        compiled.append(conn.name)
        return real(conn, *args)

    monkeypatch.setattr(compile_module, "validate_pair", counting)
    cfg = vs.make_config(epochs=1, batch_size=16, precision="fp32")
    summary = vs.compare(["human", "mouse"], cfg, tmp_path, seeds=[0, 1], data=synthetic_dataset(32, 16),
                         progress=False, report=False, similarity=False)
    assert set(summary["status"]) == {"ok"} and len(summary) == 4
    assert sorted(compiled) == ["human", "mouse"]  # not once per seed, nor again in train, stacking or room checks
    # (an analysis of the finished runs, such as compare's similarity step or `lesion`, rebuilds each run from its
    # config.json, as load_run does: that is reading results, not compiling the sweep)


def test_graph_algorithms_keep_the_files_order():
    areas = ["A", "C", "B", "D"]
    w = np.zeros((4, 4))
    for s, t in [("A", "C"), ("A", "B"), ("B", "D"), ("C", "D")]:
        w[areas.index(s), areas.index(t)] = 0.5
    g = graph.digraph(areas, w)
    assert graph.topological_order(g) == ["A", "C", "B", "D"]  # ties in the file's order
    assert graph.layers(g) == [["A"], ["C", "B"], ["D"]]
    assert graph.levels(g, "A") == {"A": 0, "C": 1, "B": 1, "D": 2}
    assert graph.levels(g, "B") == {"B": 0, "D": 1}  # what B cannot reach has no level
    assert graph.reachable(g, "C") == {"C", "D"} and graph.find_cycle(g) is None
    w[areas.index("D"), areas.index("A")] = 0.1
    cyclic = graph.digraph(areas, w)
    cycle = graph.find_cycle(cyclic)
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) == 4
    assert graph.levels(cyclic, "A") == {}
    with pytest.raises(nx.NetworkXUnfeasible):
        graph.topological_order(cyclic)
    assert graph.direction("A", "D", {"A": 0, "D": 2}) == "feedforward"
    assert graph.direction("D", "A", {"A": 0, "D": 2}) == "feedback"


# -- any input size ------------------------------------------------------------------------------------------
def _pools_above(spec, name):
    """Pooled areas on ``name``'s primary path from the input area, itself included."""
    areas = {a.name: a for a in spec.areas}
    area, count = areas[name], 0
    while True:
        count += area.block.pool
        if not area.inputs:
            return count
        area = areas[area.inputs[0].source]


@pytest.mark.parametrize("size", [32, 64, 224])
def test_every_connectome_mode_and_step_count_compiles_at_natural_image_sizes(size):
    from visualstreams.connectome import preset_names
    from visualstreams.network.modes import MODES

    for name in preset_names():
        for mode in MODES:
            for steps in (1, 3):
                spec = vs.compile_network(name, image_size=size, mode=mode, steps=steps, in_channels=3, classes=100)
                assert spec.image_size == size and spec.areas[0].in_channels == 3
                # The rule (docs/network.md): an area's map is the input size halved (floored) once per pooled
                # area on its primary path, as at 28 px.
                for a in spec.areas:
                    expected = size
                    for _ in range(_pools_above(spec, a.name)):
                        expected //= 2
                    assert a.size == expected, (name, mode, steps, a.name)


def test_a_64px_rgb_network_has_the_stated_map_sizes():
    spec = vs.compile_network("human", image_size=64, in_channels=3, classes=4)
    assert {a.name: a.size for a in spec.areas} == {"V1": 32, "V2": 16, "V4": 16, "IT": 8, "MT": 16, "LIP": 8}
    at28 = vs.compile_network("human")
    assert {a.name: a.size for a in at28.areas} == {"V1": 14, "V2": 7, "V4": 7, "IT": 3, "MT": 7, "LIP": 3}
    what = next(h for h in spec.heads if h.name == "what")
    assert (what.outputs, what.in_features) == (4, 256 * 8 * 8)


def test_a_compiled_spec_refuses_arguments_that_differ_from_its_own():
    """No default is a sentinel (#32): steps=1 given for a 4-step spec is refused, not read as 'not given'."""
    spec = vs.compile_network("macaque-markov2014", steps=4)
    assert vs.compile_network(spec, steps=4, mode="gain", intrinsic=False) is spec  # the same: taken as given
    for kw, said in ((dict(steps=1), "steps 4, not 1"), (dict(mode="none"), "mode gain, not none"),
                     (dict(intrinsic=True), "intrinsic False, not True"),
                     (dict(image_size=56), "image size 28, not 56"),
                     (dict(architecture=vs.default_architecture()), "an architecture of its own")):
        with pytest.raises(vs.ConfigError, match=rf"keeps what it was compiled with \({said}\)"):
            vs.compile_network(spec, **kw)
    assert vs.compile_network("macaque-markov2014").steps == 1 and vs.compile_network("human").mode == "gain"
