"""Approximate nearest-neighbour search with a measured recall.

Exact inner-product search costs O(n_base · n_queries · d): fine for a 20,000-row pool
(about 2 s on 2 cores), hopeless for a million rows against a million (about 10^14
multiply-adds). Above that size fewlabels uses a FAISS inverted-file index (IVF-Flat):

* ``nlist = 2·√n_base`` lists (k-means centroids), trained for 10 iterations on at most
  ``40 · nlist`` rows of the base (FAISS asks for 39 per list): O(n_base^1.5 · d / 10) at most, about a second at
  n_base = 50,000.
* ``nprobe``, the lists scanned per query, is *tuned* rather than fixed: 256 queries are
  searched exactly and with the index, and nprobe doubles (4, 8, 16, ...) until the
  recall@k of the index reaches ``target_recall`` (0.9 by default) or all lists are
  scanned. The recall reached is kept in :attr:`NeighborIndex.info`, so every
  approximate result comes with its measured recall.
* A search then costs O(n_queries · nprobe · (n_base / nlist) · d), i.e.
  O(n_queries · nprobe · √n_base · d / 2); queries go through in blocks of
  ``block`` rows, so the extra memory is O(block · (d + k)) whatever n_queries is.

Memory: the index holds one float32 copy of the base (n_base · d · 4 bytes) plus the
centroids.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: base × queries pairs up to which exact search is used: 50,000 × 50,000, about 15 s of BLAS
#: on 2 cores at d = 384 (what a 50,000-row pool's k-NN graph always used)
EXACT_PAIRS = 2_500_000_000
#: the same for new rows searched against a fitted pool (a transductive method's extension):
#: lower, since a similarity-weighted vote of 10 neighbours barely moves at recall 0.9, and a
#: million new rows against a 20,000-row core would cost 10^13 multiply-adds exactly
EXTEND_EXACT_PAIRS = 200_000_000
#: queries searched exactly to measure the recall of an approximate index
RECALL_QUERIES = 256


def normalize_rows(X: np.ndarray) -> np.ndarray:
    """L2-normalise rows (zero rows stay zero), as C-contiguous float32.

    Rows already of unit norm (within 1e-4, as sentence encoders return them) come back
    as the same array, not a copy: at a million rows a copy is 1.5 GB. Treat the result
    as read-only. Cost O(n · d), no (n, d) temporary.
    """
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    sq = np.einsum("ij,ij->i", X, X)
    if X.size and np.all(np.abs(sq - 1.0) <= 2e-4):
        return X
    norms = np.sqrt(sq)[:, None]
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(X / norms)


def _exact_index(base: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    index.add(base)
    return index


class NeighborIndex:
    """Inner-product k-NN over a fixed, L2-normalised float32 ``base``.

    Exact (``faiss.IndexFlatIP``) when ``exact`` is True, else IVF-Flat with nprobe tuned
    to ``target_recall`` on the first search (see the module docstring). ``info`` says
    which, and the measured recall.

    Parameters
    ----------
    base : (n, d) float32, rows L2-normalised
    exact : bool
    target_recall : float, default=0.9
    random_state : int, default=0
        Seeds the training sample and the recall queries (same seed, same neighbours).
    """

    def __init__(self, base: np.ndarray, *, exact: bool, target_recall: float = 0.9, random_state: int | None = 0):
        import faiss

        self.base = base
        self.target_recall = target_recall
        self.random_state = random_state
        n, d = base.shape
        self.info: dict = {"method": "exact", "n_base": int(n)}
        if exact:
            self.index = _exact_index(base)
            return
        rng = np.random.default_rng(random_state)
        nlist = int(max(1, min(round(2 * np.sqrt(n)), n // 39)))
        train = base if n <= 40 * nlist else base[np.sort(rng.choice(n, 40 * nlist, replace=False))]
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10
        index.cp.seed = int(random_state or 0)
        index.train(np.ascontiguousarray(train))
        index.add(base)
        self._quantizer = quantizer  # the index does not own it
        self.index = index
        self.info = {"method": "ivf", "n_base": int(n), "nlist": nlist, "nprobe": None, "recall": None}

    def _tune(self, queries: np.ndarray, k: int) -> None:
        """Double nprobe until the recall@k on a sample of ``queries`` reaches the target."""
        rng = np.random.default_rng(self.random_state)
        m = min(RECALL_QUERIES, queries.shape[0])
        sample = np.ascontiguousarray(queries[np.sort(rng.choice(queries.shape[0], m, replace=False))])
        truth = exact_topk(self.base, sample, k)
        nlist = self.info["nlist"]
        nprobe = min(4, nlist)
        while True:
            self.index.nprobe = nprobe
            _, found = self.index.search(sample, k)
            recall = recall_at_k(found, truth)
            if recall >= self.target_recall or nprobe >= nlist:
                break
            nprobe = min(2 * nprobe, nlist)
        self.info.update(nprobe=int(nprobe), recall=round(float(recall), 4), recall_queries=int(m), k=int(k))

    def prepare(self, queries: np.ndarray, k: int) -> None:
        """Tune nprobe for ``k`` neighbours on a sample of ``queries`` (once per k)."""
        k = min(k, self.base.shape[0])
        if self.info["method"] == "ivf" and self.info.get("k") != k:
            self._tune(queries, k)

    def search(self, queries: np.ndarray, k: int, *, block: int = 65_536,
               progress: Callable[[int, int], None] | None = None):
        """(similarities, indices) of shape (n_queries, k); missing neighbours have index -1."""
        k = min(k, self.base.shape[0])
        self.prepare(queries, k)
        n = queries.shape[0]
        sims = np.empty((n, k), dtype=np.float32)
        idx = np.empty((n, k), dtype=np.int64)
        for s in range(0, n, block):
            e = min(n, s + block)
            sims[s:e], idx[s:e] = self.index.search(np.ascontiguousarray(queries[s:e]), k)
            if progress:
                progress(e, n)
        return sims, idx

    def search_cached(self, queries: np.ndarray, k: int, prepare: Callable[[np.ndarray], np.ndarray]):
        """:meth:`search` of ``prepare(queries)``, remembered for the last ``queries`` object
        (so the members of an ensemble search a block of new rows once)."""
        last = getattr(self, "_last", None)
        if last is not None and last[0] is queries and last[1] == k:
            return last[2]
        result = self.search(prepare(queries), k)
        self._last = (queries, k, result)
        return result


def exact_topk(base: np.ndarray, queries: np.ndarray, k: int, block: int = 131_072) -> np.ndarray:
    """Indices (m, k) of the k largest inner products of each query, by numpy over base
    blocks: O(m · n · d) time, O(m · (block + k)) memory, no copy of the base."""
    m = queries.shape[0]
    best_s = np.full((m, 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((m, 0), dtype=np.int64)
    for s in range(0, base.shape[0], block):
        S = queries @ base[s:s + block].T
        kk = min(k, S.shape[1])
        part = np.argpartition(-S, kk - 1, axis=1)[:, :kk]
        best_s = np.concatenate([best_s, np.take_along_axis(S, part, axis=1)], axis=1)
        best_i = np.concatenate([best_i, part + s], axis=1)
        if best_s.shape[1] > k:
            keep = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
            best_s, best_i = np.take_along_axis(best_s, keep, axis=1), np.take_along_axis(best_i, keep, axis=1)
    return best_i


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row's true k neighbours that ``found`` holds (both (m, k) indices)."""
    hits = (found[:, :, None] == truth[:, None, :]).any(axis=1) & (truth >= 0)
    return float(hits.sum() / max((truth >= 0).sum(), 1))


def needs_approximate(n_base: int, n_queries: int, exact_limit: int | None = None,
                      max_pairs: int | None = None) -> bool:
    """True when exact search would be too slow: ``n_base > exact_limit`` (if given) or more
    than ``max_pairs`` (default :data:`EXACT_PAIRS`) base × query pairs."""
    if exact_limit is not None and n_base > exact_limit:
        return True
    return n_base * n_queries > (EXACT_PAIRS if max_pairs is None else max_pairs)


_SHARED: list = []  # [(base, exact, NeighborIndex)], most recent last, at most 2


def shared_index(base: np.ndarray, *, exact: bool, target_recall: float = 0.9,
                 random_state: int | None = 0) -> NeighborIndex:
    """The :class:`NeighborIndex` of ``base``'s normalised rows, built once per ``base``
    object and shared.

    The members of an ensemble extend their pool results to the same new rows: they
    share one index over the pool, and :meth:`NeighborIndex.search_cached` lets them share
    one search per block of new rows. Keeps the two most recent indexes alive.
    """
    for b, e, index in _SHARED:
        if b is base and e == exact:
            return index
    index = NeighborIndex(normalize_rows(base), exact=exact, target_recall=target_recall, random_state=random_state)
    _SHARED.append((base, exact, index))
    del _SHARED[:-2]
    return index


def index_info(base: np.ndarray) -> dict | None:
    """``info`` of the shared index over ``base`` (the approximate one if both exist), or None."""
    found = [index.info for b, _, index in _SHARED if b is base]
    return next((i for i in found if i["method"] == "ivf"), found[0] if found else None)
