"""Label spreading on a sparse, symmetric k-NN graph.

Seed family: graph-based label propagation (Zhou et al., "Learning with Local and Global
Consistency"; the label-propagation methods in ../shared/seeds). Labels diffuse along the
FAISS k-NN graph: F ← α · S · F + (1 − α) · Y with S = D^-1/2 W D^-1/2.

Cost: graph O(n² · d) exact / O(n log n · d) HNSW (see :mod:`fewlabels.graph`, shared
across folds when the pipeline passes ``graph``); each iteration O(nnz · k) = O(n · knn · k);
memory O(n · (knn + k)). Never a dense n × n matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import ConfigError
from ..validation import check_in_range
from ..graph import graph_for
from .base import TransductiveLabeler


def normalized_adjacency(W: sp.spmatrix) -> sp.csr_matrix:
    """S = D^-1/2 W D^-1/2 (isolated nodes keep zero rows)."""
    deg = np.asarray(W.sum(axis=1)).ravel()
    inv = np.zeros_like(deg)
    inv[deg > 0] = 1.0 / np.sqrt(deg[deg > 0])
    D = sp.diags(inv)
    return (D @ W @ D).tocsr()


class LabelSpreadingLabeler(TransductiveLabeler):
    """Label spreading over a k-NN graph.

    Parameters
    ----------
    alpha : float, default=0.9
        Share of a node's label that comes from its neighbours (0 < alpha < 1).
    n_neighbors : int, default=10
    max_iter : int, default=50
    tol : float, default=1e-4
    class_mass_normalization : bool, default=False
        Rescale each class column so its total mass matches the labeled class
        proportions (Zhu et al. 2003).
    graph : sparse matrix (n, n), optional
        A precomputed symmetric k-NN graph of the same pool (shared across folds).
    """

    name = "spreading"
    reads = ("graph", "n_classes", "random_state")
    min_labels = 1

    def __init__(self, alpha: float = 0.9, n_neighbors: int = 10, max_iter: int = 50, tol: float = 1e-4,
                 class_mass_normalization: bool = False, graph=None, n_classes: int | None = None,
                 random_state: int | None = 0):
        self.alpha = alpha
        self.n_neighbors = n_neighbors
        self.max_iter = max_iter
        self.tol = tol
        self.class_mass_normalization = class_mass_normalization
        self.graph = graph
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        check_in_range("alpha", self.alpha, 0, low_open=True)
        if self.alpha >= 1:
            raise ConfigError(f"alpha={self.alpha!r} is out of range; it must be < 1")
        check_in_range("max_iter", self.max_iter, 1)
        n, k = X.shape[0], self.n_classes_
        S = normalized_adjacency(graph_for(X, self.graph, self.n_neighbors))
        m = y >= 0
        Y0 = np.zeros((n, k))
        Y0[np.flatnonzero(m), y[m]] = 1.0
        F = Y0.copy()
        self.n_iter_ = 0
        self.converged_ = False
        for it in range(self.max_iter):
            F_new = self.alpha * (S @ F) + (1 - self.alpha) * Y0
            delta = np.abs(F_new - F).max()
            F = F_new
            self.n_iter_ = it + 1
            if delta < self.tol:
                self.converged_ = True
                break
        if self.class_mass_normalization and m.any():
            prior = np.bincount(y[m], minlength=k) / m.sum()
            mass = F.sum(axis=0)
            F = F * np.where(mass > 0, prior / np.maximum(mass, 1e-12), 0.0)
        # Rows never reached by a label fall back to the labeled class proportions.
        total = F.sum(axis=1, keepdims=True)
        prior = np.bincount(y[m], minlength=k).astype(float) if m.any() else np.ones(k)
        prior = (prior + 1e-3) / (prior + 1e-3).sum()
        F = np.where(total > 1e-12, F / np.maximum(total, 1e-12), prior)
        self.transduction_ = F
