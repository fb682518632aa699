"""Open-set rejection: rows far from every named class get the label ``unknown``.

Seeds: PT-OOD (detect out-of-distribution rows *in the feature space*, independent of the
classifier's decision boundaries) and OSLoPrompt (open-set recognition with low
supervision). The given labels are a sample of the known classes only, so a region of the
feature space that holds pool rows but no given label is a region of no named class. The
unknown score of a row estimates that in two ways, each turned into its rank among the
pool's rows and averaged:

* ``class``: the largest, over the known classes, of a class-vs-pool logistic regression's
  decision (its given labels against every pool row: a linear estimate of
  log p(x | class) / p(x | pool));
* ``pool``: the same with all given labels against the pool (one density ratio for the
  known classes together, positive-unlabeled learning).

Both are cross-fitted over folds of the given labels, so each labeled row is scored by
models that did not see it as a positive, like a new row. The threshold rejects a
``false_reject`` share of those out-of-fold scores of the given labels (the given labels
being a random sample of the known rows, it rejects about that share of the pool's known
rows); with given ``unknown`` labels it instead maximises (share of given unknowns rejected)
- (share of given knowns rejected).

Cost: n_folds L-BFGS fits of (k + 1) regressions sharing the pool (at most ``max_pool``
rows of it) as negatives, O(iterations · min(n, max_pool) · d · k) each; scoring
O(n · d · k) per fold; O(n log n) ranks; memory O(n · k).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from ..errors import InputError
from ..graph import knn_search, normalize_rows
from ..validation import check_in_range, check_X
from .base import PREDICT_BLOCK
from .openset_points import DEFAULT_FALSE_REJECT, OPTION, check_operating_point, choose_threshold, curve, unknown_share

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


def one_vs_pool(X, pos_rows, pos_cols, n_columns: int, C: float, max_iter: int = 200, *,
                negatives=None) -> np.ndarray:
    """Weights (d + 1, n_columns), last row the intercepts: column c is a logistic regression
    of the rows ``pos_rows[pos_cols == c]`` (positives) against every row of ``X`` (the pool),
    or against the rows ``negatives`` of it (a random sample stands for the pool's density).

    Each side weighs half (class-balanced) and the penalty is ||w||² / (C · (n + n_c)) per unit
    of mean loss, the optimum of scikit-learn's ``LogisticRegression(C=C, class_weight=
    "balanced")`` fitted on that column alone (pool rows as 0, positives as 1); the columns are
    fitted together because they share the pool as negatives.
    A column without positives is left at zero. Cost: O(max_iter · n · d · n_columns), n the
    number of negatives.
    """
    pos_rows = np.asarray(pos_rows, dtype=np.int64)
    pos_cols = np.asarray(pos_cols, dtype=np.int64)
    Xp = np.asarray(X[pos_rows], dtype=np.float64)
    X = np.asarray(X if negatives is None else X[np.asarray(negatives)], dtype=np.float64)
    n, d = X.shape
    n_c = np.bincount(pos_cols, minlength=n_columns).astype(np.float64)
    lam = 2.0 / (C * (n + n_c))  # 0.5 · lam · ||w||² = ||w||² / (C · (n + n_c))
    inv = np.where(n_c > 0, 1.0 / np.maximum(n_c, 1.0), 0.0)
    onehot = np.zeros((len(pos_rows), n_columns))
    onehot[np.arange(len(pos_rows)), pos_cols] = 1.0
    # only columns with positives are optimised: the others would only learn "no row is positive"
    live = n_c > 0

    def loss_grad(theta):
        W = theta.reshape(d + 1, n_columns)
        Z = X @ W[:-1] + W[-1]
        zp = np.einsum("ij,ij->i", Xp, W[:-1][:, pos_cols].T) + W[-1][pos_cols]
        loss = -log_expit(-Z).sum(axis=0) / n + np.bincount(pos_cols, -log_expit(zp), minlength=n_columns) * inv
        loss += 0.5 * lam * (W[:-1] ** 2).sum(axis=0)
        Gn = expit(Z) / n
        gp = -expit(-zp) * inv[pos_cols]
        G = np.empty((d + 1, n_columns))
        G[:-1] = X.T @ Gn + Xp.T @ (onehot * gp[:, None]) + lam * W[:-1]
        G[-1] = Gn.sum(axis=0) + np.bincount(pos_cols, gp, minlength=n_columns)
        G[:, ~live] = 0.0
        return float(loss[live].sum()), G.ravel()

    res = minimize(loss_grad, np.zeros((d + 1) * n_columns), jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter})
    W = res.x.reshape(d + 1, n_columns)
    W[:, ~live] = 0.0
    return W


class OpenSetDetector:
    """Scores rows for being of no named class and picks the rejection threshold.

    Two feature-space views, each turned into its rank among the pool rows, are averaged
    (higher = more likely unknown):

    * ``class``: minus the largest class-vs-pool decision over the known classes (each
      known class's given labels against all pool rows; see :func:`one_vs_pool`);
    * ``pool``: minus the decision of all given labels against the pool.

    A row of a named class lies where some class's given labels are dense compared with the
    pool; a row of an unnamed class lies where none is. The per-class view separates an
    unnamed class that sits *between* known classes, which one hyperplane for all given
    labels cannot; the ``pool`` view steadies classes with few labels. Both are cross-fitted
    over ``n_folds`` folds of the given labels: a labeled row gets the decision of the model
    that did not see it as a positive, the other rows the mean over the folds' models.

    The views were chosen, and ``C`` set, on ag_news (one of four classes hidden) and emotion
    (two of six hidden) with 300 given labels, 2 seeds each: a k-NN share-of-labels view, a
    k-NN distance to the given labels (PT-OOD's score) and the calibrated confidence each
    lowered the AUROC there when added (see BENCHMARKS.md section 7).

    Parameters
    ----------
    C : float, default=0.02
        Inverse L2 strength of the regressions, in scikit-learn's units (strong: with a few
        labels per class they must not memorise them). Chosen among 0.006, 0.02 and 0.06 on
        the development sets named above.
    false_reject : float, optional
        Share of the given (known-class) labels, scored out of fold, that the threshold
        rejects (``--unknown-false-reject``). The default, 0.02, applies when no operating
        point below is set and no ``unknown`` label is given.
    rate : float, optional
        Instead: flag this share of the rows without a given label (``--unknown-rate``).
    precision : float, optional
        Instead: flag the most rows whose estimated precision (share truly unknown) is at
        least this (``--unknown-precision``); see :mod:`~fewlabels.labelers.openset_points`.
    recall : float, optional
        Instead: flag the fewest rows whose estimated recall of the unknown rows is at
        least this (``--unknown-recall``). At most one of the four may be set; one set
        wins over given ``unknown`` labels.
    n_folds : int, default=5
    random_state : int, default=0
    max_iter : int, default=200
        L-BFGS iterations per fold.
    max_pool : int, default=20000
        Pools larger than this are represented in the fits by this many random rows (the
        negatives only estimate the pool's density); every row is still scored. Keeps the
        fits' cost O(max_iter · max_pool · d · k) however large the pool.

    Attributes
    ----------
    scores_ : (n,) unknown score of every pool row, in [0, 1]
    views_ : dict of the two (n,) view scores (higher = more likely unknown)
    labeled_scores_ : (n_labeled,) scores of the given labels, scored out of fold
    threshold_ : float, rows with a score above it are unknown
    unknown_ : (n,) bool
    flagged_share_ : float, share of the rows without a given label that are flagged
    estimated_share_ : float, share of unknown rows among the rows without a given label:
        1 − 2 · (share of them scoring below the given labels' median score); it assumes
        rows of unnamed classes rarely score that low (a lower bound when they do)
    share_interval_ : (low, high), 95% bootstrap interval of it (sampling noise only)
    curve_ : list of operating points (dicts) from the fewest flags to the most: threshold,
        flagged share of the pool, share of the given labels lost, estimated precision and
        recall (see :func:`~fewlabels.labelers.openset_points.curve`)
    """

    def __init__(self, C: float = 0.02, false_reject: float | None = None, n_folds: int = 5,
                 random_state: int | None = 0, max_iter: int = 200, max_pool: int = 20000, *,
                 rate: float | None = None, precision: float | None = None, recall: float | None = None):
        self.C = C
        self.false_reject = false_reject
        self.rate = rate
        self.precision = precision
        self.recall = recall
        self.n_folds = n_folds
        self.random_state = random_state
        self.max_iter = max_iter
        self.max_pool = max_pool

    def _ratio_views(self, Xn, y, lab, k):
        """Cross-fitted decisions: (n,) best class-vs-pool and (n,) all-labels-vs-pool."""
        n = len(Xn)
        rng = np.random.default_rng(self.random_state)
        fold = rng.permutation(len(lab)) % min(self.n_folds, len(lab))
        n_folds = int(fold.max()) + 1
        negatives = np.sort(rng.choice(n, self.max_pool, replace=False)) if n > self.max_pool else None
        total = np.zeros((n, k + 1))
        seen = np.zeros(k + 1)
        held = np.zeros((n, k + 1))
        held_live = np.zeros((n, k + 1), bool)
        for f in range(n_folds):
            p = lab[fold != f]
            W = one_vs_pool(Xn, np.r_[p, p], np.r_[y[p], np.full(len(p), k)], k + 1, self.C, self.max_iter,
                            negatives=negatives)
            live = np.r_[np.bincount(y[p], minlength=k) > 0, True]
            Z = np.empty((n, k + 1))
            for s in range(0, n, PREDICT_BLOCK):  # blocks: no float64 copy of a large float32 pool
                Z[s:s + PREDICT_BLOCK] = Xn[s:s + PREDICT_BLOCK] @ W[:-1] + W[-1]
            total[:, live] += Z[:, live]
            seen += live
            out = lab[fold == f]
            held[out] = Z[out]
            held_live[out] = live
        Z = np.where(seen > 0, total / np.maximum(seen, 1), -np.inf)
        Z[lab] = np.where(held_live[lab], held[lab], -np.inf)
        return -Z[:, :k].max(axis=1), -Z[:, k]

    def fit(self, X, y, proba, oof_proba, *, unknown=None) -> "OpenSetDetector":
        """Score the pool and choose the threshold.

        Parameters
        ----------
        X : (n, d) pool embeddings
        y : (n,) given class codes, -1 for none
        proba : (n, k) calibrated probabilities of the pool rows (k: the number of classes)
        oof_proba : (n_labeled, k) calibrated out-of-fold probabilities of the labeled rows
            (in the order of ``np.flatnonzero(y >= 0)``); kept for the interface, the score
            no longer uses the confidence
        unknown : (n,) bool, optional: rows the user labeled ``unknown``

        Cost: n_folds fits of :func:`one_vs_pool`, O(max_iter · min(n, max_pool) · d · k) each.
        """
        check_in_range("C", self.C, 0.0, low_open=True)
        option = check_operating_point(false_reject=self.false_reject, rate=self.rate, precision=self.precision,
                                       recall=self.recall)
        check_in_range("n_folds", self.n_folds, 2)
        check_in_range("max_iter", self.max_iter, 1)
        check_in_range("max_pool", self.max_pool, 2)
        X = check_X(X)
        y = np.asarray(y)
        lab = np.flatnonzero(y >= 0)
        unk = np.zeros(len(y), bool) if unknown is None else np.asarray(unknown, bool)
        if len(lab) < 2:
            raise InputError(f"--unknown needs given labels of the known classes to set its threshold; got "
                             f"{len(lab)}. Label at least a few rows of each class")
        k = max(np.asarray(proba).shape[1], int(y.max()) + 1)
        Xn = normalize_rows(X)
        by_class, by_pool = self._ratio_views(Xn, y, lab, k)
        self.views_ = {"class": by_class, "pool": by_pool}
        scores = np.mean([_rank_in(v, v) for v in self.views_.values()], axis=0)
        known_scores = scores[lab]
        pool = scores[(y < 0) & ~unk] if ((y < 0) & ~unk).any() else scores
        share = unknown_share(pool, known_scores, random_state=self.random_state)
        self.target_met_ = True
        if option is not None:
            self.threshold_, self.rule_, self.target_met_ = choose_threshold(
                option, getattr(self, option), pool, known_scores, share["value"])
        elif unk.any():
            unk_scores = scores[unk]
            cand = np.unique(np.concatenate([known_scores, unk_scores]))
            tpr = (unk_scores[None, :] > cand[:, None]).mean(axis=1)
            fpr = (known_scores[None, :] > cand[:, None]).mean(axis=1)
            self.threshold_ = float(cand[np.argmax(tpr - fpr)])
            self.rule_ = "maximises (given unknowns rejected) - (given knowns rejected)"
        else:
            self.threshold_, self.rule_, self.target_met_ = choose_threshold(
                "false_reject", DEFAULT_FALSE_REJECT, pool, known_scores, share["value"])
        self.operating_option_ = option
        self.scores_ = scores
        self.labeled_scores_ = known_scores
        self.unknown_ = scores > self.threshold_
        self.unknown_[lab] = False
        self.unknown_[unk] = True
        self.false_reject_rate_ = float((known_scores > self.threshold_).mean())
        self.flagged_share_ = float(self.unknown_[y < 0].mean()) if (y < 0).any() else 0.0
        # mixture proportion: below the given labels' median score the pool holds known rows
        # (half of them) and hardly any unknown one, so known share ≈ 2 · pool share below it
        below_pool = scores[y < 0] if (y < 0).any() else scores
        below = float((below_pool <= np.median(known_scores)).mean())
        self.estimated_share_ = float(np.clip(1.0 - 2.0 * below, 0.0, 1.0))
        self.share_interval_ = (share["low"], share["high"])
        self.curve_ = curve(pool, known_scores, self.estimated_share_)
        return self

    def report(self) -> dict:
        return {
            "estimated_share": round(self.estimated_share_, 4),
            "flagged_share": round(self.flagged_share_, 4),
            "flagged": int(self.unknown_.sum()),
            "threshold": self.threshold_,
            "threshold_rule": self.rule_,
            "false_reject_on_given": round(self.false_reject_rate_, 4),
            "estimated_share_low": round(self.share_interval_[0], 4),
            "estimated_share_high": round(self.share_interval_[1], 4),
            "operating_option": None if self.operating_option_ is None else OPTION[self.operating_option_],
            "target_met": self.target_met_,
            "curve": self.curve_,
            "curve_note": "rows above each threshold flagged: flagged_share of the rows without a given label, "
                          "given_labels_lost of the given labels (scored out of fold; about that share of the "
                          "known rows is lost); est_precision and est_recall of the flags use estimated_share. "
                          "The interval of estimated_share is a 95% bootstrap over the given labels and the "
                          "pool: sampling noise only; the estimate leans low when rows of unnamed classes score "
                          "like known ones",
            "method": "mean rank of two views: the best class-vs-pool logistic regression (each class's given labels "
                      "against all rows) and an all-given-labels-vs-pool one, cross-fitted over the given labels. "
                      "estimated_share = 1 - 2 x (share of unlabeled rows scoring below the median score of the given "
                      "labels, scored out of fold); flagged_share is lower by design: the threshold keeps false "
                      "rejections of known rows rare",
        }


def reject_unknown(X, y, proba, oof_proba, *, unknown=None, **params) -> OpenSetDetector:
    """Library entry point: fit an :class:`OpenSetDetector`; ``.unknown_`` marks the rows."""
    return OpenSetDetector(**params).fit(X, y, proba, oof_proba, unknown=unknown)
