"""The review server without a browser: the store's events (append-only), bad requests,
a locked store, the refits and the next batch. Real SQLite, real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from fewlabels.loop.review.server import prepare_session, serve
from fewlabels.loop.review.state import ReviewState
from fewlabels.loop.store import LabelStore, StoreLockedError
from review_tables import shifted_clusters, with_wrong_labels


def test_undo_skip_confirm_are_events_and_the_label_is_derived(tmp_path):
    with LabelStore(tmp_path / "s.sqlite") as s:
        s.set("a", "spam")
        s.set("a", "ham")
        s.confirm("b", "ham")
        s.skip("c")
        assert s.undo() == "c" and s.skipped() == set()
        assert s.undo() == "b" and s.confirmed() == {}
        assert s.undo() == "a" and s.current()["a"]["label"] == "spam"  # the label before, restored
        assert s.undo() == "a" and "a" not in s.current()
        assert s.undo() is None
        kinds = [(e["kind"], e["target"]) for e in s.history()]
    assert kinds == [("label", None), ("label", None), ("confirmed", None), ("skip", None),
                     ("undo", 4), ("undo", 3), ("undo", 2), ("undo", 1)]  # nothing deleted


def test_a_store_made_before_the_event_kinds_opens_and_keeps_its_labels(tmp_path):
    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, label TEXT, "
                      "source TEXT NOT NULL, at TEXT NOT NULL); CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT);"
                      "INSERT INTO events(key, label, source, at) VALUES ('a', 'spam', 'review', 't');")
    con.commit()
    con.close()
    with LabelStore(db) as s:
        assert s.current()["a"]["label"] == "spam"
        s.skip("a")
        assert s.current()["a"]["label"] == "spam" and s.skipped() == {"a"}


def test_a_locked_store_is_retried_then_refused(tmp_path):
    db = tmp_path / "s.sqlite"
    store = LabelStore(db, timeout=0.05, retry_delays=(0.05, 0.1))
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StoreLockedError, match="locked by another process.*nothing was written"):
        store.set("a", "x")
    threading.Timer(0.3, holder.rollback).start()  # released during the retries: saved
    store.retry_delays = (0.2, 0.4, 0.8)
    store.set("a", "x")
    assert store.current()["a"]["label"] == "x"
    store.close()
    holder.close()


@pytest.fixture
def server(tmp_path):
    table, vec, truth = shifted_clusters(tmp_path)
    db = tmp_path / "labels.sqlite"
    session = prepare_session(table, db, n=20, vectors=vec, id_column="id")
    srv = serve(session, timeout=0.05, retry_delays=(0.05, 0.1))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv, session, db, truth
    srv.shutdown()
    srv.server_close()


def _post(srv, path, data: bytes, ctype="application/json"):
    req = urllib.request.Request(srv.url + path, data=data, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_bad_bodies_get_a_json_error_and_no_traceback(server, capfd):
    srv, session, db, _ = server
    key = session.items[0]["key"]
    cases = [b"[1, 2]", b'"x"', b"null", b"{bad json", b"\xff\xfe", b"[" * 5000, json.dumps({"key": 5}).encode(),
             json.dumps({"key": key, "label": ["bug"]}).encode(), json.dumps({"key": key, "label": "nope"}).encode(),
             json.dumps({"key": "no-such-row", "label": "bug"}).encode()]
    for body in cases:
        code, reply = _post(srv, "api/answer", body)
        assert code == 400 and reply["error"], body[:20]
    assert _post(srv, "api/skip", b"[]")[0] == 400
    assert _post(srv, "api/answer", b'{"key": "x"}', ctype="text/plain")[0] == 400
    err = capfd.readouterr().err
    assert "Traceback" not in err
    with LabelStore(db) as s:
        assert s.history() == []


def test_an_answer_under_a_lock_is_refused_on_the_page_and_at_stop(server):
    srv, session, db, _ = server
    key = session.items[0]["key"]
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    code, reply = _post(srv, "api/answer", json.dumps({"key": key, "label": "bug"}).encode())
    assert code == 503 and reply["saved"] is False and "not saved" in reply["error"]
    assert "NOT saved" in srv.summary() and key in srv.summary()
    with pytest.raises(urllib.error.HTTPError) as e:  # reads fail cleanly too
        urllib.request.urlopen(srv.url + "api/state", timeout=10)
    assert e.value.code == 503 and "locked" in json.loads(e.value.read())["error"]
    holder.rollback()
    holder.close()
    code, reply = _post(srv, "api/answer", json.dumps({"key": key, "label": "bug"}).encode())
    assert code == 200 and reply["ok"]
    assert srv.summary().startswith("stopped; every answer is in the store")
    state = json.loads(urllib.request.urlopen(srv.url + "api/state", timeout=10).read())
    assert state["items"][0]["label"] == "bug" and state["unsaved"] == 0


def test_guesses_refresh_after_ten_answers_and_next_batch_adds_rows(tmp_path):
    table, vec, truth = shifted_clusters(tmp_path)
    session = prepare_session(table, tmp_path / "l.sqlite", n=20, vectors=vec, id_column="id")
    st = ReviewState(session, background=False)

    T = np.array([session.classes.index(truth[k]) for k in session.pool.keys])
    _, P0 = st.fit()
    for it in list(session.items[:9]):
        st.answer(it["key"], truth[it["key"]])
    assert st.refreshes == 0
    shown = {it["key"]: it["guess"] for it in session.items}
    st.answer(session.items[9]["key"], truth[session.items[9]["key"]])
    assert st.refreshes == 1 and st.version == 1
    todo = [it for it in st.state()["items"] if not it["done"]]
    before = np.mean([shown[it["key"]] == truth[it["key"]] for it in todo])
    after = np.mean([it["guess"] == truth[it["key"]] for it in todo])
    assert len(todo) == 10 and after >= before
    y, P = st.fit()
    rest = y < 0  # the rows still unlabeled, guessed far better from the new labels
    assert (P[rest].argmax(1) == T[rest]).mean() > (P0[rest].argmax(1) == T[rest]).mean() + 0.2
    for it in session.items:  # the shown guesses are the refit's; the rows to do come after those done
        assert it["guess"] == session.classes[int(P[it["row"] - 1].argmax())]
    done = [it["done"] for it in st.state()["items"]]
    assert done == sorted(done, reverse=True)

    old = {it["key"] for it in session.items}
    reply = st.next_batch(7)
    new = [it for it in session.items if it["key"] not in old]
    assert reply["added"] == 7 == len(new) and all(it["batch"] == 2 for it in new)
    st.close()


def test_a_confirmed_suspect_is_not_flagged_again(tmp_path):
    table, vec, wrong = with_wrong_labels(tmp_path)
    db = tmp_path / "l.sqlite"
    session = prepare_session(table, db, n=3, suspects=True, vectors=vec, id_column="id")
    suspects = [it for it in session.items if it["kind"] == "suspect"]
    assert {it["key"] for it in suspects} == set(wrong) and session.items[0]["kind"] == "suspect"
    st = ReviewState(session)
    first = suspects[0]
    assert st.answer(first["key"], first["given"])["event"] == "confirmed"
    assert st.skip(suspects[1]["key"])["event"] == "skip"
    state = {it["key"]: it for it in st.state()["items"]}
    assert state[first["key"]]["done"] and state[first["key"]]["confirmed"]
    assert state[suspects[1]["key"]]["done"] and not state[suspects[2]["key"]]["done"]
    st.close()
    again = prepare_session(table, db, n=3, suspects=True, vectors=vec, id_column="id")
    assert {it["key"] for it in again.items if it["kind"] == "suspect"} == set(wrong) - {first["key"]}


def test_the_state_is_read_while_a_refit_runs(tmp_path):
    table, vec, truth = shifted_clusters(tmp_path)
    session = prepare_session(table, tmp_path / "l.sqlite", n=20, vectors=vec, id_column="id")
    st = ReviewState(session, refit_every=2)
    for it in list(session.items[:4]):
        st.answer(it["key"], truth[it["key"]])
        st.state()
    deadline = time.time() + 20
    while st.status()["fitting"] and time.time() < deadline:
        time.sleep(0.05)
    assert st.refreshes >= 1 and st.status()["fit_error"] is None
    st.close()
