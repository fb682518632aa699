"""Sparse k-nearest-neighbour graph on embeddings, built with FAISS.

Never a dense n × n matrix: the graph is a symmetric ``scipy.sparse.csr_matrix`` with at
most ``2 · n · k`` non-zeros, weights = cosine similarity clipped at 0 (rows of X are
L2-normalised first).

Cost: exact search (``IndexFlatIP``) is O(n² · d) time, O(n · d) memory, used up to
``exact_limit`` rows (50,000 by default; 20,000 items take about 2 s on 2 cores). Above it an
IVF index whose recall is measured and tuned (:mod:`fewlabels.ann`) is used:
O(n^1.5 · nprobe · d) time, O(n · d) memory; ``info`` receives the recall reached.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .ann import NeighborIndex, needs_approximate, normalize_rows
from .validation import check_in_range, check_X

#: pools up to this many rows get an exact k-NN graph
EXACT_LIMIT = 50_000


def knn_search(base: np.ndarray, queries: np.ndarray, k: int, *, exact_limit: int = EXACT_LIMIT, engine=None,
               info: dict | None = None, random_state: int | None = 0):
    """Inner-product k-NN of ``queries`` among ``base`` (both L2-normalised float32).

    Exact while ``base`` has at most ``exact_limit`` rows and base × queries stays under
    :data:`fewlabels.ann.EXACT_PAIRS`; else an IVF index tuned to recall 0.9 on a sample
    (:class:`fewlabels.ann.NeighborIndex`). ``info``, a dict, receives the method and the
    measured recall.

    Returns (similarities, indices), each of shape (n_queries, k); missing neighbours
    have index -1. With an ``engine`` (:mod:`fewlabels.engine`) the index is built here
    once and the queries are searched in blocks on its workers.
    """
    approx = needs_approximate(base.shape[0], queries.shape[0], exact_limit)
    nindex = NeighborIndex(base, exact=not approx, random_state=random_state)
    if engine is not None:
        from .engine.ops import search_index

        nindex.prepare(queries, k)
        result = search_index(engine, nindex.index, queries, k)
    else:
        result = nindex.search(queries, k)
    if info is not None:
        info.update(nindex.info)
    return result


def knn_graph(X, n_neighbors: int = 10, *, exact_limit: int = EXACT_LIMIT, engine=None,
              info: dict | None = None) -> sp.csr_matrix:
    """Symmetric sparse k-NN graph.

    Parameters
    ----------
    X : array of shape (n, d)
    n_neighbors : int, default=10
        Neighbours per item (self excluded).
    engine : optional, see :func:`knn_search`
    info : dict, optional
        Receives how the neighbours were found and, when approximate, their measured recall.

    Returns
    -------
    W : csr_matrix of shape (n, n), symmetric, zero diagonal, weights in [0, 1].
    """
    X = normalize_rows(check_X(X))
    n = X.shape[0]
    check_in_range("n_neighbors", n_neighbors, 1)
    k = min(n_neighbors + 1, n)
    sims, idx = knn_search(X, X, k, exact_limit=exact_limit, engine=engine, info=info)
    rows = np.repeat(np.arange(n), k).reshape(n, k)
    # Drop the row itself; with exact duplicates self may not be returned, so keep at most
    # n_neighbors others per row either way.
    keep = (idx >= 0) & (idx != rows)
    keep &= np.cumsum(keep, axis=1) <= n_neighbors
    vals = np.clip(sims, 0.0, 1.0)
    keep &= vals > 0
    rows, cols, vals = rows[keep], idx[keep], vals[keep]
    W = sp.csr_matrix((vals, (rows, cols)), shape=(n, n), dtype=np.float32)
    W = W.maximum(W.T).tocsr()
    W.eliminate_zeros()
    return W


def graph_for(X, graph=None, n_neighbors: int = 10) -> sp.csr_matrix:
    """``graph`` checked against the pool ``X`` (float64 CSR), or a new k-NN graph of ``X``."""
    from .errors import InputError

    n = np.shape(X)[0]
    W = graph if graph is not None else knn_graph(X, n_neighbors)
    if W.shape != (n, n):
        raise InputError(f"graph has shape {W.shape}; expected ({n}, {n}) for this pool")
    return sp.csr_matrix(W, dtype=np.float64)
