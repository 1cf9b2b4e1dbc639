"""Representational similarity: CKA and RSA against their definitions and independent implementations, and the
species-difference statistics on synthetic run x run tables. Small and deterministic: the largest arrays are
200 x 5000 (the debiased-CKA check), everything else is tens of samples."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pandas as pd
import pytest

from visualstreams.analysis.differences import species_differences
from visualstreams.analysis.representations import across_runs, within_network
from visualstreams.analysis.similarity import (
    METRICS,
    cka,
    cka_matrix,
    rdm,
    rsa,
    rsa_matrix,
    similarity_matrices,
    similarity_matrix,
)
from visualstreams.errors import ConfigError
from visualstreams.viz.similarity import plot_across_runs, plot_species_differences, plot_within_network


def _data(n: int = 30, p: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, p))


def _related(x: np.ndarray, q: int, noise: float, seed: int) -> np.ndarray:
    """A representation partly explained by x: a random linear read-out of x plus independent noise."""
    rng = np.random.default_rng(seed)
    return x @ rng.standard_normal((x.shape[1], q)) + noise * rng.standard_normal((x.shape[0], q))


# -- independent references (written from the formulas, sharing no code with the module) -------------------


def _ref_cka_biased(x: np.ndarray, y: np.ndarray) -> float:
    """Feature-space formula on centred data: ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F)."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    return float(np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)))


def _ref_hsic1(k: np.ndarray, l_: np.ndarray) -> float:
    """Song et al. 2012, unbiased HSIC_1, written out from uncentred Grams."""
    n = k.shape[0]
    kt, lt = k - np.diag(np.diag(k)), l_ - np.diag(np.diag(l_))
    one = np.ones(n)
    return float((np.trace(kt @ lt) + kt.sum() * lt.sum() / ((n - 1) * (n - 2))
                  - 2.0 / (n - 2) * one @ kt @ lt @ one) / (n * (n - 3)))


def _ref_cka_debiased(x: np.ndarray, y: np.ndarray) -> float:
    k, l_ = x @ x.T, y @ y.T
    return _ref_hsic1(k, l_) / math.sqrt(_ref_hsic1(k, k) * _ref_hsic1(l_, l_))


# -- CKA -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("debiased", [True, False])
@pytest.mark.parametrize("p", [5, 300])  # feature-space route (p < n) and Gram route (p >> n)
def test_cka_of_a_representation_with_itself_is_one(debiased, p):
    x = _data(30, p)
    assert cka(x, x, debiased=debiased) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("debiased", [True, False])
@pytest.mark.parametrize("p", [8, 200])
def test_cka_invariant_to_orthogonal_map_isotropic_scaling_and_mean_shift(debiased, p):
    rng = np.random.default_rng(1)
    x = _data(30, p, seed=2)
    y = _related(x, 50, noise=2.0, seed=3)
    q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    transformed = 3.7 * (x @ q) + rng.standard_normal(p) * 10.0
    base = cka(x, y, debiased=debiased)
    assert 0.05 < base < 0.99  # a value that can move
    assert cka(transformed, y, debiased=debiased) == pytest.approx(base, abs=1e-10)
    assert cka(x, transformed, debiased=debiased) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("debiased", [True, False])
def test_cka_not_invariant_to_a_general_invertible_linear_map(debiased):
    x = _data(60, 20, seed=4)
    stretch = np.diag(np.logspace(0, 2, 20))  # invertible, singular values from 1 to 100
    value = cka(x, x @ stretch, debiased=debiased)
    assert 1.0 - value > 0.05


def test_debiased_cka_near_zero_on_independent_data_where_biased_is_inflated():
    # 200 samples x 5000 features, independent: Brain-Score's check (1000 x 10000) scaled down for speed.
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((200, 5000)), rng.standard_normal((200, 5000))
    assert abs(cka(x, y)) < 0.1
    assert cka(x, y, debiased=False) > 0.5


@pytest.mark.parametrize("shape", [(30, 7, 50), (30, 200, 300)])  # feature route, Gram route
def test_cka_matches_independent_reference(shape):
    n, p, q = shape
    x = _data(n, p, seed=6) + 1.5  # offset: the reference works on uncentred Grams
    y = _related(x, q, noise=3.0, seed=7)
    assert cka(x, y, debiased=False) == pytest.approx(_ref_cka_biased(x, y), abs=1e-10)
    assert cka(x, y) == pytest.approx(_ref_cka_debiased(x, y), abs=1e-10)
    assert cka_matrix([x, y])[0, 1] == pytest.approx(_ref_cka_debiased(x, y), abs=1e-10)


def test_cka_fixed_value():
    x = np.arange(24, dtype=float).reshape(6, 4) ** 1.5
    y = np.cos(np.arange(18, dtype=float)).reshape(6, 3)
    assert cka(x, y, debiased=False) == pytest.approx(_ref_cka_biased(x, y), abs=1e-12)
    assert cka(x, y) == pytest.approx(_ref_cka_debiased(x, y), abs=1e-10)


def test_cka_matrix_equals_pairwise_cka_for_mixed_inputs():
    torch = pytest.importorskip("torch")
    base = _data(25, 12, seed=8)
    reps = [base, _related(base, 300, 1.0, 9).reshape(25, 3, 10, 10), torch.from_numpy(_related(base, 4, 0.5, 10)),
            _data(25, 60, seed=11).astype(np.float32)]
    for debiased in (True, False):
        mat = cka_matrix(reps, debiased=debiased)
        assert mat.shape == (4, 4)
        assert np.allclose(mat, mat.T)
        for i, j in itertools.combinations(range(4), 2):
            assert mat[i, j] == pytest.approx(cka(reps[i], reps[j], debiased=debiased), abs=1e-10)
        assert np.allclose(np.diag(mat), 1.0)


def test_blocked_stack_and_float32_gram_agree_with_the_default():
    base = _data(20, 30, seed=12)
    reps = [_related(base, q, 1.0, s) for s, q in enumerate((40, 50, 60, 70, 80))]
    full = similarity_matrices(reps, ("cka", "rsa"))
    blocked = similarity_matrices(reps, ("cka", "rsa"), max_bytes=1)  # one representation per block
    fast = similarity_matrices(reps, ("cka", "rsa"), precision="float32")
    for m in ("cka", "rsa"):
        assert np.allclose(blocked[m], full[m], atol=1e-12)
        assert np.allclose(fast[m], full[m], atol=1e-4)


def test_each_area_most_similar_to_the_same_area_of_another_seed():
    # Two "seeds" of one network: each area is a shared latent of the probes seen through a seed's own random
    # rotation plus noise. CKA across seeds should pick out the corresponding area (Kornblith's sanity check).
    rng = np.random.default_rng(13)
    latents = [rng.standard_normal((40, 15)) for _ in range(4)]
    runs = []
    for _ in range(2):
        runs.append([z @ np.linalg.qr(rng.standard_normal((15, 15)))[0] + 0.5 * rng.standard_normal((40, 15))
                     for z in latents])
    mat = similarity_matrix(runs[0] + runs[1], "cka")
    cross = mat[:4, 4:]
    assert (np.argmax(cross, axis=1) == np.arange(4)).all()


def test_errors_are_one_line_value_errors():
    with pytest.raises(ValueError, match="same samples"):
        cka(_data(10, 3), _data(11, 3))
    with pytest.raises(ValueError, match="at least 4"):
        cka(_data(3, 5), _data(3, 5))
    assert math.isfinite(cka(_data(3, 5), _data(3, 5, seed=1), debiased=False))
    with pytest.raises(ValueError, match="same probes"):
        cka_matrix([_data(10, 3), _data(9, 3)])
    with pytest.raises(ConfigError, match="unknown similarity metric"):
        similarity_matrix([_data(10, 3)], "procrustes")
    with pytest.raises(ValueError, match="NaN"):
        cka(np.full((10, 40), np.nan), _data(10, 40))
    with pytest.raises(ValueError, match="constant activity pattern"):
        rdm(np.ones((10, 6)))


def test_constant_representation_gives_nan_not_a_crash():
    mat = cka_matrix([np.zeros((10, 30)), _data(10, 30)])
    assert np.isnan(mat[0, 1]) and mat[1, 1] == 1.0


# -- RDMs and RSA --------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["correlation", "euclidean"])
def test_rdm_matches_scipy_pdist(metric):
    distance = pytest.importorskip("scipy.spatial.distance")
    x = _data(25, 60, seed=14) + 2.0
    condensed = rdm(x, metric)
    assert condensed.shape == (25 * 24 // 2,)
    assert np.allclose(condensed, distance.pdist(x, metric=metric), atol=1e-10, rtol=0)
    assert np.allclose(rdm(x, metric, square=True), distance.squareform(distance.pdist(x, metric=metric)),
                       atol=1e-10, rtol=0)


@pytest.mark.parametrize("compare", ["spearman", "whitened-cosine"])
def test_identical_rdms_compare_to_one(compare):
    x = _data(20, 50, seed=15)
    assert rsa(x, x, compare=compare) == pytest.approx(1.0, abs=1e-12)
    # correlation distance ignores each pattern's offset and scale: the RDM of 2x + 1 is the RDM of x
    assert rsa(x, 2.0 * x + 1.0, compare=compare) == pytest.approx(1.0, abs=1e-12)


def test_rsa_spearman_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    distance = pytest.importorskip("scipy.spatial.distance")
    x = _data(30, 40, seed=16)
    y = _related(x, 20, noise=4.0, seed=17)
    expected = stats.spearmanr(distance.pdist(x, "correlation"), distance.pdist(y, "correlation"))[0]
    assert rsa(x, y) == pytest.approx(expected, abs=1e-12)
    assert 0.05 < expected < 0.95
    reps = [x, y, _data(30, 10, seed=18)]
    mat = rsa_matrix(reps)
    for i, j in itertools.combinations(range(3), 2):
        ref = stats.spearmanr(distance.pdist(reps[i], "correlation"), distance.pdist(reps[j], "correlation"))[0]
        assert mat[i, j] == pytest.approx(ref, abs=1e-12)


def test_rsa_spearman_handles_tied_distances_like_scipy():
    stats = pytest.importorskip("scipy.stats")
    distance = pytest.importorskip("scipy.spatial.distance")
    rng = np.random.default_rng(19)
    x = rng.integers(0, 3, (12, 2)).astype(float)  # few distinct points: many exactly tied distances
    y = rng.standard_normal((12, 5))
    dx, dy = distance.pdist(x, "euclidean"), distance.pdist(y, "euclidean")
    assert len(np.unique(dx)) < dx.size / 3
    expected = stats.spearmanr(dx, dy)[0]
    assert rsa(x, y, rdm_metric="euclidean") == pytest.approx(expected, abs=1e-12)


def test_whitened_cosine_is_cosine_of_double_centred_rdms():
    x, y = _data(15, 30, seed=20), _data(15, 8, seed=21)
    y = np.hstack([y, x[:, :8]])

    def second_moment(d: np.ndarray) -> np.ndarray:
        h = np.eye(15) - 1.0 / 15
        return -0.5 * h @ d @ h

    gx, gy = (second_moment(rdm(v, square=True)) for v in (x, y))
    expected = np.sum(gx * gy) / (np.linalg.norm(gx) * np.linalg.norm(gy))
    assert rsa(x, y, compare="whitened-cosine") == pytest.approx(expected, abs=1e-12)
    # the identity in rsa_matrix's docstring: biased CKA of the row-standardised patterns
    z = [(v - v.mean(1, keepdims=True)) / np.linalg.norm(v - v.mean(1, keepdims=True), axis=1, keepdims=True)
         for v in (x, y)]
    assert cka(z[0], z[1], debiased=False) == pytest.approx(expected, abs=1e-12)


def test_rsatoolbox_agrees_within_the_benchmark_tolerance():
    pytest.importorskip("rsatoolbox")  # not a dependency (270 MB); benchmarks/check_rsatoolbox.py documents it
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "check_rsatoolbox.py"
    spec = importlib.util.spec_from_file_location("check_rsatoolbox", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.maximum(_data(20, 30, seed=37), 0.0)
    y = _related(x, 25, noise=2.0, seed=38)
    diffs = module.check(x, y)
    assert len(diffs) == 4 and max(diffs.values()) <= module.TOLERANCE
    with pytest.raises(RuntimeError, match="disagree on correlation RDM x"):  # the check can fail
        module.check(x, y, tolerance=-1.0)

# -- the three views -----------------------------------------------------------------------------------


def _runs(species: dict[str, int], modes: tuple[str, ...] = ("gain",), paired: bool = True) -> pd.DataFrame:
    """Runs with seeds 0.. for every species (paired by seed, as compare makes them) or, unpaired, seeds of their
    own (100 x the species' index + k)."""
    return pd.DataFrame([{"run": f"{m}-{s}-{k}", "species": s, "condition": m, "seed": k if paired else 100 * i + k}
                         for m in modes for i, (s, count) in enumerate(species.items()) for k in range(count)])


def test_within_network_is_a_square_symmetric_table():
    x = _data(20, 30, seed=22)
    acts = {"V1": x, "V2": _related(x, 25, 1.0, 23), "IT": _data(20, 12, seed=24)}
    df = within_network(acts, "rsa", untrained=["IT"])
    assert list(df.index) == list(df.columns) == ["V1", "V2", "IT"]
    assert np.allclose(df.to_numpy(), df.to_numpy().T) and np.allclose(np.diag(df.to_numpy()), 1.0)
    assert df.loc["V1", "V2"] == pytest.approx(rsa(acts["V1"], acts["V2"]), abs=1e-12)
    assert df.attrs == {"metric": "rsa", "untrained": ["IT"]}


def test_across_runs_long_table():
    runs = _runs({"human": 2, "mouse": 2}).assign(untrained_areas=["", "", "IT", ""])
    rng = np.random.default_rng(25)
    acts = {r: {"V1": rng.standard_normal((12, 20)), "IT": rng.standard_normal((12, 6, 2))} for r in runs["run"]}
    del acts["gain-mouse-1"]["IT"]  # a run without an area is left out of that area
    df = across_runs(acts, runs, metric=["cka", "rsa"])
    assert set(df.columns) >= {"area", "run_a", "run_b", "species_a", "species_b", "condition_a", "condition_b",
                               "seed_a",
                               "seed_b", "similarity", "untrained"}
    assert len(df) == 2 * (6 + 3)  # two metrics x (C(4, 2) V1 pairs + C(3, 2) IT pairs)
    row = df[(df.metric == "cka") & (df.area == "IT") & (df.run_a == "gain-human-0") & (df.run_b == "gain-mouse-0")]
    assert row["similarity"].item() == pytest.approx(cka(acts["gain-human-0"]["IT"], acts["gain-mouse-0"]["IT"]))
    assert row["untrained"].item() and not row["untrained_a"].item() and row["untrained_b"].item()
    assert not df[df.area == "V1"]["untrained"].any()


def _pair_table(sim_of, species: dict[str, int], area: str = "IT", modes: tuple[str, ...] = ("gain",),
                paired: bool = True, runs: pd.DataFrame | None = None):
    """A long table as across_runs makes it, similarity = sim_of(run_a row, run_b row, pair index); ``runs``
    replaces the runs ``_runs`` would make."""
    runs = _runs(species, modes, paired) if runs is None else runs
    rows = []
    for k, (i, j) in enumerate(itertools.combinations(range(len(runs)), 2)):
        a, b = runs.iloc[i], runs.iloc[j]
        rows.append({"area": area, "run_a": a.run, "run_b": b.run, "species_a": a.species, "species_b": b.species,
                     "condition_a": a["condition"], "condition_b": b["condition"], "seed_a": a.seed, "seed_b": b.seed,
                     "similarity": sim_of(a, b, k), "untrained": False})
    return pd.DataFrame(rows)


def test_species_differences_finds_a_real_difference():
    rng = np.random.default_rng(26)
    noise = rng.normal(0, 0.01, 200)
    differ = _pair_table(lambda a, b, k: (0.8 if a.species == b.species else 0.6) + noise[k],
                         {"human": 8, "mouse": 8}, area="IT")
    same = _pair_table(lambda a, b, k: 0.7 + noise[k], {"human": 8, "mouse": 8}, area="V1")
    out = species_differences(pd.concat([differ, same]), n_bootstrap=500)
    it = out[out.area == "IT"].iloc[0]
    assert it.exact and it.permutations == 2 ** 8 and it.paired_by_seed  # species swapped within each seed
    assert it["diff"] == pytest.approx(0.2, abs=0.02) and it.ci_low > 0.1
    assert it.p_holm < 0.05 and it.significant
    assert it.n_within_pairs == 2 * 28 and it.n_between_pairs == 64 - 8  # same-seed pairs left out
    assert it.sentence.startswith("IT: human and mouse networks differ more than seeds of one species do, 0.")
    assert "p_holm = 0.016" in it.sentence  # exact minimum 2 / 256 (the split and its mirror), times 2 areas
    assert it.p_min == pytest.approx(2 / 256) and it.p_holm_min == pytest.approx(4 / 256)
    assert "cannot fall below" not in it.sentence


def test_unpaired_runs_are_relabelled_freely_and_bootstrapped_by_run():
    rng = np.random.default_rng(26)
    noise = rng.normal(0, 0.01, 100)
    differ = _pair_table(lambda a, b, k: (0.8 if a.species == b.species else 0.6) + noise[k],
                         {"human": 5, "mouse": 5}, area="IT", paired=False)
    it = species_differences(differ, n_bootstrap=500).iloc[0]
    assert not it.paired_by_seed and it.exact and it.permutations == math.comb(10, 5)  # every split
    assert it.n_within_pairs == 2 * 10 and it.n_between_pairs == 25  # no seed shared: every pair counts
    assert it.p == pytest.approx(2 / 252) and it.ci_low > 0.1


def test_species_differences_exchangeable_labels_not_significant():
    rng = np.random.default_rng(27)
    noise = rng.normal(0, 0.05, 200)
    pairs = _pair_table(lambda a, b, k: 0.7 + noise[k], {"human": 6, "mouse": 5, "macaque": 4}, paired=False)
    out = species_differences(pairs, n_permutations=200, n_bootstrap=200)
    assert len(out) == 3  # three pairs of species
    assert (out.p > 0.05).all() and not out.significant.any()
    assert list(out.exact) == [False, False, True]  # C(11, 6) = 462 and C(10, 6) = 210 > 200 > C(9, 5) = 126
    assert all("do not differ beyond seed-to-seed spread" in s for s in out.sentence)
    assert (out.ci_low < out["diff"]).all() and (out["diff"] < out.ci_high).all()


def test_random_permutation_p_has_the_plus_one_form_and_is_reproducible():
    rng = np.random.default_rng(28)
    noise = rng.normal(0, 0.05, 200)
    pairs = _pair_table(lambda a, b, k: 0.7 + noise[k], {"human": 6, "mouse": 6}, paired=False)  # 924 splits
    one = species_differences(pairs, n_permutations=500, n_bootstrap=0, seed=3)
    two = species_differences(pairs, n_permutations=500, n_bootstrap=0, seed=3)
    assert not one.exact.item()
    count = one.p.item() * 501
    assert count == pytest.approx(round(count)) and round(count) >= 1
    assert one.p.item() == two.p.item()
    assert "(no CI)" in one.sentence.item()


_MIXED = pd.DataFrame([{"run": f"{sp}-{k}", "species": sp, "condition": "gain", "seed": k}
                       for sp, seeds in (("human", (0, 1, 2, 3)), ("mouse", (0, 1, 5))) for k in seeds])


@pytest.mark.parametrize("design, n_labellings, p_min", [
    ("paired", 2 ** 3, 2 / 8),  # each seed's human and mouse run swapped or not
    ("unpaired", math.comb(6, 3), 2 / 20),  # no shared seed: every split
    ("mixed", 4 * 3, 1 / 12),  # seeds 0, 1 paired (4 ways); 2 of the 3 singleton seeds human (3 ways); no mirror
])
def test_exact_permutation_p_equals_brute_force(design, n_labellings, p_min):
    rng = np.random.default_rng(29)
    values = rng.uniform(0.3, 0.9, 100)
    pairs = _pair_table(lambda a, b, k: values[k], {"human": 3, "mouse": 3}, paired=design == "paired",
                        runs=_MIXED if design == "mixed" else None)
    runs = list(dict.fromkeys(pairs.run_a.tolist() + pairs.run_b.tolist()))
    seed_of = dict(zip(pairs.run_a, pairs.seed_a, strict=False)) | dict(zip(pairs.run_b, pairs.seed_b, strict=False))
    sim = {frozenset((r.run_a, r.run_b)): r.similarity for r in pairs.itertuples()}
    human = {r for r in runs if "human" in r}

    def statistic(group_a: set[str]) -> float:
        within, between = [], []
        for r, s in itertools.combinations(runs, 2):
            if seed_of[r] == seed_of[s]:
                continue
            (within if (r in group_a) == (s in group_a) else between).append(sim[frozenset((r, s))])
        return np.mean(within) - np.mean(between)

    def shape(group_a: set[str]) -> list[tuple[int, int]]:
        """(runs, group-a runs) of every seed, sorted: what relabelling within seeds and exchanging seeds keeps."""
        seeds = set(seed_of.values())
        return sorted((sum(seed_of[r] == s for r in runs), sum(seed_of[r] == s for r in group_a)) for s in seeds)

    # The allowed relabellings by their definition: every split with the observed seed shape.
    allowed = [set(c) for c in itertools.combinations(runs, len(human)) if shape(set(c)) == shape(human)]
    assert len(allowed) == n_labellings
    observed = statistic(human)
    stats = [statistic(g) for g in allowed]
    expected = sum(abs(s) >= abs(observed) - 1e-12 for s in stats) / len(stats)
    out = species_differences(pairs, n_bootstrap=0, alternative="two-sided").iloc[0]
    one_sided = species_differences(pairs, n_bootstrap=0).iloc[0]  # the default: within - between > 0 only
    assert one_sided["p"] == pytest.approx(sum(s >= observed - 1e-12 for s in stats) / len(stats))
    assert out.exact and out.permutations == n_labellings and out.paired_by_seed == (design != "unpaired")
    assert out["diff"] == pytest.approx(observed, abs=1e-12)
    assert out.p == pytest.approx(expected, abs=1e-12)
    assert out.p_min == pytest.approx(p_min) and out.p_holm_min == pytest.approx(p_min)
    assert f"(p_holm cannot fall below {p_min:.2g})" in out.sentence


def test_same_seed_pairs_excluded_by_default_and_labelled_when_included():
    def sim(a, b, k):
        if a.species == b.species:
            return 0.7
        return 0.99 if a.seed == b.seed else 0.7  # shared initial weights inflate same-seed pairs

    pairs = _pair_table(sim, {"human": 4, "mouse": 4})
    default = species_differences(pairs, n_bootstrap=100).iloc[0]
    assert default.n_between_pairs == 12 and default["between"] == pytest.approx(0.7)
    assert default["diff"] == pytest.approx(0.0, abs=1e-12) and not default.same_seed_included
    included = species_differences(pairs, include_same_seed=True, n_bootstrap=100).iloc[0]
    assert included.n_between_pairs == 16 and included["between"] == pytest.approx((12 * 0.7 + 4 * 0.99) / 16)
    assert included.same_seed_included and "same-seed pairs included" in included.sentence


def test_same_seed_runs_of_one_species_are_not_within_pairs_in_test_or_bootstrap():
    pairs = _pair_table(lambda a, b, k: 0.7, {"human": 4, "mouse": 4})
    pairs.loc[pairs.run_b == "gain-human-1", "seed_b"] = 0  # a rerun: two human runs with seed 0 ...
    pairs.loc[pairs.run_a == "gain-human-1", "seed_a"] = 0
    pairs.loc[(pairs.run_a == "gain-human-0") & (pairs.run_b == "gain-human-1"), "similarity"] = 0.99  # ... alike
    row = species_differences(pairs, n_bootstrap=300).iloc[0]
    assert row.n_within_pairs == 5 + 6 and row["within"] == pytest.approx(0.7)
    assert row.ci_low == pytest.approx(0.0, abs=1e-12) and row.ci_high == pytest.approx(0.0, abs=1e-12)


def test_species_differences_strata_modes_and_untestable_rows():
    pairs = _pair_table(lambda a, b, k: 0.5, {"human": 3, "mouse": 1}, modes=("gain", "none"))
    out = species_differences(pairs, n_bootstrap=0)
    assert list(out["condition"]) == ["gain", "none"]  # cross-mode pairs ignored, one row per mode
    assert out.sentence.str.startswith("IT (gain): ").iloc[0] and out.sentence.str.startswith("IT (none): ").iloc[1]
    assert (out.n_runs_a == 3).all() and (out.n_runs_b == 1).all()
    single = _pair_table(lambda a, b, k: 0.5, {"human": 1, "mouse": 1})
    row = species_differences(single).iloc[0]
    assert math.isnan(row.p) and math.isnan(row.p_holm) and "could not be compared" in row.sentence


# -- runs paired by seed ---------------------------------------------------------------------------------


def _seeded_runs(n_sims: int, k: int, effect: float, rng: np.random.Generator, by: str = "species") -> pd.DataFrame:
    """``n_sims`` simulated experiments of k seeds with one run of each of two groups per seed, one metric each
    (so each is a Holm family of its own and p_holm = p). Each run's representation is its seed's shared part
    (the initial weights both groups start from, weighing 2) plus its own noise (1) plus ``effect`` times its
    group's direction; similarity is their cosine, so same-seed runs are far more alike (about 0.8) than runs
    of different seeds (about 0), and runs of two seeds are alike through both seeds. ``by``: the groups are
    species (one mode) or modes (one species)."""
    d = 16
    seeds = np.tile(np.arange(k), 2)
    group = np.repeat([0, 1], k)
    x = (2.0 * rng.standard_normal((n_sims, k, d))[:, seeds] + rng.standard_normal((n_sims, 2 * k, d))
         + effect * rng.standard_normal((n_sims, 2, d))[:, group])
    x /= np.linalg.norm(x, axis=2, keepdims=True)
    i, j = np.triu_indices(2 * k, 1)
    names = np.array(["a", "b"])[group]
    runs = np.array([f"{g}-{s}" for g, s in zip(names, seeds, strict=True)])
    table = pd.DataFrame({"metric": np.repeat(np.arange(n_sims), len(i)), "area": "IT",
                          "run_a": np.tile(runs[i], n_sims), "run_b": np.tile(runs[j], n_sims),
                          "seed_a": np.tile(seeds[i], n_sims), "seed_b": np.tile(seeds[j], n_sims),
                          "similarity": np.einsum("rid,rid->ri", x[:, i], x[:, j]).ravel()})
    other = "condition" if by == "species" else "species"
    table[f"{by}_a"], table[f"{by}_b"] = np.tile(names[i], n_sims), np.tile(names[j], n_sims)
    table[f"{other}_a"] = table[f"{other}_b"] = "x"
    return table


def _test_runs(pairs: pd.DataFrame, by: str, **options) -> pd.DataFrame:
    from visualstreams.analysis.differences import mode_differences

    return (species_differences if by == "species" else mode_differences)(pairs, n_bootstrap=0, **options)


@pytest.mark.parametrize("by, n_sims, options", [
    ("species", 300, {}),
    ("condition", 200, {}),  # the same test between connection modes: same-seed runs of two modes share weights too
    ("species", 200, {"include_same_seed": True, "alternative": "two-sided"}),  # where b5cab0f's could go wrong
])
@pytest.mark.slow
def test_false_positive_rate_with_shared_seeds_is_at_most_alpha(by, n_sims, options):
    # No group effect, a strong per-seed one: the whole procedure (table -> p -> Holm -> significant at 0.05)
    # rejects at most 5% of the time, up to the one-sided 99% binomial margin. 8 seeds: 2^8 within-seed swaps, so
    # the exact test's size at 0.05 is 12/256 = 0.047 (b5cab0f's free relabelling rejected none of 400 default
    # nulls: its reference distribution carries the seed effects that the observed split cancels).
    stats = pytest.importorskip("scipy.stats")
    out = _test_runs(_seeded_runs(n_sims, 8, 0.0, np.random.default_rng(40), by), by, **options)
    assert len(out) == n_sims and out.exact.all() and (out.permutations == 256).all() and out.paired_by_seed.all()
    rate = out.significant.mean()
    assert rate <= stats.binom.ppf(0.99, n_sims, 0.05) / n_sims
    assert rate > 0.01  # the size is used, not wasted on a conservative reference


def test_the_test_still_finds_a_group_effect_despite_shared_seeds():
    out = _test_runs(_seeded_runs(100, 8, 0.5, np.random.default_rng(42)), "species")
    assert out.significant.mean() >= 0.7  # 0.85 measured (b5cab0f's free relabelling: 0.11)


def test_free_relabelling_would_turn_a_seed_effect_into_a_false_positive():
    # Deterministic: every pair 0.7 but same-seed runs of the two species, 0.99 (shared initial weights). With
    # same-seed pairs in the between mean, the observed split puts all 8 of them there; a free relabelling (b5cab0f)
    # puts some inside a group, where they are left out, so the observed |diff| is the most extreme of all splits.
    k = 8
    pairs = _pair_table(lambda a, b, _: 0.99 if a.seed == b.seed else 0.7, {"human": k, "mouse": k})
    row = species_differences(pairs, include_same_seed=True, alternative="two-sided", n_bootstrap=0).iloc[0]
    assert row["diff"] == pytest.approx(0.7 - (k * (k - 1) * 0.7 + k * 0.99) / k ** 2)
    splits = np.array(list(itertools.combinations(range(2 * k), k)))  # b5cab0f's relabellings: every split
    a = (splits[:, :, None] == np.arange(2 * k)).any(axis=1)
    same_seed = np.equal.outer(np.arange(2 * k) % k, np.arange(2 * k) % k)
    sim = np.where(same_seed, 0.99, 0.7)
    within = (a[:, :, None] == a[:, None, :]) & ~same_seed & ~np.eye(2 * k, dtype=bool)
    between = a[:, :, None] != a[:, None, :]
    free = (sim * within).sum((1, 2)) / within.sum((1, 2)) - (sim * between).sum((1, 2)) / between.sum((1, 2))
    old_p = np.mean(np.abs(free) >= abs(row["diff"]) - 1e-12)
    assert old_p == pytest.approx(2 ** k / math.comb(2 * k, k)) and old_p < 0.05  # "more alike than seeds are"
    assert row.p == 1.0 and not row.significant  # every within-seed swap keeps all 8 between: nothing to find


def test_random_relabellings_swap_within_seeds_and_keep_the_plus_one_form():
    from visualstreams.analysis.differences import _SeedDesign

    seeds = np.r_[np.arange(10), np.arange(10), 20, 21]  # 10 paired seeds and two runs of seeds of their own
    labels = np.r_[np.ones(10), np.zeros(10), 1.0, 0.0]
    units = _SeedDesign.build(seeds, labels)
    assert units.paired and units.size() == 2 ** 10 * 2
    lab = np.concatenate(list(units.random(3000, np.random.default_rng(0))))
    assert lab.shape == (3000, 22) and (lab[:, :10] + lab[:, 10:20] == 1).all() and (lab[:, 20] + lab[:, 21] == 1).all()
    assert 0.45 < lab[:, :10].mean() < 0.55 and 0.45 < lab[:, 20].mean() < 0.55
    exact = np.concatenate(list(units.exact()))
    assert len(np.unique(exact, axis=0)) == len(exact) == units.size()
    rng = np.random.default_rng(43)
    noise = rng.normal(0, 0.05, 200)
    pairs = _pair_table(lambda a, b, k: 0.7 + noise[k], {"human": 10, "mouse": 10})
    row = species_differences(pairs, n_permutations=500, n_bootstrap=0).iloc[0]
    assert not row.exact and row.permutations == 500 and round(row.p * 501) == pytest.approx(row.p * 501)


def test_bootstrap_resamples_seeds_where_runs_are_paired():
    # The two species' runs of a seed are interchangeable: each is as similar to every other run as its seed-mate
    # is. Resampling seeds keeps every draw's statistic at 0; resampling runs (b5cab0f) would mix seeds unevenly.
    rng = np.random.default_rng(44)
    f = rng.uniform(0.5, 0.9, (6, 6))
    pairs = _pair_table(lambda a, b, _: 0.99 if a.seed == b.seed else f[min(a.seed, b.seed), max(a.seed, b.seed)],
                        {"human": 6, "mouse": 6})
    row = species_differences(pairs, n_bootstrap=300).iloc[0]
    assert row.paired_by_seed and row["diff"] == pytest.approx(0.0, abs=1e-12)
    assert row.ci_low == pytest.approx(0.0, abs=1e-12) and row.ci_high == pytest.approx(0.0, abs=1e-12)
    from visualstreams.analysis.differences import _SeedDesign

    idx = _SeedDesign.build(np.r_[np.arange(6), np.arange(6)], np.r_[np.ones(6), np.zeros(6)]).bootstrap(
        50, np.random.default_rng(0))
    assert idx.shape == (50, 12) and (idx[:, 1::2] == idx[:, 0::2] + 6).all()  # each seed's two runs together


# -- figures -------------------------------------------------------------------------------------------


def _drawn(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue()


def test_figures_draw_and_label_untrained_areas():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    x = _data(15, 20, seed=30)
    within = within_network({"V1": x, "IT": _related(x, 10, 1.0, 31)}, untrained=["IT"])
    fig = plot_within_network(within)
    assert isinstance(fig, Figure) and _drawn(fig)
    assert "IT (untrained)" in [t.get_text() for t in fig.axes[0].get_yticklabels()]

    runs = _runs({"human": 2, "mouse": 2}).assign(trained_areas=["V1 IT", "V1 IT", "V1", "V1"])
    rng = np.random.default_rng(32)
    acts = {r: {"V1": rng.standard_normal((10, 8)), "IT": rng.standard_normal((10, 4))} for r in runs["run"]}
    long = across_runs(acts, runs)
    fig = plot_across_runs(long, "IT")
    assert _drawn(fig)
    assert "mouse s0 (untrained)" in [t.get_text() for t in fig.axes[0].get_yticklabels()]

    diffs = species_differences(long, n_bootstrap=50)
    fig = plot_species_differences(diffs)
    assert _drawn(fig)
    assert "IT\n(untrained)" in [t.get_text() for t in fig.axes[1].get_xticklabels()]


def test_metric_names():
    assert METRICS == ("cka", "cka-biased", "rsa", "rsa-whitened")
    x = _data(12, 9, seed=33)
    y = _related(x, 7, 1.0, 34)
    assert similarity_matrix([x, y], "cka", debiased=False)[0, 1] == pytest.approx(cka(x, y, debiased=False))
    assert similarity_matrix([x, y], "rsa", compare="whitened-cosine")[0, 1] == pytest.approx(
        rsa(x, y, compare="whitened-cosine"))


def test_cuda_tensor_gram_matches_numpy():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = _data(50, 300, seed=35)
    y = _related(x, 200, 2.0, 36)
    on_gpu = [torch.from_numpy(v).to("cuda", torch.float32) for v in (x, y)]
    expected = similarity_matrices([x.astype(np.float32), y.astype(np.float32)], METRICS)
    got = similarity_matrices(on_gpu, METRICS)
    for m in METRICS:
        assert np.allclose(got[m], expected[m], atol=1e-10)


def test_mode_differences_swap_the_roles_of_species_and_mode():
    from visualstreams.analysis.differences import mode_differences

    rng = np.random.default_rng(3)
    base = {"gain": rng.standard_normal((40, 30)), "none": rng.standard_normal((40, 30))}
    runs, acts = [], {}
    for mode in ("gain", "none"):
        for s in range(6):  # the modes' runs of one seed share initial weights: 2^6 swaps, smallest p 1/32
            run = f"human/{mode}/seed{s}"
            runs.append({"run": run, "species": "human", "condition": mode, "seed": s})
            acts[run] = {"IT": base[mode] + 0.3 * rng.standard_normal((40, 30))}
    pairs = across_runs(acts, pd.DataFrame(runs), metric="cka")
    out = mode_differences(pairs, n_bootstrap=200)
    row = out.iloc[0]
    assert (row["species"], row["condition_a"], row["condition_b"], row["area"]) == ("human", "gain", "none", "IT")
    assert row["n_runs_a"] == row["n_runs_b"] == 6 and row["diff"] > 0.3 and row["significant"]
    assert row["paired_by_seed"] and row["permutations"] == 2 ** 6 and row["p"] == pytest.approx(2 / 64)
    assert row["sentence"].startswith("IT (human): gain and none networks differ more than seeds of one condition do")
    assert species_differences(pairs).empty  # one species: nothing to compare between species
