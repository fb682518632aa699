"""Multiple-instance learning (MIL): only each bag's label set is known.

A bag is positive for a class if at least one of its rows is of that class. Every row of a
bag is of one of the classes its label names, or of the ``negative`` class (the
background: "no complaint", "ham"), which any bag may hold; a bag whose label names only
the negative class holds negative rows only.

Seeds: instance-level MIL with prototype pseudo-labels ("Rethinking MIL for whole slide
images: a good instance classifier is all you need") and masked hard-instance mining with
an EMA teacher (MHIM-MIL). Here:

1. prototypes: the negative class from the rows of negative-only bags, each other class
   from the most typical row of every bag naming it (the row farthest from the negative
   prototype, or the bag mean without a negative class); every row starts with a softmax
   over its allowed classes of its cosine similarity to the prototypes;
2. rounds: the teacher's posteriors, restricted to each row's allowed classes, are the
   student's soft targets; in every positive bag the teacher's most likely row for each
   named class is made a hard positive (the "at least one" constraint);
3. hard-instance mining: a share ``mask_ratio`` of the easiest positives (highest teacher
   probability) is left out of the student's loss, so the student learns the boundary from
   the harder ones;
4. the student is a softmax regression on the embeddings; the teacher is the exponential
   moving average of the students' weights (momentum ``momentum``).

Cost: O(n_rounds · L-BFGS iterations · n · d · k) time, O(n · k + d · k) memory.
"""

from __future__ import annotations

import numpy as np

from ..bags import check_bag_sets, check_bags
from ..errors import InputError
from ..graph import normalize_rows
from ..validation import check_in_range
from .base import TransductiveLabeler, softmax
from .softreg import fit_soft_logreg, soft_logreg_proba


class BagLabeler(TransductiveLabeler):
    """Instance labels from bag label sets: prototype pseudo-labels, then student rounds with
    an EMA teacher and masked easy positives.

    Parameters
    ----------
    bags : array of shape (n,), int codes 0..B-1 of each pool row's bag
    bag_sets : array of shape (B, k), bool: the classes each bag's label names
    negative : int, optional
        Code of the background class any bag may hold (None: rows are of a named class).
    n_rounds : int, default=6
    momentum : float, default=0.5
        EMA weight of the previous teacher.
    mask_ratio : float, default=0.2
        Share of the positives with the highest teacher probability left out of each
        round's loss (MHIM's masking of easy instances); 0 turns mining off.
    C : float, default=10.0
    prototype_temperature : float, default=0.05
        Softmax temperature on cosine similarities to the prototypes (step 1).
    """

    name = "bags"
    reads = ("bags", "bag_sets", "n_classes", "random_state")
    needs = ("bags", "bag_sets")
    min_labels = 0

    def __init__(self, bags=None, bag_sets=None, negative: int | None = None, n_rounds: int = 6,
                 momentum: float = 0.5, mask_ratio: float = 0.2, C: float = 10.0,
                 prototype_temperature: float = 0.05, n_classes: int | None = None, random_state: int | None = 0):
        self.bags = bags
        self.bag_sets = bag_sets
        self.negative = negative
        self.n_rounds = n_rounds
        self.momentum = momentum
        self.mask_ratio = mask_ratio
        self.C = C
        self.prototype_temperature = prototype_temperature
        self.n_classes = n_classes
        self.random_state = random_state

    def fit(self, X, y):
        if self.n_classes is None and self.bag_sets is not None:
            self.n_classes = int(np.asarray(self.bag_sets).shape[1])
        return super().fit(X, y)

    def _allowed(self, bags, sets):
        A = sets[bags].copy()
        if self.negative is not None:
            A[:, self.negative] = True
        return A

    def _fit(self, X, y):
        check_in_range("n_rounds", self.n_rounds, 1)
        check_in_range("momentum", self.momentum, 0.0, 1.0)
        check_in_range("mask_ratio", self.mask_ratio, 0.0, 0.9)
        k = self.n_classes_
        bags = check_bags(self.bags, X.shape[0])
        n_bags = int(bags.max()) + 1
        sets = check_bag_sets(self.bag_sets, n_bags, k)
        neg = self.negative
        if neg is not None and not 0 <= neg < k:
            raise InputError(f"negative class code {neg} is not one of 0..{k - 1}")
        rng = np.random.default_rng(self.random_state)
        Xn = normalize_rows(X).astype(np.float64)
        A = self._allowed(bags, sets)
        lab = y >= 0
        if (lab & ~A[np.arange(len(y)), np.maximum(y, 0)]).any():
            row = int(np.flatnonzero(lab & ~A[np.arange(len(y)), np.maximum(y, 0)])[0])
            raise InputError(f"row {row + 1}: its given label is not allowed by its bag's label; fix one of them")
        A[lab] = np.eye(k, dtype=bool)[y[lab]]
        positives = [c for c in range(k) if c != neg]

        # 1. prototypes
        protos = np.zeros((k, Xn.shape[1]))
        neg_rows = A.sum(axis=1) == 1
        if neg is not None:
            only_neg = neg_rows & A[:, neg]
            base = Xn[only_neg].mean(axis=0) if only_neg.any() else Xn.mean(axis=0)
            protos[neg] = base
        else:
            base = Xn.mean(axis=0)
        far = 1.0 - Xn @ base / max(np.linalg.norm(base), 1e-12)
        for c in positives:
            rows = np.flatnonzero(A[:, c])
            if not len(rows):
                continue
            # the most typical row of each bag naming c: farthest from the background
            order = np.lexsort((-far[rows], bags[rows]))
            b_sorted = bags[rows][order]
            first = np.r_[True, b_sorted[1:] != b_sorted[:-1]]
            protos[c] = Xn[rows[order][first]].mean(axis=0)
        protos = normalize_rows(protos.astype(np.float32)).astype(np.float64)
        S = self._masked(softmax(Xn @ protos.T / self.prototype_temperature), A)

        teacher = None
        for _ in range(self.n_rounds):
            Q = S.copy()
            weight = np.ones(len(Q))
            # "at least one": the teacher's best row of each positive bag, per named class
            for c in positives:
                rows = np.flatnonzero(A[:, c] & sets[bags, c])
                if not len(rows):
                    continue
                order = np.lexsort((-S[rows, c], bags[rows]))
                b_sorted = bags[rows][order]
                key = rows[order][np.r_[True, b_sorted[1:] != b_sorted[:-1]]]
                Q[key] = np.eye(k)[c]
                # mask a share of the easiest positives (highest teacher probability)
                if self.mask_ratio > 0:
                    pos = rows[S[rows, c] > 0.5]
                    n_mask = int(self.mask_ratio * len(pos))
                    if n_mask:
                        easiest = pos[np.argsort(-S[pos, c])[: 2 * n_mask]]
                        weight[rng.choice(easiest, size=n_mask, replace=False)] = 0.0
            Q[lab] = np.eye(k)[y[lab]]
            weight[lab] = 1.0
            student = fit_soft_logreg(Xn, Q, weights=weight, C=self.C, init=teacher)
            teacher = student if teacher is None else self.momentum * teacher + (1 - self.momentum) * student
            S = self._masked(soft_logreg_proba(Xn, teacher), A)
        self.coef_ = teacher
        self.prototypes_ = protos
        self.n_iter_ = self.n_rounds
        S[lab] = np.eye(k)[y[lab]]
        self.transduction_ = S

    @staticmethod
    def _masked(P: np.ndarray, A: np.ndarray) -> np.ndarray:
        P = np.where(A, P, 0.0) + np.where(A, 1e-12, 0.0)
        return P / P.sum(axis=1, keepdims=True)

    def predict_classifier(self, X) -> np.ndarray:
        """Probabilities (m, k) of the teacher alone, for rows of new bags (no bag constraint)."""
        self._check_fitted()
        return soft_logreg_proba(normalize_rows(np.asarray(X, dtype=np.float32)).astype(np.float64), self.coef_)


def bag_predictions(P: np.ndarray, bags: np.ndarray, n_bags: int, negative: int | None = None) -> np.ndarray:
    """(B, k) probability that each bag holds each class: the max over its rows (the MIL
    assumption); the negative class's entry is the probability that every row is negative,
    estimated as the min over rows. O(n · k)."""
    out = np.zeros((n_bags, P.shape[1]))
    np.maximum.at(out, bags, P)
    if negative is not None:
        m = np.ones(n_bags)
        np.minimum.at(m, bags, P[:, negative])
        out[:, negative] = m
    return out
