"""Dawid-Skene EM over the rules' votes (``dawid_skene``)."""

from __future__ import annotations

import numpy as np

from ...errors import ConfigError
from .generative import _GenerativeLabeler
from .matrix import MIN_LABELED_VOTES_TO_START, MIN_LABELS_TO_START, _Rows, _labeled_votes, distinct_rows
from .weighted_majority import WeightedMajorityLabeler


class DawidSkeneLabeler(_GenerativeLabeler):
    """Dawid-Skene EM (Dawid & Skene 1979), with abstention as an outcome.

    Each rule j has a confusion matrix cond_[j, c, l] = P(outcome l | true class c) over
    the k classes and abstain, and the classes a prior π. Modelling abstention lets EM see
    that a one-class keyword rule fires more often on its class than on others; treated as
    missing, such a rule would carry no evidence. EM maximises the likelihood of L:

    * E-step: T_ic ∝ π_c Π_j cond_[j, c, L_ij] (abstentions included); rows with a given
      label keep it (T clamped), so given labels anchor every rule's matrix;
    * M-step: cond_[j, c, l] ∝ α + Σ_i T_ic [L_ij = l], π_c ∝ α + Σ_i T_ic (Laplace α).

    Initialised rule by rule: a rule that voted on at least ``MIN_LABELED_VOTES_TO_START``
    (3) labeled rows starts from the given labels alone, so rules that the labels show to
    be wrong start (and stay) wrong; the others from the majority vote, labeled rows
    keeping their label. The prior starts from the labels when there are at least
    ``MIN_LABELS_TO_START`` (10), else from the majority vote. Either way class c stays
    class c.
    Predictions use the votes cast only (rows without votes get π) unless
    ``abstain_evidence``.

    Parameters
    ----------
    max_iter : int, default=100
    tol : float, default=1e-4
        Stop when no parameter moves by more than this.
    smoothing : float, default=1.0
        Laplace α added to every count.
    abstain_evidence : bool, default=False
        Let abstentions count as evidence when predicting (the full model; then rows
        without votes get P(c | no rule fired), not π).
    n_classes : int
    random_state : unused; EM is deterministic

    Attributes
    ----------
    prior_ : (k,)
    cond_ : (m, k, k+1)
    accuracies_ : (m,) P(the rule's vote is right | it votes)
    n_iter_, converged_, log_likelihood_

    Cost: O(n·m·k²) per iteration (two matrix products with the one-hot votes), no loop
    over rows; memory O(n·k + m·k²) beyond L (identical rows merged first when that helps).
    """

    name = "dawid_skene"

    def __init__(self, max_iter: int = 100, tol: float = 1e-4, smoothing: float = 1.0,
                 abstain_evidence: bool = False, n_classes: int | None = None, random_state: int | None = 0):
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.abstain_evidence = abstain_evidence
        self.n_classes = n_classes
        self.random_state = random_state

    def _check_params(self):
        if not (isinstance(self.max_iter, (int, np.integer)) and self.max_iter >= 1):
            raise ConfigError(f"max_iter={self.max_iter!r}; it must be an int >= 1")
        if not self.smoothing > 0:
            raise ConfigError(f"smoothing={self.smoothing!r}; it must be > 0")
        if not self.tol > 0:
            raise ConfigError(f"tol={self.tol!r}; it must be > 0")

    def _m_step(self, C: np.ndarray, N: np.ndarray):
        """From C (m·k, k) = Σ_i w_i onehot_i ⊗ T_i and N (k,) = Σ_i w_i T_i."""
        k, m, a = self.n_classes_, self.n_features_in_, self.smoothing
        V = C.reshape(m, k, k).transpose(0, 2, 1)  # (j, c, l)
        counts = np.concatenate([V, np.maximum(N[None, :, None] - V.sum(axis=2, keepdims=True), 0)], axis=2)
        cond = (counts + a) / (counts.sum(axis=2, keepdims=True) + (k + 1) * a)
        prior = (N + a) / (N.sum() + k * a)
        return cond, prior

    def _pass(self, rows: _Rows, start: str | None) -> tuple[np.ndarray, np.ndarray, float]:
        """One pass over the rows: posteriors T of each block → sufficient statistics.

        ``start`` None: T from the current parameters (the E-step; abstentions count).
        "labels" / "majority": the starting T, zeros / the majority vote's shares.
        Rows with a given label have it as T. Returns C (m·k, k) = Σ_i w_i onehot_i ⊗ T_i,
        N (k,) = Σ_i w_i T_i and the log-likelihood Σ_i w_i log P(row i) (0 at the start).
        """
        k, m = self.n_classes_, self.n_features_in_
        C, N, ll = np.zeros((m * k, k)), np.zeros(k), 0.0
        lab = rows.y >= 0
        eye = np.eye(k)
        if start is None:
            A, b = self._tables(abstain_evidence=True)
        else:
            A, b = np.tile(np.eye(k, dtype=np.float32), (m, 1)), None  # A: votes per class
        for sl, O in rows.blocks():
            S = (O @ A).astype(np.float64)
            if start is None:
                S += b
                top = S.max(axis=1, keepdims=True)
                T = np.exp(S - top)
                Z = T.sum(axis=1, keepdims=True)
                T /= Z
                ll += float((rows.w[sl] * (np.log(Z[:, 0]) + top[:, 0])).sum())
            elif isinstance(start, np.ndarray):
                T = start[sl].copy()
            elif start == "labels":
                T = np.zeros_like(S)
            else:
                total = S.sum(axis=1, keepdims=True)
                T = np.where(total > 0, S / np.maximum(total, 1), 1.0 / k)
            lb = lab[sl]
            T[lb] = eye[rows.y[sl][lb]]
            WT = T * rows.w[sl, None]
            C += (O.T @ WT.astype(np.float32)).astype(np.float64)
            N += WT.sum(axis=0)
        return C, N, ll

    def _em(self, rows: _Rows, start) -> float:
        """EM from ``start`` ("majority": the majority vote, rules with labeled votes from
        the labels; or an (u, k) array of starting posteriors); returns the log-likelihood."""
        n_labeled = rows.w[rows.y >= 0].sum()
        if isinstance(start, str):
            self.cond_, self.prior_ = self._m_step(*self._pass(rows, "majority")[:2])
            self.start_from_labels_ = _labeled_votes(rows) >= MIN_LABELED_VOTES_TO_START
            if self.start_from_labels_.any() or n_labeled >= MIN_LABELS_TO_START:
                cond, prior = self._m_step(*self._pass(rows, "labels")[:2])
                self.cond_[self.start_from_labels_] = cond[self.start_from_labels_]
                if n_labeled >= MIN_LABELS_TO_START:
                    self.prior_ = prior
        else:
            self.cond_, self.prior_ = self._m_step(*self._pass(rows, start)[:2])
        self.converged_, ll = False, None
        for it in range(1, self.max_iter + 1):
            C, N, ll = self._pass(rows, None)
            cond, prior = self._m_step(C, N)
            delta = max(np.abs(cond - self.cond_).max(), np.abs(prior - self.prior_).max())
            self.cond_, self.prior_, self.n_iter_ = cond, prior, it
            if delta < self.tol:
                self.converged_ = True
                break
        self.log_likelihood_ = ll
        self.permuted_ = False
        if n_labeled < MIN_LABELS_TO_START:  # too few labels to anchor the classes
            self._break_symmetry()
        self._set_accuracies()
        return ll

    def _fit(self, L, y):
        self._check_params()
        rows = distinct_rows(L, y, self.n_classes_)

        def from_weighted():
            P = WeightedMajorityLabeler(n_classes=self.n_classes_, random_state=self.random_state).fit(L, y)
            T = P.predict_proba(L)
            if rows.inverse is not None:  # identical rows have identical posteriors
                U = np.empty((rows.L.shape[0], self.n_classes_))
                U[rows.inverse] = T
                T = U
            return self._em(rows, T)

        self._fit_guarded(L, y, [("majority", lambda: self._em(rows, "majority")),
                                 ("weighted_majority", from_weighted)])
