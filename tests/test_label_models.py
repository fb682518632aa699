"""Label models over a label matrix L: contract, hand-checked cases, and recovery of known
rule accuracies from synthetic L."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabels.errors import ConfigError, InputError
from fewlabels.labelers.label_models import LABEL_MODELS, DawidSkeneLabeler, WeightedMajorityLabeler

NAMES = list(LABEL_MODELS)


def synthetic_L(n=20000, m=10, k=2, seed=0):
    """Conditionally independent rules with known accuracy and coverage; errors uniform."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    acc = rng.uniform(0.6, 0.9, m)
    cov = rng.uniform(0.3, 0.8, m)
    L = np.full((n, m), -1)
    for j in range(m):
        votes = rng.random(n) < cov[j]
        right = rng.random(n) < acc[j]
        wrong = (truth + rng.integers(1, k, n)) % k if k > 1 else truth
        L[votes, j] = np.where(right, truth, wrong)[votes]
    return L, truth, acc


@pytest.mark.parametrize("name", NAMES)
def test_contract_shapes_rows_and_abstain_prior(name):
    k = 2 if name == "triplet" else 3  # the triplet model is for two classes
    L, truth, _ = synthetic_L(n=2000, m=5, k=k)
    L[:10] = -1  # rows where every rule abstains
    model = LABEL_MODELS[name](n_classes=k).fit(L)
    P = model.predict_proba(L)
    assert P.shape == (2000, k) and np.allclose(P.sum(axis=1), 1) and (P >= 0).all()
    np.testing.assert_allclose(P[:10], np.tile(P[0], (10, 1)))  # all-abstain rows share the prior
    np.testing.assert_array_equal(P, LABEL_MODELS[name](n_classes=k).fit(L).predict_proba(L))
    assert (P.argmax(axis=1)[10:] == truth[10:]).mean() > 0.7  # 5 rules, 3 classes: MV gets ~0.76


@pytest.mark.parametrize("name", NAMES)
def test_needs_n_classes_and_valid_codes(name):
    with pytest.raises(ConfigError, match="n_classes"):
        LABEL_MODELS[name]().fit(np.array([[0, 1], [1, -1]]))
    with pytest.raises(InputError, match="outside"):
        LABEL_MODELS[name](n_classes=2).fit(np.array([[0, 2], [1, -1]]))


def test_majority_vote_hand_case():
    L = np.array([[0, 0, 1], [1, 1, -1], [0, 1, -1], [-1, -1, -1]])
    P = LABEL_MODELS["majority"](n_classes=2).fit(L).predict_proba(L)
    np.testing.assert_allclose(P[:3], [[2 / 3, 1 / 3], [0, 1], [0.5, 0.5]])


def test_weighted_majority_trusts_the_accurate_rule():
    # rule 0 always right on the given labels, rules 1 and 2 always wrong: rule 0 outvotes them
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, -1])
    L = np.stack([np.r_[y[:10], 0], np.r_[1 - y[:10], 1], np.r_[1 - y[:10], 1]], axis=1)
    m = WeightedMajorityLabeler(n_classes=2).fit(L, y)
    # a rule no better than chance gets (almost) no weight; it is never turned upside down
    assert m.weights_[0] > 1 and abs(m.weights_[1]) < 0.01
    assert m.predict_proba(L)[-1].argmax() == 0


@pytest.mark.parametrize("k", [2, 3])
def test_dawid_skene_recovers_rule_accuracies(k):
    L, truth, acc = synthetic_L(n=20000, m=10, k=k, seed=k)
    model = DawidSkeneLabeler(n_classes=k).fit(L)
    assert np.abs(model.accuracies_ - acc).max() < 0.05
    covered = (L >= 0).any(axis=1)
    mv = LABEL_MODELS["majority"](n_classes=k).fit(L).predict(L)
    ds = model.predict(L)
    assert (ds[covered] == truth[covered]).mean() >= (mv[covered] == truth[covered]).mean()


def test_weighted_majority_estimates_accuracies_without_labels():
    L, _, acc = synthetic_L(n=20000, m=10, k=2, seed=5)
    m = WeightedMajorityLabeler(n_classes=2).fit(L)
    assert np.corrcoef(m.accuracies_, acc)[0, 1] > 0.9


def test_dawid_skene_uses_given_labels():
    L, truth, _ = synthetic_L(n=3000, m=6, k=2, seed=9)
    y = np.full(3000, -1)
    y[:300] = truth[:300]
    m = DawidSkeneLabeler(n_classes=2).fit(L, y)
    np.testing.assert_array_equal(m.predict_proba(L)[:0].shape, (0, 2))
    assert m.converged_ and m.n_iter_ >= 1


def test_fused_carries_rules_to_rows_no_rule_covers(blobs):
    """Weak-to-strong: rules cover a third of the rows; the fused labels are right on the rest."""
    from fewlabels.labelers.fused import FusedLabeler
    from fewlabels.pipeline import label_arrays

    rng = np.random.default_rng(0)
    covered = rng.random(blobs.n) < 0.33
    L = np.full((blobs.n, 2), -1)
    L[covered, 0] = np.where(rng.random(covered.sum()) < 0.9, blobs.truth[covered], (blobs.truth[covered] + 1) % 3)
    no_labels = np.full(blobs.n, -1)
    P = FusedLabeler(votes=L, n_classes=3).fit(blobs.X, no_labels).predict_proba(blobs.X)
    assert (P.argmax(axis=1)[~covered] == blobs.truth[~covered]).mean() >= 0.95
    res = label_arrays(blobs.X, no_labels, list(blobs.classes), votes=L, fit_end_model=False)
    assert res.method == "fused" and res.report["fallback"]
    with_labels = label_arrays(blobs.X, blobs.y, list(blobs.classes), votes=L, fit_end_model=False)
    assert {"majority", "dawid_skene", "fused"} <= set(with_labels.report["candidates"])
    with pytest.raises(InputError, match="votes must have shape"):
        label_arrays(blobs.X, blobs.y, list(blobs.classes), votes=L[:10])


def test_dawid_skene_with_one_sided_keyword_rules():
    """Rules that only ever vote one class (keyword rules) fire more on that class; with
    abstention modelled and the prior fixed, EM does not collapse to a degenerate split."""
    rng = np.random.default_rng(1)
    n = 5000
    truth = (rng.random(n) < 0.5).astype(int)
    cols = []
    for cls, m in ((1, 6), (0, 4)):
        for _ in range(m):
            fire = np.where(truth == cls, rng.random(n) < 0.3, rng.random(n) < 0.02)
            cols.append(np.where(fire, cls, -1))
    L = np.stack(cols, axis=1)
    covered = (L >= 0).any(axis=1)
    ds = DawidSkeneLabeler(n_classes=2).fit(L).predict(L)
    mv = LABEL_MODELS["majority"](n_classes=2).fit(L).predict(L)
    assert (ds[covered] == truth[covered]).mean() >= (mv[covered] == truth[covered]).mean() - 0.01
    assert (ds[covered] == truth[covered]).mean() > 0.9


def test_triplet_recovers_rule_accuracies_and_refuses_three_classes():
    from fewlabels.labelers.label_models import TripletLabeler

    L, truth, acc = synthetic_L(n=20000, m=10, k=2, seed=3)
    model = TripletLabeler(n_classes=2).fit(L)
    assert np.abs(model.accuracies_ - acc).max() < 0.05
    covered = (L >= 0).any(axis=1)
    ds = DawidSkeneLabeler(n_classes=2).fit(L).predict(L)
    assert (model.predict(L)[covered] == truth[covered]).mean() >= (ds[covered] == truth[covered]).mean() - 0.01
    with pytest.raises(ConfigError, match="two classes"):
        TripletLabeler(n_classes=3).fit(synthetic_L(n=100, m=3, k=3)[0])
