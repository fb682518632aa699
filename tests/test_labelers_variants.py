"""Per-option tests for the optional method pieces (issue 3): sub-prototypes in
``PrototypeLabeler`` (``n_sub``) and, in ``SelfTrainingLabeler``, prototype soft labels
(``soft_weight``), per-class adaptive thresholds (``adaptive_threshold``) and the EMA
teacher (``ema``). Each: off equals the plain method exactly, a tiny hand-checkable case,
a synthetic case with a known answer, reproducibility, and parameter errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_blobs
from sklearn.linear_model import LogisticRegression

from fewlabels.errors import ConfigError
from fewlabels.labelers.prototype import PrototypeLabeler
from fewlabels.labelers.self_training import (
    SelfTrainingLabeler,
    _adaptive_share,
    _top_share_per_class,
)


def unit(*v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


# -- sub-prototypes ---------------------------------------------------------------------


def test_sub_prototypes_hand_case():
    # Class 0 has two labeled rows at e1 and two at e2: one prototype sits at (e1+e2)/√2,
    # cos 0.707 to e1. Class 1 has one labeled row at v = (2e1+e3)/√5, cos 0.894 to e1, so
    # with one prototype a query at e1 goes to class 1. With n_sub=2 class 0 is split into
    # e1 and e2 (cos 1 to the query) while class 1 (1 < 2·n_sub rows) keeps one prototype.
    v = unit(2, 0, 1)
    X = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], v, [1, 0, 0]], dtype=np.float32)
    y = np.array([0, 0, 0, 0, 1, -1])
    one = PrototypeLabeler(scale=20.0, n_classes=2).fit(X, y)
    two = PrototypeLabeler(scale=20.0, n_sub=2, n_classes=2).fit(X, y)
    p_one = one.predict_proba(X[5:])[0]
    p_two = two.predict_proba(X[5:])[0]
    np.testing.assert_allclose(p_one[1], 1 / (1 + np.exp(-20 * (2 / np.sqrt(5) - 1 / np.sqrt(2)))), rtol=1e-5)
    np.testing.assert_allclose(p_two[0], 1 / (1 + np.exp(-20 * (1 - 2 / np.sqrt(5)))), rtol=1e-5)
    assert one.predict(X[5:])[0] == 1 and two.predict(X[5:])[0] == 0
    np.testing.assert_array_equal(two.sub_class_, [0, 0, 1])
    got = sorted(map(tuple, np.round(two.sub_prototypes_[:2], 6)))
    assert got == [(0.0, 1.0, 0.0), (1.0, 0.0, 0.0)]
    np.testing.assert_allclose(two.sub_prototypes_[2], v, atol=1e-6)
    np.testing.assert_array_equal(two.prototypes_, one.prototypes_)  # class prototypes kept


def _two_blob_class(seed=0):
    """Class 0 = two well-separated blobs (around e0 and e1); class 1 = one blob between
    them, near (e0 + e1 + 0.2 e2): the mean of class 0 falls next to class 1. 5 labels per
    class-0 blob, 3 for class 1."""
    rng = np.random.default_rng(seed)
    d = 16
    E = np.eye(d)
    centres = np.stack([E[0], E[1], unit(*(E[0] + E[1] + 0.2 * E[2]))])
    blob = np.repeat([0, 1, 2], 100)
    truth = np.array([0, 0, 1])[blob]
    X = centres[blob] + 0.05 * rng.normal(size=(300, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.full(300, -1)
    for b, n_lab in zip(range(3), (5, 5, 3)):
        y[b * 100:b * 100 + n_lab] = truth[b * 100]
    return X.astype(np.float32), y, truth


def test_sub_prototypes_recover_a_two_blob_class():
    X, y, truth = _two_blob_class()
    one = PrototypeLabeler(n_classes=2).fit(X, y)
    two = PrototypeLabeler(n_sub=2, n_classes=2).fit(X, y)
    assert (one.predict(X) == truth).mean() < 0.9  # one mean between the blobs misleads
    assert (two.predict(X) == truth).mean() == 1.0
    # class 0 (10 labels) is split, class 1 (3 labels < 2·2) keeps one prototype
    np.testing.assert_array_equal(np.sort(two.sub_class_), [0, 0, 1])


def test_sub_prototypes_reproducible_and_off_when_classes_are_small():
    X, y, _ = _two_blob_class()
    a = PrototypeLabeler(n_sub=3, random_state=7, n_classes=2).fit(X, y).predict_proba(X)
    b = PrototypeLabeler(n_sub=3, random_state=7, n_classes=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    # no class has 2·n_sub labeled rows: identical to the plain method
    plain = PrototypeLabeler(n_classes=2).fit(X, y).predict_proba(X)
    big = PrototypeLabeler(n_sub=6, n_classes=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(plain, big)


def test_sub_prototypes_keep_class_embeddings_and_unlabeled_classes(blobs):
    # class 2 has no label: its prototype is its class embedding; 0 and 1 are split
    y = blobs.y.copy()
    y[y == 2] = -1
    m = PrototypeLabeler(n_sub=2, class_embeddings=blobs.centres, n_classes=3).fit(blobs.X, y)
    np.testing.assert_array_equal(m.sub_class_, [0, 0, 1, 1, 2])
    assert (m.predict(blobs.X) == blobs.truth).mean() > 0.97


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_sub_prototypes_reject_bad_n_sub(blobs, bad):
    with pytest.raises(ConfigError, match="n_sub"):
        PrototypeLabeler(n_sub=bad, n_classes=3).fit(blobs.X, blobs.y)


# -- self-training: the options off equal the plain method -------------------------------


def plain_selftraining(X, y, k, n_rounds=4, C=10.0, max_iter=100, random_state=0):
    """The class-balanced self-training loop written out (no max_train thinning needed
    on small data): the reference every option must reproduce when off."""
    lab, unl = np.flatnonzero(y >= 0), np.flatnonzero(y < 0)
    P = PrototypeLabeler(n_classes=k).fit(X, y).predict_proba(X)
    model = LogisticRegression(C=C, max_iter=max_iter, warm_start=True, random_state=random_state)
    for r in range(1, n_rounds + 1):
        pred, conf = P[unl].argmax(axis=1), P[unl].max(axis=1)
        chosen = _top_share_per_class(pred, conf, r / n_rounds, k)
        model.fit(X[np.concatenate([lab, unl[chosen]])], np.concatenate([y[lab], pred[chosen]]),
                  sample_weight=np.concatenate([np.ones(len(lab)), conf[chosen]]))
        P = model.predict_proba(X)
    return P


@pytest.mark.parametrize("off", [{}, {"soft_weight": 0.0}, {"ema": 0.0}, {"adaptive_threshold": False},
                                 {"soft_weight": 0, "ema": 0, "adaptive_threshold": False,
                                  "threshold_gamma": 5.0}])
def test_selftraining_options_off_equal_the_plain_method(off):
    b = make_blobs(n=400, k=4, per_class=2, noise=0.3, seed=1)
    want = plain_selftraining(b.X, b.y, 4)
    got = SelfTrainingLabeler(n_classes=4, **off).fit(b.X, b.y).predict_proba(b.X)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kw, match", [({"soft_weight": -0.1}, "soft_weight"), ({"ema": -0.5}, "ema"),
                                       ({"ema": 1.0}, "ema"), ({"adaptive_threshold": "yes"}, "adaptive_threshold"),
                                       ({"threshold_gamma": 0.0}, "threshold_gamma")])
def test_selftraining_options_reject_bad_values(blobs, kw, match):
    with pytest.raises(ConfigError, match=match):
        SelfTrainingLabeler(n_classes=3, **kw).fit(blobs.X, blobs.y)


@pytest.mark.parametrize("on", [{"soft_weight": 0.3}, {"adaptive_threshold": True}, {"ema": 0.5}])
def test_selftraining_options_reproducible_and_label_blobs(on):
    b = make_blobs(n=400, k=4, per_class=2, noise=0.2, seed=2)
    P1 = SelfTrainingLabeler(n_classes=4, random_state=3, max_train=150, **on).fit(b.X, b.y).predict_proba(b.X)
    P2 = SelfTrainingLabeler(n_classes=4, random_state=3, max_train=150, **on).fit(b.X, b.y).predict_proba(b.X)
    np.testing.assert_array_equal(P1, P2)
    assert (P1.argmax(axis=1) == b.truth).mean() > 0.97


# -- soft labels -------------------------------------------------------------------------


def test_soft_rows_hand_case():
    # Three classes on the axes, one unlabeled row x = (2, 1, 0)/√5 and nothing confident.
    # Its soft label is softmax(20 · cos) = softmax(20 · [2/√5, 1/√5, 0]); it is replicated
    # for its two best classes (0, 1) with weights soft_weight · q_max · q_c / (q_0 + q_1).
    X = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], unit(2, 1, 0)], dtype=np.float32)
    y = np.array([0, 1, 2, -1])
    m = SelfTrainingLabeler(soft_weight=0.5, n_rounds=1, n_classes=3).fit(X, y)
    rows, targets, weights = m._soft_rows(X, y, np.array([3]), np.array([0]), np.array([False]),
                                          np.random.default_rng(0))
    z = 20 * np.array([2, 1, 0]) / np.sqrt(5)
    q = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_array_equal(rows, [3, 3])
    np.testing.assert_array_equal(targets, [0, 1])
    np.testing.assert_allclose(weights, 0.5 * q[0] * q[:2] / q[:2].sum(), rtol=1e-5)
    np.testing.assert_allclose(weights.sum(), 0.5 * q[0], rtol=1e-5)


@pytest.mark.parametrize("option, seed", [({"soft_weight": 1.0}, 4), ({"ema": 0.9}, 7)])
def test_soft_labels_and_ema_change_nothing_with_one_round(option, seed):
    # One round takes every item as a hard pseudo-label, so no item is left for soft labels;
    # and its pseudo-labels come from the starting prototypes, whatever ema is.
    b = make_blobs(n=300, k=3, per_class=2, noise=0.3, seed=seed)
    plain = SelfTrainingLabeler(n_rounds=1, n_classes=3).fit(b.X, b.y).predict_proba(b.X)
    varied = SelfTrainingLabeler(n_rounds=1, n_classes=3, **option).fit(b.X, b.y).predict_proba(b.X)
    np.testing.assert_array_equal(plain, varied)


def test_soft_labels_enter_the_early_rounds():
    # Round 1 of 2 trains on half the items plus, with soft_weight > 0, the other half with
    # soft labels; the result differs from the plain run but stays right on clean blobs,
    # and the soft rows never count as hard pseudo-labels.
    b = make_blobs(n=400, k=4, per_class=2, noise=0.3, seed=5)
    plain = SelfTrainingLabeler(n_rounds=2, n_classes=4).fit(b.X, b.y)
    soft = SelfTrainingLabeler(n_rounds=2, soft_weight=0.5, n_classes=4).fit(b.X, b.y)
    assert soft.n_pseudo_ == plain.n_pseudo_
    assert not np.array_equal(soft.predict_proba(b.X), plain.predict_proba(b.X))
    assert (soft.predict(b.X) == b.truth).mean() >= (plain.predict(b.X) == b.truth).mean() - 0.02


# -- adaptive thresholds -----------------------------------------------------------------


def test_adaptive_share_hand_case():
    pred = np.array([0, 0, 1, 1])
    conf = np.array([0.9, 0.7, 0.4, 0.4])
    # mean confidences 0.8 and 0.4: relative 1 and 0.5 → shares s and s · 0.5 ** gamma;
    # class 2 has no item and keeps s
    np.testing.assert_allclose(_adaptive_share(pred, conf, 0.5, 3, 1.0), [0.5, 0.25, 0.5])
    np.testing.assert_allclose(_adaptive_share(pred, conf, 0.5, 3, 2.0), [0.5, 0.125, 0.5])
    share = _adaptive_share(np.array([0, 0, 0, 0, 1, 1, 1, 1]), np.array([.9, .9, .8, .8, .5, .4, .4, .3]), 1.0, 2, 1.0)
    np.testing.assert_allclose(share, [1.0, 0.4 / 0.85])
    # class 0 keeps all 4 items, class 1 ceil(4 · 0.47) = 2: its two most confident
    np.testing.assert_array_equal(
        _top_share_per_class(np.array([0, 0, 0, 0, 1, 1, 1, 1]), np.array([.9, .9, .8, .8, .5, .4, .4, .3]), share, 2),
        [True, True, True, True, True, True, False, False])


def test_adaptive_threshold_takes_the_rule_s_share_of_each_class():
    # One round (s = 1): class c takes ceil(n_c · (m_c / max m) ** gamma) items, with the
    # counts and mean confidences read off the starting prototypes.
    b = make_blobs(n=400, k=4, per_class=2, noise=0.4, seed=6)
    gamma = 4.0
    m = SelfTrainingLabeler(n_rounds=1, adaptive_threshold=True, threshold_gamma=gamma,
                            n_classes=4).fit(b.X, b.y)
    P0 = m.start_.predict_proba(b.X)[b.y < 0]
    pred, conf = P0.argmax(axis=1), P0.max(axis=1)
    n_c = np.bincount(pred, minlength=4)
    m_c = np.bincount(pred, weights=conf, minlength=4) / n_c
    want = np.ceil(n_c * (m_c / m_c.max()) ** gamma)
    got = np.bincount(m.pseudo_labels_[b.y < 0][m.pseudo_labels_[b.y < 0] >= 0], minlength=4)
    np.testing.assert_array_equal(got, want)
    assert got.sum() < n_c.sum()  # the less confident classes were cut
    # each class's cut is the lowest confidence it took, above all those it left out
    for c in range(4):
        left = conf[(pred == c)][np.argsort(-conf[pred == c])][int(want[c]):]
        assert (left <= m.thresholds_[0, c]).all()


def test_adaptive_threshold_makes_the_unsure_class_s_pseudo_labels_cleaner():
    # A tight class 0 and two overlapping diffuse classes 1, 2: the diffuse classes have
    # lower mean confidence, so the adaptive rule takes fewer of their items, and the
    # ones it takes are more often right.
    rng = np.random.default_rng(0)
    d = 8
    centres = np.eye(d)[:3].copy()
    centres[2] = unit(*(np.eye(d)[1] + 0.8 * np.eye(d)[2]))
    truth = np.repeat([0, 1, 2], 200)
    noise = np.array([0.1, 0.45, 0.45])[truth]
    X = centres[truth] + noise[:, None] * rng.normal(size=(600, d))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    y = np.full(600, -1)
    for c in range(3):
        y[np.flatnonzero(truth == c)[:3]] = c
    plain = SelfTrainingLabeler(n_rounds=2, n_classes=3).fit(X, y)
    adapt = SelfTrainingLabeler(n_rounds=2, adaptive_threshold=True, threshold_gamma=4.0, n_classes=3).fit(X, y)

    def precision_on_unsure(model):
        take = (y < 0) & (model.pseudo_labels_ >= 1)
        return (model.pseudo_labels_[take] == truth[take]).mean(), take.sum()

    (p_plain, n_plain), (p_adapt, n_adapt) = precision_on_unsure(plain), precision_on_unsure(adapt)
    assert n_adapt < n_plain
    assert p_adapt > p_plain


# -- EMA teacher -------------------------------------------------------------------------


def test_ema_teacher_gives_the_pseudo_labels():
    # Two rounds: round 2's pseudo-labels come from 0.99 · P_start + 0.01 · P_student, so
    # they are the starting prototypes' labels wherever their margin exceeds 0.01; with
    # ema=0 they are the first student's, which disagrees with the prototypes on some rows.
    b = make_blobs(n=400, k=4, per_class=1, noise=0.35, seed=0)
    plain = SelfTrainingLabeler(n_rounds=2, n_classes=4).fit(b.X, b.y)
    slow = SelfTrainingLabeler(n_rounds=2, ema=0.99, n_classes=4).fit(b.X, b.y)
    P0 = slow.start_.predict_proba(b.X)
    top2 = np.sort(P0, axis=1)[:, -2:]
    sure = (top2[:, 1] - top2[:, 0] > 0.02) & (b.y < 0)
    took = slow.pseudo_labels_ >= 0
    np.testing.assert_array_equal(slow.pseudo_labels_[sure & took], P0.argmax(axis=1)[sure & took])
    took_plain = (plain.pseudo_labels_ >= 0) & (b.y < 0)
    assert (plain.pseudo_labels_[took_plain] != P0.argmax(axis=1)[took_plain]).sum() >= 10
