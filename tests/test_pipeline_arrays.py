"""label_arrays: the array-level pipeline on blobs with known truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fewlabels.endmodel import EndModel
from fewlabels.errors import ConfigError, InputError
from fewlabels.labelers.registry import REGISTRY
from fewlabels.pipeline import AUTO_CANDIDATES, label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool


@pytest.fixture(scope="module")
def result(_blobs_session):
    b = _blobs_session
    return label_arrays(Pool(X=b.X, y=b.y, classes=list(b.classes), class_embeddings=b.centres), LabelOptions.of())


def test_labels_and_given_rows(result, blobs):
    n, k = blobs.n, blobs.k
    assert result.labels.shape == (n,)
    assert result.proba.shape == (n, k)
    assert result.confidence.shape == (n,) and result.source.shape == (n,)
    np.testing.assert_allclose(result.proba.sum(axis=1), 1.0)
    lab = ~blobs.unlabeled
    np.testing.assert_array_equal(result.labels[lab], blobs.y[lab])
    assert (result.source[lab] == "given").all()
    assert (result.confidence[lab] == 1.0).all()
    assert (result.source[~lab] == result.method).all()
    np.testing.assert_array_equal(result.confidence, result.proba[np.arange(n), result.labels])
    u = blobs.unlabeled
    assert (result.labels[u] == blobs.truth[u]).mean() >= 0.95
    assert result.method in REGISTRY


def test_report_contents(result, blobs):
    r = result.report
    assert {"method", "estimated_accuracy", "candidates", "calibration", "class_counts", "timings_s"} <= set(r)
    json.dumps(r)  # JSON-ready
    est = r["estimated_accuracy"]
    assert {"value", "low", "high"} <= set(est)
    assert 0.0 <= est["low"] <= est["value"] <= est["high"] <= 1.0
    assert est["n_labels"] == int((blobs.y >= 0).sum())
    assert r["method"] == result.method
    assert set(r["candidates"]) == set(AUTO_CANDIDATES)
    assert r["candidates"][r["method"]]["accuracy"] == est["cross_validated"]["uncorrected"]
    assert r["fallback"] is None
    assert {"temperature", "ece_before", "ece_after"} <= set(r["calibration"])
    assert r["class_counts"]["given"] == {c: 5 for c in blobs.classes}
    assert sum(r["class_counts"]["labeled"].values()) == blobs.n
    assert r["class_counts"]["labeled"] == {c: int((result.labels == i).sum()) for i, c in enumerate(blobs.classes)}
    assert {"select", "calibrate", "label", "graph"} <= set(r["timings_s"])
    assert r["n_rows"] == blobs.n and r["n_given"] == 15


def test_end_model_generalises(result, blobs):
    assert isinstance(result.end_model, EndModel)
    pred = result.end_model.predict(blobs.X)
    names = np.asarray(blobs.classes, dtype=object)
    assert (pred == names[blobs.truth]).mean() >= 0.95


def test_zero_labels_falls_back_to_selftraining_from_zero_shot(blobs):
    res = label_arrays(Pool(X=blobs.X, y=np.full(blobs.n, -1), classes=list(blobs.classes), class_embeddings=blobs.centres),
                       LabelOptions.of())
    assert res.method == "selftraining"
    assert isinstance(res.report["fallback"], str) and "selftraining" in res.report["fallback"]
    assert res.report["estimated_accuracy"] is None
    assert res.report["calibration"]["temperature"] == 1.0
    assert (res.source == "selftraining").all()
    assert (res.labels == blobs.truth).mean() >= 0.95


def test_zero_labels_without_class_embeddings_raises(blobs):
    with pytest.raises(InputError, match=r"only 0 given label"):
        label_arrays(Pool(X=blobs.X, y=np.full(blobs.n, -1), classes=list(blobs.classes)), LabelOptions.of())


def test_one_label_uses_selftraining_with_class_embeddings(blobs):
    y = np.full(blobs.n, -1)
    y[0] = blobs.truth[0]
    res = label_arrays(Pool(X=blobs.X, y=y, classes=list(blobs.classes), class_embeddings=blobs.centres),
                       LabelOptions.of())
    assert res.method == "selftraining"
    assert (res.labels == blobs.truth).mean() >= 0.95
    assert isinstance(res.report["fallback"], str)
    assert res.report["estimated_accuracy"] is None
    assert res.labels[0] == y[0] and res.source[0] == "given"


def test_unknown_method_lists_valid_names(blobs):
    with pytest.raises(ConfigError) as info:
        label_arrays(Pool(X=blobs.X, y=blobs.y, classes=list(blobs.classes)), LabelOptions.of(method="nonexistent"))
    msg = str(info.value)
    assert "nonexistent" in msg
    for name in REGISTRY:
        assert name in msg
    with pytest.raises(ConfigError, match="nonexistent"):
        label_arrays(Pool(X=blobs.X, y=blobs.y, classes=list(blobs.classes)),
                     LabelOptions.of(candidates=["logistic", "nonexistent"]))


def test_method_needing_class_embeddings_without_them_raises(blobs):
    with pytest.raises(ConfigError, match="zeroshot.*class_embeddings"):
        label_arrays(Pool(X=blobs.X, y=blobs.y, classes=list(blobs.classes)), LabelOptions.of(method="zeroshot"))


def test_fixed_method_with_too_few_labels_raises(blobs):
    y = np.full(blobs.n, -1)
    y[0] = 0
    with pytest.raises(InputError, match="'logistic' needs at least 2"):
        label_arrays(Pool(X=blobs.X, y=y, classes=list(blobs.classes)), LabelOptions.of(method="logistic"))


@pytest.mark.parametrize("method", sorted(REGISTRY))
def test_each_fixed_method_runs(method, blobs):
    res = label_arrays(Pool(X=blobs.X, y=blobs.y, classes=list(blobs.classes), class_embeddings=blobs.centres),
                       LabelOptions.of(method=method, fit_end_model=False))
    assert res.method == method
    from fewlabels.labelers.registry import get_labeler_class

    cls = get_labeler_class(method)
    members = getattr(cls, "stacked_members", None) or getattr(cls, "default_members", None) or ()
    assert set(res.report["candidates"]) == {method, *members}  # an ensemble is scored from its members
    assert res.end_model is None
    u = blobs.unlabeled
    assert (res.labels[u] == blobs.truth[u]).mean() >= 0.95


def test_same_random_state_identical_output(blobs):
    runs = [label_arrays(Pool(X=blobs.X, y=blobs.y, classes=list(blobs.classes), class_embeddings=blobs.centres),
                         LabelOptions.of(random_state=3))
            for _ in range(2)]
    a, b = runs
    assert a.proba.tobytes() == b.proba.tobytes()
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.confidence, b.confidence)
    assert a.method == b.method
    drop = lambda r: {k: v for k, v in r.items() if k not in ("timings_s", "candidates")}  # noqa: E731
    assert drop(a.report) == drop(b.report)
    assert a.end_model.coef_.tobytes() == b.end_model.coef_.tobytes()


def test_bad_inputs_raise_input_error(blobs):
    with pytest.raises(InputError, match="shape"):
        label_arrays(Pool(X=blobs.X, y=blobs.y[:-1], classes=list(blobs.classes)), LabelOptions.of())
    y = blobs.y.copy()
    y[0] = 3
    with pytest.raises(InputError, match="only 3 classes"):
        label_arrays(Pool(X=blobs.X, y=y, classes=list(blobs.classes)), LabelOptions.of())
    X = blobs.X.copy()
    X[10, 0] = np.nan
    with pytest.raises(InputError, match="row 11"):
        label_arrays(Pool(X=X, y=blobs.y, classes=list(blobs.classes)), LabelOptions.of())


def test_warnings_for_missing_and_single_label_classes(blobs):
    y = blobs.y.copy()
    y[y == 2] = -1
    keep_one = np.flatnonzero(y == 1)[1:]
    y[keep_one] = -1  # class_1 has one label, class_2 none
    res = label_arrays(Pool(X=blobs.X, y=y, classes=list(blobs.classes), class_embeddings=blobs.centres),
                       LabelOptions.of(fit_end_model=False))
    joined = " ".join(res.warnings)
    assert "class_2" in joined and "no given label" in joined
    assert "class_1" in joined and "only one given label" in joined
    assert isinstance(res.report["fallback"], str)
    assert res.report["warnings"] == res.warnings


def test_progress_is_reported(blobs):
    seen = []
    label_arrays(Pool(X=blobs.X, y=blobs.y, classes=list(blobs.classes), class_embeddings=blobs.centres),
                 LabelOptions.of(n_splits=5, fit_end_model=False),
                 progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert seen and all(stage == "select" for stage, _, _ in seen)
    assert seen[-1][1] == seen[-1][2] == len(AUTO_CANDIDATES) * 5


def test_one_label_per_class(blobs):
    y = np.full(blobs.n, -1)
    for c in range(blobs.k):
        y[np.flatnonzero(blobs.truth == c)[0]] = c
    res = label_arrays(Pool(X=blobs.X, y=y, classes=list(blobs.classes), class_embeddings=blobs.centres),
                       LabelOptions.of())
    assert res.labels.shape == (blobs.n,)


def test_progress_total_matches_ticks_with_few_labels_per_class():
    from conftest import make_blobs

    b = make_blobs(per_class=2)
    seen = []
    label_arrays(Pool(X=b.X, y=b.y, classes=list(b.classes), class_embeddings=b.centres),
                 LabelOptions.of(n_splits=5, fit_end_model=False),
                 progress=lambda stage, done, total: seen.append((done, total)))
    assert seen[-1][0] == seen[-1][1]


@pytest.mark.parametrize("method", ["stacking", "ensemble", "prototype"])
def test_forced_method_is_used_and_estimated_without_selection(blobs, method):
    res = label_arrays(Pool(X=blobs.X, y=blobs.y, classes=list(blobs.classes), class_embeddings=blobs.centres),
                       LabelOptions.of(method=method, fit_end_model=False))
    assert res.method == method and (res.source[blobs.y < 0] == method).all()
    est = res.report["estimated_accuracy"]
    cv = est["cross_validated"]
    assert cv["value"] == cv["uncorrected"] == res.report["candidates"][method]["accuracy"]


def test_estimate_is_the_mean_calibrated_confidence_on_unlabeled_rows(result, blobs):
    est = result.report["estimated_accuracy"]
    unl = blobs.y < 0
    assert est["value"] == pytest.approx(result.confidence[unl].mean())
    assert est["cross_validated"]["low"] <= est["cross_validated"]["value"] <= est["cross_validated"]["high"]


def test_every_row_labeled_falls_back_to_the_cross_validated_estimate(blobs):
    res = label_arrays(Pool(X=blobs.X, y=blobs.truth, classes=list(blobs.classes), class_embeddings=blobs.centres),
                       LabelOptions.of(candidates=["logistic", "prototype"], fit_end_model=False))
    est = res.report["estimated_accuracy"]
    assert "cross_validated" not in est and est["value"] == pytest.approx(est["uncorrected"], abs=0.05)
