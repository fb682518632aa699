"""Statistics of a label matrix, per rule and in total (as Snorkel's LFAnalysis).

Cost: O(n · m) time and memory beyond L.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..select import wilson_interval


def analyze(L: np.ndarray, rule_names: Sequence[str], classes: Sequence[str], y: np.ndarray | None = None) -> dict:
    """Per-rule polarity, coverage, overlaps, conflicts and accuracy on given labels.

    Parameters
    ----------
    L : (n, m) int, -1 = abstain
    y : (n,) int codes of given labels, -1 unknown (optional)

    Returns
    -------
    dict with ``rules`` (a list of per-rule dicts) and ``totals``.
    """
    L = np.asarray(L)
    n, m = L.shape
    voted = L >= 0
    n_votes = voted.sum(axis=1)
    # a row is in conflict when two voting rules disagree
    lo = np.where(voted, L, np.iinfo(L.dtype).max).min(axis=1)
    hi = np.where(voted, L, -1).max(axis=1)
    conflict_row = (n_votes > 1) & (lo != hi)
    labeled = (y >= 0) if y is not None else np.zeros(n, bool)
    rows = []
    for j, name in enumerate(rule_names):
        v = voted[:, j]
        polarity = sorted(classes[c] for c in np.unique(L[v, j]))
        rec = {
            "rule": name,
            "polarity": polarity,
            "coverage": float(v.mean()) if n else 0.0,
            "overlaps": float((v & (n_votes > 1)).mean()) if n else 0.0,
            "conflicts": float((v & conflict_row).mean()) if n else 0.0,
        }
        on_labeled = v & labeled
        k = int(on_labeled.sum())
        if k:
            correct = int((L[on_labeled, j] == y[on_labeled]).sum())
            low, high = wilson_interval(correct, k)
            rec.update({"accuracy": correct / k, "accuracy_low": low, "accuracy_high": high, "n_labeled": k})
        else:
            rec.update({"accuracy": None, "n_labeled": 0})
        rows.append(rec)
    totals = {
        "rows": int(n),
        "rules": int(m),
        "coverage": float((n_votes > 0).mean()) if n else 0.0,
        "overlaps": float((n_votes > 1).mean()) if n else 0.0,
        "conflicts": float(conflict_row.mean()) if n else 0.0,
    }
    return {"rules": rows, "totals": totals}
