"""Nearest class mean (prototypical classification) on the given labels.

Seeds: prototypes as in "Transductive Few-Shot Learning: Clustering is All You Need?" (its
non-regularised special case) and TEEN ("Few-Shot Class-Incremental Learning via
Training-Free Prototype Calibration"), whose idea is used for classes with no label: their
prototype is the class-name embedding when one is available.

Cost: O(n_labeled · d) to fit, O(n · k · d) to predict.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, InputError
from ..graph import normalize_rows
from .base import BaseLabeler, class_means, softmax


class PrototypeLabeler(BaseLabeler):
    """Softmax over cosine similarity to each class's mean labeled embedding.

    Parameters
    ----------
    scale : float, default=20.0
    class_embeddings : array (k, d), optional
        Used as the prototype of classes with no labeled row, and mixed in with weight
        ``text_weight`` (counted as that many labeled examples) for the others.
    text_weight : float, default=1.0
    sparse_max : int, default=0
        TEEN calibration: the prototype of a class with at most ``sparse_max`` given labels
        (but at least one prototype) is fused with the prototypes of better-populated
        classes, weighted by their similarity: p ← alpha · p + (1 − alpha) · Σ_j
        softmax_j(tau · cos(p, p_j)) · p_j. 0 turns it off.
    alpha, tau : float, default=0.5, 16.0
        TEEN's fusion weight and temperature.
    """

    name = "prototype"
    min_labels = 1

    def __init__(self, scale: float = 20.0, class_embeddings=None, text_weight: float = 1.0,
                 sparse_max: int = 0, alpha: float = 0.5, tau: float = 16.0,
                 n_classes: int | None = None, random_state: int | None = 0):
        self.scale = scale
        self.sparse_max = sparse_max
        self.alpha = alpha
        self.tau = tau
        self.class_embeddings = class_embeddings
        self.text_weight = text_weight
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        Xn = normalize_rows(X)
        means, counts = class_means(Xn, y, self.n_classes_)
        sums = means * counts[:, None]
        if self.class_embeddings is not None:
            if np.shape(self.class_embeddings) != (self.n_classes_, X.shape[1]):
                raise ConfigError(f"class_embeddings has shape {np.shape(self.class_embeddings)}; expected "
                                  f"({self.n_classes_}, {X.shape[1]}): one row per class, same encoder as X")
            T = normalize_rows(np.asarray(self.class_embeddings, dtype=np.float32))
            sums = sums + self.text_weight * T
            counts = counts + self.text_weight
        self.prototypes_ = normalize_rows(sums / np.maximum(counts, 1e-12)[:, None])
        self.has_prototype_ = counts > 0
        labeled = np.bincount(y[y >= 0], minlength=self.n_classes_)
        sparse = self.has_prototype_ & (labeled <= self.sparse_max)
        rich = self.has_prototype_ & (labeled > self.sparse_max)
        if self.sparse_max > 0 and sparse.any() and rich.any():
            P, R = self.prototypes_[sparse], self.prototypes_[rich]
            fused = self.alpha * P + (1 - self.alpha) * softmax(self.tau * P @ R.T) @ R
            self.prototypes_[sparse] = normalize_rows(fused.astype(np.float32))
        self.calibrated_ = sparse if self.sparse_max > 0 and rich.any() else np.zeros_like(sparse)
        if not self.has_prototype_.any():
            raise InputError("prototype needs at least one labeled row or class_embeddings; got neither")

    def _predict_proba(self, X):
        Z = self.scale * normalize_rows(X) @ self.prototypes_.T
        Z[:, ~self.has_prototype_] = -np.inf
        return softmax(Z)
