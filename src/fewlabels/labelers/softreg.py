"""Multinomial logistic regression on *soft* targets, the inner learner of the group
labelers (label proportions, multiple-instance bags).

Minimises  -Σ_i w_i Σ_c T_ic log softmax(x_i W + b)_c + (1 / 2C) ||W||²  with L-BFGS.
Cost: O(n · d · k) time per iteration, O(n · k + d · k) memory beyond X.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from .base import softmax


def fit_soft_logreg(X: np.ndarray, T: np.ndarray, *, weights: np.ndarray | None = None, C: float = 10.0,
                    init: np.ndarray | None = None, max_iter: int = 100) -> np.ndarray:
    """Weights of shape (d + 1, k) (last row: intercepts) fitted to soft targets ``T`` (n, k).

    ``weights`` (n,) scales each row's loss (0 drops it); ``init`` warm-starts L-BFGS.
    """
    X = np.asarray(X, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    n, d = X.shape
    k = T.shape[1]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    total = max(w.sum(), 1e-12)
    Xb = np.hstack([X, np.ones((n, 1))])
    lam = 1.0 / (C * total)

    def loss_grad(theta):
        W = theta.reshape(d + 1, k)
        Z = Xb @ W
        Z -= Z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(Z).sum(axis=1, keepdims=True))
        logP = Z - lse
        loss = -(w[:, None] * T * logP).sum() / total + 0.5 * lam * (W[:-1] ** 2).sum()
        # d loss / d Z = w * (P * sum_c T - T)
        G = w[:, None] * (np.exp(logP) * T.sum(axis=1, keepdims=True) - T) / total
        grad = Xb.T @ G
        grad[:-1] += lam * W[:-1]
        return loss, grad.ravel()

    theta0 = np.zeros((d + 1) * k) if init is None else np.asarray(init, dtype=np.float64).ravel()
    res = minimize(loss_grad, theta0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return res.x.reshape(d + 1, k)


def soft_logreg_proba(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Probabilities (n, k) of the model ``W`` from :func:`fit_soft_logreg`."""
    return softmax(np.asarray(X, dtype=np.float64) @ W[:-1] + W[-1])
