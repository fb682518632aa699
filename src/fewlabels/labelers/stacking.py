"""Stacked ensemble: member probabilities mixed with weights learned on the given labels.

Seed: issue "ensemble of labelers" (stacking the candidates' out-of-fold probabilities,
learned on the given labels only). The weights w (on the simplex) minimise the negative
log-likelihood of Σ_m w_m · P_m on out-of-fold predictions, with a pull toward equal
weights so that a hundred labels cannot push all weight onto one lucky member. The
selection step scores the stack with cross-fitted weights (the weights for each fold are
learned on the other folds), so its out-of-fold accuracy stays honest.

Cost: the members' costs, plus O(iters · n_labeled · k · m) to learn m weights.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from .base import softmax
from .ensemble import DEFAULT_MEMBERS, MeanEnsembleLabeler

EPS = 1e-7


def fit_stack_weights(probas: list[np.ndarray], y: np.ndarray, *, ridge: float = 1.0) -> np.ndarray:
    """Simplex weights for ``probas`` (each (n, k)) minimising NLL on codes ``y``.

    ``ridge`` penalises the softmax parameters' squared norm (divided by n): 0 = no pull
    toward equal weights.
    """
    P = np.stack(probas)  # (m, n, k)
    m, n = P.shape[0], P.shape[1]
    if m == 1 or n == 0:
        return np.full(m, 1.0 / m)
    p_true = P[:, np.arange(n), y]  # (m, n)

    def objective(theta):
        w = softmax(theta[None, :])[0]
        mix = np.clip(w @ p_true, EPS, None)
        nll = -np.mean(np.log(mix)) + ridge * theta @ theta / (2 * n)
        # gradient through the softmax: d/dθ_j = Σ_i w_i (δ_ij − w_j) g_i, g = dNLL/dw
        g = -np.mean(p_true / mix, axis=1)
        grad = w * (g - w @ g) + ridge * theta / n
        return nll, grad

    res = minimize(objective, np.zeros(m), jac=True, method="L-BFGS-B")
    return softmax(res.x[None, :])[0]


def cross_fitted_stack(probas: list[np.ndarray], y: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    """Out-of-fold stacked probabilities: each fold mixed with weights learned on the others."""
    out = np.zeros_like(probas[0])
    for f in np.unique(fold_of):
        test = fold_of == f
        w = fit_stack_weights([P[~test] for P in probas], y[~test])
        out[test] = sum(wm * P[test] for wm, P in zip(w, probas))
    return out


class StackedEnsembleLabeler(MeanEnsembleLabeler):
    """Weighted mix of the members' ``predict_proba``.

    Parameters
    ----------
    members : tuple of registry names
    weights : array of shape (len(members),), optional
        Mixing weights on the simplex, learned by the selection step from out-of-fold
        predictions (:func:`fit_stack_weights`). Default: equal weights.
    """

    name = "stacking"
    reads = ("class_embeddings", "graph", "weights", "n_classes", "random_state")
    #: the selection step learns weights from these members' out-of-fold outputs
    stacked_members = DEFAULT_MEMBERS
    default_members = None

    def __init__(self, members: tuple[str, ...] = DEFAULT_MEMBERS, weights=None, class_embeddings=None,
                 graph=None, n_classes: int | None = None, random_state: int | None = 0):
        super().__init__(members=members, class_embeddings=class_embeddings, graph=graph, n_classes=n_classes,
                         random_state=random_state)
        self.weights = weights

    def _predict_proba(self, X):
        w = np.full(len(self.members), 1.0 / len(self.members)) if self.weights is None else np.asarray(self.weights)
        return sum(wm * est.predict_proba(X) for wm, est in zip(w, self.estimators_))
