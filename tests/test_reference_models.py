"""The field's reference models (visualstreams.network.reference, .cornet): the state dicts torchvision's and
CORnet's own constructors write (names and shapes recorded in tests/fixtures/reference_state_dicts.json, since
torchvision does not import beside the pinned torch) load into ours, the parameter counts are torchvision's
published ones, every model builds and runs at 28, 64 and 224 px with its areas, the small-input rule is applied and
recorded, and the CORnets recur as published."""

import json
import math
from pathlib import Path

import pytest
import torch

from visualstreams.errors import ConfigError
from visualstreams.network.reference import REFERENCE_MODELS, build_reference, reference_spec, small_input_rule

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "reference_state_dicts.json").read_text())
MANIFEST, OUTPUTS = FIXTURE["models"], FIXTURE["outputs"]

# torchvision's documentation, each weights' "num_params" (AlexNet_Weights.IMAGENET1K_V1, VGG11_Weights..., ...)
PUBLISHED_PARAMETERS = {"alexnet": 61_100_840, "vgg11": 132_863_336, "vgg16": 138_357_544, "resnet18": 11_689_512,
                        "resnet50": 25_557_032}


@pytest.mark.parametrize("name", REFERENCE_MODELS)
def test_a_state_dict_written_by_the_published_constructor_loads(name):
    model = build_reference(name, classes=1000, in_channels=3, image_size=64)  # >= 64 px: the published form
    theirs = {k: torch.full(shape, float(i)) if shape else torch.tensor(i)  # each tensor its own value
              for i, (k, shape) in enumerate(MANIFEST[name]["state_dict"].items())}
    ours = model.body.state_dict()
    assert {k: list(v.shape) for k, v in ours.items()} == MANIFEST[name]["state_dict"]
    model.load_weights({"state_dict": {f"module.{k}": v for k, v in theirs.items()}})  # as CORnet's files hold them
    loaded = model.body.state_dict()
    assert all(torch.equal(loaded[k], theirs[k]) for k in theirs)
    assert sum(p.numel() for p in model.parameters()) == MANIFEST[name]["parameters"]
    if name in PUBLISHED_PARAMETERS:
        assert MANIFEST[name]["parameters"] == PUBLISHED_PARAMETERS[name]


def fill(state_dict: dict) -> dict:
    """Deterministic values for every tensor, by its place in the state dict (no RNG: any torch gives them); the
    fixture's outputs were computed by torchvision's and CORnet's own code with these values."""
    out = {}
    for i, (k, v) in enumerate(state_dict.items()):
        if not v.is_floating_point():
            out[k] = v.clone()
            continue
        h = torch.sin(torch.arange(v.numel(), dtype=torch.float64) * 12.9898 + i * 78.233) * 43758.5453
        s = (2 * (h - torch.floor(h)) - 1).reshape(v.shape)  # a hash in [-1, 1): no structure a ReLU could hide in
        if k.endswith("running_var"):
            t = 1 + 0.5 * s.abs()
        elif v.ndim >= 2:
            t = s / math.sqrt(v[0].numel())
        elif k.endswith("weight"):
            t = 1 + 0.1 * s
        else:
            t = 0.1 * s
        out[k] = t.to(v.dtype)
    return out


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_on_the_same_weights_the_outputs_are_the_published_codes(name):
    """What each model computes, not only its shapes: logits equal those of torchvision's / CORnet's own code on
    the same (deterministic) weights and image, recorded in the fixture."""
    size = OUTPUTS[name]["size"]
    model = build_reference(name, classes=10, in_channels=3, image_size=size).eval()
    model.load_weights(fill(model.body.state_dict()))
    image = torch.sin(torch.arange(2 * 3 * size * size, dtype=torch.float64) * 0.01).reshape(2, 3, size, size)
    with torch.no_grad():
        got = model(image.float())["what"]
    want = torch.tensor(OUTPUTS[name]["logits"])
    assert torch.allclose(got, want, rtol=0, atol=1e-5 * want.abs().max().item())


def test_the_published_initialisation():
    torch.manual_seed(0)
    resnet = build_reference("resnet18", image_size=64).body  # kaiming normal, fan out; batch norm 1 and 0
    assert resnet.layer1[0].conv1.weight.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.1)
    assert torch.equal(resnet.bn1.weight, torch.ones(64)) and torch.equal(resnet.bn1.bias, torch.zeros(64))
    vgg = build_reference("vgg11", image_size=32).body  # linear layers normal(0, 0.01), zero biases
    assert vgg.classifier[0].weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert vgg.features[0].bias.abs().sum() == 0
    cornet_s = build_reference("cornet-s", image_size=64).body  # normal(0, sqrt(2 / (k * k * out)))
    assert cornet_s.V2.conv2.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 512)), rel=0.1)
    cornet_z = build_reference("cornet-z", image_size=64).body  # xavier uniform
    assert cornet_z.V2.conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 64 + 9 * 128)), rel=0.1)


def test_weights_that_do_not_fit_are_refused_in_one_line():
    model = build_reference("resnet18", classes=10, in_channels=1, image_size=28)  # the CIFAR stem
    published = {k: torch.zeros(s) for k, s in MANIFEST["resnet18"]["state_dict"].items()}
    with pytest.raises(ConfigError, match=r"conv1.weight is \(64, 3, 7, 7\), here \(64, 1, 3, 3\)") as e:
        model.load_weights(published)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="the state dict lacks 'bn1.bias'"):
        model.load_weights({k: v for k, v in model.body.state_dict().items() if k != "bn1.bias"})


BIG = ("vgg16", "resnet50", "cornet-s")  # their smaller siblings run in the default suite, they in the slow one


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n
                                  for n in REFERENCE_MODELS])
@pytest.mark.parametrize("size", [28, pytest.param(64, marks=pytest.mark.slow)])
def test_every_model_runs_with_its_areas(name, size):
    torch.manual_seed(0)
    model = build_reference(name, classes=10, in_channels=1, image_size=size)
    out, areas = model(torch.rand(2, 1, size, size), return_areas=True)
    logits = out["what"]
    assert logits.shape == (2, 10)
    assert {"V1", "V2", "V4", "IT"} <= set(areas)
    for area in ("V1", "V2", "V4", "IT"):
        assert areas[area].shape[0] == 2 and areas[area].ndim == 4
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1]))
    loss.backward()  # a training step's gradient reaches the first layer
    first = next(p for p in model.parameters() if p.ndim == 4)
    assert first.grad is not None and first.grad.abs().sum() > 0
    record = model.spec.record()["model"]
    assert {k: record[k] for k in ("name", "classes", "in_channels", "image_size", "small_input")} == {
        "name": name, "classes": 10, "in_channels": 1, "image_size": size, "small_input": small_input_rule(name, size)}
    assert model.spec.area_shapes == {a: tuple(areas[a].shape[1:]) for a in ("V1", "V2", "V4", "IT")}
    assert model.spec.n_parameters == sum(p.numel() for p in model.parameters())


@pytest.mark.slow
@pytest.mark.parametrize("name", REFERENCE_MODELS)
def test_every_model_runs_at_224_px_in_its_published_form(name):
    model = build_reference(name, classes=10, in_channels=3, image_size=224)
    assert model.adaptation is None
    with torch.no_grad():
        assert model(torch.rand(1, 3, 224, 224))["what"].shape == (1, 10)


def test_the_small_input_rule():
    assert small_input_rule("resnet18", 28) == "cifar-stem" and small_input_rule("resnet18", 64) is None
    small = build_reference("resnet18", image_size=28).body
    assert small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1)
    assert isinstance(small.maxpool, torch.nn.Identity)
    assert build_reference("alexnet", image_size=32).body.features[0].kernel_size == (3, 3)
    assert build_reference("alexnet", image_size=64).body.features[0].kernel_size == (11, 11)
    vgg = build_reference("vgg11", image_size=28)
    assert vgg.adaptation == "no-last-pool" and not isinstance(vgg.body.features[-1], torch.nn.MaxPool2d)
    assert vgg.regions["IT"] == f"features.{len(vgg.body.features) - 1}"
    assert small_input_rule("vgg11", 32) is None and small_input_rule("cornet-s", 28) is None
    with pytest.raises(ConfigError, match="alexnet cannot take 8 px images"):
        build_reference("alexnet", image_size=8)
    with pytest.raises(ConfigError, match="unknown reference model 'resnet19'"):
        build_reference("resnet19")


def test_region_maps_are_the_committed_ones_or_said_to_stand_in():
    assert reference_spec("alexnet").regions == {"V1": "features.2", "V2": "features.7", "V4": "features.7",
                                                 "IT": "features.12"}  # Brain-Score's alexnet.json
    assert reference_spec("cornet-s").regions == {a: f"{a}.output" for a in ("V1", "V2", "V4", "IT")}
    assert reference_spec("resnet18").regions == {"V1": "layer1", "V2": "layer2", "V4": "layer3", "IT": "layer4"}
    for name in ("resnet18", "resnet50", "vgg11", "vgg16"):
        assert "stand-in" in reference_spec(name).region_source
    vgg = reference_spec("vgg16").regions  # the max-pools closing stages 2-5 of torchvision's numbering
    assert vgg == {"V1": "features.9", "V2": "features.16", "V4": "features.23", "IT": "features.30"}
    assert reference_spec("vgg11").regions == {"V1": "features.5", "V2": "features.10", "V4": "features.15",
                                               "IT": "features.20"}


def test_cornet_rt_brings_the_image_to_it_at_its_fourth_step():
    """As published: at step 0 only V1 sees the image, and each area reads the area below's previous step, so IT's
    first three steps are the same for any image and its fourth is not."""
    torch.manual_seed(0)
    model = build_reference("cornet-rt", image_size=28).eval()
    with torch.no_grad():
        _, a = model(torch.rand(2, 1, 28, 28), return_areas=True)
        _, b = model(torch.rand(2, 1, 28, 28), return_areas=True)
    assert [k for k in a if k.startswith("IT@")] == [f"IT@t{t}" for t in range(5)]
    for t in range(3):
        assert torch.equal(a[f"IT@t{t}"], b[f"IT@t{t}"])
    assert not torch.equal(a["IT@t3"], b["IT@t3"])
    assert not torch.equal(a["V2@t1"], b["V2@t1"]) and torch.equal(a["V2@t0"], b["V2@t0"])
    assert torch.equal(a["IT"], a["IT@t4"])


def test_cornet_s_steps_and_strides_as_published():
    model = build_reference("cornet-s", image_size=64).eval()
    with torch.no_grad():
        _, areas = model(torch.rand(1, 1, 64, 64), return_areas=True)
    assert [k for k in areas if k.startswith("V4@")] == [f"V4@t{t}" for t in range(4)]
    assert "V1@t0" not in areas  # V1 does not recur
    # the 3x3 convolution strides on the first step only: every step of an area has one size, half the area below's
    assert {tuple(areas[f"V4@t{t}"].shape[-2:]) for t in range(4)} == {(4, 4)}
    assert tuple(areas["V2"].shape[-2:]) == (8, 8)
    assert hasattr(model.body.V4, "norm1_3") and not hasattr(model.body.V4, "norm1_4")
