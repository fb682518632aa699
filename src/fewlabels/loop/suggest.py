"""Which rows to label next.

Notation: n rows in the pool, d embedding dimensions, k classes, B rows asked for, K
k-means clusters (K = labeled rows + B, as in TypiClust).

* **Cold start** (no label yet): TypiClust (Hacohen et al. 2022, "Active Learning on a
  Budget"). The pool is split into K clusters; from each of the B largest clusters the most
  *typical* row is taken, typicality being the inverse mean distance to its 20 nearest
  neighbours. Typical rows teach a few-label method the most; one per cluster keeps the batch
  diverse.
* **With labels**, in this order: (1) for each class with no label, the row most likely to
  be of that class (the class-name embedding when there is one, else the current
  probabilities); (2) the most typical row of each large cluster that holds no labeled row,
  for at most half of what is left of the batch; (3) the rest by uncertainty × density: margin uncertainty 1 − (p₁ − p₂) of the current
  probabilities times typicality, at most one row per cluster while clusters remain.

No batch holds two near-duplicates (cosine ≥ ``dup_threshold``), nor a near-duplicate of a
labeled row. Deterministic under ``random_state``.

Cost: k-means O(n·K·d·iters) (FAISS); typicality one 20-NN search, O(n²·d) exact up to
50,000 rows, then HNSW, O(n·log n·d); scoring O(n·k); the duplicate check O(B·c·d) for the
c ≤ 50·B candidates looked at. Memory O(n·(d + 20)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ConfigError, InputError
from ..graph import knn_search, normalize_rows
from ..validation import check_in_range, check_X, check_y

#: nearest neighbours used for typicality (TypiClust's value)
TYPICALITY_NEIGHBORS = 20


@dataclass
class Suggestion:
    """Rows to label next, best first.

    Attributes
    ----------
    index : (B,) int row indices into the pool
    reason : list of B strings, why each row was picked
    kind : list of B strings, ``missing_class``, ``cluster`` or ``uncertain`` (``typical`` at cold start)
    score : (B,) float, the score that ranked the row within its kind
    cluster : (B,) int k-means cluster of the row
    """

    index: np.ndarray
    reason: list[str]
    kind: list[str]
    score: np.ndarray
    cluster: np.ndarray


def typicality(Xn: np.ndarray, n_neighbors: int = TYPICALITY_NEIGHBORS) -> np.ndarray:
    """Inverse mean Euclidean distance to the ``n_neighbors`` nearest rows, shape (n,).

    ``Xn`` must have unit rows. Cost: one k-NN search (see module docstring).
    """
    n = Xn.shape[0]
    m = min(n_neighbors + 1, n)
    sims, idx = knn_search(Xn, Xn, m)
    d2 = np.clip(2.0 - 2.0 * sims.astype(np.float64), 0.0, None)
    d2[idx < 0] = np.nan
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.sqrt(d2[:, 1:]), axis=1) if m > 1 else np.ones(n)
    mean = np.where(np.isfinite(mean), mean, np.nanmax(mean) if np.isfinite(mean).any() else 1.0)
    return 1.0 / (mean + 1e-6)


def kmeans(Xn: np.ndarray, n_clusters: int, random_state: int | None = 0) -> np.ndarray:
    """Cluster of each row, shape (n,), by FAISS k-means (20 iterations). O(n·K·d·20)."""
    import faiss

    n, d = Xn.shape
    K = int(min(n_clusters, n))
    if K <= 1:
        return np.zeros(n, dtype=np.int64)
    seed = 0 if random_state is None else int(random_state) % (2**31)
    km = faiss.Kmeans(d, K, niter=20, seed=seed, verbose=False, min_points_per_centroid=1,
                      max_points_per_centroid=max(256, int(np.ceil(n / K)) + 1))
    km.train(np.ascontiguousarray(Xn, dtype=np.float32))
    _, assign = km.index.search(np.ascontiguousarray(Xn, dtype=np.float32), 1)
    return assign[:, 0].astype(np.int64)


class _Batch:
    """Greedy batch builder that refuses near-duplicates of picked or labeled rows."""

    def __init__(self, Xn, labeled, size, threshold):
        self.Xn, self.size, self.threshold = Xn, size, threshold
        self.taken = np.zeros(Xn.shape[0], dtype=bool)
        self.taken[labeled] = True
        self.anchors = [Xn[labeled]] if len(labeled) else []
        self.rows: list[tuple[int, str, str, float]] = []

    @property
    def full(self) -> bool:
        return len(self.rows) >= self.size

    def near_duplicate(self, i: int) -> bool:
        if not self.anchors:
            return False
        A = np.concatenate(self.anchors) if len(self.anchors) > 1 else self.anchors[0]
        self.anchors = [A]
        return bool((A @ self.Xn[i]).max() >= self.threshold)

    def add(self, i: int, kind: str, reason: str, score: float) -> bool:
        i = int(i)
        if self.full or self.taken[i] or self.near_duplicate(i):
            return False
        self.taken[i] = True
        self.anchors.append(self.Xn[i][None])
        self.rows.append((i, kind, reason, float(score)))
        return True


def _names(classes, k):
    return list(classes) if classes is not None else [str(c) for c in range(k)]


def suggest(X, y=None, proba=None, *, n: int = 50, classes: Sequence[str] | None = None,
            class_embeddings=None, n_clusters: int | None = None, dup_threshold: float = 0.95,
            cluster_share: float = 0.5, random_state: int | None = 0, typical=None,
            balance: bool = True) -> Suggestion:
    """The ``n`` rows most worth labeling next, each with its reason.

    Parameters
    ----------
    X : array of shape (n_rows, d)
        Embeddings of the pool.
    y : array of shape (n_rows,), optional
        Class codes of the labeled rows, -1 elsewhere. None or all -1: cold start.
    proba : array of shape (n_rows, k), optional
        Current probabilities (e.g. from ``fewlabels label``); needed with labels for the
        uncertainty step, which is skipped without it.
    n : rows to suggest (fewer when the pool runs out)
    classes : k class names, used in the reasons and to know classes with no label
    class_embeddings : array of shape (k, d), optional
        Embeddings of the class names; find rows for classes with no label.
    n_clusters : K (default: labeled rows + n, capped at the pool size)
    dup_threshold : cosine at or above which two rows count as near-duplicates
    cluster_share : with labels and ``proba``, the largest share of the batch left after step
        (1) that step (2) may take; the rest is chosen by uncertainty × density. TypiClust is
        strongest at the smallest budgets and margin-based picks after (TCM, Doucet et al.
        2023), so once labels exist the two share the batch.
    random_state : seed of k-means
    typical : array of shape (n_rows,), optional
        Precomputed :func:`typicality` (it depends on X only; pass it across rounds).
    balance : in step (3), take each next uncertain row from the guessed class furthest
        below its estimated share of the pool (class-balanced uncertainty sampling).

    Returns
    -------
    Suggestion
    """
    X = check_X(X)
    N = X.shape[0]
    y = np.full(N, -1, dtype=np.int64) if y is None else check_y(y, N)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ConfigError(f"n={n!r} must be a whole number of rows to suggest")
    check_in_range("n", n, 1)
    check_in_range("dup_threshold", dup_threshold, 0.0, 1.0, low_open=True)
    check_in_range("cluster_share", cluster_share, 0.0, 1.0)
    k = None
    if proba is not None:
        proba = np.asarray(proba, dtype=np.float64)
        if proba.shape[0] != N or proba.ndim != 2:
            raise InputError(f"proba has shape {proba.shape}; expected ({N}, k): one row per pool row")
        k = proba.shape[1]
    if classes is not None:
        k = len(classes) if k is None else k
        if len(classes) != k:
            raise InputError(f"{len(classes)} class names for {k} probability columns")
    C = None
    if class_embeddings is not None:
        C = normalize_rows(np.asarray(class_embeddings, dtype=np.float32))
        if C.shape[1] != X.shape[1]:
            raise InputError(f"class_embeddings have dimension {C.shape[1]}; the pool has {X.shape[1]}")
        k = C.shape[0] if k is None else k
    if k is not None and (y >= k).any():
        raise InputError(f"y holds code {int(y.max())} but there are only {k} classes")
    names = _names(classes, k or (int(y.max()) + 1 if (y >= 0).any() else 0))

    Xn = normalize_rows(X)
    labeled = np.flatnonzero(y >= 0)
    n = int(min(n, N - len(labeled)))
    typ = typicality(Xn) if typical is None else np.asarray(typical, dtype=np.float64)
    K = int(n_clusters) if n_clusters is not None else len(labeled) + n
    cluster = kmeans(Xn, max(1, min(K, N)), random_state)
    sizes = np.bincount(cluster)
    batch = _Batch(Xn, labeled, n, dup_threshold)
    if n <= 0:
        return _result(batch, cluster)

    # order rows once: by cluster size (desc), cluster, then typicality (desc); first row of each cluster wins
    order = np.lexsort((-typ, cluster, -sizes[cluster]))
    heads = order[np.r_[True, cluster[order][1:] != cluster[order][:-1]]]  # most typical row per cluster
    covered = np.zeros(len(sizes), dtype=bool)
    covered[cluster[labeled]] = True

    if len(labeled) == 0:
        for i in heads:
            if batch.full:
                break
            batch.add(i, "typical", f"most typical row of a cluster of {sizes[cluster[i]]} rows with no label",
                      typ[i])
        _fill_typical(batch, order, typ, sizes, cluster)
        return _result(batch, cluster)

    # (1) classes with no label: the row most likely of that class
    if k:
        counts = np.bincount(y[labeled], minlength=k)
        missing = np.flatnonzero(counts == 0)
        if len(missing):
            if C is not None:
                S = Xn @ C[missing].T
                how = "closest to the class name"
            elif proba is not None:
                S = proba[:, missing]
                how = "most probable"
            else:
                S = None
            if S is not None:
                S = np.where((y >= 0)[:, None], -np.inf, S)
                for j in np.argsort(-S.max(axis=0), kind="stable"):
                    for i in np.argsort(-S[:, j], kind="stable")[:20]:
                        if batch.add(i, "missing_class", f"{how} of {names[missing[j]]!r}, a class with no label",
                                     S[i, j]):
                            break
                    if batch.full:
                        break

    # (2) clusters with no labeled row: their most typical row, largest clusters first; at most
    # ``cluster_share`` of the batch, so that uncertainty gets the rest once labels exist (TCM)
    stop = len(batch.rows) + int(np.ceil(cluster_share * (n - len(batch.rows)))) if proba is not None else n
    for i in heads:
        if batch.full or sizes[cluster[i]] < 2 or len(batch.rows) >= stop:
            break
        if not covered[cluster[i]]:
            batch.add(i, "cluster", f"most typical row of a cluster of {sizes[cluster[i]]} rows with no label",
                      typ[i])

    # (3) uncertainty × density, one per cluster while clusters remain; with ``balance``, the
    # next row is taken from the guessed class furthest below its estimated share of the pool
    if proba is not None and not batch.full:
        top2 = np.sort(proba, axis=1)[:, -2:] if proba.shape[1] > 1 else np.c_[np.zeros(N), proba]
        uncertainty = 1.0 - (top2[:, 1] - top2[:, 0])
        score = uncertainty * typ / typ.max()
        score[batch.taken] = -np.inf
        guess = proba.argmax(axis=1)
        cand = np.argsort(-score, kind="stable")[: 50 * n]
        cand = cand[np.isfinite(score[cand])]
        used = np.zeros(len(sizes), dtype=bool)
        used[[cluster[r[0]] for r in batch.rows]] = True

        def reason(i):
            return (f"uncertain: guess {names[guess[i]]!r} at {top2[i, 1]:.2f}, runner-up at {top2[i, 0]:.2f}, "
                    "in a dense region")

        if balance and proba.shape[1] > 1:
            _add_balanced(batch, cand, score, guess, proba, y, cluster, used, reason)
        for one_per_cluster in (True, False):
            for i in cand:
                if batch.full:
                    break
                if one_per_cluster and used[cluster[i]]:
                    continue
                if batch.add(i, "uncertain", reason(i), score[i]):
                    used[cluster[i]] = True
    _fill_typical(batch, order, typ, sizes, cluster)
    return _result(batch, cluster)


def _add_balanced(batch, cand, score, guess, proba, y, cluster, used, reason):
    """Class-balanced uncertainty sampling: fill the batch one row at a time from the guessed
    class whose labeled count (given labels plus the batch's guesses) is furthest below its
    share of the pool, estimated as the mean of ``proba`` over the unlabeled rows; within a
    class, the candidate with the best score (a cluster not yet used first).

    Uncertain rows cluster near a few class boundaries; labeling only them skews the labeled
    classes away from the pool's, and few-label methods take their class balance from the
    labels (on trec, 100 suggested labels held 9 ``description`` rows for a 21% class).
    Cost O(B·c) for c candidates."""
    k = proba.shape[1]
    unl = y < 0
    share = proba[unl].mean(axis=0) if unl.any() else np.full(k, 1.0 / k)
    have = np.bincount(y[y >= 0], minlength=k).astype(np.float64)
    for r in batch.rows:
        have[guess[r[0]]] += 1
    queues = [list(cand[guess[cand] == j]) for j in range(k)]
    total = have.sum() + (batch.size - len(batch.rows))
    while not batch.full:
        open_ = [j for j in range(k) if queues[j]]
        if not open_:
            return
        deficit = share[open_] * total - have[open_]
        j = open_[int(np.argmax(deficit))]
        q = queues[j]
        pos = next((p for p, i in enumerate(q) if not used[cluster[i]]), 0)
        i = q.pop(pos)
        if batch.add(i, "uncertain", reason(i), score[i]):
            used[cluster[i]] = True
            have[j] += 1


def _fill_typical(batch, order, typ, sizes, cluster):
    """Top up the batch with typical rows (cluster-size order) when the tiers ran short."""
    for i in order:
        if batch.full:
            break
        batch.add(i, "typical", f"typical row of a cluster of {sizes[cluster[i]]} rows", typ[i])


def _result(batch: _Batch, cluster) -> Suggestion:
    idx = np.array([r[0] for r in batch.rows], dtype=np.int64)
    return Suggestion(idx, [r[2] for r in batch.rows], [r[1] for r in batch.rows],
                      np.array([r[3] for r in batch.rows], dtype=np.float64), cluster[idx])


def current_proba(X, y, k: int, class_embeddings=None, random_state: int | None = 0):
    """Cheap current probabilities for suggesting and reviewing: the mean of ``prototype``
    and (with labels of two classes) ``logistic``; ``zeroshot`` scores with no label. None
    when there is neither a label nor a class embedding. Cost O(n·d·k) (plus logistic's fit).
    """
    from ..labelers.registry import make_labeler

    lab = y >= 0
    ctx = {"n_classes": k, "class_embeddings": class_embeddings, "random_state": random_state}
    if not lab.any():
        if class_embeddings is None:
            return None
        return make_labeler("zeroshot", **ctx).fit(X, y).predict_proba(X)
    P = make_labeler("prototype", **ctx).fit(X, y).predict_proba(X)
    if len(np.unique(y[lab])) >= 2:
        P = 0.5 * (P + make_labeler("logistic", **ctx).fit(X, y).predict_proba(X))
    return P
