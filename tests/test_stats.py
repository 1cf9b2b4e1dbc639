"""Statistics for comparing species across seeds: tests, tables and the reviewer sentence.

The distributions are SciPy's (their own tests cover them); these tests check what visualstreams builds on them.
Reference numbers marked "mpmath" or "scipy" were computed independently and are hard-coded; others are worked out
by hand in the test itself.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import t as scipy_t

from visualstreams.analysis.stats import (
    describe_difference,
    groups_in_order,
    hedges_g,
    holm,
    mean_ci,
    pairwise_tests,
    permutation_test,
    summarize,
    welch_test,
)
from visualstreams.errors import ConfigError

A = [91.2, 91.5, 90.9, 91.8, 91.1]
B = [90.7, 91.0, 90.6, 91.3, 90.5]


# -- mean_ci -------------------------------------------------------------------------------------------


def test_mean_ci_by_hand() -> None:
    r = mean_ci([1, 2, 3, 4, 5])
    sd = math.sqrt(10 / 4)  # squared deviations 4+1+0+1+4 over n-1
    half = 2.7764451051977987 * sd / math.sqrt(5)
    assert r["n"] == 5 and r["mean"] == 3.0
    assert r["sd"] == pytest.approx(1.5811388, abs=1e-7) and r["sd"] == pytest.approx(sd, rel=1e-15)
    assert r["half_width"] == pytest.approx(1.963243, abs=1e-6) and r["half_width"] == pytest.approx(half, rel=1e-12)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((3 - half, 3 + half), rel=1e-12)
    # A 99% interval is wider, and uses t_{0.995, 4} = 4.604094871.
    assert mean_ci([1, 2, 3, 4, 5], 0.99)["half_width"] == pytest.approx(4.604094871 * sd / math.sqrt(5), rel=1e-9)


def test_mean_ci_small_samples() -> None:
    one = mean_ci([7.5])
    assert one["n"] == 1 and one["mean"] == 7.5
    assert all(math.isnan(one[k]) for k in ("sd", "ci_low", "ci_high", "half_width"))
    with pytest.raises(ValueError):
        mean_ci([])
    with pytest.raises(ValueError):
        mean_ci([1.0, math.nan])
    with pytest.raises(ConfigError):
        mean_ci([1.0, 2.0], confidence=95)
    const = mean_ci([0.1] * 4)
    assert const["sd"] == 0.0 and const["ci_low"] == const["ci_high"] == 0.1


# -- Welch ---------------------------------------------------------------------------------------------


def test_welch_by_formula_and_reference() -> None:
    r = welch_test(A, B)
    a, b = np.array(A), np.array(B)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    assert r["diff"] == pytest.approx(0.48, abs=1e-12)  # 91.3 - 90.82: a - b
    assert r["t"] == pytest.approx(t, rel=1e-12) and r["df"] == pytest.approx(df, rel=1e-12)
    assert r["p"] == pytest.approx(2 * scipy_t.sf(t, df), rel=1e-12)
    # Independent reference (scipy.stats.ttest_ind(equal_var=False), same as R's t.test):
    # t = 2.2283, df = 7.9521, p = 0.05664 -- the brief's t = 2.1602, df = 7.9385, p = 0.06314 were off.
    assert r["t"] == pytest.approx(2.228344058124649, rel=1e-12)
    assert r["df"] == pytest.approx(7.952131195981389, rel=1e-12)
    assert r["p"] == pytest.approx(0.05663874451820827, rel=1e-10)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((-0.0172494441037057, 0.9772494441037136), abs=1e-10)


def test_welch_is_antisymmetric() -> None:
    ab, ba = welch_test(A, B), welch_test(B, A)
    assert ba["diff"] == pytest.approx(-ab["diff"]) and ba["t"] == pytest.approx(-ab["t"])
    assert ba["p"] == pytest.approx(ab["p"]) and ba["ci_low"] == pytest.approx(-ab["ci_high"])


def test_welch_zero_variance(recwarn: pytest.WarningsRecorder) -> None:
    same = welch_test([0.1] * 5, [0.1] * 3)  # constant: rounding must not invent a variance
    assert same["p"] == 1.0 and same["t"] == 0.0 and same["ci_low"] == same["ci_high"] == 0.0
    differ = welch_test([2.0, 2.0, 2.0], [1.0, 1.0])
    assert differ["p"] == 0.0 and differ["t"] == math.inf and differ["diff"] == 1.0
    assert math.isnan(differ["df"])
    one_const = welch_test([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])  # df falls to n_b - 1 = 2
    assert one_const["df"] == pytest.approx(2.0)
    assert len(recwarn) == 0
    with pytest.raises(ValueError):
        welch_test([1.0], [1.0, 2.0])


# -- permutation test ----------------------------------------------------------------------------------


def test_permutation_exact_known_case() -> None:
    # C(6, 3) = 20 splits; only {1,2,3} | {4,5,6} and its mirror reach |diff| = 3.
    assert permutation_test([1, 2, 3], [4, 5, 6]) == pytest.approx(2 / 20)
    assert permutation_test([1, 2, 3], [1, 2, 3]) == 1.0
    assert permutation_test([1, 2, 3], [4, 5, 6], statistic="welch_t") == pytest.approx(2 / 20)


def test_permutation_exact_matches_brute_force() -> None:
    a, b = A, B  # C(10, 5) = 252 splits
    pooled = a + b
    observed = abs(np.mean(a) - np.mean(b))
    count = 0
    for idx in itertools.combinations(range(10), 5):
        ga = [pooled[i] for i in idx]
        gb = [pooled[i] for i in range(10) if i not in idx]
        count += abs(np.mean(ga) - np.mean(gb)) >= observed - 1e-9
    assert permutation_test(a, b) == pytest.approx(count / 252)
    assert count == 18


def test_permutation_monte_carlo() -> None:
    a = [float(i) for i in range(12)]
    b = [i + 20.0 for i in range(12)]  # C(24, 12) = 2.7 million > 999: Monte Carlo
    assert permutation_test(a, b, n_permutations=999, seed=0) == pytest.approx(1 / 1000)  # (0 + 1) / (999 + 1)
    rng = np.random.default_rng(5)
    x, y = rng.normal(0, 1, 8), rng.normal(0.8, 1, 8)
    p1 = permutation_test(x, y, n_permutations=3000, seed=3)
    assert p1 == permutation_test(x, y, n_permutations=3000, seed=3)  # deterministic
    assert round(p1 * 3001) == pytest.approx(p1 * 3001)  # of the form (count + 1) / (n + 1)
    exact = permutation_test(x, y, n_permutations=20000)  # C(16, 8) = 12870: enumerated
    assert abs(p1 - exact) < 4 * math.sqrt(exact * (1 - exact) / 3000) + 1e-3


def test_permutation_validation() -> None:
    with pytest.raises(ConfigError):
        permutation_test([1, 2], [3, 4], statistic="median")
    with pytest.raises(ConfigError):
        permutation_test([1, 2], [3, 4], n_permutations=0)
    with pytest.raises(ValueError):
        permutation_test([], [3, 4])


# -- effect size and Holm ------------------------------------------------------------------------------


def test_hedges_g_by_hand() -> None:
    # Sums of squared deviations: a 0.5, b 0.428; pooled variance (0.5 + 0.428) / 8; J = 1 - 3/31.
    d = 0.48 / math.sqrt(0.928 / 8)
    assert hedges_g(A, B) == pytest.approx(d * (1 - 3 / 31), rel=1e-12)
    assert hedges_g(A, B) == pytest.approx(1.272941895, rel=1e-9)
    assert hedges_g(B, A) == pytest.approx(-hedges_g(A, B))
    assert math.isnan(hedges_g([1.0, 1.0], [2.0, 2.0]))  # pooled SD 0
    assert math.isnan(hedges_g([1.0], [2.0]))  # no degrees of freedom


def test_holm_by_hand() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> running max 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.3, 0.8, 0.02]) == pytest.approx([0.6, 0.8, 0.06])
    assert holm([0.4, 0.45, 0.5]) == pytest.approx([1.0, 1.0, 1.0])  # capped
    out = holm([0.01, math.nan, 0.04])  # NaN stays NaN and does not count towards m
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert holm([]).size == 0
    with pytest.raises(ValueError):
        holm([0.5, 1.2])


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_property_holm(ps: list[float]) -> None:
    adj = holm(ps)
    p = np.array(ps)
    assert np.all(adj >= p - 1e-15) and np.all(adj <= 1.0)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adj[order]) >= -1e-15)  # monotone in the raw p-values
    assert np.all(adj <= np.minimum(len(ps) * p, 1.0) + 1e-15)  # never worse than Bonferroni


# -- tables --------------------------------------------------------------------------------------------


def _results() -> pd.DataFrame:
    """3 species x 4 seeds x 2 modes with fixed, hand-checkable accuracies."""
    acc = {"human": [91.0, 91.4, 90.8, 91.2], "marmoset": [90.1, 90.9, 90.5, 90.3], "mouse": [88.0, 88.6, 88.3, 88.9]}
    rows = []
    for mode, shift in (("full", 0.0), ("dorsal", -1.0)):
        for species, values in acc.items():
            for seed, v in enumerate(values):
                rows.append({"condition": mode, "species": species, "seed": seed, "test_acc": v + shift,
                             "test_loss": 0.3 + 0.01 * seed - (v - 88) / 100})
    return pd.DataFrame(rows)


def test_summarize() -> None:
    df = _results()
    s = summarize(df)
    assert list(s.columns) == ["species", "metric", "n", "mean", "sd", "ci_low", "ci_high"]
    assert list(s["species"]) == ["human", "human", "marmoset", "marmoset", "mouse", "mouse"]  # first appearance
    row = s[(s["species"] == "mouse") & (s["metric"] == "test_acc")].iloc[0]
    values = df.loc[df["species"] == "mouse", "test_acc"].to_numpy()
    assert row["n"] == 8 and row["mean"] == pytest.approx(values.mean())
    assert row["sd"] == pytest.approx(values.std(ddof=1))
    half = scipy_t.ppf(0.975, 7) * values.std(ddof=1) / math.sqrt(8)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((values.mean() - half, values.mean() + half))

    by_two = summarize(df, by=["condition", "species"], metrics="test_acc")
    assert list(by_two.columns[:3]) == ["condition", "species", "metric"] and len(by_two) == 6
    first = by_two.iloc[0]
    assert (first["condition"], first["species"], first["n"]) == ("full", "human", 4)
    assert first["mean"] == pytest.approx(91.1)

    with_nan = df.copy()
    with_nan.loc[0, "test_acc"] = math.nan  # a failed run: dropped, n counts what is there
    assert summarize(with_nan, metrics="test_acc")["n"].tolist() == [7, 8, 8]
    with pytest.raises(ConfigError):
        summarize(df, metrics="train_acc")


def test_pairwise_tests_welch() -> None:
    df = _results()
    r = pairwise_tests(df[df["condition"] == "full"])
    assert len(r) == 3
    assert list(zip(r["group_a"], r["group_b"], strict=True)) == [
        ("human", "marmoset"), ("human", "mouse"), ("marmoset", "mouse")]
    first = r.iloc[0]
    human = [91.0, 91.4, 90.8, 91.2]
    marmoset = [90.1, 90.9, 90.5, 90.3]
    w = welch_test(human, marmoset)
    assert first["diff"] == pytest.approx(0.65) and first["diff"] == pytest.approx(first["mean_a"] - first["mean_b"])
    assert first["p"] == pytest.approx(w["p"]) and first["ci_low"] == pytest.approx(w["ci_low"])
    assert first["hedges_g"] == pytest.approx(hedges_g(human, marmoset))
    assert (first["n_a"], first["n_b"]) == (4, 4)
    assert np.allclose(r["p_holm"], holm(r["p"]))
    assert np.all(r["p_holm"] >= r["p"])
    assert (r["significant"] == (r["p_holm"] < 0.05)).all()


def test_pairwise_tests_within_strata() -> None:
    df = _results()
    r = pairwise_tests(df, within="condition", metric=["test_acc", "test_loss"])
    assert list(r.columns[:4]) == ["condition", "group_a", "group_b", "metric"]
    assert len(r) == 12  # 2 modes x 2 metrics x 3 pairs
    for (_mode, _metric), fam in r.groupby(["condition", "metric"]):
        assert len(fam) == 3
        assert np.allclose(fam["p_holm"], holm(fam["p"]))  # one Holm family per stratum and metric
    assert np.all(r["p_holm"] >= r["p"])
    # The dorsal mode is the full mode shifted by -1: differences and p-values per pair are identical.
    acc = r[r["metric"] == "test_acc"]
    full, dorsal = acc[acc["condition"] == "full"], acc[acc["condition"] == "dorsal"]
    assert np.allclose(full["diff"].to_numpy(), dorsal["diff"].to_numpy())
    assert np.allclose(full["p"].to_numpy(), dorsal["p"].to_numpy())


def test_pairwise_tests_permutation_and_small_groups() -> None:
    df = _results()
    full = df[df["condition"] == "full"]
    r = pairwise_tests(full, method="permutation", n_permutations=500, seed=1)
    # C(8, 4) = 70 <= 500: enumerated exactly; human vs mouse do not overlap -> 2/70.
    assert r.iloc[1]["p"] == pytest.approx(2 / 70)
    assert r.iloc[0]["p"] == pytest.approx(permutation_test([91.0, 91.4, 90.8, 91.2], [90.1, 90.9, 90.5, 90.3]))
    assert (r["method"] == "permutation").all()

    lonely = pd.concat([full, pd.DataFrame([{"species": "macaque", "test_acc": 90.0, "condition": "full"}])])
    r2 = pairwise_tests(lonely)
    assert len(r2) == 6
    single = r2[r2["group_b"] == "macaque"]
    assert single["p"].isna().all() and single["p_holm"].isna().all() and not single["significant"].any()
    tested = r2.dropna(subset=["p"])
    assert np.allclose(tested["p_holm"], holm(tested["p"]))  # Holm over the 3 testable pairs only
    with pytest.raises(ConfigError):
        pairwise_tests(full, method="bootstrap")


# -- wording -------------------------------------------------------------------------------------------


def test_describe_difference_accuracy() -> None:
    row = {"group_a": "human", "group_b": "mouse", "metric": "test_acc", "n_a": 5, "n_b": 5, "diff": 0.4,
           "ci_low": -0.52, "ci_high": 1.32, "p": 0.31, "p_holm": 0.62, "significant": False, "method": "welch",
           "by": "species"}
    assert describe_difference(row) == (
        "The human-mouse difference in test accuracy of 0.40 points (95% CI -0.52 to 1.32) is not significant "
        "(Welch t-test, p = 0.31, Holm-corrected p = 0.62; n = 5 per species).")


def test_describe_difference_says_where_a_metric_was_read_and_keeps_its_unit() -> None:
    row = {"group_a": "gain-T4", "group_b": "gain-BF4", "metric": "test_acc@occ60", "n_a": 5, "n_b": 5,
           "diff": -1.15, "ci_low": -2.0, "ci_high": -0.3, "p": 0.02, "p_holm": 0.08, "significant": False,
           "method": "welch", "by": "condition"}
    assert describe_difference(row).startswith(
        "The gain-T4-gain-BF4 difference in test accuracy at 60% occlusion of -1.15 points (95% CI -2.00 to -0.30)")


def test_describe_difference_loss_significant_unequal_n() -> None:
    row = pd.Series({"group_a": "human", "group_b": "marmoset", "metric": "test_loss", "n_a": 4, "n_b": 3,
                     "diff": -0.0123, "ci_low": -0.0201, "ci_high": -0.0045, "p": 0.0004, "p_holm": 0.012,
                     "significant": True, "method": "permutation", "by": "species"})
    assert describe_difference(row) == (
        "The human-marmoset difference in test loss of -0.0123 (95% CI -0.0201 to -0.0045) is significant "
        "(permutation test, p < 0.001, Holm-corrected p = 0.012; n = 4 human, 3 marmoset).")


def test_describe_difference_from_table() -> None:
    r = pairwise_tests(_results(), within="condition")
    text = describe_difference(r.iloc[1])
    assert text.startswith("The human-mouse difference in test accuracy of 2.65 points (95% CI ")
    assert "is significant (Welch t-test" in text and text.endswith("n = 4 per species).")


def test_permutation_counts_ties_that_rounding_splits() -> None:
    """Accuracies are multiples of 0.01, so splits often tie; counted in exact rational arithmetic, 62 of the 70
    splits are at least as extreme as the observed one (a tie tolerance relative to the observed value finds 60)."""
    from fractions import Fraction

    a, b = [91.2, 91.5, 90.9, 91.1], [91.0, 91.3, 91.4, 90.8]
    pooled = [Fraction(str(v)) for v in a + b]
    observed = abs(sum(pooled[:4]) / 4 - sum(pooled[4:]) / 4)
    count = sum(abs(sum(pooled[i] for i in s) / 4 - sum(pooled[i] for i in range(8) if i not in s) / 4) >= observed
                for s in itertools.combinations(range(8), 4))
    assert count == 62 and permutation_test(a, b) == pytest.approx(count / 70, abs=1e-15)


def test_groups_in_order_keep_first_appearance_and_nan_keys_and_no_keys_is_one_group() -> None:
    df = pd.DataFrame({"species": ["mouse", "macaque", "mouse", None], "acc": [1.0, 2.0, 3.0, 4.0]})
    groups = groups_in_order(df, ["species"])
    assert [k for k, _ in groups][:2] == [("mouse",), ("macaque",)]  # not sorted: mouse came first
    assert len(groups) == 3 and pd.isna(groups[2][0][0]) and groups[2][1]["acc"].tolist() == [4.0]
    assert groups[0][1]["acc"].tolist() == [1.0, 3.0]
    (key, whole), = groups_in_order(df, ())
    assert key == () and whole is df
