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
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

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
    """

    name = "selftraining"
    min_labels = 0

    def __init__(self, n_rounds: int = 4, C: float = 10.0, class_embeddings=None, max_iter: int = 100,
                 max_train: int = 4000, n_classes: int | None = None, random_state: int | None = 0):
        self.n_rounds = n_rounds
        self.max_train = max_train
        self.C = C
        self.class_embeddings = class_embeddings
        self.max_iter = max_iter
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        check_in_range("n_rounds", self.n_rounds, 1)
        check_in_range("max_train", self.max_train, 1)
        rng = np.random.default_rng(self.random_state)
        k = self.n_classes_
        lab = np.flatnonzero(y >= 0)
        unl = np.flatnonzero(y < 0)
        self.start_ = PrototypeLabeler(class_embeddings=self.class_embeddings, n_classes=k).fit(X, y)
        P = self.start_.predict_proba(X)
        model = LogisticRegression(C=self.C, max_iter=self.max_iter, warm_start=True,
                                   random_state=self.random_state)
        self.n_pseudo_ = []
        for r in range(1, self.n_rounds + 1):
            pred, conf = P[unl].argmax(axis=1), P[unl].max(axis=1)
            chosen = _top_share_per_class(pred, conf, r / self.n_rounds, k)
            if chosen.sum() > self.max_train:  # same share of every class, at random
                idx = np.flatnonzero(chosen)
                chosen[idx[rng.random(len(idx)) >= self.max_train / len(idx)]] = False
            rows = np.concatenate([lab, unl[chosen]])
            targets = np.concatenate([y[lab], pred[chosen]])
            weights = np.concatenate([np.ones(len(lab)), conf[chosen]])
            if len(np.unique(targets)) < 2:
                break
            if model.warm_start and hasattr(model, "classes_") and not np.array_equal(
                    model.classes_, np.unique(targets)):
                model = LogisticRegression(C=self.C, max_iter=self.max_iter, warm_start=True,
                                           random_state=self.random_state)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X[rows], targets, sample_weight=weights)
            P = np.zeros((X.shape[0], k))
            P[:, model.classes_] = model.predict_proba(X)
            self.n_pseudo_.append(int(chosen.sum()))
        self.model_ = model if hasattr(model, "classes_") else None  # None: one class only
        self.n_iter_ = len(self.n_pseudo_)

    def _predict_proba(self, X):
        if self.model_ is None:
            return self.start_.predict_proba(X)
        P = np.zeros((X.shape[0], self.n_classes_))
        P[:, self.model_.classes_] = self.model_.predict_proba(X)
        return P


def _top_share_per_class(pred: np.ndarray, conf: np.ndarray, share: float, k: int) -> np.ndarray:
    """Boolean mask: for each class, the ``share`` most confident items predicted as it
    (at least one per predicted class)."""
    order = np.lexsort((-conf, pred))  # by class, then confidence descending
    counts = np.bincount(pred, minlength=k)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(pred), dtype=np.int64)
    rank[order] = np.arange(len(pred)) - np.repeat(starts, counts)
    quota = np.maximum(np.ceil(share * counts), np.minimum(counts, 1))
    return rank < quota[pred]
