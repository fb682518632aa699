"""Per-method tests against tiny cases whose answer is computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fewlabels.errors import ConfigError, InputError
from fewlabels.labelers.logistic import LogisticLabeler
from fewlabels.labelers.prototype import PrototypeLabeler
from fewlabels.labelers.spreading import LabelSpreadingLabeler, normalized_adjacency
from fewlabels.labelers.zeroshot import ZeroShotLabeler, class_prompts


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# -- prototype -------------------------------------------------------------------------

# rows 0, 1 labeled 0; row 2 labeled 1; row 3 unlabeled. Class 2 has no label.
PROTO_X = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, -1.0], [0.8, -0.6]])
PROTO_Y = np.array([0, 0, 1, -1])


def test_prototype_hand_computed():
    model = PrototypeLabeler(scale=20.0, n_classes=3).fit(PROTO_X, PROTO_Y)
    # class 0: mean of (1, 0) and (0.6, 0.8) = (0.8, 0.4) -> (2, 1)/sqrt(5); class 1: (0, -1)
    np.testing.assert_allclose(model.prototypes_[0], np.array([2.0, 1.0]) / np.sqrt(5), atol=1e-6)
    np.testing.assert_allclose(model.prototypes_[1], [0.0, -1.0], atol=1e-6)
    np.testing.assert_array_equal(model.has_prototype_, [True, True, False])

    P = model.predict_proba(PROTO_X)
    # row 3 = (0.8, -0.6): cos to class 0 = 1/sqrt(5) = 0.447, to class 1 = 0.6 -> class 1,
    # although its single nearest labeled row (row 0, cos 0.8) is class 0.
    np.testing.assert_array_equal(P.argmax(axis=1), [0, 0, 1, 1])
    expected_p1 = sigmoid(20.0 * (0.6 - 1.0 / np.sqrt(5)))
    np.testing.assert_allclose(P[3], [1 - expected_p1, expected_p1, 0.0], rtol=1e-5)
    # the class with no label and no class embedding can never be predicted
    assert (P[:, 2] == 0.0).all()


def test_prototype_normalises_rows_first():
    P1 = PrototypeLabeler(n_classes=3).fit(PROTO_X, PROTO_Y).predict_proba(PROTO_X)
    scaled = PROTO_X * np.array([[3.0], [0.5], [7.0], [2.0]])
    P2 = PrototypeLabeler(n_classes=3).fit(scaled, PROTO_Y).predict_proba(scaled)
    np.testing.assert_allclose(P1, P2, atol=1e-6)


def test_prototype_mixes_class_embeddings_and_finds_unlabeled_class():
    T = np.array([[0.0, 2.0], [0.0, -1.0], [-5.0, 0.0]])  # normalised inside
    model = PrototypeLabeler(scale=20.0, class_embeddings=T, text_weight=1.0, n_classes=3).fit(PROTO_X, PROTO_Y)
    # class 0: ((1, 0) + (0.6, 0.8) + (0, 1)) / 3 -> direction (1.6, 1.8)
    np.testing.assert_allclose(model.prototypes_[0], np.array([1.6, 1.8]) / np.hypot(1.6, 1.8), atol=1e-6)
    np.testing.assert_allclose(model.prototypes_[1], [0.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(model.prototypes_[2], [-1.0, 0.0], atol=1e-6)
    assert model.has_prototype_.all()
    P = model.predict_proba(np.array([[-1.0, 0.1]]))
    assert P.argmax() == 2


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_prototype_without_any_label_or_embedding_is_not_nan():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([-1, -1, -1])
    try:
        P = PrototypeLabeler(n_classes=2).fit(X, y).predict_proba(X)
    except InputError:
        return  # refusing is fine too
    assert np.isfinite(P).all()


# -- zero-shot -------------------------------------------------------------------------


def test_zeroshot_hand_computed_probabilities():
    C = np.array([[2.0, 0.0], [0.0, 3.0]])  # normalised to the axes inside
    X = np.array([[3.0, 4.0], [1.0, 0.0], [-1.0, -1.0]])
    model = ZeroShotLabeler(class_embeddings=C, scale=5.0, n_classes=2).fit(X, [-1, -1, -1])
    P = model.predict_proba(X)
    # row 0 -> (0.6, 0.8): logits (3, 4); row 1: (5, 0); row 2: equal logits
    e = np.e
    expected = np.array([
        [1 / (1 + e), e / (1 + e)],
        [sigmoid(5.0), 1 - sigmoid(5.0)],
        [0.5, 0.5],
    ])
    np.testing.assert_allclose(P, expected, rtol=1e-6)


def test_zeroshot_ignores_given_labels():
    C = np.array([[1.0, 0.0], [0.0, 1.0]])
    X = np.array([[3.0, 4.0], [1.0, 0.0], [-1.0, -1.0]])
    P1 = ZeroShotLabeler(class_embeddings=C, n_classes=2).fit(X, [-1, -1, -1]).predict_proba(X)
    P2 = ZeroShotLabeler(class_embeddings=C, n_classes=2).fit(X, [1, 1, 0]).predict_proba(X)
    np.testing.assert_array_equal(P1, P2)


def test_zeroshot_needs_class_embeddings_of_the_right_shape():
    X = np.eye(3)
    with pytest.raises(ConfigError, match="class_embeddings"):
        ZeroShotLabeler(n_classes=2).fit(X, [-1, -1, -1])
    with pytest.raises(ConfigError, match=r"\(2, 2\); expected \(2, 3\)"):
        ZeroShotLabeler(class_embeddings=np.eye(2), n_classes=2).fit(X, [-1, -1, -1])


def test_class_prompts():
    texts = class_prompts("billing/payments_due")
    assert texts[0] == "billing or payments due"
    assert all("billing or payments due" in t for t in texts)
    with_desc = class_prompts("spam", "unwanted ads")
    assert with_desc[-1] == "unwanted ads" and "spam: unwanted ads" in with_desc


# -- logistic --------------------------------------------------------------------------


def test_logistic_absent_classes_get_zero_probability(blobs):
    y = blobs.y.copy()
    y[y == 1] = -1
    P = LogisticLabeler(n_classes=4).fit(blobs.X, y).predict_proba(blobs.X)
    assert P.shape == (blobs.n, 4)
    assert (P[:, 1] == 0).all() and (P[:, 3] == 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    kept = np.isin(blobs.truth, [0, 2])
    assert (P.argmax(axis=1)[kept] == blobs.truth[kept]).mean() >= 0.95


def test_logistic_single_class_and_no_labels():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    P = LogisticLabeler(n_classes=3).fit(X, [1, 1, -1]).predict_proba(X)
    np.testing.assert_array_equal(P, np.tile([0.0, 1.0, 0.0], (3, 1)))
    P = LogisticLabeler(n_classes=3).fit(X, [-1, -1, -1]).predict_proba(X)
    np.testing.assert_allclose(P, 1 / 3)


def test_logistic_uses_only_labeled_rows(blobs):
    """Unlabeled rows must not change the fit: dropping them gives the same model."""
    lab = ~blobs.unlabeled
    P_pool = LogisticLabeler(n_classes=3).fit(blobs.X, blobs.y).predict_proba(blobs.X)
    P_lab = LogisticLabeler(n_classes=3).fit(blobs.X[lab], blobs.y[lab]).predict_proba(blobs.X)
    np.testing.assert_allclose(P_pool, P_lab, atol=1e-10)


# -- label spreading -------------------------------------------------------------------


def path_graph(n_nodes: int, edges) -> sp.csr_matrix:
    rows, cols, vals = [], [], []
    for i, j, w in edges:
        rows += [i, j]
        cols += [j, i]
        vals += [w, w]
    return sp.csr_matrix((vals, (rows, cols)), shape=(n_nodes, n_nodes))


# component A: path 0-1-2-3-4-5, labels 0 at node 0 and 1 at node 5;
# component B: path 6-7-8, label 1 at node 6; component C: edge 9-10, no label; node 11 isolated.
SPREAD_GRAPH = path_graph(12, [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (3, 4, 1.0), (4, 5, 1.0),
                               (6, 7, 1.0), (7, 8, 0.5), (9, 10, 1.0)])
SPREAD_Y = np.array([0, -1, -1, -1, -1, 1, 1, -1, -1, -1, -1, -1])


def spreading_X(n=12, seed=3):
    """Item vectors that disagree with the graph: node 4 sits exactly on labeled node 0."""
    X = np.random.default_rng(seed).normal(size=(n, 4))
    X[4] = X[0]
    return X


def closed_form(W, y, k, alpha, mass_normalization=False):
    """F* = (1 - α)(I - αS)^-1 Y, then rows normalised; unreached rows get the prior."""
    S = normalized_adjacency(W.astype(float)).toarray()
    n = len(y)
    Y = np.zeros((n, k))
    Y[np.flatnonzero(y >= 0), y[y >= 0]] = 1
    F = (1 - alpha) * np.linalg.solve(np.eye(n) - alpha * S, Y)
    counts = np.bincount(y[y >= 0], minlength=k).astype(float)
    if mass_normalization:
        F = F * np.where(F.sum(axis=0) > 0, (counts / counts.sum()) / np.maximum(F.sum(axis=0), 1e-12), 0)
    prior = (counts + 1e-3) / (counts + 1e-3).sum()
    total = F.sum(axis=1, keepdims=True)
    return np.where(total > 1e-12, F / np.maximum(total, 1e-12), prior)


def test_spreading_labels_flow_along_the_graph():
    model = LabelSpreadingLabeler(alpha=0.9, graph=SPREAD_GRAPH, max_iter=5000, tol=1e-12, n_classes=3)
    model.fit(spreading_X(), SPREAD_Y)
    P = model.predict_proba(spreading_X())
    assert model.converged_ is True
    assert 1 < model.n_iter_ < 5000
    np.testing.assert_array_equal(P[:9].argmax(axis=1), [0, 0, 0, 1, 1, 1, 1, 1, 1])
    # component B only ever sees class 1
    np.testing.assert_allclose(P[6:9], np.tile([0.0, 1.0, 0.0], (3, 1)), atol=1e-12)
    # matches the closed-form fixed point
    np.testing.assert_allclose(P, closed_form(SPREAD_GRAPH, SPREAD_Y, 3, 0.9), atol=1e-9)


def test_spreading_unreached_rows_fall_back_to_label_proportions():
    model = LabelSpreadingLabeler(graph=SPREAD_GRAPH, n_classes=3).fit(spreading_X(), SPREAD_Y)
    P = model.predict_proba(spreading_X())
    prior = np.array([1.001, 2.001, 0.001]) / 3.003  # labels: one of class 0, two of class 1
    np.testing.assert_allclose(P[9:], np.tile(prior, (3, 1)), rtol=1e-12)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_spreading_class_mass_normalization_matches_closed_form():
    model = LabelSpreadingLabeler(alpha=0.9, graph=SPREAD_GRAPH, max_iter=5000, tol=1e-12,
                                  class_mass_normalization=True, n_classes=3)
    P = model.fit(spreading_X(), SPREAD_Y).predict_proba(spreading_X())
    np.testing.assert_allclose(P, closed_form(SPREAD_GRAPH, SPREAD_Y, 3, 0.9, True), atol=1e-9)


def test_spreading_stops_at_max_iter():
    model = LabelSpreadingLabeler(graph=SPREAD_GRAPH, max_iter=2, tol=1e-12, n_classes=3)
    model.fit(spreading_X(), SPREAD_Y)
    assert model.n_iter_ == 2
    assert model.converged_ is False


def test_spreading_builds_its_graph_and_converges_on_blobs(blobs):
    model = LabelSpreadingLabeler(n_classes=3).fit(blobs.X, blobs.y)
    assert model.converged_ is True and model.n_iter_ <= model.max_iter
    u = blobs.unlabeled
    assert (model.transduction_.argmax(axis=1)[u] == blobs.truth[u]).mean() >= 0.95


def test_spreading_graph_of_wrong_shape_raises():
    with pytest.raises(InputError, match=r"graph has shape \(12, 12\); expected \(5, 5\)"):
        LabelSpreadingLabeler(graph=SPREAD_GRAPH, n_classes=3).fit(spreading_X(5), SPREAD_Y[:5])


def test_transductive_extension_is_similarity_weighted_vote():
    """New row = exact copy of pool row 1 with one neighbour: it gets row 1's distribution."""
    X = spreading_X()
    model = LabelSpreadingLabeler(graph=SPREAD_GRAPH, n_classes=3).fit(X, SPREAD_Y)
    model.extend_neighbors = 1
    P = model.predict_proba(X[[1, 7]] * 2.0)
    np.testing.assert_allclose(P, model.transduction_[[1, 7]], atol=1e-12)


# -- Laplacian clustering --------------------------------------------------------------


def test_clustering_with_zero_sweeps_is_the_prototype_start(blobs):
    from fewlabels.labelers.clustering import LaplacianClusteringLabeler

    try:
        model = LaplacianClusteringLabeler(n_iter=0, n_classes=3).fit(blobs.X, blobs.y)
    except ConfigError:
        return  # refusing n_iter=0 is fine too
    P = model.predict_proba(blobs.X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_prototype_teen_calibration_hand_case():
    # Class 0 has 3 labels at (1, 0); class 1 one label at (0, 1). With sparse_max=1 the
    # sparse prototype moves halfway toward the only rich one: normalise(0.5·(0,1) + 0.5·(1,0)).
    X = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    y = np.array([0, 0, 0, 1])
    plain = PrototypeLabeler(n_classes=2).fit(X, y)
    teen = PrototypeLabeler(n_classes=2, sparse_max=1, alpha=0.5).fit(X, y)
    np.testing.assert_allclose(plain.prototypes_[1], [0, 1], atol=1e-6)
    np.testing.assert_allclose(teen.prototypes_[1], [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
    np.testing.assert_allclose(teen.prototypes_[0], [1, 0], atol=1e-6)  # rich class untouched
    assert teen.calibrated_.tolist() == [False, True]
