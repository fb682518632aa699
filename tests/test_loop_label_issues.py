"""Confident learning on out-of-fold probabilities: flipped labels are found."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabels.errors import ConfigError, InputError
from fewlabels.loop.label_issues import find_label_issues


def _noisy(m=300, k=3, flip=0.1, sharp=0.85, seed=0):
    """True classes, given labels with ``flip`` flipped, and probabilities that put
    ``sharp`` on the true class (a good out-of-fold model)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, m)
    P = np.full((m, k), (1 - sharp) / (k - 1))
    P[np.arange(m), truth] = sharp
    P = P * rng.uniform(0.8, 1.2, P.shape)
    P /= P.sum(axis=1, keepdims=True)
    y = truth.copy()
    flipped = rng.choice(m, int(flip * m), replace=False)
    y[flipped] = (truth[flipped] + rng.integers(1, k, len(flipped))) % k
    return P, y, np.isin(np.arange(m), flipped)


@pytest.mark.parametrize("method", ["both", "confident_joint", "prune_by_noise_rate"])
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


def test_bad_input():
    with pytest.raises(ConfigError, match="unknown label-issue method"):
        find_label_issues(np.eye(2), np.array([0, 1]), method="nope")
    with pytest.raises(InputError, match="class codes"):
        find_label_issues(np.eye(2), np.array([0, -1]))
