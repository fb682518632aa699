"""Open-set rejection: rows of a class nobody named are flagged, known rows mostly kept."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fewlabels.errors import InputError
from fewlabels.groups import mark_unknown
from fewlabels.labelers.openset import OpenSetDetector, knn_distance
from fewlabels.pipeline import label_arrays

from conftest import make_blobs


def test_knn_distance_by_hand_and_without_self():
    ref = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    d = knn_distance(ref, np.array([[1, 0]], dtype=np.float32), 1)
    np.testing.assert_allclose(d, [0.0], atol=1e-6)
    d_self = knn_distance(ref, ref, 1, exclude_self=True)
    # [1,0]'s nearest other row is [1,1]/√2: cosine 0.7071
    np.testing.assert_allclose(d_self, [1 - 2 ** -0.5, 1 - 2 ** -0.5, 1 - 2 ** -0.5], atol=1e-5)


@pytest.fixture
def open_pool():
    """Four blobs; the fourth class is never named: its rows are unknown."""
    b = make_blobs(n=400, k=4, d=16, per_class=8, noise=0.25, seed=3)
    known = b.truth < 3
    y = np.where(known, b.y, -1)
    return b.X, y, b.truth, known


def test_unknown_rows_score_higher_and_are_flagged(open_pool):
    X, y, truth, known = open_pool
    res = label_arrays(X, y, ["a", "b", "c"], method="logistic", fit_end_model=False)
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
    res = label_arrays(X, y, ["a", "b", "c"], method="logistic", fit_end_model=False)
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

    with pytest.raises(ConfigError, match="false_reject"):
        OpenSetDetector(false_reject=0.9).fit(X, y, np.full((len(y), 3), 1 / 3), np.full(((y >= 0).sum(), 3), 1 / 3))
