"""FewLabelsClassifier is a scikit-learn estimator (issue 23): the estimator checks that
apply, clone, Pipeline and GridSearchCV, fitted on partly labeled y (-1 / None)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fewlabels
from fewlabels.errors import InputError
from fewlabels.estimator import EXPECTED_FAILED_CHECKS, FewLabelsClassifier
from fewlabels.pipeline import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool

GOLDEN = Path(__file__).parent / "golden" / "inputs"

#: two candidates keep the ~55 checks quick; they test the API, not the method choice
FAST = dict(candidates=("logistic", "prototype"), n_splits=3)


@parametrize_with_checks([FewLabelsClassifier(**FAST)], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_expected_failures_are_only_the_documented_one():
    assert set(EXPECTED_FAILED_CHECKS) == {"check_classifiers_classes"}
    assert "check_classifiers_classes" in FewLabelsClassifier.__doc__


@pytest.fixture(scope="module")
def sms():
    """300 real SMS messages (stored MiniLM vectors), 20 given labels, the rest -1."""
    X = np.load(GOLDEN / "sms300.npy")
    truth = np.array(json.loads((GOLDEN / "sms300_truth.json").read_text())["label"], dtype=object)
    rng = np.random.default_rng(0)
    y = np.full(len(truth), None, dtype=object)
    for c in ("ham", "spam"):
        y[rng.choice(np.flatnonzero(truth == c), 10, replace=False)] = c
    return X, y, truth


def test_fit_on_partly_labeled_names_gives_transduction_and_estimate(sms):
    X, y, truth = sms
    clf = FewLabelsClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, ["ham", "spam"])
    assert clf.n_features_in_ == X.shape[1]
    assert clf.transduction_.shape == (len(y),) and set(clf.transduction_) <= {"ham", "spam"}
    given = np.flatnonzero(y != None)  # noqa: E711
    np.testing.assert_array_equal(clf.transduction_[given], y[given])
    np.testing.assert_allclose(clf.label_distributions_.sum(axis=1), 1.0)
    unl = np.flatnonzero(y == None)  # noqa: E711
    acc = float((clf.transduction_[unl] == truth[unl]).mean())
    assert acc > 0.85, acc
    assert 0 < clf.estimated_accuracy_ <= 1 and abs(clf.estimated_accuracy_ - acc) < 0.15
    assert clf.report_["method"] == clf.method_
    # the same run as label_arrays on the same codes
    codes = np.array([-1 if v is None else ["ham", "spam"].index(v) for v in y])
    ref = label_arrays(Pool(X=X, y=codes, classes=["ham", "spam"]), LabelOptions.of(**FAST))
    np.testing.assert_array_equal(clf.transduction_, np.array(["ham", "spam"], dtype=object)[ref.labels])
    assert clf.predict(X[:5]).tolist() == clf.end_model_.predict(X[:5]).tolist()
    assert clf.score(X, truth) > 0.85


def test_minus_one_and_int_classes_as_semi_supervised(sms):
    X, y, truth = sms
    yi = np.array([-1 if v is None else int(v == "spam") for v in y])
    clf = FewLabelsClassifier(**FAST).fit(X, yi)
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    assert clf.transduction_.dtype.kind == "i" and set(clf.transduction_) <= {0, 1}
    assert clf.predict(X[:3]).dtype.kind == "i"
    # score leaves the unlabeled rows out: only the 20 given ones count
    assert clf.score(X, yi) == pytest.approx(float((clf.predict(X)[yi >= 0] == yi[yi >= 0]).mean()))


def test_clone_gives_an_unfitted_equal_estimator(sms):
    X, y, _ = sms
    clf = FewLabelsClassifier(method="prototype", n_splits=4, random_state=3).fit(X, y)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "classes_")
    np.testing.assert_array_equal(twin.fit(X, y).transduction_, clf.transduction_)


def test_inside_a_pipeline_with_a_scaler(sms):
    X, y, truth = sms
    pipe = make_pipeline(StandardScaler(), FewLabelsClassifier(**FAST)).fit(X, y)
    assert pipe.score(X, truth) > 0.8
    assert pipe.predict_proba(X[:4]).shape == (4, 2)


def test_grid_search_over_method(sms):
    X, y, truth = sms
    yi = np.array([-1 if v is None else int(v == "spam") for v in y])
    search = GridSearchCV(FewLabelsClassifier(n_splits=3), {"method": ["logistic", "prototype"]}, cv=3).fit(X, yi)
    assert search.best_params_["method"] in ("logistic", "prototype")
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and (scores > 0.5).all()
    assert search.best_estimator_.method_ == search.best_params_["method"]


def test_bad_y_is_a_clear_error(sms):
    X, y, _ = sms
    with pytest.raises(InputError, match="1 class"):
        FewLabelsClassifier().fit(X, np.where(y == "spam", None, y))
    with pytest.raises(InputError, match="NaN"):
        FewLabelsClassifier().fit(X, np.full(len(y), np.nan))
    with pytest.raises(InputError, match="not in classes"):
        FewLabelsClassifier(classes=["ham", "other"]).fit(X, y)
    with pytest.raises(InputError, match="row 1: None is not a text"):
        FewLabelsClassifier().fit(["a text", None, "b"], ["x", "y", None])


def test_exported_from_the_package():
    assert fewlabels.FewLabelsClassifier is FewLabelsClassifier


@pytest.mark.slow
def test_fits_on_texts_with_the_packaged_encoder(sms):
    _, y, truth = sms
    texts = json.loads((GOLDEN / "sms300_truth.json").read_text())["text"]
    clf = FewLabelsClassifier(finetune="off", **FAST).fit(texts[:120], y[:120])
    assert not hasattr(clf, "n_features_in_")
    assert clf.predict(["WINNER! claim your free prize now, txt 80082"])[0] == "spam"
    assert clf.score(texts[120:200], truth[120:200]) > 0.85
