"""Cross-validated choice among labelers, and an honest accuracy estimate.

The given labels are split into folds. For each fold, every candidate is fitted on the
*whole pool* with that fold's labels hidden (so transductive methods see the same
unlabeled rows they will label for real) and scored on the hidden labels. The
out-of-fold accuracy of the chosen method, with a Wilson 95% interval over the labeled
rows, estimates the accuracy of its labels on the unlabeled rows.

Labels must be a random sample of the pool for the estimate to carry over; each fit uses
(n_splits − 1)/n_splits of the labels, so the estimate leans slightly pessimistic.

Cost: n_splits × (candidates' fit + predict on the pool).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from sklearn.model_selection import StratifiedKFold

from .errors import InputError
from .labelers.registry import make_labeler


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def make_folds(y: np.ndarray, n_splits: int = 5, random_state: int | None = 0) -> np.ndarray:
    """Fold id of each labeled row (order of ``np.flatnonzero(y >= 0)``), stratified by class.

    ``n_splits`` is lowered to the number of labeled rows when there are fewer.
    """
    lab = np.flatnonzero(y >= 0)
    n_splits = int(min(n_splits, len(lab)))
    if n_splits < 2:
        raise InputError(f"cross-validation needs at least 2 labeled rows; got {len(lab)}")
    counts = np.bincount(y[lab])
    fold_of = np.empty(len(lab), dtype=np.int64)
    skf = StratifiedKFold(n_splits=min(n_splits, max(2, int(counts.max()))), shuffle=True,
                          random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # classes smaller than n_splits
        for f, (_, test) in enumerate(skf.split(np.zeros(len(lab)), y[lab])):
            fold_of[test] = f
    return fold_of


@dataclass
class CandidateScore:
    name: str
    oof_proba: np.ndarray  # (n_labeled, k)
    accuracy: float
    low: float
    high: float
    n: int
    seconds: float

    def as_dict(self) -> dict:
        return {"accuracy": self.accuracy, "low": self.low, "high": self.high, "n": self.n,
                "seconds": round(self.seconds, 3)}


@dataclass
class Selection:
    best: str
    scores: dict[str, CandidateScore]
    fold_of: np.ndarray
    labeled_index: np.ndarray
    y_labeled: np.ndarray
    errors: dict[str, str] = field(default_factory=dict)


def cross_val_proba(name: str, X: np.ndarray, y: np.ndarray, fold_of: np.ndarray, context: dict,
                    tick: Callable[[], None] | None = None) -> np.ndarray:
    """Out-of-fold probabilities of method ``name`` for the labeled rows, shape (n_labeled, k)."""
    lab = np.flatnonzero(y >= 0)
    k = context["n_classes"]
    oof = np.zeros((len(lab), k))
    for f in np.unique(fold_of):
        hide = lab[fold_of == f]
        y_f = y.copy()
        y_f[hide] = -1
        model = make_labeler(name, **context).fit(X, y_f)
        oof[fold_of == f] = model.predict_proba(X)[hide]
        if tick:
            tick()
    return oof


def select_labeler(X: np.ndarray, y: np.ndarray, candidates: list[str], context: dict, *,
                   n_splits: int = 5, random_state: int | None = 0,
                   tick: Callable[[], None] | None = None) -> Selection:
    """Score each candidate out of fold and pick the most accurate (ties: earlier in list)."""
    import time

    fold_of = make_folds(y, n_splits, random_state)
    lab = np.flatnonzero(y >= 0)
    y_lab = y[lab]
    scores: dict[str, CandidateScore] = {}
    for name in candidates:
        t = time.perf_counter()
        oof = cross_val_proba(name, X, y, fold_of, context, tick)
        correct = int((oof.argmax(axis=1) == y_lab).sum())
        low, high = wilson_interval(correct, len(lab))
        scores[name] = CandidateScore(name, oof, correct / len(lab), low, high, len(lab),
                                      time.perf_counter() - t)
    best = max(candidates, key=lambda c: (scores[c].accuracy, -candidates.index(c)))
    return Selection(best, scores, fold_of, lab, y_lab)
