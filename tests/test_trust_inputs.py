"""Issue 11, inputs: no silent wrong answer, no traceback, no misleading message.

Each test names the case of the issue it covers: byte-order marks, label normalisation
(whitespace, null spellings, case, numbers as text), vectors (complex, bool, zero rows,
overflow), seeds, caches, rules that end the program, delimiters, ragged rows, library
warnings.
"""

from __future__ import annotations

import json
import os
import sqlite3

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fewlabels.embed import EmbeddingCache, text_hash
from fewlabels.errors import InputError
from fewlabels.io import read_labels, read_table
from test_cli_errors import (assert_rejected, error_message, invoke, read_csv, table_rows,
                             write_delimited)

FAST = ("--method", "logistic")  # runs that must succeed: the candidates' cross-validation is not under test


# ``work``: test_cli_errors' work folder, where building an encoder fails the test
from test_cli_errors import work  # noqa: E402,F401  (a pytest fixture, found by its name)


def _with_labels(work, labels, name="l.csv"):
    rows = table_rows(work.truth)
    for i, v in labels.items():
        rows[i]["label"] = v
    return write_delimited(work.root / name, rows)


def _report(work, *args, input=None):
    report = work.root / "rep.json"
    res = work.label("--report", report, *FAST, *args, input=input)
    assert res.exit_code == 0, res.output
    return json.loads(report.read_text())


# -- byte-order mark ------------------------------------------------------------------------


def test_utf8_bom_first_column_is_still_read_as_text(work):
    path = work.root / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + work.table.read_bytes())
    t = read_table(path)
    assert t.column_names[0] == "id" and t.column("id").to_pylist()[:2] == ["000", "001"]
    out = work.root / "o.csv"
    assert work.label(*FAST, input=path, out=out).exit_code == 0
    assert [r["id"] for r in read_csv(out)][:3] == ["000", "001", "002"]


# -- label normalisation ------------------------------------------------------------------------


def test_labels_differing_by_whitespace_are_one_class(work):
    path = _with_labels(work, {0: " a", 3: "a  ", 1: "\tb"})
    rep = _report(work, input=path)
    assert rep["classes"] == ["a", "b", "c"]


def test_labels_differing_only_by_case_are_noted(work):
    path = _with_labels(work, {0: "A", 3: "A"})
    rep = _report(work, input=path)
    assert rep["classes"] == ["A", "a", "b", "c"]
    assert any("'A' and 'a' differ only by case" in w and "--fold-case" in w for w in rep["warnings"])


def test_fold_case_merges_labels_that_differ_only_by_case(work):
    path = _with_labels(work, {0: "A", 1: " B", 4: "b ", 2: "C"})
    rep = _report(work, "--fold-case", input=path)
    assert rep["classes"] == ["a", "b", "c"]  # the most frequent spelling of each
    assert rep["class_counts"]["given"] == {"a": 5, "b": 5, "c": 5}
    assert any("merged (--fold-case)" in w for w in rep["warnings"])


def test_fold_case_prefers_the_spelling_of_the_classes_given():
    t = pa.table({"label": ["spam", "Spam", "SPAM", "ham", None]})
    labels, _ = read_labels(t, "label", "t.csv", keep=["SPAM", "ham"], fold_case=True)
    assert labels == ["SPAM", "SPAM", "SPAM", "ham", None]


def test_label_differing_by_case_from_a_given_class_says_fold_case(work):
    path = _with_labels(work, {0: "A"})
    before = work.snapshot()
    assert_rejected(work, before, work.label("--classes", "a,b,c", input=path), "label 'A' is not one of the "
                    "classes", "differs only by case from class 'a'", "--fold-case")


@pytest.mark.parametrize("spelling", ["nan", "NaN", "NA", "N/A", "null", "None", "NULL", " none "])
def test_null_spellings_in_csv_are_unlabeled(work, spelling):
    path = _with_labels(work, {20: spelling, 21: spelling})
    rep = _report(work, input=path)
    assert rep["classes"] == ["a", "b", "c"] and rep["n_given"] == 15
    assert any("were read as unlabeled" in w for w in rep["warnings"])


def test_null_spelling_that_names_a_given_class_stays_a_label():
    t = pa.table({"label": ["None", "spam", "", "nan"]})
    labels, notes = read_labels(t, "label", "t.csv", keep=["None", "spam"])
    assert labels == ["None", "spam", None, None]
    assert notes and "'nan' (1)" in notes[0]


def test_jsonl_null_next_to_empty_string_are_both_unlabeled(work):
    rows = table_rows(work.truth)
    path = work.root / "l.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i, r in enumerate(rows):
            label = r["label"] or (None if i % 2 else "")
            fh.write(json.dumps({"id": r["id"], "text": r["text"], "label": label}) + "\n")
    rep = _report(work, input=path)
    assert rep["classes"] == ["a", "b", "c"] and rep["n_given"] == 15


def test_parquet_float_labels_keep_the_names_the_user_sees(work):
    # an integer label column with gaps, saved by pandas, is float64 with NaN: 1.0 -> class "1"
    rows = table_rows(work.truth)
    codes = [float("abc".index(r["label"]) + 1) if r["label"] else float("nan") for r in rows]
    path = work.root / "f.parquet"
    pq.write_table(pa.table({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows],
                             "label": pa.array(codes, pa.float64())}), path)
    out = work.root / "f_out.parquet"
    report = work.root / "f.json"
    res = work.label("--report", report, *FAST, input=path, out=out)
    assert res.exit_code == 0, res.output
    assert json.loads(report.read_text())["classes"] == ["1", "2", "3"]
    labels = pq.read_table(out).column("fewlabels_label").to_pylist()
    assert labels[:3] == ["1", "2", "3"]
    # the same table as CSV gives the same classes
    assert read_labels(pa.table({"label": ["1", "2", ""]}), "label", "x.csv")[0] == ["1", "2", None]


def test_label_cells_of_other_types_are_text():
    t = pa.table({"label": pa.array([1, 2, None], pa.int64()), "b": pa.array([True, False, None]),
                  "f": pa.array([0.5, 2.0, float("nan")])})
    assert read_labels(t, "label", "t")[0] == ["1", "2", None]
    assert read_labels(t, "b", "t")[0] == ["true", "false", None]
    assert read_labels(t, "f", "t")[0] == ["0.5", "2", None]


# -- vectors ------------------------------------------------------------------------------------


def test_complex_vectors_are_refused_not_cut_to_their_real_part(work):
    path = work.npy("c.npy", work.X.astype(np.complex64) + 1j)
    before = work.snapshot()
    assert_rejected(work, before, work.label(vectors=path), str(path), "complex numbers", "real-valued")


def test_bool_vectors_are_reported_by_their_dtype(work):
    path = work.npy("b.npy", work.X > 0)
    before = work.snapshot()
    msg = assert_rejected(work, before, work.label(vectors=path), str(path), "dtype bool", "astype")
    assert "shape" not in msg


def test_all_zero_vector_rows_are_refused_naming_the_row(work):
    X = work.X.copy()
    X[[3, 8]] = 0
    path = work.npy("z.npy", X)
    before = work.snapshot()
    assert_rejected(work, before, work.label(vectors=path), f"{path}, row 4:", "all zeros", "and 1 more")


def test_vectors_beyond_float32_range_are_refused(work):
    X = work.X.astype(np.float64)
    X[5, 0] = 1e300
    path = work.npy("big.npy", X)
    before = work.snapshot()
    assert_rejected(work, before, work.label(vectors=path), f"{path}, row 6:", "beyond the float32 range")


def test_object_vectors_name_their_dtype(work):
    path = work.root / "s.npy"
    np.save(path, np.array([["a", "b"]] * 30))
    before = work.snapshot()
    assert_rejected(work, before, work.label(vectors=path), str(path), "must hold numbers", "dtype <U1")


# -- seeds ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_seed_out_of_range_is_a_clean_error(work, seed):
    before = work.snapshot()
    assert_rejected(work, before, work.label("--seed", seed), f"--seed={seed}", "from 0 to 4294967295")


def test_largest_seed_is_accepted(work):
    assert work.label("--seed", str(2**32 - 1), *FAST).exit_code == 0


# -- caches ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["corrupt", "foreign", "directory"])
def test_unusable_cache_is_not_opened_when_vectors_are_given(work, kind):
    cache = work.root / "c.sqlite"
    if kind == "corrupt":
        cache.write_bytes(b"this is not sqlite" * 10)
    elif kind == "foreign":
        with sqlite3.connect(cache) as con:
            con.execute("CREATE TABLE photos (id INTEGER)")
    else:
        cache.mkdir()
    before = work.snapshot()
    out = work.root / "o.csv"
    res = invoke("label", work.table, "--out", out, "--vectors", work.vectors, "--cache", cache, *FAST)
    assert res.exit_code == 0, res.output
    after = work.snapshot()
    assert {k: after[k] for k in before} == before  # the cache file is untouched


@pytest.mark.parametrize("kind, expected", [
    ("corrupt", "not a readable SQLite database"),
    ("foreign", "an SQLite database of something else"),
    ("alien-table", "'embeddings' table that is not fewlabels'"),
    ("directory", "is a folder"),
])
def test_unusable_cache_is_a_clean_error_and_stays_untouched(tmp_path, kind, expected):
    cache = tmp_path / "c.sqlite"
    if kind == "corrupt":
        cache.write_bytes(b"this is not sqlite" * 10)
    elif kind in ("foreign", "alien-table"):
        with sqlite3.connect(cache) as con:
            con.execute("CREATE TABLE photos (id INTEGER)" if kind == "foreign" else "CREATE TABLE embeddings (x)")
    else:
        cache.mkdir()
    before = cache.read_bytes() if cache.is_file() else None
    c = EmbeddingCache(cache)  # opening is lazy: nothing happens yet
    with pytest.raises(InputError, match=expected) as err:
        c.get("enc", [text_hash("hello")])
    assert str(err.value).startswith(f"{cache}: the embedding cache (--cache)")
    assert (cache.read_bytes() if cache.is_file() else None) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files")
def test_read_only_cache_is_a_clean_error(tmp_path):
    cache = tmp_path / "c.sqlite"
    EmbeddingCache(cache).put("enc", [text_hash("a")], np.ones((1, 2), np.float32))
    cache.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(InputError, match="cannot be opened for writing"):
            EmbeddingCache(cache).put("enc", [text_hash("b")], np.ones((1, 2), np.float32))
    finally:
        tmp_path.chmod(0o755)


def test_cache_round_trip_still_works(tmp_path):
    c = EmbeddingCache(tmp_path / "sub" / "c.sqlite")
    c.put("enc", [text_hash("a")], np.array([[1.0, 2.0]], np.float32))
    got = EmbeddingCache(tmp_path / "sub" / "c.sqlite").get("enc", [text_hash("a"), text_hash("b")])
    assert list(got) == [text_hash("a")] and got[text_hash("a")].tolist() == [1.0, 2.0]


# -- rules that end the program ------------------------------------------------------------------


def _rules_py(work, body):
    path = work.root / "rules.py"
    path.write_text("import sys\nfrom fewlabels import rule\n\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize("stmt, expected", [("sys.exit()", "called sys.exit()"),
                                            ("sys.exit(3)", "called sys.exit(3)"),
                                            ("raise KeyboardInterrupt", "raised KeyboardInterrupt")])
def test_rule_ending_the_program_is_an_error_of_the_rules_file(work, stmt, expected):
    rules = _rules_py(work, f"@rule\ndef quits(text):\n    if 'message 4 ' in text:\n        {stmt}\n"
                            "    return 'a' if 'about a' in text else None\n")
    before = work.snapshot()
    assert_rejected(work, before, work.label("--rules", rules), str(rules), "rule 'quits'", expected, "row 5",
                    "line 7")


@pytest.mark.parametrize("stmt, expected", [("sys.exit(0)", "called sys.exit(0) while being imported"),
                                            ("raise KeyboardInterrupt", "raised KeyboardInterrupt while being "
                                                                        "imported"),
                                            ("import no_such_module_here", "cannot import the rules file")])
def test_rules_file_failing_at_import_is_an_error_of_the_rules_file(work, stmt, expected):
    rules = _rules_py(work, f"{stmt}\n\n@rule\ndef r(text):\n    return None\n")
    before = work.snapshot()
    assert_rejected(work, before, work.label("--rules", rules), f"{rules}, line 4:", expected)


def test_rule_raising_on_every_row_is_named_with_its_error(work):
    rules = _rules_py(work, "@rule\ndef broken(text):\n    return {}['x']\n")
    before = work.snapshot()
    assert_rejected(work, before, work.label("--rules", rules), "rule 'broken' raised on 30 row(s)",
                    "first on row 1", "KeyError", "fix the rule")


# -- misleading messages ------------------------------------------------------------------------


def test_int64_text_column_is_reported_as_numbers_not_missing_text(work):
    path = work.root / "n.parquet"
    pq.write_table(pa.table({"text": pa.array(range(30), pa.int64()), "label": [r["label"] for r in
                                                                              table_rows(work.truth)]}), path)
    before = work.snapshot()
    msg = assert_rejected(work, before, work.label("--text-column", "text", input=path), "column 'text'",
                          "holds int64 values, not text", "--text-column")
    assert "empty" not in msg


def test_semicolon_delimited_csv_gets_a_delimiter_hint(work):
    path = work.root / "semi.csv"
    path.write_text("id;text;label\n1;hello;a\n2;world;b\n", encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, work.label(input=path, vectors=False), "no label column",
                    "separated by semicolons", "save it with commas")
    assert_rejected(work, before, work.label("--label-column", "label", input=path, vectors=False),
                    "no such column", "separated by semicolons", "save it with commas")


def test_ragged_row_error_names_the_row(work):
    path = work.root / "ragged.csv"
    path.write_text('id,text,label\n1,"hi, there",a\n2,oops,b,extra\n3,ok,c\n', encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, work.label(input=path), f"{path}, row 2:", "4 fields where the header has 3")


def test_library_warnings_go_to_the_report_as_one_line(work, monkeypatch):
    # scikit-learn's lbfgs warns when it stops early; no small input makes it do so reliably, so
    # the end model's real fit is followed by the warning scikit-learn gives, with its real text
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from fewlabels.endmodel import EndModel

    fit = EndModel.fit

    def fit_then_warn(self, *args, **kwargs):
        out = fit(self, *args, **kwargs)
        warnings.warn("lbfgs failed to converge (status=1):\nSTOP: TOTAL NO. OF ITERATIONS REACHED LIMIT.\n\n"
                      "Increase the number of iterations (max_iter) or scale the data.", ConvergenceWarning)
        return out

    monkeypatch.setattr(EndModel, "fit", fit_then_warn)
    report = work.root / "r.json"
    res = work.label("--report", report, *FAST)
    assert res.exit_code == 0, res.output
    warns = json.loads(report.read_text())["warnings"]
    assert [w for w in warns if w.startswith("ConvergenceWarning (sklearn): lbfgs failed to converge (status=1): "
                                             "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT.")], warns
    assert all("\n" not in w for w in warns)
    notes = [line for line in res.stderr.splitlines() if "ConvergenceWarning" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ConvergenceWarning (sklearn)"), res.stderr
    assert "warnings.warn" not in res.stderr and "Traceback" not in res.stderr


def test_real_ctrl_c_inside_a_rule_still_interrupts(tmp_path):
    # a SIGINT (the key press) is told apart from a rule raising KeyboardInterrupt itself
    import signal

    from fewlabels.signals import apply_rules, load_rules

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is handled by the test runner here")

    path = tmp_path / "rules.py"
    path.write_text("import os, signal\nfrom fewlabels import rule\n\n@rule\ndef r(text):\n"
                    "    os.kill(os.getpid(), signal.SIGINT)\n    return None\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        apply_rules(["a", "b"], load_rules(path), ["x", "y"])


def test_rule_raising_keyboard_interrupt_itself_is_an_input_error(tmp_path):
    from fewlabels.signals import apply_rules, load_rules

    path = tmp_path / "rules.py"
    path.write_text("from fewlabels import rule\n\n@rule\ndef r(text):\n    raise KeyboardInterrupt\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match="rule 'r' raised KeyboardInterrupt on row 1"):
        apply_rules(["a", "b"], load_rules(path), ["x", "y"])
