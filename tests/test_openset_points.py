"""Open-set operating points: each option flags what it promises, bad values are refused,
the curve is monotone and reaches the report and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fewlabels.errors import ConfigError
from fewlabels.groups import mark_unknown
from fewlabels.labelers.openset import OpenSetDetector
from fewlabels.labelers.openset_points import check_operating_point, choose_threshold, curve, unknown_share
from fewlabels.pipeline import label_arrays
from fewlabels.options import LabelOptions
from fewlabels.pool import Pool

from conftest import make_blobs


@pytest.fixture(scope="module")
def open_pool():
    """Four blobs; the fourth class is never named: a quarter of the rows are unknown."""
    b = make_blobs(n=800, k=4, d=16, per_class=50, noise=0.25, seed=3)
    known = b.truth < 3
    y = np.where(known, b.y, -1)
    return b.X, y, b.truth, known


def _fit(open_pool, **kw):
    X, y, truth, known = open_pool
    k = 3
    return OpenSetDetector(**kw).fit(X, y, np.full((len(y), k), 1 / k), None)


def test_rate_flags_that_share_of_the_unlabeled_rows(open_pool):
    X, y, truth, known = open_pool
    u = y < 0
    for rate in (0.1, 0.35):
        det = _fit(open_pool, rate=rate)
        # exactly that many, but for rows tied on the threshold (kept together, none flagged)
        assert round(rate * u.sum()) - 2 <= det.unknown_[u].sum() <= round(rate * u.sum())
        assert "--unknown-rate" in det.rule_


def test_false_reject_rejects_that_share_of_the_given_labels(open_pool):
    det = _fit(open_pool, false_reject=0.1)
    assert det.false_reject_rate_ == pytest.approx(0.1, abs=1.5 / len(det.labeled_scores_))
    default = _fit(open_pool)
    assert default.false_reject_rate_ == pytest.approx(0.02, abs=1.5 / len(default.labeled_scores_))
    # more given labels rejected: more rows flagged
    assert det.unknown_.sum() > default.unknown_.sum()


def test_precision_and_recall_targets_are_met_on_the_truth(open_pool):
    X, y, truth, known = open_pool
    u = y < 0
    for precision in (0.8, 0.95):
        det = _fit(open_pool, precision=precision)
        f = det.unknown_ & u
        assert det.target_met_ and f.any()
        assert (~known[f]).mean() >= precision - 0.05
    for recall in (0.5, 0.9):
        det = _fit(open_pool, recall=recall)
        assert det.target_met_
        assert det.unknown_[u & ~known].mean() >= recall - 0.05
    # a higher recall target flags more rows
    assert _fit(open_pool, recall=0.9).unknown_.sum() >= _fit(open_pool, recall=0.5).unknown_.sum()


def test_estimated_share_and_its_interval(open_pool):
    X, y, truth, known = open_pool
    det = _fit(open_pool)
    true = (~known[y < 0]).mean()
    lo, hi = det.share_interval_
    assert lo <= det.estimated_share_ <= hi
    assert abs(det.estimated_share_ - true) < 0.05
    assert lo - 0.02 <= true <= hi + 0.02


def test_unknown_share_by_hand():
    # given labels uniform on [0, 0.5]; pool: 60% like them, 40% at 0.9: median 0.25,
    # 30% of the pool below it, so 1 - 2 * 0.3 = 0.4
    given = np.linspace(0, 0.5, 101)
    pool = np.r_[np.linspace(0, 0.5, 600), np.full(400, 0.9)]
    s = unknown_share(pool, given, n_boot=50)
    assert s["value"] == pytest.approx(0.4, abs=0.002)
    assert s["low"] < 0.4 < s["high"]


def test_curve_is_monotone_and_reads_off_the_counts():
    rng = np.random.default_rng(0)
    given = rng.uniform(0, 0.6, 200)
    pool = np.r_[rng.uniform(0, 0.6, 700), rng.uniform(0.5, 1, 300)]
    c = curve(pool, given, 0.3)
    flagged = [p["flagged_share"] for p in c]
    lost = [p["given_labels_lost"] for p in c]
    thr = [p["threshold"] for p in c]
    assert flagged == sorted(flagged) and lost == sorted(lost) and thr == sorted(thr, reverse=True)
    for p in c:
        assert p["flagged_share"] == pytest.approx((pool > p["threshold"]).mean(), abs=1e-4)
        assert p["given_labels_lost"] == pytest.approx((given > p["threshold"]).mean(), abs=1e-4)
    t, _, met = choose_threshold("rate", 0.25, pool, given, 0.3)
    assert met and (pool > t).sum() == 250


@pytest.mark.parametrize("kw, match", [
    (dict(rate=0.0), "--unknown-rate=0.0: give a share strictly between 0 and 1"),
    (dict(rate=1.2), "--unknown-rate=1.2"),
    (dict(precision=1.0), "--unknown-precision=1.0"),
    (dict(recall=-0.1), "--unknown-recall=-0.1"),
    (dict(false_reject=0.7), "--unknown-false-reject=0.7: .* from 0 to 0.5"),
    (dict(rate=0.1, recall=0.5), "--unknown-rate and --unknown-recall each set the unknown threshold; give one"),
    (dict(rate="0.1"), "give a number"),
])
def test_bad_operating_points_are_refused(kw, match, open_pool):
    with pytest.raises(ConfigError, match=match):
        check_operating_point(**kw)
    with pytest.raises(ConfigError, match=match):
        _fit(open_pool, **kw)


def test_the_curve_and_interval_are_in_the_report(open_pool):
    X, y, truth, known = open_pool
    res = label_arrays(Pool(X=X, y=y, classes=["a", "b", "c"]),
                       LabelOptions.of(method="logistic", fit_end_model=False))
    mark_unknown(res, X, y, rate=0.2)
    u = res.report["unknown"]
    assert u["operating_option"] == "--unknown-rate"
    assert u["flagged_share"] == pytest.approx(0.2, abs=0.002)
    assert u["estimated_share_low"] <= u["estimated_share"] <= u["estimated_share_high"]
    assert len(u["curve"]) >= 10
    assert [p["flagged_share"] for p in u["curve"]] == sorted(p["flagged_share"] for p in u["curve"])
    json.dumps(res.report)  # plain JSON


def test_cli_rate_option_and_refusals(tmp_path, open_pool):
    import pyarrow as pa
    from typer.testing import CliRunner

    from fewlabels.cli import app
    from fewlabels.io import write_table

    X, y, truth, known = open_pool
    np.save(tmp_path / "v.npy", X.astype(np.float32))
    labels = np.array(["a", "b", "c"], dtype=object)
    write_table(pa.table({"text": [f"row {i}" for i in range(len(y))],
                          "label": [labels[v] if v >= 0 else None for v in y]}), tmp_path / "t.csv")
    base = ["label", str(tmp_path / "t.csv"), "--vectors", str(tmp_path / "v.npy"), "--method", "logistic",
            "--finetune", "off"]
    runner = CliRunner()
    r = runner.invoke(app, base + ["-o", str(tmp_path / "bad.csv"), "--unknown-rate", "1.5"])
    assert r.exit_code != 0 and "--unknown-rate=1.5" in r.output and not (tmp_path / "bad.csv").exists()
    r = runner.invoke(app, base + ["-o", str(tmp_path / "bad.csv"), "--unknown-rate", "0.1",
                                   "--unknown-precision", "0.9"])
    assert r.exit_code != 0 and "give one" in r.output and not (tmp_path / "bad.csv").exists()
    r = runner.invoke(app, base + ["-o", str(tmp_path / "out.csv"), "--unknown-rate", "0.1", "--report",
                                   str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "r.json").read_text())["unknown"]
    assert round(0.1 * (y < 0).sum()) - 2 <= rep["flagged"] <= round(0.1 * (y < 0).sum())
    assert "operating points" in r.output and "estimated share of unknown rows" in r.output


def test_the_html_report_shows_the_curve(open_pool):
    from fewlabels.report.html import render_report

    X, y, truth, known = open_pool
    res = label_arrays(Pool(X=X, y=y, classes=["a", "b", "c"]),
                       LabelOptions.of(method="logistic", fit_end_model=False))
    mark_unknown(res, X, y)
    html = render_report(res.report)
    assert 'id="unknown"' in html and "given labels lost" in html
    assert f'{res.report["unknown"]["curve"][3]["flagged_share"]:.1%}' in html
