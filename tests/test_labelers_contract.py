"""Contract tests: every method in the registry keeps the one labeler interface.

Parametrized over ``REGISTRY`` so a new method is checked as soon as it gets its line.
"""

from __future__ import annotations

import numpy as np
import pytest

from fewlabels.errors import InputError, NotFittedError
from fewlabels.labelers.base import BaseLabeler
from fewlabels.labelers.registry import GROUP_REGISTRY, REGISTRY, VOTE_REGISTRY, build_labeler, make_labeler
from fewlabels.pool import POOL_FIELDS, Pool

NAMES = sorted(REGISTRY)
TRANSDUCTIVE = [name for name in NAMES if REGISTRY[name].transductive]


def build(name, blobs, class_embeddings=None):
    ce = blobs.centres if class_embeddings is None else class_embeddings
    return make_labeler(name, n_classes=blobs.k, class_embeddings=ce, random_state=0)


def assert_valid_proba(P, n, k):
    assert P.shape == (n, k)
    assert np.isfinite(P).all()
    assert (P >= 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)


def perturbed_copies(X, rows, seed=1, noise=0.01):
    rng = np.random.default_rng(seed)
    Xn = X[rows] + noise * rng.normal(size=(len(rows), X.shape[1]))
    return (Xn / np.linalg.norm(Xn, axis=1, keepdims=True)).astype(np.float32)


def test_registry_is_not_empty_and_names_match():
    assert {"logistic", "prototype", "spreading", "zeroshot"} <= set(REGISTRY)
    for name, cls in REGISTRY.items():
        assert issubclass(cls, BaseLabeler)
        assert cls.name == name
        assert set(cls.needs) <= set(POOL_FIELDS), f"{name} needs keys the pipeline never passes"


ALL_METHODS = {**REGISTRY, **VOTE_REGISTRY, **GROUP_REGISTRY}


@pytest.mark.parametrize("name", sorted(ALL_METHODS))
def test_a_method_reads_what_its_class_says_from_the_pool(name):
    """``reads`` names pool fields; building from a pool hands the method each of them, and
    every pool field the method keeps as a parameter is one it says it reads."""
    cls = ALL_METHODS[name]
    assert set(cls.reads) <= set(POOL_FIELDS), f"{name} reads fields a pool does not have"
    assert set(cls.needs) <= set(cls.reads) | {"votes"}, f"{name} needs a field it does not read"
    markers = {field: object() for field in POOL_FIELDS}
    model = cls.from_pool(Pool(**markers))
    params = model.get_params()
    for field in cls.reads:
        assert params[field] is markers[field], f"{name} did not get the pool's {field}"
    assert set(params) & set(POOL_FIELDS) <= set(cls.reads), f"{name} takes pool fields it does not declare"
    if name in {**REGISTRY, **VOTE_REGISTRY}:
        again = build_labeler(name, Pool(**markers))
        assert again.get_params().keys() == params.keys()


def test_make_labeler_takes_pool_fields_as_keywords(blobs):
    model = make_labeler("zeroshot", class_embeddings=blobs.centres, n_classes=blobs.k, not_a_field=1)
    assert model.class_embeddings is blobs.centres and model.n_classes == blobs.k


@pytest.mark.parametrize("name", NAMES)
def test_init_only_stores_parameters(name, blobs):
    model = build(name, blobs)
    assert not [a for a in vars(model) if a.endswith("_")], "learned attributes before fit"
    clone = type(model)(**model.get_params())
    assert clone.get_params().keys() == model.get_params().keys()


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_sets_classes(name, blobs):
    model = build(name, blobs)
    assert model.fit(blobs.X, blobs.y) is model
    np.testing.assert_array_equal(model.classes_, np.arange(blobs.k))
    assert model.n_features_in_ == blobs.d


@pytest.mark.parametrize("name", NAMES)
def test_predict_proba_shape_rows_sum_to_one(name, blobs):
    P = build(name, blobs).fit(blobs.X, blobs.y).predict_proba(blobs.X)
    assert_valid_proba(P, blobs.n, blobs.k)


@pytest.mark.parametrize("name", NAMES)
def test_predict_values_in_classes_and_match_argmax(name, blobs):
    model = build(name, blobs).fit(blobs.X, blobs.y)
    pred = model.predict(blobs.X)
    assert pred.shape == (blobs.n,)
    assert set(np.unique(pred)) <= set(model.classes_)
    np.testing.assert_array_equal(pred, model.classes_[model.predict_proba(blobs.X).argmax(axis=1)])


@pytest.mark.parametrize("name", NAMES)
def test_unlabeled_rows_get_labels_and_given_rows_agree(name, blobs):
    """-1 rows are labeled like the rest; on clean blobs the given rows come back as given."""
    model = build(name, blobs).fit(blobs.X, blobs.y)
    pred = model.predict(blobs.X)
    lab = ~blobs.unlabeled
    np.testing.assert_array_equal(pred[lab], blobs.y[lab])


@pytest.mark.parametrize("name", NAMES)
def test_class_without_labels_still_gives_valid_proba(name, blobs):
    y = blobs.y.copy()
    y[y == 2] = -1
    P = build(name, blobs).fit(blobs.X, y).predict_proba(blobs.X)
    assert_valid_proba(P, blobs.n, blobs.k)


@pytest.mark.parametrize("name", NAMES)
def test_float_labels_with_minus_one_are_accepted(name, blobs):
    P_int = build(name, blobs).fit(blobs.X, blobs.y).predict_proba(blobs.X)
    P_float = build(name, blobs).fit(blobs.X, blobs.y.astype(float)).predict_proba(blobs.X)
    np.testing.assert_array_equal(P_int, P_float)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_byte_identical_proba(name, blobs):
    P1 = build(name, blobs).fit(blobs.X, blobs.y).predict_proba(blobs.X)
    P2 = build(name, blobs).fit(blobs.X, blobs.y).predict_proba(blobs.X)
    assert P1.dtype == P2.dtype
    assert P1.tobytes() == P2.tobytes()


@pytest.mark.parametrize("name", NAMES)
def test_predict_proba_before_fit_raises_not_fitted(name, blobs):
    model = build(name, blobs)
    with pytest.raises(NotFittedError, match=r"not fitted.*fit\(X, y\)"):
        model.predict_proba(blobs.X)


@pytest.mark.parametrize("name", NAMES)
def test_predict_before_fit_raises_not_fitted(name, blobs):
    with pytest.raises(NotFittedError):
        build(name, blobs).predict(blobs.X)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_feature_dimension_at_predict_raises(name, blobs):
    model = build(name, blobs).fit(blobs.X, blobs.y)
    with pytest.raises(InputError, match=r"8 features.*16"):
        model.predict_proba(blobs.X[:, :8])


@pytest.mark.parametrize("name", NAMES)
def test_nan_at_fit_raises_naming_the_row(name, blobs):
    X = blobs.X.copy()
    X[7, 3] = np.nan
    with pytest.raises(InputError, match=r"row 8\b.*NaN"):
        build(name, blobs).fit(X, blobs.y)


@pytest.mark.parametrize("name", NAMES)
def test_nan_at_predict_raises_naming_the_row(name, blobs):
    model = build(name, blobs).fit(blobs.X, blobs.y)
    X = blobs.X[:20].copy()
    X[4, 0] = np.inf
    X[11, 0] = np.nan
    with pytest.raises(InputError, match=r"row 5\b.*NaN or infinite.*1 more"):
        model.predict_proba(X)


@pytest.mark.parametrize("name", NAMES)
def test_bad_labels_raise_input_error(name, blobs):
    model = build(name, blobs)
    with pytest.raises(InputError, match="shape"):
        model.fit(blobs.X, blobs.y[:-1])
    y = blobs.y.copy()
    y[0] = blobs.k  # code past the last class
    with pytest.raises(InputError, match="only 3 classes"):
        model.fit(blobs.X, y)
    y[0] = -2
    with pytest.raises(InputError, match="-2"):
        model.fit(blobs.X, y)


@pytest.mark.parametrize("name", NAMES)
def test_accuracy_on_blobs(name, blobs):
    pred = build(name, blobs).fit(blobs.X, blobs.y).predict(blobs.X)
    u = blobs.unlabeled
    accuracy = (pred[u] == blobs.truth[u]).mean()
    assert accuracy >= 0.95, f"{name}: {accuracy:.3f} on well-separated blobs"


@pytest.mark.parametrize("name", NAMES)
def test_new_rows_get_the_class_of_their_source(name, blobs):
    """Perturbed copies of pool rows; for transductive methods this is the extension path."""
    model = build(name, blobs).fit(blobs.X, blobs.y)
    rows = np.arange(0, blobs.n, 7)
    X_new = perturbed_copies(blobs.X, rows)
    P_new = model.predict_proba(X_new)
    assert_valid_proba(P_new, len(rows), blobs.k)
    same = (P_new.argmax(axis=1) == model.predict_proba(blobs.X)[rows].argmax(axis=1)).mean()
    assert same >= 0.95


@pytest.mark.parametrize("name", NAMES)
def test_predict_proba_does_not_change_the_model(name, blobs):
    model = build(name, blobs).fit(blobs.X, blobs.y)
    before = dict(vars(model))
    arrays = {k: v.copy() for k, v in before.items() if isinstance(v, np.ndarray)}
    model.predict_proba(perturbed_copies(blobs.X, np.arange(10)))
    model.predict_proba(blobs.X)
    assert vars(model).keys() == before.keys()
    for key, value in vars(model).items():
        if key in arrays:
            np.testing.assert_array_equal(value, arrays[key], err_msg=key)
        else:
            assert value is before[key], key


@pytest.mark.parametrize("name", TRANSDUCTIVE)
def test_transductive_pool_prediction_is_the_transduction(name, blobs):
    model = build(name, blobs).fit(blobs.X, blobs.y)
    assert model.transduction_.shape == (blobs.n, blobs.k)
    np.testing.assert_array_equal(model.predict_proba(blobs.X), model.transduction_)
    # a float64 copy of the pool is still recognised as the pool
    np.testing.assert_array_equal(model.predict_proba(blobs.X.astype(np.float64)), model.transduction_)
    # the returned array is a copy: editing it leaves the model alone
    P = model.predict_proba(blobs.X)
    P[:] = 0
    assert np.allclose(model.transduction_.sum(axis=1), 1.0)


@pytest.mark.parametrize("name", TRANSDUCTIVE)
def test_transductive_new_rows_mix_pool_rows(name, blobs):
    """An exact copy of a few pool rows (fewer rows than the pool) is labeled like its sources."""
    model = build(name, blobs).fit(blobs.X, blobs.y)
    rows = np.arange(0, blobs.n, 5)
    P_new = model.predict_proba(blobs.X[rows])
    assert_valid_proba(P_new, len(rows), blobs.k)
    np.testing.assert_array_equal(P_new.argmax(axis=1), model.transduction_[rows].argmax(axis=1))


NAN_WITHOUT_ANY_PROTOTYPE = {"prototype", "clustering", "ensemble"}


def _all_unlabeled_params():
    for name in NAMES:
        marks = ()
        yield pytest.param(name, marks=marks)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("name", list(_all_unlabeled_params()))
def test_no_labels_and_no_class_embeddings_is_valid_or_refused(name, blobs):
    """Either a clean FewLabelsError or valid probabilities, never NaN."""
    from fewlabels.errors import FewLabelsError

    model = make_labeler(name, n_classes=blobs.k, random_state=0)
    try:
        P = model.fit(blobs.X, np.full(blobs.n, -1)).predict_proba(blobs.X)
    except FewLabelsError:
        return
    assert_valid_proba(P, blobs.n, blobs.k)
