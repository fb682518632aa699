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
    """

    name = "prototype"
    min_labels = 1

    def __init__(self, scale: float = 20.0, class_embeddings=None, text_weight: float = 1.0,
                 n_classes: int | None = None, random_state: int | None = 0):
        self.scale = scale
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
        if not self.has_prototype_.any():
            raise InputError("prototype needs at least one labeled row or class_embeddings; got neither")

    def _predict_proba(self, X):
        Z = self.scale * normalize_rows(X) @ self.prototypes_.T
        Z[:, ~self.has_prototype_] = -np.inf
        return softmax(Z)
