"""The Brain-Score plugin: what ``export brainscore`` writes (here, always) and, in Brain-Score's own environment
(``make test-brainscore``: brainscore-vision 2.4.2, numpy < 2), the plugin loaded by the real package, offline,
recording V1 and IT (and time bins, for a network of several steps) from a local stimulus set."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic import synthetic_dataset

import visualstreams as vs
from visualstreams.export.brainscore import (
    PLUGIN_FILES,
    AreaOutputs,
    layer_names,
    load_area_outputs,
    preprocess,
    region_layer_map,
    time_mappings,
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("bs")
    out = {}
    for steps in (1, 2):
        cfg = vs.make_config(epochs=1, batch_size=32, precision="fp32", steps=steps)
        vs.train("macaque-markov2014", cfg, data=synthetic_dataset(64, 32), out=root / f"T{steps}", progress=False)
        out[steps] = root / f"T{steps}"
    return out


@pytest.fixture(scope="module")
def stimuli(tmp_path_factory):
    """Three 224 px RGB images, as Brain-Score's stimuli are."""
    root = tmp_path_factory.mktemp("stimuli")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        arr = rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)
        arr[60 + 20 * i:120 + 20 * i, 40:180] = 255
        Image.fromarray(arr).save(root / f"s{i}.png")
        paths.append(root / f"s{i}.png")
    return paths


def test_the_layers_and_regions_follow_the_connectome_and_its_steps():
    areas = ["V1", "V2", "V4", "IT", "MT", "LIP"]
    assert layer_names(areas, 1)[:2] == ["V1.output", "V2.output"]
    assert layer_names(["V1", "IT"], 3) == ["V1.output-t0", "V1.output-t1", "V1.output-t2", "IT.output-t0",
                                            "IT.output-t1", "IT.output-t2"]
    assert region_layer_map(areas, 1) == {"V1": "V1.output", "V2": "V2.output", "V4": "V4.output", "IT": "IT.output"}
    assert region_layer_map(areas, 4)["IT"] == "IT.output-t3"
    assert time_mappings(areas, 4)["IT"] == (100, 50, 4)  # from 100 ms, 200 ms over 4 steps


def test_the_wrapper_shows_every_area_at_every_step_to_hooks(runs, stimuli):
    model, info = load_area_outputs(runs[2])
    assert isinstance(model, AreaOutputs) and info["steps"] == 2
    seen: list[tuple[str, torch.Tensor]] = []
    for area in ("V1", "IT"):
        getattr(model, area).output.register_forward_hook(lambda m, i, o, a=area: seen.append((a, o)))
    x = torch.as_tensor(preprocess([str(p) for p in stimuli], image_size=info["image_size"],
                                   channels=info["channels"]))
    assert x.shape == (3, 1, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1
    _, acts = model.network(x, return_areas=True)
    model(x)
    assert [a for a, _ in seen] == ["V1", "IT", "V1", "IT"]  # step order: what the temporal wrapper counts
    assert torch.equal(seen[1][1], acts["IT@t0"]) and torch.equal(seen[3][1], acts["IT@t1"])


@pytest.mark.slow
def test_export_writes_a_plugin_and_refuses_bad_input_in_one_line(runs, tmp_path):
    cmd = [sys.executable, "-m", "visualstreams", "export", "brainscore", str(runs[1])]
    done = subprocess.run([*cmd, "--out", str(tmp_path / "p")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in PLUGIN_FILES:
        assert (tmp_path / "p" / name).is_file()
    ident = "visualstreams-macaque-markov2014-gain-seed0"
    assert f"model_registry['{ident}']" in (tmp_path / "p" / "__init__.py").read_text()  # how Brain-Score finds it
    assert json.loads((tmp_path / "p" / "region_layer_map" / f"{ident}.json").read_text())["V4"] == "V4.output"
    assert (tmp_path / "p" / "run" / "model.pt").is_file()
    again = subprocess.run([*cmd, "--out", str(tmp_path / "p")], capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "exists and is not empty" in again.stderr
    bad = subprocess.run([*cmd[:-1], str(tmp_path), "--out", str(tmp_path / "q")], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "not a run directory" in bad.stderr and not (tmp_path / "q").exists()


def _load_plugin(folder: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _stimulus_set(paths):
    import pandas as pd
    from brainscore_vision import StimulusSet

    stimuli = StimulusSet(pd.DataFrame({"stimulus_id": [p.stem for p in paths]}))
    stimuli.stimulus_paths = {p.stem: str(p) for p in paths}
    stimuli.identifier = "visualstreams-local-test"
    return stimuli


@pytest.mark.parametrize("steps", [1, 2])
def test_brainscore_loads_the_plugin_and_records_from_local_stimuli(runs, stimuli, tmp_path, steps, monkeypatch):
    brainscore_vision = pytest.importorskip("brainscore_vision", reason="make test-brainscore: Brain-Score's venv")
    monkeypatch.setenv("RESULTCACHING_DISABLE", "1")
    folder = vs.export_brainscore(runs[steps], tmp_path / f"plugin{steps}", identifier=f"vs-test-T{steps}")
    _load_plugin(folder, f"vs_plugin_T{steps}")
    model = brainscore_vision.model_registry[f"vs-test-T{steps}"]()
    assert model.identifier == f"vs-test-T{steps}" and 0 < model.visual_degrees() < 9000
    bins = [(70, 170)] if steps == 1 else [(100, 200), (200, 300)]
    model.start_recording("IT", time_bins=bins)
    responses = model.look_at(_stimulus_set(stimuli))
    net, info = load_area_outputs(runs[steps])
    x = torch.as_tensor(preprocess([str(p) for p in stimuli], image_size=info["image_size"],
                                   channels=info["channels"]))
    with torch.no_grad():
        _, acts = net.network(x, return_areas=True)
    assert len(set(responses["neuroid_id"].values)) == responses.sizes["neuroid"] == 256 * 3 * 3
    assert responses.sizes["presentation"] == 3
    values = np.asarray(responses.transpose("presentation", "neuroid", ...).values)
    for k, stim in enumerate(responses["stimulus_id"].values):
        i = [p.stem for p in stimuli].index(str(stim))
        for b in range(len(bins)):
            got = values[k, :, b] if values.ndim == 3 else values[k]
            step = acts["IT"] if steps == 1 else acts[f"IT@t{b}"]  # bin b is nearest step b (100 ms per step)
            np.testing.assert_allclose(np.sort(got), np.sort(step[i].flatten().numpy()), rtol=1e-5, atol=1e-6)
    model.start_recording("V1", time_bins=[(50, 150)])
    assert model.look_at(_stimulus_set(stimuli)).sizes["neuroid"] == 32 * 14 * 14
