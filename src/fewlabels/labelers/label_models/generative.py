"""The parameterisation the generative label models share (``dawid_skene``, ``metal``):
class prior π and per-rule outcome tables, posteriors block by block, and the guard
against degenerate optima (see :mod:`fewlabels.labelers.label_models`)."""

from __future__ import annotations

import numpy as np

from .base import _VoteModel
from .majority import MajorityVoteLabeler
from .matrix import _Rows, _softmax, distinct_rows, emptied_classes


class _GenerativeLabeler(_VoteModel):
    """π (k,) and cond_ (m, k, k+1) = P(outcome | class), outcome k = abstain."""

    def _tables(self, abstain_evidence: bool) -> tuple[np.ndarray, np.ndarray]:
        """(A, b): log P(row | c) = onehot(row) @ A + b; A (m·k, k) float32, b (k,)."""
        k, m = self.n_classes_, self.n_features_in_
        logc = np.log(np.maximum(self.cond_, 1e-300))
        votes = logc[:, :, :k]  # (m, c, l)
        b = np.log(self.prior_)
        if abstain_evidence:
            votes = votes - logc[:, :, k:]
            b = b + logc[:, :, k].sum(axis=0)
        return np.ascontiguousarray(votes.transpose(0, 2, 1).reshape(m * k, k), dtype=np.float32), b

    def _posterior_rows(self, rows: _Rows, A, b) -> np.ndarray:
        """(u, k) posteriors of the distinct rows, block by block."""
        T = np.empty((rows.L.shape[0], self.n_classes_))
        for sl, O in rows.blocks():
            T[sl] = _softmax((O @ A).astype(np.float64) + b)
        return T

    def _predict_proba(self, L):
        if getattr(self, "fallback_", None) is not None:
            return self.fallback_.predict_proba(L)
        rows = distinct_rows(L, None, self.n_classes_)
        A, b = self._tables(getattr(self, "abstain_evidence", False))
        return rows.expand(self._posterior_rows(rows, A, b))

    # -- guarding against degenerate optima -----------------------------------------------------
    def _fit_guarded(self, L, y, attempts, fallback_prior=None, first_sound: bool = False) -> None:
        """Fit each attempt in turn (callables that set the parameters and return a score,
        higher is better, comparable across attempts); keep the best one whose predictions
        empty no class the rules vote for (:func:`emptied_classes`); when every attempt
        empties one, fall back to majority vote, which cannot.

        Sets ``attempts_`` (one dict per attempt: name, score, emptied class codes),
        ``start_`` (the attempt kept, or "majority (fallback)") and ``fallback_`` (the
        fitted :class:`MajorityVoteLabeler`, or None; its prior for rows without votes is
        ``fallback_prior`` when given). With ``first_sound`` the attempts are in order of
        preference and the first that passes is kept without trying the rest. Cost: the
        attempts' fits plus one prediction over L each.
        """
        k = self.n_classes_
        self.fallback_, self.attempts_ = None, []
        best = None
        for name, attempt in attempts:
            score = attempt()
            rows = distinct_rows(L, None, k)  # judged on the votes cast, as the check is about them
            emptied = emptied_classes(rows.expand(self._posterior_rows(rows, *self._tables(False))).argmax(axis=1),
                                      L, k)
            self.attempts_.append({"start": name, "score": float(score), "emptied": emptied})
            if not emptied and (best is None or score > best[0]):
                best = (score, name, dict(vars(self)))
                if first_sound:
                    break
        attempts_ = self.attempts_
        if best is None:
            self.fallback_ = MajorityVoteLabeler(n_classes=k, random_state=self.random_state).fit(L, y)
            if fallback_prior is not None:
                self.fallback_.prior_ = np.asarray(fallback_prior, dtype=np.float64)
            self.start_ = "majority (fallback)"
            self.prior_ = self.fallback_.prior_
            return
        vars(self).update(best[2])  # the kept attempt's fitted state
        self.attempts_, self.start_ = attempts_, best[1]

    def _break_symmetry(self):
        """Name the latent classes so that the rules mostly vote for the class they fire on.

        Without given labels to anchor it, a mixture model is only identified up to a
        renaming of its classes, and EM or the moment fit can end in a renamed optimum:
        with one-class keyword rules and imbalanced classes, Dawid-Skene found the 10 %
        class as the 90 % one (synthetic L, ``tests/test_label_models.py``). As Snorkel's
        ``LabelModel`` does, the renaming σ that maximises the expected number of votes
        for the row's own class, Σ_c π_c Σ_j P(rule j votes σ(c) | c), is kept (an
        assignment problem, O(m·k² + k³)). ``permuted_`` says whether it was not the
        identity.
        """
        from scipy.optimize import linear_sum_assignment

        k = self.n_classes_
        gain = self.prior_[:, None] * self.cond_[:, :, :k].sum(axis=0)  # (latent c, voted l)
        _, sigma = linear_sum_assignment(gain, maximize=True)
        self.permuted_ = bool((sigma != np.arange(k)).any())
        if self.permuted_:
            cond, prior = np.empty_like(self.cond_), np.empty_like(self.prior_)
            cond[:, sigma], prior[sigma] = self.cond_, self.prior_
            self.cond_, self.prior_ = cond, prior

    def _set_accuracies(self):
        """accuracies_[j] = P(vote right | rule j votes) = Σ_c π_c cond[j,c,c] / Σ_c π_c (1 − cond[j,c,abstain])."""
        k = self.n_classes_
        right = np.einsum("c,jcc->j", self.prior_, self.cond_[:, :, :k])
        voted = (1 - self.cond_[:, :, k]) @ self.prior_
        self.accuracies_ = right / np.maximum(voted, 1e-12)
        self.coverage_ = voted
