"""The fused labeler: rules' label model × an embedding method, with the class mix corrected."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabels.errors import ConfigError
from fewlabels.labelers.fused import FusedLabeler
from fewlabels.labelers.registry import make_labeler


def spam_like(seed=0, n=2000):
    """80% ham, 20% spam in 8-d; one rule fires on 60% of spam and 3% of ham (like a keyword).

    Returns X, truth, the rule's votes L (n, 1), and y with 20 random given labels.
    """
    rng = np.random.default_rng(seed)
    truth = (rng.random(n) < 0.2).astype(int)
    centres = np.zeros((2, 8))
    centres[1, 0] = 1.6
    X = (centres[truth] + rng.normal(size=(n, 8))).astype(np.float32)
    fires = np.where(truth == 1, rng.random(n) < 0.6, rng.random(n) < 0.03)
    L = np.where(fires, 1, -1).reshape(-1, 1)
    y = np.full(n, -1)
    given = rng.choice(n, 20, replace=False)
    y[given] = truth[given]
    return X, truth, L, y


def test_prior_shift_is_the_documented_product():
    X, truth, L, y = spam_like()
    fused = FusedLabeler(votes=L, label_model="majority", n_classes=2, random_state=0).fit(X, y)
    # rebuild it by hand: majority vote on covered rows, logistic on given + weak labels
    lm = make_labeler("majority", n_classes=2).fit(L, y)
    covered = (L >= 0).any(axis=1)
    y_aug = y.copy()
    y_aug[covered & (y < 0)] = lm.predict_proba(L)[covered & (y < 0)].argmax(axis=1)
    P_emb = make_labeler("logistic", n_classes=2, random_state=0).fit(X, y_aug).predict_proba(X)
    train_prior = (np.bincount(y_aug[y_aug >= 0], minlength=2) + 1.0) / ((y_aug >= 0).sum() + 2.0)
    given_uncovered = y[(y >= 0) & ~covered]
    uncovered_prior = (np.bincount(given_uncovered, minlength=2) + 2 * lm.prior_) / (len(given_uncovered) + 2)
    F = P_emb * np.where(covered[:, None], lm.predict_proba(L), uncovered_prior) / train_prior
    F /= F.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(fused.transduction_, F, rtol=1e-6)
    np.testing.assert_allclose(fused.train_prior_, train_prior)
    np.testing.assert_allclose(fused.uncovered_prior_, uncovered_prior)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uncovered_rows_get_the_class_mix_of_uncovered_given_labels(seed):
    # The rule misses 40% of spam and 97% of ham: about 9% of uncovered rows are spam
    # against 20% overall. With 200 given labels the uncovered prior is near 9%, not 20%.
    X, truth, L, _ = spam_like(seed)
    covered = L[:, 0] >= 0
    y = np.full(len(truth), -1)
    given = np.random.default_rng(seed).choice(len(truth), 200, replace=False)
    y[given] = truth[given]
    fused = FusedLabeler(votes=L, n_classes=2, random_state=0).fit(X, y)
    share = truth[~covered].mean()
    assert abs(fused.uncovered_prior_[1] - share) < abs(fused.label_model_.prior_[1] - share)
    assert abs(fused.uncovered_prior_[1] - share) < 0.05
    # no given label: the label model's prior stands
    none = FusedLabeler(votes=L, n_classes=2, random_state=0).fit(X, np.full(len(truth), -1))
    np.testing.assert_allclose(none.uncovered_prior_, none.label_model_.prior_)


def test_saerens_prior_recovers_a_shifted_class_mix():
    """A calibrated classifier trained at 50/50, applied where the mix is 90/10: EM finds 90/10."""
    from fewlabels.labelers.fused import saerens_prior

    rng = np.random.default_rng(0)
    truth = (rng.random(20000) < 0.1).astype(int)
    score = rng.normal(np.where(truth == 1, 1.0, -1.0), 1.0)
    p1 = 1 / (1 + np.exp(-2 * score))  # exact posterior of N(±1, 1) at 50/50
    P = np.stack([1 - p1, p1], axis=1)
    pi, it = saerens_prior(P, np.array([0.5, 0.5]), np.array([0.5, 0.5]))
    assert abs(pi[1] - truth.mean()) < 0.01 and 1 < it < 100
    pi2, _ = saerens_prior(P[:0], np.array([0.5, 0.5]), np.array([0.3, 0.7]), given=np.array([9, 1]))
    np.testing.assert_allclose(pi2, [0.9, 0.1])  # only known rows: their mix


def test_auto_label_model_is_dawid_skene_from_three_rules():
    X, truth, L, y = spam_like()
    L3 = np.hstack([L, L, np.where(X[:, :1] > 1.0, 1, -1)])
    assert FusedLabeler(votes=L, n_classes=2).fit(X, y).label_model_.name == "majority"
    assert FusedLabeler(votes=L3, n_classes=2).fit(X, y).label_model_.name == "dawid_skene"
    assert FusedLabeler(votes=L3, label_model="metal", n_classes=2).fit(X, y).label_model_.name == "metal"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prior_shift_fixes_the_spam_heavy_training_mix(seed):
    # The covered rows are mostly spam, so a classifier trained on them over-calls spam on
    # the uncovered rows; trading its class mix for the prior fixes most of that.
    X, truth, L, y = spam_like(seed)
    unl = y < 0
    acc = {}
    for shift in (False, True):
        P = FusedLabeler(votes=L, prior_shift=shift, n_classes=2, random_state=0).fit(X, y).predict_proba(X)
        acc[shift] = (P[unl].argmax(axis=1) == truth[unl]).mean()
    assert acc[True] > acc[False] + 0.1, acc
    assert acc[True] > 0.83, acc  # calling every row ham would score about 0.8


def test_fused_without_votes_is_refused():
    X, truth, L, y = spam_like()
    with pytest.raises(Exception, match="votes"):
        FusedLabeler(n_classes=2).fit(X, y)


@pytest.mark.parametrize("params, match", [({"prior_shift": "yes"}, "prior_shift='yes'"),
                                           ({"uncovered_prior": "copy"}, "uncovered_prior='copy'"),
                                           ({"label_model": "snorkel"}, "unknown")])
def test_bad_fused_parameters_are_refused(params, match):
    X, truth, L, y = spam_like()
    with pytest.raises(ConfigError, match=match):
        FusedLabeler(votes=L, n_classes=2, **params).fit(X, y)
