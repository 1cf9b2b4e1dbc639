"""compare in three stages (#32 item 5): a sweep's grid (Sweep) and how it trains (Execution) checked when made,
plan_sweep compiling every network once and writing nothing, execute and analyse_sweep giving what compare gives."""

import pytest
from synthetic import synthetic_dataset

import visualstreams as vs
from visualstreams.errors import ConfigError
from visualstreams.experiment.comparison import analyse_sweep, execute
from visualstreams.experiment.sweep import Execution, Sweep, plan_sweep
from visualstreams.network import NetworkConfig
from visualstreams.network.twins import TWIN_TOLERANCE
from visualstreams.runs import CompareDir

pytestmark = pytest.mark.usefixtures("one_thread")
MACAQUE = "macaque-markov2014"


def test_a_sweep_lists_its_networks_in_the_tables_order_and_refuses_an_empty_or_repeated_grid():
    sweep = Sweep((MACAQUE,), modes=("gain", "none"), steps=(1, 4), intrinsic=(False, True), twins=("compute",))
    assert [n.label for n in sweep.networks()] == [
        "gain", "none", "gain-T4", "none-T4", "gain-T4i", "none-T4i", "gain-BC4", "none-BC4", "gain-BC4i",
        "none-BC4i"]
    assert Sweep((MACAQUE,)).networks() == [NetworkConfig()]  # the config's own network by default
    for bad, message in [({"seeds": (0, 0)}, "must not repeat"), ({"modes": ()}, "at least one"),
                         ({"intrinsic": (True,)}, "--steps 2 or more"), ({"twins": ("parameters",)}, "several steps"),
                         ({"steps": (1, 2), "twins": ("flops",)}, "unknown twin match 'flops'"),
                         ({"modes": ("strong",)}, "unknown connection mode")]:
        with pytest.raises(ConfigError, match=message):
            Sweep((MACAQUE,), **bad).networks()
    for bad, message in [({"max_stack": 0}, "max_stack"), ({"executor": "cluster"}, "unknown executor")]:
        with pytest.raises(ConfigError, match=message):
            Execution(**bad)


def test_a_plan_compiles_every_network_once_at_the_datas_input_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sweep = Sweep((MACAQUE, "mouse", MACAQUE), vs.make_config(train_subset=16), steps=(1, 2), twins=("parameters",))
    with pytest.warns(UserWarning, match="mouse has no feedback or lateral projection"):  # train's rule too
        plan = plan_sweep(sweep, data=synthetic_dataset(32, 16))
    assert plan.names == [MACAQUE, "mouse", f"{MACAQUE}-2"]
    assert [n.label for n in plan.networks] == ["gain", "gain-T2", "gain-BF2"]
    assert all((n.image_size, n.in_channels, n.classes) == (28, 1, 10) for n in plan.networks)
    assert len(plan.specs) == 3 * 3
    recurrent, twin = (plan.specs[(MACAQUE, n)] for n in plan.networks[1:])
    assert twin.steps == 1 and twin.parameters_used(("what",)) == pytest.approx(
        recurrent.parameters_used(("what",)), rel=TWIN_TOLERANCE)
    record = plan.experiment({"dataset": "x"})
    assert (record["steps"], record["twins"], record["twin_matches"]) == ([1, 2], [2], ["parameters"])
    assert "steps" not in record["train"] and record["data"] == {"dataset": "x"}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore:mouse has no feedback")
def test_plan_execute_and_analyse_give_what_compare_gives(tmp_path):
    data = synthetic_dataset(32, 16)
    cfg = vs.make_config(epochs=1, batch_size=16, precision="fp32")
    whole = vs.compare([MACAQUE, "mouse"], cfg, tmp_path / "whole", seeds=[0, 1], steps=[1, 2], data=data,
                       progress=False, similarity=False, report=False)
    plan = plan_sweep(Sweep((MACAQUE, "mouse"), cfg, seeds=(0, 1), steps=(1, 2)), Execution(progress=False),
                      data=data)
    cdir = CompareDir(tmp_path / "staged")
    with cdir.lock():
        staged = execute(plan, cdir)
        analyse_sweep(cdir, staged, plan.data, similarity=False, report=False, progress=False)
    columns = ["species", "condition", "seed", "status", "steps", "parameters", "parameters_used", "flops",
               "train_loss", "test_acc", "test_loss"]
    assert staged[columns].equals(whole[columns])
    assert (cdir.path / CompareDir.STATS).read_text() == (tmp_path / "whole" / CompareDir.STATS).read_text()
    assert (cdir.path / CompareDir.TESTS).read_text() == (tmp_path / "whole" / CompareDir.TESTS).read_text()
