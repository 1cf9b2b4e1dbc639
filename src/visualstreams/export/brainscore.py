"""A trained run as a Brain-Score vision plugin (brainscore-vision 2.x), and what the plugin runs.

:func:`export_brainscore` writes a plugin folder, as Brain-Score's model plugins are laid out
(``brainscore_vision/models/<identifier>/``):

* ``__init__.py``: the registry entry, ``model_registry['<identifier>'] = lambda: ...``: a ``ModelCommitment``
  with an explicit ``region_layer_map`` for a one-step network (no layer search, which would download public
  benchmarks); for a network of several steps, Brain-Score's ``CORnetCommitment`` (from its CORnet-S plugin), which
  maps each region's per-step layers (``IT.output-t0`` ...) to time bins and takes the nearest step for a requested
  bin, as CORnet-S does.
* ``model.py``: the network in Brain-Score's ``PytorchWrapper`` (``TemporalPytorchWrapper`` for several steps), the
  preprocessing and the layers.
* ``region_layer_map/<identifier>.json``, ``requirements.txt``, ``metadata.yaml``, ``test.py`` and ``run/`` (the
  run's ``config.json``, ``history.json`` and weights: what :func:`~visualstreams.runs.load_run` rebuilds it from).

Layers: each area's output passes through an identity module named ``<AREA>.output`` (Brain-Score hooks modules
by name), once per step, so a recurrent network's hook sees step k as ``-t<k>``. Regions: V1, V2, V4 and IT, each
mapped to the area of that name (a six-area preset names them so). Time bins (several steps): each region's steps
span 200 ms from its CORnet-S latency (V1 50, V2 70, V4 90, IT 100 ms), 200/T ms each.

Preprocessing: Brain-Score hands the model stimuli already placed at its ``visual_degrees`` (8 by default; the
224 px RGB stimuli of its benchmarks); each becomes the network's input by the package's stimulus rule
(:mod:`visualstreams.data.stimuli`: grey or RGB as the input area takes, resized to the input size, on black).

Imports runs (to rebuild the network), the network's naming and the data layer's stimulus rule; never
brainscore_vision, which only the written plugin imports.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.stimuli import FIELD_DEGREES, load_stimuli
from ..engine import TrainConfig
from ..errors import ConfigError
from ..metrics import at_step as step_name
from ..network.reference import REGIONS
from ..runs import RunDir, load_run
from ..runs.rundir import slug
from ..storage import write_text

BRAIN_REGIONS = REGIONS  # the regions Brain-Score's vision benchmarks record
CORNET_LATENCIES_MS = {"V1": 50, "V2": 70, "V4": 90, "IT": 100}  # CORnet-S plugin's first bins
STEPS_WINDOW_MS = 200
BRAINSCORE_PIN = "brainscore-vision==2.4.2"
PLUGIN_FILES = ("__init__.py", "model.py", "requirements.txt", "metadata.yaml", "test.py")


class _Tap(nn.Module):
    """``<AREA>.output``: an identity Brain-Score can hook, called once per step."""

    def __init__(self) -> None:
        super().__init__()
        self.output = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(x)


class AreaOutputs(nn.Module):
    """A trained network whose areas' outputs pass through ``<AREA>.output`` identities, step by step, in step
    order: what Brain-Score's (temporal) wrapper hooks. Returns the what head's logits."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.network = net
        self.areas = list(net.order)  # type: ignore[attr-defined]
        self.steps = int(net.steps)  # type: ignore[attr-defined]
        for area in self.areas:
            if area == "network":
                raise ConfigError("an area named 'network' clashes with the wrapper's own module")
            self.add_module(area, _Tap())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, acts = self.network(x, return_areas=True)
        for t in range(self.steps):
            for area in self.areas:
                getattr(self, area)(acts[step_name(area, t)] if self.steps > 1 else acts[area])
        return next(iter(outputs.values()))


def layer_names(areas: list[str], steps: int) -> list[str]:
    """``V1.output`` ... or, for several steps, ``V1.output-t0`` ... (CORnet-S's naming)."""
    if steps == 1:
        return [f"{a}.output" for a in areas]
    return [f"{a}.output-t{t}" for a in areas for t in range(steps)]


def region_layer_map(areas: list[str], steps: int) -> dict[str, str]:
    """Brain-Score's regions -> the layer of the area of that name (its last step, for several steps)."""
    last = "" if steps == 1 else f"-t{steps - 1}"
    return {r: f"{r}.output{last}" for r in BRAIN_REGIONS if r in areas}


def time_mappings(areas: list[str], steps: int) -> dict[str, tuple[int, int, int]]:
    """CORnet-S's ``(start ms, ms per step, steps)`` per region, for ``_build_time_mappings``."""
    size = STEPS_WINDOW_MS // steps
    return {r: (CORNET_LATENCIES_MS[r], size, steps) for r in BRAIN_REGIONS if r in areas}


def load_area_outputs(run_dir: str | os.PathLike[str]) -> tuple[AreaOutputs, dict[str, Any]]:
    """The run rebuilt (CPU) and wrapped; with its input size and channels."""
    result = load_run(run_dir, device="cpu")
    net = result.model.eval()
    spec = net.spec
    return AreaOutputs(net), {"image_size": spec.image_size, "channels": spec.in_channels,
                              "areas": list(net.order), "steps": int(net.steps)}


def preprocess(paths: list[str], *, image_size: int, channels: int) -> np.ndarray:
    """Brain-Score's stimuli (already at the model's visual degrees) -> float32 (n, C, S, S) in [0, 1]."""
    images = load_stimuli([str(p) for p in paths], size=image_size, channels=channels,
                          stimulus_degrees=FIELD_DEGREES, field_degrees=FIELD_DEGREES)
    return images.astype(np.float32) / 255.0


_INIT = '''"""visualstreams run {run_name!r} as a Brain-Score vision model ('visualstreams export brainscore')."""
from brainscore_vision import model_registry

from .model import IDENTIFIER, REGION_LAYER_MAP, STEPS, TIME_MAPPINGS, VISUAL_DEGREES, get_layers, get_model

if STEPS == 1:
    from brainscore_vision.model_helpers.brain_transformation import ModelCommitment

    model_registry[{identifier!r}] = lambda: ModelCommitment(
        identifier=IDENTIFIER, activations_model=get_model(), layers=get_layers(),
        region_layer_map=REGION_LAYER_MAP, visual_degrees=VISUAL_DEGREES)
else:  # per-step layers to time bins, the nearest step for a requested bin, as Brain-Score's CORnet-S plugin
    from brainscore_vision.models.cornet_s.helpers.helpers import CORnetCommitment, _build_time_mappings

    model_registry[{identifier!r}] = lambda: CORnetCommitment(
        identifier=IDENTIFIER, activations_model=get_model(), layers=get_layers(),
        time_mapping=_build_time_mappings(TIME_MAPPINGS), visual_degrees=VISUAL_DEGREES)
'''

_MODEL = '''"""The network of visualstreams run {run_name!r} in Brain-Score's PyTorch wrapper."""
import functools
import json
from pathlib import Path

from visualstreams.export.brainscore import layer_names, load_area_outputs, preprocess

HERE = Path(__file__).parent
IDENTIFIER = {identifier!r}
VISUAL_DEGREES = {visual_degrees!r}
STEPS = {steps!r}
REGION_LAYER_MAP = json.loads((HERE / "region_layer_map" / f"{{IDENTIFIER}}.json").read_text())
TIME_MAPPINGS = {time_mappings!r}


def get_model():
    model, info = load_area_outputs(HERE / "run")
    preprocessing = functools.partial(preprocess, image_size=info["image_size"], channels=info["channels"])
    if STEPS == 1:
        from brainscore_vision.model_helpers.activations.pytorch import PytorchWrapper

        wrapper = PytorchWrapper(identifier=IDENTIFIER, model=model, preprocessing=preprocessing)
    else:
        from brainscore_vision.models.cornet_s.helpers.helpers import TemporalPytorchWrapper

        wrapper = TemporalPytorchWrapper(identifier=IDENTIFIER, model=model, preprocessing=preprocessing,
                                         separate_time=True)
    wrapper.image_size = info["image_size"]
    return wrapper


def get_layers():
    return layer_names({areas!r}, STEPS)
'''

_TEST = '''import brainscore_vision


def test_has_identifier():
    model = brainscore_vision.load_model({identifier!r})
    assert model.identifier == {identifier!r}
'''

_METADATA = '''models:
  {identifier}:
    architecture: DCNN
    model_family: visualstreams
    total_parameter_count: {n_parameters}
    trainable_parameter_count: {n_parameters}
    total_layers: {n_layers}
    trainable_layers: {n_layers}
    model_size_mb: {size_mb:.3f}
    training_dataset: {dataset}
    task_specialization: {task}
    brainscore_link: null
    huggingface_link: null
    extra_notes: "compiled from the {connectome} connectome ({mode}, {steps} step(s)) by visualstreams"
    runnable: true
'''


def export_brainscore(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], *,
                      identifier: str | None = None, visual_degrees: float | None = None,
                      overwrite: bool = False) -> Path:
    """Write the Brain-Score plugin of a finished run into ``out`` (see the module docstring); returns ``out``.
    ``visual_degrees``: the model's (default 8, Brain-Score's; a network with anatomy blocks: the field they were
    derived for, and no other). Refused in one line: an unfinished run, a network with none of V1, V2, V4, IT, an
    existing ``out`` (unless ``overwrite``), an identifier Brain-Score could not register."""
    rd = RunDir(run_dir)
    if not rd.config_path.is_file():
        raise ConfigError(f"{run_dir}: not a run directory ({RunDir.CONFIG} missing)")
    if not rd.has_weights():
        raise ConfigError(f"{run_dir}: the run has not finished (no {RunDir.WEIGHTS})")
    config = rd.read_config()
    cfg = TrainConfig.from_dict(config.get("train", {}), config.get("visualstreams"), config.get("network"))
    field = cfg.network.field_degrees if cfg.network.blocks == "anatomy" else None
    if field is not None and visual_degrees is not None and visual_degrees != field:
        raise ConfigError(f"{run_dir}: its anatomy blocks were derived for images of {field:g} deg (its eye and "
                          f"maps are that field's): export it at --visual-degrees {field:g}, not {visual_degrees:g}")
    visual_degrees = field or visual_degrees or FIELD_DEGREES
    if not 0 < visual_degrees < 9000:
        raise ConfigError(f"visual degrees must be between 0 and 9000 (Brain-Score's check), got {visual_degrees}")
    model, info = load_area_outputs(run_dir)
    name = str(config.get("name", "run"))
    identifier = identifier or f"visualstreams-{slug(name)}-{slug(cfg.network.label)}-seed{cfg.seed}"
    if not identifier or "'" in identifier or "/" in identifier or identifier != identifier.strip():
        raise ConfigError(f"identifier {identifier!r}: use letters, digits, '-', '_' and '.'")
    regions = region_layer_map(info["areas"], info["steps"])
    if not regions:
        raise ConfigError(f"{run_dir}: the network has none of Brain-Score's regions as an area "
                          f"({', '.join(BRAIN_REGIONS)}); areas: {', '.join(info['areas'])}")
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        if not overwrite:
            raise ConfigError(f"{target} exists and is not empty (use --overwrite)")
        shutil.rmtree(target)
    (target / "run").mkdir(parents=True)
    for f in (RunDir.CONFIG, RunDir.HISTORY, RunDir.WEIGHTS):
        shutil.copy2(rd.path / f, target / "run" / f)
    fields = {"identifier": identifier, "run_name": name, "visual_degrees": visual_degrees, "steps": info["steps"],
              "areas": info["areas"], "time_mappings": time_mappings(info["areas"], info["steps"])}
    write_text(target / "__init__.py", _INIT.format(**fields))
    write_text(target / "model.py", _MODEL.format(**fields))
    write_text(target / "test.py", _TEST.format(**fields))
    n_params = sum(p.numel() for p in model.parameters())
    write_text(target / "metadata.yaml", _METADATA.format(
        identifier=identifier, n_parameters=n_params, n_layers=len(info["areas"]),
        size_mb=(rd.path / RunDir.WEIGHTS).stat().st_size / 2**20,
        dataset=json.dumps(str(config.get("data", {}).get("dataset", "fashion-mnist"))),
        task=json.dumps(cfg.task), connectome=name, mode=cfg.network.mode,
        steps=info["steps"]))
    write_text(target / "requirements.txt", "# the package that rebuilds the network (from PyPI, or where its source "
                                            "is: pip install <path or git URL>)\nvisualstreams\ntorch\n")
    write_text(target / "region_layer_map" / f"{identifier}.json", json.dumps(regions, indent=2) + "\n")
    return target
