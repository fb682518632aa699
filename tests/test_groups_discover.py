"""Novel-class discovery: the number of new classes, their keywords, the classes file."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from fewlabels.classes import read_classes_file
from fewlabels.discover import ctfidf_keywords, discover, write_classes_file
from fewlabels.errors import InputError

from test_cli_errors import assert_rejected, invoke

WORDS = (["refund", "money", "return"], ["card", "lost", "stolen"], ["transfer", "pending", "account"])


def unknown_rows(n_per=40, k=3, d=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    truth = np.repeat(np.arange(k), n_per)
    X = centres[truth] + 0.3 * rng.normal(size=(len(truth), d))
    texts = [f"my {WORDS[c][i % 3]} and {WORDS[c][(i + 1) % 3]} please {i}" for i, c in enumerate(truth)]
    return X.astype(np.float32), truth, texts


def test_ctfidf_by_hand():
    kw = ctfidf_keywords(["apple apple pie", "apple pie", "car car road", "car road"], np.array([0, 0, 1, 1]), 2)
    assert kw[0][:2] == ["apple", "pie"] and kw[1][:2] == ["car", "road"]


def test_discover_finds_the_number_and_the_words():
    X, truth, texts = unknown_rows()
    res = discover(X, texts, k_max=8)
    assert res.n_classes == 3
    assert set(res.scores) == set(range(2, 9))
    # each proposed class is one true class, with that class's words
    for c in res.classes:
        members = truth[res.labels == res.classes.index(c)]
        assert len(set(members.tolist())) == 1 and c.size == 40
        assert set(c.keywords[:3]) == set(WORDS[members[0]])
        assert len(c.typical) == 3 and c.name.count("_") == 1


def test_classes_file_round_trips(tmp_path):
    X, truth, texts = unknown_rows()
    res = discover(X, texts, k_max=6)
    path = tmp_path / "classes.txt"
    write_classes_file(path, ["billing", "other"], res)
    spec = read_classes_file(path)
    assert spec.names[:2] == ["billing", "other"] and len(spec.names) == 2 + res.n_classes
    assert spec.description(res.classes[0].name) == ", ".join(res.classes[0].keywords)


def test_too_few_rows_is_a_clean_error():
    with pytest.raises(InputError, match="only 3 row"):
        discover(np.eye(3, dtype=np.float32))


def _table(tmp_path, unknown=True):
    X, truth, texts = unknown_rows()
    root = tmp_path / "work"
    root.mkdir()
    with open(root / "t.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "fewlabels_label"])
        for i, t in enumerate(texts):
            w.writerow([t, "unknown" if unknown and i % 4 else "billing"])
    np.save(root / "v.npy", X)
    return root


def test_discover_command_writes_an_editable_classes_file(tmp_path):
    root = _table(tmp_path)
    res = invoke("discover", root / "t.csv", "--out", root / "c.txt", "--vectors", root / "v.npy",
                 "--cache", tmp_path / "c.sqlite", "--max-classes", "6")
    assert res.exit_code == 0, res.output
    spec = read_classes_file(root / "c.txt")
    assert spec.names[0] == "billing" and len(spec.names) == 4
    assert "3 new classes proposed" in res.stdout


class _Work:
    def __init__(self, root):
        self.root = root

    def snapshot(self):
        return {str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args,expected", [
    ([], "no row is 'unknown'"),
    (["--label-column", "nope"], "nope"),
])
def test_discover_bad_inputs(tmp_path, args, expected):
    root = _table(tmp_path, unknown=False)
    w = _Work(root)
    before = w.snapshot()
    res = invoke("discover", root / "t.csv", "--out", root / "c.txt", "--vectors", root / "v.npy",
                 "--cache", tmp_path / "c.sqlite", *args)
    assert_rejected(w, before, res, "t.csv", expected)


def broad_classes(classes, subs=3, n_sub=20, d=64, seed=0):
    """Classes made of ``subs`` tight topics each, all with the same geometry: class c lies
    along axis c, each of its topics adds its own axis; rows add a little noise."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for c in classes:
        for s in range(subs):
            topic = np.zeros(d)
            topic[c] = 3.0
            topic[16 + c * subs + s] = 2.5
            X.append(topic + 0.15 * rng.normal(size=(n_sub, d)))
            y += [c] * n_sub
    return np.vstack(X).astype(np.float32), np.array(y)


def test_reference_spread_counts_broad_classes_not_their_topics():
    X_unknown, truth = broad_classes([3, 4], seed=1)
    X_known, y_known = broad_classes([0, 1, 2], seed=2)
    plain = discover(X_unknown, k_max=8)
    ref = discover(X_unknown, k_max=8, reference=(X_known, y_known))
    assert plain.n_classes == 6  # the silhouette finds the topics
    assert ref.n_classes == 2
    assert (np.bincount(ref.labels) == 60).all()


def test_discover_command_uses_the_given_labels_as_reference(tmp_path):
    X_unknown, _ = broad_classes([3, 4], seed=1)
    X_known, y_known = broad_classes([0, 1, 2], seed=2)
    root = tmp_path / "work"
    root.mkdir()
    with open(root / "t.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "fewlabels_label", "fewlabels_source"])
        for c in y_known:
            w.writerow([f"known {c}", f"k{c}", "given"])
        for i in range(len(X_unknown)):
            w.writerow([f"row {i}", "unknown", "unknown"])
    np.save(root / "v.npy", np.vstack([X_known, X_unknown]))
    res = invoke("discover", root / "t.csv", "--out", root / "c.txt", "--vectors", root / "v.npy",
                 "--cache", tmp_path / "c.sqlite", "--max-classes", "8", "--report", root / "r.json")
    assert res.exit_code == 0, res.output
    import json

    rep = json.loads((root / "r.json").read_text())
    assert rep["n_classes"] == 2 and rep["criterion"].startswith("spread")
    assert read_classes_file(root / "c.txt").names[:3] == ["k0", "k1", "k2"]
