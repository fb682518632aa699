"""Snorkel MeTaL-style label model from the moments of L (``metal``)."""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import ssyrk
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from ...errors import ConfigError
from .dawid_skene import DawidSkeneLabeler
from .generative import _GenerativeLabeler
from .matrix import MIN_LABELED_VOTES_TO_START, _Rows, _TINY, _labeled_votes, distinct_rows


class MetalLabeler(_GenerativeLabeler):
    """Snorkel MeTaL-style label model: rule parameters from the agreement structure of L.

    Ratner et al. 2019, "Training complex models with multi-task weak supervision"
    (Snorkel's ``LabelModel``). With ψ_i the one-hot votes of row i (m·k entries, abstain
    = zeros), the moments ``O = E[ψ ψᵀ]`` and ``d = E[ψ]`` are computed once; for
    conditionally independent rules, the blocks of O between two different rules equal
    μ Π μᵀ and d = μ π, where μ[j·k + l, c] = P(rule j votes l | class c) and Π = diag(π).
    μ is fitted to these moments by L-BFGS-B on Snorkel's objective,
    ``‖(O − μΠμᵀ)_off-diagonal blocks‖² + ‖μπ − d‖²``, in [0, 1] — a small problem of m·k·k
    numbers, independent of n — starting, rule by rule as Dawid-Skene does, from μ
    counted on the labeled rows (rules that voted on at least
    ``MIN_LABELED_VOTES_TO_START`` of them) or on the majority vote's labels.

    With more than ``moment_sample`` rows, the moments come from every labeled row plus a
    random sample of the others (seeded by ``random_state``): O's sampling error is then
    about 1/√moment_sample, and the O(n·m²·k²) product stays bounded for hundreds of rules.

    Class balance π, which these moments cannot identify (Snorkel asks for it, else
    assumes uniform): ``class_balance`` when given; else the prior of a
    :class:`DawidSkeneLabeler` fitted, with the given labels, on them and a random sample of
    at most ``balance_sample`` other rows. (The given labels' own class shares were used
    before: with 10-50 random labels on the YouTube bench rules they put ``metal`` at 0.74-0.83
    on the covered rows in some seeds, against 0.92 with no label; the Dawid-Skene prior,
    which weighs the labels with every row's votes, kept it at 0.92 but for one seed of 30
    labels. A fixed point of the moment model's own posterior was tried first: on real rules,
    which are not independent, it drifted.)

    Parameters
    ----------
    class_balance : None, "uniform" or array (k,), default=None
    moment_sample : int or None, default=250_000
        Most rows the moments are computed from; None = all.
    balance_sample : int, default=20_000
    abstain_evidence : bool, default=False
        As in :class:`DawidSkeneLabeler`.
    n_classes : int
    random_state : int, default=0
        Seeds the samples of rows (moments, class balance); same seed, same result.

    Attributes
    ----------
    prior_ : (k,)
    cond_ : (m, k, k+1), from μ; abstain = 1 − Σ_l μ
    accuracies_ : (m,) P(the rule's vote is right | it votes)
    mu_ : (m·k, k)
    balance_from_ : "class_balance" or "dawid_skene"
    n_iter_ : L-BFGS-B iterations

    Cost: O(s·m²·k²) once for O, s = min(n, moment_sample) (a symmetric BLAS product over
    blocks of rows), O(s·m·k) for the start, O(m²·k³) per L-BFGS step, and a Dawid-Skene
    fit on ≤ ``balance_sample`` rows. Memory O(m²·k²) beyond L and one block.
    """

    name = "metal"

    def __init__(self, class_balance=None, moment_sample: int | None = 250_000, balance_sample: int = 20_000,
                 abstain_evidence: bool = False, n_classes: int | None = None, random_state: int | None = 0):
        self.class_balance = class_balance
        self.moment_sample = moment_sample
        self.balance_sample = balance_sample
        self.abstain_evidence = abstain_evidence
        self.n_classes = n_classes
        self.random_state = random_state

    def _balance(self, L, y, rng) -> np.ndarray:
        k = self.n_classes_
        cb = self.class_balance
        if cb is None:
            self.balance_from_ = "dawid_skene"
            n = L.shape[0]
            rows = np.union1d(np.flatnonzero(y >= 0), rng.choice(n, size=self.balance_sample, replace=False)) \
                if n > self.balance_sample else slice(None)
            return DawidSkeneLabeler(n_classes=k).fit(L[rows], y[rows]).prior_
        self.balance_from_ = "class_balance"
        if isinstance(cb, str):
            if cb != "uniform":
                raise ConfigError(f"class_balance={cb!r}; use None (estimate), 'uniform' or k shares")
            return np.full(k, 1.0 / k)
        cb = np.asarray(cb, dtype=np.float64)
        if cb.shape != (k,) or (cb <= 0).any() or not np.isclose(cb.sum(), 1):
            raise ConfigError(f"class_balance must be {k} positive shares summing to 1; got {cb.tolist()}")
        return cb / cb.sum()

    def _moment_rows(self, L, y, rng) -> _Rows:
        """The rows the moments come from: all, or every labeled row plus a random sample."""
        cap = self.moment_sample
        if cap is not None and (not isinstance(cap, (int, np.integer)) or cap < 1):
            raise ConfigError(f"moment_sample={cap!r}; use None (all rows) or an int >= 1")
        if cap is None or L.shape[0] <= cap:
            return distinct_rows(L, y, self.n_classes_)
        labeled, unlabeled = np.flatnonzero(y >= 0), np.flatnonzero(y < 0)
        take = rng.choice(unlabeled, size=min(len(unlabeled), max(cap - len(labeled), 0)), replace=False)
        idx = np.sort(np.concatenate([labeled, take]))
        return distinct_rows(L[idx], y[idx], self.n_classes_)

    def _moments(self, rows: _Rows):
        """O (m·k, m·k), d (m·k,) and the start μ0 (m·k, k), in one pass over the rows."""
        k, m = self.n_classes_, self.n_features_in_
        mk = m * k
        O = np.zeros((mk, mk))
        E = np.tile(np.eye(k, dtype=np.float32), (m, 1))
        # the start: counted on the majority vote's labels (given labels kept), and on the
        # given labels alone (only labeled rows contribute to that one)
        C0, N0 = np.zeros((2, mk, k)), np.zeros((2, k))
        lab = rows.y >= 0
        merged = rows.inverse is not None
        for sl, B in rows.blocks():
            Bw = B * np.sqrt(rows.w[sl, None]).astype(np.float32) if merged else B
            O += ssyrk(1.0, Bw.T)  # upper triangle of Bwᵀ Bw; Bw.T is Fortran-ordered: no copy
            counts = (B @ E).astype(np.float64)
            total = counts.sum(axis=1, keepdims=True)
            T = np.where(total > 0, counts / np.maximum(total, 1), 1.0 / k)
            lb = lab[sl]
            T[lb] = np.eye(k)[rows.y[sl][lb]]
            C0[0] += (B.T @ (T * rows.w[sl, None]).astype(np.float32)).astype(np.float64)
            N0[0] += (T * rows.w[sl, None]).sum(axis=0)
            if lb.any():
                WT = T[lb] * rows.w[sl][lb, None]
                C0[1] += (B[lb].T @ WT.astype(np.float32)).astype(np.float64)
                N0[1] += WT.sum(axis=0)
        O = (np.triu(O) + np.triu(O, 1).T) / rows.w.sum()
        mu0 = C0 / np.maximum(N0[:, None, :], 1e-12)
        self.start_from_labels_ = _labeled_votes(rows) >= MIN_LABELED_VOTES_TO_START
        return O, np.diag(O).copy(), np.where(np.repeat(self.start_from_labels_, k)[:, None], mu0[1], mu0[0])

    def _fit_mu(self, O, d, pi, mu0):
        """L-BFGS-B on ‖mask ⊙ (O − μΠμᵀ)‖² + ‖μπ − d‖², μ in [0, 1]; mask = other rules."""
        k = self.n_classes_
        rule = np.repeat(np.arange(self.n_features_in_), k)
        mask = (rule[:, None] != rule[None, :]).astype(np.float64)
        Om = mask * O

        def f(x):
            mu = x.reshape(mu0.shape)
            R = mask * ((mu * pi) @ mu.T) - Om
            r = mu @ pi - d
            return (R * R).sum() + r @ r, (4 * (R @ mu) * pi + 2 * np.outer(r, pi)).ravel()

        with threadpool_limits(1):  # tiny BLAS calls: threads would only contend
            res = minimize(f, mu0.ravel(), jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * mu0.size,
                           options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-12})
        self.n_iter_, self.loss_ = int(res.nit), float(res.fun)
        return res.x.reshape(mu0.shape)

    def _fit(self, L, y):
        rng = np.random.default_rng(self.random_state)
        pi = self._balance(L, y, rng)
        O, d, mu0 = self._moments(self._moment_rows(L, y, rng))
        attempts = [(self.balance_from_, lambda: self._fit_with(O, d, pi, mu0))]
        if self.class_balance is None:  # a balance of our own estimate may be what misled it
            k = self.n_classes_
            attempts.append(("uniform balance", lambda: self._fit_with(O, d, np.full(k, 1.0 / k), mu0)))
        self._fit_guarded(L, y, attempts, fallback_prior=pi, first_sound=True)

    def _fit_with(self, O, d, pi, mu0) -> float:
        """μ for class balance ``pi``; returns minus the moment-matching loss (higher is better)."""
        k, m = self.n_classes_, self.n_features_in_
        mu = self._fit_mu(O, d, pi, mu0)
        V = np.clip(mu, _TINY, 1.0).reshape(m, k, k).transpose(0, 2, 1)  # (j, c, l)
        V = V / np.maximum(V.sum(axis=2, keepdims=True) / (1 - _TINY), 1.0)  # a rule votes with probability ≤ 1
        self.mu_, self.prior_ = mu, pi
        self.cond_ = np.concatenate([V, 1 - V.sum(axis=2, keepdims=True)], axis=2)
        self._set_accuracies()
        return -self.loss_
