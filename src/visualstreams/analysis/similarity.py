"""Do the species' networks represent the same things? Linear CKA and RSA within a network and across runs.

A *representation* is the activations of one area on one fixed probe set: an array (numpy, or a torch tensor)
whose first axis is the n probes; any further axes are flattened into features, so a (n, 32, 14, 14) feature
map is n x 6272. Every representation compared with another must be on the same probes, in the same order.

This module holds the measures; :mod:`visualstreams.analysis.representations` the three views (within a
network, across runs, species against seeds) and the activations of trained runs on a fixed probe set.

Why seeds matter: networks that differ only in their random seed already differ in
their intermediate representations (Mehrer et al. 2020, Nat Commun), so a species difference means something only
when it exceeds the seed-to-seed spread. Runs of two species with the same seed share initial weights and look
inflated, so they are left out of the between-species pairs unless asked for.

Computation. Each representation's n x n Gram matrix is computed once, in float64 (features centred first, in
float64, which costs nothing mathematically and avoids cancellation), and every similarity is derived from it:
linear CKA from the (U-)centred Gram, the RDMs from the same Gram plus two n-vectors. Each similarity is then a
cosine between flattened (condensed) n x n matrices, so a whole k x k matrix is one matrix product over the k
stacked vectors. Nothing loops over probes or pairs of probes in Python. Memory: the stack holds k vectors of
n(n-1)/2 float64 per metric (15 runs x 2000 probes: 240 MB); past ``max_bytes`` it is built in blocks, which
recomputes Grams. A torch tensor on a GPU has its Gram computed on that device.

Imports numpy and the errors only (a leaf of the analysis layer).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = [
    "METRICS",
    "cka",
    "cka_matrix",
    "rdm",
    "rsa",
    "rsa_matrix",
    "similarity_matrix",
    "similarity_matrices",
]

ArrayLike = Any  # a numpy array, a torch tensor, or anything np.asarray accepts; shape (n, ...)

#: Similarity metrics: debiased linear CKA, biased linear CKA, RSA by Spearman correlation of RDMs, RSA by
#: whitened cosine of RDMs. RDMs are correlation-distance RDMs unless ``rdm_metric="euclidean"`` is passed.
METRICS = ("cka", "cka-biased", "rsa", "rsa-whitened")
_COMPARES = {"spearman": "rsa", "whitened-cosine": "rsa-whitened"}
_RDM_METRICS = ("correlation", "euclidean")
_PRECISIONS = ("float64", "float32")
_DEFAULT_MAX_BYTES = 2 * 1024**3  # the stacked Gram vectors of one call; above it they are built in blocks
_SQRT2 = math.sqrt(2.0)


# -- Gram matrices -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Gram:
    """What every similarity needs from one representation X (n x p), all float64 numpy.

    ``kc = Xc Xc^T`` with ``Xc = X - mean over samples`` (n x n); ``a = Xc mu`` with ``mu`` the feature means;
    ``mu2 = mu . mu``; ``s`` the raw row sums of X (n). Hence the raw Gram is ``kc + a 1' + 1 a' + mu2``.
    """

    kc: np.ndarray
    a: np.ndarray
    mu2: float
    s: np.ndarray
    p: int

    @property
    def n(self) -> int:
        return self.kc.shape[0]


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach")


def _n_rows(x: ArrayLike) -> int:
    shape = getattr(x, "shape", None)
    if shape is None:
        shape = np.shape(x)
    if len(shape) == 0:
        raise ValueError("a representation must have at least one axis (samples first), got a scalar")
    return int(shape[0])


def _n_features(x: ArrayLike) -> int:
    shape = getattr(x, "shape", None)
    return math.prod(np.shape(x)[1:] if shape is None else tuple(shape)[1:])


def _as_numpy(x: ArrayLike) -> np.ndarray:
    """x as a numpy array, shape (n, features), without copying a float32/float64 CPU array."""
    if _is_torch(x):
        import torch

        t = x.detach().cpu()
        if t.dtype not in (torch.float32, torch.float64):
            t = t.to(torch.float64)
        x = t.numpy()
    arr = np.asarray(x)
    if arr.ndim == 0:
        raise ValueError("a representation must have at least one axis (samples first), got a scalar")
    return arr.reshape(arr.shape[0], -1)


def _gram(x: ArrayLike, precision: str = "float64") -> _Gram:
    """The Gram parts of one representation (n, ...); the Gram product in ``precision``, all else float64."""
    if _is_torch(x) and x.device.type != "cpu":
        import torch

        t = x.detach().reshape(x.shape[0], -1).to(torch.float64)
        s = t.sum(1)
        mu = t.mean(0)
        tc = t - mu
        a = tc @ mu
        tk = tc.to(torch.float32) if precision == "float32" else tc
        kc = (tk @ tk.T).to(torch.float64)
        parts = _Gram(kc.cpu().numpy(), a.cpu().numpy(), float(mu @ mu), s.cpu().numpy(), int(t.shape[1]))
    else:
        xc = np.array(_as_numpy(x), dtype=np.float64)  # a copy: centred in place below
        s = xc.sum(1)
        mu = xc.mean(0)
        xc -= mu
        a = xc @ mu
        if precision == "float32":
            x32 = xc.astype(np.float32)
            kc = (x32 @ x32.T).astype(np.float64)  # X @ X.T of one buffer: numpy calls BLAS syrk (half the work)
        else:
            kc = xc @ xc.T
        parts = _Gram(kc, a, float(mu @ mu), s, int(xc.shape[1]))
    if not (np.isfinite(parts.s).all() and np.isfinite(parts.kc).all()):
        raise ValueError("activations contain NaN or infinite values")
    return parts


def gram_parts(x: ArrayLike, precision: str = "float64") -> _Gram:
    """What every similarity of this module needs from one representation (n, ...): its n x n Gram parts. Kept
    instead of the activations, they give RSA and CKA exactly where the activations themselves are reduced."""
    return _gram(x, precision)


@functools.lru_cache(maxsize=4)
def _upper(n: int) -> np.ndarray:
    """Flat indices of the strict upper triangle of an n x n matrix, row-major (scipy's condensed order)."""
    return np.flatnonzero(np.triu(np.ones((n, n), dtype=bool), 1))


def _condensed(m: np.ndarray) -> np.ndarray:
    return np.take(m.ravel(), _upper(m.shape[0]))


def _sym_vector(m: np.ndarray) -> np.ndarray:
    """A vector v of symmetric m with ``v . v' = <m, m'>_F``: sqrt(2) x strict upper triangle, then the diagonal."""
    return np.concatenate([_SQRT2 * _condensed(m), np.diag(m)])


def _centre_gram(g: _Gram, debiased: bool) -> np.ndarray:
    """HKH (biased) or the U-centred Gram of Song et al. 2012 / Szekely & Rizzo (debiased), n x n."""
    n = g.n
    k = g.kc.copy()
    if debiased:
        # Kornblith et al.'s center_gram(unbiased=True): zero the diagonal, remove row/column means with the
        # U-statistic weights, zero the diagonal again. <U(K), U(L)> = n (n - 3) HSIC_1(K, L).
        np.fill_diagonal(k, 0.0)
        means = k.sum(0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        k -= means[:, None]
        k -= means[None, :]
        np.fill_diagonal(k, 0.0)
    else:
        means = k.mean(0)  # ~0 already (features were centred); this makes HKH exact to rounding
        means -= means.mean() / 2
        k -= means[:, None]
        k -= means[None, :]
    return k


def _rdm_square(g: _Gram, metric: str) -> np.ndarray:
    """Square n x n RDM from the Gram parts (zero diagonal)."""
    if metric == "correlation":
        d = g.kc + g.a[:, None]  # the raw Gram X X^T, built in place (n x n temporaries dominate the cost)
        d += g.a[None, :]
        d += g.mu2
        raw_diag = np.diag(d).copy()
        d -= np.outer(g.s, g.s / g.p)  # Gram of the patterns after removing each pattern's own mean
        var = np.diag(d).copy()
        bad = var <= 1e-10 * np.abs(raw_diag)
        if bad.any():
            raise ValueError(f"{int(bad.sum())} probe(s) have a constant activity pattern across features; "
                             "their correlation distance is undefined")
        inv = 1.0 / np.sqrt(var)
        d *= inv[:, None]
        d *= inv[None, :]
        np.subtract(1.0, d, out=d)  # 1 - r
    else:
        sq = np.diag(g.kc)
        d = g.kc * -2.0
        d += sq[:, None]
        d += sq[None, :]
        np.maximum(d, 0.0, out=d)
        np.sqrt(d, out=d)
    np.fill_diagonal(d, 0.0)
    return d


def _rankdata(v: np.ndarray) -> np.ndarray:
    """Ranks 1..m of a 1-D array, ties given their average rank (as scipy.stats.rankdata's default)."""
    order = np.argsort(v)  # ties are averaged below, so a stable sort is not needed
    sv = v[order]
    new = np.empty(sv.size, dtype=bool)
    new[:1] = True
    np.not_equal(sv[1:], sv[:-1], out=new[1:])
    ranks = np.empty(v.size, dtype=np.float64)
    if new.all():  # no ties, the usual case for distances
        ranks[order] = np.arange(1, v.size + 1, dtype=np.float64)
        return ranks
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], sv.size]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def _vector(g: _Gram, metric: str, rdm_metric: str) -> np.ndarray:
    """The vector whose cosine with another representation's vector is the similarity ``metric``."""
    if metric == "cka":
        return _condensed(_centre_gram(g, debiased=True))  # zero diagonal: the sqrt(2) factor cancels
    if metric == "cka-biased":
        return _sym_vector(_centre_gram(g, debiased=False))
    d = _rdm_square(g, rdm_metric)
    if metric == "rsa":
        ranks = _rankdata(_condensed(d))
        return ranks - ranks.mean()  # cosine of centred ranks = Pearson of ranks = Spearman
    m = d.mean(0)  # rsa-whitened: second-moment matrix G = -1/2 H D H, diagonal included
    return _sym_vector(-0.5 * (d - m[:, None] - m[None, :] + m.mean()))


def _vector_length(metric: str, n: int) -> int:
    return n * (n - 1) // 2 + (n if metric in ("cka-biased", "rsa-whitened") else 0)


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ConfigError(f"unknown similarity metric {metric!r}; choose from {', '.join(METRICS)}")
    return metric


def _metric_name(metric: str, debiased: bool | None = None, compare: str | None = None) -> str:
    """Resolve ``metric`` plus the ``debiased`` / ``compare`` spellings to one of METRICS."""
    if metric == "cka" and debiased is False:
        return "cka-biased"
    if metric == "rsa" and compare is not None:
        if compare not in _COMPARES:
            raise ConfigError(f"unknown RDM comparison {compare!r}; choose from {', '.join(_COMPARES)}")
        return _COMPARES[compare]
    return _check_metric(metric)


# -- similarity matrices -------------------------------------------------------------------------------


def similarity_matrices(acts: Sequence[ArrayLike], metrics: Iterable[str] = ("cka",), *,
                        rdm_metric: str = "correlation", precision: str = "float64",
                        max_bytes: int = _DEFAULT_MAX_BYTES) -> dict[str, np.ndarray]:
    """k x k similarity matrices among k representations of the same n probes, one per metric in ``metrics``.

    ``acts``: k arrays, each (n, ...) with the same n. ``metrics``: names from ``METRICS``; all of them are
    derived from one Gram per representation, so asking for CKA and RSA together costs one Gram, not two.
    ``rdm_metric``: the RDM for the RSA metrics, ``"correlation"`` (1 - Pearson r) or ``"euclidean"``.
    ``precision``: ``"float32"`` computes the Gram product (the dominant cost, O(k n^2 p)) in float32, about
    2.5x faster on CPU, from features centred in float64; on 2000 probes x 6272 post-ReLU features the
    similarities moved by < 1e-8. Everything else is float64. ``max_bytes``: memory for the stacked vectors
    (k x n^2/2 float64 per metric); if they need more, they are built in blocks and Grams are recomputed.

    The diagonal is 1. An entry is NaN where a representation has no variance (a constant area), or, for
    debiased CKA, where its unbiased self-HSIC is not positive.
    """
    metric_list = [_check_metric(m) for m in dict.fromkeys(metrics)]
    if not metric_list:
        raise ConfigError("no similarity metric given")
    if rdm_metric not in _RDM_METRICS:
        raise ConfigError(f"unknown RDM metric {rdm_metric!r}; choose from {', '.join(_RDM_METRICS)}")
    if precision not in _PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose from {', '.join(_PRECISIONS)}")
    reps = list(acts)
    k = len(reps)
    if k == 0:
        return {m: np.zeros((0, 0)) for m in metric_list}
    ns = [_n_rows(x) for x in reps]
    n = ns[0]
    for i, ni in enumerate(ns):
        if ni != n:
            raise ValueError(f"representation {i} has {ni} samples but representation 0 has {n}; "
                             "all must be activations on the same probes")
    need = 4 if "cka" in metric_list else 3 if any(m.startswith("rsa") for m in metric_list) else 2
    if n < need:
        raise ValueError(f"{' and '.join(metric_list)} need at least {need} samples, got {n}")

    lengths = {m: _vector_length(m, n) for m in metric_list}
    per_rep = 8 * sum(lengths.values())
    block = k if k * per_rep <= max_bytes else max(1, int(max_bytes // (2 * per_rep)))
    blocks = [list(range(i, min(i + block, k))) for i in range(0, k, block)]

    def stack(idx: list[int]) -> dict[str, np.ndarray]:
        out = {m: np.empty((len(idx), lengths[m])) for m in metric_list}
        for row, i in enumerate(idx):
            g = _gram(reps[i], precision)
            for m in metric_list:
                out[m][row] = _vector(g, m, rdm_metric)
        return out

    dots = {m: np.zeros((k, k)) for m in metric_list}
    for bi, rows in enumerate(blocks):
        vi = stack(rows)
        for m in metric_list:
            dots[m][np.ix_(rows, rows)] = vi[m] @ vi[m].T
        for cols in blocks[bi + 1:]:
            vj = stack(cols)
            for m in metric_list:
                cross = vi[m] @ vj[m].T
                dots[m][np.ix_(rows, cols)] = cross
                dots[m][np.ix_(cols, rows)] = cross.T
    return {m: _normalise(dots[m]) for m in metric_list}


def cross_similarity(acts_a: Sequence[ArrayLike], acts_b: Sequence[ArrayLike], metrics: Iterable[str] = ("cka",), *,
                     rdm_metric: str = "correlation", precision: str = "float64") -> dict[str, np.ndarray]:
    """len(a) x len(b) similarity matrices between two lists of representations of the same n probes: the same
    numbers as the a-b block of :func:`similarity_matrices` over a + b, with every Gram computed once and the
    b side's vectors held (a few b against many a: each recorded region against every run's areas). A
    representation may be given as its :func:`gram_parts` (computed where the full activations were at hand)."""
    metric_list = [_check_metric(m) for m in dict.fromkeys(metrics)]
    if not metric_list:
        raise ConfigError("no similarity metric given")
    if not len(acts_a) or not len(acts_b):
        return {m: np.zeros((len(acts_a), len(acts_b))) for m in metric_list}

    def vectors(x: ArrayLike | _Gram) -> dict[str, np.ndarray]:
        g = x if isinstance(x, _Gram) else _gram(x, precision)
        return {m: _vector(g, m, rdm_metric) for m in metric_list}

    right = [vectors(y) for y in acts_b]
    out = {m: np.full((len(acts_a), len(acts_b)), np.nan) for m in metric_list}
    for i, x in enumerate(acts_a):
        left = vectors(x)
        for m in metric_list:
            self_a = float(left[m] @ left[m])
            for j, vb in enumerate(right):
                self_b = float(vb[m] @ vb[m])
                if self_a > 0 and self_b > 0:
                    out[m][i, j] = float(left[m] @ vb[m]) / np.sqrt(self_a * self_b)
    return out


def _normalise(dots: np.ndarray) -> np.ndarray:
    """Cosines from a matrix of inner products; NaN where a self inner product is not positive."""
    diag = np.diag(dots).copy()
    ok = diag > 0
    scale = np.where(ok, 1.0 / np.sqrt(np.where(ok, diag, 1.0)), np.nan)
    out = dots * scale[:, None] * scale[None, :]
    out = 0.5 * (out + out.T)
    out[np.diag_indices_from(out)] = np.where(ok, 1.0, np.nan)
    return out


def similarity_matrix(acts: Sequence[ArrayLike], metric: str = "cka", **options: Any) -> np.ndarray:
    """k x k similarity matrix among k representations (each (n, ...), same n) for one metric of ``METRICS``.

    ``metric="cka"`` takes ``debiased=False`` for the biased estimator; ``metric="rsa"`` takes
    ``compare="spearman"`` (default) or ``"whitened-cosine"``. Other options go to ``similarity_matrices``.
    """
    name = _metric_name(metric, options.pop("debiased", None), options.pop("compare", None))
    return similarity_matrices(acts, (name,), **options)[name]


def cka_matrix(acts: Sequence[ArrayLike], *, debiased: bool = True, **options: Any) -> np.ndarray:
    """k x k linear CKA among k representations of the same n probes (each (n, ...)); see ``cka``.

    Each (U-)centred Gram is computed once; the k (k - 1) / 2 Frobenius inner products are one matrix product over
    the stacked condensed Grams. Options (``precision``, ``max_bytes``) as in ``similarity_matrices``.
    """
    return similarity_matrix(acts, "cka" if debiased else "cka-biased", **options)


def cka(X: ArrayLike, Y: ArrayLike, *, debiased: bool = True) -> float:
    """Linear CKA between two representations of the same n samples: X (n, ...) and Y (n, ...), float64.

    ``CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with linear kernels K = X X^T, L = Y Y^T (Kornblith et al.
    2019). ``debiased=True`` uses the unbiased HSIC estimator of Song et al. 2012 (a U-statistic, as in Kornblith's
    and Nguyen et al.'s code), which stays near 0 for independent representations even when features far
    outnumber samples; the biased estimator (``debiased=False``) is then strongly inflated. Invariant to
    orthogonal transforms, isotropic scaling and a mean shift of either representation, not to general invertible
    linear maps.

    Computed from n x n Gram matrices when that is cheaper (features many relative to n), else in feature space
    with the same estimator written out (biased: ||Yc' Xc||_F^2 / (||Xc' Xc||_F ||Yc' Yc||_F)). NaN when a
    representation has no variance. Raises ValueError on different n, or n < 4 for the debiased estimator
    (n < 2 for the biased one).
    """
    nx, ny = _n_rows(X), _n_rows(Y)
    if nx != ny:
        raise ValueError(f"X has {nx} samples and Y has {ny}; CKA needs the same samples in both")
    need = 4 if debiased else 2
    if nx < need:
        raise ValueError(f"{'debiased' if debiased else 'biased'} CKA needs at least {need} samples, got {nx}")
    n, p, q = nx, _n_features(X), _n_features(Y)
    if p * q + p * p + q * q >= n * (p + q):  # cost of the feature route vs the Gram route
        return float(cka_matrix([X, Y], debiased=debiased)[0, 1])
    return _cka_features(_as_numpy(X), _as_numpy(Y), debiased)


def _cka_features(x: np.ndarray, y: np.ndarray, debiased: bool) -> float:
    """Linear CKA in feature space, (n, p) and (n, q) inputs: O(n (p + q)^2) instead of O(n^2 (p + q))."""
    n = x.shape[0]
    xc = np.array(x, dtype=np.float64)
    yc = np.array(y, dtype=np.float64)
    if not (np.isfinite(xc).all() and np.isfinite(yc).all()):
        raise ValueError("activations contain NaN or infinite values")
    xc -= xc.mean(0)
    yc -= yc.mean(0)

    def fro2(a: np.ndarray, b: np.ndarray) -> float:  # tr(K L) = ||A' B||_F^2 for K = A A', L = B B'
        return float(np.sum((a.T @ b) ** 2))

    if not debiased:
        hsic = {(0, 1): fro2(xc, yc), (0, 0): fro2(xc, xc), (1, 1): fro2(yc, yc)}
    else:
        # HSIC_1 of Song et al. 2012 times n (n - 3), with K~ = K minus its diagonal, never forming K:
        # tr(K~ L~) + (1'K~1)(1'L~1) / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1.
        mats = (xc, yc)
        diag = [np.einsum("ij,ij->i", m, m) for m in mats]
        rows = [m @ m.sum(0) - d for m, d in zip(mats, diag, strict=True)]  # K~ 1

        def hsic1(i: int, j: int) -> float:
            tr = fro2(mats[i], mats[j]) - float(diag[i] @ diag[j])
            return (tr + rows[i].sum() * rows[j].sum() / ((n - 1) * (n - 2))
                    - 2.0 / (n - 2) * float(rows[i] @ rows[j]))

        hsic = {(0, 1): hsic1(0, 1), (0, 0): hsic1(0, 0), (1, 1): hsic1(1, 1)}
    denom = hsic[(0, 0)] * hsic[(1, 1)]
    return float(hsic[(0, 1)] / math.sqrt(denom)) if hsic[(0, 0)] > 0 and hsic[(1, 1)] > 0 else math.nan


def rdm(X: ArrayLike, metric: str = "correlation", *, square: bool = False) -> np.ndarray:
    """Representational dissimilarity matrix of X (n probes, ...): distances between the probes' activity patterns.

    ``metric="correlation"``: 1 - Pearson r between the patterns of two probes (each pattern centred on its own
    mean over features), as scipy's ``pdist(metric="correlation")`` and rsatoolbox's ``calc_rdm(method=
    "correlation")``; ``"euclidean"``: Euclidean distance between patterns. Returns the condensed vector of the
    n (n - 1) / 2 distances in ``pdist`` order (row-major upper triangle), or the n x n matrix with ``square=True``.
    Computed from one n x n Gram product, float64. ValueError if a probe's pattern is constant (correlation).
    """
    if metric not in _RDM_METRICS:
        raise ConfigError(f"unknown RDM metric {metric!r}; choose from {', '.join(_RDM_METRICS)}")
    d = _rdm_square(_gram(X), metric)
    return d if square else _condensed(d)


def rsa_matrix(acts: Sequence[ArrayLike], *, compare: str = "spearman", rdm_metric: str = "correlation",
               **options: Any) -> np.ndarray:
    """k x k RSA among k representations of the same n probes (each (n, ...)): RDMs compared pairwise.

    ``compare="spearman"``: Spearman correlation between the RDMs' upper triangles, each RDM ranked once (ties
    averaged) and all pairs then one matrix product of centred ranks. ``compare="whitened-cosine"``: the whitened
    cosine of rsatoolbox's ``compare(method="cosine_cov")`` without a noise model (sigma_k = identity), which is
    what its code computes in that case: each RDM D becomes its second-moment matrix G = -1/2 H D H (H the
    centring matrix; diagonal kept, off-diagonal entries weighted twice) and the similarity is the cosine
    <G1, G2>_F / (||G1||_F ||G2||_F). For correlation-distance RDMs this equals the biased linear CKA between the
    representations after standardising each probe's pattern (D = 1 - Z Z^T), so it is a CKA-like measure, not an
    independent one. ``rdm_metric`` and further options as in ``similarity_matrices``.
    """
    return similarity_matrix(acts, "rsa", compare=compare, rdm_metric=rdm_metric, **options)


def rsa(X: ArrayLike, Y: ArrayLike, *, compare: str = "spearman", rdm_metric: str = "correlation") -> float:
    """RSA between two representations of the same n >= 3 probes, X (n, ...) and Y (n, ...); see ``rsa_matrix``."""
    return float(rsa_matrix([X, Y], compare=compare, rdm_metric=rdm_metric)[0, 1])
