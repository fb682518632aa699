"""Confident learning on out-of-fold probabilities: flipped labels are found."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabels.errors import ConfigError, InputError
from fewlabels.loop.label_issues import find_label_issues, null_share, selection_label_issues, selection_view
from fewlabels.select import CandidateScore, Selection


def _jitter_and_flip(P, truth, flip, rng):
    """P jittered by ±20% and renormalised; given labels = ``truth`` with ``flip`` of them moved
    to another class at random. Returns P, y, flipped (a boolean mask)."""
    m, k = P.shape
    P = P * rng.uniform(0.8, 1.2, P.shape)
    P /= P.sum(axis=1, keepdims=True)
    y = truth.copy()
    flipped = rng.choice(m, int(flip * m), replace=False)
    y[flipped] = (truth[flipped] + rng.integers(1, k, len(flipped))) % k
    return P, y, np.isin(np.arange(m), flipped)


def _noisy(m=300, k=3, flip=0.1, sharp=0.85, seed=0):
    """True classes, given labels with ``flip`` flipped, and probabilities that put
    ``sharp`` on the true class (a good out-of-fold model)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, m)
    P = np.full((m, k), (1 - sharp) / (k - 1))
    P[np.arange(m), truth] = sharp
    return _jitter_and_flip(P, truth, flip, rng)


@pytest.mark.parametrize("method", ["both", "confident_joint", "prune_by_noise_rate", "noise_estimate"])
def test_finds_the_flipped_labels(method):
    P, y, flipped = _noisy()
    res = find_label_issues(P, y, method=method)
    tp = (res.suspect & flipped).sum()
    assert tp / flipped.sum() >= 0.9  # the model is right on every row, so each flip stands out
    assert tp / max(1, res.suspect.sum()) >= 0.9
    assert (res.suggested[flipped] != y[flipped]).all()


def test_hand_computed_thresholds_and_joint():
    P = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.6, 0.4]])
    y = np.array([0, 0, 1, 1])
    res = find_label_issues(P, y, method="confident_joint")
    np.testing.assert_allclose(res.thresholds, [0.8, 0.6])  # mean p(0) over rows labeled 0; p(1) over 1
    # row 0: p0=.9>=.8 -> 0; row 1: p0=.7<.8, p1=.3<.6 -> none; row 2 -> 1; row 3: p0=.6<.8, p1=.4<.6 -> none
    np.testing.assert_array_equal(res.confident_joint, [[1, 0], [0, 1]])
    assert not res.suspect.any()
    P[3] = [0.85, 0.15]  # now confidently class 0 while labeled 1
    res = find_label_issues(P, y, method="confident_joint")
    assert res.suspect.tolist() == [False, False, False, True]
    assert res.ranked().tolist() == [3]


def test_clean_labels_give_few_suspects():
    P, y, _ = _noisy(flip=0.0)
    assert find_label_issues(P, y).suspect.mean() <= 0.02


def test_noise_estimate_hand_computed():
    P = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.9, 0.1]])
    y = np.array([0, 0, 1, 1])
    # probabilities of the classes other than the given ones: .1 .2 .3 .9; p(given): .9 .8 .7 .1
    # u = share of those >= p(given): 1/4 (only .9), 1/4, 1/4, 1 -> one u above 1/2 -> 1 / (4 * 1/2)
    u, share = null_share(P, y)
    np.testing.assert_allclose(u, [0.25, 0.25, 0.25, 1])
    assert share == 0.5
    res = find_label_issues(P, y)  # noise_estimate is the default
    assert res.method == "noise_estimate" and res.n_estimated == 2.0
    # the 2 least likely given labels are rows 3 and 2; row 2's most probable class is its label
    assert res.suspect.tolist() == [False, False, False, True]


def _weak_model(m=400, k=5, flip=0.05, model_wrong=0.3, seed=0):
    """A weak out-of-fold model: on ``model_wrong`` of the rows with a right label it puts
    0.6 on another class and 0.3 on the true one; a flipped label gets what any wrong class
    gets. Returns P, y, flipped."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, m)
    P = np.full((m, k), 0.3 / (k - 1))
    P[np.arange(m), truth] = 0.7
    wrong = rng.random(m) < model_wrong
    other = (truth + rng.integers(1, k, m)) % k
    P[wrong] = 0.1 / (k - 2)
    P[wrong, truth[wrong]] = 0.3
    P[wrong, other[wrong]] = 0.6
    return _jitter_and_flip(P, truth, flip, rng)


def test_noise_estimate_counts_wrong_labels_not_model_errors():
    """The confident joint counts the model's own mistakes as label errors; the estimate
    does not: a right label at 0.3 is still far above a wrong class's share."""
    P, y, flipped = _weak_model()
    est = find_label_issues(P, y, method="noise_estimate")
    prune = find_label_issues(P, y, method="prune_by_noise_rate")
    assert 0.5 * flipped.sum() <= est.n_estimated <= 2 * flipped.sum()
    assert (est.suspect & flipped).sum() / max(1, est.suspect.sum()) >= 0.6
    assert (est.suspect & flipped).sum() >= 0.5 * flipped.sum()
    # what the pruning does on the same probabilities (why it is no longer the default)
    assert prune.suspect.sum() >= 3 * flipped.sum()


def test_selection_view_averages_the_chosen_method_with_logistic():
    P, y, flipped = _noisy(m=200, sharp=0.7, seed=3)
    rng = np.random.default_rng(4)
    Q = rng.dirichlet(np.ones(3), 200)
    scores = {name: CandidateScore(name, A, 0.0, 0.0, 0.0, 200, 0.0) for name, A in
              (("spreading", P * 3.0), ("logistic", Q), ("prototype", 1 - P))}  # scales are normalised away
    sel = Selection("spreading", scores, np.zeros(200, dtype=int), np.arange(200) + 10, y)
    np.testing.assert_allclose(selection_view(sel), (P + Q) / 2)
    np.testing.assert_allclose(selection_view(sel, "logistic"), Q)
    idx, issues = selection_label_issues(sel)
    assert (idx == np.arange(200) + 10).all()
    assert (issues.suspect == find_label_issues((P + Q) / 2, y).suspect).all()
    del scores["logistic"]
    np.testing.assert_allclose(selection_view(sel), P)


def test_bad_input():
    with pytest.raises(ConfigError, match="unknown label-issue method"):
        find_label_issues(np.eye(2), np.array([0, 1]), method="nope")
    with pytest.raises(InputError, match="class codes"):
        find_label_issues(np.eye(2), np.array([0, -1]))
