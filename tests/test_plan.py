"""--dry-run: the plan of a run from its sizes, and nothing written."""

from __future__ import annotations

from typer.testing import CliRunner

from fewlabels.cli import app
from fewlabels.plan import plan

runner = CliRunner()


def test_plan_uses_a_core_above_its_size_and_grows_near_linearly():
    small = plan(10_000, n_labels=100, n_classes=20)
    big = plan(1_000_000, n_labels=100, n_classes=20)
    huge = plan(10_000_000, n_labels=100, n_classes=20)
    assert small.core_rows == 10_000 and big.core_rows == 20_000
    assert "extend" in [s for s, _, _ in big.stages] and "extend" not in [s for s, _, _ in small.stages]
    # past the core only the linear terms grow: 10x the rows, at most 10x the time
    assert big.total_s < huge.total_s <= 10 * big.total_s
    assert huge.peak_gb > big.peak_gb > small.peak_gb
    assert [s for s, _, _ in plan(1000, n_labels=0, n_classes=3, encode_rows=1000).stages][:2] == ["start", "embed"]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("text,label\n" + "".join(f"row number {i},{'ab'[i % 2] if i < 10 else ''}\n"
                                              for i in range(50)))
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["label", str(table), "--out", str(out), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "50 rows" in res.output and "10 given labels" in res.output and "predicted peak memory" in res.output
    assert "embed" in res.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


def test_dry_run_names_a_missing_text_column(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("body,label\nhello,a\nworld,b\n")
    res = runner.invoke(app, ["label", str(table), "--out", str(tmp_path / "o.csv"), "--dry-run"])
    assert res.exit_code != 0
    assert "text" in res.output and "--text-column" in res.output and "Traceback" not in res.output
