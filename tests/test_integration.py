"""End to end with the real packaged encoder (all-MiniLM-L6-v2) on real data: the bundled
SMS Spam sample. Slower than the unit tests (loads the model once, encodes ~400 texts)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from fewlabels.cli import app
from fewlabels.demo import demo_data_path, run_demo
from fewlabels.io import read_table, write_table

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def cache_path(tmp_path_factory):
    return tmp_path_factory.mktemp("cache") / "emb.sqlite"


@pytest.fixture(scope="module")
def sms(tmp_path_factory):
    """400 real SMS rows, 40 labels kept (random), plus the truth."""
    table = read_table(demo_data_path()).slice(0, 400)
    truth = np.asarray(table.column("label").to_pylist(), dtype=object)
    rng = np.random.default_rng(1)
    keep = np.zeros(len(truth), bool)
    keep[rng.choice(len(truth), 40, replace=False)] = True
    # make sure both classes are given at least twice
    for cls in ("ham", "spam"):
        idx = np.flatnonzero(truth == cls)[:2]
        keep[idx] = True
    given = np.where(keep, truth, "")
    table = table.append_column("id", pa.array([f"{i:05d}" for i in range(len(truth))]))
    table = table.set_column(table.column_names.index("label"), "label", pa.array(given.tolist()))
    path = tmp_path_factory.mktemp("data") / "sms.csv"
    write_table(table, path)
    return path, truth, keep


def cached_rows(path) -> int:
    with sqlite3.connect(path) as con:
        return con.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]


def test_label_predict_and_cache_end_to_end(sms, cache_path, tmp_path):
    path, truth, keep = sms
    before = path.read_bytes()
    out, report, model = tmp_path / "out.csv", tmp_path / "report.json", tmp_path / "model"
    r = runner.invoke(app, ["label", "--finetune", "off", str(path), "--out", str(out), "--report", str(report),
                            "--save-model", str(model), "--cache", str(cache_path)])
    assert r.exit_code == 0, r.output
    assert path.read_bytes() == before  # input untouched

    t = read_table(out)
    assert t.column_names == ["text", "label", "id", "fewlabels_label", "fewlabels_confidence", "fewlabels_source",
                              "fewlabels_suspect"]
    assert t.column("id").to_pylist()[:3] == ["00000", "00001", "00002"]  # kept as text
    labels = np.asarray(t.column("fewlabels_label").to_pylist(), dtype=object)
    conf = np.asarray(t.column("fewlabels_confidence").to_pylist(), dtype=float)  # CSV reads back as text
    source = np.asarray(t.column("fewlabels_source").to_pylist(), dtype=object)
    assert (labels[keep] == truth[keep]).all() and (source[keep] == "given").all()
    assert ((conf >= 0) & (conf <= 1)).all()
    accuracy = (labels[~keep] == truth[~keep]).mean()
    assert accuracy > 0.85  # real MiniLM embeddings separate spam from ham well

    rep = json.loads(report.read_text())
    est = rep["estimated_accuracy"]
    assert est["low"] <= est["value"] <= est["high"]
    assert rep["method"] in rep["candidates"]
    assert set(rep["timings_s"]) >= {"load", "embed", "select", "end_model", "write"}

    # A second run encodes nothing new: the cache already holds every text.
    n_cached = cached_rows(cache_path)
    r = runner.invoke(app, ["label", "--finetune", "off", str(path), "--out", str(tmp_path / "again.csv"), "--cache", str(cache_path)])
    assert r.exit_code == 0, r.output
    assert cached_rows(cache_path) == n_cached
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()  # same seed, same output

    # The saved end model labels new rows.
    new = tmp_path / "new.jsonl"
    write_table(read_table(demo_data_path()).slice(400, 100).drop_columns(["label"]), new)
    r = runner.invoke(app, ["predict", str(model), str(new), "--out", str(tmp_path / "pred.parquet"),
                            "--cache", str(cache_path)])
    assert r.exit_code == 0, r.output
    pred = read_table(tmp_path / "pred.parquet")
    true_new = np.asarray(read_table(demo_data_path()).slice(400, 100).column("label").to_pylist())
    assert (np.asarray(pred.column("fewlabels_label").to_pylist()) == true_new).mean() > 0.85


def test_zero_labels_with_class_descriptions(sms, cache_path, tmp_path):
    path, truth, _ = sms
    t = read_table(path).drop_columns(["label"])
    nolabels = tmp_path / "nolabels.csv"
    write_table(t, nolabels)
    classes = tmp_path / "classes.txt"
    classes.write_text("ham: an ordinary personal text message between friends or family\n"
                       "spam: an advertisement, prize, free offer or premium-rate message asking to call or text\n")
    report = tmp_path / "r.json"
    r = runner.invoke(app, ["label", "--finetune", "off", str(nolabels), "--classes-file", str(classes), "--out", str(tmp_path / "o.csv"),
                            "--report", str(report), "--cache", str(cache_path)])
    assert r.exit_code == 0, r.output
    rep = json.loads(report.read_text())
    assert rep["method"] == "selftraining" and rep["estimated_accuracy"] is None and rep["fallback"]
    labels = np.asarray(read_table(tmp_path / "o.csv").column("fewlabels_label").to_pylist())
    # balanced accuracy (mean recall of ham and spam): 0.5 for a constant answer
    recall = [(labels[truth == c] == c).mean() for c in ("ham", "spam")]
    assert np.mean(recall) > 0.75, recall


def test_demo_prints_estimate_and_truth(cache_path, tmp_path):
    s = run_demo(tmp_path / "demo", n_labels=50, random_state=0,
                 cache=__import__("fewlabels.embed", fromlist=["EmbeddingCache"]).EmbeddingCache(cache_path))
    assert {"input.csv", "labeled.csv", "report.json"} <= {p.name for p in (tmp_path / "demo").iterdir()}
    assert 0.8 < s["true_accuracy"] <= 1.0
    assert abs(s["estimated_accuracy"]["value"] - s["true_accuracy"]) < 0.15


def test_rules_with_zero_and_some_labels(sms, cache_path, tmp_path):
    path, truth, keep = sms
    rules = tmp_path / "rules.toml"
    rules.write_text('[spam]\nkeywords = ["free", "prize", "txt", "claim", "urgent", "won"]\n'
                     "regex = ['\\b\\d{5}\\b', '\\b0[89]\\d{8,}\\b']\n"
                     '[ham]\nkeywords = ["lol", "ok", "home", "later", "sorry"]\n', encoding="utf-8")
    # the analysis command
    r = runner.invoke(app, ["rules", str(path), "--rules", str(rules), "--report", str(tmp_path / "lf.json")])
    assert r.exit_code == 0, r.output
    lf = json.loads((tmp_path / "lf.json").read_text())
    assert lf["totals"]["rules"] == 13 and 0 < lf["totals"]["coverage"] <= 1
    assert {x["rule"] for x in lf["rules"]} >= {"spam:keyword:free", "ham:keyword:lol"}

    # zero labels: the label model alone
    nolabels = tmp_path / "nolabels.csv"
    write_table(read_table(path).drop_columns(["label"]), nolabels)
    rep0 = tmp_path / "r0.json"
    r = runner.invoke(app, ["label", "--finetune", "off", str(nolabels), "--classes", "ham,spam", "--rules", str(rules),
                            "--out", str(tmp_path / "o0.csv"), "--report", str(rep0), "--cache", str(cache_path)])
    assert r.exit_code == 0, r.output
    assert json.loads(rep0.read_text())["method"] == "fused"
    labels0 = np.asarray(read_table(tmp_path / "o0.csv").column("fewlabels_label").to_pylist())
    assert np.mean([(labels0[truth == c] == c).mean() for c in ("ham", "spam")]) > 0.75

    # with the 40 labels: rule-based and fused candidates are compared with the embedding ones
    rep = tmp_path / "r.json"
    r = runner.invoke(app, ["label", "--finetune", "off", str(path), "--rules", str(rules), "--out", str(tmp_path / "o.csv"),
                            "--report", str(rep), "--cache", str(cache_path)])
    assert r.exit_code == 0, r.output
    report = json.loads(rep.read_text())
    assert {"majority", "dawid_skene", "fused", "ensemble"} <= set(report["candidates"])
    assert "rules" in report and report["rules"]["totals"]["rules"] == 13
