"""Given labels that are probably wrong, from out-of-fold probabilities (confident learning).

Notation: m labeled rows, k classes. ``P`` (m, k) must be *out-of-sample* for every row
(e.g. the selection step's out-of-fold probabilities, ``Selection.scores[name].oof_proba``):
in-sample probabilities have memorised the given labels, wrong ones included, and find
nothing.

Confident learning (Northcutt, Jiang & Chuang 2021, "Confident Learning: Estimating
Uncertainty in Dataset Labels"): the threshold of class j is the mean probability of j over
the rows labeled j. A row is *confidently* of class j when ``P[i, j] >= t_j``, and of the
most probable such class when several are. The confident joint C[given, true] counts those
rows; calibrated so each row sums to the given class's count, its off-diagonal entries
estimate how many labels of class i are really j.

Methods (``method=``):

* ``confident_joint``: the rows off the diagonal of the confident joint.
* ``prune_by_noise_rate`` (default): for each (i, j ≠ i), the round(Q[i, j]) rows labeled i
  with the largest margin P[:, j] − P[:, i] (cleanlab's default filter).
* ``both``: rows both methods flag (the paper's C_both), more conservative. It was the
  first default; on the bench (BENCHMARKS.md section 10) it lost recall to the pruning
  without gaining precision.

With every method, a row whose most probable class is its given label is not flagged (as
in cleanlab's ``find_label_issues``).

Cost: O(m·k) for the thresholds and the joint, O(k² · m log m) for the pruning, O(m·k) memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, InputError
from ..validation import check_proba


@dataclass
class LabelIssues:
    """Suspected label errors among m labeled rows.

    Attributes
    ----------
    suspect : (m,) bool, True where the given label is probably wrong
    suggested : (m,) int, the class the probabilities favour (argmax)
    quality : (m,) float, the probability of the given label (self-confidence; low = suspect)
    thresholds : (k,) float, per-class thresholds t_j (NaN for a class with no label)
    confident_joint : (k, k) int, C[given, confident class]
    method : the method used
    """

    suspect: np.ndarray
    suggested: np.ndarray
    quality: np.ndarray
    thresholds: np.ndarray
    confident_joint: np.ndarray
    method: str

    def ranked(self) -> np.ndarray:
        """Indices of the suspects, the least likely given label first."""
        idx = np.flatnonzero(self.suspect)
        return idx[np.argsort(self.quality[idx], kind="stable")]


def _confident_class(P: np.ndarray, y: np.ndarray, k: int):
    counts = np.bincount(y, minlength=k)
    sums = np.zeros(k)
    np.add.at(sums, y, P[np.arange(len(y)), y])
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    above = P >= np.where(np.isnan(t), np.inf, t - 1e-12)[None, :]
    masked = np.where(above, P, -np.inf)
    conf = masked.argmax(axis=1)
    has = above.any(axis=1)
    return t, conf, has


def confident_joint(P: np.ndarray, y: np.ndarray, k: int):
    """(thresholds (k,), confident class per row (m,), whether it has one (m,), C (k, k)). O(m·k)."""
    t, conf, has = _confident_class(P, y, k)
    C = np.zeros((k, k), dtype=np.int64)
    np.add.at(C, (y[has], conf[has]), 1)
    return t, conf, has, C


def _prune_by_noise_rate(P, y, C, k):
    counts = np.bincount(y, minlength=k).astype(np.float64)
    rows = C.sum(axis=1, keepdims=True).astype(np.float64)
    Q = np.where(rows > 0, C / np.maximum(rows, 1) * counts[:, None], 0.0)  # calibrated joint
    flag = np.zeros(len(y), dtype=bool)
    for i in range(k):
        members = np.flatnonzero(y == i)
        if len(members) == 0:
            continue
        # keep at least one row of each given class
        budget = len(members) - 1
        for j in np.argsort(-Q[i], kind="stable"):
            if j == i or budget <= 0:
                continue
            num = int(min(round(Q[i, j]), budget))
            if num <= 0:
                continue
            free = members[~flag[members]]
            margin = P[free, j] - P[free, i]
            pick = free[np.argsort(-margin, kind="stable")[:num]]
            flag[pick] = True
            budget -= len(pick)
    return flag


def _method_confident_joint(P, y, k, conf, has, C):
    return has & (conf != y)


def _method_prune(P, y, k, conf, has, C):
    return _prune_by_noise_rate(P, y, C, k)


def _method_both(P, y, k, conf, has, C):
    return _method_confident_joint(P, y, k, conf, has, C) & _method_prune(P, y, k, conf, has, C)


METHODS = {"prune_by_noise_rate": _method_prune, "both": _method_both,
           "confident_joint": _method_confident_joint}


def find_label_issues(P, y, *, method: str = "prune_by_noise_rate") -> LabelIssues:
    """Suspected wrong labels among labeled rows.

    Parameters
    ----------
    P : array of shape (m, k)
        Out-of-sample probabilities of the m labeled rows (out-of-fold; never in-sample).
    y : array of shape (m,)
        Given class codes 0..k-1.
    method : "prune_by_noise_rate" (default), "both" or "confident_joint"

    Returns
    -------
    LabelIssues
    """
    if method not in METHODS:
        raise ConfigError(f"unknown label-issue method {method!r}; choose one of: {', '.join(METHODS)}")
    P = check_proba(P)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != P.shape[0]:
        raise InputError(f"y must have shape ({P.shape[0]},) to match P; got {y.shape}")
    if len(y) and ((y < 0).any() or (y >= P.shape[1]).any()):
        raise InputError(f"y must hold class codes 0..{P.shape[1] - 1} (labeled rows only)")
    y = y.astype(np.int64)
    k = P.shape[1]
    t, conf, has, C = confident_joint(P, y, k)
    suggested = P.argmax(axis=1)
    # a row whose most probable class is its given label is never flagged (as in cleanlab's
    # find_label_issues): the probabilities agree with the label there
    suspect = METHODS[method](P, y, k, conf, has, C) & (suggested != y)
    return LabelIssues(suspect, suggested, P[np.arange(len(y)), y], t, C, method)


def selection_label_issues(selection, method_name: str | None = None, *, method: str = "prune_by_noise_rate"):
    """:func:`find_label_issues` on a :class:`~fewlabels.select.Selection`'s out-of-fold
    probabilities for ``method_name`` (default: the chosen one). Returns (row indices into
    the pool, LabelIssues)."""
    name = method_name or selection.best
    P = selection.scores[name].oof_proba
    P = P / P.sum(axis=1, keepdims=True)
    return selection.labeled_index, find_label_issues(P, selection.y_labeled, method=method)
