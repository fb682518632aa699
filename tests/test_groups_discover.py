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
