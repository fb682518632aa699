"""Bag and open-set inputs through the CLI: the happy paths, then every bad input as a
one-line error naming file, column and row (helpers and conventions of test_cli_errors)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from fewlabels.bags import check_bags, check_proportions
from fewlabels.errors import InputError

from test_cli_errors import CLASSES, assert_rejected, read_csv, work, write_delimited  # noqa: F401 (fixture)


def bags_of(truth):
    """Six bags of five rows: bag 2c and 2c+1 hold class c's rows, but every fifth row is
    moved two bags on, so bags differ in their shares and label sets."""
    i = np.arange(len(truth))
    bag = truth * 2 + (i // 3) % 2
    return np.where(i % 5 == 0, (bag + 2) % 6, bag)


def bagged(work, labels: bool = False):
    """x.csv with a 'bag' column (six bags, see bags_of) and a 'baglab' column (classes present),
    and p.csv with each bag's true shares; the label column keeps its 15 given labels
    only when ``labels``."""
    rows = read_csv(work.table)
    bag = bags_of(work.truth)
    for i, r in enumerate(rows):
        r["bag"] = f"g{bag[i]}"
        members = work.truth[bag == bag[i]]
        r["baglab"] = "|".join(CLASSES[c] for c in sorted(set(members.tolist())))
        if not labels:
            r["label"] = ""
    write_delimited(work.table, rows)
    with open(work.root / "p.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["bag", "class", "share"])
        for b in range(bag.max() + 1):
            for c, name in enumerate(CLASSES):
                w.writerow([f"g{b}", name, round(float((work.truth[bag == b] == c).mean()), 6)])
    return work.root / "p.csv"


def write_props(work, lines, header=("bag", "class", "share")):
    path = work.root / "p.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(lines)
    return path


def true_shares(work):
    bag = bags_of(work.truth)
    return [[f"g{b}", name, round(float((work.truth[bag == b] == c).mean()), 6)]
            for b in range(bag.max() + 1) for c, name in enumerate(CLASSES)]


# ---------------------------------------------------------------------------------------
# Happy paths
# ---------------------------------------------------------------------------------------

def test_label_proportions_end_to_end(work):
    props = bagged(work)
    res = work.label("--bag-column", "bag", "--proportions", props, "--classes", "a,b,c",
                     "--report", work.root / "r.json")
    assert res.exit_code == 0, res.output
    out = read_csv(work.root / "out.csv")
    acc = np.mean([r["fewlabels_label"] == CLASSES[t] for r, t in zip(out, work.truth)])
    assert acc >= 0.9  # 30 rows, no row label: bag majority gets 0.8 (every fifth row moved)
    assert "held-out bags" in res.stdout
    import json

    rep = json.loads((work.root / "r.json").read_text())
    assert rep["method"] == "proportions" and "share_error" in rep["estimated_accuracy"]


def test_label_bags_end_to_end(work):
    bagged(work)
    res = work.label("--bag-column", "bag", "--bag-label-column", "baglab", "--classes", "a,b,c")
    assert res.exit_code == 0, res.output
    out = read_csv(work.root / "out.csv")
    assert all(r["fewlabels_label"] in r["baglab"].split("|") for r in out)
    acc = np.mean([r["fewlabels_label"] == CLASSES[t] for r, t in zip(out, work.truth)])
    assert acc >= 0.9


def test_unknown_end_to_end_with_a_given_unknown_label(work):
    rows = read_csv(work.table)
    rows[-1]["label"] = "unknown"
    write_delimited(work.table, rows)
    res = work.label("--unknown")
    assert res.exit_code == 0, res.output
    out = read_csv(work.root / "out.csv")
    assert out[-1]["fewlabels_label"] == "unknown" and out[-1]["label"] == "unknown"  # input column kept
    assert "estimated share of unknown rows" in res.stdout


# ---------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------

def test_bag_with_no_rows_library():
    with pytest.raises(InputError, match="bag 1 has no rows"):
        check_bags(np.array([0, 0, 2, 2]), 4)


def test_shares_not_summing_to_one_library():
    with pytest.raises(InputError, match="bag 0 sum to 0.8000"):
        check_proportions([[0.5, 0.3]], 1, 2)


def test_proportions_bag_with_no_rows(work):
    bagged(work)
    write_props(work, true_shares(work) + [["ghost", "a", 1.0]])
    before = work.snapshot()
    res = work.label("--bag-column", "bag", "--proportions", work.root / "p.csv", "--classes", "a,b,c")
    assert_rejected(work, before, res, "p.csv", "row 19", "bag 'ghost' has no rows")


def test_proportions_shares_not_summing_to_one(work):
    bagged(work)
    lines = true_shares(work)
    lines[0][2] = lines[0][2] + 0.2
    write_props(work, lines)
    before = work.snapshot()
    res = work.label("--bag-column", "bag", "--proportions", work.root / "p.csv", "--classes", "a,b,c")
    assert_rejected(work, before, res, "p.csv", "bag 'g0'", "sum to 1.2000", "fix them")


@pytest.mark.parametrize("line,expected", [
    (["g0", "zebra", 0.1], "class 'zebra' is not one of the classes"),
    (["g0", "a", "lots"], "share 'lots' is not a number"),
    (["g0", "a", 40], "outside [0, 1]"),
    (["g0", "a", 0.5], "listed twice"),
])
def test_proportions_bad_lines(work, line, expected):
    bagged(work)
    write_props(work, true_shares(work) + [line])
    before = work.snapshot()
    res = work.label("--bag-column", "bag", "--proportions", work.root / "p.csv", "--classes", "a,b,c")
    assert_rejected(work, before, res, "p.csv", "row 19", expected)


def test_proportions_missing_column_and_missing_bag(work):
    bagged(work)
    write_props(work, [["g0", "a"]], header=("bag", "class"))
    before = work.snapshot()
    res = work.label("--bag-column", "bag", "--proportions", work.root / "p.csv", "--classes", "a,b,c")
    assert_rejected(work, before, res, "p.csv", "no column(s) 'share'")
    write_props(work, true_shares(work)[3:])  # bag g0 left out
    before = work.snapshot()
    res = work.label("--bag-column", "bag", "--proportions", work.root / "p.csv", "--classes", "a,b,c")
    assert_rejected(work, before, res, "p.csv", "bag 'g0' (in the table) has no shares")


def test_empty_bag_value_names_the_row(work):
    bagged(work)
    rows = read_csv(work.table)
    rows[4]["bag"] = ""
    write_delimited(work.table, rows)
    before = work.snapshot()
    res = work.label("--bag-column", "bag", "--proportions", work.root / "p.csv", "--classes", "a,b,c")
    assert_rejected(work, before, res, "x.csv", "column 'bag'", "row 5", "empty bag")


def test_missing_bag_column(work):
    props = bagged(work)
    before = work.snapshot()
    res = work.label("--bag-column", "group", "--proportions", props, "--classes", "a,b,c")
    assert_rejected(work, before, res, "x.csv", "group")


def test_bag_label_for_an_unknown_class(work):
    bagged(work)
    rows = read_csv(work.table)
    for r in rows:
        if r["bag"] == "g1":
            r["baglab"] = "a|zebra"
    write_delimited(work.table, rows)
    before = work.snapshot()
    res = work.label("--bag-column", "bag", "--bag-label-column", "baglab", "--classes", "a,b,c")
    first = next(i for i, r in enumerate(rows) if r["bag"] == "g1")
    assert_rejected(work, before, res, "x.csv", "column 'baglab'", f"row {first + 1}", "class 'zebra'")


def test_bag_labels_that_disagree_within_a_bag(work):
    bagged(work)
    rows = read_csv(work.table)
    same = [i for i, r in enumerate(rows) if r["bag"] == rows[0]["bag"]]
    rows[same[1]]["baglab"] = "b|c" if rows[0]["baglab"] != "b|c" else "a"
    write_delimited(work.table, rows)
    before = work.snapshot()
    res = work.label("--bag-column", "bag", "--bag-label-column", "baglab", "--classes", "a,b,c")
    assert_rejected(work, before, res, "x.csv", f"row {same[1] + 1}", "differs from", "row 1")


def test_bag_without_a_label(work):
    bagged(work)
    rows = read_csv(work.table)
    for r in rows:
        if r["bag"] == "g1":
            r["baglab"] = ""
    write_delimited(work.table, rows)
    first = next(i for i, r in enumerate(rows) if r["bag"] == "g1")
    before = work.snapshot()
    res = work.label("--bag-column", "bag", "--bag-label-column", "baglab", "--classes", "a,b,c")
    assert_rejected(work, before, res, "x.csv", f"row {first + 1}", "bag has no label")


@pytest.mark.parametrize("extra,expected", [
    (["--proportions", "p.csv", "--bag-label-column", "baglab"], "not both"),
    (["--bag-label-column", "baglab", "--negative-class", "zebra"], "--negative-class 'zebra'"),
    (["--proportions", "p.csv", "--negative-class", "a"], "--negative-class goes with --bag-label-column"),
    (["--proportions", "p.csv", "--unknown"], "--unknown goes with given row labels"),
])
def test_conflicting_bag_options(work, extra, expected):
    bagged(work, labels=True)
    extra = [work.root / e if e.endswith(".csv") else e for e in extra]
    before = work.snapshot()
    res = work.label("--bag-column", "bag", *extra, "--classes", "a,b,c")
    assert_rejected(work, before, res, expected)


def test_unknown_with_zero_labels(work):
    rows = read_csv(work.table)
    for r in rows:
        r["label"] = ""
    write_delimited(work.table, rows)
    before = work.snapshot()
    res = work.label("--unknown", "--classes", "a,b,c")
    assert_rejected(work, before, res, "x.csv", "column 'label'", "--unknown needs", "found 0")


def test_unknown_with_a_class_named_unknown(work):
    before = work.snapshot()
    res = work.label("--unknown", "--classes", "a,b,unknown")
    assert_rejected(work, before, res, "a class is named 'unknown'")
