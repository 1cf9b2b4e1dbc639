import pytest
import torch
from synthetic import synthetic_dataset

import visualstreams as vs
from visualstreams.data import canvas_offsets, item_centres, place_on_canvas
from visualstreams.tasks import Task, get_task


def test_items_land_where_the_targets_say():
    g = torch.Generator().manual_seed(0)
    items = torch.randint(1, 256, (6, 1, 28, 28), dtype=torch.uint8)
    offsets = canvas_offsets(6, 56, g)
    canvas = place_on_canvas(items, offsets, 56)
    assert canvas.shape == (6, 1, 56, 56)
    for i, (x, y) in enumerate(offsets.tolist()):
        assert torch.equal(canvas[i, 0, y:y + 28, x:x + 28], items[i, 0])
        assert canvas[i].sum() == items[i].sum()  # nothing else drawn
        # The target centre is the centre of the pasted box.
        ys, xs = torch.nonzero(canvas[i, 0] > 0, as_tuple=True)
        cx, cy = item_centres(offsets[i:i + 1])[0].tolist()
        assert (xs.min() + xs.max()) / 2 == pytest.approx(cx) and (ys.min() + ys.max()) / 2 == pytest.approx(cy)


def test_make_batch_targets_are_scaled_centres():
    task = Task("what-where", canvas=56)
    items = torch.full((2, 1, 28, 28), 255, dtype=torch.uint8)
    offsets = torch.tensor([[0, 0], [28, 28]])
    x, targets = task.make_batch(items, torch.tensor([3, 7]), offsets=offsets)
    assert x.shape == (2, 1, 56, 56) and x.max() == 1.0
    torch.testing.assert_close(targets["xy"], torch.tensor([[-0.5, -0.5], [0.5, 0.5]]), atol=0.02, rtol=0)
    assert targets["label"].tolist() == [3, 7]


def test_positions_come_from_the_seed_and_the_test_set_is_fixed():
    a = canvas_offsets(100, 56, torch.Generator().manual_seed(1))
    b = canvas_offsets(100, 56, torch.Generator().manual_seed(1))
    c = canvas_offsets(100, 56, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 28
    t1, t2 = Task("where").test_offsets(50), Task("where", canvas=56).test_offsets(50)
    assert torch.equal(t1, t2)


def test_task_heads_and_defaults():
    assert get_task("what").heads == ("what",) and get_task("what").canvas is None
    assert get_task("where").heads == ("where",) and get_task("where").canvas == 56
    assert get_task("what-where").metric_names == ("loss", "acc", "loc_err", "r2")
    with pytest.raises(vs.ConfigError, match="unknown task"):
        get_task("when")
    with pytest.raises(vs.ConfigError, match="canvas"):
        get_task("where", canvas=20)


def test_metrics_on_known_outputs():
    task = Task("what-where", canvas=57)  # half-width 28 px
    targets = {"label": torch.tensor([0, 1]), "xy": torch.tensor([[0.0, 0.0], [0.5, -0.5]])}
    outputs = {"what": torch.tensor([[5.0, 0.0], [5.0, 0.0]]), "where": torch.tensor([[0.0, 0.0], [0.5, -0.5]])}
    perfect = task.finalize(task.batch_sums(outputs, targets), 2)
    assert perfect["acc"] == 50.0 and perfect["loc_err"] == 0.0 and perfect["r2"] == 1.0
    outputs["where"] = torch.tensor([[0.0, 0.0], [0.0, 0.0]])  # second item off by (14, 14) px
    off = task.finalize(task.batch_sums(outputs, targets), 2)
    assert off["loc_err"] == pytest.approx((14 * 2 ** 0.5) / 2)
    assert off["r2"] == pytest.approx(1 - 0.5 / 0.25)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["where", "what-where"])
def test_where_tasks_train_on_a_tiny_model(task):
    cfg = vs.make_config(task=task, canvas=36, epochs=2, batch_size=16, precision="fp32", lr=2e-3)
    result = vs.train("human", cfg, data=synthetic_dataset(192, 64), progress=False)
    h = result.history
    assert {"test_loc_err", "test_r2", "train_loc_err"} <= set(h.columns)
    assert ("test_acc" in h) == (task == "what-where")
    assert h["test_loc_err"].iloc[-1] < h["test_loc_err"].iloc[0] or h["test_loc_err"].iloc[-1] < 8
    assert result.model.architecture.image_size == 36


# -- test noise: each item its own, keyed by the run's seed and the item's index -----------------------------------
def test_each_test_item_gets_its_own_noise_whatever_the_batch():
    task = Task("what", noise=0.5, seed=3)
    items = torch.full((20, 1, 28, 28), 128, dtype=torch.uint8)  # identical images: any difference is the noise
    labels = torch.zeros(20, dtype=torch.long)
    whole, _ = task.make_batch(items, labels, index=torch.arange(20))
    # Cut into other batches (as another --eval-batch-size would), item i gets the same noise.
    parts = [task.make_batch(items[i:i + 7], labels[i:i + 7], index=torch.arange(i, min(i + 7, 20)))[0]
             for i in range(0, 20, 7)]
    assert torch.equal(torch.cat(parts), whole)
    # Two items, two draws: no batch repeats another batch's field (the frozen noise drew the same one each time).
    flat = whole.flatten(1)
    assert not torch.equal(flat[0], flat[1]) and not torch.equal(flat[:10], flat[10:])
    assert torch.corrcoef(flat[:2])[0, 1].abs() < 0.15  # independent draws, not one field shifted
    assert flat.sub(128 / 255).std().item() == pytest.approx(0.5, rel=0.05)


def test_test_noise_is_the_same_in_every_condition_of_a_seed_and_differs_between_seeds():
    items = torch.full((4, 1, 28, 28), 30, dtype=torch.uint8)
    labels, index = torch.zeros(4, dtype=torch.long), torch.tensor([5, 9, 2, 700])

    def batch(**kw):
        return vs.make_config(noise=0.5, **kw).make_task().make_batch(items, labels, index=index)[0]

    a = batch(seed=1, mode="gain")
    assert torch.equal(a, batch(seed=1, mode="none")) and torch.equal(a, batch(seed=1, mode="gain", steps=4))
    assert not torch.equal(a, batch(seed=2, mode="gain"))


def test_noisy_batch_without_generator_or_indices_is_refused():
    with pytest.raises(vs.ConfigError, match="test indices"):
        Task("what", noise=0.3).make_batch(torch.zeros((2, 1, 28, 28), dtype=torch.uint8), torch.zeros(2).long())


def test_noisy_evaluation_does_not_depend_on_the_batch_size():
    cfg = vs.make_config(noise=0.5, epochs=1, batch_size=32, precision="fp32", seed=4)
    result = vs.train("human", cfg, data=synthetic_dataset(64, 60), progress=False)
    data = synthetic_dataset(64, 60)
    x, y = data.test_images.unsqueeze(1), data.test_labels
    task = cfg.make_task()
    by_7 = vs.evaluate(result.model, x, y, task, batch_size=7)
    by_60 = vs.evaluate(result.model, x, y, task, batch_size=60)
    assert by_7["acc"] == by_60["acc"] and by_7["loss"] == pytest.approx(by_60["loss"], rel=1e-5)
    assert by_7 == pytest.approx(vs.evaluate(result.model, x, y, task, batch_size=7))  # and no state in between


def test_each_model_of_a_stack_is_evaluated_with_its_own_seeds_noise():
    from visualstreams.data import DeviceData
    from visualstreams.engine import fit_stacked
    from visualstreams.runs import build_seeded, compile_for

    data = synthetic_dataset(32, 40)
    dev = DeviceData.from_dataset(data, torch.device("cpu"))
    cfgs = [vs.make_config(noise=0.5, batch_size=16, precision="fp32", seed=s, epochs=1) for s in (0, 1)]
    models = [build_seeded(compile_for("human", c), c.seed, torch.device("cpu")) for c in cfgs]
    histories = fit_stacked(models, [dev] * 2, cfgs, "fp32", progress=False)
    for model, cfg, other, history in zip(models, cfgs, cfgs[::-1], histories, strict=True):
        own = vs.evaluate(model, dev.test_x, dev.test_y, cfg.make_task())
        assert history[-1]["test_loss"] == pytest.approx(own["loss"], rel=1e-6)
        assert own["loss"] != vs.evaluate(model, dev.test_x, dev.test_y, other.make_task())["loss"]
