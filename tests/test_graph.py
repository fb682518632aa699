"""The sparse k-NN graph against brute-force numpy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fewlabels.errors import ConfigError, InputError
from fewlabels.graph import knn_graph, knn_search, normalize_rows


def brute_force_graph(X, n_neighbors):
    """Dense reference: A[i, j] = max(cos, 0) for j among i's n_neighbors nearest (self excluded),
    then W = max(A, A.T)."""
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Xn @ Xn.T
    np.fill_diagonal(S, -np.inf)
    A = np.zeros_like(S)
    for i in range(len(X)):
        nn = np.argsort(-S[i])[:n_neighbors]
        A[i, nn] = np.clip(S[i, nn], 0, None)
    return np.maximum(A, A.T)


@pytest.fixture(params=[(60, 8, 5, 0), (120, 16, 10, 1), (30, 3, 4, 2)], ids=lambda p: f"n{p[0]}d{p[1]}k{p[2]}")
def random_case(request):
    n, d, k, seed = request.param
    X = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return X, k


def test_graph_is_sparse_symmetric_zero_diagonal(random_case):
    X, k = random_case
    n = len(X)
    W = knn_graph(X, k)
    assert sp.issparse(W) and W.format == "csr"
    assert W.shape == (n, n)
    assert W.nnz <= 2 * n * k
    assert abs(W - W.T).max() == 0
    assert (W.diagonal() == 0).all()
    assert W.data.min() > 0 and W.data.max() <= 1.0
    # every row has at least its own positive neighbours
    assert (np.diff(W.indptr) >= 1).all()


def test_graph_neighbours_match_brute_force(random_case):
    X, k = random_case
    W = knn_graph(X, k).toarray()
    expected = brute_force_graph(X.astype(np.float64), k)
    np.testing.assert_array_equal(W > 0, expected > 0)
    np.testing.assert_allclose(W, expected, atol=1e-5)


def test_graph_is_scale_invariant():
    X = np.random.default_rng(4).normal(size=(40, 6)).astype(np.float32)
    scales = np.random.default_rng(5).uniform(0.1, 10, size=(40, 1)).astype(np.float32)
    W1 = knn_graph(X, 5).toarray()
    W2 = knn_graph(X * scales, 5).toarray()
    np.testing.assert_array_equal(W1 > 0, W2 > 0)
    np.testing.assert_allclose(W1, W2, atol=1e-5)


def test_graph_with_duplicate_rows_symmetric_zero_diagonal():
    X = np.random.default_rng(6).normal(size=(20, 5)).astype(np.float32)
    X = np.vstack([X, X[:3], X[:3]])
    W = knn_graph(X, 3)
    assert abs(W - W.T).max() == 0
    assert (W.diagonal() == 0).all()
    # an exact duplicate is among the neighbours, with weight 1
    assert W[0, 20] == pytest.approx(1.0, abs=1e-6)


def test_graph_weights_of_duplicates_stay_at_most_one():
    # 200 duplicated pairs: rounding pushes some of the 200 self-similarities above 1
    X = np.random.default_rng(6).normal(size=(200, 32)).astype(np.float32)
    assert knn_graph(np.vstack([X, X]), 3).data.max() <= 1.0


def test_graph_nnz_bound_holds_with_many_duplicates():
    rng = np.random.default_rng(0)
    X = np.vstack([np.tile(rng.normal(size=(1, 5)), (10, 1)), rng.normal(size=(10, 5))]).astype(np.float32)
    W = knn_graph(X, 1)
    assert W.nnz <= 2 * len(X) * 1


def test_more_neighbours_than_rows_gives_complete_positive_graph():
    X = np.abs(np.random.default_rng(7).normal(size=(5, 3))).astype(np.float32)  # all cosines > 0
    W = knn_graph(X, 50).toarray()
    off = ~np.eye(5, dtype=bool)
    assert (W[off] > 0).all()


def test_graph_rejects_bad_input():
    with pytest.raises(ConfigError, match="n_neighbors=0"):
        knn_graph(np.eye(4), 0)
    X = np.eye(4)
    X[2, 1] = np.nan
    with pytest.raises(InputError, match="row 3"):
        knn_graph(X, 2)


def test_normalize_rows_keeps_zero_rows():
    Xn = normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(Xn, [[0.6, 0.8], [0.0, 0.0]])
    assert Xn.dtype == np.float32


def test_knn_search_hnsw_path_finds_exact_neighbours_on_easy_data():
    """Above exact_limit the HNSW index is used; on small data it must still be right."""
    X = normalize_rows(np.random.default_rng(8).normal(size=(200, 8)))
    sims_exact, idx_exact = knn_search(X, X, 5, exact_limit=10_000)
    sims_hnsw, idx_hnsw = knn_search(X, X, 5, exact_limit=10)
    assert (idx_exact == idx_hnsw).mean() >= 0.98
    np.testing.assert_array_equal(idx_exact[:, 0], np.arange(200))


def test_hnsw_path_agrees_with_exact_search():
    # exact_limit below n switches to the approximate HNSW index used for large pools
    X = np.random.default_rng(11).normal(size=(500, 16)).astype(np.float32)
    exact = knn_graph(X, 5)
    approx = knn_graph(X, 5, exact_limit=100)
    overlap = exact.multiply(approx).nnz / exact.nnz
    assert overlap > 0.9
    assert (approx != approx.T).nnz == 0
