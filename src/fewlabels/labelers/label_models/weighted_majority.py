"""Votes weighted by each rule's log-odds of being right (``weighted_majority``)."""

from __future__ import annotations

import numpy as np

from ...errors import ConfigError
from .base import _VoteModel
from .majority import MajorityVoteLabeler
from .matrix import MIN_LABELS_TO_START, _block_rows, _softmax, break_ties, vote_counts


class WeightedMajorityLabeler(_VoteModel):
    """Votes weighted by their log-odds of being right: w_j = log((k − 1)·a_j / (1 − a_j)).

    With conditionally independent rules whose errors spread evenly over the other
    classes, this weighted vote is the exact posterior (the "one-coin" model, Dawid-Skene
    with one accuracy per rule). A rule's accuracy a_j comes from the given labels it voted
    on (add-one smoothed) when there are at least ``min_labeled``. Else it is learned from
    how the rule agrees with the others, by EM on the one-coin model with two guards
    against the degenerate optima of sparse rules:

    * leave-one-out: a_j is the mean posterior, *given the other rules' votes only*, of
      the class rule j voted, over the rows where another rule also voted (or that carry a
      given label). A rule cannot vouch for itself, and rows it alone covers say nothing;
    * a Beta prior on accuracy, mean ``prior_accuracy`` (0.7, Snorkel's ``prec_init``) and
      ``prior_strength`` pseudo-votes, so that a rule that rarely overlaps with others
      stays near a typical rule's accuracy instead of at an extreme.

    The class prior is left out of these posteriors and of the covered rows' prediction
    unless at least ``MIN_LABELS_TO_START`` labels give it: a prior re-estimated from the
    model's own output feeds back (a class grows, wins more ties, grows again) and emptied
    every class but one on WRENCH's TREC and YouTube rules. a_j is clipped to
    [1/k + 0.001, 0.999], so a rule no better than chance gets weight ~0, never a negative one.

    Parameters
    ----------
    min_labeled : int, default=5
    prior_accuracy : float, default=0.7
    prior_strength : float, default=2.0
    max_iter : int, default=50
    n_classes : int
    random_state : int, default=0
        Seeds the breaking of exact ties (see :func:`break_ties`).

    Attributes
    ----------
    accuracies_ : (m,) estimated accuracy of each rule
    weights_ : (m,) log-odds weights
    prior_ : (k,) class prior for rows without votes (given labels, else the majority vote's)
    from_labels_ : (m,) bool, accuracy taken from the given labels
    n_iter_ : EM iterations

    Cost: O(iters·n·m·k) time, O(b·m·k) memory per block of b rows beyond L.
    """

    name = "weighted_majority"

    def __init__(self, min_labeled: int = 5, prior_accuracy: float = 0.7, prior_strength: float = 2.0,
                 max_iter: int = 50, n_classes: int | None = None, random_state: int | None = 0):
        self.min_labeled = min_labeled
        self.prior_accuracy = prior_accuracy
        self.prior_strength = prior_strength
        self.max_iter = max_iter
        self.n_classes = n_classes
        self.random_state = random_state

    def _clip(self, a: np.ndarray) -> np.ndarray:
        return np.clip(a, 1.0 / self.n_classes_ + 1e-3, 1 - 1e-3)

    def _weights(self, a: np.ndarray) -> np.ndarray:
        a = self._clip(a)
        return np.log((self.n_classes_ - 1) * a / (1 - a))

    def agreement(self, L, y, w) -> tuple[np.ndarray, np.ndarray]:
        """(Σ_i P_loo(rule j right on row i), number of such rows) per rule, block by block."""
        k, (n, m) = self.n_classes_, L.shape
        agree, used = np.zeros(m), np.zeros(m)
        log_vp = np.log(self.vote_prior_)
        step = _block_rows(m, k)
        for s in range(0, n, step):
            B, yb = L[s:s + step], y[s:s + step]
            voted = B >= 0
            Z = vote_counts(B, k, w) + log_vp
            top = Z.max(axis=1, keepdims=True)
            E = np.exp(Z - top)
            tot = E.sum(axis=1, keepdims=True)
            p = np.take_along_axis(E, np.maximum(B, 0).astype(np.intp), axis=1) / tot
            lb = yb >= 0
            p[lb] = B[lb] == yb[lb, None]  # a given label is the truth
            use = voted & ((voted.sum(axis=1, keepdims=True) > 1) | lb[:, None])
            agree += np.where(use, p, 0).sum(axis=0)
            used += use.sum(axis=0)
        return agree, used

    def _fit(self, L, y):
        k = self.n_classes_
        if not 0 < self.prior_accuracy < 1 or not self.prior_strength > 0:
            raise ConfigError(f"prior_accuracy={self.prior_accuracy!r} must be in (0, 1) and "
                              f"prior_strength={self.prior_strength!r} > 0")
        self.prior_ = MajorityVoteLabeler(n_classes=k).fit(L, y).prior_
        n_labeled = int((y >= 0).sum())
        self.vote_prior_ = self.prior_ if n_labeled >= MIN_LABELS_TO_START else np.full(k, 1.0 / k)
        lab = (y >= 0)[:, None]
        voted = L >= 0
        n_lab = (voted & lab).sum(axis=0)
        n_right = ((L == y[:, None]) & lab).sum(axis=0)  # abstain (-1) must not match unlabeled (-1)
        self.from_labels_ = n_lab >= self.min_labeled
        from_labels = (n_right + 1) / (n_lab + 2)
        a = np.where(self.from_labels_, from_labels, self.prior_accuracy)
        a0, s0 = self.prior_accuracy, self.prior_strength
        self.n_iter_ = 0
        if not self.from_labels_.all():
            for it in range(1, self.max_iter + 1):
                agree, used = self.agreement(L, y, self._weights(a))
                new = np.where(self.from_labels_, from_labels, (agree + a0 * s0) / (used + s0))
                delta = np.abs(new - a).max()
                a, self.n_iter_ = new, it
                if delta < 1e-4:
                    break
        self.accuracies_ = self._clip(a)
        self.weights_ = self._weights(a)

    def _predict_proba(self, L):
        counts = vote_counts(L, self.n_classes_, self.weights_)
        covered = (L >= 0).any(axis=1)
        P = np.where(covered[:, None], _softmax(counts + np.log(self.vote_prior_)), self.prior_)
        return break_ties(P, self.random_state)
