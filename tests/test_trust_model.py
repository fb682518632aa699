"""Issue 11, model folders: ``predict`` with a damaged or inconsistent model folder is a
one-line error naming the file and the fault (it had labelled every row with confidence
``nan``, exit 0, or shown a traceback)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fewlabels.endmodel import EndModel
from fewlabels.errors import InputError
from test_cli_errors import _make_work, assert_rejected


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A model folder saved by ``EndModel.save`` on the 8-D blobs of the CLI tests."""
    tmp = tmp_path_factory.mktemp("trust_model")
    w = _make_work(tmp)
    return EndModel().fit(w.X, w.truth, classes=["a", "b", "c"]).save(tmp / "model")


# ``work``: test_cli_errors' work folder, where building an encoder fails the test
from test_cli_errors import work  # noqa: E402,F401  (a pytest fixture, found by its name)


def _damaged(work, saved, edit_json=None, edit_npz=None):
    model = work.root / "model"
    shutil.copytree(saved, model)
    if edit_json is not None:
        meta = json.loads((model / "model.json").read_text())
        (model / "model.json").write_text(json.dumps(edit_json(meta)))
    if edit_npz is not None:
        with np.load(model / "model.npz") as z:
            arrays = dict(z)
        np.savez(model / "model.npz", **edit_npz(arrays))
    return model


def _without(key):
    def edit(meta):
        del meta[key]
        return meta
    return edit


CASES = {
    "json-without-classes": (dict(edit_json=_without("classes")), "model.json", "'classes' must be a list"),
    "classes-of-wrong-type": (dict(edit_json=lambda m: {**m, "classes": "a,b,c"}), "model.json",
                              "'classes' must be a list"),
    "json-is-a-list": (dict(edit_json=lambda m: [m]), "model.json", "holds a JSON list, not an object"),
    "more-classes-than-weights": (dict(edit_json=lambda m: {**m, "classes": ["a", "b", "c", "d"]}), "model.npz",
                                  "lists 4 classes of 8 features"),
    "nan-in-weights": (dict(edit_npz=lambda a: {**a, "coef": np.where(np.eye(3, 8) > 0, np.nan, a["coef"])}),
                       "model.npz", "'coef' hold NaN or infinite values"),
    "transposed-weights": (dict(edit_npz=lambda a: {**a, "coef": a["coef"].T.copy()}), "model.npz",
                           "have shape (8, 3)"),
    "nan-intercept": (dict(edit_npz=lambda a: {**a, "intercept": np.full(3, np.nan)}), "model.npz",
                      "'intercept' holds NaN"),
    "wrong-n-features": (dict(edit_json=lambda m: {**m, "n_features": "8"}), "model.json",
                         "'n_features' must be a positive integer"),
    "future-format": (dict(edit_json=lambda m: {**m, "format_version": 99}), "model.json",
                      "format_version 99"),
    "missing-array": (dict(edit_npz=lambda a: {"coef": a["coef"]}), "model.npz", "has no array 'intercept'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_predict_with_damaged_model_folder_names_the_file_and_fault(work, saved, case):
    edits, file, fault = CASES[case]
    model = _damaged(work, saved, **edits)
    before = work.snapshot()
    assert_rejected(work, before, work.predict(model), str(model / file), fault)


def test_predict_with_truncated_npz_names_the_file(work, saved):
    model = _damaged(work, saved)
    data = (model / "model.npz").read_bytes()
    (model / "model.npz").write_bytes(data[: len(data) // 2])
    before = work.snapshot()
    assert_rejected(work, before, work.predict(model), str(model / "model.npz"), "unreadable .npz file",
                    "save the model again")


def test_predict_with_json_that_is_not_json_names_the_file(work, saved):
    model = _damaged(work, saved)
    (model / "model.json").write_text("{", encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, work.predict(model), str(model / "model.json"), "unreadable JSON")


def test_a_model_that_never_predicts_a_class_still_loads(tmp_path, saved):
    # -inf marks a class no row had: a valid model, not damage
    model = tmp_path / "m"
    shutil.copytree(saved, model)
    with np.load(model / "model.npz") as z:
        coef, intercept = z["coef"], z["intercept"].copy()
    intercept[2] = -np.inf
    coef[2] = 0
    np.savez(model / "model.npz", coef=coef, intercept=intercept)
    loaded, _ = EndModel.load(model)
    assert loaded.predict_proba(np.ones((2, 8), np.float32))[:, 2].max() == 0.0


def test_extra_files_in_a_model_folder_are_ignored_on_load(tmp_path, saved):
    # later versions may save more beside model.json and model.npz (e.g. a fine-tuned encoder)
    model = tmp_path / "m"
    shutil.copytree(saved, model)
    (model / "encoder").mkdir()
    (model / "encoder" / "config.json").write_text("{}")
    loaded, meta = EndModel.load(model)
    assert list(loaded.classes_) == ["a", "b", "c"] and meta["kind"] == "fewlabels.EndModel"


def test_load_error_is_an_input_error_in_the_library(tmp_path, saved):
    model = tmp_path / "m"
    shutil.copytree(saved, model)
    (model / "model.json").write_text("[1, 2]")
    with pytest.raises(InputError, match=r"model\.json: holds a JSON list"):
        EndModel.load(model)
