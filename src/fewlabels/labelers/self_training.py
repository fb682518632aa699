"""Iterative class-balanced pseudo-labeling (self-training).

Seed: "Enhancing CLIP with CLIP: Exploring Pseudolabeling for Limited-Label Prompt Tuning"
(Menghini et al., GRIP): instead of one global confidence threshold, which starves classes
the model is less sure of, each round adds the top share of the unlabeled items *per
class*, retrains, and repeats until every item is used. Starting from zero-shot scores it
works with zero labels (the transductive zero-shot setting).

Round r of R takes, for every class c, the ``r/R`` most confident of the unlabeled items
currently predicted as c, and refits a logistic regression on the given labels plus those
pseudo-labels (each weighted by its confidence). The first predictions come from class
prototypes (given labels, plus class-name embeddings when available), so classes without
a given label can still be found.

Cost: R logistic-regression fits on at most ``max_train`` rows plus R predictions on the
pool: O(R · (max_train · d · k · iters + n · d · k)) time, O(n · (d + k)) memory; linear
in n. Warm starts keep later rounds short.

Three options, all off by default (each reproduces the plain method exactly when off):

* ``soft_weight > 0`` -- prototype soft labels for the low-confidence items. Seeds: PS-TTL
  ("Prototype-based Soft-labels and Test-Time Learning for Few-shot Object Detection") and
  LPLD ("Enhancing Source-Free Domain Adaptive Object Detection with Low-confidence Pseudo
  Label Distillation"): items too uncertain to be pseudo-labeled still carry signal, given
  as their similarity to the class prototypes. Adds O(n · k · d) per round (prototypes and
  similarities) and about 2 · max_train training rows at most.
* ``adaptive_threshold=True`` -- per-class adaptive thresholds. Seed: HIAST ("Hard-aware
  Instance Adaptive Self-training for Unsupervised Cross-domain Semantic Segmentation"), its
  instance adaptive selector. Adds O(n + k) per round.
* ``ema > 0`` -- a teacher that is the exponential moving average of the rounds'
  predictions gives the pseudo-labels. Seed: FST ("Learning from Future: A Novel
  Self-Training Framework for Semantic Segmentation"). This is the momentum (mean) teacher
  that FST starts from and analyses (its confirmation bias), averaged over predicted
  probabilities rather than network weights; FST's own step, updating the teacher with a
  virtual *future* student before it labels, is not implemented. Adds O(n · k) time per
  round and one (n, k) array of memory.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from ..errors import ConfigError
from ..validation import check_in_range
from .base import BaseLabeler
from .prototype import PrototypeLabeler


class SelfTrainingLabeler(BaseLabeler):
    """Class-balanced iterative pseudo-labeling with a logistic-regression student.

    Parameters
    ----------
    n_rounds : int, default=4
        Rounds; round r pseudo-labels the top r/n_rounds of each predicted class.
    C : float, default=10.0
        Inverse L2 strength of the logistic regression.
    class_embeddings : (k, d), optional
        Class-name embeddings for the starting prototypes (needed with zero labels).
    max_iter : int, default=100
        L-BFGS iterations per round.
    max_train : int, default=4000
        Most pseudo-labeled rows a round trains on: beyond it, a random subset of each
        class's share (in proportion) keeps the cost of a round bounded as n grows.
    soft_weight : float, default=0.0
        Soft labels for the low-confidence items (PS-TTL, LPLD). 0 turns it off. When > 0,
        each round the unlabeled items *not* selected as confident pseudo-labels also
        enter the fit with soft labels q = softmax(20 · cos(x, prototypes)), the prototypes
        being the class means of the given labels plus that round's confident
        pseudo-labels (plus class-name embeddings when given). An item is replicated for
        its two most likely classes under q, with sample weights ``soft_weight · max(q) ·
        q_c / (q_top1 + q_top2)`` (so its total weight is ``soft_weight · max(q)``). Beyond
        ``max_train`` such items, a random subset of about ``max_train`` of them, so about
        2 · max_train extra rows a round at most. The last round takes every item as a
        hard pseudo-label (unless ``adaptive_threshold``), so soft labels act through the
        earlier rounds.
    adaptive_threshold : bool, default=False
        Per-class adaptive thresholds (HIAST's instance adaptive selector). Off: every
        class takes the top ``s = r/n_rounds`` share of its predicted items. On: class c
        takes the top ``s_c = s · (m_c / max_j m_j) ** threshold_gamma`` share, where m_c
        is the mean confidence of the unlabeled items predicted as c; i.e. its threshold is
        the ``1 − s_c`` quantile of their confidences (at least one item per predicted
        class). This is HIAST's rule ``quantile(conf_c, 1 − alpha · theta_c ** gamma)``
        with the round share as alpha and the class's mean confidence, relative to the
        most confident class's, as theta_c (relative, because with many classes the
        absolute confidences are small); HIAST's moving average of theta over image
        batches is left out, since a round here sees the whole pool at once. Confident
        classes keep the full share; classes the model is unsure of get a stricter cut.
    threshold_gamma : float, default=1.0
        The exponent gamma above (> 0); larger is stricter on low-confidence classes.
        Used only with ``adaptive_threshold=True``.
    ema : float, default=0.0
        EMA teacher (FST seed). 0 turns it off: round r pseudo-labels come from the last
        student alone. In [0, 1): the teacher starts as the prototype start and after each
        round becomes ``ema · P_teacher + (1 − ema) · P_student`` (probabilities on the
        pool), and the next round's pseudo-labels and confidences come from it.
        ``predict_proba`` still returns the last student.

    Attributes
    ----------
    n_pseudo_ : list of int
        Pseudo-labeled rows trained on in each round.
    pseudo_labels_ : ndarray of shape (n_samples,)
        The hard targets of the last round: the given labels, the pseudo-labels of the
        rows trained on, -1 elsewhere.
    thresholds_ : ndarray of shape (n_iter_, n_classes)
        Per round, the lowest confidence pseudo-labeled into each class before the
        ``max_train`` thinning (NaN where a class got none).
    """

    name = "selftraining"
    reads = ("class_embeddings", "n_classes", "random_state")
    rowwise = True
    min_labels = 0

    def __init__(self, n_rounds: int = 4, C: float = 10.0, class_embeddings=None, max_iter: int = 100,
                 max_train: int = 4000, soft_weight: float = 0.0, adaptive_threshold: bool = False,
                 threshold_gamma: float = 1.0, ema: float = 0.0, n_classes: int | None = None,
                 random_state: int | None = 0):
        self.n_rounds = n_rounds
        self.soft_weight = soft_weight
        self.adaptive_threshold = adaptive_threshold
        self.threshold_gamma = threshold_gamma
        self.ema = ema
        self.max_train = max_train
        self.C = C
        self.class_embeddings = class_embeddings
        self.max_iter = max_iter
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        check_in_range("n_rounds", self.n_rounds, 1)
        check_in_range("max_train", self.max_train, 1)
        check_in_range("soft_weight", self.soft_weight, 0)
        if not isinstance(self.adaptive_threshold, (bool, np.bool_)):
            raise ConfigError(f"adaptive_threshold={self.adaptive_threshold!r} must be True or False")
        check_in_range("threshold_gamma", self.threshold_gamma, 0, low_open=True)
        check_in_range("ema", self.ema, 0)
        if self.ema >= 1:
            raise ConfigError(f"ema={self.ema!r} is out of range; it must be >= 0 and < 1 "
                              "(1 would never update the teacher)")
        rng = np.random.default_rng(self.random_state)
        k = self.n_classes_
        lab = np.flatnonzero(y >= 0)
        unl = np.flatnonzero(y < 0)
        self.start_ = PrototypeLabeler(class_embeddings=self.class_embeddings, n_classes=k).fit(X, y)
        P = self.start_.predict_proba(X)  # the teacher: gives the pseudo-labels of the next round
        model = LogisticRegression(C=self.C, max_iter=self.max_iter, warm_start=True,
                                   random_state=self.random_state)
        self.n_pseudo_ = []
        thresholds = []
        pseudo = y.copy()
        for r in range(1, self.n_rounds + 1):
            pred, conf = P[unl].argmax(axis=1), P[unl].max(axis=1)
            share = r / self.n_rounds
            if self.adaptive_threshold:
                share = _adaptive_share(pred, conf, share, k, self.threshold_gamma)
            chosen = _top_share_per_class(pred, conf, share, k)
            confident = chosen.copy()
            if chosen.sum() > self.max_train:  # same share of every class, at random
                idx = np.flatnonzero(chosen)
                chosen[idx[rng.random(len(idx)) >= self.max_train / len(idx)]] = False
            rows = np.concatenate([lab, unl[chosen]])
            targets = np.concatenate([y[lab], pred[chosen]])
            weights = np.concatenate([np.ones(len(lab)), conf[chosen]])
            if self.soft_weight > 0:
                s_rows, s_targets, s_weights = self._soft_rows(X, y, unl, pred, confident, rng)
                rows = np.concatenate([rows, s_rows])
                targets = np.concatenate([targets, s_targets])
                weights = np.concatenate([weights, s_weights])
            if len(np.unique(targets)) < 2:
                break
            if model.warm_start and hasattr(model, "classes_") and not np.array_equal(
                    model.classes_, np.unique(targets)):
                model = LogisticRegression(C=self.C, max_iter=self.max_iter, warm_start=True,
                                           random_state=self.random_state)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X[rows], targets, sample_weight=weights)
            P_student = np.zeros((X.shape[0], k))
            P_student[:, model.classes_] = model.predict_proba(X)
            P = self.ema * P + (1 - self.ema) * P_student if self.ema > 0 else P_student
            self.n_pseudo_.append(int(chosen.sum()))
            thresholds.append(_lowest_per_class(pred[confident], conf[confident], k))
            pseudo = y.copy()
            pseudo[unl[chosen]] = pred[chosen]
        self.model_ = model if hasattr(model, "classes_") else None  # None: one class only
        self.n_iter_ = len(self.n_pseudo_)
        self.thresholds_ = np.array(thresholds).reshape(self.n_iter_, k)
        self.pseudo_labels_ = pseudo

    def _soft_rows(self, X, y, unl, pred, confident, rng):
        """Rows, targets and weights of the soft-labeled items (see ``soft_weight``)."""
        soft = np.flatnonzero(~confident)
        if len(soft) > self.max_train:
            soft = soft[rng.random(len(soft)) < self.max_train / len(soft)]
        if len(soft) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
        y_round = y.copy()
        y_round[unl[confident]] = pred[confident]
        proto = PrototypeLabeler(class_embeddings=self.class_embeddings, n_classes=self.n_classes_)
        Q = proto.fit(X, y_round).predict_proba(X[unl[soft]])
        top2 = np.argsort(-Q, axis=1, kind="stable")[:, :2]
        q2 = np.take_along_axis(Q, top2, axis=1)
        w = self.soft_weight * q2[:, :1] * q2 / q2.sum(axis=1, keepdims=True)
        rows, targets, weights = np.repeat(unl[soft], 2), top2.ravel(), w.ravel()
        keep = weights > 0
        return rows[keep], targets[keep], weights[keep]

    def _predict_proba(self, X):
        if self.model_ is None:
            return self.start_.predict_proba(X)
        P = np.zeros((X.shape[0], self.n_classes_))
        P[:, self.model_.classes_] = self.model_.predict_proba(X)
        return P


def _top_share_per_class(pred: np.ndarray, conf: np.ndarray, share, k: int) -> np.ndarray:
    """Boolean mask: for each class, the ``share`` most confident items predicted as it
    (at least one per predicted class). ``share`` is a float, or one per class (k,)."""
    order = np.lexsort((-conf, pred))  # by class, then confidence descending
    counts = np.bincount(pred, minlength=k)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(pred), dtype=np.int64)
    rank[order] = np.arange(len(pred)) - np.repeat(starts, counts)
    quota = np.maximum(np.ceil(share * counts), np.minimum(counts, 1))
    return rank < quota[pred]


def _adaptive_share(pred: np.ndarray, conf: np.ndarray, share: float, k: int, gamma: float) -> np.ndarray:
    """HIAST-style per-class shares (k,): ``share · (m_c / max_j m_j) ** gamma``, m_c the mean
    confidence of the items predicted as class c (classes with none get ``share``)."""
    counts = np.bincount(pred, minlength=k)
    if not counts.any():
        return np.full(k, share)
    mean = np.bincount(pred, weights=conf, minlength=k) / np.maximum(counts, 1)
    rel = np.where(counts > 0, mean / mean[counts > 0].max(), 1.0)
    return share * rel ** gamma


def _lowest_per_class(pred: np.ndarray, conf: np.ndarray, k: int) -> np.ndarray:
    """Lowest confidence among the items of each class (NaN for a class with none)."""
    low = np.full(k, np.inf)
    np.minimum.at(low, pred, conf)
    low[np.isinf(low)] = np.nan
    return low
