"""The field's reference models by name: AlexNet, VGG-11/16, ResNet-18/50 and CORnet-Z/RT/S, built at any input,
with the layer that stands for each visual area (V1, V2, V4, IT) and, for the recurrent CORnets, every step.

The torchvision architectures are in :mod:`.torchvision_models`, with torchvision's module names, shapes and
initialisation (torchvision 0.29's ``alexnet``, ``vgg11``, ``vgg16``, ``resnet18``, ``resnet50``: the same state
dict, so a torchvision file loads; tested against the state dicts torchvision's constructors write and their
published parameter counts), because PyPI's torchvision wheel does not import beside the CPU build of torch this
project pins (``operator torchvision::nms does not exist``). The CORnets are in :mod:`.cornet`. A run's spec is
:class:`ReferenceNetwork`; :func:`match_width` scales every layer's channels to a parameter budget.

Regions (:attr:`ReferenceSpec.regions`): AlexNet's is the map Brain-Score commits for it
(``region_layer_map/alexnet.json``: V1 ``features.2``, V2 and V4 ``features.7``, IT ``features.12``); the CORnets'
are their areas, as Brain-Score's CORnet-S commitment reads them (every step of CORnet-RT and -S, ``IT@tK``). For VGG
and ResNet Brain-Score commits no map (it selects a layer per benchmark on public data): the stand-in here is each
stage's output in order (ResNet ``layer1``-``layer4``; VGG the max-pools ending stages 2-5), said in
:attr:`ReferenceSpec.region_source`.

Small inputs (:func:`small_input_rule`): below 64 px the 224 px stems would pool a 28 px image away, so ResNet's
stem is the CIFAR ResNets' (He et al. 2016, sec. 4.2: a 3x3 convolution at stride 1, no max-pool) and AlexNet's
first convolution is 3x3 at stride 1; below 32 px VGG leaves out its last max-pool. The CORnets need no change
from 28 px up. The rule a network was built with is recorded with it. Imports torch only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..metrics import at_step
from .cornet import AREAS, build_cornet
from .torchvision_models import RESNET_BLOCKS, VGG_LAYERS, ResNet, alexnet, vgg

REGIONS = AREAS  # V1, V2, V4, IT: what every reference model is mapped to (CORnet is built of them)
SMALL = 64  # below this many pixels the 224 px stems are adapted (see the module's docstring)
VGG_SMALL = 32  # below this VGG leaves out its last max-pool
REFERENCE_SIZE = 28  # the input of a reference model asked for without one (Fashion-MNIST's)



@dataclass(frozen=True)
class ReferenceSpec:
    """One reference model: its ``regions`` (area -> the module whose output stands for it, in the published form;
    :attr:`ReferenceNet.regions` at the size built; a recurrent CORnet's steps are read off its forward), whose map
    that is
    (``region_source``), the architecture's source, and its steps (1, or the CORnets' own)."""

    name: str
    family: str
    regions: Mapping[str, str]
    region_source: str
    source: str


def _vgg_regions(layers: tuple[Any, ...]) -> dict[str, str]:
    pools = [i for i, v in enumerate(_vgg_indices(layers)) if v == "M"]
    return {r: f"features.{i}" for r, i in zip(REGIONS, [pools[1], pools[2], pools[3], pools[4]], strict=True)}


def _vgg_indices(layers: tuple[Any, ...]) -> list[Any]:
    """The ``features`` Sequential's entries as torchvision numbers them: conv, ReLU per channel count, "M" per pool."""
    out: list[Any] = []
    for v in layers:
        out += ["M"] if v == "M" else [v, "relu"]
    return out


_ALEXNET_SOURCE = "Krizhevsky et al. 2012, as torchvision 0.29 defines it (one GPU, 64-192-384-256-256 channels)"
_RESNET_SOURCE = "He et al. 2016, as torchvision 0.29 defines it (stride in the 3x3 convolution, ResNet v1.5)"
_STAGES = "stand-in: each stage's output in order (Brain-Score commits no map for it; it selects a layer per benchmark)"
_CORNET_MAP = {r: f"{r}.output" for r in REGIONS}
_CORNET_REGIONS = ("the areas it is built of, as Brain-Score's CORnet-S commitment reads them (Kubilius et al. "
                   "2019)")

SPECS: dict[str, ReferenceSpec] = {
    "alexnet": ReferenceSpec("alexnet", "alexnet", {"V1": "features.2", "V2": "features.7", "V4": "features.7",
                                                    "IT": "features.12"},
                             "Brain-Score's committed map (models/alexnet/region_layer_map/alexnet.json)",
                             _ALEXNET_SOURCE),
    **{n: ReferenceSpec(n, "vgg", _vgg_regions(VGG_LAYERS[n]), _STAGES + " (the max-pools ending stages 2-5)",
                        "Simonyan & Zisserman 2015, as torchvision 0.29 defines it (no batch norm)")
       for n in VGG_LAYERS},
    **{n: ReferenceSpec(n, "resnet", {"V1": "layer1", "V2": "layer2", "V4": "layer3", "IT": "layer4"},
                        _STAGES + " (layer1 to layer4)", _RESNET_SOURCE) for n in RESNET_BLOCKS},
    "cornet-z": ReferenceSpec("cornet-z", "cornet", _CORNET_MAP, _CORNET_REGIONS,
                              "Kubilius et al. 2018 (CORnet-Z), from the published architecture"),
    "cornet-rt": ReferenceSpec("cornet-rt", "cornet", _CORNET_MAP, _CORNET_REGIONS,
                               "Kubilius et al. 2018 (CORnet-RT, 5 steps), from the published architecture"),
    "cornet-s": ReferenceSpec("cornet-s", "cornet", _CORNET_MAP, _CORNET_REGIONS,
                              "Kubilius et al. 2019 (CORnet-S: V2 2, V4 4, IT 2 steps), from the published "
                              "architecture"),
}
REFERENCE_MODELS = tuple(SPECS)


def small_input_rule(name: str, image_size: int) -> str | None:
    """The adaptation a reference model gets at ``image_size`` px (None: its published form), as recorded."""
    family = reference_spec(name).family
    if family in ("resnet", "alexnet") and image_size < SMALL:
        return "cifar-stem" if family == "resnet" else "3x3-stem"
    if family == "vgg" and image_size < VGG_SMALL:
        return "no-last-pool"
    return None


def reference_spec(name: str) -> ReferenceSpec:
    """The registered reference model ``name`` (one line naming the known ones otherwise)."""
    try:
        return SPECS[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown reference model {name!r} (known: {', '.join(REFERENCE_MODELS)})") from None


def _body(name: str, classes: int, in_channels: int, image_size: int, width: float) -> nn.Module:
    """The architecture under its published module names, every layer's channels times ``width``."""
    family, small = reference_spec(name).family, small_input_rule(name, image_size) is not None

    def ch(c: int) -> int:
        return max(1, round(c * width))

    if family == "alexnet":
        return alexnet(classes, in_channels, small, ch)
    if family == "vgg":
        return vgg(name, classes, in_channels, small, ch)
    if family == "resnet":
        return ResNet(name, classes, in_channels, small, ch)
    return build_cornet(name, classes, in_channels, image_size, ch)


def parameters_at_width(name: str, width: float, classes: int = 10, in_channels: int = 1,
                        image_size: int = 28) -> int:
    """Trainable parameters of ``name`` at ``width``, counted on the meta device (nothing allocated or drawn)."""
    with torch.device("meta"):
        return sum(p.numel() for p in _body(name, classes, in_channels, image_size, width).parameters())


MATCH_TOLERANCE = 0.02  # a matched reference model's parameters are the target's to within 2% (as a matched twin's)


def match_width(name: str, target: int, classes: int = 10, in_channels: int = 1, image_size: int = 28,
                tolerance: float = MATCH_TOLERANCE) -> float:
    """The width multiplier at which ``name`` has ``target`` trainable parameters to within ``tolerance``: every
    layer's channels scaled alike (the architecture's depth, kernels, strides and stem kept), found by bisection on
    the count, which grows with the width. Refused in one line where the architecture's steps cannot come that close
    (CORnet-RT's widths come in multiples of 32 channels, for its 32-group norms)."""
    if target < 1:
        raise ConfigError(f"a parameter budget is a whole number >= 1, got {target!r}")
    lo, hi, best = 1 / 512, 16.0, (math.inf, 1.0)
    for _ in range(48):  # log-bisection: the relative step falls below 1e-12, past any channel's rounding
        mid = math.sqrt(lo * hi)
        n = parameters_at_width(name, mid, classes, in_channels, image_size)
        best = min(best, (abs(n - target) / target, mid))
        lo, hi = (mid, hi) if n < target else (lo, mid)
    off, width = best
    if off > tolerance and width > hi / 1.01:
        raise ConfigError(f"{target:,} parameters is more than {name} has at 16 times its published width")
    if off > tolerance:
        got = parameters_at_width(name, width, classes, in_channels, image_size)
        raise ConfigError(f"{name}'s widths cannot match {target:,} parameters within {tolerance:.0%}: the closest "
                          f"is {got:,} ({(got - target) / target:+.1%}, width {width:.3g})")
    return round(width, 12)


def _classify(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """AlexNet's and VGG's forward (torchvision's): features, average pool, classifier."""
    return model.classifier(torch.flatten(model.avgpool(model.features(x)), 1))


@dataclass(frozen=True)
class ReferenceNetwork:
    """A reference model at a run's input: what a run of it trains, as a
    :class:`~visualstreams.network.CompiledNetwork` is for a connectome's network (the pipeline takes either:
    ``name``, ``image_size``, ``in_channels``, ``steps``, ``order``, ``area_shapes``, ``n_parameters``,
    ``parameters_used``, ``structure``, ``key``, ``record()``; built by ``network.model.build_network``). Its one
    head is ``what``; its
    ``steps`` is 1 for training and scoring (a recurrent CORnet unrolls inside its forward, and its areas are read
    at every step as ``AREA@tK``: :meth:`activation_names`). Runs of it train one at a time (``stackable``: the
    batch norms' running statistics are module state that the stacked engine's ``vmap`` cannot keep per model)."""

    model: str
    image_size: int = 28
    in_channels: int = 1
    classes: int = 10
    width: float = 1.0  # every layer's channels times this (1: the published model); see match_width

    steps = 1
    stackable = False
    head_names = ("what",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", reference_spec(self.model).name)
        if isinstance(self.width, bool) or not (isinstance(self.width, int | float) and 0 < self.width <= 16):
            raise ConfigError(f"a reference model's width is a multiplier in (0, 16], got {self.width!r}")

    @property
    def name(self) -> str:
        return self.model

    @property
    def entry(self) -> ReferenceSpec:
        return reference_spec(self.model)

    @property
    def adaptation(self) -> str | None:
        return small_input_rule(self.model, self.image_size)

    def build(self) -> ReferenceNet:
        """The model, its weights drawn from torch's global generator (the published initialisation)."""
        return ReferenceNet(self.model, self.classes, self.in_channels, self.image_size, self.width)

    @cached_property
    def _probe(self) -> tuple[int, dict[str, tuple[int, int, int]], list[str], dict[str, str]]:
        """Counted once from one build (the caller's random state left as it was): parameters, each area's
        output shape, the names its areas are read under, the region map at this size."""
        state = torch.random.get_rng_state()
        try:
            net = self.build().eval()
            with torch.no_grad():
                _, acts = net(torch.zeros(1, self.in_channels, self.image_size, self.image_size), return_areas=True)
        finally:
            torch.random.set_rng_state(state)
        shapes = {a: tuple(int(d) for d in acts[a].shape[1:]) for a in REGIONS if a in acts}
        return (sum(p.numel() for p in net.parameters() if p.requires_grad), shapes,  # type: ignore[return-value]
                list(acts), dict(net.regions))

    @property
    def n_parameters(self) -> int:
        return self._probe[0]

    def parameters_used(self, heads: tuple[str, ...] | list[str] = ("what",), every_step: bool = False) -> int:
        """Every parameter: its one head reads its last layer, which every layer feeds."""
        self.check_heads(heads)
        return self.n_parameters

    @property
    def area_shapes(self) -> dict[str, tuple[int, int, int]]:
        return dict(self._probe[1])

    @property
    def order(self) -> list[str]:
        return list(self._probe[1])

    @property
    def regions(self) -> dict[str, str]:
        """Each area's layer at this size (the small-input rule can move IT's)."""
        return dict(self._probe[3])

    def activation_names(self) -> list[str]:
        """The keys of ``model(x, return_areas=True)[1]``: each area (its last step), and ``AREA@tK`` for each step
        of an area a recurrent CORnet runs more than once."""
        return list(self._probe[2])

    def check_heads(self, heads: tuple[str, ...] | list[str]) -> None:
        other = [h for h in heads if h not in self.head_names]
        if other:
            raise ConfigError(f"{self.model} has one head, what (the class): it has no {other[0]!r} head (a "
                              "reference model has no dorsal stream; train it on a task of the what head)")

    @property
    def structure(self) -> tuple[Any, ...]:
        return ("reference", self.model, self.image_size, self.in_channels, self.classes, self.width)

    @property
    def key(self) -> tuple[Any, ...]:
        return self.structure

    def record(self) -> dict[str, Any]:
        """config.json's ``model`` section: the model and its input, the small-input rule applied, the region map
        and whose map it is, the architecture's source."""
        e = self.entry
        return {"model": {"name": self.model, "family": e.family, "image_size": self.image_size,
                          "in_channels": self.in_channels, "classes": self.classes,
                          "small_input": self.adaptation, "width": self.width, "regions": self.regions,
                          "region_source": e.region_source, "source": e.source}}


class ReferenceNet(nn.Module):
    """A reference model with its areas: ``body`` holds the architecture under torchvision's (or CORnet's) names, so
    ``body.state_dict()`` is theirs (:meth:`load_weights`). Called as the connectome networks are:
    ``net(x)`` gives ``{"what": logits}``; ``return_areas=True`` also ``{area: output}`` (``AREA@tK`` per step for
    the recurrent CORnets; their last step under the plain name too)."""

    def __init__(self, name: str, classes: int = 10, in_channels: int = 1, image_size: int = 28,
                 width: float = 1.0) -> None:
        super().__init__()
        self.entry = reference_spec(name)
        self.spec = ReferenceNetwork(name, image_size, in_channels, classes, width)
        self.name, self.classes, self.in_channels, self.image_size = self.entry.name, classes, in_channels, image_size
        self.adaptation = small_input_rule(name, image_size)
        self.body = _body(self.name, classes, in_channels, image_size, width)
        self.regions = dict(self.entry.regions)
        if self.adaptation == "no-last-pool":  # IT: the last ReLU, where the left-out pool was
            self.regions["IT"] = f"features.{len(self.body.features) - 1}"
        self._check_size()

    steps = 1  # to the engine: one output per image (a CORnet's steps are inside its forward)
    head_names = ("what",)
    # Layers recorded besides the areas with return_areas (module paths; set by predict's every-layer selection)
    extra_layers: tuple[str, ...] = ()

    def candidate_layers(self) -> list[str]:
        """Every layer a Brain-Score-style selection chooses among (module paths, in computation order): the
        rectified and pooled outputs of AlexNet's and VGG's ``features`` and the classifier's hidden ReLUs; a
        ResNet's stem ReLU and max-pool, each residual block and the average pool; a CORnet's areas (Brain-Score's
        CORnet layers), every step of them."""
        modules = dict(self.body.named_modules())
        if self.entry.family in ("alexnet", "vgg"):
            return [p for p, m in modules.items() if p.count(".") == 1 and p.split(".")[0] in ("features", "classifier")
                    and isinstance(m, nn.ReLU | nn.MaxPool2d)]
        if self.entry.family == "resnet":
            blocks = [p for p in modules if p.count(".") == 1 and p.split(".")[0].startswith("layer")]
            return [p for p in ("relu", "maxpool") if p in modules] + blocks + ["avgpool"]
        return []  # a CORnet's layers are its areas

    @property
    def order(self) -> list[str]:
        return list(self.regions)

    def needed_areas(self, heads: Any) -> list[str]:
        """Every area: its one head reads the last layer, which they all feed."""
        self.spec.check_heads(tuple(heads))
        return self.order

    def _check_size(self) -> None:
        with torch.no_grad():
            try:
                self.eval()(torch.zeros(1, self.in_channels, self.image_size, self.image_size))
            except RuntimeError as e:
                raise ConfigError(f"{self.name} cannot take {self.image_size} px images: {str(e).splitlines()[0]}") \
                    from None
        self.train()

    def forward(self, x: torch.Tensor, heads: Any = None, return_areas: bool = False, every_step: bool = False) -> Any:
        """``{"what": logits}``; a list of one such dict with ``every_step`` (the engine's per-step readout: a
        reference model is read at its output); with ``return_areas`` also ``{area: output}``."""
        if heads is not None:
            self.spec.check_heads(tuple(heads))
        if not return_areas:
            out = {"what": self._logits(x)}
            return [out] if every_step else out
        outputs: dict[str, list[torch.Tensor]] = {}
        modules = dict(self.body.named_modules())
        handles = []
        taps = [*self.regions.items(), *((p, p) for p in self.extra_layers if p not in self.regions)]
        for area, path in taps:
            def keep(_m: nn.Module, _i: Any, out: torch.Tensor, area: str = area) -> None:
                # a copy: a later in-place ReLU (torchvision's) would change the tensor recorded
                outputs.setdefault(area, []).append(out.clone() if area in self.extra_layers else out)
            handles.append(modules[path].register_forward_hook(keep))
        try:
            logits = self._logits(x)
        finally:
            for h in handles:
                h.remove()
        areas: dict[str, torch.Tensor] = {}
        for area, outs in outputs.items():
            if len(outs) > 1:
                areas.update({at_step(area, t): o for t, o in enumerate(outs)})
            areas[area] = outs[-1]
        out = {"what": logits}
        return ([out] if every_step else out), areas

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        if self.entry.family in ("alexnet", "vgg"):
            return _classify(self.body, x)
        return self.body(x)

    def load_weights(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Load a state dict written by torchvision's or CORnet's code (or a run's model.pt of this model) into
        :attr:`body`: a checkpoint's ``{"state_dict": ...}`` and DataParallel's ``module.`` prefix (CORnet's
        published files have both) are taken off; one that does not fit is refused in one line naming the first key
        or shape that differs."""
        sd = unwrap_state_dict(state_dict)
        if sd and all(k.startswith("body.") for k in sd):  # a run's own model.pt (this module's state dict)
            sd = {k.removeprefix("body."): v for k, v in sd.items()}
        own = self.body.state_dict()
        missing, extra = sorted(set(own) - set(sd)), sorted(set(sd) - set(own))
        if missing or extra:
            which = f"lacks {missing[0]!r}" if missing else f"has {extra[0]!r}, which {self.name} does not"
            raise ConfigError(f"these weights do not fit {self.name} ({self.image_size} px): the state dict {which}")
        for k, v in sd.items():
            if tuple(v.shape) != tuple(own[k].shape):
                raise ConfigError(f"these weights do not fit {self.name} ({self.image_size} px, {self.in_channels} "
                                  f"channels, {self.classes} classes): {k} is {tuple(v.shape)}, here "
                                  f"{tuple(own[k].shape)}")
        self.body.load_state_dict(sd, strict=True)


def unwrap_state_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    """A state dict as its published file holds it, unwrapped: a checkpoint's ``{"state_dict": ...}`` and
    DataParallel's ``module.`` prefix taken off (CORnet's files have both)."""
    inner = data.get("state_dict", data)
    return {str(k).removeprefix("module."): v for k, v in inner.items()} if isinstance(inner, Mapping) else inner


def build_reference(name: str, classes: int = 10, in_channels: int = 1, image_size: int = 28) -> ReferenceNet:
    """The reference model ``name`` for ``classes`` classes on ``in_channels`` x ``image_size`` px images (the
    small-input rule applied below 64 px); a size it cannot take is refused in one line."""
    return ReferenceNet(name, classes, in_channels, image_size)


__all__ = ["REFERENCE_MODELS", "REGIONS", "ReferenceNet", "ReferenceNetwork", "ReferenceSpec", "build_reference",
           "match_width", "parameters_at_width", "reference_spec", "small_input_rule"]
