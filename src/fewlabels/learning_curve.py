"""How much would a model gain from all the given labels over a share of them?

Cross-fitted figures (out-of-fold accuracy, or the confidence of models fitted inside the
folds) describe models that saw (s − 1)/s of the labels; the model the user gets saw all of
them. With 100 labels and 3 folds that is 67 against 100, and on a steep learning curve the
cross-fitted figure is several points pessimistic. :func:`label_gain` reads the difference
off a learning curve of logistic regression on the given rows: accuracy on held-out given
rows against the number of training rows, repeated random splits, fitted as
``a + b · ln(m)`` (the usual shape of few-label learning curves over a 3× range). The gain
from ``from_fraction · n`` to ``n`` labels is then ``b · ln(1 / from_fraction)``, never negative.

It is a proxy: the curve is measured on the vectors given (frozen ones, say), with logistic
regression, not on the model being corrected.

Cost: ``n_repeats · len(fractions)`` logistic-regression fits on at most n_labeled rows,
O(n_labeled · d · k) per L-BFGS iteration each; independent of the pool size.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .labelers.logistic import LogisticLabeler


def label_gain(X: np.ndarray, y: np.ndarray, from_fraction: float, *, n_classes: int | None = None,
               fractions: Sequence[float] = (0.3, 0.45, 0.6, 0.75, 0.9), n_repeats: int = 20,
               random_state: int | None = 0) -> dict:
    """Expected accuracy gain of logistic regression from ``from_fraction`` of the given
    labels (``y >= 0``) to all of them.

    Returns ``{"gain", "slope", "curve"}``: the gain (≥ 0), the fitted slope b per unit of
    ln(labels), and the curve as ``[[training rows, mean held-out accuracy], ...]``.
    Fewer than 10 given labels, or a single class: gain 0 (no curve to read).
    """
    if not 0 < from_fraction <= 1:
        raise ValueError(f"from_fraction must be in (0, 1], got {from_fraction}")
    y = np.asarray(y)
    lab = np.flatnonzero(y >= 0)
    n = len(lab)
    k = int(n_classes if n_classes is not None else (y.max() + 1 if n else 0))
    if n < 10 or len(np.unique(y[lab])) < 2 or from_fraction == 1:
        return {"gain": 0.0, "slope": 0.0, "curve": []}
    rng = np.random.default_rng(random_state)
    ms, accs, weights = [], [], []
    curve: dict[int, list[float]] = {}
    for _ in range(n_repeats):
        perm = rng.permutation(lab)
        for f in fractions:
            m = int(round(f * n))
            train, test = perm[:m], perm[m:]
            if m < 2 or len(test) == 0 or len(np.unique(y[train])) < 2:
                continue
            model = LogisticLabeler(n_classes=k, random_state=random_state).fit(X[train], y[train])
            acc = float((model.predict_proba(X[test]).argmax(axis=1) == y[test]).mean())
            ms.append(m)
            accs.append(acc)
            weights.append(len(test))
            curve.setdefault(m, []).append(acc)
    if len(set(ms)) < 2:
        return {"gain": 0.0, "slope": 0.0, "curve": []}
    x = np.log(np.asarray(ms, dtype=float))
    w = np.asarray(weights, dtype=float)
    a = np.asarray(accs)
    xm, am = np.average(x, weights=w), np.average(a, weights=w)
    slope = float(np.sum(w * (x - xm) * (a - am)) / np.sum(w * (x - xm) ** 2))
    return {"gain": max(0.0, slope) * math.log(1.0 / from_fraction), "slope": slope,
            "curve": [[m, float(np.mean(v))] for m, v in sorted(curve.items())]}
