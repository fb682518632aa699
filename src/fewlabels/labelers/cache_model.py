"""Training-free cache model over confident pseudo-labels.

Seeds: "Training-Free Unsupervised Prompt for Vision-Language Models" (TFUP) and the
Tip-Adapter family: keep a key-value cache of representative items — keys their
embeddings, values their (pseudo-)labels — chosen by both instance confidence and
similarity to the class prototype, and add a similarity-weighted vote of the cache to the
base scores, without any training.

Base scores are the prototype logits (given labels plus class-name embeddings). For each
class the ``per_class`` unlabeled items predicted as it with the highest confidence ×
prototype similarity join the cache, with every given label. The output is

    softmax( scale · cos(x, prototypes) + alpha · Σ_j exp(−beta · (1 − cos(x, key_j))) · value_j ).

Cost: O(n · k · d) for the base scores, O(n · c · d) for the cache vote with c ≤
k · per_class + n_labeled cached items; memory O(n · k + c · d).
"""

from __future__ import annotations

import numpy as np

from ..graph import normalize_rows
from ..validation import check_in_range
from .base import BaseLabeler, softmax
from .prototype import PrototypeLabeler


class CacheModelLabeler(BaseLabeler):
    """Prototype scores plus an affinity-weighted vote of a cache of confident items.

    Parameters
    ----------
    per_class : int, default=16
        Unlabeled items cached per predicted class.
    alpha : float, default=3.0
        Weight of the cache vote against the prototype logits.
    beta : float, default=5.0
        Sharpness of the affinity exp(−beta · (1 − cos)).
    scale : float, default=20.0
        Logit scale of the prototype scores.
    class_embeddings : (k, d), optional
    """

    name = "cache"
    reads = ("class_embeddings", "n_classes", "random_state")
    min_labels = 0

    def __init__(self, per_class: int = 16, alpha: float = 3.0, beta: float = 5.0, scale: float = 20.0,
                 class_embeddings=None, n_classes: int | None = None, random_state: int | None = 0):
        self.per_class = per_class
        self.alpha = alpha
        self.beta = beta
        self.scale = scale
        self.class_embeddings = class_embeddings
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        check_in_range("per_class", self.per_class, 0)
        k = self.n_classes_
        self.base_ = PrototypeLabeler(scale=self.scale, class_embeddings=self.class_embeddings,
                                      n_classes=k).fit(X, y)
        Xn = normalize_rows(X)
        P = self.base_.predict_proba(X)
        unl = np.flatnonzero(y < 0)
        pred = P[unl].argmax(axis=1)
        sim = (Xn[unl] * self.base_.prototypes_[pred]).sum(axis=1)
        score = P[unl, pred] * sim  # TFUP: instance confidence × prototype similarity
        keys, values = [np.flatnonzero(y >= 0)], [y[y >= 0]]
        for c in range(k):
            members = np.flatnonzero(pred == c)
            top = members[np.argsort(-score[members], kind="stable")[: self.per_class]]
            keys.append(unl[top])
            values.append(np.full(len(top), c))
        idx = np.concatenate(keys)
        self.keys_ = Xn[idx]
        self.values_ = np.eye(k)[np.concatenate(values).astype(int)]

    def _predict_proba(self, X):
        Xn = normalize_rows(X)
        logits = self.scale * Xn @ self.base_.prototypes_.T
        logits[:, ~self.base_.has_prototype_] = -np.inf
        if len(self.keys_):
            affinity = np.exp(-self.beta * (1.0 - Xn @ self.keys_.T))
            logits = logits + self.alpha * affinity @ self.values_
        return softmax(logits)
