"""Statistics of a label matrix, per rule and in total (as Snorkel's ``LFAnalysis``).

Only L (n × m, -1 = abstain) and, optionally, the given labels y (n,) with -1 for
unlabeled rows are read; no label model is involved.

Per rule j:

* ``polarity``: the classes it votes for;
* ``coverage``: share of rows where it votes;
* ``overlaps``: share of rows where it and at least one other rule vote;
* ``conflicts``: share of rows where it and a rule voting another class both vote;
* ``accuracy``: share of its votes on labeled rows that equal the given label, with their
  count ``n_labeled`` and a 95 % Wilson interval (None without labeled votes).

Cost: O(n · m · k) time in blocks of rows, O(m · k) memory beyond one block.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..select import wilson_interval

_BLOCK_CELLS = 1 << 22


def analyze(L: np.ndarray, rule_names: Sequence[str], classes: Sequence[str], y: np.ndarray | None = None) -> dict:
    """Per-rule polarity, coverage, overlaps, conflicts and accuracy on the given labels.

    Parameters
    ----------
    L : array of shape (n, m), int, -1 = abstain
    rule_names : sequence of str, length m
    classes : sequence of str, length k; L holds their indices
    y : array of shape (n,), int, optional
        Given labels, -1 = unlabeled.

    Returns
    -------
    dict
        ``rules``: a list of m dicts (``rule``, ``polarity``, ``votes``, ``coverage``,
        ``overlaps``, ``conflicts``, ``n_labeled``, ``n_correct``, ``accuracy``,
        ``accuracy_low``, ``accuracy_high``); ``totals``: ``rows``, ``rules``, ``coverage``,
        ``overlaps``, ``conflicts`` (shares of rows with ≥1 vote, ≥2 votes, disagreeing
        votes), ``labeled`` and ``labeled_covered`` (labeled rows, and those with a vote).
        Plain numbers, strings and lists only: ready for a table or a JSON report.
    """
    L = np.asarray(L)
    if L.ndim != 2 or L.shape[1] != len(rule_names):
        raise InputError(f"L must have shape (n, {len(rule_names)}), one column per rule; got {L.shape}")
    n, m = L.shape
    k = len(classes)
    if n and (L.min() < -1 or L.max() >= k):
        raise InputError(f"L holds codes outside -1..{k - 1} (-1 = abstain, 0..{k - 1} = the {k} classes)")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (n,):
            raise InputError(f"y must have shape ({n},) to match L; got {y.shape}")
    votes = np.zeros(m, np.int64)
    overlaps = np.zeros(m, np.int64)
    conflicts = np.zeros(m, np.int64)
    n_labeled = np.zeros(m, np.int64)
    n_correct = np.zeros(m, np.int64)
    polarity = np.zeros((k, m), bool)
    rows_covered = rows_overlap = rows_conflict = labeled = labeled_covered = 0
    step = max(1, _BLOCK_CELLS // max(m, 1))
    for s in range(0, n, step):
        B = L[s:s + step]
        voted = B >= 0
        nv = voted.sum(axis=1)
        lo = np.where(voted, B, k).min(axis=1)
        conflict = (nv > 1) & (lo != B.max(axis=1))  # the abstain code -1 is below every class
        votes += voted.sum(axis=0)
        overlaps += (voted & (nv > 1)[:, None]).sum(axis=0)
        conflicts += (voted & conflict[:, None]).sum(axis=0)
        for c in range(k):
            polarity[c] |= (B == c).any(axis=0)
        rows_covered += int((nv > 0).sum())
        rows_overlap += int((nv > 1).sum())
        rows_conflict += int(conflict.sum())
        if y is not None:
            yb = y[s:s + step]
            lab = yb >= 0
            n_labeled += (voted & lab[:, None]).sum(axis=0)
            n_correct += ((B == yb[:, None]) & lab[:, None]).sum(axis=0)
            labeled += int(lab.sum())
            labeled_covered += int((lab & (nv > 0)).sum())
    share = (lambda a: float(a) / n) if n else (lambda a: 0.0)
    rules = []
    for j, name in enumerate(rule_names):
        rec = {"rule": name, "polarity": [classes[c] for c in np.flatnonzero(polarity[:, j])],
               "votes": int(votes[j]), "coverage": share(votes[j]), "overlaps": share(overlaps[j]),
               "conflicts": share(conflicts[j]), "n_labeled": int(n_labeled[j]), "n_correct": int(n_correct[j]),
               "accuracy": None, "accuracy_low": None, "accuracy_high": None}
        if n_labeled[j]:
            low, high = wilson_interval(int(n_correct[j]), int(n_labeled[j]))
            rec.update(accuracy=float(n_correct[j] / n_labeled[j]), accuracy_low=float(low), accuracy_high=float(high))
        rules.append(rec)
    totals = {"rows": int(n), "rules": int(m), "coverage": share(rows_covered), "overlaps": share(rows_overlap),
              "conflicts": share(rows_conflict), "labeled": labeled, "labeled_covered": labeled_covered}
    return {"rules": rules, "totals": totals}
