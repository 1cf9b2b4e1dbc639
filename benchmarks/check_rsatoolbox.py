"""Does rsatoolbox agree with visualstreams.analysis.similarity, and how fast is each? (Needs rsatoolbox, which
the project does not depend on: see docs/similarity.md, "rsatoolbox".) Exits non-zero when any RDM or comparison
differs by more than TOLERANCE; tests/test_similarity.py runs ``check`` where rsatoolbox is installed.

    python3 -m venv /tmp/rsa-venv && /tmp/rsa-venv/bin/pip install torch==2.13.0 rsatoolbox -e .
    OMP_NUM_THREADS=1 /tmp/rsa-venv/bin/python benchmarks/check_rsatoolbox.py
"""

from __future__ import annotations

import sys
import time
from importlib.metadata import version

import numpy as np

from visualstreams.analysis.similarity import rdm, rsa, rsa_matrix

# Both sides compute the same float64 formulas; measured disagreement is ~1e-15, so 1e-12 leaves room for BLAS
# and summation order while catching any real difference (a changed formula moves values by far more).
TOLERANCE = 1e-12


def check(x: np.ndarray, y: np.ndarray, tolerance: float = TOLERANCE) -> dict[str, float]:
    """max |rsatoolbox - ours| for the correlation RDMs of x and y and their Spearman and whitened-cosine
    comparisons; raises RuntimeError naming the first quantity that differs by more than ``tolerance``."""
    import rsatoolbox

    rdms = [rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(v), method="correlation") for v in (x, y)]
    diffs = {f"correlation RDM {name}": float(np.abs(r.get_vectors()[0] - rdm(v)).max())
             for name, v, r in zip("xy", (x, y), rdms, strict=True)}
    for method, compare in (("spearman", "spearman"), ("cosine_cov", "whitened-cosine")):
        theirs = float(rsatoolbox.rdm.compare(rdms[0], rdms[1], method=method)[0, 0])
        diffs[f"compare {method}"] = abs(theirs - rsa(x, y, compare=compare))
    _raise_beyond(diffs, tolerance)
    return diffs


def _raise_beyond(diffs: dict[str, float], tolerance: float) -> None:
    for name, d in diffs.items():
        if not d <= tolerance:  # NaN counts as a disagreement
            raise RuntimeError(f"rsatoolbox and visualstreams disagree on {name}: {d:.2e} > {tolerance:.0e}")


def main() -> int:
    start = time.perf_counter()
    import rsatoolbox

    print(f"rsatoolbox {version('rsatoolbox')}, import {time.perf_counter() - start:.2f} s, tolerance {TOLERANCE:.0e}")
    rng = np.random.default_rng(0)
    n = 60
    x = np.maximum(rng.standard_normal((n, 200)), 0.0)
    y = np.maximum(x[:, :80] @ rng.standard_normal((80, 150)) + 3.0 * rng.standard_normal((n, 150)), 0.0)
    try:
        diffs = check(x, y, TOLERANCE)

        # Speed on a network-sized problem: 5 representations of 1000 probes x 2304 features, all pairs.
        reps = [np.maximum(rng.standard_normal((1000, 2304)), 0.0) for _ in range(5)]
        t = time.perf_counter()
        stacked = rsatoolbox.rdm.concat([rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(v), method="correlation")
                                         for v in reps])
        theirs = rsatoolbox.rdm.compare(stacked, stacked, method="spearman")
        t_theirs = time.perf_counter() - t
        t = time.perf_counter()
        ours = rsa_matrix(reps)
        t_ours = time.perf_counter() - t
        diffs["5 x (1000 x 2304) spearman matrix"] = float(np.abs(theirs - ours).max())
        _raise_beyond(diffs, TOLERANCE)
    except RuntimeError as err:
        print(err, file=sys.stderr)
        return 1
    for name, d in diffs.items():
        print(f"{name}: max |rsatoolbox - ours| = {d:.2e}")
    print(f"5 x (1000 x 2304) spearman matrix: rsatoolbox {t_theirs:.2f} s, ours {t_ours:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
