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

* ``noise_estimate`` (default): the number of wrong labels is estimated from how the given
  labels' probabilities compare with the probabilities of labels known to be wrong, and that
  many rows are flagged, the least likely given label first. For row i, u_i is the share of
  the m·(k−1) probabilities of a class other than a row's given label that are at least
  P[i, y_i]. A wrong label's probability is distributed like those (u_i about uniform); a
  right label's is larger (u_i near 0). Storey's estimate of the share of "null" rows
  (Storey 2002, "A direct approach to false discovery rates", λ = 1/2, his default) counts
  the rows with u_i > λ: ``π̂ = #{u > λ} / (m·(1 − λ))``, and ``round(π̂·m)`` rows are
  flagged. Unlike the confident joint, this count does not grow with the model's own
  errors on right labels: with 200 trec labels and a 0.7-accurate model, the confident
  joint put 50-65 of 200 labels off its diagonal for 10-20 flipped ones (BENCHMARKS.md
  section 10). It assumes a wrong label is about as likely under the model as any other
  wrong class; for errors between two confusable classes the wrong label scores higher and
  the count is low (fewer rows flagged, not more).
* ``confident_joint``: the rows off the diagonal of the confident joint.
* ``prune_by_noise_rate``: for each (i, j ≠ i), the round(Q[i, j]) rows labeled i
  with the largest margin P[:, j] − P[:, i] (cleanlab's default filter; the default until
  the bench showed it flagging three rows per wrong label on trec).
* ``both``: rows both methods flag (the paper's C_both), more conservative. It was the
  first default; on the bench (BENCHMARKS.md section 10) it lost recall to the pruning
  without gaining precision.

With every method, a row whose most probable class is its given label is not flagged (as
in cleanlab's ``find_label_issues``), and each given class keeps at least one row.

:func:`selection_label_issues` (the ``fewlabels_suspect`` column) runs it on the mean of the
chosen method's out-of-fold probabilities and logistic regression's (an inductive view of
the labeled rows), when the selection scored logistic.

Cost: O(m·k) for the thresholds and the joint, O(k² · m log m) for the pruning, O(m·k·log(m·k))
for ``noise_estimate``'s sort, O(m·k) memory.
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
    n_estimated : with ``noise_estimate``, the estimated number of wrong labels (NaN otherwise)
    """

    suspect: np.ndarray
    suggested: np.ndarray
    quality: np.ndarray
    thresholds: np.ndarray
    confident_joint: np.ndarray
    method: str
    n_estimated: float = float("nan")

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


#: Storey's λ: u-values above it count towards the share of wrong labels
STOREY_LAMBDA = 0.5


def null_share(P: np.ndarray, y: np.ndarray, lam: float = STOREY_LAMBDA) -> tuple[np.ndarray, float]:
    """(u (m,), π̂): each row's u-value against the probabilities of the classes other than
    the rows' given labels, and Storey's estimate of the share of wrong labels (see module
    docstring). O(m·k·log(m·k))."""
    m, k = P.shape
    p_given = P[np.arange(m), y]
    if m == 0 or k < 2:
        return np.zeros(m), 0.0
    ref = np.sort(P[np.arange(k)[None, :] != y[:, None]])
    u = 1.0 - np.searchsorted(ref, p_given - 1e-12, side="left") / len(ref)
    return u, float(min(1.0, (u > lam).sum() / (m * (1.0 - lam))))


def _keep_one_per_class(flag, y, k):
    for j in range(k):
        members = np.flatnonzero(y == j)
        if len(members) and flag[members].all():
            flag[members[0]] = False
    return flag


def _noise_estimate(P, y, k):
    m = len(y)
    _, pi0 = null_share(P, y)
    n_est = pi0 * m
    flag = np.zeros(m, dtype=bool)
    flag[np.argsort(P[np.arange(m), y], kind="stable")[: int(round(n_est))]] = True
    return _keep_one_per_class(flag, y, k), n_est


def _method_confident_joint(P, y, k, conf, has, C):
    return has & (conf != y)


def _method_prune(P, y, k, conf, has, C):
    return _prune_by_noise_rate(P, y, C, k)


def _method_both(P, y, k, conf, has, C):
    return _method_confident_joint(P, y, k, conf, has, C) & _method_prune(P, y, k, conf, has, C)


METHODS = {"noise_estimate": None, "prune_by_noise_rate": _method_prune, "both": _method_both,
           "confident_joint": _method_confident_joint}
DEFAULT_METHOD = "noise_estimate"


def find_label_issues(P, y, *, method: str = DEFAULT_METHOD) -> LabelIssues:
    """Suspected wrong labels among labeled rows.

    Parameters
    ----------
    P : array of shape (m, k)
        Out-of-sample probabilities of the m labeled rows (out-of-fold; never in-sample).
    y : array of shape (m,)
        Given class codes 0..k-1.
    method : "noise_estimate" (default), "prune_by_noise_rate", "both" or "confident_joint"

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
    n_est = float("nan")
    if method == "noise_estimate":
        flag, n_est = _noise_estimate(P, y, k)
    else:
        flag = METHODS[method](P, y, k, conf, has, C)
    suspect = flag & (suggested != y)
    return LabelIssues(suspect, suggested, P[np.arange(len(y)), y], t, C, method, n_est)


def selection_view(selection, method_name: str | None = None) -> np.ndarray:
    """The probabilities the label check uses, shape (m, k): the mean of ``method_name``'s
    (default: the chosen method's) out-of-fold probabilities and logistic regression's when
    the selection scored it (a transductive method sees the whole pool, logistic only the
    labeled rows; their mean ranks wrong labels better than either on the bench), each
    normalised per row."""
    name = method_name or selection.best
    views = [name] + (["logistic"] if "logistic" in selection.scores and name != "logistic" else [])
    P = np.mean([selection.scores[v].oof_proba / selection.scores[v].oof_proba.sum(axis=1, keepdims=True)
                 for v in views], axis=0)
    return P / P.sum(axis=1, keepdims=True)


def selection_label_issues(selection, method_name: str | None = None, *, method: str = DEFAULT_METHOD):
    """:func:`find_label_issues` on :func:`selection_view` of a
    :class:`~fewlabels.select.Selection` (out-of-fold probabilities). Returns (row indices
    into the pool, LabelIssues)."""
    return selection.labeled_index, find_label_issues(selection_view(selection, method_name), selection.y_labeled,
                                                      method=method)
