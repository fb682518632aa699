"""End model: fit/predict, save/load as npz + json without pickle, atomic replacement."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fewlabels.endmodel import FORMAT_VERSION, EndModel
from fewlabels.errors import InputError, NotFittedError


@pytest.fixture
def fitted(blobs):
    return EndModel().fit(blobs.X, blobs.truth, classes=list(blobs.classes))


def test_fit_predict_on_blobs(blobs, fitted):
    P = fitted.predict_proba(blobs.X)
    assert P.shape == (blobs.n, blobs.k)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    pred = fitted.predict(blobs.X)
    assert (pred == np.asarray(blobs.classes, dtype=object)[blobs.truth]).mean() >= 0.98
    assert fitted.coef_.shape == (blobs.k, blobs.d)
    assert fitted.n_features_in_ == blobs.d


def test_fit_uses_sample_weight(blobs):
    """Near-zero weight on every class-1 row: the model all but loses class 1."""
    w = np.where(blobs.truth == 1, 1e-6, 1.0)
    P = EndModel().fit(blobs.X, blobs.truth, sample_weight=w).predict_proba(blobs.X)
    P_full = EndModel().fit(blobs.X, blobs.truth).predict_proba(blobs.X)
    assert P[blobs.truth == 1, 1].mean() < P_full[blobs.truth == 1, 1].mean() - 0.3


def test_binary_case_matches_sklearn(blobs):
    from sklearn.linear_model import LogisticRegression

    m = blobs.truth < 2
    X, y = blobs.X[m], blobs.truth[m]
    model = EndModel().fit(X, y, classes=["no", "yes"])
    P = model.predict_proba(X)
    assert P.shape == (len(y), 2)
    ref = LogisticRegression(C=10.0, max_iter=300, random_state=0).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(P, ref, atol=1e-5)
    assert set(model.predict(X)) <= {"no", "yes"}
    assert (model.predict(X) == np.array(["no", "yes"], dtype=object)[y]).mean() >= 0.98


def test_absent_and_single_classes(blobs):
    # class 1 never appears in the labels: probability 0 for it
    m = blobs.truth != 1
    P = EndModel().fit(blobs.X[m], blobs.truth[m], classes=list(blobs.classes)).predict_proba(blobs.X)
    assert (P[:, 1] == 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    # one class only: every row gets it
    P = EndModel().fit(blobs.X, np.full(blobs.n, 2), classes=list(blobs.classes)).predict_proba(blobs.X)
    np.testing.assert_array_equal(P, np.tile([0.0, 0.0, 1.0], (blobs.n, 1)))


def test_save_load_round_trip(tmp_path, blobs, fitted):
    out = fitted.save(tmp_path / "model", metadata={"encoder": "fake:1"})
    assert out == tmp_path / "model"
    assert sorted(p.name for p in out.iterdir()) == ["model.json", "model.npz"]
    with np.load(out / "model.npz", allow_pickle=False) as z:
        assert set(z.files) == {"coef", "intercept"}
    meta = json.loads((out / "model.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["classes"] == list(blobs.classes)
    assert meta["encoder"] == "fake:1"

    loaded, meta2 = EndModel.load(out)
    assert meta2 == meta
    P0 = fitted.predict_proba(blobs.X)
    P1 = loaded.predict_proba(blobs.X)
    assert P0.tobytes() == P1.tobytes()
    np.testing.assert_array_equal(loaded.predict(blobs.X), fitted.predict(blobs.X))
    assert loaded.C == fitted.C and loaded.max_iter == fitted.max_iter


def test_save_load_round_trip_with_absent_class(tmp_path, blobs):
    """-inf intercepts of classes never seen survive the npz round trip."""
    m = blobs.truth != 0
    model = EndModel().fit(blobs.X[m], blobs.truth[m], classes=list(blobs.classes))
    loaded, _ = EndModel.load(model.save(tmp_path / "m"))
    assert np.isneginf(loaded.intercept_[0])
    assert model.predict_proba(blobs.X).tobytes() == loaded.predict_proba(blobs.X).tobytes()


@pytest.mark.parametrize("missing", ["model.json", "model.npz"])
def test_load_folder_lacking_files_raises(tmp_path, fitted, missing):
    out = fitted.save(tmp_path / "model")
    (out / missing).unlink()
    with pytest.raises(InputError, match=r"not a fewlabels model folder.*model\.json and model\.npz"):
        EndModel.load(out)


def test_load_missing_folder_raises(tmp_path):
    with pytest.raises(InputError, match=str(tmp_path / "nowhere")):
        EndModel.load(tmp_path / "nowhere")


def test_load_corrupt_files_raises(tmp_path, fitted):
    out = fitted.save(tmp_path / "model")
    (out / "model.json").write_text("{not json")
    with pytest.raises(InputError, match="unreadable"):
        EndModel.load(out)
    out = fitted.save(tmp_path / "model2")
    (out / "model.npz").write_bytes(b"garbage")
    with pytest.raises(InputError, match="unreadable"):
        EndModel.load(out)
    out = fitted.save(tmp_path / "model3")
    meta = json.loads((out / "model.json").read_text())
    meta["kind"] = "something.else"
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="not a fewlabels end model"):
        EndModel.load(out)


def test_pickled_arrays_are_refused(tmp_path, fitted):
    out = fitted.save(tmp_path / "model")
    np.savez(out / "model.npz", coef=np.array([object()], dtype=object), intercept=np.zeros(3))
    with pytest.raises(InputError, match="unreadable"):
        EndModel.load(out)


def test_dimension_mismatch_raises(blobs, fitted, tmp_path):
    with pytest.raises(InputError, match="dimension 8 but the model expects 16"):
        fitted.predict_proba(blobs.X[:, :8])
    loaded, _ = EndModel.load(fitted.save(tmp_path / "m"))
    with pytest.raises(InputError, match="dimension 20 but the model expects 16"):
        loaded.predict(np.ones((3, 20)))


def test_predict_proba_before_fit_raises(blobs):
    with pytest.raises(NotFittedError, match="not fitted"):
        EndModel().predict_proba(blobs.X)


def test_predict_before_fit_raises(blobs):
    with pytest.raises(NotFittedError):
        EndModel().predict(blobs.X)


def test_nan_rows_raise(fitted, blobs):
    X = blobs.X[:5].copy()
    X[2, 2] = np.nan
    with pytest.raises(InputError, match="row 3"):
        fitted.predict_proba(X)


def test_save_over_existing_folder_replaces_it(tmp_path, blobs, fitted):
    # a previous model folder is replaced as a whole (a folder holding other files is refused:
    # tests/test_trust_outputs.py)
    target = tmp_path / "model"
    other = EndModel().fit(blobs.X, (blobs.truth + 1) % 3, classes=list(blobs.classes))
    other.save(target)
    fitted.save(target)
    assert sorted(p.name for p in target.iterdir()) == ["model.json", "model.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"], "temp or .old folders left behind"
    loaded, _ = EndModel.load(target)
    assert loaded.predict_proba(blobs.X).tobytes() == fitted.predict_proba(blobs.X).tobytes()


def test_failed_save_leaves_existing_model_and_no_temp_dirs(tmp_path, blobs, fitted, monkeypatch):
    target = fitted.save(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    other = EndModel().fit(blobs.X, (blobs.truth + 1) % 3)
    with pytest.raises(InputError, match="cannot write --save-model \\(disk full\\); no output was changed"):
        other.save(target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_save_creates_missing_parents(tmp_path, fitted):
    out = fitted.save(tmp_path / "a" / "b" / "model")
    assert (out / "model.json").is_file()


def test_save_before_fit_raises_not_fitted(tmp_path):
    with pytest.raises(NotFittedError):
        EndModel().save(tmp_path / "m")
