import pytest
import torch
from torch import nn

import visualstreams as vs
from visualstreams.network import count_parameters


class NotebookCNN(nn.Module):
    """The notebook's SpeciesVisualCNN layers (its forward is not needed for shapes and counts)."""

    def __init__(self):
        super().__init__()
        self.v1 = nn.Conv2d(1, 32, 3, 1, 1)
        self.v2 = nn.Conv2d(32, 64, 3, 1, 1)
        self.v4 = nn.Conv2d(64, 128, 3, 1, 1)
        self.it = nn.Conv2d(128, 256, 3, 1, 1)
        self.fc_ventral = nn.Linear(256 * 3 * 3, 10)
        self.mt = nn.Conv2d(64, 128, 3, 1, 1)
        self.lip = nn.Conv2d(128, 256, 3, 1, 1)
        self.fc_dorsal = nn.Linear(256 * 3 * 3, 2)


NOTEBOOK_NAMES = {"V1": "v1", "V2": "v2", "V4": "v4", "IT": "it", "MT": "mt", "LIP": "lip"}


@pytest.mark.parametrize("species", ["human", "marmoset"])
def test_shapes_and_parameter_count_equal_the_notebook(species):
    ours, ref = vs.build_model(species), NotebookCNN()
    assert count_parameters(ours) == count_parameters(ref) == 784524
    for area, name in NOTEBOOK_NAMES.items():
        assert ours.areas[area].conv.weight.shape == getattr(ref, name).weight.shape
    assert ours.heads["what"].weight.shape == ref.fc_ventral.weight.shape
    assert ours.heads["where"].weight.shape == ref.fc_dorsal.weight.shape
    assert ours.area_shapes == {"V1": (32, 14, 14), "V2": (64, 7, 7), "V4": (128, 7, 7), "IT": (256, 3, 3),
                                "MT": (128, 7, 7), "LIP": (256, 3, 3)}
    out = ours(torch.rand(3, 1, 28, 28))
    assert out["what"].shape == (3, 10) and out["where"].shape == (3, 2)


def test_mouse_shortcuts_are_pathways():
    mouse = vs.build_model("mouse")
    assert set(mouse.projections) == {"V1_to_V4", "V1_to_MT"}
    # 1x1 projections 32 -> 64 channels, one per shortcut, on top of the notebook's parameters.
    assert count_parameters(mouse) == 784524 + 2 * 32 * 64


def _with_strength(model, source, target, value):
    model.strengths[model.edge_index(source, target)] = value


def test_changing_the_mouse_shortcut_changes_the_output():
    torch.manual_seed(0)
    model = vs.build_model("mouse")
    x = torch.rand(4, 1, 28, 28)
    before = model(x, heads=("what",))["what"].detach().clone()
    _with_strength(model, "V1", "V4", 0.9)
    after = model(x, heads=("what",))["what"]
    assert not torch.allclose(before, after)


def test_gradients_reach_v1_through_the_shortcut_alone():
    torch.manual_seed(0)
    model = vs.build_model("mouse")
    _with_strength(model, "V1", "V2", 0.0)  # leave V1 -> V4 as V1's only route to IT
    x = torch.rand(4, 1, 28, 28)
    model(x, heads=("what",))["what"].sum().backward()
    assert model.areas["V1"].conv.weight.grad.abs().sum() > 0
    assert model.projections["V1_to_V4"].proj.weight.grad.abs().sum() > 0

    model.zero_grad()
    _with_strength(model, "V1", "V4", 0.0)
    model(x, heads=("what",))["what"].sum().backward()
    assert model.areas["V1"].conv.weight.grad.abs().sum() == 0


@pytest.mark.parametrize("edge", [("V1", "V4"), ("V1", "MT")])
def test_zero_strength_equals_removing_the_edge(edge):
    torch.manual_seed(0)
    full = vs.build_model("mouse")
    _with_strength(full, *edge, 0.0)
    reduced = vs.build_model(vs.load_connectome("mouse").with_strength(*edge, 0.0))
    removed = f"projections.{edge[0]}_to_{edge[1]}."
    state = {k: v for k, v in full.state_dict().items() if not k.startswith(removed) and k != "strengths"}
    missing, unexpected = reduced.load_state_dict(state, strict=False)
    assert missing == ["strengths"] and unexpected == []
    x = torch.rand(5, 1, 28, 28)
    a, b = full(x), reduced(x)
    for head in ("what", "where"):
        torch.testing.assert_close(a[head], b[head], rtol=0, atol=0)


def test_edge_strength_scales_the_signal_it_carries():
    torch.manual_seed(0)
    model = vs.build_model("human")
    x = torch.rand(2, 1, 28, 28)
    _, acts = model(x, return_areas=True)
    # V2's input is 0.9 x V1's output: doubling the strength equals doubling V1's output.
    v2 = model.areas["V2"]
    torch.testing.assert_close(acts["V2"], v2(0.9 * acts["V1"]))


def test_activations_by_area_name_and_hooks():
    model = vs.build_model("mouse")
    seen = {}

    def hook(module, inputs, output):
        seen["IT"] = output.shape

    handle = model.areas["IT"].register_forward_hook(hook)
    outputs, acts = model(torch.rand(2, 1, 28, 28), return_areas=True)
    handle.remove()
    assert list(acts) == model.order and set(acts) == {"V1", "V2", "V4", "IT", "MT", "LIP"}
    assert acts["MT"].shape == (2, 128, 7, 7)
    assert seen["IT"] == (2, 256, 3, 3)


def test_only_the_needed_stream_runs():
    model = vs.build_model("human")
    assert model.needed_areas(("what",)) == ["V1", "V2", "V4", "IT"]
    assert model.needed_areas(("where",)) == ["V1", "V2", "MT", "LIP"]
    _, acts = model(torch.rand(1, 1, 28, 28), heads=("what",), return_areas=True)
    assert "MT" not in acts and "LIP" not in acts
    assert vs.build_model("mouse").needed_areas(("what",)) == ["V1", "V2", "V4", "IT"]


@pytest.mark.parametrize("size, flat", [(28, 256 * 3 * 3), (56, 256 * 7 * 7), (64, 256 * 8 * 8)])
def test_heads_size_themselves_from_the_image(size, flat):
    model = vs.build_model("human", image_size=size)
    assert model.heads["what"].in_features == flat
    assert model(torch.rand(2, 1, size, size))["where"].shape == (2, 2)


def test_too_small_image_is_refused():
    with pytest.raises(vs.ConfigError, match="pooled away"):
        vs.build_model("human", image_size=4)


def test_unknown_head_is_refused():
    with pytest.raises(vs.ConfigError, match="unknown head"):
        vs.build_model("human")(torch.rand(1, 1, 28, 28), heads=("when",))


def test_connection_modes():
    torch.manual_seed(0)
    gain = vs.build_model("mouse", mode="gain")
    torch.manual_seed(0)
    none = vs.build_model("mouse", mode="none")
    # `none` is the same network with every present projection at strength 1.
    assert gain.edges == none.edges
    assert none.strengths.tolist() == [1.0] * 7
    for (k, v), (k2, v2) in zip(gain.state_dict().items(), none.state_dict().items(), strict=True):
        assert k == k2 and (k == "strengths" or torch.equal(v, v2))
    learned = vs.build_model("mouse", mode="learned-gain")
    assert isinstance(learned.strengths, torch.nn.Parameter)
    torch.testing.assert_close(learned.strengths.detach(), gain.strengths)
    learned(torch.rand(2, 1, 28, 28), heads=("what",))["what"].sum().backward()
    assert learned.strengths.grad[learned.edge_index("V1", "V4")] != 0
    density = vs.build_model("mouse", mode="density")
    mask = density.density_mask_0  # V1 -> V2, strength 0.75, over V2's 64 x 32 channel pairs
    assert density.edges[0] == ("V1", "V2") and mask.sum().item() == round(0.75 * 64 * 32)
    assert density(torch.rand(2, 1, 28, 28))["what"].shape == (2, 10)
    with pytest.raises(vs.ConfigError, match="unknown connection mode"):
        vs.build_model("mouse", mode="sparse")
