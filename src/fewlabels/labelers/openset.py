"""Open-set rejection: rows far from every named class get the label ``unknown``.

Seeds: PT-OOD (detect out-of-distribution rows *in the feature space*, by k-NN distance to
the in-distribution training rows, independent of the classifier's decision boundaries)
and OSLoPrompt (open-set recognition with low supervision). The unknown score of a row
combines two views, each turned into its rank among the pool's rows:

* the cosine distance to its ``n_neighbors`` nearest given labels (the known classes'
  only certain members), and
* one minus its calibrated confidence (max probability over the known classes).

The threshold is chosen on the given labels: each labeled row is scored as a new row would
be (distance to the *other* labeled rows; out-of-fold confidence), and the threshold
rejects a ``false_reject`` share of them. With given ``unknown`` labels the threshold
instead maximises (share of given unknowns rejected) − (share of given knowns rejected).

Cost: O(n · n_labeled · d) exact k-NN (FAISS), O(n log n) ranks; memory O(n).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..graph import knn_search, normalize_rows
from ..validation import check_in_range, check_X

UNKNOWN = "unknown"


def knn_distance(ref: np.ndarray, queries: np.ndarray, n_neighbors: int, *, exclude_self: bool = False) -> np.ndarray:
    """Mean cosine distance (m,) from each query to its ``n_neighbors`` nearest ``ref`` rows.

    With ``exclude_self`` the queries are ``ref`` itself and each row's own match is skipped.
    Cost: O(m · len(ref) · d).
    """
    ref = normalize_rows(np.asarray(ref, dtype=np.float32))
    queries = normalize_rows(np.asarray(queries, dtype=np.float32))
    k = min(n_neighbors + int(exclude_self), ref.shape[0])
    sims, idx = knn_search(ref, queries, k)
    if exclude_self:
        own = idx == np.arange(len(queries))[:, None]
        # drop each row's own hit (or, for an exact duplicate listed first, the last column)
        keep = ~own
        keep[~own.any(axis=1), -1] = False
        sims = sims[keep].reshape(len(queries), k - 1)
    return 1.0 - sims.mean(axis=1)


def _rank_in(pool_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Share of ``pool_values`` below each of ``values`` (mid-rank for ties), in [0, 1]."""
    s = np.sort(pool_values)
    lo = np.searchsorted(s, values, side="left")
    hi = np.searchsorted(s, values, side="right")
    return (lo + hi) / (2.0 * len(s))


class OpenSetDetector:
    """Scores rows for being of no named class and picks the rejection threshold.

    Three views, each turned into its rank among the pool rows, are averaged:

    * ``knn``: the similarity-weighted share of given labels among a row's ``n_neighbors``
      nearest pool rows (a k-NN estimate of p(x | labeled) / p(x | pool): given labels are
      drawn from the known classes only, so regions of an unnamed class hold none);
    * ``density``: the same ratio learned by a logistic regression separating the given
      labels from the pool (positive-unlabeled learning; cross-fitted over the labels);
    * ``confidence``: one minus the calibrated max probability.

    Parameters
    ----------
    n_neighbors : int, optional
        Pool neighbours for the ``knn`` view; default ``4 · n / n_labeled`` within [50, 500],
        so that a known row expects about four given labels among them.
    C : float, default=0.1
        Inverse L2 strength of the ``density`` regression (strong: it must not memorise).
    false_reject : float, default=0.02
        Share of the given (known-class) labels, scored as new rows, that the threshold may
        reject when no ``unknown`` label is given.
    n_folds : int, default=5
    random_state : int, default=0

    Attributes
    ----------
    scores_ : (n,) unknown score of every pool row, in [0, 1]
    views_ : dict of the three (n,) view scores (higher = more likely unknown)
    labeled_scores_ : (n_labeled,) scores of the given labels, scored as new rows
    threshold_ : float, rows with a score above it are unknown
    unknown_ : (n,) bool
    flagged_share_ : float, share of the rows without a given label that are flagged
    estimated_share_ : float, share of unknown rows among the rows without a given label:
        1 − 2 · (share of them scoring below the given labels' median score on the
        two feature-space views); it assumes
        rows of unnamed classes rarely score that low (a lower bound when they do)
    """

    def __init__(self, n_neighbors: int | None = None, C: float = 0.1, false_reject: float = 0.02,
                 n_folds: int = 5, random_state: int | None = 0):
        self.n_neighbors = n_neighbors
        self.C = C
        self.false_reject = false_reject
        self.n_folds = n_folds
        self.random_state = random_state

    def _knn_view(self, Xn, lab_mask):
        n = len(Xn)
        K = self.n_neighbors or int(np.clip(4 * n / max(lab_mask.sum(), 1), 50, 500))
        K = min(K + 1, n)
        sims, idx = knn_search(Xn, Xn, K)
        w = np.clip(sims, 1e-6, None)
        own = idx == np.arange(n)[:, None]
        w = np.where(own, 0.0, w)  # a labeled row must not count itself
        return 1.0 - (w * lab_mask[idx]).sum(axis=1) / w.sum(axis=1)

    def _density_view(self, Xn, lab):
        """Cross-fitted: each given label is scored by a model that did not see it as a positive;
        the other rows get the mean over the folds."""
        from sklearn.linear_model import LogisticRegression

        n = len(Xn)
        fold = np.random.default_rng(self.random_state).permutation(len(lab)) % min(self.n_folds, len(lab))
        n_folds = int(fold.max()) + 1
        out = np.zeros(n)
        Xd = np.asarray(Xn, dtype=np.float64)
        held = np.zeros(n)
        for f in range(n_folds):
            pos = lab[fold != f]
            target = np.r_[np.zeros(n), np.ones(len(pos))]
            m = LogisticRegression(C=self.C, class_weight="balanced", max_iter=300)
            z = -m.fit(np.vstack([Xd, Xd[pos]]), target).decision_function(Xd)
            out += z / n_folds
            held[lab[fold == f]] = z[lab[fold == f]]
        out[lab] = held[lab]
        return out

    def fit(self, X, y, proba, oof_proba, *, unknown=None) -> "OpenSetDetector":
        """Score the pool and choose the threshold.

        Parameters
        ----------
        X : (n, d) pool embeddings
        y : (n,) given class codes, -1 for none
        proba : (n, k) calibrated probabilities of the pool rows
        oof_proba : (n_labeled, k) calibrated out-of-fold probabilities of the labeled rows
            (in the order of ``np.flatnonzero(y >= 0)``)
        unknown : (n,) bool, optional: rows the user labeled ``unknown``

        Cost: O(n · K · d) for the k-NN view, n_folds logistic fits O(iter · n · d).
        """
        if self.n_neighbors is not None:
            check_in_range("n_neighbors", self.n_neighbors, 1)
        check_in_range("C", self.C, 0.0, low_open=True)
        check_in_range("false_reject", self.false_reject, 0.0, 0.5)
        check_in_range("n_folds", self.n_folds, 2)
        X = check_X(X)
        y = np.asarray(y)
        lab = np.flatnonzero(y >= 0)
        unk = np.zeros(len(y), bool) if unknown is None else np.asarray(unknown, bool)
        if len(lab) < 2:
            raise InputError(f"--unknown needs given labels of the known classes to set its threshold; got "
                             f"{len(lab)}. Label at least a few rows of each class")
        proba = np.asarray(proba, dtype=np.float64)
        oof_proba = np.asarray(oof_proba, dtype=np.float64)
        Xn = normalize_rows(X)
        lab_mask = (y >= 0).astype(np.float64)
        conf = 1.0 - proba.max(axis=1)
        conf[lab] = 1.0 - oof_proba.max(axis=1)
        self.views_ = {"knn": self._knn_view(Xn, lab_mask), "density": self._density_view(Xn, lab),
                       "confidence": conf}
        scores = np.mean([_rank_in(v, v) for v in self.views_.values()], axis=0)
        known_scores = scores[lab]
        if unk.any():
            unk_scores = scores[unk]
            cand = np.unique(np.concatenate([known_scores, unk_scores]))
            tpr = (unk_scores[None, :] > cand[:, None]).mean(axis=1)
            fpr = (known_scores[None, :] > cand[:, None]).mean(axis=1)
            self.threshold_ = float(cand[np.argmax(tpr - fpr)])
            self.rule_ = "maximises (given unknowns rejected) - (given knowns rejected)"
        else:
            self.threshold_ = float(np.quantile(known_scores, 1 - self.false_reject))
            self.rule_ = f"rejects {self.false_reject:.0%} of the given labels (scored as new rows)"
        self.scores_ = scores
        self.labeled_scores_ = known_scores
        self.unknown_ = scores > self.threshold_
        self.unknown_[lab] = False
        self.unknown_[unk] = True
        fr = float((known_scores > self.threshold_).mean())
        self.false_reject_rate_ = fr
        self.flagged_share_ = float(self.unknown_[y < 0].mean()) if (y < 0).any() else 0.0
        # mixture proportion: below the given labels' median score the pool holds known rows
        # (half of them) and hardly any unknown one, so known share ≈ 2 · pool share below it
        # (the confidence view is left out here: the given labels' out-of-fold confidences come
        # from models fitted on fewer labels, so they sit lower than the pool's)
        feat = np.mean([_rank_in(self.views_[v], self.views_[v]) for v in ("knn", "density")], axis=0)
        pool = feat[y < 0] if (y < 0).any() else feat
        below = float((pool <= np.median(feat[lab])).mean())
        self.estimated_share_ = float(np.clip(1.0 - 2.0 * below, 0.0, 1.0))
        return self

    def report(self) -> dict:
        return {
            "estimated_share": round(self.estimated_share_, 4),
            "flagged_share": round(self.flagged_share_, 4),
            "flagged": int(self.unknown_.sum()),
            "threshold": self.threshold_,
            "threshold_rule": self.rule_,
            "false_reject_on_given": round(self.false_reject_rate_, 4),
            "method": "mean rank of three views: share of given labels among a row's nearest pool rows, a "
                      "labeled-vs-pool logistic regression, and 1 - calibrated confidence. estimated_share = 1 - 2 x (share "
                      "of unlabeled rows scoring below the median score of the given labels, scored as new rows); "
                      "flagged_share is lower by design: the threshold keeps false rejections of known rows rare",
        }


def reject_unknown(X, y, proba, oof_proba, *, unknown=None, **params) -> OpenSetDetector:
    """Library entry point: fit an :class:`OpenSetDetector`; ``.unknown_`` marks the rows."""
    return OpenSetDetector(**params).fit(X, y, proba, oof_proba, unknown=unknown)
