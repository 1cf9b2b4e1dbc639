"""The comparison report's section on pairwise tests (species within each condition, conditions within each species):
a summary count, one sentence per pair, and the table with every number."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import metrics
from ..analysis.stats import describe_difference
from ..format import MISSING, format_metric, format_p
from .document import Document, as_int, truthy

N1_NOTE = ("With n = 1 (a single seed) there is no confidence interval and no test: n = 1 cannot separate "
           "seed-to-seed noise from a difference between species or conditions.")


def section_tests(doc: Document, ex: Any) -> None:
    """Section 4 of the comparison report: every pair of species (within a condition) and of conditions (within a
    species) compared across seeds, in words and as a table."""
    doc.heading(2, "4. Tests")
    tests = ex.tests
    if not len(tests):
        if len(ex.species) <= 1 and len(ex.modes) <= 1:
            why = "there is one species and one condition, so nothing to compare"
        elif not len(ex.ok):
            why = "no run finished"
        else:
            why = "tests.csv holds no comparisons"
        doc.para(f"No pairwise tests: {why}.", cls="note")
        if ex.single_seed():
            doc.para(N1_NOTE, cls="warn")
        return
    doc.para("Each pair is compared with a Welch t-test on the final metric across seeds (difference = first "
             "minus second, 95% CI of the difference, Hedges' g). p-values are Holm-corrected within each family "
             "(one metric within one condition, or one metric within one species); a pair counts as significant when "
             "its Holm-corrected p < 0.05. Significant pairs are flagged and highlighted.", cls="note")
    kind = tests["compare"] if "compare" in tests else tests.get("by", pd.Series("species", index=tests.index))
    tests = tests.assign(_kind=kind.astype(str))
    sig = [truthy(v) for v in tests.get("significant", pd.Series(False, index=tests.index))]
    tests = tests.assign(_sig=sig)
    # Read in order: species comparisons, then conditions; strata as they came; accuracy before loss.
    rank = {m: i for i, m in enumerate(metrics.in_order(tests["metric"]))}
    tests = (tests.assign(_k=(tests["_kind"] != "species").astype(int), _m=tests["metric"].map(rank),
                          _i=np.arange(len(tests)))
             .sort_values(["_k", "_m", "_i"], kind="stable").reset_index(drop=True))
    testable = pd.to_numeric(tests["p"], errors="coerce").notna() if "p" in tests else tests["_sig"] & False
    short = []
    for kind_name, words in (("species", "species compared within each condition"),
                             ("condition", "conditions compared within each species")):
        mask = tests["_kind"] == kind_name
        if mask.any():
            n_all, n_ok, n_sig = int(mask.sum()), int((mask & testable).sum()), int((mask & tests["_sig"]).sum())
            if n_ok == 0:
                short.append(f"{words}: none of the {n_all} pairs could be tested")
                continue
            untested = f" ({n_all - n_ok} could not be tested)" if n_all > n_ok else ""
            short.append(f"{words}: {n_sig} of {n_ok} pairs significant{untested}")
    doc.para("In short (Holm-corrected, all metrics): " + "; ".join(short) + ".")
    for kind_name, stratum, title, label in (
            ("species", "condition", "Species compared within each condition", "species"),
            ("condition", "species", "Conditions compared within each species", "condition")):
        sub = tests[tests["_kind"] == kind_name]
        if not len(sub):
            continue
        doc.heading(3, title)
        keys = sub[stratum].astype(str) if stratum in sub else pd.Series("", index=sub.index)
        for key in dict.fromkeys(keys):
            part = sub[keys == key].sort_values(["_m", "_i"], kind="stable")
            doc.para(f"Within {stratum} `{key}`:" if key not in ("", "nan") else "All runs:")
            sentences, flags = [], []
            for _, row in part.iterrows():
                text = describe_difference(row, group_label=label)
                sentences.append(f"**Significant:** {text}" if row["_sig"] else text)
                flags.append(bool(row["_sig"]))
            doc.bullets(sentences, flags)
    if ex.single_seed():
        doc.para(N1_NOTE, cls="warn")
    doc.heading(3, "Tests table")
    rows = []
    for _, r in tests.iterrows():
        stratum = "condition" if r["_kind"] == "species" else "species"
        metric = str(r["metric"])
        lo, hi = format_metric(r.get("ci_low"), metric), format_metric(r.get("ci_high"), metric)
        ci = (f"{format_metric(r.get('diff'), metric)} [{lo}, {hi}]"
              if format_metric(r.get("ci_low"), metric) != MISSING else format_metric(r.get("diff"), metric))
        rows.append({
            "compared": r["_kind"], "within": f"{stratum} {r.get(stratum, '')}", "A": r["group_a"],
            "B": r["group_b"], "metric": metric, "n (A, B)": f"{as_int(r['n_a'])}, {as_int(r['n_b'])}",
            "mean A": format_metric(r.get("mean_a"), metric), "mean B": format_metric(r.get("mean_b"), metric),
            "A − B [95% CI]": ci, "Hedges' g": format_metric(r.get("hedges_g"), "hedges_g"), "p": format_p(r.get("p")),
            "p (Holm)": format_p(r.get("p_holm")), "significant": "yes" if r["_sig"] else "no",
        })
    doc.table(pd.DataFrame(rows), highlight=list(tests["_sig"]))
