"""Synthetic label matrices with known truth, for tests and benchmarks of label models.

Rules are conditionally independent given the true class. Two kinds:

* ``polarity="any"``: rule j votes on a row with probability ``coverage[j]`` whatever its
  class, and then votes the true class with probability ``accuracy[j]``, else one of the
  other classes uniformly (crowd-worker style; abstention carries no information);
* ``polarity="one"``: rule j only ever votes its class p_j (keyword-rule style); it fires
  on rows of class p_j with probability ``coverage[j]`` and on the others just often
  enough that P(class p_j | it fires) = ``accuracy[j]``.

Either way ``accuracy[j]`` = P(the vote is right | rule j votes), the quantity label
models estimate as ``accuracies_``.

Cost: O(n·m) time; memory n·m bytes for L (int8) plus O(n) per rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass
class SyntheticVotes:
    """L (n, m) int8 with -1 = abstain, the true classes (n,), and each rule's accuracy,
    coverage and polarity (m,), from :func:`make_votes`."""

    L: np.ndarray
    truth: np.ndarray
    accuracy: np.ndarray
    coverage: np.ndarray
    polarity: np.ndarray  # (m,) class each rule votes, -1 for "any"
    class_balance: np.ndarray


def make_votes(n: int, m: int, k: int = 2, *, accuracy=(0.6, 0.9), coverage=(0.3, 0.8), class_balance=None,
               polarity: str = "any", random_state: int | None = 0) -> SyntheticVotes:
    """Draw a label matrix from rules of known accuracy.

    Parameters
    ----------
    n, m, k : rows, rules, classes
    accuracy, coverage : (low, high) ranges, drawn uniformly per rule
    class_balance : (k,) shares, default uniform
    polarity : "any" or "one" (see the module docstring)
    random_state : int

    Returns
    -------
    SyntheticVotes
    """
    rng = np.random.default_rng(random_state)
    pi = np.full(k, 1.0 / k) if class_balance is None else np.asarray(class_balance, dtype=np.float64)
    if pi.shape != (k,) or not np.isclose(pi.sum(), 1):
        raise ConfigError(f"class_balance must be {k} shares summing to 1")
    if polarity not in ("any", "one"):
        raise ConfigError(f"polarity={polarity!r}; use 'any' or 'one'")
    truth = rng.choice(k, size=n, p=pi)
    acc = rng.uniform(*accuracy, size=m)
    cov = rng.uniform(*coverage, size=m)
    pol = np.full(m, -1) if polarity == "any" else np.arange(m) % k
    L = np.full((n, m), -1, dtype=np.int8)
    for j in range(m):
        if polarity == "any":
            votes = rng.random(n) < cov[j]
            wrong = (truth + rng.integers(1, k, n)) % k
            L[votes, j] = np.where(rng.random(n) < acc[j], truth, wrong)[votes]
        else:
            p = pol[j]
            # P(fire | class p) = cov; P(fire | other) = s with π_p·cov / (π_p·cov + (1 − π_p)·s) = acc
            s = pi[p] * cov[j] * (1 - acc[j]) / (acc[j] * (1 - pi[p]))
            if s > 1:
                raise ConfigError(f"rule {j}: accuracy {acc[j]:.2f} is below what coverage {cov[j]:.2f} allows "
                                  f"for class share {pi[p]:.2f}; lower the coverage range")
            fire = rng.random(n) < np.where(truth == p, cov[j], s)
            L[fire, j] = p
    return SyntheticVotes(L, truth, acc, cov, pol, pi)
