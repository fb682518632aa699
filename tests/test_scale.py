"""The large-pool path: approximate neighbours with measured recall, the core of a pool,
blocked prediction and memory-lean helpers (issue: scale)."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabels import ann, pool_core
from fewlabels.ann import NeighborIndex, exact_topk, recall_at_k
from fewlabels.endmodel import EndModel
from fewlabels.errors import ConfigError, InputError
from fewlabels.graph import knn_graph, knn_search, normalize_rows
from fewlabels.labelers import base as labelers_base
from fewlabels.labelers.registry import make_labeler
from fewlabels.pipeline import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool
from fewlabels.validation import check_X


def clustered(n=3000, d=32, k=4, noise=0.6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d))
    y = rng.integers(0, k, n)
    X = centres[y] + noise * rng.standard_normal((n, d))
    return normalize_rows(X.astype(np.float32)), y


def test_exact_topk_matches_faiss_exact_search():
    X, _ = clustered(2000)
    q = X[:50]
    _, idx = knn_search(X, q, 7)  # exact here: small
    mine = exact_topk(X, q, 7, block=300)  # several base blocks, merged
    assert recall_at_k(mine, idx) == 1.0


def test_ivf_index_reaches_its_target_recall_and_says_so():
    X, _ = clustered(6000, d=24, k=8)
    index = NeighborIndex(X, exact=False, target_recall=0.9, random_state=0)
    sims, idx = index.search(X[:500], 10)
    info = index.info
    assert info["method"] == "ivf" and info["nlist"] >= 2
    assert info["recall"] >= 0.9  # tuned on its own 256-query sample ...
    truth = exact_topk(X, X[:500], 10)
    # ... and holds on other queries: recall on 500 rows has a standard error under 0.02
    assert recall_at_k(idx, truth) >= 0.9 - 3 * 0.02
    assert np.all(np.diff(sims, axis=1) <= 1e-6)  # sorted by similarity


def test_knn_search_reports_the_approximate_recall():
    X, _ = clustered(3000)
    info: dict = {}
    knn_search(X, X, 5, exact_limit=100, info=info)
    assert info["method"] == "ivf" and 0.0 <= info["recall"] <= 1.0
    info = {}
    knn_search(X, X, 5, info=info)
    assert info == {"method": "exact", "n_base": 3000}


def test_knn_graph_with_ivf_is_close_to_the_exact_graph():
    X, _ = clustered(4000, d=24, k=6)
    exact = knn_graph(X, 10)
    info: dict = {}
    approx = knn_graph(X, 10, exact_limit=100, info=info)
    shared = exact.multiply(approx).nnz / exact.nnz
    assert shared >= info["recall"] - 0.1  # the measured recall, edges symmetrised on both sides


def test_normalize_rows_returns_unit_rows_without_a_copy():
    X, _ = clustered(100)
    assert normalize_rows(X) is X
    Y = X * 3
    Z = normalize_rows(Y)
    assert Z is not Y and np.allclose(np.linalg.norm(Z, axis=1), 1, atol=1e-5)
    zero = normalize_rows(np.zeros((2, 3)))
    assert np.all(zero == 0)


def test_check_x_names_the_first_non_finite_row_but_not_a_large_finite_one():
    X = np.ones((5, 4), dtype=np.float32)
    X[2] = 3e38  # finite, but its row sum overflows float32
    assert check_X(X) is not None
    X[3, 1] = np.nan
    with pytest.raises(InputError, match="row 4|row 3"):
        check_X(X)


def test_core_rows_keep_every_label_and_a_uniform_sample():
    y = np.full(1000, -1)
    y[[3, 500, 999]] = [0, 1, 0]
    core = pool_core.core_rows(y, 100, random_state=0)
    assert len(core) == 100 and set([3, 500, 999]) <= set(core)
    assert np.all(np.diff(core) > 0)
    assert pool_core.core_rows(y, 1000) is None and pool_core.core_rows(y, None) is None
    assert np.array_equal(core, pool_core.core_rows(y, 100, random_state=0))  # seeded


@pytest.mark.parametrize("bad", [0, -5])
def test_a_core_size_below_two_is_refused_by_name(bad):
    X, y_true = clustered(50)
    y = np.full(50, -1)
    y[:10] = y_true[:10]
    with pytest.raises(ConfigError, match=f"core_size={bad} is out of range"):
        label_arrays(Pool(X=X, y=y, classes=["a", "b", "c", "d"]), LabelOptions.of(core_size=bad))


@pytest.mark.parametrize("name", ["logistic", "prototype", "selftraining"])
def test_blocked_prediction_equals_one_pass(monkeypatch, name):
    X, y_true = clustered(900)
    y = np.full(900, -1)
    y[:40] = y_true[:40]
    model = make_labeler(name, n_classes=4, random_state=0).fit(X, y)
    whole = model.predict_proba(X)
    monkeypatch.setattr(labelers_base, "PREDICT_BLOCK", 128)
    blocked = model.predict_proba(X)
    # the same float operations row by row; BLAS may sum a block in another order (float32 dot
    # products of 32 terms: relative error ~1e-6)
    np.testing.assert_allclose(blocked, whole, atol=1e-5)


def test_label_arrays_on_a_core_agrees_with_the_whole_pool():
    X, y_true = clustered(2400, d=32, k=4, noise=0.8)
    rng = np.random.default_rng(1)
    y = np.full(len(y_true), -1)
    keep = rng.choice(len(y), 60, replace=False)
    y[keep] = y_true[keep]
    classes = ["a", "b", "c", "d"]
    full = label_arrays(Pool(X=X, y=y, classes=classes), LabelOptions.of(core_size=None))
    core = label_arrays(Pool(X=X, y=y, classes=classes), LabelOptions.of(core_size=800))
    rep = core.report["core"]
    assert rep["rows"] == 800 and rep["pool_rows"] == 2400
    assert "core" not in full.report
    # every given label kept, every row labeled, confidences are probabilities
    assert np.array_equal(core.labels[keep], y_true[keep])
    assert core.proba.shape == (2400, 4) and np.allclose(core.proba.sum(axis=1), 1)
    # the same labels, scored on the same folds: the same choice and estimate inputs
    assert core.method == full.method
    unl = y < 0
    acc_core = np.mean(core.labels[unl] == y_true[unl])
    acc_full = np.mean(full.labels[unl] == y_true[unl])
    # well-separated clusters: the 1,600 rows outside the core are labeled from 800 core rows
    # about as well as from the whole pool (binomial SE of a difference on 2,340 rows ~ 0.01)
    assert acc_core >= acc_full - 0.03
    assert np.mean(core.labels == full.labels) >= 0.95


def test_core_extension_of_a_transductive_method_reports_its_neighbours(monkeypatch):
    X, y_true = clustered(3000, d=16, k=3)
    y = np.full(len(y_true), -1)
    y[:30] = y_true[:30]
    monkeypatch.setattr(ann, "EXTEND_EXACT_PAIRS", 10_000)  # force the IVF extension at this size
    r = label_arrays(Pool(X=X, y=y, classes=["a", "b", "c"]), LabelOptions.of(method="spreading", core_size=1000))
    ext = r.report["core"]["extension"]
    assert ext["method"] == "ivf" and ext["recall"] >= 0.5
    assert np.mean(r.labels[30:] == y_true[30:]) > 0.9


def test_end_model_fits_a_sample_above_max_rows_keeping_every_class():
    X, y = clustered(2000)
    y = y.copy()
    y[7] = 4  # a class with one row
    m = EndModel(max_rows=300).fit(X, y, classes=list("abcde"))
    assert np.isfinite(m.intercept_[4])  # the one-row class made it into the sample
    whole = EndModel(max_rows=None).fit(X, y, classes=list("abcde"))
    agree = np.mean(m.predict_proba(X).argmax(1) == whole.predict_proba(X).argmax(1))
    assert agree >= 0.95
