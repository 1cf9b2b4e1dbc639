"""The optional siibra loader, on a fixture shaped like siibra's return value (no network needed)."""

import sys
import types

import numpy as np
import pandas as pd
import pytest

import visualstreams as vs
from visualstreams.cli import main
from visualstreams.connectome.presets.atlas import JULICH_AREAS, connectome_from_streamlines, fetch_siibra_connectome
from visualstreams.errors import ConnectomeError


class Region:
    """Stands in for siibra's Region: the matrix's index and columns are such objects, named like these."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"<Region {self.name}>"


NAMES = ["Area hOc1 (V1, 17, CalcS)", "Area hOc2 (V2, 18)", "Area hOc4v (LingG)", "Area hOc4d (Cuneus)",
         "Area hOc5 (LOC)", "Area FG2 (FusG)", "Area FG4 (FusG)", "Area hIP1 (IPS)", "Area hIP3 (IPS)",
         "Area hOc4lp (LOC)", "Area 3b (PostCG)"]
REGIONS = [Region(f"{n} {side}") for side in ("left", "right") for n in NAMES]


def fixture_matrix() -> pd.DataFrame:
    """Symmetric counts: feedforward neighbours strong, a few long-range tracts, everything else 0."""
    idx = {r.name: i for i, r in enumerate(REGIONS)}
    m = np.zeros((len(REGIONS), len(REGIONS)))

    def tract(a, b, n, side="left"):
        i, j = idx[f"{a} {side}"], idx[f"{b} {side}"]
        m[i, j] = m[j, i] = n

    for side in ("left", "right"):
        tract(NAMES[0], NAMES[1], 9000, side)  # V1-V2
        tract(NAMES[1], NAMES[2], 2000, side)  # V2-V4 (ventral part)
        tract(NAMES[1], NAMES[3], 1000, side)  # V2-V4 (dorsal part)
        tract(NAMES[2], NAMES[5], 800, side)   # V4-IT
        tract(NAMES[1], NAMES[4], 500, side)   # V2-MT
        tract(NAMES[4], NAMES[7], 90, side)    # MT-LIP
        tract(NAMES[4], NAMES[2], 300, side)   # MT-V4: same level, not used
        tract(NAMES[9], NAMES[0], 700, side)   # hOc4lp is in no area: ignored
    m[idx[f"{NAMES[0]} left"], idx[f"{NAMES[1]} right"]] = 5000  # across hemispheres: ignored
    return pd.DataFrame(m, index=REGIONS, columns=REGIONS)


def test_streamline_counts_become_a_six_area_connectome():
    conn = vs.compile_network(connectome_from_streamlines(fixture_matrix())).connectome
    assert conn.areas == ("V1", "V2", "V4", "IT", "MT", "LIP") and conn.species == "human"
    raw = conn.extra["raw_values"]
    assert raw["V1->V2"] == 18000 and raw["V2->V4"] == 6000 and raw["MT->LIP"] == 180
    assert conn.strength("V1", "V2") == 1.0
    assert conn.strength("V2", "V4") == pytest.approx(np.log10(6001) / np.log10(18001))
    assert conn.strength("MT", "LIP") == pytest.approx(np.log10(181) / np.log10(18001))
    assert conn.strength("V4", "MT") == 0 and conn.strength("MT", "V4") == 0  # same level
    assert conn.strength("V1", "V4") == 0  # no tract
    assert conn.extra["region_pairs"]["V2->V4"] == 4  # hOc2 x (hOc4v, hOc4d), per hemisphere
    assert "UNDIRECTED" in conn.notes and "n_max = 18000 (V1-V2)" in conn.measure
    vs.build_model(conn)


def test_missing_regions_and_bad_matrices_are_refused():
    m = fixture_matrix()
    keep = [r for r in m.index if "hOc5" not in r.name]
    with pytest.raises(ConnectomeError, match=r"no region of the matrix matches MT \(hOc5\)"):
        connectome_from_streamlines(m.loc[keep, keep])
    with pytest.raises(ConnectomeError, match="square"):
        connectome_from_streamlines(m.iloc[:3, :4])


def test_areas_need_a_level_to_orient_their_tracts():
    with pytest.raises(ConnectomeError, match="area 'PFC' has no level"):
        connectome_from_streamlines(fixture_matrix(), {**JULICH_AREAS, "PFC": ("Fp1",)})


def fake_siibra(monkeypatch, features=None, error=None):
    module = types.ModuleType("siibra")

    def get(parc, kind):
        assert kind == "StreamlineCounts"
        if error is not None:
            raise error
        return features

    module.parcellations = types.SimpleNamespace(get=lambda name: f"parcellation {name}")
    module.features = types.SimpleNamespace(get=get)
    monkeypatch.setitem(sys.modules, "siibra", module)


class Element:
    def __init__(self, subject, data):
        self.subject, self._data = subject, data

    @property
    def data(self):
        return self._data


class Compound(list):
    def __init__(self, cohort, elements):
        super().__init__(elements)
        self.cohort = cohort


def test_fetch_through_a_fake_siibra_and_write_the_file(monkeypatch, tmp_path, capsys):
    fake_siibra(monkeypatch, [Compound("1000BRAINS", []), Compound("HCP", [Element("000", fixture_matrix())])])
    conn = fetch_siibra_connectome()
    assert conn.strength("V1", "V2") == 1.0 and "cohort HCP 000" in conn.notes
    assert main(["connectome", "siibra", "--out", str(tmp_path / "h.csv")]) == 0
    again = vs.load_connectome(tmp_path / "h.csv")
    assert again.strength("MT", "LIP") == pytest.approx(conn.strength("MT", "LIP"))
    doubled = Element("001", fixture_matrix() * 3)
    fake_siibra(monkeypatch, [Compound("HCP", [Element("000", fixture_matrix()), doubled])])
    mean = fetch_siibra_connectome(average=True)
    assert mean.extra["raw_values"]["V1->V2"] == 2 * 18000 and "mean of 2 matrices" in mean.notes
    assert fetch_siibra_connectome(subject="001").extra["raw_values"]["V1->V2"] == 3 * 18000
    assert main(["connectome", "siibra", "--cohort", "UKBB", "--out", str(tmp_path / "u.csv")]) == 2
    assert "no streamline counts for cohort 'UKBB' (found: HCP)" in capsys.readouterr().err


def test_without_network_or_siibra_one_line(monkeypatch, tmp_path, capsys):
    offline = ConnectionError("HTTPSConnectionPool(host='siibra-api'): Max retries exceeded\nmore")
    fake_siibra(monkeypatch, error=offline)
    assert main(["connectome", "siibra", "--out", str(tmp_path / "h.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("visualstreams: error: siibra could not reach the EBRAINS atlas (no network?)")
    assert len(err.splitlines()) == 1 and not (tmp_path / "h.csv").exists()
    monkeypatch.setitem(sys.modules, "siibra", None)  # import fails, as when it is not installed
    assert main(["connectome", "siibra", "--out", str(tmp_path / "h.csv")]) == 2
    assert "siibra is not installed (pip install 'visualstreams[siibra]')" in capsys.readouterr().err
