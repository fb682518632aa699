"""Per-method tests for the label-efficient methods: Laplacian clustering, class-balanced
self-training and the mean ensemble (a tiny hand-checkable case and a synthetic case with
a known answer each)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import make_blobs

from fewlabels.errors import ConfigError
from fewlabels.labelers.clustering import LaplacianClusteringLabeler
from fewlabels.labelers.ensemble import MeanEnsembleLabeler
from fewlabels.labelers.registry import make_labeler
from fewlabels.labelers.self_training import SelfTrainingLabeler, _top_share_per_class
from fewlabels.select import select_labeler


# -- Laplacian clustering ---------------------------------------------------------------


def test_clustering_hand_case_graph_pulls_an_ambiguous_point():
    # Two labeled anchors on the axes; point 2 sits exactly between them (equal cosine to
    # both), and the graph ties it to point 3, which is clearly class 1. Without the graph
    # it leans to neither side strongly; with it, class 1.
    X = np.array([[1, 0], [0, 1], [1, 1], [0.1, 1]], dtype=np.float32)
    y = np.array([0, 1, -1, -1])
    W = sp.csr_matrix(np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=np.float32))
    free = LaplacianClusteringLabeler(lam=0.0, n_iter=1, graph=W, n_classes=2).fit(X, y).predict_proba(X)
    pulled = LaplacianClusteringLabeler(lam=5.0, n_iter=1, graph=W, n_classes=2).fit(X, y).predict_proba(X)
    assert 0.2 < free[2, 1] < 0.8
    assert pulled[2, 1] > 0.9 and pulled[2, 1] > free[2, 1] + 0.2
    np.testing.assert_array_equal(pulled[:2], np.eye(2))  # labeled rows stay clamped


def test_clustering_moves_prototypes_to_the_cluster_centres():
    # One label per class placed at the edge of its cluster: the sweeps move each prototype
    # to the cluster centre and label the whole cluster.
    b = make_blobs(n=600, k=3, per_class=1, noise=0.2, seed=3)
    m = LaplacianClusteringLabeler(n_classes=3).fit(b.X, b.y)
    assert (m.predict(b.X) == b.truth).mean() >= 0.97
    cos = (m.prototypes_ * b.centres).sum(axis=1)
    assert (cos > 0.95).all()


def test_clustering_rejects_bad_parameters(blobs):
    with pytest.raises(ConfigError, match="lam"):
        LaplacianClusteringLabeler(lam=-1, n_classes=3).fit(blobs.X, blobs.y)
    with pytest.raises(ConfigError, match="scale"):
        LaplacianClusteringLabeler(scale=0, n_classes=3).fit(blobs.X, blobs.y)


# -- class-balanced self-training -------------------------------------------------------


def test_top_share_per_class_hand_case():
    pred = np.array([0, 0, 0, 0, 1, 1])
    conf = np.array([0.9, 0.5, 0.7, 0.6, 0.55, 0.95])
    # half of each class: class 0 → its 2 most confident (rows 0, 2); class 1 → row 5
    np.testing.assert_array_equal(_top_share_per_class(pred, conf, 0.5, 3),
                                  [True, False, True, False, False, True])
    # a class with one item still gets it at a small share
    assert _top_share_per_class(np.array([0, 0, 0, 1]), np.array([1, 1, 1, 0.1]), 0.1, 2)[3]


def test_selftraining_rare_class_is_not_starved():
    # 90% / 10% classes: a global confidence cut would take almost only the big class; the
    # per-class share keeps the rare one in every round and recovers it.
    rng = np.random.default_rng(0)
    centres = np.eye(8, dtype=np.float32)[:2]
    truth = (rng.random(2000) < 0.1).astype(int)
    X = centres[truth] + 0.35 * rng.normal(size=(2000, 8)).astype(np.float32)
    y = np.full(2000, -1)
    y[np.flatnonzero(truth == 0)[:3]] = 0
    y[np.flatnonzero(truth == 1)[:3]] = 1
    m = SelfTrainingLabeler(n_classes=2).fit(X, y)
    pred = m.predict(X)
    assert (pred[truth == 1] == 1).mean() > 0.9
    assert (pred == truth).mean() > 0.95
    assert len(m.n_pseudo_) == m.n_rounds and m.n_pseudo_ == sorted(m.n_pseudo_)


def test_selftraining_from_zero_labels_with_class_embeddings():
    b = make_blobs(n=600, noise=0.3, seed=4)
    m = SelfTrainingLabeler(class_embeddings=b.centres, n_classes=3).fit(b.X, np.full(b.n, -1))
    assert (m.predict(b.X) == b.truth).mean() >= 0.95


def test_selftraining_max_train_caps_each_round(blobs):
    m = SelfTrainingLabeler(max_train=50, n_classes=3).fit(blobs.X, blobs.y)
    assert max(m.n_pseudo_) <= 50 * 1.5  # random thinning: about max_train rows
    assert (m.predict(blobs.X) == blobs.truth).mean() >= 0.95


# -- ensemble ---------------------------------------------------------------------------


def test_ensemble_is_the_mean_of_its_members(blobs):
    ctx = {"n_classes": 3, "class_embeddings": blobs.centres}
    members = ("prototype", "logistic")
    ens = MeanEnsembleLabeler(members=members, **ctx).fit(blobs.X, blobs.y)
    parts = [make_labeler(m, **ctx).fit(blobs.X, blobs.y).predict_proba(blobs.X) for m in members]
    np.testing.assert_allclose(ens.predict_proba(blobs.X), np.mean(parts, axis=0))


def test_selection_keeps_preferred_method_unless_clearly_beaten(blobs):
    ctx = {"n_classes": 3, "class_embeddings": np.roll(blobs.centres, 1, axis=0), "graph": None,
           "random_state": 0}
    # zeroshot with wrong class texts is clearly worse: the better method wins anyway
    sel = select_labeler(blobs.X, blobs.y, ["prototype", "zeroshot"], ctx, prefer="zeroshot")
    assert sel.best == "prototype"
    # two methods that are both perfect here: the preferred one is kept
    ctx["class_embeddings"] = blobs.centres
    sel = select_labeler(blobs.X, blobs.y, ["prototype", "logistic"], ctx, prefer="logistic")
    assert sel.best == "logistic"
    # an order of preference: a clearly beaten first choice hands over to the second,
    # not to the most accurate
    ctx["class_embeddings"] = np.roll(blobs.centres, 1, axis=0)
    sel = select_labeler(blobs.X, blobs.y, ["prototype", "logistic", "zeroshot"], ctx,
                         prefer=("zeroshot", "logistic", "prototype"))
    assert sel.best == "logistic"
    sel = select_labeler(blobs.X, blobs.y, ["prototype", "zeroshot"], ctx, prefer=("zeroshot", "absent"))
    assert sel.best == "prototype"


def test_clustering_balance_prior_evens_out_a_skewed_start():
    # Balanced truth, but class 0's single label sits near the middle so its prototype
    # starts by grabbing too much; the Sinkhorn prior restores balanced assignments.
    from fewlabels.labelers.clustering import sinkhorn_balance

    Z = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    B = sinkhorn_balance(Z, np.array([True, True]), n_iter=50)
    np.testing.assert_allclose(B.sum(axis=1), 1.0)
    np.testing.assert_allclose(B.sum(axis=0), [2.0, 2.0], atol=1e-3)
    assert (np.argsort(B[:, 1]) == np.argsort(Z[:, 1])).all()  # order within a class kept

    b = make_blobs(n=600, k=3, per_class=1, noise=0.35, seed=8)
    plain = LaplacianClusteringLabeler(n_classes=3, lam=0).fit(b.X, b.y).predict(b.X)
    bal = LaplacianClusteringLabeler(n_classes=3, lam=0, balanced=True).fit(b.X, b.y).predict(b.X)
    assert np.bincount(bal, minlength=3).std() <= np.bincount(plain, minlength=3).std()
    assert (bal == b.truth).mean() >= (plain == b.truth).mean() - 0.01


# -- training-free cache model ----------------------------------------------------------


def test_cache_model_without_cache_weight_is_the_prototype(blobs):
    from fewlabels.labelers.cache_model import CacheModelLabeler
    from fewlabels.labelers.prototype import PrototypeLabeler

    ctx = {"n_classes": 3, "class_embeddings": blobs.centres}
    cache = CacheModelLabeler(alpha=0.0, **ctx).fit(blobs.X, blobs.y)
    proto = PrototypeLabeler(**ctx).fit(blobs.X, blobs.y)
    np.testing.assert_allclose(cache.predict_proba(blobs.X), proto.predict_proba(blobs.X))
    n_given = int((blobs.y >= 0).sum())
    assert len(cache.keys_) == n_given + 3 * cache.per_class


def test_cache_model_hand_case_cache_vote_flips_a_point():
    from fewlabels.labelers.cache_model import CacheModelLabeler

    # Prototypes on the axes; a tight group of unlabeled points near (1, 1.2) is class 1 by
    # a hair; the query sits at (1.05, 1) — class 0 by the prototypes alone — but is closest
    # to the cached class-1 group, so the cache vote flips it.
    X = np.array([[1, 0], [0, 1], [1, 1.2], [1, 1.21], [1, 1.19], [1.05, 1]], dtype=np.float32)
    y = np.array([0, 1, -1, -1, -1, -1])
    m = CacheModelLabeler(per_class=3, alpha=5.0, beta=50.0, n_classes=2).fit(X, y)
    assert m.base_.predict_proba(X[5:])[0].argmax() == 0
    assert m.predict_proba(X[5:])[0].argmax() == 1


def test_cache_model_improves_a_noisy_prototype_on_synthetic_data():
    from fewlabels.labelers.cache_model import CacheModelLabeler
    from fewlabels.labelers.prototype import PrototypeLabeler

    b = make_blobs(n=900, k=3, per_class=1, noise=0.4, seed=2)
    cache = CacheModelLabeler(n_classes=3, per_class=50).fit(b.X, b.y).predict(b.X)
    proto = PrototypeLabeler(n_classes=3).fit(b.X, b.y).predict(b.X)
    assert (cache == b.truth).mean() >= (proto == b.truth).mean()


# -- stacking ---------------------------------------------------------------------------


def test_stack_weights_favour_the_member_that_is_right():
    from fewlabels.labelers.stacking import cross_fitted_stack, fit_stack_weights

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    good = np.where(np.eye(2)[y] == 1, 0.9, 0.1)  # right with confidence 0.9
    noise = rng.dirichlet([1, 1], size=200)  # uninformative
    w = fit_stack_weights([good, noise], y)
    assert w.sum() == pytest.approx(1.0) and w[0] > 0.8
    # equal members get equal weights
    np.testing.assert_allclose(fit_stack_weights([good, good], y), [0.5, 0.5], atol=1e-6)
    fold_of = np.arange(200) % 5
    oof = cross_fitted_stack([good, noise], y, fold_of)
    assert oof.shape == (200, 2) and np.allclose(oof.sum(axis=1), 1.0)
    assert (oof.argmax(axis=1) == y).mean() > 0.95


def test_stacking_labeler_uses_the_weights_it_is_given(blobs):
    from fewlabels.labelers.stacking import StackedEnsembleLabeler

    ctx = {"n_classes": 3, "class_embeddings": blobs.centres}
    only_first = StackedEnsembleLabeler(members=("prototype", "logistic"), weights=[1.0, 0.0], **ctx)
    proto = make_labeler("prototype", **ctx).fit(blobs.X, blobs.y).predict_proba(blobs.X)
    np.testing.assert_allclose(only_first.fit(blobs.X, blobs.y).predict_proba(blobs.X), proto)


def test_selection_learns_stacking_weights_out_of_fold(blobs):
    ctx = {"n_classes": 3, "class_embeddings": blobs.centres, "graph": None, "random_state": 0}
    from fewlabels.labelers.stacking import StackedEnsembleLabeler

    names = [*StackedEnsembleLabeler.stacked_members, "stacking"]
    sel = select_labeler(blobs.X, blobs.y, names, ctx)
    w = sel.weights["stacking"]
    assert w.shape == (len(StackedEnsembleLabeler.stacked_members),) and w.sum() == pytest.approx(1.0)
    assert sel.scores["stacking"].oof_proba.shape == (int((blobs.y >= 0).sum()), 3)
