"""Issue 11, outputs: no user file clobbered, and a run changes all of its outputs or none.

Each test names the case of the issue it covers. Commands run through the CLI (real
pipeline, 8-D blob vectors, no encoder); a refused run must leave the work folder
byte-identical (``assert_rejected``).
"""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from fewlabels.errors import InputError
from fewlabels.outputs import Outputs, check_paths, is_model_folder
from test_cli_errors import assert_rejected, error_message, invoke, read_csv


#: runs that must succeed use one method: the candidates' cross-validation is not under test
FAST = ("--method", "logistic")


# ``work``: test_cli_errors' work folder, where building an encoder fails the test
from test_cli_errors import work  # noqa: E402,F401  (a pytest fixture, found by its name)


def _rules_toml(work):
    path = work.root / "rules.toml"
    path.write_text('[a]\nkeywords = ["about a"]\n[b]\nkeywords = ["about b"]\n', encoding="utf-8")
    return path


def _classes_file(work):
    path = work.root / "classes.txt"
    path.write_text("a\nb\nc\n", encoding="utf-8")
    return path


# -- clobbered files: every output against every input ------------------------------------------


def test_report_equal_to_rules_file_is_refused(work):
    rules = _rules_toml(work)
    before = work.snapshot()
    assert_rejected(work, before, work.label("--rules", rules, "--report", rules), str(rules),
                    "--report is the --rules file", "choose another path")


def test_report_equal_to_classes_file_is_refused(work):
    classes = _classes_file(work)
    before = work.snapshot()
    assert_rejected(work, before, work.label("--classes-file", classes, "--report", classes), str(classes),
                    "--report is the --classes-file file")


def test_report_equal_to_vectors_file_is_refused(work):
    before = work.snapshot()
    assert_rejected(work, before, work.label("--report", work.vectors), str(work.vectors),
                    "--report is the --vectors file")


def test_save_model_equal_to_vectors_file_is_refused(work):
    before = work.snapshot()
    assert_rejected(work, before, work.label("--save-model", work.vectors), "--save-model is the --vectors file")


def test_rules_command_report_equal_to_rules_file_is_refused(work):
    rules = _rules_toml(work)
    before = work.snapshot()
    res = invoke("rules", work.table, "--rules", rules, "--report", rules)
    assert_rejected(work, before, res, str(rules), "--report is the --rules file")


def test_synthesize_report_equal_to_classes_file_is_refused(work):
    classes = _classes_file(work)
    before = work.snapshot()
    res = invoke("rules", work.table, "--synthesize", work.root / "new.toml", "--classes-file", classes,
                 "--report", classes)
    assert_rejected(work, before, res, str(classes), "--report is the --classes-file file")


def test_out_equal_to_cache_is_refused(work):
    work.cache.write_bytes(b"")  # the cache exists (empty)
    before = work.snapshot()
    res = invoke("label", work.table, "--out", work.cache, "--vectors", work.vectors, "--cache", work.cache)
    msg = error_message(res)
    assert "--out is the --cache file" in msg, msg
    assert {k: v for k, v in work.snapshot().items() if k in before} == before


def test_cache_equal_to_input_is_refused(work):
    before = work.snapshot()
    res = invoke("label", work.table, "--out", work.root / "o.csv", "--vectors", work.vectors, "--cache", work.table)
    assert_rejected(work, before, res, str(work.table), "--cache is the input file")


def test_out_inside_encoder_folder_is_refused(work):
    enc = work.root / "encoder"
    enc.mkdir()
    (enc / "config.json").write_text("{}", encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, work.label("--encoder", enc, out=enc / "out.csv"), "--out is inside the "
                    "--encoder folder")


def test_save_model_folder_holding_the_input_is_refused(work):
    before = work.snapshot()
    assert_rejected(work, before, work.label("--save-model", work.root), "--save-model holds the input file",
                    "choose another folder")


def test_out_inside_save_model_folder_is_refused(work):
    model = work.root / "model"
    before = work.snapshot()
    assert_rejected(work, before, work.label("--save-model", model, out=model / "out.csv"),
                    "--out is inside the --save-model folder")


def test_predict_out_equal_to_model_file_or_vectors_is_refused(work, tmp_path):
    model = work.root / "model"
    assert work.label("--save-model", model, *FAST).exit_code == 0
    before = work.snapshot()
    assert_rejected(work, before, work.predict(model, out=model / "model.json"), "--out is inside the model folder")
    assert_rejected(work, before, work.predict(model, out=work.vectors), "--out is the --vectors file")


# -- --save-model: replace a model, refuse anything else -------------------------------------------


def test_save_model_onto_an_existing_file_is_refused(work):
    notes = work.root / "notes.txt"
    notes.write_text("my notes", encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, work.label("--save-model", notes), str(notes), "is an existing file",
                    "new folder")


def test_save_model_onto_a_folder_that_is_not_a_model_is_refused(work):
    folder = work.root / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"\xff\xd8")
    before = work.snapshot()
    assert_rejected(work, before, work.label("--save-model", folder), str(folder), "not a fewlabels model")


def test_rerun_with_the_same_save_model_replaces_the_model(work):
    # the README's workflow: the same command twice
    model = work.root / "model"
    first = work.label("--save-model", model, "--seed", "1", *FAST)
    assert first.exit_code == 0, first.output
    again = work.label("--save-model", model, "--seed", "2", *FAST)
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in model.iterdir()) == ["model.json", "model.npz"]
    assert not [p for p in work.root.iterdir() if p.name.startswith(".")], "temporary files left behind"
    assert is_model_folder(model)


def test_save_model_into_an_empty_folder_is_allowed(work):
    model = work.root / "empty"
    model.mkdir()
    res = work.label("--save-model", model, *FAST)
    assert res.exit_code == 0, res.output
    assert (model / "model.json").is_file()


# -- read-only outputs ------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--out", "--report"])
def test_existing_read_only_output_is_refused_before_any_work(work, option):
    target = work.root / ("old.csv" if option == "--out" else "old.json")
    target.write_text("keep me", encoding="utf-8")
    target.chmod(0o444)
    before = work.snapshot()
    args = ("--report", target) if option == "--report" else ()
    res = work.label(*args, out=target if option == "--out" else None)
    assert_rejected(work, before, res, str(target), f"{option} exists and is read-only", "chmod u+w")
    assert stat.S_IMODE(target.stat().st_mode) == 0o444


# -- all outputs committed together -----------------------------------------------------------


def _existing_outputs(work):
    out, report, model = work.root / "out.csv", work.root / "report.json", work.root / "model"
    res = work.label("--report", report, "--save-model", model, *FAST, out=out)
    assert res.exit_code == 0, res.output
    return out, report, model


def test_failure_at_the_final_write_changes_no_output(work, monkeypatch):
    out, report, model = _existing_outputs(work)
    before = work.snapshot()
    real_replace = os.replace

    def fail_on_report(src, dst, *a, **k):  # the last rename of the commit fails (e.g. a full disk)
        if str(dst) == str(report):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", fail_on_report)
    res = work.label("--report", report, "--save-model", model, "--seed", "7", *FAST, out=out)
    monkeypatch.undo()
    msg = assert_rejected(work, before, res, str(report), "cannot write --report", "No space left on device",
                          "no output was changed")
    assert "Traceback" not in msg


def test_failure_while_writing_the_table_leaves_no_model(work, monkeypatch):
    before = work.snapshot()

    def broken(table, tmp, path):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("fewlabels.io.write_table_to", broken)
    res = work.label("--report", work.root / "r.json", "--save-model", work.root / "model", *FAST)
    assert_rejected(work, before, res, "cannot write --out", "Input/output error")


def test_outputs_commit_is_all_or_nothing_in_the_library(tmp_path, monkeypatch):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text("old a")
    real_replace = os.replace

    def fail_b(src, dst, *x, **k):
        if str(dst) == str(b):
            raise OSError(13, "Permission denied")
        return real_replace(src, dst, *x, **k)

    monkeypatch.setattr(os, "replace", fail_b)
    with pytest.raises(InputError, match="cannot write --report"):
        with Outputs() as outs:
            outs.json({"x": 1}, a, "--out")
            outs.json({"y": 2}, b, "--report")
    monkeypatch.undo()
    assert a.read_text() == "old a" and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_check_paths_refuses_nested_and_equal_outputs(tmp_path):
    with pytest.raises(InputError, match="--out and --report name the same path"):
        check_paths({}, {"--out": tmp_path / "x", "--report": tmp_path / "x"})
    with pytest.raises(InputError, match="--report is inside the --save-model folder"):
        check_paths({}, {"--save-model": tmp_path / "m", "--report": tmp_path / "m" / "r.json"})


def test_library_save_refuses_a_file(tmp_path, blobs):
    from fewlabels.endmodel import EndModel

    target = tmp_path / "notes.txt"
    target.write_text("mine")
    model = EndModel().fit(blobs.X, blobs.truth, classes=list(blobs.classes))
    with pytest.raises(InputError, match="is an existing file"):
        model.save(target)
    assert target.read_text() == "mine"


def test_labeled_output_is_what_was_committed(work):
    out, report, model = _existing_outputs(work)
    rep = json.loads(report.read_text())
    assert rep["output"] == str(out) and len(read_csv(out)) == len(work.truth)
    assert json.loads((model / "model.json").read_text())["classes"] == ["a", "b", "c"]
    assert np.load(model / "model.npz")["coef"].shape == (3, 8)


def test_failure_while_writing_the_html_report_changes_no_output(work, monkeypatch):
    """--html is part of the same commit as the table, report and model (label_with_store)."""
    before = work.snapshot()

    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("fewlabels.report.html.render_report", broken)
    res = work.label("--report", work.root / "r.json", "--save-model", work.root / "model",
                     "--html", work.root / "r.html", *FAST)
    assert res.exit_code != 0
    assert work.snapshot() == before  # no table, report, model or page: nothing changed
