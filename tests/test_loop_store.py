"""The label store (real SQLite), its files in and out, and the loop's CLI commands on a
small table with precomputed vectors."""

from __future__ import annotations

import csv
import json
import re
import sqlite3

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import make_blobs
from fewlabels.cli import app
from fewlabels.errors import InputError
from fewlabels.io import read_table
from fewlabels.loop.label_studio import read_label_studio
from fewlabels.loop.store import LabelStore, merge_labels, text_key

runner = CliRunner()


def test_set_current_undo_and_history(tmp_path):
    db = tmp_path / "labels.sqlite"
    with LabelStore(db) as s:
        s.set("a", "spam")
        s.set("b", "ham")
        s.set("a", "ham")
        assert {k: v["label"] for k, v in s.current().items()} == {"a": "ham", "b": "ham"}
        assert s.undo() == "a"
        assert s.current()["a"]["label"] == "spam"
        s.remove("b")
        assert "b" not in s.current()
        assert s.current()["a"]["source"] == "review"
    # committed at once: a second connection sees every answer
    rows = sqlite3.connect(db).execute("SELECT key, label, source, kind FROM events ORDER BY seq").fetchall()
    assert rows == [("a", "spam", "review", "label"), ("b", "ham", "review", "label"),
                    ("a", "ham", "review", "label"), ("a", "spam", "review", "undo"),  # append-only: undo is an event
                    ("b", None, "review", "label")]


def test_undo_with_nothing_to_undo(tmp_path):
    with LabelStore(tmp_path / "x.sqlite") as s:
        assert s.undo() is None


def test_not_a_store_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("this is not sqlite " * 100)
    with pytest.raises(InputError, match="not a fewlabels label store"):
        LabelStore(bad)


def test_merge_reports_conflicts_and_store_wins():
    labels, sources, conflicts = merge_labels(["a", None, "b"], ["k1", "k2", "k3"],
                                              {"k2": {"label": "a", "source": "review"},
                                               "k3": {"label": "a", "source": "import"}})
    assert labels == ["a", "a", "a"] and sources == ["given", "review", "import"]
    assert conflicts == [{"row": 3, "key": "k3", "given": "b", "stored": "a", "stored_source": "import"}]


def test_label_studio_and_csv_round_trip(tmp_path):
    with LabelStore(tmp_path / "a.sqlite") as s:
        s.set(text_key("hello"), "greeting")
        s.set(text_key("bye"), "farewell")
        assert s.export_label_studio(tmp_path / "ls.json", {text_key("hello"): "hello", text_key("bye"): "bye"}
                                     ) == (2, [])
        s.export_csv(tmp_path / "l.csv")
    tasks = json.loads((tmp_path / "ls.json").read_text())
    assert tasks[0]["annotations"][0]["result"][0]["value"]["choices"][0] in ("greeting", "farewell")
    # a Label Studio export made elsewhere: keyed by text, with a cancelled annotation
    (tmp_path / "other.json").write_text(json.dumps([
        {"id": 7, "data": {"text": "hello"}, "annotations": [
            {"result": [{"type": "choices", "value": {"choices": ["wave"]}}]},
            {"was_cancelled": True, "result": [{"type": "choices", "value": {"choices": ["nope"]}}]}]},
        {"id": 8, "data": {"text": "no answer"}, "annotations": []}]))
    assert read_label_studio(tmp_path / "other.json") == [(text_key("hello"), "wave")]
    with LabelStore(tmp_path / "b.sqlite") as s:
        assert s.import_file(tmp_path / "ls.json") == 2
        assert s.import_file(tmp_path / "l.csv") == 2
        cur = s.current()
    assert {v["label"] for v in cur.values()} == {"greeting", "farewell"}
    assert {v["source"] for v in cur.values()} == {"import"}


@pytest.fixture
def table(tmp_path):
    b = make_blobs(n=120, k=3, per_class=4, seed=2)
    rows = [{"id": f"r{i}", "text": f"item number {i}", "label": b.classes[b.y[i]] if b.y[i] >= 0 else ""}
            for i in range(b.n)]
    path = tmp_path / "t.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["id", "text", "label"])
        w.writeheader()
        w.writerows(rows)
    np.save(tmp_path / "v.npy", b.X)
    return path, tmp_path / "v.npy", b


def test_suggest_cli_writes_rows_with_reasons(table, tmp_path):
    path, vec, b = table
    out = tmp_path / "next.csv"
    r = runner.invoke(app, ["suggest", str(path), "--vectors", str(vec), "--n", "7", "--out", str(out)])
    assert r.exit_code == 0, r.output
    t = read_table(out)
    assert t.num_rows == 7 and t.column_names[:3] == ["id", "text", "label"]
    assert all(t.column("fewlabels_reason").to_pylist())
    rows = [int(x) for x in t.column("fewlabels_row").to_pylist()]
    assert all(b.y[i - 1] < 0 for i in rows)  # unlabeled rows only
    r2 = runner.invoke(app, ["suggest", str(path), "--vectors", str(vec), "--n", "7", "--out", str(tmp_path / "b.csv")])
    assert r2.exit_code == 0
    assert read_table(tmp_path / "b.csv").column("fewlabels_row").to_pylist() == t.column("fewlabels_row").to_pylist()


def test_label_uses_the_store_and_reports_conflicts(table, tmp_path):
    path, vec, b = table
    db = tmp_path / "labels.sqlite"
    unl = np.flatnonzero(b.y < 0)[:3]
    lab = np.flatnonzero(b.y >= 0)[0]
    wrong = b.classes[(b.y[lab] + 1) % 3]
    with LabelStore(db) as s:
        for i in unl:
            s.set(f"r{i}", b.classes[b.truth[i]])
        s.set(f"r{lab}", wrong)  # conflicts with the table's label
    out, rep, html = tmp_path / "o.csv", tmp_path / "r.json", tmp_path / "r.html"
    r = runner.invoke(app, ["label", str(path), "--vectors", str(vec), "--labels-db", str(db), "--id-column", "id",
                            "--out", str(out), "--report", str(rep), "--html", str(html)])
    assert r.exit_code == 0, r.output
    t = read_table(out)
    src = t.column("fewlabels_source").to_pylist()
    lbl = t.column("fewlabels_label").to_pylist()
    assert all(src[i] == "given" and lbl[i] == b.classes[b.truth[i]] for i in unl)
    assert lbl[lab] == wrong
    assert t.column("label").to_pylist()[lab] == b.classes[b.y[lab]]  # the input's column is untouched
    report = json.loads(rep.read_text())
    assert report["label_store"]["n_used"] == 4 and report["label_store"]["n_conflicts"] == 1
    assert report["n_given"] == int((b.y >= 0).sum()) + 3
    assert any("differs from the label store" in w for w in report["warnings"])
    assert "fewlabels_suspect" in t.column_names and report["label_issues"]["n_checked"] == report["n_given"]
    page = html.read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") >= 4
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)  # self-contained: nothing to fetch


def test_labels_import_export_cli(tmp_path):
    db = tmp_path / "s.sqlite"
    (tmp_path / "in.csv").write_text("key,label\nk1,a\nk2,b\nk3,\n")
    r = runner.invoke(app, ["labels", "import", str(tmp_path / "in.csv"), "--labels-db", str(db)])
    assert r.exit_code == 0, r.output
    assert "imported 2 labels" in r.output
    r = runner.invoke(app, ["labels", "export", "--labels-db", str(db), "--out", str(tmp_path / "o.json")])
    assert r.exit_code == 2 and "need each row's text; pass --table" in r.output  # never tasks without text
    assert not (tmp_path / "o.json").exists()
    r = runner.invoke(app, ["labels", "export", "--labels-db", str(db), "--out", str(tmp_path / "o.csv")])
    assert r.exit_code == 0, r.output
    assert len(read_table(tmp_path / "o.csv")) == 2
    r = runner.invoke(app, ["labels", "export", "--labels-db", str(tmp_path / "none.sqlite"), "--out",
                            str(tmp_path / "o.csv")])
    assert r.exit_code == 2 and "no such label store" in r.output
    r = runner.invoke(app, ["labels", "import", str(tmp_path / "missing.json"), "--labels-db", str(db)])
    assert r.exit_code == 2 and "file not found" in r.output


def test_duplicate_ids_are_a_clean_error(table, tmp_path):
    path, vec, _ = table
    text = path.read_text().replace("r1,", "r0,", 1)
    bad = tmp_path / "dup.csv"
    bad.write_text(text)
    LabelStore(tmp_path / "db.sqlite").close()
    r = runner.invoke(app, ["suggest", str(bad), "--vectors", str(vec), "--id-column", "id", "--labels-db",
                            str(tmp_path / "db.sqlite"), "--out", str(tmp_path / "o.csv")])
    assert r.exit_code == 2 and "same id 'r0'" in r.output


def test_review_session_puts_suspected_label_errors_first(tmp_path):
    from fewlabels.loop.review.server import prepare_session

    b = make_blobs(n=150, k=3, per_class=8, noise=0.1, seed=5)
    wrong = int(np.flatnonzero(b.y == 0)[0])
    rows = []
    for i in range(b.n):
        lab = b.classes[b.y[i]] if b.y[i] >= 0 else ""
        if i == wrong:
            lab = b.classes[1]  # a given label that is plainly wrong
        rows.append({"id": f"r{i}", "text": f"item {i}", "label": lab})
    path = tmp_path / "t.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["id", "text", "label"])
        w.writeheader()
        w.writerows(rows)
    np.save(tmp_path / "v.npy", b.X)
    s = prepare_session(path, tmp_path / "db.sqlite", n=5, suspects=True, vectors=tmp_path / "v.npy",
                        id_column="id")
    first = s.items[0]
    assert first["kind"] == "suspect" and first["key"] == f"r{wrong}"
    assert first["given"] == b.classes[1] and first["guess"] == b.classes[0]
    assert sum(it["kind"] == "suggested" for it in s.items) == 5


def test_html_report_has_the_rule_analysis_with_rules(tmp_path):
    b = make_blobs(n=90, k=3, per_class=4, seed=6)
    words = {"class_0": "invoice", "class_1": "crash", "class_2": "password"}
    rows = [{"text": f"row {i} about {words[b.classes[b.truth[i]]]}", "label": b.classes[b.y[i]] if b.y[i] >= 0 else ""}
            for i in range(b.n)]
    path = tmp_path / "t.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["text", "label"])
        w.writeheader()
        w.writerows(rows)
    np.save(tmp_path / "v.npy", b.X)
    rules = tmp_path / "rules.toml"
    rules.write_text('[class_0]\nkeywords = ["invoice"]\n[class_1]\nkeywords = ["crash"]\n')
    html = tmp_path / "r.html"
    r = runner.invoke(app, ["label", str(path), "--vectors", str(tmp_path / "v.npy"),
                            "--rules", str(rules), "--out", str(tmp_path / "o.csv"), "--html", str(html)])
    assert r.exit_code == 0, r.output
    page = html.read_text()
    assert 'id="rules"' in page and "keyword" in page.lower()
    assert 'aria-label="reliability diagram"' in page and 'id="suggestions"' in page
