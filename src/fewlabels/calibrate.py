"""Temperature scaling and calibration error.

A temperature T rescales log-probabilities: p_T ∝ p^(1/T). It is fitted by minimising the
negative log-likelihood of out-of-fold predictions on the given labels (Guo et al. 2017),
so the confidence of a label says how often such labels are right.

Cost: O(n_labeled · k) per objective evaluation, ~30 evaluations.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

EPS = 1e-7


def apply_temperature(P: np.ndarray, T: float) -> np.ndarray:
    """Return P^(1/T), renormalised; shape (n, k)."""
    logP = np.log(np.clip(P, EPS, 1.0)) / T
    logP -= logP.max(axis=1, keepdims=True)
    E = np.exp(logP)
    return E / E.sum(axis=1, keepdims=True)


def fit_temperature(P: np.ndarray, y: np.ndarray, *, bounds=(0.05, 20.0), prior_scale: float = 1.0) -> float:
    """Temperature minimising the NLL of ``P`` on true codes ``y`` (both out of fold).

    A weak Gaussian prior on log T (centred on T = 1, standard deviation ``prior_scale``,
    worth one observation) keeps T finite when every out-of-fold prediction happens to be
    right, where the plain NLL would drive T to its lower bound and every confidence to 1.
    """
    P = np.asarray(P, dtype=np.float64)
    y = np.asarray(y)
    if len(y) == 0:
        return 1.0
    logP = np.log(np.clip(P, EPS, 1.0))

    def nll(log_t):
        Z = logP / np.exp(log_t)
        Z -= Z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(Z).sum(axis=1))
        return float(np.mean(lse - Z[np.arange(len(y)), y]) + log_t ** 2 / (2 * prior_scale ** 2 * len(y)))

    res = minimize_scalar(nll, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded")
    return float(np.exp(res.x))


def expected_calibration_error(P: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """ECE of the top-label confidence: Σ_b |acc_b − conf_b| · n_b / n over equal-width bins."""
    P = np.asarray(P)
    if len(y) == 0:
        return float("nan")
    conf = P.max(axis=1)
    correct = (P.argmax(axis=1) == y).astype(float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    n_b = np.bincount(bins, minlength=n_bins)
    acc_b = np.bincount(bins, weights=correct, minlength=n_bins)
    conf_b = np.bincount(bins, weights=conf, minlength=n_bins)
    nz = n_b > 0
    return float(np.abs(acc_b[nz] - conf_b[nz]).sum() / len(y))


def cross_fitted_ece(P: np.ndarray, y: np.ndarray, fold_of: np.ndarray, n_bins: int = 15) -> dict:
    """ECE before and after temperature scaling, with T for each fold fitted on the others.

    ``P`` and ``y`` are out-of-fold predictions and true codes of the labeled rows;
    ``fold_of`` gives each row's fold. Returns ``{"ece_before", "ece_after"}``.
    """
    calibrated = np.empty_like(np.asarray(P, dtype=np.float64))
    for f in np.unique(fold_of):
        test = fold_of == f
        T = fit_temperature(P[~test], y[~test]) if (~test).any() else 1.0
        calibrated[test] = apply_temperature(P[test], T)
    return {
        "ece_before": expected_calibration_error(P, y, n_bins),
        "ece_after": expected_calibration_error(calibrated, y, n_bins),
    }
