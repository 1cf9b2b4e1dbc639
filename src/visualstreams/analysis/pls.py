"""Partial least squares regression, as scikit-learn's ``PLSRegression(scale=False)`` computes it (Brain-Score's
neural-predictivity regression), iterated on a small matrix.

scikit-learn's NIPALS finds each component's weights by a power method that multiplies the whole deflated ``X``
(n x p) and ``Y`` (n x q) four times an iteration, hundreds of iterations a component: 2,880 x 1,000 fits, 120 a
run on a MajajHong2015-sized recording, took minutes a run. Its iterates, though, depend on ``X`` and ``Y`` only
through ``C = X'Y``: from its start ``w_1 = C e_j / |C e_j|`` (``e_j``: the first column of ``Y`` that is not
zero), every step is ``w <- C C' w / |C C' w|``, every scale in between being positive and normalised away. So
:func:`fit_pls` runs those same iterates in the smaller of ``C'C`` (q x q, carrying ``w = C u``) and ``C C'``
(p x p), with scikit-learn's start, stopping rule (``|w_i - w_(i-1)|^2 < tol``), cap (500) and sign flip. Nor is
``X`` deflated: with ``X_k = X - T P'`` (the scores and loadings so far), ``X_k w = X w - T (P'w)``,
``X_k't = X't - P (T't)`` and ``C_(k+1) = C_k - (t't) p q'``, all exact for any X (``T't`` vanishes in exact
arithmetic; it is kept because in floating point it does not); ``C'C`` or ``CC'`` follows ``C`` by its rank-two
update, formed anew where that has lost its trace to cancellation.
Scores, loadings, rotations and coefficients are scikit-learn's. The predictions agree with scikit-learn's to
rounding (tested: the same iterations per component, predictions to 1e-8 of their scale; at most 3e-12 measured over
random fits), many times faster (BENCHMARKS.md), with two exceptions. Past X's rank (fewer
independent features than components, as dead units can leave) scikit-learn's scores are rounding noise and it
divides by their square (predictions of 1e15 seen): :func:`fit_pls` stops there instead, which gives scikit-learn's
fit with as many components as the rank (tested). And a target column that is constant but for rounding (its centred
values above scikit-learn's 10 x eps) is where both start, from noise that the two products round differently, so
they differ there (3e-4 of the scale in a constructed case; a silent neuron's zeros centre exactly and are zeroed,
as scikit-learn does). No kept library runs NIPALS on the cross-product, hence this module. Imports NumPy, SciPy
and threadpoolctl (scikit-learn's).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.linalg import pinv
from threadpoolctl import ThreadpoolController

MAX_ITER = 500  # scikit-learn's power-method cap and tolerance (PLSRegression's defaults)
TOL = 1e-06

__all__ = ["PLSFit", "fit_pls"]


@dataclass(frozen=True)
class PLSFit:
    """A fitted PLS regression: ``predict(x) = (x - x_mean) @ coef + y_mean``, as scikit-learn predicts.
    ``n_iter``: the power method's iterations per component (scikit-learn's ``n_iter_``)."""

    x_mean: np.ndarray
    y_mean: np.ndarray
    coef: np.ndarray  # (p, q)
    n_iter: tuple[int, ...]

    def predict(self, x: np.ndarray) -> np.ndarray:
        # as scikit-learn: a float32 input is centred in float32, then multiplied by the float64 coefficients
        x = np.array(x, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64, copy=True)
        x -= self.x_mean
        return x @ self.coef + self.y_mean


def fit_pls(x: np.ndarray, y: np.ndarray, n_components: int, max_iter: int = MAX_ITER,
            tol: float = TOL) -> PLSFit:
    """PLS regression of ``y`` (n, q) on ``x`` (n, p) with ``n_components`` components, unscaled (scikit-learn's
    ``PLSRegression(n_components, scale=False)``, NIPALS, regression deflation)."""
    xk = np.array(x, dtype=np.float64, copy=True)
    yk = np.array(y, dtype=np.float64, copy=True).reshape(len(xk), -1)
    n, p = xk.shape
    q = yk.shape[1]
    if n < 2:
        raise ValueError(f"PLS needs 2 samples or more, got {n}")
    if not 1 <= n_components <= min(n, p):
        raise ValueError(f"n_components must be 1 to {min(n, p)}, got {n_components}")
    x_mean, y_mean = xk.mean(axis=0), yk.mean(axis=0)
    xk -= x_mean
    yk -= y_mean
    weights, x_loadings, y_loadings = (np.zeros((m, n_components)) for m in (p, p, q))
    scores = np.zeros((n, n_components))
    # X itself is never deflated (two passes over it a component instead of four): see the module's docstring
    c = xk.T @ yk
    eps = np.finfo(np.float64).eps
    # a score this small is rounding noise: X's rank is spent (NumPy's matrix_rank tolerance, on |X|_F >= |X|_2)
    spent = max(n, p) * eps * np.linalg.norm(xk)
    n_iter = []
    gram, zeroed = None, np.zeros(q, dtype=bool)
    for k in range(n_components):
        zero = np.all(np.abs(yk) < 10 * eps, axis=0)  # scikit-learn zeroes the columns that are all but zero
        yk[:, zero] = 0.0
        c[:, zero] = 0.0
        start = np.flatnonzero(np.any(np.abs(yk) > eps, axis=0))
        if not len(start):  # "y residual is constant": scikit-learn stops adding components
            break
        if gram is None or (zero & ~zeroed).any():  # formed (threaded: up to p^2 q), then updated below
            gram = c.T @ c if q <= p else c @ c.T
        zeroed |= zero
        # One BLAS thread for the iterations: their products are small, and OpenBLAS's threads cost more than they
        # bring there (measured: 10x slower at q = 100 with the other core busy)
        with _blas().limit(limits=1, user_api="blas"):
            w, iterations = _first_weights(c, gram, int(start[0]), max_iter, tol, q == 1)
        w *= np.sign(w[np.argmax(np.abs(w))])  # scikit-learn's sign flip
        t = xk @ w - scores[:, :k] @ (x_loadings[:, :k].T @ w)
        tt = t @ t
        if not np.sqrt(tt) > spent:  # (or not a number)
            # scikit-learn goes on, dividing rounding noise by its square (predictions of 1e15 seen); stopping
            # here gives scikit-learn's fit with as many components as X's rank (tested)
            break
        n_iter.append(iterations)
        pk = (t @ xk - x_loadings[:, :k] @ (scores[:, :k].T @ t)) / tt
        qk = (t @ yk) / tt
        yk -= np.outer(t, qk)
        # C'C or CC' of the deflated C = C - (t't) p q', by its rank-two update: O(pq), not O(p^2 q)
        side, other = (c.T @ pk, qk) if q <= p else (c @ qk, pk)
        gram -= tt * (np.outer(side, other) + np.outer(other, side)) - tt * tt * (pk @ pk if q <= p else qk @ qk) \
            * np.outer(other, other)
        c -= tt * np.outer(pk, qk)
        size = np.sum(c * c)  # = its trace: where the update has lost that (C shrunk by cancellation), form it anew
        if not abs(np.trace(gram) - size) <= 1e-9 * size:
            gram = None
        weights[:, k], x_loadings[:, k], y_loadings[:, k], scores[:, k] = w, pk, qk, t
    rotations = weights @ pinv(x_loadings.T @ weights, check_finite=False)
    return PLSFit(x_mean, y_mean, rotations @ y_loadings.T, tuple(n_iter))


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def _first_weights(c: np.ndarray, gram: np.ndarray, j: int, max_iter: int, tol: float,
                   single: bool) -> tuple[np.ndarray, int]:
    """scikit-learn's power method for the first left singular vector of ``c`` started from its column ``j``, its
    weights ``w_i`` carried as ``c @ u_i`` (when q <= p, ``gram`` = C'C: one q x q product an iteration) or as
    themselves (``gram`` = CC', p x p). Returns the last iterate, normalised, and the iterations run."""
    p, q = c.shape
    if q <= p:
        x, gx = np.zeros(q), gram[:, j].copy()  # x = e_j; gx = gram @ x, carried so an iteration is one product
        x[j] = 1.0
        norm = np.sqrt(gram[j, j])
    else:
        x = c[:, j].copy()
        gx, norm = None, np.sqrt(x @ x)
    x = x / norm
    if gx is not None:
        gx = gx / norm
    iterations = 1  # the start above is scikit-learn's first iteration
    while not single and iterations < max_iter:
        iterations += 1
        if gx is not None:  # u-space: w = C u, |w|^2 = u' C'C u, so the difference is measured in that metric
            z, gz = gx, gram @ gx  # the next iterate's direction C'C u, and C'C of it
            size = np.sqrt(z @ gz)
            new, gnew = z / size, gz / size
            diff = (new - x) @ (gnew - gx)
            x, gx = new, gnew
        else:
            z = gram @ x  # C C' w
            new = z / np.sqrt(z @ z)
            diff = (new - x) @ (new - x)
            x = new
        if diff < tol:
            break
    w = c @ x if q <= p else x
    return w, iterations
