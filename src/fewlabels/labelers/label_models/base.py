"""The shared fit/predict of every label model: validation of L and y, class prior from
the given labels (see :mod:`fewlabels.labelers.label_models`)."""

from __future__ import annotations

import numpy as np

from ...errors import ConfigError, InputError, NotFittedError
from ...validation import check_y
from ..base import BaseLabeler
from .matrix import check_votes


class _VoteModel(BaseLabeler):
    """Shared fit/predict over a label matrix: validation, merging identical rows, prior."""

    input_kind = "votes"
    reads = ("n_classes", "random_state")
    needs = ("votes",)
    min_labels = 0

    def fit(self, X, y=None):
        """Fit on the label matrix ``X`` = L (n, m) and given labels ``y`` (n,), -1 = unlabeled."""
        if self.n_classes is None:
            raise ConfigError(f"{type(self).__name__} needs n_classes: the rules may not vote for every class")
        k = int(self.n_classes)
        if k < 2:
            raise ConfigError(f"n_classes={k}; a label model needs at least 2 classes")
        L = check_votes(X, k)
        y = np.full(L.shape[0], -1, np.int64) if y is None else check_y(y, L.shape[0], k)
        self.n_classes_ = k
        self.classes_ = np.arange(k)
        self.n_features_in_ = L.shape[1]
        self._fit(L, y)
        self.fitted_ = True
        return self

    def predict_proba(self, X) -> np.ndarray:
        """P of shape (n, k), rows summing to 1; rows without votes get ``prior_``."""
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(L, y) first")
        L = check_votes(X, self.n_classes_)
        if L.shape[1] != self.n_features_in_:
            raise InputError(f"L has {L.shape[1]} rule columns but {type(self).__name__} was fitted with "
                             f"{self.n_features_in_}; apply the same rules, in the same order")
        return np.asarray(self._predict_proba(L), dtype=np.float64)

    @staticmethod
    def _label_prior(y: np.ndarray, k: int) -> np.ndarray | None:
        """Class shares among the given labels (add-one smoothed), None without labels."""
        lab = y[y >= 0]
        if not len(lab):
            return None
        counts = np.bincount(lab, minlength=k) + 1.0
        return counts / counts.sum()
