"""Does rsatoolbox agree with visualstreams.analysis.similarity, and how fast is each? (Needs rsatoolbox, which
the project does not depend on: see docs/similarity.md, "rsatoolbox".)

    python3 -m venv /tmp/rsa-venv && /tmp/rsa-venv/bin/pip install torch==2.13.0 rsatoolbox -e .
    OMP_NUM_THREADS=1 /tmp/rsa-venv/bin/python benchmarks/check_rsatoolbox.py
"""

from __future__ import annotations

import time
from importlib.metadata import version

import numpy as np

start = time.perf_counter()
import rsatoolbox  # noqa: E402

import_seconds = time.perf_counter() - start

from visualstreams.analysis.similarity import rdm, rsa, rsa_matrix  # noqa: E402


def main() -> None:
    print(f"rsatoolbox {version('rsatoolbox')}, import {import_seconds:.2f} s")
    rng = np.random.default_rng(0)
    n = 60
    x = np.maximum(rng.standard_normal((n, 200)), 0.0)
    y = np.maximum(x[:, :80] @ rng.standard_normal((80, 150)) + 3.0 * rng.standard_normal((n, 150)), 0.0)
    rdms = [rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(v), method="correlation") for v in (x, y)]
    for v, r in zip((x, y), rdms, strict=True):
        print(f"correlation RDM, max |rsatoolbox - ours| = {np.abs(r.get_vectors()[0] - rdm(v)).max():.2e}")
    for method, compare in (("spearman", "spearman"), ("cosine_cov", "whitened-cosine")):
        theirs = float(rsatoolbox.rdm.compare(rdms[0], rdms[1], method=method)[0, 0])
        ours = rsa(x, y, compare=compare)
        print(f"compare(method={method!r}) = {theirs:.15f}; ours = {ours:.15f}; |diff| = {abs(theirs - ours):.2e}")

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
    print(f"5 x (1000 x 2304) spearman matrix: rsatoolbox {t_theirs:.2f} s, ours {t_ours:.2f} s, "
          f"max |diff| = {np.abs(theirs - ours).max():.2e}")


if __name__ == "__main__":
    main()
