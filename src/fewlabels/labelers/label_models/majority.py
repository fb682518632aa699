"""Majority vote over the rules' votes (``majority``)."""

from __future__ import annotations

import numpy as np

from .base import _VoteModel
from .matrix import break_ties, vote_counts


class MajorityVoteLabeler(_VoteModel):
    """Share of the rules' votes per class; rows without votes get the class prior.

    ``prior_`` is the class share among the given labels when there are any, else the
    mean vote share over the rows that have votes (both add-one smoothed).

    Parameters
    ----------
    n_classes : int
    random_state : unused; the model is deterministic

    Cost: O(n·m·k) time, O(n·k) memory.
    """

    name = "majority"

    def __init__(self, n_classes: int | None = None, random_state: int | None = 0):
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, L, y):
        k = self.n_classes_
        prior = self._label_prior(y, k)
        if prior is None:
            counts = vote_counts(L, k)
            total = counts.sum(axis=1, keepdims=True)
            covered = total[:, 0] > 0
            share = (counts[covered] / total[covered]).sum(axis=0) + 1.0
            prior = share / share.sum()
        self.prior_ = prior

    def _predict_proba(self, L):
        counts = vote_counts(L, self.n_classes_)
        total = counts.sum(axis=1, keepdims=True)
        return break_ties(np.where(total > 0, counts / np.maximum(total, 1), self.prior_), self.random_state)
