"""Many models at once: a stack trains each model as if alone (within rounding), on any device."""

import pytest
import torch
from synthetic import synthetic_dataset

import visualstreams as vs
from visualstreams.data import DeviceData
from visualstreams.engine import choose_strategy, fit, fit_stacked, read_checkpoint, resolve_runtime
from visualstreams.errors import ConfigError, DivergenceError
from visualstreams.experiment import compare
from visualstreams.runs import build_seeded, compile_for

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset(96, 32)


def build(species, cfg):
    return build_seeded(compile_for(species, cfg), cfg.seed, CPU)


def configs(recipe="notebook", seeds=(0, 1, 2), **kw):
    return [vs.make_config(recipe, batch_size=16, precision="fp32", seed=s, **kw) for s in seeds]


def flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def relative_gap(a, b, init):
    """How far apart two trained models are, as a fraction of how far training moved them."""
    return ((flat(a) - flat(b)).norm() / (flat(a) - flat(init)).norm()).item()


def max_weight_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a.state_dict().values(), b.state_dict().values(),
                                                          strict=True))


@pytest.mark.parametrize("recipe, kw", [("notebook", {}), ("fast", {}),
                                        ("fast", {"task": "what-where", "canvas": 36})])
def test_one_stacked_step_is_each_models_own_step(data, recipe, kw):
    """Own seed, own shuffling and augmentation: after a step, every model equals itself trained alone."""
    one_batch = synthetic_dataset(16, 32)
    dev = DeviceData.from_dataset(one_batch, CPU)
    cfgs = configs(recipe, epochs=1, **kw)
    species = ["human", "marmoset", "human"]  # same structure, different strengths
    alone = [build(s, c) for s, c in zip(species, cfgs, strict=True)]
    hist_alone = [fit(m, dev, c, "fp32", progress=False) for m, c in zip(alone, cfgs, strict=True)]
    stacked = [build(s, c) for s, c in zip(species, cfgs, strict=True)]
    hist_stacked = fit_stacked(stacked, [dev] * 3, cfgs, "fp32", progress=False)
    for a, b, ha, hb in zip(alone, stacked, hist_alone, hist_stacked, strict=True):
        # Adam's first step is about lr x sign(gradient) (lr 1e-3 here); where a gradient is ~0 its sign rests on
        # rounding, which the batched kernels do in another order: a few 1e-6 is that, not a different step.
        assert max_weight_diff(a, b) < 1e-5
        assert ha[0]["train_loss"] == pytest.approx(hb[0]["train_loss"], rel=1e-6)
    assert max_weight_diff(stacked[0], stacked[2]) > 1e-3  # different seeds really are different models


@pytest.mark.slow
def test_whole_runs_match_training_alone(data):
    dev = DeviceData.from_dataset(data, CPU)
    cfgs = configs(epochs=2)
    alone = [build("mouse", c) for c in cfgs]
    hist_alone = [fit(m, dev, c, "fp32", progress=False) for m, c in zip(alone, cfgs, strict=True)]
    stacked = [build("mouse", c) for c in cfgs]  # the mouse's shortcut projections are stacked too
    hist_stacked = fit_stacked(stacked, [dev] * 3, cfgs, "fp32", progress=False)
    for a, b, ha, hb, c in zip(alone, stacked, hist_alone, hist_stacked, cfgs, strict=True):
        # Training amplifies rounding, and chaotically: the same run started from weights nudged by 1e-7, 1e-6 or
        # 1e-5 (relative) ends 0.0004 to 0.2 of the distance trained away, not in the order of the nudges, and the
        # batched kernels' rounding differs by CPU. Stacking changes only the rounding (one step agrees to 1e-5,
        # above), so it may not move a model further than such nudges do.
        init = build("mouse", c)
        spread = []
        for eps in (1e-7, 1e-6, 1e-5):
            nudged = build("mouse", c)
            with torch.no_grad():
                for p in nudged.parameters():
                    p.mul_(1 + eps)
            fit(nudged, dev, c, "fp32", progress=False)
            spread.append(relative_gap(a, nudged, init))
        assert relative_gap(a, b, init) <= 2 * max(spread) + 1e-4
        for ea, eb in zip(ha, hb, strict=True):
            assert ea["test_loss"] == pytest.approx(eb["test_loss"], abs=1e-3)
            assert abs(ea["test_acc"] - eb["test_acc"]) <= 100 / 32  # at most one test item


def test_epoch_end_checkpoints_resume_each_run_alone(tmp_path, data):
    dev = DeviceData.from_dataset(data, CPU)
    cfgs = configs(epochs=2, seeds=(0, 1))

    def stop(history):
        if len(history) == 2:
            raise KeyboardInterrupt  # killed during epoch 2's bookkeeping: every epoch-1 checkpoint exists

    paths = [tmp_path / "a.pt", tmp_path / "b.pt"]
    with pytest.raises(KeyboardInterrupt):
        fit_stacked([build("human", c) for c in cfgs], [dev] * 2, cfgs, "fp32", progress=False,
                    on_epoch=[stop, None], checkpoints=paths)
    state = read_checkpoint(paths[1])
    assert (state["epoch"], len(state["history"])) == (1, 1)
    resumed = build("human", cfgs[1])
    resumed.load_state_dict(state["model"])
    hist = fit(resumed, dev, cfgs[1], "fp32", progress=False, state=state)
    alone = build("human", cfgs[1])
    hist_alone = fit(alone, dev, cfgs[1], "fp32", progress=False)
    assert relative_gap(resumed, alone, build("human", cfgs[1])) < 0.1  # rounding, amplified (see above)
    assert hist[-1]["test_loss"] == pytest.approx(hist_alone[-1]["test_loss"], abs=1e-3)


def test_a_diverging_model_fails_alone(data):
    dev = DeviceData.from_dataset(data, CPU)
    cfgs = configs(epochs=1, seeds=(0, 1))
    models = [build("human", c) for c in cfgs]
    with torch.no_grad():
        models[0].areas["V1"].conv.weight.fill_(float("nan"))
    out = fit_stacked(models, [dev] * 2, cfgs, "fp32", progress=False)
    assert isinstance(out[0], DivergenceError) and "seed 0" in str(out[0])
    assert isinstance(out[1], list) and out[1][0]["train_loss"] < 3


def test_stacks_are_refused_when_they_cannot_be_one(data):
    dev = DeviceData.from_dataset(data, CPU)
    with pytest.raises(ConfigError, match="same structure"):
        fit_stacked([build("human", configs()[0]), build("mouse", configs()[0])], [dev] * 2, configs()[:2], "fp32")
    mixed = [vs.make_config("notebook", seed=0), vs.make_config("notebook", seed=1, lr=0.01)]
    with pytest.raises(ConfigError, match="every training option but the seed"):
        fit_stacked([build("human", c) for c in mixed], [dev] * 2, mixed, "fp32")
    cpu_rt = resolve_runtime("cpu")
    cuda_rt = type(cpu_rt)(torch.device("cuda"), "bf16")
    assert choose_strategy("auto", cpu_rt) == "sequential" and choose_strategy("auto", cuda_rt) == "stacked"
    with pytest.raises(ConfigError, match="unknown strategy"):
        choose_strategy("parallel", cpu_rt)


@pytest.mark.slow
def test_compare_stacked_equals_compare_sequential(tmp_path, data):
    cfg = vs.make_config("notebook", epochs=2, batch_size=16, precision="fp32")
    kw = dict(seeds=[0, 1], data=data, report=False, progress=False)
    seq = compare(["human", "mouse"], cfg, tmp_path / "seq", strategy="sequential", **kw)
    stk = compare(["human", "mouse"], cfg, tmp_path / "stk", strategy="stacked", max_stack=2, **kw)
    assert list(stk["status"]) == ["ok"] * 4
    for col in ("test_loss", "train_loss"):
        assert stk[col].to_numpy() == pytest.approx(seq[col].to_numpy(), abs=1e-3)
    run = tmp_path / "stk" / "mouse" / "seed1"
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "confusion.json", "history.json", "model.pt"]
    assert vs.load_run(run).config["resolved"]["stacked_with"] == 2
