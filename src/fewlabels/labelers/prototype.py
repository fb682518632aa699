"""Nearest class mean (prototypical classification) on the given labels.

Seeds: prototypes as in "Transductive Few-Shot Learning: Clustering is All You Need?" (its
non-regularised special case) and TEEN ("Few-Shot Class-Incremental Learning via
Training-Free Prototype Calibration"), whose idea is used for classes with no label: their
prototype is the class-name embedding when one is available.

Optional sub-prototypes (``n_sub > 1``), seed: "Learning from Weakly-labeled Web Videos via
Exploring Sub-Concepts" (Sub-Pseudo Labels): a class may be made of several sub-concepts, so
one mean can fall between them. A class with at least ``2 · n_sub`` labeled rows is split
by k-means into ``n_sub`` sub-prototypes, and its score is the best of them.

Cost: O(n_labeled · d) to fit, O(n · k · d) to predict. With ``n_sub > 1``: fitting adds
k-means on each split class's labeled rows, O(n_labeled · n_sub · d · iters · n_init) in
all; predicting is O(n · k · n_sub · d) time and O(n · k · n_sub) memory.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, InputError
from ..graph import normalize_rows
from ..validation import check_in_range
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
    n_sub : int, default=1
        Sub-prototypes per class (Sub-Pseudo Label / sub-concepts seed). 1 keeps one
        prototype per class (the plain method). With ``n_sub > 1``, every class with at
        least ``2 · n_sub`` labeled rows (and not TEEN-calibrated) is split by k-means
        (scikit-learn ``KMeans`` on its unit-normalised labeled rows, ``n_init=3``, seeded
        with ``random_state``) into ``n_sub`` clusters; each cluster's mean, mixed with the
        class-name embedding like the single prototype, is a sub-prototype. The class
        score is the maximum of ``scale · cos`` over its sub-prototypes (nearest
        sub-prototype). Classes with fewer labeled rows keep their one prototype.

    Attributes
    ----------
    prototypes_ : ndarray of shape (n_classes, n_features)
        One unit prototype per class (also kept with ``n_sub > 1``).
    sub_prototypes_ : ndarray of shape (n_prototypes, n_features)
        Unit prototypes scored at predict time: ``prototypes_`` itself when ``n_sub == 1``.
    sub_class_ : ndarray of shape (n_prototypes,)
        Class code of each row of ``sub_prototypes_``.
    """

    name = "prototype"
    reads = ("class_embeddings", "n_classes", "random_state")
    rowwise = True
    min_labels = 1

    def __init__(self, scale: float = 20.0, class_embeddings=None, text_weight: float = 1.0,
                 sparse_max: int = 0, alpha: float = 0.5, tau: float = 16.0, n_sub: int = 1,
                 n_classes: int | None = None, random_state: int | None = 0):
        self.scale = scale
        self.n_sub = n_sub
        self.sparse_max = sparse_max
        self.alpha = alpha
        self.tau = tau
        self.class_embeddings = class_embeddings
        self.text_weight = text_weight
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        if isinstance(self.n_sub, bool) or not isinstance(self.n_sub, (int, np.integer)):
            raise ConfigError(f"n_sub={self.n_sub!r} must be an integer >= 1 (sub-prototypes per class)")
        check_in_range("n_sub", self.n_sub, 1)
        Xn = normalize_rows(X)
        means, counts = class_means(Xn, y, self.n_classes_)
        sums = means * counts[:, None]
        T = None
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
        self.sub_prototypes_, self.sub_class_ = self.prototypes_, np.arange(self.n_classes_)
        if self.n_sub > 1:
            self._split_classes(Xn, y, labeled, T)

    def _split_classes(self, Xn, y, labeled, T):
        """Replace the prototype of each class with >= 2·n_sub labeled rows by n_sub
        k-means sub-prototypes (each mixed with the class-name embedding)."""
        from sklearn.cluster import KMeans

        protos, owner = [], []
        for c in range(self.n_classes_):
            if labeled[c] < 2 * self.n_sub or self.calibrated_[c]:
                protos.append(self.prototypes_[c][None])
                owner.append(np.full(1, c))
                continue
            Xc = Xn[y == c].astype(np.float64)
            km = KMeans(n_clusters=self.n_sub, n_init=3, random_state=self.random_state).fit(Xc)
            sums = np.zeros((self.n_sub, Xn.shape[1]))
            np.add.at(sums, km.labels_, Xc)
            sizes = np.bincount(km.labels_, minlength=self.n_sub).astype(np.float64)
            keep = sizes > 0
            sums, sizes = sums[keep], sizes[keep]
            if T is not None:
                sums = sums + self.text_weight * T[c].astype(np.float64)
                sizes = sizes + self.text_weight
            protos.append(normalize_rows((sums / sizes[:, None]).astype(np.float32)))
            owner.append(np.full(len(sums), c))
        self.sub_prototypes_ = np.concatenate(protos).astype(np.float32)
        self.sub_class_ = np.concatenate(owner)

    def _predict_proba(self, X):
        if self.sub_prototypes_ is self.prototypes_:  # one prototype per class
            Z = self.scale * normalize_rows(X) @ self.prototypes_.T
        else:  # best sub-prototype of each class
            S = self.scale * normalize_rows(X) @ self.sub_prototypes_.T
            Z = np.full((X.shape[0], self.n_classes_), -np.inf, dtype=S.dtype)
            for c in np.unique(self.sub_class_):
                Z[:, c] = S[:, self.sub_class_ == c].max(axis=1)
        Z[:, ~self.has_prototype_] = -np.inf
        return softmax(Z)
