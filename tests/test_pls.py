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
