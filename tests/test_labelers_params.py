"""Every registered labeler follows scikit-learn's parameter contract: ``get_params(deep=...)``,
``set_params`` and ``sklearn.base.clone`` (issue 23: clone failed on ``deep``)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from fewlabels.errors import ConfigError
from fewlabels.labelers.registry import GROUP_REGISTRY, REGISTRY, VOTE_REGISTRY

ALL = {**REGISTRY, **VOTE_REGISTRY, **GROUP_REGISTRY}


@pytest.mark.parametrize("name", sorted(ALL))
def test_clone_keeps_every_parameter(name):
    cls = ALL[name]
    model = cls(random_state=7) if "random_state" in cls._get_param_names() else cls()
    for deep in (True, False):
        params = model.get_params(deep=deep)
        assert set(cls._get_param_names()) <= set(params)
    twin = clone(model)
    assert type(twin) is cls and twin is not model
    a, b = model.get_params(deep=False), twin.get_params(deep=False)
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key])
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize("name", sorted(ALL))
def test_set_params_sets_and_refuses_unknown_names(name):
    cls = ALL[name]
    model = cls()
    assert model.set_params(random_state=3) is model
    assert model.get_params()["random_state"] == 3
    with pytest.raises(ConfigError, match="invalid parameter 'no_such_param'"):
        model.set_params(no_such_param=1)


def test_clone_of_fitted_labeler_is_unfitted(blobs):
    model = REGISTRY["logistic"](n_classes=blobs.k).fit(blobs.X, blobs.y)
    twin = clone(model)
    assert not [a for a in vars(twin) if a.endswith("_")]
    np.testing.assert_array_equal(twin.fit(blobs.X, blobs.y).predict(blobs.X), model.predict(blobs.X))


def test_repr_lists_parameters():
    r = repr(REGISTRY["logistic"](C=2.0))
    assert r.startswith("LogisticLabeler(") and "C=2.0" in r
