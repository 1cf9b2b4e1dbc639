import json

import numpy as np
import pytest

import visualstreams as vs
from visualstreams.connectome import NOTEBOOK_CONNECTIVITY, find_cycle, read_csv, read_json, topological_order
from visualstreams.errors import ConnectomeError

AREAS = ["V1", "V2", "V4", "IT", "MT", "LIP"]


def notebook_matrix(species):
    """The notebook's get_connectivity_matrix, index by index."""
    c = np.zeros((6, 6))
    if species == "human":
        c[0, 1], c[1, 2], c[2, 3], c[1, 4], c[4, 5] = 0.90, 0.75, 0.80, 0.70, 0.75
    elif species == "marmoset":
        c[0, 1], c[1, 2], c[2, 3], c[1, 4], c[4, 5] = 0.85, 0.70, 0.75, 0.65, 0.70
    elif species == "mouse":
        c[0, 1], c[1, 2], c[2, 3], c[1, 4], c[4, 5] = 0.75, 0.60, 0.65, 0.55, 0.60
        c[0, 2], c[0, 4] = 0.30, 0.35
    return c


@pytest.mark.parametrize("species", ["human", "marmoset", "mouse"])
def test_presets_equal_the_notebook(species):
    conn = vs.load_connectome(species)
    assert list(conn.areas) == AREAS
    np.testing.assert_array_equal(conn.weights, notebook_matrix(species))
    assert conn.species == species and "Felleman" in conn.source


def test_mouse_has_the_shortcuts():
    mouse = vs.load_connectome("mouse")
    assert mouse.strength("V1", "V4") == 0.30
    assert mouse.strength("V1", "MT") == 0.35
    assert len(mouse.edges()) == 7
    assert mouse.sources("V4") == ["V1", "V2"]


@pytest.mark.parametrize("species", list(NOTEBOOK_CONNECTIVITY))
def test_csv_round_trip(tmp_path, species):
    conn = vs.load_connectome(species)
    vs.save_connectome(conn, tmp_path / "c.csv")
    back = vs.load_connectome(tmp_path / "c.csv")
    assert back == conn
    # The file is the labelled matrix the notebook printed: header of targets, one row per source.
    lines = [line for line in (tmp_path / "c.csv").read_text().splitlines() if not line.startswith("#")]
    assert lines[0].split(",")[1:] == AREAS
    assert lines[1].split(",")[0] == "V1"


@pytest.mark.parametrize("species", list(NOTEBOOK_CONNECTIVITY))
def test_json_round_trip(tmp_path, species):
    conn = vs.load_connectome(species)
    vs.save_connectome(conn, tmp_path / "c.json")
    data = json.loads((tmp_path / "c.json").read_text())
    assert {"source": "V1", "target": "V2", "strength": conn.strength("V1", "V2")} in data["edges"]
    assert read_json(tmp_path / "c.json") == conn


def test_csv_without_metadata_and_reordered_rows(tmp_path):
    p = tmp_path / "tree_shrew.csv"
    rows = ["V2", "V1", "V4", "IT", "MT", "LIP"]
    m = notebook_matrix("human")
    text = "," + ",".join(AREAS) + "\n"
    for r in rows:
        text += r + "," + ",".join(str(v) for v in m[AREAS.index(r)]) + "\n"
    p.write_text(text)
    conn = read_csv(p)
    assert conn.name == "tree_shrew"
    np.testing.assert_array_equal(conn.weights, m)


def _write_matrix(path, labels_rows, labels_cols, values):
    lines = ["," + ",".join(labels_cols)]
    for r, row in zip(labels_rows, values, strict=True):
        lines.append(r + "," + ",".join(str(v) for v in row))
    path.write_text("\n".join(lines) + "\n")
    return path


def _human_with(i, j, value):
    m = notebook_matrix("human").astype(object)
    m[i, j] = value
    return m


BAD_CSV = {
    "not square": (AREAS, AREAS[:5], notebook_matrix("human")[:, :5], "not square"),
    "labels differ": (AREAS, ["V1", "V2", "V4", "IT", "MT", "PFC"], notebook_matrix("human"), "labels differ"),
    "nan": (AREAS, AREAS, _human_with(0, 1, "nan"), "NaN or infinite"),
    "inf": (AREAS, AREAS, _human_with(0, 1, "inf"), "NaN or infinite"),
    "negative": (AREAS, AREAS, _human_with(0, 1, -0.2), "negative"),
    "self-loop": (AREAS, AREAS, _human_with(2, 2, 0.5), "self-loop V4->V4"),
    "text": (AREAS, AREAS, _human_with(0, 1, "strong"), "not a number"),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_bad_matrices_are_refused(tmp_path, case):
    rows, cols, values, message = BAD_CSV[case]
    path = _write_matrix(tmp_path / "bad.csv", rows, cols, values)
    with pytest.raises(ConnectomeError, match=message) as info:
        vs.load_connectome(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_empty_and_unreadable_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ConnectomeError, match="empty"):
        vs.load_connectome(tmp_path / "empty.csv")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ConnectomeError, match="unreadable"):
        vs.load_connectome(tmp_path / "binary.csv")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConnectomeError, match="not valid JSON"):
        vs.load_connectome(tmp_path / "bad.json")
    with pytest.raises(ConnectomeError, match="no such file"):
        vs.load_connectome(tmp_path / "missing.csv")
    with pytest.raises(ConnectomeError, match="unknown connectome"):
        vs.load_connectome("platypus")


def test_an_area_the_architecture_does_not_list_gets_its_levels_default_block():
    conn = vs.Connectome.from_edges([("V1", "V2", 1.0), ("V2", "V4", 1), ("V4", "IT", 1), ("V2", "MT", 1),
                                     ("MT", "LIP", 1), ("V2", "PFC", 0.5), ("PFC", "IT", 0.2)])
    model = vs.build_model(vs.compile_network(conn))
    assert model.area_shapes["PFC"] == (128, 7, 7)  # level 2 (V1 -> V2 -> PFC), like V4: 128 channels, no pool
    assert ("PFC", "IT") in model.edges


@pytest.mark.parametrize("name", ["", "V.1", " V1"])
def test_area_names_that_cannot_name_a_module_are_refused(name):
    with pytest.raises(ConnectomeError, match="empty, has a dot or surrounding spaces"):
        vs.Connectome((name, "V2"), [[0, 1], [0, 0]])


@pytest.mark.parametrize("name", ["keys", "update", "training"])
def test_area_names_the_module_dict_uses_are_refused(name):
    with pytest.raises(ConnectomeError, match=f"area name '{name}' is reserved"):
        vs.Connectome(("V1", name), [[0, 1], [0, 0]])


def test_cycle_is_refused():
    conn = vs.load_connectome("human").with_strength("IT", "V4", 0.2)
    assert find_cycle(conn) == ["V4", "IT", "V4"]
    with pytest.raises(ConnectomeError, match="cycle V4 -> IT -> V4"):
        vs.compile_network(conn)


def test_unreachable_area_is_refused():
    conn = vs.load_connectome("human").with_strength("V2", "MT", 0.0)
    with pytest.raises(ConnectomeError, match="'MT' cannot be reached"):
        vs.compile_network(conn)


def test_missing_head_area_is_refused():
    conn = vs.Connectome.from_edges([("V1", "V2", 1.0), ("V2", "V4", 1), ("V4", "IT", 1), ("V2", "MT", 1)])
    with pytest.raises(ConnectomeError, match="'LIP' for the 'where' head is missing"):
        vs.compile_network(conn)


def test_topological_order_puts_sources_first():
    order = topological_order(vs.load_connectome("mouse"))
    for s, t, _ in vs.load_connectome("mouse").edges():
        assert order.index(s) < order.index(t)


def test_with_strength_returns_a_copy():
    human = vs.load_connectome("human")
    lesioned = human.with_strength("V2", "V4", 0.0)
    assert human.strength("V2", "V4") == 0.75 and lesioned.strength("V2", "V4") == 0.0
    with pytest.raises(ValueError):
        human.weights[0, 1] = 0.1  # presets are read-only


def test_list_connectomes_names_sources():
    table = vs.list_connectomes()
    assert set(table["name"]) >= {"human", "marmoset", "mouse"}
    assert table.set_index("name").loc["mouse", "edges"] == 7


def test_diff_lists_projections_side_by_side():
    from visualstreams.connectome import diff_connectomes

    table = diff_connectomes(vs.load_connectome("human"), vs.load_connectome("mouse")).set_index(["source", "target"])
    assert table.loc[("V1", "V4"), "human"] == 0 and table.loc[("V1", "V4"), "mouse"] == 0.30
    assert table.loc[("V1", "V4"), "only_in"] == "mouse"
    assert table.loc[("V1", "V2"), "difference"] == pytest.approx(0.75 - 0.90)
    assert len(table) == 7
