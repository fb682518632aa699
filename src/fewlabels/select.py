"""Cross-validated choice among labelers, and an honest accuracy estimate.

The given labels are split into folds. For each fold, every candidate is fitted on the
*whole pool* with that fold's labels hidden (so transductive methods see the same
unlabeled rows they will label for real) and scored on the hidden labels. The
out-of-fold accuracy of the chosen method estimates the accuracy of its labels on the
unlabeled rows; since the best of several noisy scores is optimistic, the reported value
is bias-corrected by bootstrap (BBC-CV), with a Wilson 95% interval over the labeled rows.

Labels must be a random sample of the pool for the estimate to carry over; each fit uses
(n_splits − 1)/n_splits of the labels, so the estimate leans slightly pessimistic.

Cost: n_splits × (candidates' fit + predict on the pool).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from .errors import InputError
from .pool import Pool
from .labelers.registry import as_pool, build_labeler, get_labeler_class, labeler_input
from .labelers.stacking import cross_fitted_stack, fit_stack_weights


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
    if counts.max() >= 2:
        splitter = StratifiedKFold(n_splits=min(n_splits, int(counts.max())), shuffle=True,
                                   random_state=random_state)
    else:  # one label per class: stratifying is impossible
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # classes smaller than n_splits
        for f, (_, test) in enumerate(splitter.split(np.zeros(len(lab)), y[lab])):
            fold_of[test] = f
    return fold_of


def bootstrap_bias_corrected(correct: np.ndarray, n_boot: int = 1000, random_state: int | None = 0) -> float:
    """Accuracy of "pick the best candidate" with the optimism of the pick removed (BBC-CV).

    ``correct`` is (n_labeled, n_candidates), 1 where a candidate's out-of-fold prediction
    is right. Each bootstrap draws rows, picks the best candidate on the drawn rows and
    scores it on the rows not drawn (Tsamardinos et al. 2018, "Bootstrapping the
    out-of-sample predictions for efficient and accurate cross-validation"). The max of
    several noisy accuracies is biased upward; this is not. Cost: O(n_boot · n · c).
    """
    correct = np.asarray(correct, dtype=np.float64)
    n, c = correct.shape
    if c == 1 or n < 5:
        return float(correct[:, 0].mean()) if c == 1 else float(correct.mean(axis=0).max())
    rng = np.random.default_rng(random_state)
    idx = rng.integers(0, n, size=(n_boot, n))
    counts = np.zeros((n_boot, n))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n), idx.ravel()), 1.0)
    in_bag_acc = counts @ correct  # (n_boot, c) sums over drawn rows
    best = in_bag_acc.argmax(axis=1)
    oob = counts == 0
    n_oob = oob.sum(axis=1)
    oob_correct = (oob * correct[:, best].T).sum(axis=1)
    ok = n_oob > 0
    return float(np.mean(oob_correct[ok] / n_oob[ok]))


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
    #: accuracy of the selected method with the optimism of selecting it removed
    corrected_accuracy: float = float("nan")
    #: stacking weights learned on all out-of-fold predictions, by candidate name
    weights: dict = None


def _tick_folds(fold_of, tick) -> None:
    for _ in np.unique(fold_of):
        if tick:
            tick()


def cross_val_proba(name: str, X: np.ndarray, y: np.ndarray, fold_of: np.ndarray, context: Pool | dict,
                    tick: Callable[[], None] | None = None) -> np.ndarray:
    """Out-of-fold probabilities of method ``name`` for the labeled rows, shape (n_labeled, k).

    ``context``: the :class:`~fewlabels.pool.Pool` the method reads (or a dict of its fields).
    ``tick()`` is called after each fold.
    """
    lab = np.flatnonzero(y >= 0)
    context = as_pool(context)
    k = context.n_classes
    oof = np.zeros((len(lab), k))
    for f in np.unique(fold_of):
        hide = lab[fold_of == f]
        y_f = y.copy()
        y_f[hide] = -1
        X_in = labeler_input(name, X, context)
        model = build_labeler(name, context).fit(X_in, y_f)
        oof[fold_of == f] = model.predict_proba(X_in)[hide]
        if tick:
            tick()
    return oof


def clearly_better(correct_a: np.ndarray, correct_b: np.ndarray) -> bool:
    """One-standard-error rule: is a's out-of-fold correctness above b's by more than the
    standard error of the paired difference?

    Exactly one SE is not "more": one row right where the other is wrong, and no other
    difference, is a tie (compared with a relative tolerance, as the two sides are then
    equal in exact arithmetic but not always in floating point).
    """
    diff = np.asarray(correct_a, dtype=float) - np.asarray(correct_b, dtype=float)
    if len(diff) < 2:
        return bool(diff.sum() > 0)
    return bool(diff.mean() > diff.std(ddof=1) / np.sqrt(len(diff)) * (1 + 1e-9))


def select_labeler(X: np.ndarray, y: np.ndarray, candidates: list[str], context: Pool | dict, *,
                   n_splits: int = 5, random_state: int | None = 0, prefer: str | Sequence[str] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> Selection:
    """Score each candidate out of fold and pick the most accurate (ties: earlier in list).

    With ``prefer`` (a candidate name, or several in order), a preference breaks ties and
    nothing more: among the preferred candidates that the most accurate one does not beat by
    more than one standard error of the paired difference, the most accurate is kept
    (equal accuracy: the earlier in ``prefer``); when each is beaten, the most accurate.
    (Before, the first such preferred candidate was kept even when another preferred one
    scored higher: with rules, ``fused`` 4 points under ``ensemble`` on 100 WRENCH YouTube
    labels was kept, and scored 0.856 on test against the ensemble's 0.940.)

    ``progress(done, total)`` is called after each (candidate, fold) fit.
    """
    import time

    fold_of = make_folds(y, n_splits, random_state)
    total = len(candidates) * len(np.unique(fold_of))
    done = [0]

    def tick():
        done[0] += 1
        if progress:
            progress(done[0], total)

    lab = np.flatnonzero(y >= 0)
    y_lab = y[lab]
    scores: dict[str, CandidateScore] = {}
    weights: dict[str, np.ndarray] = {}
    for name in candidates:
        t = time.perf_counter()
        cls = get_labeler_class(name)
        members = getattr(cls, "default_members", None)
        stacked = getattr(cls, "stacked_members", None)
        if members and all(m in scores for m in members):
            # A mean ensemble's out-of-fold output is the mean of its members' (same folds).
            oof = np.mean([scores[m].oof_proba for m in members], axis=0)
            _tick_folds(fold_of, tick)
        elif stacked and all(m in scores for m in stacked):
            # A stack's weights for each fold are learned on the other folds only.
            probas = [scores[m].oof_proba for m in stacked]
            oof = cross_fitted_stack(probas, y_lab, fold_of)
            weights[name] = fit_stack_weights(probas, y_lab)
            _tick_folds(fold_of, tick)
        else:
            oof = cross_val_proba(name, X, y, fold_of, context, tick)
        correct = int((oof.argmax(axis=1) == y_lab).sum())
        low, high = wilson_interval(correct, len(lab))
        scores[name] = CandidateScore(name, oof, correct / len(lab), low, high, len(lab),
                                      time.perf_counter() - t)
    best = max(candidates, key=lambda c: (scores[c].accuracy, -candidates.index(c)))
    order = [prefer] if isinstance(prefer, str) else list(prefer or ())
    right_best = scores[best].oof_proba.argmax(axis=1) == y_lab
    tied = [p for p in order if p in scores and (
        p == best or not clearly_better(right_best, scores[p].oof_proba.argmax(axis=1) == y_lab))]
    if tied:  # the most accurate preferred candidate the best does not clearly beat; exact ties by order
        best = max(tied, key=lambda p: (scores[p].accuracy, -order.index(p)))
    correct = np.stack([scores[c].oof_proba.argmax(axis=1) == y_lab for c in candidates], axis=1)
    corrected = bootstrap_bias_corrected(correct, random_state=random_state)
    return Selection(best, scores, fold_of, lab, y_lab, corrected, weights)
