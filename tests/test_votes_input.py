"""A label matrix the user brings (issue 10): --votes FILE.npy, --votes-column, WRENCH's JSON.

Each CLI run uses --vectors (no encoder is loaded) and a cache in the test's own folder. The
WRENCH case reads a real slice of ../shared/data/wrench/youtube (WRENCH's own labeling
functions applied) when the shared data is present.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fewlabels.cli import app
from fewlabels.errors import InputError
from fewlabels.io import read_table
from fewlabels.io.votes import check_vote_matrix, read_votes, read_wrench, votes_from_column

runner = CliRunner()
WRENCH = Path(__file__).resolve().parents[2] / "shared" / "data" / "wrench" / "youtube"


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % 3
    centres = rng.normal(size=(3, 8)) * 4
    X = (centres[truth] + rng.normal(size=(n, 8))).astype(np.float32)
    return X, truth


def _rule_votes(truth, seed=0, m=4, acc=0.85, cover=0.6):
    rng = np.random.default_rng(seed)
    n = len(truth)
    L = np.full((n, m), -1)
    for j in range(m):
        fires = rng.random(n) < cover
        right = rng.random(n) < acc
        L[fires, j] = np.where(right[fires], truth[fires], (truth[fires] + 1) % 3)
    return L


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEWLABELS_CACHE", str(tmp_path / "cache.sqlite"))
    X, truth = _blobs()
    np.save("v.npy", X)
    L = _rule_votes(truth)
    np.save("L.npy", L)
    (tmp_path / "t.csv").write_text("text\n" + "\n".join(f"row {i}" for i in range(len(truth))) + "\n")
    return tmp_path, X, truth, L


def _run(*args):
    return runner.invoke(app, list(map(str, args)))


def test_votes_npy_labels_every_row_from_the_users_matrix(work):
    tmp, X, truth, L = work
    r = _run("label", "t.csv", "--vectors", "v.npy", "--votes", "L.npy", "--classes", "a,b,c",
             "--out", "o.csv", "--report", "r.json")
    assert r.exit_code == 0, r.output
    out = read_table(tmp / "o.csv")
    pred = np.array(["abc".index(v) for v in out.column("fewlabels_label").to_pylist()])
    assert (pred == truth).mean() > 0.9  # four 85%-accurate voters and clear clusters
    assert json.loads((tmp / "r.json").read_text())["method"] == "fused"


def test_votes_column_in_parquet_is_the_same_matrix(work):
    tmp, X, truth, L = work
    table = pa.table({"text": [f"row {i}" for i in range(len(truth))], "lf": L.tolist()})
    pq.write_table(table, tmp / "t.parquet")
    np.testing.assert_array_equal(votes_from_column(read_table(tmp / "t.parquet"), "lf", "t.parquet", 3), L)
    r = _run("label", "t.parquet", "--vectors", "v.npy", "--votes-column", "lf", "--classes", "a,b,c",
             "--out", "o.parquet")
    assert r.exit_code == 0, r.output
    r2 = _run("label", "t.csv", "--vectors", "v.npy", "--votes", "L.npy", "--classes", "a,b,c", "--out", "o2.csv")
    assert r2.exit_code == 0
    a = read_table(tmp / "o.parquet").column("fewlabels_label").to_pylist()
    b = read_table(tmp / "o2.csv").column("fewlabels_label").to_pylist()
    assert a == b  # same L, same seed: same labels whichever way L arrived


@pytest.mark.parametrize("bad, match", [
    (np.zeros((59, 4), np.int64), r"59 rows of votes for 60 rows"),
    (np.full((60, 4), 3), r"row 1, rule column 0 holds 3, outside -1\.\.2"),
    (np.full((60, 4), 0.5), r"row 1, rule column 0 holds 0\.5, not a whole number"),
    (np.zeros((60, 4), bool), r"dtype bool"),
    (np.zeros((60, 0), np.int64), r"no rule columns"),
    (np.zeros(60, np.int64), r"shape \(60,\)"),
])
def test_bad_votes_npy_is_one_clear_line(work, bad, match):
    tmp, *_ = work
    np.save("bad.npy", bad)
    with pytest.raises(InputError, match=match):
        read_votes(tmp / "bad.npy", 60, 3)
    r = _run("label", "t.csv", "--vectors", "v.npy", "--votes", "bad.npy", "--classes", "a,b,c", "--out", "o.csv")
    assert r.exit_code == 2 and r.exception is None or isinstance(r.exception, SystemExit)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.npy" in lines[0]
    assert not (tmp / "o.csv").exists()


def test_bad_votes_column_names_the_row(work):
    tmp, X, truth, L = work
    rows = L.tolist()
    rows[6] = rows[6][:3]
    pq.write_table(pa.table({"text": [str(i) for i in range(60)], "lf": rows}), tmp / "t.parquet")
    with pytest.raises(InputError, match=r"column 'lf', row 7: 3 votes where row 1 has 4"):
        votes_from_column(read_table(tmp / "t.parquet"), "lf", "t.parquet", 3)
    with pytest.raises(InputError, match=r"no column 'votes'"):
        votes_from_column(read_table(tmp / "t.parquet"), "votes", "t.parquet", 3)
    r = _run("label", "t.parquet", "--vectors", "v.npy", "--votes", "L.npy", "--votes-column", "lf",
             "--classes", "a,b,c", "--out", "o.csv")
    assert r.exit_code == 2 and "either --votes or --votes-column" in r.stderr


def test_check_vote_matrix_accepts_whole_floats():
    L = check_vote_matrix(np.array([[0.0, -1.0], [2.0, 1.0]]), 2, 3, source="x")
    assert L.dtype == np.int8 and L.tolist() == [[0, -1], [2, 1]]


@pytest.mark.skipif(not WRENCH.is_dir(), reason="needs ../shared/data/wrench")
def test_wrench_json_is_read_directly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEWLABELS_CACHE", str(tmp_path / "cache.sqlite"))
    raw = json.loads((WRENCH / "test.json").read_text())
    items = dict(list(raw.items())[:80])
    (tmp_path / "test.json").write_text(json.dumps(items))
    (tmp_path / "label.json").write_text((WRENCH / "label.json").read_text())
    table, classes = read_wrench(tmp_path / "test.json")
    assert classes == ["HAM", "SPAM"] and table.num_rows == 80
    assert table.column_names == ["id", "text", "gold_label", "weak_labels"]
    first = next(iter(items.values()))
    assert json.loads(table.column("weak_labels")[0].as_py()) == first["weak_labels"]
    X, _ = _blobs(80)
    np.save("v.npy", X)
    r = _run("label", "test.json", "--vectors", "v.npy", "--out", "o.csv", "--report", "r.json")
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["n_given"] == 0 and report["classes"] == ["HAM", "SPAM"]  # gold labels are not given labels
    out = read_table(tmp_path / "o.csv")
    gold = out.column("gold_label").to_pylist()
    pred = out.column("fewlabels_label").to_pylist()
    assert np.mean([g == p for g, p in zip(gold, pred)]) > 0.7  # WRENCH's rules, random vectors


@pytest.mark.parametrize("content, match", [
    ("[1, 2]", "expected a JSON object"),
    ('{"0": {"data": {"text": "hi"}}}', r"row 1 \(id '0'\): expected"),
    ('{"0": {"data": {"text": "hi"}, "weak_labels": [0, "x"]}}', "integer class codes"),
    ('{"0": {"data": {"text": "hi"}, "weak_labels": [0, 5]}}', r"row 1, rule column 1 holds 5"),
    ('{"0": {"data": {"text": "a"}, "weak_labels": [0]}, "1": {"data": {"text": "b"}, "weak_labels": [0, 1]}}',
     r"row 2 \(id '1'\): 2 weak labels where row 1 has 1"),
    ('{"0": {"data": {"text": "a"}, "weak_labels": [0], "label": 7}}', r"label 7 is not a class id"),
    ("{not json", "not valid JSON"),
])
def test_bad_wrench_json_is_one_clear_line(tmp_path, content, match):
    (tmp_path / "label.json").write_text('{"0": "ham", "1": "spam"}')
    (tmp_path / "d.json").write_text(content)
    with pytest.raises(InputError, match=match):
        read_wrench(tmp_path / "d.json")


def test_wrench_json_without_label_json(tmp_path):
    (tmp_path / "d.json").write_text('{"0": {"data": {"text": "a"}, "weak_labels": [0]}}')
    with pytest.raises(InputError, match="needs its label.json"):
        read_wrench(tmp_path / "d.json")


def test_zero_labels_with_rules_report_a_model_based_estimate_named_unverified(work):
    tmp, X, truth, L = work
    r = _run("label", "t.csv", "--vectors", "v.npy", "--votes", "L.npy", "--classes", "a,b,c",
             "--out", "o.csv", "--report", "r.json")
    assert r.exit_code == 0, r.output
    assert "unverified: no labels" in r.stdout
    est = json.loads((tmp / "r.json").read_text())["estimated_accuracy"]
    assert est["verified_by_labels"] is False and "unverified" in est["method"]
    assert est["low"] <= est["value"] <= est["high"]
    out = read_table(tmp / "o.csv")
    true_acc = np.mean([v == "abc"[t] for v, t in zip(out.column("fewlabels_label").to_pylist(), truth)])
    # four independent 85%-accurate voters on 60% of rows each: the model's assumptions hold here
    assert abs(est["value"] - true_acc) < 0.1


def test_rules_accuracy_estimate_tracks_the_truth_on_independent_rules():
    from fewlabels.signals.synthetic import make_votes
    from fewlabels.zero_label_estimate import rules_accuracy_estimate

    s = make_votes(4000, 8, 3, accuracy=(0.55, 0.85), coverage=(0.2, 0.5), random_state=3)
    rng = np.random.default_rng(0)
    X = (np.eye(3)[s.truth] * 2 + rng.normal(size=(4000, 3))).astype(np.float32)
    from fewlabels.labelers.label_models import WeightedMajorityLabeler

    covered = (s.L >= 0).any(axis=1)
    pred = WeightedMajorityLabeler(n_classes=3).fit(s.L).predict(s.L)
    est = rules_accuracy_estimate(X, s.L, 3, labels=pred)
    # ~3,500 covered rows: the mean's sampling error is ~0.008; 0.03 leaves room for the fit
    assert abs(est["covered_accuracy"] - (pred[covered] == s.truth[covered]).mean()) < 0.03
    assert est["low"] < est["value"] < est["high"] and 0 < est["coverage"] < 1


def test_rules_accuracy_estimate_is_of_the_labels_it_is_given():
    """Worse labels on the same rules get a lower estimate, by about how much worse they are."""
    from fewlabels.signals.synthetic import make_votes
    from fewlabels.zero_label_estimate import rules_accuracy_estimate

    s = make_votes(4000, 8, 3, accuracy=(0.6, 0.9), coverage=(0.3, 0.6), random_state=5)
    X = np.random.default_rng(0).normal(size=(4000, 4)).astype(np.float32)
    from fewlabels.labelers.label_models import WeightedMajorityLabeler

    pred = WeightedMajorityLabeler(n_classes=3).fit(s.L).predict(s.L)
    good = rules_accuracy_estimate(X, s.L, 3, labels=pred)
    # 30% of the rows moved to another class at random, independently of the truth (as a
    # worse method's labels would be: a function of what it sees, not of the truth)
    rng = np.random.default_rng(1)
    worse = pred.copy()
    flip = rng.random(4000) < 0.3
    worse[flip] = (worse[flip] + rng.integers(1, 3, flip.sum())) % 3
    bad = rules_accuracy_estimate(X, s.L, 3, labels=worse)
    covered = (s.L >= 0).any(axis=1)
    true_good = (pred[covered] == s.truth[covered]).mean()
    true_bad = (worse[covered] == s.truth[covered]).mean()
    assert true_bad < true_good - 0.15
    # the drop is estimated, not only its sign (sampling error of each mean ~0.008)
    assert abs((good["covered_accuracy"] - bad["covered_accuracy"]) - (true_good - true_bad)) < 0.03


def test_rules_accuracy_estimate_with_one_class_rules_on_imbalanced_classes():
    """One-class rules (each votes only its class) on imbalanced classes: the one-coin model
    (one accuracy per rule, errors spread evenly) cannot describe them and underestimates
    the rules' labels by ~0.2 here; the estimate uses Dawid-Skene, and misses by much less
    (its votes-only posterior ignores what a silent rule says, ~0.05 low on this data)."""
    from fewlabels.labelers.label_models import DawidSkeneLabeler
    from fewlabels.signals.synthetic import make_votes
    from fewlabels.zero_label_estimate import rules_accuracy_estimate

    s = make_votes(6000, 12, 3, accuracy=(0.6, 0.95), coverage=(0.2, 0.5), class_balance=[0.6, 0.3, 0.1],
                   polarity="one", random_state=2)
    X = np.random.default_rng(0).normal(size=(6000, 4)).astype(np.float32)
    covered = (s.L >= 0).any(axis=1)
    pred = DawidSkeneLabeler(n_classes=3).fit(s.L).predict(s.L)
    est = rules_accuracy_estimate(X, s.L, 3, labels=pred)
    assert est["model"] == "dawid_skene" and est["other_model_value"] is not None
    one_coin = est["other_model_value"]
    truth = (pred == s.truth).mean()
    assert abs(est["value"] - truth) < 0.5 * abs(one_coin - truth)
    assert abs(est["covered_accuracy"] - (pred[covered] == s.truth[covered]).mean()) < 0.08
    assert est["low"] <= est["value"] <= est["high"]
