"""Label models: labelers whose input is the rules' votes.

Notation: n rows, m rules, k classes. ``X`` is the label matrix L of shape (n, m) with
class codes 0..k-1 and -1 where a rule abstains; ``y`` of shape (n,) holds given labels
(-1 = unlabeled) and ``P`` of shape (n, k) the result. The models see only L and y, never
texts or embeddings (Snorkel's layering), and need ``n_classes`` because the rules may
not vote for every class.

=====================  ===========================================================  ==================
name                   model                                                        fit cost
=====================  ===========================================================  ==================
``majority``           share of the votes per class                                 O(n·m·k)
``weighted_majority``  votes weighted by each rule's log-odds of being right        O(iters·n·m·k)
``dawid_skene``        Dawid & Skene (1979) EM, a confusion matrix per rule         O(iters·n·m·k²)
``metal``              Snorkel MeTaL (Ratner et al. 2019): moments of L              O(n·m²·k²) once (*)
=====================  ===========================================================  ==================

Without labels, EM and the moment fit over many sparse one-class rules have degenerate
optima (a class absorbs others). ``dawid_skene`` and ``metal`` therefore fit from more than
one start and keep the best fit that empties no class the rules vote for
(:func:`emptied_classes`), or fall back to majority vote (``fallback_``, ``attempts_``).
Majority-vote ties are broken at random, seeded (:func:`break_ties`), never toward class 0.

(*) on at most ``moment_sample`` rows (250 000 by default), plus a Dawid-Skene fit on a
sample for the class balance.

The two generative models share one parameterisation, the class prior π (k,) and, for
each rule j, ``cond_[j, c, l] = P(rule j's outcome is l | true class c)`` over the k
classes plus abstain (l = k). Rows are predicted from the votes cast only, as Snorkel
does: ``log P(c | row) = log π_c + Σ_{j votes} log cond_[j, c, L_j] + const``, so a row
where every rule abstains gets the prior π. Every model gives such rows its ``prior_``.

Vectorisation: the votes of a block of rows become a one-hot matrix of shape
(b, m·k), abstain = all zeros, so a posterior is one matrix product with an (m·k, k)
table of log-probabilities and EM's sufficient statistics are one product with the
posteriors; there is no Python loop over rows. Rows with identical votes (and given
label) are merged first when that shrinks the work, which is common for real rules
(most rows get zero to three votes). Memory: O(n·k + m·k²) beyond L and one block of
the one-hot matrix (≤ 32 MB), O(m²·k²) for ``metal``'s moment matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import ssyrk
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from ..errors import ConfigError, InputError, NotFittedError
from ..validation import check_y
from .base import BaseLabeler

#: bytes of float32 one-hot votes per block of rows
_BLOCK_BYTES = 1 << 25
#: cache the whole one-hot matrix across EM iterations when it is at most this large
_CACHE_BYTES = 1 << 28
_TINY = 1e-6
#: given labels from which the generative models take the class prior they start from
#: (else from the majority vote)
MIN_LABELS_TO_START = 10
#: labeled rows a rule must have voted on for its parameters to start from the given labels
#: (else from the majority vote, labeled rows keeping their label). Starting every rule from
#: the labels once there were 10 of them left the many rules that had voted on none at
#: zero: with 10-30 random labels on the SMS bench rules, Dawid-Skene fell from 0.957 (no
#: label) to 0.82 and metal to 0.41 on the covered rows in some seeds.
MIN_LABELED_VOTES_TO_START = 3


def check_votes(L, n_classes: int, *, name: str = "L") -> np.ndarray:
    """A label matrix as C-contiguous int8 (int16 beyond 127 classes).

    Parameters
    ----------
    L : array-like of shape (n, m); ints, or floats holding whole numbers
    n_classes : int

    Raises
    ------
    InputError
        Not 2-D, no rules, not whole numbers, or a code outside -1..n_classes-1 (the
        message names its row and rule column).
    """
    L = np.asarray(L)
    if L.ndim != 2:
        raise InputError(f"{name} must have shape (n, m): one row per item, one column per rule; got {L.shape}")
    if L.shape[1] == 0:
        raise InputError(f"{name} has no columns; a label model needs at least one rule")
    if not np.issubdtype(L.dtype, np.integer) and not (
            np.issubdtype(L.dtype, np.floating) and np.isfinite(L).all() and (np.mod(L, 1) == 0).all()):
        raise InputError(f"{name} must hold integer class codes (-1 = abstain); got dtype {L.dtype}")
    if L.size and (L.min() < -1 or L.max() >= n_classes):
        bad = (L < -1) | (L >= n_classes)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputError(f"{name} holds {L[i, j]:g} at row {i + 1}, rule column {j}, outside -1..{n_classes - 1} "
                             f"(-1 = abstain, 0..{n_classes - 1} = the {n_classes} classes)")
    dtype = np.int8 if n_classes <= np.iinfo(np.int8).max else np.int16
    return np.ascontiguousarray(L, dtype=dtype)


# -- vectorised building blocks -------------------------------------------------------------


def _block_rows(m: int, k: int) -> int:
    return max(1, _BLOCK_BYTES // (4 * m * k))


def _onehot(B: np.ndarray, k: int) -> np.ndarray:
    """(b, m) votes → (b, m·k) float32 one-hot, column j·k + l = "rule j votes l"."""
    pattern = np.tile(np.arange(k, dtype=B.dtype), B.shape[1])
    return (np.repeat(B, k, axis=1) == pattern).astype(np.float32)  # 2.6× faster than broadcasting a (k,) axis


@dataclass
class _Rows:
    """Distinct rows of (L, y) with their multiplicities ``w``; ``inverse`` maps the original
    rows to them (None when no rows were merged)."""

    L: np.ndarray  # (u, m)
    y: np.ndarray  # (u,)
    w: np.ndarray  # (u,) float64
    inverse: np.ndarray | None  # (n,)
    k: int
    _cache: list | None = None

    def blocks(self):
        """Yield (row slice, one-hot block (b, m·k)); cached when small enough."""
        u, m = self.L.shape
        step = _block_rows(m, self.k)
        if self._cache is not None:
            yield from self._cache
            return
        out = []
        keep = u * m * self.k * 4 <= _CACHE_BYTES
        for s in range(0, u, step):
            item = (slice(s, min(s + step, u)), _onehot(self.L[s:s + step], self.k))
            if keep:
                out.append(item)
            yield item
        if keep:
            self._cache = out

    def expand(self, P: np.ndarray) -> np.ndarray:
        return P if self.inverse is None else P[self.inverse]


def _row_keys(L: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    """uint64 hash of each row of (L, y); equal rows → equal keys (collisions checked later)."""
    n, m = L.shape
    h = np.zeros(n, np.uint64)
    mult = (np.arange(1, m + 2, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) | np.uint64(1)  # odd, spread
    for j in range(m):  # m vectorised passes over a column
        h += (L[:, j].astype(np.uint64) + np.uint64(1)) * mult[j]
        h ^= h >> np.uint64(29)
    if y is not None:
        h += (y.astype(np.uint64) + np.uint64(1)) * mult[m]
    return h


def distinct_rows(L: np.ndarray, y: np.ndarray | None, k: int, *, min_gain: float = 0.5) -> _Rows:
    """Merge identical rows of (L, y) when that leaves at most ``min_gain`` of them.

    A sample of 4096 evenly spaced rows decides first, so a matrix of nearly all-distinct
    rows (e.g. many high-coverage rules) costs O(m) extra, not a sort.
    Cost: O(n·m) hashing, O(n log n) sort. Exact: hash collisions are checked.
    """
    n = L.shape[0]
    y = np.full(n, -1, np.int64) if y is None else y
    ident = _Rows(L, y, np.ones(n), None, k)
    if n < 64:
        return ident
    sample = np.linspace(0, n - 1, min(n, 4096)).astype(np.int64)
    if len(np.unique(_row_keys(L[sample], y[sample]))) > min_gain * len(sample):
        return ident
    keys = _row_keys(L, y)
    _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    if len(first) > min_gain * n:
        return ident
    U, yU = L[first], y[first]
    step = max(1, (1 << 24) // L.shape[1])
    for s in range(0, n, step):  # exactness: a collision would merge different rows
        if not (np.array_equal(L[s:s + step], U[inverse[s:s + step]]) and np.array_equal(y[s:s + step],
                                                                                      yU[inverse[s:s + step]])):
            return ident
    return _Rows(U, yU, counts.astype(np.float64), inverse, k)


def vote_counts(L: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
    """(n, k) sum of the (weighted) votes each class gets in each row. Cost O(n·m·k)."""
    n, m = L.shape
    w = np.ones(m, np.float32) if weights is None else np.asarray(weights, np.float32)
    E = (np.eye(k, dtype=np.float32)[None] * w[:, None, None]).reshape(m * k, k)
    out = np.empty((n, k))
    step = _block_rows(m, k)
    for s in range(0, n, step):
        out[s:s + step] = _onehot(L[s:s + step], k) @ E
    return out


def _labeled_votes(rows: _Rows) -> np.ndarray:
    """(m,) how many labeled rows each rule voted on (merged rows counted with their weight)."""
    lab = rows.y >= 0
    return ((rows.L[lab] >= 0) * rows.w[lab, None]).sum(axis=0)


def _softmax(S: np.ndarray) -> np.ndarray:
    S = S - S.max(axis=1, keepdims=True)
    E = np.exp(S)
    return E / E.sum(axis=1, keepdims=True)


#: relative size of the random nudge that breaks exact ties (far below any real difference)
_TIE_EPS = 1e-9


def break_ties(P: np.ndarray, random_state: int | None) -> np.ndarray:
    """P with exact ties among a row's top classes broken at random (seeded), rows re-normalised.

    A tie left in P goes to the lowest class code at every argmax downstream: on WRENCH's
    TREC rules, where a rule that fires on 62 % of the rows votes class 0 and is right on 23 %
    of them, that made majority vote 0.576 against 0.614 with Snorkel's random tie-break.
    Each entry moves by at most ``_TIE_EPS`` relative, so probabilities are unchanged for
    every other purpose. Same seed and rows, same bytes. Cost O(n·k).
    """
    rng = np.random.default_rng(0 if random_state is None else random_state)
    Q = P * (1 + _TIE_EPS * rng.random(P.shape))
    return Q / Q.sum(axis=1, keepdims=True)


def unanimous_rows(L: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask, class): rows with at least one vote where every vote names the same class."""
    counts = vote_counts(L, k)
    total = counts.sum(axis=1)
    top = counts.max(axis=1)
    return (total > 0) & (top == total), counts.argmax(axis=1)


#: a class counts as emptied when a label model keeps it on fewer than this share of the rows
#: whose every vote names it (see :func:`emptied_classes`)
MIN_UNANIMOUS_KEPT = 0.5
#: ... and the rules vote for it unanimously on at least this many rows (fewer say too little)
MIN_UNANIMOUS_ROWS = 5


def emptied_classes(pred: np.ndarray, L: np.ndarray, k: int) -> list[int]:
    """Classes a label model has emptied: the sanity check against degenerate optima.

    Without labels to anchor it, EM over many sparse one-class rules can explain one
    class's votes by another class (a class absorbs others, or every row goes to one
    class). The symptom is visible in L alone: on the rows where every voting rule names
    class c, the model predicts c on fewer than ``MIN_UNANIMOUS_KEPT`` of them. Believing
    the rules for c wrong more often than right where nothing contradicts them is what
    such an optimum does, and no unlabeled data can confirm it. Checked for classes with
    at least ``MIN_UNANIMOUS_ROWS`` unanimous rows. Cost O(n·m·k).
    """
    mask, cls = unanimous_rows(L, k)
    out = []
    for c in range(k):
        rows = mask & (cls == c)
        if rows.sum() >= MIN_UNANIMOUS_ROWS and (pred[rows] == c).mean() < MIN_UNANIMOUS_KEPT:
            out.append(c)
    return out


# -- the labelers -------------------------------------------------------------------------------


class _VoteModel(BaseLabeler):
    """Shared fit/predict over a label matrix: validation, merging identical rows, prior."""

    input_kind = "votes"
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


#: label models by name (X is L, not embeddings)
LABEL_MODELS: dict[str, type[BaseLabeler]] = {
    cls.name: cls for cls in (MajorityVoteLabeler, WeightedMajorityLabeler, DawidSkeneLabeler, MetalLabeler)
}


def make_label_model(name: str, **params) -> BaseLabeler:
    """Label model ``name`` with ``params``; an unknown name raises ConfigError listing the names."""
    try:
        cls = LABEL_MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown label model {name!r}; choose one of: {', '.join(LABEL_MODELS)}") from None
    return cls(**params)
