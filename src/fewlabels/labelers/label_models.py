"""Label models: labelers whose input is the rules' votes, X = L (n × m, -1 = abstain).

They see only L (and the given labels, when there are any), never the texts or the
embeddings, and return P (n, k). Rows where every rule abstains get the class prior.

* ``majority``: share of votes per class.
* ``weighted_majority``: votes weighted by each rule's log-odds of being right; accuracies
  come from the given labels when a rule has some, else from its agreement with the
  majority of the other rules.
* ``dawid_skene``: Dawid & Skene (1979) EM with a full confusion matrix per rule, abstention
  modelled as an outcome, and a class prior; given labels are clamped during EM. The classic model
  behind Snorkel's and WRENCH's label models (seed: AutoWS-Bench-101).

Cost: majority O(n · m); weighted majority O(n · m · k); Dawid-Skene O(n · m · log n)
once to find the distinct vote patterns, then O(iters · u · m · k) for u distinct patterns
(u ≤ n, usually far smaller), and O(u · k + m · k²) memory beyond L. Rows where every rule abstains get the prior (majority vote) or, for
Dawid-Skene, what the abstentions themselves say. Written for millions of rows and hundreds of rules.

These are not in the embedding registry (their X is votes, not vectors); the pipeline
reaches them through :data:`LABEL_MODELS`.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, InputError
from .base import BaseLabeler

EPS = 1e-9


def _votes(X, n_classes: int) -> np.ndarray:
    L = np.asarray(X)
    if L.ndim != 2:
        raise InputError(f"L must have shape (n, m); got {L.shape}")
    L = L.astype(np.int64)
    if (L < -1).any() or (L >= n_classes).any():
        raise InputError(f"L holds codes outside -1..{n_classes - 1}")
    return L


def vote_counts(L: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
    """(n, k) sum of (weighted) votes per class."""
    n, m = L.shape
    w = np.ones(m) if weights is None else np.asarray(weights, dtype=float)
    v = L >= 0
    flat = (np.arange(n)[:, None] * k + L)[v]  # one bincount over (row, class) cells
    return np.bincount(flat, weights=np.broadcast_to(w, L.shape)[v], minlength=n * k).reshape(n, k)


class _VoteModel(BaseLabeler):
    input_kind = "votes"
    needs = ("votes",)
    min_labels = 0

    def fit(self, X, y=None):
        L = np.asarray(X)
        y = np.full(L.shape[0], -1) if y is None else y
        if self.n_classes is None:
            raise ConfigError(f"{type(self).__name__} needs n_classes (rules may not vote for every class)")
        return super().fit(np.where(L < 0, -1, L), y)

    def _prior(self, L, y):
        k = self.n_classes_
        m = y >= 0
        counts = np.bincount(y[m], minlength=k) + np.bincount(L[L >= 0], minlength=k) + 1.0
        return counts / counts.sum()


class MajorityVoteLabeler(_VoteModel):
    """Share of the rules' votes per class; rows without votes get the class prior.

    Parameters
    ----------
    n_classes : int
    """

    name = "majority"

    def __init__(self, n_classes: int | None = None, random_state: int | None = 0):
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        L = _votes(X, self.n_classes_)
        self.prior_ = self._prior(L, y)

    def _predict_proba(self, X):
        counts = vote_counts(_votes(X, self.n_classes_), self.n_classes_)
        total = counts.sum(axis=1, keepdims=True)
        return np.where(total > 0, counts / np.maximum(total, EPS), self.prior_)


class WeightedMajorityLabeler(_VoteModel):
    """Votes weighted by log((k − 1) · a / (1 − a)) for a rule of accuracy a.

    Accuracy: from the given labels the rule voted on (Laplace-smoothed) when it has at
    least ``min_labeled`` of them, else its agreement with the majority of the other rules.
    """

    name = "weighted_majority"

    def __init__(self, min_labeled: int = 5, n_classes: int | None = None, random_state: int | None = 0):
        self.min_labeled = min_labeled
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        L = _votes(X, self.n_classes_)
        k = self.n_classes_
        self.prior_ = self._prior(L, y)
        counts = vote_counts(L, k)
        acc = np.empty(L.shape[1])
        lab = y >= 0
        for j in range(L.shape[1]):
            v = L[:, j] >= 0
            on = v & lab
            if on.sum() >= self.min_labeled:
                acc[j] = ((L[on, j] == y[on]).sum() + 1) / (on.sum() + 2)
            else:  # agreement with the other rules' majority, where they vote
                others = counts[v].copy()
                others[np.arange(v.sum()), L[v, j]] -= 1
                has = others.sum(axis=1) > 0
                agree = (others[has].argmax(axis=1) == L[v, j][has]).sum()
                acc[j] = (agree + 1) / (has.sum() + 2)
        acc = np.clip(acc, 1.0 / k + 1e-3, 1 - 1e-3)
        self.accuracies_ = acc
        self.weights_ = np.log((k - 1) * acc / (1 - acc))

    def _predict_proba(self, X):
        L = _votes(X, self.n_classes_)
        S = vote_counts(L, self.n_classes_, self.weights_) + np.log(self.prior_)
        S -= S.max(axis=1, keepdims=True)
        E = np.exp(S)
        return E / E.sum(axis=1, keepdims=True)


class DawidSkeneLabeler(_VoteModel):
    """Dawid-Skene EM with abstention as an outcome: per-rule matrices θ_j[true, vote]
    over the k classes plus "abstain", and a class prior π.

    Modelling abstention matters for rules that only ever vote one class (most keyword
    rules): what such a rule says is that it fired, and how much more often it fires on
    one class than on another is what EM learns.

    E-step: log T_ic = log π_c + Σ_j log θ_j[c, L_ij] (abstain counted as outcome k).
    M-step: θ_j ∝ Σ_i T_i ⊗ onehot(L_ij) + smoothing; π ∝ Σ_i T_i. Rows with a given label
    keep it (T clamped). Initialised from the majority vote.

    Parameters
    ----------
    max_iter : int, default=100
    tol : float, default=1e-5
    smoothing : float, default=0.01
        Added to every count (Laplace).
    learn_prior : bool, default=False
        Re-estimate π in every M-step. Off by default: π is fixed at the class balance of
        the given labels and the majority vote on covered rows, because a free π lets EM
        explain sparse, one-sided rules with a degenerate split (YouTube spam: 0.47
        accuracy on covered rows with it, 0.93 without).
    """

    name = "dawid_skene"

    def __init__(self, max_iter: int = 100, tol: float = 1e-5, smoothing: float = 0.01, learn_prior: bool = False,
                 n_classes: int | None = None, random_state: int | None = 0):
        self.learn_prior = learn_prior
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        L = _votes(X, self.n_classes_)
        k, (n, m) = self.n_classes_, L.shape
        lab = y >= 0
        T0 = MajorityVoteLabeler(n_classes=k).fit(L, y).predict_proba(L)
        T0[lab] = np.eye(k)[y[lab]]
        known = lab | (L >= 0).any(axis=1)
        self.prior_ = (T0[known].sum(axis=0) + 1.0) / (known.sum() + k)
        # EM runs on the distinct vote patterns of the unlabeled rows, weighted by how often
        # each occurs (rows with the same votes have the same posterior), plus each labeled
        # row on its own: u patterns instead of n rows, u ≤ n and usually far smaller.
        unl = np.flatnonzero(~lab)
        patterns, first, counts = np.unique(L[unl], axis=0, return_index=True, return_counts=True)
        rows = np.concatenate([patterns, L[lab]]) if lab.any() else patterns
        weight = np.concatenate([counts, np.ones(lab.sum())]).astype(float)
        T = np.concatenate([T0[unl[first]], T0[lab]])
        clamped = np.zeros(len(rows), bool)
        clamped[len(patterns):] = True
        onehot_lab = T[clamped].copy()
        outcome = np.where(rows < 0, k, rows)  # abstain = outcome k
        self.n_patterns_ = len(patterns)
        self.converged_ = False
        for it in range(self.max_iter):
            # M-step: θ_j[c, l] ∝ Σ_patterns weight · T[:, c] · [outcome_j = l]
            WT = T * weight[:, None]
            if self.learn_prior:
                self.prior_ = (WT.sum(axis=0) + 1.0) / (n + k)
            theta = np.empty((m, k, k + 1))
            for j in range(m):
                C = np.stack([np.bincount(outcome[:, j], weights=WT[:, c], minlength=k + 1) for c in range(k)])
                C += self.smoothing
                theta[j] = C / C.sum(axis=1, keepdims=True)
            self.confusion_ = theta
            # E-step
            T_new = self._posterior(rows)
            T_new[clamped] = onehot_lab
            delta = np.abs(T_new - T).max()
            T = T_new
            self.n_iter_ = it + 1
            if delta < self.tol:
                self.converged_ = True
                break
        # P(vote right | the rule votes) = Σ_c π_c θ[c, c] / Σ_c π_c (1 − θ[c, abstain])
        right = np.einsum("c,jcc->j", self.prior_, self.confusion_[:, :, :k])
        votes = self.prior_ @ (1 - self.confusion_[:, :, k]).T
        self.accuracies_ = right / np.maximum(votes, EPS)

    def _posterior(self, L):
        k = self.n_classes_
        outcome = np.where(L < 0, k, L)
        logT = np.tile(np.log(self.prior_), (L.shape[0], 1))
        log_theta = np.log(self.confusion_)
        for j in range(L.shape[1]):
            logT += log_theta[j][:, outcome[:, j]].T
        logT -= logT.max(axis=1, keepdims=True)
        T = np.exp(logT)
        return T / T.sum(axis=1, keepdims=True)

    def _predict_proba(self, X):
        return self._posterior(_votes(X, self.n_classes_))


class TripletLabeler(_VoteModel):
    """Method-of-moments label model for two classes (FlyingSquid triplets, Fu et al. 2020;
    the MeTaL family: accuracies from the agreement structure of the rules).

    Votes map to ±1 (abstain 0). For conditionally independent rules,
    E[λ_i λ_j | both vote] = a_i · a_j with a_i = E[λ_i · Y | rule i votes], so every triplet
    (i, j, l) gives |a_i| = sqrt(|M_ij · M_il / M_jl|); the median over triplets is taken and
    rules are assumed better than chance (a_i > 0). Rows are then scored by weighted votes
    with weights log((1 + a_i) / (1 − a_i)) and the class prior (given labels and majority
    vote on covered rows). Given labels, when a rule has at least 5 of them, replace its
    agreement-based estimate.

    Cost: O(n · m²) once for the agreement matrix (two matrix products), O(m³) for the
    triplets, O(n · m) to predict; no iterations over rows. Two classes only.
    """

    name = "triplet"

    def __init__(self, min_overlap: int = 20, n_classes: int | None = None, random_state: int | None = 0):
        self.min_overlap = min_overlap
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        if self.n_classes_ != 2:
            raise ConfigError("triplet is for two classes; use dawid_skene for more")
        L = _votes(X, 2)
        V = np.where(L < 0, 0.0, 2.0 * L - 1.0).astype(np.float32)  # ±1, abstain 0
        B = (L >= 0).astype(np.float32)
        both = B.T @ B  # co-vote counts
        M = (V.T @ V) / np.maximum(both, 1)  # E[λ_i λ_j | both vote]
        m = L.shape[1]
        ok = (both >= self.min_overlap) & (np.abs(M) > 1e-3)
        a = np.full(m, np.nan)
        upper = np.triu(np.ones((m, m), bool), 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            for i in range(m):  # all triplets (i, j, l) at once: |M_ij · M_il / M_jl|
                valid = upper & ok & ok[i][:, None] & ok[i][None, :]
                valid[i, :] = valid[:, i] = False
                if valid.any():
                    a[i] = np.median(np.sqrt(np.abs(np.outer(M[i], M[i]) / M)[valid]))
        a = np.where(np.isnan(a), 0.2, np.clip(a, 0.02, 0.98))  # no triplet: a weak default
        lab = y >= 0
        for i in range(m):
            on = lab & (L[:, i] >= 0)
            if on.sum() >= 5:
                acc = ((L[on, i] == y[on]).sum() + 1) / (on.sum() + 2)
                a[i] = np.clip(2 * acc - 1, 0.02, 0.98)
        self.accuracies_ = (1 + a) / 2
        self.weights_ = np.log((1 + a) / (1 - a))
        T0 = MajorityVoteLabeler(n_classes=2).fit(L, y).predict_proba(L)
        known = lab | (L >= 0).any(axis=1)
        T0[lab] = np.eye(2)[y[lab]]
        self.prior_ = (T0[known].sum(axis=0) + 1.0) / (known.sum() + 2)

    def _predict_proba(self, X):
        L = _votes(X, 2)
        V = np.where(L < 0, 0.0, 2.0 * L - 1.0)
        score = V @ self.weights_ + np.log(self.prior_[1] / self.prior_[0])  # log-odds of class 1
        p1 = 1.0 / (1.0 + np.exp(-score))
        return np.stack([1 - p1, p1], axis=1)


#: label models by name (their input is L, not embeddings)
LABEL_MODELS: dict[str, type[BaseLabeler]] = {
    cls.name: cls for cls in (MajorityVoteLabeler, WeightedMajorityLabeler, DawidSkeneLabeler, TripletLabeler)
}
