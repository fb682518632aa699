"""Open-set rejection: rows of a class nobody named are flagged, known rows mostly kept."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fewlabels.errors import InputError
from fewlabels.groups import mark_unknown
from fewlabels.labelers.openset import OpenSetDetector, knn_distance, one_vs_pool
from fewlabels.pipeline import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool

from conftest import make_blobs


def test_knn_distance_by_hand_and_without_self():
    ref = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    d = knn_distance(ref, np.array([[1, 0]], dtype=np.float32), 1)
    np.testing.assert_allclose(d, [0.0], atol=1e-6)
    d_self = knn_distance(ref, ref, 1, exclude_self=True)
    # [1,0]'s nearest other row is [1,1]/√2: cosine 0.7071
    np.testing.assert_allclose(d_self, [1 - 2 ** -0.5, 1 - 2 ** -0.5, 1 - 2 ** -0.5], atol=1e-5)


def test_one_vs_pool_is_scikit_learns_balanced_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    pos = rng.choice(200, 30, replace=False)
    W = one_vs_pool(X, pos, np.zeros(30, dtype=int), 2, C=0.5, max_iter=500)
    ref = LogisticRegression(C=0.5, class_weight="balanced", tol=1e-10, max_iter=2000).fit(
        np.vstack([X, X[pos]]), np.r_[np.zeros(200), np.ones(30)])
    # the same strictly convex objective: both optimisers reach its unique optimum (L-BFGS
    # stops at a gradient norm ~1e-5, so 1e-4 on weights of order 0.1-0.3)
    np.testing.assert_allclose(W[:-1, 0], ref.coef_[0], atol=1e-4)
    np.testing.assert_allclose(W[-1, 0], ref.intercept_[0], atol=1e-4)
    # a column without positives is left at zero
    assert not W[:, 1].any()
    # a sample of the pool as negatives: the same regression against those rows only
    neg = rng.choice(200, 120, replace=False)
    Ws = one_vs_pool(X, pos, np.zeros(30, dtype=int), 1, C=0.5, max_iter=500, negatives=neg)
    ref = LogisticRegression(C=0.5, class_weight="balanced", tol=1e-10, max_iter=2000).fit(
        np.vstack([X[neg], X[pos]]), np.r_[np.zeros(120), np.ones(30)])
    np.testing.assert_allclose(Ws[:-1, 0], ref.coef_[0], atol=1e-4)


def test_a_large_pool_is_sampled_for_the_fits_and_every_row_scored(open_pool):
    X, y, truth, known = open_pool
    args = (X, y, np.full((len(y), 3), 1 / 3), np.full(((y >= 0).sum(), 3), 1 / 3))
    full = OpenSetDetector().fit(*args)
    same = OpenSetDetector(max_pool=len(y)).fit(*args)
    np.testing.assert_array_equal(full.scores_, same.scores_)
    small = OpenSetDetector(max_pool=150).fit(*args)
    assert small.scores_.shape == (len(y),)
    assert not np.array_equal(small.scores_, full.scores_)
    assert roc_auc_score(~known, small.scores_) > 0.95


def test_class_view_finds_an_unnamed_class_ringed_by_named_ones():
    """Four named classes in a ring around an unnamed one: a single labeled-vs-pool hyperplane
    separates the centre only by a thin margin, the best class-vs-pool regression does not need to."""
    rng = np.random.default_rng(0)
    E = np.eye(16)
    centres = np.stack([E[0] + 0.5 * E[1], E[0] - 0.5 * E[1], E[0] + 0.5 * E[2], E[0] - 0.5 * E[2], E[0]])
    truth = np.repeat(np.arange(5), 100)
    X = centres[truth] + 0.05 * rng.normal(size=(500, 16))
    y = np.full(500, -1)
    for c in range(4):
        y[rng.choice(np.flatnonzero(truth == c), 10, replace=False)] = c
    det = OpenSetDetector().fit(X, y, np.full((500, 4), 0.25), np.full((40, 4), 0.25))
    u = y < 0
    auc = {v: roc_auc_score(truth[u] == 4, s[u]) for v, s in det.views_.items()}
    assert auc["class"] > 0.98
    assert auc["class"] > auc["pool"] + 0.05
    assert roc_auc_score(truth[u] == 4, det.scores_[u]) > 0.9
    # out-of-fold threshold: 2% of the given labels rejected, known pool rows hardly touched
    assert det.unknown_[(truth < 4) & u].mean() < 0.03
    assert det.unknown_[truth == 4].mean() > 0.1


@pytest.fixture
def open_pool():
    """Four blobs; the fourth class is never named: its rows are unknown."""
    b = make_blobs(n=400, k=4, d=16, per_class=8, noise=0.25, seed=3)
    known = b.truth < 3
    y = np.where(known, b.y, -1)
    return b.X, y, b.truth, known


def test_unknown_rows_score_higher_and_are_flagged(open_pool):
    X, y, truth, known = open_pool
    res = label_arrays(Pool(X=X, y=y, classes=["a", "b", "c"]),
                       LabelOptions.of(method="logistic", fit_end_model=False))
    det = mark_unknown(res, X, y)
    assert roc_auc_score(~known, det.scores_) > 0.95
    # the threshold rejects 2% of the given labels scored as new rows: few known rows go,
    # and most unknown ones
    assert det.unknown_[~known].mean() > 0.5
    assert det.unknown_[known & (y < 0)].mean() < 0.05
    # the share estimate leans low when the given labels score above their class-mates
    true_share = (~known[y < 0]).mean()
    assert 0 < det.estimated_share_ <= true_share + 0.05
    assert det.flagged_share_ == pytest.approx(det.unknown_[y < 0].mean())
    assert (res.labels[det.unknown_] == 3).all() and (res.source[det.unknown_] == "unknown").all()
    assert res.report["class_counts"]["labeled"]["unknown"] == int(det.unknown_.sum())


def test_given_unknown_labels_set_the_threshold(open_pool):
    X, y, truth, known = open_pool
    res = label_arrays(Pool(X=X, y=y, classes=["a", "b", "c"]),
                       LabelOptions.of(method="logistic", fit_end_model=False))
    unk = np.zeros(len(y), bool)
    unk[np.flatnonzero(~known)[:5]] = True
    det = mark_unknown(res, X, y, unknown=unk)
    assert det.unknown_[unk].all()
    assert "given unknowns" in det.rule_
    assert det.unknown_[~known].mean() > 0.5


def test_unknown_with_zero_labels_is_refused(open_pool):
    X, y, truth, known = open_pool
    with pytest.raises(InputError, match="--unknown needs given labels"):
        OpenSetDetector().fit(X, np.full(len(y), -1), np.full((len(y), 3), 1 / 3), np.zeros((0, 3)))


def test_detector_parameters_are_checked(open_pool):
    X, y, truth, known = open_pool
    from fewlabels.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown-false-reject"):
        OpenSetDetector(false_reject=0.9).fit(X, y, np.full((len(y), 3), 1 / 3), np.full(((y >= 0).sum(), 3), 1 / 3))
    with pytest.raises(ConfigError, match="max_pool"):
        OpenSetDetector(max_pool=1).fit(X, y, np.full((len(y), 3), 1 / 3), np.full(((y >= 0).sum(), 3), 1 / 3))
