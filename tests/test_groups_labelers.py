"""Label proportions and multiple-instance bags on synthetic data with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabels.errors import InputError
from fewlabels.groups import label_bags, label_proportions
from fewlabels.labelers.mil import BagLabeler, bag_predictions
from fewlabels.labelers.proportions import ProportionLabeler, bag_shares, match_proportions
from fewlabels.labelers.registry import GROUP_REGISTRY


def gaussian_pool(n=1200, k=3, d=16, sep=0.9, seed=0, priors=None):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    truth = rng.choice(k, size=n, p=priors)
    X = centres[truth] * sep + rng.normal(size=(n, d))
    return X.astype(np.float32), truth


def shares_of(truth, bags, k):
    P = np.zeros((bags.max() + 1, k))
    np.add.at(P, bags, np.eye(k)[truth])
    return P / P.sum(axis=1, keepdims=True)


def test_match_proportions_hits_the_shares_and_keeps_rows_normalised():
    S = np.array([[0.6, 0.4], [0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
    bags = np.array([0, 0, 1, 1])
    props = np.array([[0.5, 0.5], [1.0, 0.0]])
    Q = match_proportions(S, bags, props)
    np.testing.assert_allclose(Q.sum(axis=1), 1.0)
    np.testing.assert_allclose(bag_shares(Q, bags, 2), props, atol=1e-5)
    # bag 0 needs one row of each class: the row leaning more to class 0 gets class 0
    assert Q[1, 0] > Q[0, 0]


def test_sharpened_matching_is_the_count_respecting_assignment():
    # all rows lean to class 0 but the bag holds half class 1: plain matching keeps the
    # order, sharpening makes the two least-class-0 rows class 1
    S = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    Q = match_proportions(S, np.zeros(4, int), np.array([[0.5, 0.5]]), temperature=0.05, n_iter=500)
    np.testing.assert_array_equal(Q.argmax(axis=1), [0, 0, 1, 1])


@pytest.mark.parametrize("bag_size", [16, 64])
def test_proportions_recover_instance_labels_without_any_label(bag_size):
    X, truth = gaussian_pool()
    rng = np.random.default_rng(1)
    bags = rng.permutation(len(truth)) // bag_size
    props = shares_of(truth, bags, 3)
    m = ProportionLabeler(bags=bags, proportions=props).fit(X, np.full(len(truth), -1))
    acc = (m.transduction_.argmax(axis=1) == truth).mean()
    majority = (props[bags].argmax(axis=1) == truth).mean()
    assert acc > 0.85 and acc > majority + 0.2, (acc, majority)
    np.testing.assert_allclose(m.transduction_.sum(axis=1), 1.0, atol=1e-9)


def test_label_proportions_reports_a_held_out_bag_estimate_near_the_truth():
    X, truth = gaussian_pool(n=900)
    bags = np.random.default_rng(2).permutation(900) // 30
    res = label_proportions(X, np.full(900, -1), ["a", "b", "c"], bags, shares_of(truth, bags, 3), n_folds=3)
    est = res.report["estimated_accuracy"]
    acc = (res.labels == truth).mean()
    assert 0 <= est["share_error"] < 0.2
    # the estimate is of the held-out classifier, which the bag-aware labels do not undercut
    assert est["value"] <= acc + 0.05 and est["upper_bound"] >= est["value"] - 0.1
    assert res.method == "proportions" and res.end_model is not None


def test_given_instance_labels_are_kept():
    X, truth = gaussian_pool(n=300)
    bags = np.arange(300) // 50
    y = np.full(300, -1)
    y[:10] = (truth[:10] + 1) % 3  # deliberately "wrong" given labels must survive
    m = ProportionLabeler(bags=bags, proportions=shares_of(truth, bags, 3)).fit(X, y)
    np.testing.assert_array_equal(m.transduction_[:10].argmax(axis=1), y[:10])


def test_proportions_are_deterministic():
    X, truth = gaussian_pool(n=300)
    bags = np.arange(300) // 30
    a = ProportionLabeler(bags=bags, proportions=shares_of(truth, bags, 3)).fit(X, np.full(300, -1))
    b = ProportionLabeler(bags=bags, proportions=shares_of(truth, bags, 3)).fit(X, np.full(300, -1))
    np.testing.assert_array_equal(a.transduction_, b.transduction_)


def binary_bags(n=2000, size=10, seed=0):
    X, truth = gaussian_pool(n=n, k=2, sep=0.7, seed=seed, priors=[0.87, 0.13])
    bags = np.random.default_rng(seed + 1).permutation(n) // size
    sets = np.zeros((bags.max() + 1, 2), bool)
    pos = np.zeros(bags.max() + 1, bool)
    np.logical_or.at(pos, bags, truth == 1)
    sets[:, 1] = pos
    sets[:, 0] = ~pos
    return X, truth, bags, sets


def f1(pred, truth):
    tp = ((pred == 1) & (truth == 1)).sum()
    return 2 * tp / max((pred == 1).sum() + (truth == 1).sum(), 1)


def test_mil_binary_beats_giving_every_row_its_bag_label():
    X, truth, bags, sets = binary_bags()
    m = BagLabeler(bags=bags, bag_sets=sets, negative=0).fit(X, np.full(len(truth), -1))
    pred = m.transduction_.argmax(axis=1)
    naive = sets[bags, 1].astype(int)
    assert f1(pred, truth) > f1(naive, truth) + 0.3, (f1(pred, truth), f1(naive, truth))
    # rows of negative-only bags are negative, by the bag constraint
    assert (pred[~sets[bags, 1]] == 0).all()


def test_mil_multiclass_label_sets():
    X, truth = gaussian_pool(n=900, k=3, sep=1.0)
    bags = np.arange(900) // 6
    sets = np.zeros((150, 3), bool)
    np.logical_or.at(sets, (bags, truth), True)
    m = BagLabeler(bags=bags, bag_sets=sets).fit(X, np.full(900, -1))
    pred = m.transduction_.argmax(axis=1)
    assert sets[bags, pred].all()  # never a class the bag's label does not name
    assert (pred == truth).mean() > 0.9


def test_bag_predictions_by_hand():
    P = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    out = bag_predictions(P, np.array([0, 0, 1]), 2, negative=0)
    np.testing.assert_allclose(out, [[0.2, 0.8], [0.7, 0.3]])


def test_label_bags_checks_given_labels_against_the_bag():
    X, truth, bags, sets = binary_bags(n=200)
    y = np.full(200, -1)
    neg_row = int(np.flatnonzero(~sets[bags, 1])[0])
    y[neg_row] = 1  # a positive label in a negative-only bag
    with pytest.raises(InputError, match=f"row {neg_row + 1}"):
        label_bags(X, y, ["ham", "spam"], bags, sets, negative=0)


def test_group_registry_names_match():
    for name, cls in GROUP_REGISTRY.items():
        assert cls.name == name and cls.min_labels == 0
