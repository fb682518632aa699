"""Honest numbers (issue 22): the zero-label estimate abstains when the rules cannot identify
it, calibration is kept off when it does not help, the given labels' evidence beats the
model's figure, classes without labels widen the estimate, and vectors that cannot tell rows
apart are warned about. Synthetic data with known truth throughout."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_blobs

from fewlabels.calibrate import cross_fitted_ece
from fewlabels.honesty import (check_against_labels, keep_calibration_if_it_helps, unlabeled_classes_share,
                               vector_warnings)
from fewlabels.pipeline import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool
from fewlabels.zero_label_estimate import identifiability, rules_accuracy_estimate


def one_class_rules(n=1200, k=4, acc=0.85, fire=0.6, seed=0):
    """Two one-class rules per class, never two on one row: agreement says nothing."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    X = rng.normal(size=(n, 8)) + 1.5 * np.eye(k, 8)[truth]
    L = np.full((n, 2 * k), -1)
    for i in np.flatnonzero(rng.random(n) < fire):
        c = truth[i] if rng.random() < acc else rng.choice([c for c in range(k) if c != truth[i]])
        L[i, 2 * c + rng.integers(0, 2)] = c
    return X, L, truth


def overlapping_rules(n=1500, k=3, accs=(0.85, 0.8, 0.75, 0.7, 0.8), fire=0.7, seed=0):
    """Rules that vote any class, right with their accuracy, wrong uniformly, and overlap a lot:
    the one-coin and Dawid-Skene models are identified."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    X = rng.normal(size=(n, 8)) + 1.0 * np.eye(k, 8)[truth]
    L = np.full((n, len(accs)), -1)
    for j, a in enumerate(accs):
        on = rng.random(n) < fire
        right = rng.random(n) < a
        wrong = (truth + rng.integers(1, k, n)) % k
        L[on, j] = np.where(right, truth, wrong)[on]
    return X, L, truth


def test_one_class_rules_that_never_overlap_abstain_with_the_truth_in_the_bound():
    X, L, truth = one_class_rules()
    labels = np.where((L >= 0).any(axis=1), L.max(axis=1), 0)
    est = rules_accuracy_estimate(X, L, 4, labels=labels)
    assert est["abstained"] is True and est["value"] is None
    assert "two or more votes" in est["reason"]
    assert est["low"] <= float(np.mean(labels == truth)) <= est["high"]
    assert "fewlabels audit TABLE --n 50" in est["next_step"] and "--audit audit.csv" in est["next_step"]


def test_one_class_rules_with_few_conflicts_abstain():
    """Overlapping one-class rules of the same class always agree: many rows with two votes,
    hardly any conflict, so nothing shows how often they are wrong."""
    rng = np.random.default_rng(1)
    n, k = 1000, 3
    truth = rng.integers(0, k, n)
    L = np.full((n, 2 * k), -1)
    for i in np.flatnonzero(rng.random(n) < 0.7):
        c = truth[i] if rng.random() < 0.9 else (truth[i] + 1) % k
        L[i, 2 * c] = L[i, 2 * c + 1] = c  # both rules of the class fire together
    checks = identifiability(L, k)
    assert checks["one_class_rules"] and checks["rows_with_conflict"] == 0
    assert "votes for two classes" in checks["reason"]


def test_identifiable_rules_give_a_point_estimate_whose_interval_holds_the_truth():
    X, L, truth = overlapping_rules()
    est = rules_accuracy_estimate(X, L, 3)
    assert est["abstained"] is False and est["identifiability"]["reason"] is None
    from fewlabels.labelers.label_models import DawidSkeneLabeler

    labels = DawidSkeneLabeler(n_classes=3, random_state=0).fit(L, np.full(len(truth), -1)).predict(L)
    true_acc = float(np.mean(labels == truth))
    assert est["low"] - 0.02 <= true_acc <= est["high"] + 0.02
    assert abs(est["value"] - true_acc) < 0.05


def test_a_label_model_that_fell_back_makes_it_abstain():
    X, L, _ = overlapping_rules()
    checks = identifiability(L, 3, value=0.9, other=0.7)
    assert checks["reason"] is None and checks["model_spread"] == pytest.approx(0.2)
    assert "fell back" in identifiability(L, 3, fell_back=True)["reason"]


def test_label_arrays_abstains_and_says_how_to_verify():
    X, L, truth = one_class_rules(n=600)
    res = label_arrays(Pool(X=X, y=np.full(len(truth), -1), classes=["a", "b", "c", "d"], votes=L),
                       LabelOptions.of(fit_end_model=False))
    est = res.report["estimated_accuracy"]
    assert est["abstained"] and est["value"] is None
    assert est["low"] <= float(np.mean(res.labels == truth)) <= est["high"]
    assert any(w.startswith("no accuracy estimate:") and "fewlabels audit" in w for w in res.warnings)


def test_reversed_vote_codes_make_the_headline_follow_the_labels():
    """Issue 22: votes coded in the reverse order of the classes, --method majority. Every
    unlabeled row is wrong; the headline must not say otherwise."""
    b = make_blobs(n=300, k=4, per_class=8)
    rng = np.random.default_rng(0)
    L = np.stack([np.where(rng.random(b.n) < 0.8, 3 - b.truth, -1) for _ in range(3)], axis=1)
    res = label_arrays(Pool(X=b.X, y=b.y, classes=list(b.classes), votes=L),
                       LabelOptions.of(method="majority", fit_end_model=False))
    est = res.report["estimated_accuracy"]
    true_acc = float(np.mean(res.labels[b.y < 0] == b.truth[b.y < 0]))
    assert true_acc < 0.1
    assert est["cross_validated"]["value"] < 0.1
    assert est["value"] == est["cross_validated"]["value"] and est["followed"].startswith("given labels")
    assert est["model_based"]["value"] > est["high"]
    assert est["low"] <= true_acc <= est["high"]
    assert any("contradict the model-based estimate" in w for w in res.warnings)


def test_estimate_that_agrees_with_the_labels_is_left_alone():
    est = {"value": 0.8, "low": 0.75, "high": 0.85, "cross_validated": {"value": 0.7, "low": 0.6, "high": 0.78,
                                                                        "method": "cv"}}
    warn: list[str] = []
    assert check_against_labels(est, warn) is est and not warn


def test_many_identical_vectors_are_warned_about_before_labeling():
    b = make_blobs(n=300, k=3, per_class=5)
    X = b.X.copy()
    X[:30] = X[0]  # 10% of the rows embed to one vector (emoji-only texts)
    assert any("share one vector" in w for w in vector_warnings(X))
    assert vector_warnings(b.X) == []
    res = label_arrays(Pool(X=X, y=b.y, classes=list(b.classes)), LabelOptions.of(fit_end_model=False))
    assert any("share one vector" in w for w in res.report["warnings"])
    same = np.tile(b.X[:1], (50, 1))
    assert any("carry no signal" in w for w in vector_warnings(same))
    dup = np.vstack([b.X[:100], b.X[:100]])
    assert any("duplicated" in w for w in vector_warnings(dup))


def test_calibration_that_hurts_is_kept_off():
    """Temperature scaling fitted on one fold hurts the other when one fold is overconfident
    and the other underconfident: cross-fitted ECE rises, so T stays 1."""
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 2, n)
    fold = np.repeat([0, 1], n // 2)
    right = rng.random(n) < 0.75
    pred = np.where(right, y, 1 - y)
    conf = np.where(fold == 0, 0.99, 0.52)  # fold 0 far too sure, fold 1 far too unsure
    P = np.zeros((n, 2))
    P[np.arange(n), pred] = conf
    P[np.arange(n), 1 - pred] = 1 - conf
    ece = cross_fitted_ece(P, y, fold)
    assert ece["ece_after"] >= ece["ece_before"]
    warn: list[str] = []
    T, out = keep_calibration_if_it_helps(2.5, ece, warn)
    assert T == 1.0 and out["applied"] is False and out["fitted_temperature"] == 2.5
    assert warn and "kept off" in warn[0]
    T, out = keep_calibration_if_it_helps(2.5, dict(ece, ece_after=ece["ece_before"] / 2), [])
    assert T == 2.5 and out["applied"] is True


def test_label_arrays_reports_whether_calibration_was_applied(_blobs_session):
    b = _blobs_session
    cal = label_arrays(Pool(X=b.X, y=b.y, classes=list(b.classes)),
                       LabelOptions.of(fit_end_model=False)).report["calibration"]
    assert isinstance(cal["applied"], bool)
    assert (cal["ece_after"] < cal["ece_before"]) == cal["applied"]
    assert cal["temperature"] == (cal["fitted_temperature"] if cal["applied"] else 1.0)


def test_rows_in_classes_without_labels_widen_the_estimate():
    y = np.array([0, 1, -1, -1, -1, -1])
    labels = np.array([0, 1, 0, 1, 2, 2])  # class 2 never given: half the scored rows
    conf = np.array([1, 1, 0.9, 0.9, 0.8, 0.8])
    est = {"value": 0.85, "low": 0.8, "high": 0.9}
    warn: list[str] = []
    out = unlabeled_classes_share(est, labels, conf, y, ["a", "b", "c"], warn)
    assert out["unlabeled_classes"]["share"] == 0.5 and out["unlabeled_classes"]["classes"] == ["c"]
    assert out["value"] == pytest.approx(0.85 + 0.5 * (0.5 - 0.8))
    assert out["low"] == pytest.approx(0.8 - 0.5 * 0.8) and out["high"] == pytest.approx(0.9 + 0.5 * 0.2)
    assert warn and "no given label" in warn[0]
    assert unlabeled_classes_share(est, labels, conf, np.array([0, 1, 2, -1, -1, -1]), ["a", "b", "c"], []) is est


def test_class_without_labels_through_label_arrays_keeps_the_truth_in_the_interval():
    b = make_blobs(n=300, k=3, per_class=8, seed=3)
    y = np.where(b.y == 2, -1, b.y)  # class 2 named, never labeled; its name (centre) still known
    res = label_arrays(Pool(X=b.X, y=y, classes=list(b.classes), class_embeddings=b.centres),
                       LabelOptions.of(fit_end_model=False))
    est = res.report["estimated_accuracy"]
    true_acc = float(np.mean(res.labels[y < 0] == b.truth[y < 0]))
    if (res.labels[y < 0] == 2).any():
        assert est["unlabeled_classes"]["classes"] == ["class_2"]
    assert est["low"] <= true_acc <= est["high"]


def test_terminal_and_html_show_an_abstained_estimate_without_a_number():
    from fewlabels.cli import _fmt_est
    from fewlabels.report.html import render_report
    from fewlabels.zero_label_estimate import abstained_estimate

    X, L, _ = one_class_rules(n=400)
    est = abstained_estimate(identifiability(L, 4), 0.6, model="weighted_majority", value_if_trusted=0.21)
    line = _fmt_est(est)
    assert line.startswith("none: abstained") and "0.21" not in line
    report = {"method": "fused", "estimated_accuracy": est, "candidates": {}, "warnings": [],
              "calibration": {"temperature": 1.0}, "n_rows": 400, "n_given": 0}
    page = render_report(report)
    head = page.split('id="estimate">')[1].split("</div>")[0]
    assert head == "no estimate" and "abstained" in page and "fewlabels audit TABLE" in page


def test_html_says_when_calibration_was_kept_off():
    from fewlabels.report.html import render_report

    est = {"value": 0.8, "low": 0.7, "high": 0.9, "n_labels": 20}
    cal = {"temperature": 1.0, "fitted_temperature": 2.0, "ece_before": 0.05, "ece_after": 0.08, "applied": False}
    page = render_report({"method": "logistic", "estimated_accuracy": est, "candidates": {}, "warnings": [],
                          "calibration": cal}, oof=np.array([[0.8, 0.2], [0.3, 0.7]]), y_labeled=np.array([0, 1]))
    assert "kept off" in page
