"""The audit: random rows to label (``fewlabels audit``), a verified estimate from their labels
(``fewlabels label --audit`` or the store's source ``audit``), and every bad audit input
refused with a message and no output written.

The end-to-end runs use 300 real SMS rows with stored vectors (``tests/golden/inputs``), so
no encoder is loaded."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from fewlabels.audit import draw_audit, verified_estimate
from fewlabels.cli import app
from fewlabels.errors import InputError
from fewlabels.io import read_table, write_table
from fewlabels.loop.store import LabelStore, row_keys

runner = CliRunner()
GOLDEN = Path(__file__).parent / "golden" / "inputs"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

PROGRESS = re.compile(r"^[\w -]+: \d+% \([\d,]+/[\d,]+\)( in [\d.]+ s)?$")


# ---------------------------------------------------------------------------------------
# draw_audit
# ---------------------------------------------------------------------------------------


def test_draw_audit_is_seeded_and_only_draws_unlabeled_rows():
    y = np.full(200, -1)
    y[::3] = 1
    a = draw_audit(y, 40, random_state=7)
    assert len(a) == 40 and len(set(a.tolist())) == 40
    assert (y[a] < 0).all()
    np.testing.assert_array_equal(a, draw_audit(y, 40, random_state=7))
    assert not np.array_equal(a, draw_audit(y, 40, random_state=8))
    assert (np.diff(a) > 0).all()


def test_draw_audit_counts_rows_sharing_a_key_once():
    y = np.full(6, -1)
    keys = ["a", "a", "a", "b", "c", "c"]
    rows = draw_audit(y, 3, 0, keys=keys)
    assert sorted(keys[i] for i in rows) == ["a", "b", "c"]
    with pytest.raises(InputError, match="only 3 distinct rows"):
        draw_audit(y, 4, 0, keys=keys)


@pytest.mark.parametrize("n, msg", [(0, "at least 1"), (-3, "at least 1"), (11, "only 10 rows")])
def test_draw_audit_refuses_bad_sizes(n, msg):
    y = np.r_[np.full(10, -1), np.zeros(5, int)]
    with pytest.raises(InputError, match=msg):
        draw_audit(y, n)


# ---------------------------------------------------------------------------------------
# verified_estimate: a statistical test against known truth
# ---------------------------------------------------------------------------------------


def _pool(rng, N, link):
    """(confidence, right) of N rows: calibrated, overconfident by 0.15, or uninformative."""
    acc = rng.uniform(0.6, 0.97)
    c = np.clip(rng.beta(acc * 6, (1 - acc) * 6, N), 0.5, 1.0)
    if link == "uninformative":
        c = rng.uniform(0.3, 0.6, N)
        return c, rng.random(N) < acc
    p = c if link == "calibrated" else np.clip(c - 0.15, 0, 1)
    return c, rng.random(N) < p


@pytest.mark.parametrize("link", ["calibrated", "overconfident", "uninformative"])
def test_verified_interval_covers_the_truth_at_least_90_percent(link):
    """200 seeded pools of 2,000 rows, a 50-row random audit each: the 95% interval must hold
    the pool's true accuracy at least 90% of the time, and the point must beat the
    model's own (possibly biased) mean confidence on average."""
    hits, err, err_model = 0, [], []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        c, right = _pool(rng, 2000, link)
        truth = right.mean()
        idx = draw_audit(np.full(2000, -1), 50, seed)
        est = verified_estimate(c, right[idx], c[idx])
        hits += est["low"] <= truth <= est["high"]
        err.append(abs(est["value"] - truth))
        err_model.append(abs(c.mean() - truth))
        assert est["low"] <= est["value"] <= est["high"]
        assert est["audit_only"]["low"] <= est["audit_only"]["value"] <= est["audit_only"]["high"]
    assert hits / 200 >= 0.90
    assert np.mean(err) < 0.06
    if link != "calibrated":
        assert np.mean(err) < np.mean(err_model)


def test_verified_estimate_is_exact_when_every_row_is_audited():
    rng = np.random.default_rng(0)
    c = rng.uniform(0.5, 1, 30)
    right = rng.random(30) < 0.8
    est = verified_estimate(c, right, c)
    assert est["value"] == pytest.approx(right.mean())
    assert est["low"] == pytest.approx(right.mean()) and est["high"] == pytest.approx(right.mean())


@pytest.mark.parametrize("args, msg", [
    (([0.9, 0.8], [1, 0, 1], [0.9, 0.8]), "one of each"),
    (([0.9], [], []), "no audited row"),
    (([0.9], [1, 1], [0.9, 0.9]), "only 1 rows"),
    (([1.5, 0.2], [1], [0.2]), r"\[0, 1\]"),
    (([0.5, 0.2], [2], [0.2]), "0/1"),
])
def test_verified_estimate_refuses_bad_arrays(args, msg):
    with pytest.raises(InputError, match=msg):
        verified_estimate(*args)


# ---------------------------------------------------------------------------------------
# The commands on 300 real SMS rows (stored vectors)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sms():
    data = json.loads((GOLDEN / "sms300_truth.json").read_text())
    return data["text"], data["label"]


def _table(tmp_path, sms, n=300):
    texts, truth = sms
    rng = np.random.default_rng(1)
    given = np.full(n, "", dtype=object)
    tr = np.array(truth[:n], dtype=object)
    for c in ("ham", "spam"):
        given[rng.choice(np.flatnonzero(tr == c), 8, replace=False)] = c
    path = tmp_path / "t.csv"
    write_table(pa.table({"text": texts[:n], "label": given.tolist()}), path)
    vec = tmp_path / "v.npy"
    np.save(vec, np.load(GOLDEN / "sms300.npy")[:n])
    return path, vec


def _cli(*args):
    res = runner.invoke(app, [str(a) for a in args])
    return res.exit_code, ANSI.sub("", res.stdout), ANSI.sub("", res.stderr)


def _fill(audit_path, out_path, sms, edit=None):
    """The audit file with the true labels filled in (``edit(rows)`` may change them)."""
    texts, truth = sms
    truth_of = dict(zip(texts, truth))
    t = read_table(audit_path)
    rows = [dict(r, label=truth_of[r["text"]]) for r in t.to_pylist()]
    if edit:
        rows = edit(rows)
    write_table(pa.Table.from_pylist(rows, schema=t.schema) if rows else t.slice(0, 0), out_path)
    return out_path


def _label(table, vec, tmp_path, name, *extra):
    out, rep = tmp_path / f"{name}.csv", tmp_path / f"{name}.json"
    code, stdout, stderr = _cli("label", table, "--vectors", vec, "--out", out, "--report", rep, "--finetune", "off",
                                "--cache", tmp_path / "emb.sqlite", *extra)
    return code, stdout, stderr, out, rep


def test_audit_command_writes_random_unlabeled_rows_with_keys(tmp_path, sms):
    table, _ = _table(tmp_path, sms)
    out = tmp_path / "audit.csv"
    code, stdout, stderr = _cli("audit", table, "--n", 25, "--out", out, "--seed", 3)
    assert code == 0, stderr
    assert "25 rows drawn at random from the 284 rows" in stdout
    t, a = read_table(table), read_table(out)
    assert a.column_names == ["text", "label", "fewlabels_key"]
    assert a.num_rows == 25 and all(v is None or v == "" for v in a.column("label").to_pylist())
    keys = row_keys(t, id_column=None, texts=t.column("text").to_pylist(), path=table)
    given = dict(zip(keys, t.column("label").to_pylist()))
    assert all(not given[k] for k in a.column("fewlabels_key").to_pylist())
    assert set(a.column("fewlabels_key").to_pylist()) <= set(keys)
    before = out.read_bytes()
    code, _, stderr = _cli("audit", table, "--n", 25, "--out", out, "--seed", 4)
    assert code == 2 and "already exists" in stderr and "--force" in stderr
    assert out.read_bytes() == before
    assert _cli("audit", table, "--n", 25, "--out", out, "--seed", 4, "--force")[0] == 0
    assert out.read_bytes() != before
    code, _, stderr = _cli("audit", table, "--n", 25, "--out", table, "--force")
    assert code == 2 and "input" in stderr
    code, _, stderr = _cli("audit", table, "--n", 500, "--out", tmp_path / "big.csv")
    assert code == 2 and "at most" in stderr and not (tmp_path / "big.csv").exists()


def test_audit_labels_only_measure(tmp_path, sms):
    """With the audit, the labels are the same as without it, and the estimate is verified;
    through the store (source 'audit') the same."""
    table, vec = _table(tmp_path, sms)
    _cli("audit", table, "--n", 50, "--out", tmp_path / "audit.csv")
    filled = _fill(tmp_path / "audit.csv", tmp_path / "filled.csv", sms)
    code, _, stderr, plain, plain_rep = _label(table, vec, tmp_path, "plain")
    assert code == 0, stderr
    code, stdout, stderr, aud, aud_rep = _label(table, vec, tmp_path, "aud", "--audit", filled,
                                                "--html", tmp_path / "aud.html")
    assert code == 0, stderr
    assert "verified by 50 random audit labels" in (tmp_path / "aud.html").read_text()
    a, b = read_table(plain), read_table(aud)
    assert a.column("fewlabels_label").to_pylist() == b.column("fewlabels_label").to_pylist()
    assert a.column("fewlabels_confidence").to_pylist() == b.column("fewlabels_confidence").to_pylist()
    rep, rep0 = json.loads(aud_rep.read_text()), json.loads(plain_rep.read_text())
    est = rep["estimated_accuracy"]
    assert est["verified_by_labels"] is True and est["n_audit"] == 50 and est["n_rows"] == 284
    assert est["model_based"] == rep0["estimated_accuracy"]
    assert rep["n_given"] == rep0["n_given"] == 16
    truth = np.array(sms[1])
    unl = np.array([not v for v in read_table(table).column("label").to_pylist()])
    true_acc = np.mean(np.array(b.column("fewlabels_label").to_pylist())[unl] == truth[unl])
    assert est["low"] <= true_acc <= est["high"]
    assert "verified by 50 audit labels" in stdout
    # the store: audit labels imported with source 'audit' measure too, and never train
    db = tmp_path / "labels.sqlite"
    assert _cli("labels", "import", filled, "--labels-db", db, "--audit")[0] == 0
    with LabelStore(db) as store:
        assert {v["source"] for v in store.current().values()} == {"audit"}
    code, stdout, stderr, st, st_rep = _label(table, vec, tmp_path, "store", "--labels-db", db)
    assert code == 0, stderr
    assert read_table(st).column("fewlabels_label").to_pylist() == a.column("fewlabels_label").to_pylist()
    est_store = json.loads(st_rep.read_text())["estimated_accuracy"]
    assert est_store["verified_by_labels"] is True and est_store["value"] == est["value"]
    assert json.loads(st_rep.read_text())["n_given"] == 16


def _bad_runs(sms, table, tmp_path):
    texts = sms[0]
    t = read_table(table)
    labeled_key = row_keys(t, id_column=None, texts=texts, path=table)[
        next(i for i, v in enumerate(t.column("label").to_pylist()) if v)]

    def first(rows, **change):
        rows[0] = dict(rows[0], **change)
        return rows

    return {
        "unknown key": (lambda r: first(r, fewlabels_key="sha1:0000000000000000"),
                        ["'sha1:0000000000000000' is no row of", "same --id-column"]),
        "given label": (lambda r: first(r, fewlabels_key=labeled_key), ["has a given label", "Delete that audit row"]),
        "empty file": (lambda r: [], ["no data rows", "at least one row"]),
        "no label filled": (lambda r: [dict(x, label="") for x in r], ["no label filled", "(10 audit rows)"]),
        "not a class": (lambda r: first(r, label="spma"), ["'spma' is not one of the classes", "row 1"]),
        "duplicated key": (lambda r: r + [r[0]], ["also in row 1", "row 11", "delete one"]),
    }


@pytest.mark.parametrize("case", ["unknown key", "given label", "empty file", "no label filled", "not a class",
                                  "duplicated key"])
def test_bad_audit_file_is_refused_and_nothing_written(tmp_path, sms, case):
    table, vec = _table(tmp_path, sms, n=120)
    _cli("audit", table, "--n", 10, "--out", tmp_path / "audit.csv")
    edit, needles = _bad_runs(sms, table, tmp_path)[case]
    filled = _fill(tmp_path / "audit.csv", tmp_path / "filled.csv", sms, edit)
    code, stdout, stderr, out, rep = _label(table, vec, tmp_path, "out", "--audit", filled)
    assert code == 2, (stdout, stderr)
    errors = [ln for ln in stderr.splitlines() if not PROGRESS.match(ln)]  # progress lines without a terminal
    assert errors and errors[0].startswith("error: ") and "Traceback" not in stderr
    assert "filled.csv" in stderr
    for needle in needles:
        assert needle in stderr, stderr
    assert not out.exists() and not rep.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
