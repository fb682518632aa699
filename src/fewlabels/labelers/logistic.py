"""Supervised baseline: multinomial logistic regression on the given labels only.

Cost: O(n_labeled · d · k) per L-BFGS iteration to fit; O(n · d · k) to predict.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from .base import BaseLabeler


class LogisticLabeler(BaseLabeler):
    """Logistic regression trained on the labeled rows (y >= 0); unlabeled rows are ignored.

    A class with no labeled row gets probability 0 (the model cannot know it);
    with a single labeled class every row gets that class.

    Parameters
    ----------
    C : float, default=10.0
        Inverse L2 strength. Embeddings are unit vectors, so logits are small at C=1;
        10 lets a hundred labels separate classes.
    n_classes : int, optional
    random_state : int, optional
    """

    name = "logistic"
    reads = ("n_classes", "random_state")
    rowwise = True
    min_labels = 2

    def __init__(self, C: float = 10.0, n_classes: int | None = None, random_state: int | None = 0):
        self.C = C
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        m = y >= 0
        self.seen_ = np.unique(y[m])
        if len(self.seen_) >= 2:
            self.model_ = LogisticRegression(C=self.C, max_iter=1000, random_state=self.random_state)
            self.model_.fit(X[m], y[m])
        else:
            self.model_ = None

    def _predict_proba(self, X):
        P = np.zeros((X.shape[0], self.n_classes_))
        if self.model_ is None:
            if len(self.seen_):
                P[:, self.seen_[0]] = 1.0
            else:
                P[:] = 1.0 / self.n_classes_
            return P
        P[:, self.model_.classes_] = self.model_.predict_proba(X)
        return P
