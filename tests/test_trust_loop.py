"""Issue 23, the loop's trust findings: the store survives any output path; stored labels
that do not join the table are refused or reported, never ignored in silence; a mistyped
store is not created; Label Studio files are read as they are written (string choices,
multi-choice, malformed fields) and exported with their texts and a labeling config; store
errors (locked, read-only, not UTF-8) are user errors; a bad stored label is blamed on the
store; a plain JSON table is a table; a class named once is never dropped.

Real SQLite stores, the real CLI, 16-D blob vectors (no encoder).
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import make_blobs
from fewlabels.cli import app
from fewlabels.errors import InputError
from fewlabels.io import read_table
from fewlabels.loop.label_studio import read_label_studio
from fewlabels.loop.store import LabelStore, store_error

runner = CliRunner()
FAST = ("--method", "logistic")
CLASSES = ("billing", "bug", "account")


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(r) -> str:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and "internal error" not in r.output, r.output
    return " ".join(r.output.split())


class Table:
    """``t.csv`` (id, text, label: 4 given labels per class), its vectors ``v.npy`` and truth."""

    def __init__(self, root: Path, n: int = 90, labels: bool = True):
        self.root = root
        b = make_blobs(n=n, k=3, per_class=4, seed=11)
        self.truth = [CLASSES[c] for c in b.truth]
        self.given = {i: CLASSES[b.y[i]] for i in range(n) if labels and b.y[i] >= 0}
        self.path = root / "t.csv"
        with open(self.path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "text", "label"])
            for i in range(n):
                w.writerow([f"r{i}", f"ticket number {i}", self.given.get(i, "")])
        self.vectors = root / "v.npy"
        np.save(self.vectors, b.X)
        self.n = n

    def unlabeled(self, k: int) -> list[int]:
        return [i for i in range(self.n) if i not in self.given][:k]

    def label(self, *args, out="o.csv", report="r.json"):
        return run("label", self.path, "--vectors", self.vectors, "--out", self.root / out, "--report",
                   self.root / report, *FAST, *args)

    def report(self, name="r.json") -> dict:
        return json.loads((self.root / name).read_text())


@pytest.fixture
def t(tmp_path, monkeypatch):
    monkeypatch.setenv("FEWLABELS_CACHE", str(tmp_path / "cache.sqlite"))
    return Table(tmp_path)


def id_store(path: Path, items: dict[str, str]) -> Path:
    """A store filled by `labels import` from a key,label CSV (keys are ids; nothing recorded)."""
    src = path.with_suffix(".import.csv")
    src.write_text("key,label\n" + "".join(f"{k},{v}\n" for k, v in items.items()), encoding="utf-8")
    r = run("labels", "import", src, "--labels-db", path)
    assert r.exit_code == 0, r.output
    return path


# -- the store survives any output path --------------------------------------------------------------


def test_export_onto_the_store_is_refused_and_the_store_survives(t):
    db = id_store(t.root / "labels.csv", {"r1": "bug"})  # a SQLite store that happens to be named .csv
    before = db.read_bytes()
    msg = one_line_error(run("labels", "export", "--labels-db", db, "--out", db))
    assert "--out is the --labels-db file" in msg
    assert db.read_bytes() == before and LabelStore(db).current()["r1"]["label"] == "bug"
    msg = one_line_error(run("labels", "export", "--labels-db", db, "--out", t.path, "--table", t.path))
    assert "--out is the --table file" in msg
    msg = one_line_error(run("labels", "export", "--labels-db", db, "--table", t.path, "--out", t.root / "x.json",
                             "--config-out", db))
    assert "--config-out is the --labels-db file" in msg
    assert db.read_bytes() == before
    msg = one_line_error(run("labels", "import", db, "--labels-db", db))
    assert "its own path" in msg and db.read_bytes() == before


def test_suggest_out_onto_the_store_is_refused(t):
    db = id_store(t.root / "s.csv", {"r1": "bug"})
    before = db.read_bytes()
    msg = one_line_error(run("suggest", t.path, "--vectors", t.vectors, "--id-column", "id", "--labels-db", db,
                             "--out", db))
    assert "--labels-db" in msg and db.read_bytes() == before


# -- stored labels never ignored in silence ---------------------------------------------------------------


def test_an_id_keyed_store_read_with_text_keys_is_refused(t):
    i, j = t.unlabeled(2)
    db = id_store(t.root / "labels.sqlite", {f"r{i}": t.truth[i], f"r{j}": t.truth[j]})
    msg = one_line_error(t.label("--labels-db", db))
    assert "none of its 2 labels matches a row" in msg and "pass --id-column" in msg
    assert not (t.root / "o.csv").exists()
    r = t.label("--labels-db", db, "--id-column", "id")
    assert r.exit_code == 0, r.output
    assert t.report()["label_store"]["n_used"] == 2


def test_a_store_of_another_table_is_refused_and_a_partial_match_reported(t):
    db = id_store(t.root / "other.sqlite", {"x1": "bug", "x2": "account"})
    msg = one_line_error(t.label("--labels-db", db, "--id-column", "id"))
    assert "none of its 2 labels matches a row" in msg and "another table" in msg
    i = t.unlabeled(1)[0]
    db2 = id_store(t.root / "mixed.sqlite", {"x1": "bug", f"r{i}": t.truth[i]})
    r = t.label("--labels-db", db2, "--id-column", "id")
    assert r.exit_code == 0, r.output
    warnings = " ".join(t.report()["warnings"])
    assert "1 of its 2 labels match no row" in warnings and "'x1'" in warnings
    assert "match no row" in r.output  # printed too


def test_a_mistyped_store_is_an_error_and_is_not_created(t):
    typo = t.root / "lables.sqlite"
    for cmd in (t.label("--labels-db", typo, "--id-column", "id"),
                run("suggest", t.path, "--vectors", t.vectors, "--labels-db", typo, "--out", t.root / "s.csv"),
                run("labels", "export", "--labels-db", typo, "--out", t.root / "e.csv")):
        msg = one_line_error(cmd)
        assert "no such label store" in msg
    assert not typo.exists()


def test_text_keys_are_a_loud_warning_naming_the_id_column(t):
    r = run("suggest", t.path, "--vectors", t.vectors, "--n", "3", "--out", t.root / "s.csv")
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "keyed by a hash of their text" in out and "pass --id-column id" in out
    r = run("suggest", t.path, "--vectors", t.vectors, "--n", "3", "--id-column", "id", "--out", t.root / "s2.csv")
    assert "hash of their text" not in r.output
    assert read_table(t.root / "s2.csv").column("fewlabels_key").to_pylist()[0].startswith("r")


def test_label_takes_the_id_column_the_review_recorded(t):
    i = t.unlabeled(1)[0]
    db = t.root / "labels.sqlite"
    r = run("review", t.path, "--labels-db", db, "--id-column", "id", "--vectors", t.vectors, "--n", "3",
            "--no-serve")
    assert r.exit_code == 0, r.output
    with LabelStore(db) as s:
        s.set(f"r{i}", t.truth[i])
    r = t.label("--labels-db", db)  # no --id-column: the store's own
    assert r.exit_code == 0, r.output
    rep = t.report()
    assert rep["label_store"]["id_column"] == "id" and rep["label_store"]["n_used"] == 1
    assert not any("hash of their text" in w for w in rep["warnings"])


# -- review: a first run, and suggest's file ------------------------------------------------------------


def test_review_first_run_needs_classes_and_creates_no_store_on_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("FEWLABELS_CACHE", str(tmp_path / "cache.sqlite"))
    t = Table(tmp_path, labels=False)
    db = tmp_path / "labels.sqlite"
    msg = one_line_error(run("review", t.path, "--labels-db", db, "--id-column", "id", "--vectors", t.vectors,
                             "--no-serve"))
    assert "name the classes" in msg and not db.exists()
    r = run("review", t.path, "--labels-db", db, "--id-column", "id", "--vectors", t.vectors,
            "--classes", ",".join(CLASSES), "--no-serve")
    assert r.exit_code == 0, r.output
    with LabelStore(db) as s:
        assert s.recorded_classes() == list(CLASSES) and s.recorded_id_column() == (True, "id")
        assert s.current() == {}


def test_review_takes_suggests_rows_in_order(t):
    from fewlabels.loop.review.server import prepare_session

    sug = t.root / "to_label.csv"
    r = run("suggest", t.path, "--vectors", t.vectors, "--id-column", "id", "--n", "6", "--out", sug)
    assert r.exit_code == 0, r.output
    written = read_table(sug)
    session = prepare_session(t.path, t.root / "db.sqlite", id_column="id", vectors=t.vectors, suggestions=sug)
    assert [it["key"] for it in session.items] == written.column("fewlabels_key").to_pylist()
    assert [it["reason"] for it in session.items] == written.column("fewlabels_reason").to_pylist()
    r = run("review", t.path, "--labels-db", t.root / "db.sqlite", "--id-column", "id", "--vectors", t.vectors,
            "--suggestions", sug, "--no-serve")
    assert r.exit_code == 0 and "review 6 rows" in r.output, r.output
    # suggest keyed by text, review by id: refused, with the fix
    r = run("suggest", t.path, "--vectors", t.vectors, "--n", "4", "--out", t.root / "by_text.csv")
    msg = one_line_error(run("review", t.path, "--labels-db", t.root / "db.sqlite", "--id-column", "id",
                             "--vectors", t.vectors, "--suggestions", t.root / "by_text.csv", "--no-serve"))
    assert "none of its 4 rows is a row of" in msg and "same --id-column" in msg


# -- classes are never dropped ---------------------------------------------------------------------------


def test_a_named_class_with_no_label_stays_with_a_count_of_0(t):
    classes = t.root / "classes.txt"
    classes.write_text("billing\nbug\naccount\nabbreviation: a short form\n", encoding="utf-8")
    r = t.label("--classes-file", classes)
    assert r.exit_code == 0, r.output
    rep = t.report()
    assert rep["classes"] == [*CLASSES, "abbreviation"]
    assert rep["class_counts"]["given"]["abbreviation"] == 0 and rep["class_counts"]["labeled"]["abbreviation"] == 0
    assert any("abbreviation" in w and "count of 0" in w for w in rep["warnings"])
    assert "abbreviation" in " ".join(r.output.split())


def test_a_class_named_in_review_is_not_dropped_by_label(t):
    db = t.root / "labels.sqlite"
    r = run("review", t.path, "--labels-db", db, "--id-column", "id", "--vectors", t.vectors, "--n", "3",
            "--classes", "billing,bug,account,abbreviation", "--no-serve")
    assert r.exit_code == 0, r.output
    r = t.label("--labels-db", db, "--id-column", "id")  # no --classes: the labels name only three
    assert r.exit_code == 0, r.output
    rep = t.report()
    assert "abbreviation" in rep["classes"] and rep["class_counts"]["labeled"]["abbreviation"] == 0
    assert any("abbreviation" in w and "count of 0" in w for w in rep["warnings"])
    r = t.label("--labels-db", db, "--id-column", "id", "--classes", ",".join(CLASSES), out="o2.csv",
                report="r2.json")
    assert r.exit_code == 0, r.output
    rep = t.report("r2.json")
    assert "abbreviation" in rep["classes"]
    assert any("were reviewed" in w and "abbreviation" in w for w in rep["warnings"])


def test_a_bad_stored_label_is_blamed_on_the_store(t):
    i = t.unlabeled(1)[0]  # an empty cell in the table
    db = id_store(t.root / "labels.sqlite", {f"r{i}": "spam"})
    msg = one_line_error(t.label("--labels-db", db, "--id-column", "id", "--classes", ",".join(CLASSES)))
    assert f"labels.sqlite, key 'r{i}'" in msg and "stored label 'spam'" in msg
    assert "column 'label'" not in msg


# -- Label Studio ---------------------------------------------------------------------------------------


def _ls(tmp_path, tasks, name="ls.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


def _task(text, choices, **ann):
    return {"data": {"text": text}, "annotations": [{"result": [
        {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": choices}}], **ann}]}


def test_label_studio_string_choice_is_the_whole_name(tmp_path):
    from fewlabels.loop.store import text_key

    path = _ls(tmp_path, [_task("hello", "spam"), _task("bye", ["ham"])])
    assert read_label_studio(path) == [(text_key("hello"), "spam"), (text_key("bye"), "ham")]


def test_label_studio_multi_choice_is_refused(tmp_path):
    db = tmp_path / "s.sqlite"
    r = run("labels", "import", _ls(tmp_path, [_task("hello", ["spam", "ham"])]), "--labels-db", db)
    msg = one_line_error(r)
    assert "task 1" in msg and "2 choices" in msg and "single-label" in msg
    assert not db.exists()  # the file is read in full before the store is created


@pytest.mark.parametrize("tasks, match", [
    ([{"data": {"text": "a"}, "annotations": "oops"}], "'annotations' must be a list"),
    ([{"data": {"text": "a"}, "annotations": [5]}], "annotation 1: must be an object"),
    ([{"data": {"text": "a"}, "annotations": [{"result": {"x": 1}}]}], "'result' must be a list"),
    ([{"data": {"text": "a"}, "annotations": [{"result": [{"value": {"choices": [{"x": 1}]}}]}]}],
     "value.choices must be a list of class names"),
    (["just a string"], "a task must be an object"),
    ([{"data": "text"}], "a task must be an object with a 'data' object"),
])
def test_malformed_label_studio_fields_are_clear_errors(tmp_path, tasks, match):
    r = run("labels", "import", _ls(tmp_path, tasks), "--labels-db", tmp_path / "s.sqlite")
    assert match in one_line_error(r)


def test_latin1_import_csv_is_a_clear_error(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes("key,label\nk1,caf\xe9\n".encode("latin-1"))
    msg = one_line_error(run("labels", "import", path, "--labels-db", tmp_path / "s.sqlite"))
    assert "not UTF-8" in msg and "save the file as UTF-8" in msg
    assert not (tmp_path / "s.sqlite").exists()


def test_a_locked_store_is_a_clear_error(tmp_path):
    db = tmp_path / "s.sqlite"
    LabelStore(db).close()
    (tmp_path / "in.csv").write_text("key,label\nk1,a\n", encoding="utf-8")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with LabelStore(db, timeout=0.2) as s, pytest.raises(InputError, match="locked by another process"):
            s.import_file(tmp_path / "in.csv")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with LabelStore(db) as s:
        assert s.current() == {}  # nothing half-written


def test_a_store_locked_for_reading_is_a_clear_error(tmp_path):
    db = tmp_path / "s.sqlite"
    with LabelStore(db) as s:
        s.set("k1", "a")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a writer in the middle of its commit: nobody may read
    try:
        with pytest.raises(InputError, match="locked by another process"):
            LabelStore(db, create=False, timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_read_only_store_is_a_clear_error(tmp_path):
    db = tmp_path / "s.sqlite"
    (tmp_path / "in.csv").write_text("key,label\nk1,a\n", encoding="utf-8")
    store = LabelStore(db)
    store._db.close()
    store._db = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)  # a real read-only handle
    with pytest.raises(InputError, match="read-only") as e:
        store.import_file(tmp_path / "in.csv")
    assert str(db) in str(e.value)
    store.close()
    try:
        sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute("CREATE TABLE x (a)")
    except sqlite3.OperationalError as exc:
        assert "read-only" in str(store_error(db, exc))


@pytest.mark.skipif(sys.platform == "win32" or __import__("os").geteuid() == 0,
                    reason="file permissions do not bind root")
def test_a_read_only_store_file_on_import_through_the_cli(tmp_path):
    db = tmp_path / "s.sqlite"
    LabelStore(db).close()
    db.chmod(0o444)
    (tmp_path / "in.csv").write_text("key,label\nk1,a\n", encoding="utf-8")
    assert "read-only" in one_line_error(run("labels", "import", tmp_path / "in.csv", "--labels-db", db))


def test_label_studio_export_has_texts_and_a_config_and_round_trips(t):
    """export -> what Label Studio exports after a person labels it (its documented JSON layout:
    a list of tasks with data and annotations[].result[] of type choices) -> import: same labels."""
    picked = t.unlabeled(5)
    db = t.root / "labels.sqlite"
    r = run("review", t.path, "--labels-db", db, "--id-column", "id", "--vectors", t.vectors, "--n", "2",
            "--no-serve")
    assert r.exit_code == 0, r.output
    with LabelStore(db) as s:
        for i in picked:
            s.set(f"r{i}", t.truth[i])
    out = t.root / "labels.json"
    r = run("labels", "export", "--labels-db", db, "--out", out, "--table", t.path)  # as README writes it
    assert r.exit_code == 0, r.output
    tasks = json.loads(out.read_text())
    assert len(tasks) == 5 and all(task["data"]["text"].startswith("ticket number") for task in tasks)
    config = ET.fromstring((t.root / "labels.xml").read_text())
    assert config.tag == "View"
    text, choices = config.find("Text"), config.find("Choices")
    assert text.get("name") == "text" and text.get("value") == "$text"
    assert (choices.get("name"), choices.get("toName"), choices.get("choice")) == ("label", "text", "single")
    assert [c.get("value") for c in choices.findall("Choice")] == sorted(CLASSES)  # the classes review showed
    # Label Studio's export: its own task ids, the data as imported, annotations with their metadata
    exported = [{"id": 100 + n, "data": task["data"], "annotations": [{
        "id": 500 + n, "completed_by": 1, "was_cancelled": False, "ground_truth": False, "lead_time": 2.5,
        "result": [{"id": f"res{n}", "from_name": choices.get("name"), "to_name": text.get("name"),
                    "type": "choices", "origin": "manual",
                    "value": {"choices": task["annotations"][0]["result"][0]["value"]["choices"]}}]}],
        "predictions": [], "project": 1} for n, task in enumerate(tasks)]
    back = _ls(t.root, exported, "project-1-at-2024.json")
    db2 = t.root / "again.sqlite"
    r = run("labels", "import", back, "--labels-db", db2)
    assert r.exit_code == 0 and "imported 5 labels" in r.output, r.output
    with LabelStore(db) as a, LabelStore(db2) as b:
        assert {k: v["label"] for k, v in a.current().items()} == {k: v["label"] for k, v in b.current().items()}


def test_label_studio_export_refuses_a_table_the_labels_do_not_join(t):
    db = id_store(t.root / "labels.sqlite", {"r1": "bug"})
    msg = one_line_error(run("labels", "export", "--labels-db", db, "--out", t.root / "l.json", "--table", t.path))
    assert "none of its 1 labels matches" in msg and "--id-column" in msg  # text keys against an id store
    assert not (t.root / "l.json").exists() and not (t.root / "l.xml").exists()
    r = run("labels", "export", "--labels-db", db, "--out", t.root / "l.json", "--table", t.path, "--id-column", "id")
    assert r.exit_code == 0, r.output
    assert json.loads((t.root / "l.json").read_text())[0]["data"]["text"] == "ticket number 1"


# -- JSON tables, the ray extra -------------------------------------------------------------------------


def test_a_json_array_of_rows_is_a_table_not_a_wrench_split(t):
    rows = [{"id": f"r{i}", "text": f"ticket number {i}", "label": t.given.get(i)} for i in range(t.n)]
    (t.root / "t.json").write_text(json.dumps(rows), encoding="utf-8")
    r = run("label", t.root / "t.json", "--vectors", t.vectors, "--out", t.root / "o.csv", *FAST)
    assert r.exit_code == 0, r.output
    assert read_table(t.root / "o.csv").num_rows == t.n
    (t.root / "l.json").write_text("".join(json.dumps(x) + "\n" for x in rows), encoding="utf-8")  # JSON lines
    assert read_table(t.root / "l.json").column("id").to_pylist() == [f"r{i}" for i in range(t.n)]
    (t.root / "bad.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match="array of row objects"):
        read_table(t.root / "bad.json")


def test_a_wrench_shaped_json_is_still_a_wrench_split(tmp_path):
    from fewlabels.io.votes import is_wrench

    (tmp_path / "label.json").write_text('{"0": "ham", "1": "spam"}')
    (tmp_path / "w.json").write_text(json.dumps({"7": {"label": 1, "data": {"text": "win"}, "weak_labels": [1, -1]},
                                                 "8": {"label": 0, "data": {"text": "hi"}, "weak_labels": [-1, 0]}}))
    assert is_wrench(tmp_path / "w.json")
    assert read_table(tmp_path / "w.json").column_names == ["id", "text", "gold_label", "weak_labels"]
    (tmp_path / "rows.json").write_text('[{"text": "a"}]')
    assert not is_wrench(tmp_path / "rows.json")


def test_the_ray_extra_brings_ray_client():
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert any(r.replace(" ", "").startswith("ray[client]") for r in project["optional-dependencies"]["ray"])
