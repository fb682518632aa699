"""Temperature scaling recovers a known temperature; ECE separates calibrated from overconfident."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabels.calibrate import (
    EPS,
    apply_temperature,
    confidence_accuracy,
    cross_fitted_ece,
    expected_calibration_error,
    fit_temperature,
)
from fewlabels.labelers.base import softmax


def sample_labels(P, rng):
    """One class per row drawn from that row's distribution."""
    u = rng.random((P.shape[0], 1))
    return np.minimum((P.cumsum(axis=1) < u).sum(axis=1), P.shape[1] - 1)


@pytest.fixture(scope="module")
def synthetic():
    """Logits L; true labels drawn from softmax(L / 2), so softmax(L) is overconfident by T=2."""
    rng = np.random.default_rng(0)
    n, k, T_true = 20_000, 5, 2.0
    L = 2.5 * rng.normal(size=(n, k))
    P_true = softmax(L / T_true)
    y = sample_labels(P_true, rng)
    return softmax(L), P_true, y, T_true


def test_apply_temperature_one_is_identity_after_clipping():
    P = np.array([[0.7, 0.2, 0.1], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]])
    expected = np.clip(P, EPS, 1.0)
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(apply_temperature(P, 1.0), expected, rtol=1e-12)


def test_apply_temperature_hand_computed():
    P = np.array([[0.8, 0.2]])
    # T = 2: p ∝ sqrt(p) -> (sqrt(.8), sqrt(.2)) / sum = (2/3, 1/3)
    np.testing.assert_allclose(apply_temperature(P, 2.0), [[2 / 3, 1 / 3]], rtol=1e-12)


def test_higher_temperature_flattens_and_keeps_order(synthetic):
    P = synthetic[0][:500]
    prev_max = P.max(axis=1)
    for T in (1.5, 3.0, 10.0):
        Q = apply_temperature(P, T)
        np.testing.assert_allclose(Q.sum(axis=1), 1.0)
        np.testing.assert_array_equal(Q.argmax(axis=1), P.argmax(axis=1))
        assert (Q.max(axis=1) <= prev_max + 1e-12).all()
        prev_max = Q.max(axis=1)
    np.testing.assert_allclose(apply_temperature(P, 1e6), 1 / P.shape[1], atol=1e-4)
    # T < 1 sharpens
    assert (apply_temperature(P, 0.5).max(axis=1) >= P.max(axis=1) - 1e-12).all()


def test_fit_temperature_recovers_known_temperature(synthetic):
    P, _, y, T_true = synthetic
    T = fit_temperature(P, y)
    assert abs(T - T_true) < 0.2, T


def test_fit_temperature_on_calibrated_input_is_near_one(synthetic):
    _, P_true, y, _ = synthetic
    assert abs(fit_temperature(P_true, y) - 1.0) < 0.1


def test_fit_temperature_without_labels_is_one():
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 1.0


def test_fit_temperature_stays_in_bounds():
    # every prediction right and confident: NLL keeps falling as T -> 0, so the bound holds it
    P = np.array([[0.9, 0.1], [0.2, 0.8]] * 10)
    y = np.array([0, 1] * 10)
    assert fit_temperature(P, y, bounds=(0.5, 4.0)) == pytest.approx(0.5, abs=1e-3)


def test_ece_small_when_calibrated_large_when_overconfident(synthetic):
    P, P_true, y, _ = synthetic
    ece_true = expected_calibration_error(P_true, y)
    ece_over = expected_calibration_error(P, y)
    assert ece_true < 0.03
    assert ece_over > 0.1
    # fixing the temperature removes most of it
    assert expected_calibration_error(apply_temperature(P, 2.0), y) < 0.03


def test_ece_hand_computed():
    # two rows in the 0.9 bin, one right (acc .5, conf .9); one row in the 0.6 bin, right
    P = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4]])
    y = np.array([0, 0, 0])
    expected = (abs(0.5 - 0.9) * 2 + abs(1.0 - 0.6) * 1) / 3
    assert expected_calibration_error(P, y, n_bins=10) == pytest.approx(expected)
    assert np.isnan(expected_calibration_error(np.zeros((0, 2)), np.zeros(0, dtype=int)))


def test_cross_fitted_ece_returns_both_and_improves_overconfident(synthetic):
    P, _, y, _ = synthetic
    P, y = P[:4000], y[:4000]
    fold_of = np.arange(len(y)) % 5
    out = cross_fitted_ece(P, y, fold_of)
    assert set(out) == {"ece_before", "ece_after"}
    assert out["ece_before"] == pytest.approx(expected_calibration_error(P, y))
    assert out["ece_after"] < 0.05 < out["ece_before"]


def test_cross_fitted_ece_single_fold_leaves_predictions_as_they_are(synthetic):
    P, _, y, _ = synthetic
    P, y = P[:300], y[:300]
    out = cross_fitted_ece(P, y, np.zeros(len(y), dtype=int))
    assert out["ece_after"] == pytest.approx(out["ece_before"], abs=1e-6)


def test_temperature_stays_finite_when_every_prediction_is_right():
    # 40 confident, all-correct out-of-fold predictions: the NLL alone runs T to its bound
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 40)
    P = np.full((40, 3), 0.05)
    P[np.arange(40), y] = 0.9
    T = fit_temperature(P, y)
    assert 0.1 < T < 1.0
    assert apply_temperature(P, T).max() < 0.9999


def test_confidence_accuracy_is_mean_calibrated_confidence_and_tracks_true_accuracy():
    # Labels right with probability 0.8; the model claims 0.95 (overconfident). Fitting T on
    # held-out rows fixes that, so the mean calibrated confidence is close to 0.8.
    rng = np.random.default_rng(0)

    def draw(n):
        y = rng.integers(0, 3, n)
        pred = np.where(rng.random(n) < 0.8, y, (y + rng.integers(1, 3, n)) % 3)
        P = np.full((n, 3), 0.025)
        P[np.arange(n), pred] = 0.95
        return P, y, pred

    oof, y_lab, _ = draw(400)
    P, y_pool, pred = draw(5000)
    est = confidence_accuracy(P, oof, y_lab, n_boot=50)
    assert abs((pred == y_pool).mean() - est["value"]) < 0.03
    assert est["value"] == pytest.approx(apply_temperature(P, est["temperature"]).max(axis=1).mean())
    assert est["low"] <= est["value"] <= est["high"] and est["high"] - est["low"] < 0.15
    # The same seed gives the same interval.
    assert confidence_accuracy(P, oof, y_lab, n_boot=50) == est
    assert confidence_accuracy(P, oof, y_lab, n_boot=50, temperature=est["temperature"]) == est


def test_thresholded_confidence_matches_accuracy_on_its_own_rows_and_ignores_zero_probabilities():
    from fewlabels.calibrate import thresholded_confidence_accuracy

    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.full(4, 0.3), size=400)
    y = P.argmax(axis=1).copy()
    wrong = rng.choice(400, 120, replace=False)
    y[wrong] = (y[wrong] + 1) % 4
    P[wrong, y[wrong]] = 0.0  # the true class of every wrong row at exactly 0: NLL-fitted T blows up
    P /= P.sum(axis=1, keepdims=True)
    assert thresholded_confidence_accuracy(P, P, y) == pytest.approx(0.7, abs=1 / 400)
    T = fit_temperature(P, y)
    assert apply_temperature(P, T).max(axis=1).mean() < 0.65  # what the mean-confidence estimate does here


def test_thresholded_confidence_tracks_a_pool_of_calibrated_predictions():
    from fewlabels.calibrate import thresholded_confidence_accuracy

    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.full(3, 0.5), size=6000)
    y = np.array([rng.choice(3, p=p) for p in P])  # calibrated by construction
    pool_acc = float((P[:5000].argmax(axis=1) == y[:5000]).mean())
    # 1,000 held-out rows: the threshold's own sampling error is about sqrt(.2/1000) = 0.014
    assert thresholded_confidence_accuracy(P[:5000], P[5000:], y[5000:]) == pytest.approx(pool_acc, abs=0.05)
