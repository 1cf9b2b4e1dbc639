"""The PLS regression predict uses is scikit-learn's PLSRegression(scale=False), Brain-Score's regression: the same
power-method iterations per component and the same predictions, on every shape the two branches of its iteration
take (fewer targets than features, more, one), at its iteration cap, and on a target with nothing to explain."""

import warnings

import numpy as np
import pytest
from sklearn.cross_decomposition import PLSRegression

from visualstreams.analysis.pls import fit_pls


def _data(n: int, p: int, q: int, seed: int = 0, dtype=np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features with a low-dimensional structure and rectified, as a network's are; targets that read part of it
    through noise, as neurons do; 20 held-out rows."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n + 20, 12))
    x = np.maximum(z @ rng.standard_normal((12, p)), 0) + 0.5 * rng.standard_normal((n + 20, p))
    y = z[:, :6] @ rng.standard_normal((6, q)) + 2 * rng.standard_normal((n + 20, q))
    return x[:n].astype(dtype), y[:n].astype(dtype), x[n:].astype(dtype)


def _sklearn(x, y, k, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PLSRegression(n_components=k, scale=False, **kw).fit(x, y)


@pytest.mark.parametrize(("n", "p", "q", "k"), [
    (150, 60, 12, 25),  # fewer targets than features: iterated in the targets' space
    (150, 40, 90, 25),  # more targets than features: in the features' space
    (80, 30, 1, 10),  # one target: scikit-learn stops at the first iterate
    (60, 70, 45, 25),  # more features than stimuli, as the row-space reduction gives
])
def test_the_same_iterations_and_predictions_as_scikit_learn(n, p, q, k):
    x, y, held_out = _data(n, p, q)
    theirs = _sklearn(x, y, k)
    ours = fit_pls(x, y, k)
    assert list(ours.n_iter) == list(theirs.n_iter_)
    assert sum(ours.n_iter) > k or q == 1  # it iterated (one target: scikit-learn stops at the start)
    want = theirs.predict(held_out).reshape(len(held_out), -1)
    got = ours.predict(held_out)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8 * np.abs(want).max())
    np.testing.assert_allclose(ours.coef, theirs.coef_.T, rtol=0, atol=1e-8 * np.abs(theirs.coef_).max())


def test_float64_input_and_the_iteration_cap_as_scikit_learn():
    x, y, held_out = _data(120, 50, 30, seed=3, dtype=np.float64)
    theirs = _sklearn(x, y, 8, max_iter=3)
    ours = fit_pls(x, y, 8, max_iter=3)
    assert max(ours.n_iter) == 3 and list(ours.n_iter) == list(theirs.n_iter_)
    np.testing.assert_allclose(ours.predict(held_out), theirs.predict(held_out), rtol=0,
                               atol=1e-8 * np.abs(theirs.predict(held_out)).max())


@pytest.mark.parametrize("dead", [0, 7])
def test_past_the_features_rank_it_is_scikit_learns_fit_at_the_rank(dead):
    """Rank 3 (three latent features mixed), or 30 features of which ``dead`` are all zero, as dead units leave:
    with more components than the rank, the fit is scikit-learn's with as many components as the rank (scikit-learn
    itself goes on into rounding noise)."""
    rng = np.random.default_rng(5)
    if dead:
        x, y, held_out = _data(120, 30, 9, seed=5)
        x[:, :dead] = 0.0
        held_out[:, :dead] = 0.0
        rank = 30 - dead
    else:
        z = rng.standard_normal((170, 3))
        mixed = z @ rng.standard_normal((3, 40))  # 40 features, rank 3
        x, held_out = mixed[:150], mixed[150:]
        y = z[:150] @ rng.standard_normal((3, 8)) + 0.3 * rng.standard_normal((150, 8))
        rank = 3
    assert np.linalg.matrix_rank(x - x.mean(0)) == rank
    ours = fit_pls(x, y, 25 if dead else 10)
    theirs = _sklearn(x, y, rank)
    assert list(ours.n_iter) == list(theirs.n_iter_)
    want = theirs.predict(held_out)
    np.testing.assert_allclose(ours.predict(held_out), want, rtol=0, atol=1e-8 * np.abs(want).max())


def test_a_first_target_column_of_zeros_or_below_ten_eps_is_passed_over_as_by_scikit_learn():
    """scikit-learn zeroes a column whose centred values are all under 10 x eps and starts its power method at the
    first column with a value over eps: a column of +-1e-15 (between the two) is zeroed, not started from; one of
    +-1e-12 is started from."""
    x, y, held_out = _data(100, 40, 6, seed=7, dtype=np.float64)
    for size in (0.0, 1e-15, 1e-12):
        first = np.where(np.arange(100) % 2, size, -size)
        y[:, 0] = first
        theirs, ours = _sklearn(x, y, 10), fit_pls(x, y, 10)
        assert list(ours.n_iter) == list(theirs.n_iter_)
        want = theirs.predict(held_out)
        np.testing.assert_allclose(ours.predict(held_out), want, rtol=0, atol=1e-8 * np.abs(want).max())


def test_a_constant_target_has_no_component_and_predicts_its_mean():
    x, _, held_out = _data(50, 20, 1, seed=1)
    y = np.full((50, 3), 2.5, dtype=np.float32)
    theirs = _sklearn(x, y, 5)
    ours = fit_pls(x, y, 5)
    assert ours.n_iter == () and len(theirs.n_iter_) == 0
    np.testing.assert_allclose(ours.predict(held_out), 2.5, atol=1e-12)
    np.testing.assert_allclose(ours.predict(held_out), theirs.predict(held_out), atol=1e-12)


def test_more_components_than_the_features_allow_is_refused():
    x, y, _ = _data(30, 5, 2)
    with pytest.raises(ValueError, match="n_components must be 1 to 5"):
        fit_pls(x, y, 6)
