"""Intrinsic recurrence (``--intrinsic``): every area's 3x3 convolution of its own rectified map of the step before,
added before its ReLU, as BLT networks' lateral connections; checked against an unroll written by hand."""

import json

import pytest
import torch
import torch.nn.functional as F
from synthetic import synthetic_dataset

import visualstreams as vs
from visualstreams.cli import main
from visualstreams.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")


def two_areas() -> vs.CompiledNetwork:
    """V1 -> IT with the feedback IT -> V1, small blocks, 12 px, three steps, intrinsic recurrence in both."""
    conn = vs.Connectome.from_edges([("V1", "IT", 0.8), ("IT", "V1", 0.5)], name="two",
                                    directions={("IT", "V1"): "feedback"})
    arch = vs.Architecture({"V1": vs.AreaSpec(4, pool=True), "IT": vs.AreaSpec(6, pool=True)},
                           {"what": vs.HeadSpec("IT", 10)}, "V1", image_size=12)
    return vs.compile_network(conn, arch, steps=3, intrinsic=True)


@pytest.mark.parametrize("step_norm", [False, True])
def test_every_step_equals_an_unroll_written_by_hand(step_norm):
    """Feedforward from the same step, feedback from the one before (IT's output, brought to V1's size, through the
    1x1 weights times 0.5), each area's own rectified map of the step before through its 3x3 intrinsic weights, all
    summed before the ReLU; with ``step_norm`` that sum normalised by a GroupNorm of its own step first (CORnet-S
    normalises each step)."""
    base = two_areas()
    spec = vs.compile_network(base.connectome, base.architecture, steps=3, intrinsic=True, step_norm=step_norm)
    torch.manual_seed(3)
    model = vs.build_model(spec).eval()
    with torch.no_grad():
        for param in model.parameters():  # fixed weights, large enough that the recurrences move every later step
            shift = 1.0 if step_norm and param.dim() == 1 else 0.0  # biases, and the norms' scales near 1
            param.copy_(torch.randn_like(param) * 0.3 + shift)
    x = torch.rand(2, 1, 12, 12)
    with torch.no_grad():
        _, acts = model(x, return_areas=True)

    def conv(area, inp):
        c = model.areas[area].conv
        return F.conv2d(inp, c.weight, c.bias, padding=1)

    def within(area, rectified):  # the area's own map of the step before, before its pooling, 3x3, no bias
        return F.conv2d(rectified, model.intrinsic[area].weight, padding=1)

    def norm(area, t, z):
        if not step_norm:
            return z
        g = model.norms[area][t]
        return F.group_norm(z, g.num_groups, g.weight, g.bias, g.eps)

    w_fb = model.recurrent["IT_to_V1"].proj.weight
    prev = None
    with torch.no_grad():
        for t in range(3):
            z1 = conv("V1", x)
            if prev is not None:
                fb = F.interpolate(prev["IT"], size=z1.shape[-2:], mode="nearest")  # IT's output, 3 px -> 12 px
                z1 = z1 + F.conv2d(fb, w_fb * 0.5) + within("V1", prev["r1"])
            r1 = torch.relu(norm("V1", t, z1))
            v1 = F.max_pool2d(r1, 2)
            z2 = conv("IT", 0.8 * v1)
            if prev is not None:
                z2 = z2 + within("IT", prev["r2"])
            r2 = torch.relu(norm("IT", t, z2))
            it = F.max_pool2d(r2, 2)
            for area, expected in (("V1", v1), ("IT", it)):
                scale = float(expected.abs().max())
                torch.testing.assert_close(acts[f"{area}@t{t}"], expected, rtol=0, atol=1e-5 * scale)
            prev = {"IT": it, "r1": r1, "r2": r2}
    assert torch.equal(acts["IT"], acts["IT@t2"])
    if step_norm:
        assert spec.n_parameters - base.n_parameters == 3 * 2 * (4 + 6)  # a scale and a shift per channel and step
        assert model.norms["V1"][0].num_groups == 2 and model.norms["IT"][0].num_groups == 3  # 2 channels a group
    # the test can fail: without the intrinsic term the later steps differ far beyond the tolerance
    with torch.no_grad():
        for conv_ in model.intrinsic.values():
            conv_.weight.zero_()
        _, without = model(x, return_areas=True)
    assert (without["IT@t2"] - acts["IT@t2"]).abs().max() > 1e-2


def test_intrinsic_weights_come_after_everything_else_so_the_rest_starts_alike():
    base, spec = vs.compile_network("macaque-markov2014", steps=4), vs.compile_network("macaque-markov2014", steps=4,
                                                                                       intrinsic=True)
    torch.manual_seed(0)
    a = vs.build_model(base).state_dict()
    torch.manual_seed(0)
    b = vs.build_model(spec).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert sorted(set(b) - set(a)) == sorted(f"intrinsic.{area}.weight" for area in spec.order)
    assert spec.n_parameters - base.n_parameters == sum(9 * area.channels ** 2 for area in spec.areas)


def test_a_network_without_feedback_trains_with_intrinsic_recurrence_and_says_so(tmp_path):
    cfg = vs.make_config(epochs=1, batch_size=16, precision="fp32", steps=2, intrinsic=True)
    assert cfg.network.label == "gain-T2i"
    result = vs.train("human", cfg, data=synthetic_dataset(32, 16), out=tmp_path, progress=False)
    assert result.model.spec.intrinsic and "test_acc@t1" in result.final
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["network"]["intrinsic"] is True
    assert vs.load_run(tmp_path).model.spec == result.model.spec  # rebuilt from config.json with it


def test_intrinsic_recurrence_of_one_step_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    with pytest.raises(ConfigError, match="needs --steps 2 or more"):
        vs.compile_network("macaque-markov2014", intrinsic=True)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--species", "macaque-markov2014", "--intrinsic"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "intrinsic recurrence acts from one step to the next" in err
    assert not list(tmp_path.iterdir())


def test_cutting_intrinsic_and_every_projection_of_recurrence_repeats_the_feedforward_sweep():
    from visualstreams.analysis.lesions import Lesion, lesioned

    torch.manual_seed(1)
    model = vs.build_model(vs.compile_network("macaque-markov2014", steps=3, intrinsic=True)).eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        _, intact = model(x, return_areas=True)
        with lesioned(model, Lesion(cut=("feedback", "intrinsic"))):
            _, cut = model(x, return_areas=True)
        with lesioned(model, Lesion(cut=("feedback",))):
            _, feedback_only = model(x, return_areas=True)
        _, again = model(x, return_areas=True)
    assert torch.equal(cut["IT@t2"], cut["IT@t0"]) and torch.equal(cut["IT@t0"], intact["IT@t0"])
    assert not torch.equal(feedback_only["IT@t2"], feedback_only["IT@t0"])  # the intrinsic recurrence still acts
    assert torch.equal(again["IT@t2"], intact["IT@t2"])  # restored exactly
    plain = vs.build_model(vs.compile_network("macaque-markov2014", steps=3))
    with pytest.raises(ConfigError, match="no intrinsic recurrence in this model"), lesioned(
            plain, Lesion(cut=("intrinsic",))):
        pass


def test_step_norm_runs_are_labelled_rebuilt_and_counted(tmp_path):
    from visualstreams.network import NetworkConfig, parse_condition
    from visualstreams.network.twins import matched_twin

    cfg = vs.make_config(epochs=1, batch_size=16, precision="fp32", steps=2, step_norm=True)
    assert cfg.network.label == "gain-T2n" and parse_condition("gain-T2n") == NetworkConfig("gain", 2, step_norm=True)
    assert parse_condition("gain-BF4in") == NetworkConfig("gain", 1, 4, "parameters", True, True)
    assert vs.make_config(step_norm=True).network.label == "gain-T1n"
    result = vs.train("macaque-markov2014", cfg, data=synthetic_dataset(32, 16), out=tmp_path, progress=False)
    assert result.model.spec.step_norm and vs.load_run(tmp_path).model.spec == result.model.spec
    twin = matched_twin(vs.compile_network("macaque-markov2014", steps=4, step_norm=True))
    assert twin.step_norm and twin.steps == 1  # the control is normalised too
    plain = vs.build_model(vs.compile_network("macaque-markov2014"))
    assert not plain.norms  # without the option the network is the notebook's, as before


def test_stacked_training_with_intrinsic_recurrence_and_step_norms_equals_alone():
    from stacking import alone_and_stacked, weight_diffs

    from visualstreams.data import DeviceData
    from visualstreams.runs import compile_for

    dev = DeviceData.from_dataset(synthetic_dataset(32, 32), torch.device("cpu"))
    cfgs = [vs.make_config(batch_size=16, precision="fp32", seed=s, epochs=1, steps=2, intrinsic=True,
                           step_norm=True) for s in (0, 1)]
    spec = compile_for("macaque-markov2014", cfgs[0])
    alone, stacked, hist_alone, hist_stacked = alone_and_stacked(spec, dev, cfgs)
    for a, b, ha, hb in zip(alone, stacked, hist_alone, hist_stacked, strict=True):
        diffs = weight_diffs(a, b)
        # The batched kernels round otherwise, and Adam's first step moves every weight by lr x sign(gradient): where
        # a gradient is within rounding of 0 (many, under FLN gains of 1e-3) the two runs can step apart, at each of
        # the 2 steps by at most about 2 lr (1.0014 lr a step at step 2): 4e-3. How many weights that touches depends
        # on the CPU's kernels (0.3% on one machine, 20% on an AMD EPYC with AVX2 only), so the bound, and the loss
        # below, are what is asserted.
        assert diffs.max() <= 4e-3 + 1e-5
        assert ha[0]["train_loss"] == pytest.approx(hb[0]["train_loss"], rel=1e-4)
