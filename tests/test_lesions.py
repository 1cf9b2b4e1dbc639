import subprocess
import sys

import pytest
import torch
from synthetic import synthetic_dataset, write_idx_dir
from test_cli import SRC, assert_one_line_error

import visualstreams as vs
from visualstreams.analysis.lesions import Lesion, lesion_effects, lesioned, parse_edge, sweep
from visualstreams.data import DeviceData


def test_cut_edge_equals_the_zero_strength_connectome_and_is_restored():
    torch.manual_seed(0)
    model = vs.build_model("mouse").eval()
    # V1->MT is a shortcut: without it the compiled structure is the same, so the weights carry over.
    reduced = vs.build_model(vs.load_connectome("mouse").with_strength("V1", "MT", 0.0)).eval()
    state = {k: v for k, v in model.state_dict().items() if k != "strengths" and "V1_to_MT" not in k}
    reduced.load_state_dict(state, strict=False)
    x = torch.rand(4, 1, 28, 28)
    intact = model(x)["where"].detach().clone()
    with lesioned(model, Lesion(edges=(("V1", "MT"),))):
        torch.testing.assert_close(model(x)["where"], reduced(x)["where"], rtol=0, atol=0)
    torch.testing.assert_close(model(x)["where"], intact, rtol=0, atol=0)


def test_silenced_area_outputs_zero_and_spares_the_other_stream():
    model = vs.build_model("human").eval()
    x = torch.rand(3, 1, 28, 28)
    intact = model(x)
    with lesioned(model, Lesion(areas=("IT",))):
        out, acts = model(x, return_areas=True)
        assert acts["IT"].abs().sum() == 0
        # The what head reads nothing but its bias; the where head is untouched.
        torch.testing.assert_close(out["what"], model.heads["what"].bias.expand(3, -1))
        torch.testing.assert_close(out["where"], intact["where"])
    assert model.silenced == set()


def test_unknown_names_are_refused():
    model = vs.build_model("human")
    with pytest.raises(vs.ConfigError, match="unknown area 'V3'"), lesioned(model, Lesion(areas=("V3",))):
        pass
    with pytest.raises(vs.ConfigError, match="no projection V1->V4"), lesioned(model, Lesion(edges=(("V1", "V4"),))):
        pass
    assert parse_edge("V2:MT") == ("V2", "MT") == parse_edge("V2->MT")
    with pytest.raises(vs.ConfigError, match="SOURCE:TARGET"):
        parse_edge("V2MT")


@pytest.mark.slow
def test_sweep_covers_every_area_and_edge_and_reports_changes():
    data = synthetic_dataset(64, 64)
    cfg = vs.make_config(task="what-where", canvas=36, epochs=1, batch_size=16, precision="fp32")
    result = vs.train("mouse", cfg, data=data, progress=False)
    dev = DeviceData.from_dataset(data, torch.device("cpu"))
    lesions = sweep(result.model)
    assert len(lesions) == 6 + 7
    # what-where: both streams are computed, so a lesion of the dorsal stream is a real change to the network
    df = lesion_effects(result.model, dev.test_x, dev.test_y, cfg.make_task(), lesions).set_index("lesion")
    assert df["change_acc"].iloc[0] == 0 and df["change_loc_err"].iloc[0] == 0
    for dorsal in ("LIP", "MT->LIP", "MT"):  # the where head moves, the what head's accuracy and loss do not
        assert df.loc[dorsal, "change_loc_err"] != 0, dorsal
        assert df.loc[dorsal, "change_acc"] == 0 and df.loc[dorsal, "test_loss"] != df.loc["intact", "test_loss"]
    ventral = df.loc["IT"]  # and the other way round
    assert ventral["change_acc"] != 0 or ventral["test_loss"] != df.loc["intact", "test_loss"]
    # the what head's own output is untouched by LIP: the loss differs only by the where term
    x, _ = cfg.make_task().make_batch(dev.test_x[:8], dev.test_y[:8], offsets=cfg.make_task().test_offsets(8))
    intact = {h: v.detach().clone() for h, v in result.model(x).items()}
    with lesioned(result.model, Lesion(areas=("LIP",))):
        out = result.model(x)
        assert torch.equal(out["what"], intact["what"]) and not torch.equal(out["where"], intact["where"])


@pytest.mark.slow
def test_lesion_cli(tmp_path):
    data = write_idx_dir(tmp_path / "data", 128, 64)
    env = {"PYTHONPATH": str(SRC)}
    base = [sys.executable, "-m", "visualstreams"]
    train = subprocess.run(base + ["train", "--species", "human", "--data", str(data), "--epochs", "1",
                                   "--batch-size", "16", "--out", str(tmp_path / "run"), "--quiet",
                                   "--task", "what-where", "--canvas", "32"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert train.returncode == 0, train.stderr
    proc = subprocess.run(base + ["lesion", str(tmp_path / "run"), "--area", "IT", "--edge", "V2:MT",
                                  "--data", str(data)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "intact" in proc.stdout and "V2->MT" in proc.stdout
    assert (tmp_path / "run" / "lesions.csv").exists() and (tmp_path / "run" / "lesions.png").exists()
    bad = subprocess.run(base + ["lesion", str(tmp_path / "run"), "--area", "PFC", "--data", str(data)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert_one_line_error(bad, "unknown area 'PFC'")
    bad = subprocess.run(base + ["lesion", str(tmp_path / "run"), "--edge", "V1-MT", "--data", str(data)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert_one_line_error(bad, "SOURCE:TARGET")
