"""LabelResult's notebook/console views and its class names (issue 23: printing a result
dumped 71,084 characters; ``labels`` are codes while the end model predicts names)."""

from __future__ import annotations

import numpy as np

from fewlabels import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool


def _result(n=3000, k=3, n_labels=45):
    rng = np.random.default_rng(0)
    c = rng.integers(0, k, n)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    X[:, :k] += 3 * np.eye(k)[c]
    y = np.full(n, -1)
    y[:n_labels] = c[:n_labels]
    return label_arrays(Pool(X=X, y=y, classes=["alpha", "beta", "gamma <b>"]),
                        LabelOptions.of(candidates=["logistic", "prototype"])), c


def test_repr_is_short_and_names_method_estimate_and_counts():
    r, _ = _result()
    text = repr(r)
    assert len(text) < 1000, len(text)
    assert r.method in text
    est = r.report["estimated_accuracy"]
    assert f"{est['value']:.3f}" in text and f"{est['low']:.3f}" in text
    for name in ("alpha", "beta"):
        assert f"{name} {int((r.label_names == name).sum()):,}" in text


def test_repr_html_is_short_escaped_and_has_a_few_rows():
    r, _ = _result()
    page = r._repr_html_()
    assert len(page) < 3000
    assert "gamma &lt;b&gt;" in page and "gamma <b>" not in page
    assert page.count("<tr>") == 1 + 5  # header + the first five rows


def test_label_names_are_the_class_names_of_the_codes():
    r, truth = _result()
    names = np.array(["alpha", "beta", "gamma <b>"], dtype=object)
    np.testing.assert_array_equal(r.label_names, names[r.labels])
    assert r.classes == list(names)
    assert r.end_model.predict(np.zeros((1, 12), np.float32))[0] in set(names)  # names, as label_names
