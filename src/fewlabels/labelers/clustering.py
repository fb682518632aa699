"""Laplacian-regularised transductive prototype clustering.

Seed: "Transductive Few-Shot Learning: Clustering is All You Need?" (Ziko et al.): a
prototype objective plus Laplacian regularisation over the k-NN graph plus supervision
constraints from the few labels, optimised by a block-coordinate bound optimiser whose
per-item updates are independent (parallel). Here each sweep is

    Z ← softmax( scale · cos(x_i, m_c) + lam · Σ_j w_ij z_jc ),   labeled rows clamped,
    m_c ← normalised Σ_i z_ic x_i,

which is the bound update of the paper with soft prototypes re-estimated each sweep
(k-means style). Prototypes start from the labeled class means (class-name embeddings
for classes without labels, as in :mod:`.prototype`).

Cost: each sweep O(n · k · d + nnz(W) · k) = O(n · (k·d + knn·k)); memory O(n · (k + knn)).
"""

from __future__ import annotations

import numpy as np

from ..graph import graph_for, normalize_rows
from ..validation import check_in_range
from .base import TransductiveLabeler, softmax
from .prototype import PrototypeLabeler


class LaplacianClusteringLabeler(TransductiveLabeler):
    """Transductive clustering with labeled items fixed and a k-NN graph smoothing term.

    Parameters
    ----------
    scale : float, default=20.0
        Inverse temperature on cosine similarity to the prototypes.
    lam : float, default=5.0
        Weight of the Laplacian (neighbour agreement) term; 0 gives constrained soft k-means.
    n_iter : int, default=15
        Sweeps of the bound optimiser.
    n_neighbors : int, default=10
    graph : sparse (n, n), optional
        Precomputed symmetric k-NN graph of the pool.
    class_embeddings : (k, d), optional
        Seeds prototypes of classes with no label.
    balanced : bool, default=False
        Class-balance prior: after each sweep, a few Sinkhorn steps rescale the soft
        assignments so every class holds about n/k items. Use it only when the classes
        are known to be roughly balanced; it hurts imbalanced data.
    """

    name = "clustering"
    reads = ("class_embeddings", "graph", "n_classes", "random_state")
    min_labels = 1

    def __init__(self, scale: float = 20.0, lam: float = 5.0, n_iter: int = 15, n_neighbors: int = 10,
                 graph=None, class_embeddings=None, balanced: bool = False, n_classes: int | None = None,
                 random_state: int | None = 0):
        self.scale = scale
        self.balanced = balanced
        self.lam = lam
        self.n_iter = n_iter
        self.n_neighbors = n_neighbors
        self.graph = graph
        self.class_embeddings = class_embeddings
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        check_in_range("n_iter", self.n_iter, 1)
        check_in_range("lam", self.lam, 0)
        check_in_range("scale", self.scale, 0, low_open=True)
        k = self.n_classes_
        Xn = normalize_rows(X)
        W = None
        if self.lam > 0:
            W = graph_for(X, self.graph, self.n_neighbors)
        init = PrototypeLabeler(scale=self.scale, class_embeddings=self.class_embeddings, n_classes=k)
        init.fit(X, y)
        active = init.has_prototype_
        Z = init.predict_proba(X)
        m = y >= 0
        onehot = np.eye(k)[y[m]]
        for _ in range(self.n_iter):
            Z[m] = onehot
            M = normalize_rows(Z.T.astype(np.float32) @ Xn)  # float32 BLAS: a mixed-dtype matmul is 4x slower
            logits = self.scale * (Xn @ M.T).astype(np.float64)
            if W is not None:
                logits += self.lam * (W @ Z)
            logits[:, ~active] = -np.inf
            Z = softmax(logits)
            if self.balanced:
                Z = sinkhorn_balance(Z, active)
        Z[m] = onehot
        self.prototypes_ = M
        self.n_iter_ = self.n_iter
        self.transduction_ = Z


def sinkhorn_balance(Z: np.ndarray, active: np.ndarray, n_iter: int = 3) -> np.ndarray:
    """Alternately rescale columns to equal mass (n / k_active) and rows to sum 1.

    Cost O(n_iter · n · k)."""
    n = Z.shape[0]
    target = n / max(int(active.sum()), 1)
    for _ in range(n_iter):
        mass = Z.sum(axis=0, keepdims=True)
        Z = Z * np.where(mass > 0, target / np.maximum(mass, 1e-12), 0.0)
        Z = Z / np.maximum(Z.sum(axis=1, keepdims=True), 1e-12)
    return Z
