"""label_gain: the accuracy gain from a share of the given labels to all of them."""

import math

import numpy as np
import pytest

from fewlabels.learning_curve import label_gain


def _blobs(n, k, d, spread, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(k, d))
    y = np.arange(n) % k
    return means[y] * spread + rng.normal(size=(n, d)), y


def test_hard_task_gains_from_more_labels():
    X, y = _blobs(120, 6, 32, 0.3)
    r = label_gain(X, y, 2 / 3, n_classes=6)
    curve = np.array(r["curve"])
    assert curve[-1, 1] > curve[0, 1]  # more training rows, higher held-out accuracy
    assert r["slope"] > 0
    assert r["gain"] == pytest.approx(r["slope"] * math.log(1.5))


def test_saturated_task_has_no_gain():
    X, y = _blobs(120, 3, 16, 20.0)  # classes far apart: every split is 100% accurate
    r = label_gain(X, y, 2 / 3, n_classes=3)
    assert all(acc == 1.0 for _, acc in r["curve"])
    assert r["gain"] == 0.0


def test_gain_is_never_negative_and_unlabeled_rows_are_ignored():
    X, y = _blobs(200, 4, 16, 0.0)  # no signal: the curve is flat noise, its slope may be < 0
    y = y.copy()
    y[100:] = -1
    r = label_gain(X, y, 0.5, n_classes=4)
    assert max(m for m, _ in r["curve"]) <= 90  # at most 90% of the 100 given rows train
    assert r["gain"] >= 0.0


def test_too_few_labels_or_one_class_or_all_labels_give_zero():
    X, y = _blobs(60, 3, 8, 1.0)
    few = np.full(60, -1)
    few[:5] = y[:5]
    assert label_gain(X, few, 0.5)["gain"] == 0.0
    assert label_gain(X, np.zeros(60, dtype=int), 0.5)["gain"] == 0.0
    assert label_gain(X, y, 1.0)["gain"] == 0.0
    with pytest.raises(ValueError, match="from_fraction"):
        label_gain(X, y, 0.0)
