"""CLI tests: every user mistake is a one-line ``error: ...`` on stderr with exit status 2.

Each error test invokes the command through ``typer.testing.CliRunner`` (click >= 8.2 keeps
stderr apart in ``result.stderr``), then checks

* the exit status is 2 and no exception other than ``SystemExit`` escaped (no traceback);
* nothing went to stdout and stderr is exactly one line starting with ``error: `` that
  names the file, the column and the 1-based data row where they apply, and says what
  to do;
* the working folder is exactly as before: no output, no report, no model folder, no
  temporary file left behind, and the input files are byte-identical.

No test here loads the real sentence-transformers model. Tests pass ``--vectors`` (three
Gaussian blobs in 8-D) and ``--cache`` in a folder of their own; the ``work`` fixture
replaces ``fewlabels.pipeline.load_encoder`` with a guard that fails the test if any code
path tries to build an encoder, so checks that must happen before embedding (empty texts,
missing text column) are proven to do so. Only the ``--encoder`` folder tests use the real
loader, on folders that are not models.

The section "Bugs found while writing these tests" holds regression tests for bugs that
were found and fixed.
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from fewlabels.cli import app
from fewlabels.labelers.registry import REGISTRY

N_ROWS, DIM = 30, 8
CLASSES = ("a", "b", "c")
OUTPUT_COLUMNS = ["fewlabels_label", "fewlabels_confidence", "fewlabels_source", "fewlabels_suspect"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: a progress line printed when stderr is not a terminal (fewlabels.cli_help.PlainProgress)
PROGRESS = re.compile(r"^[\w -]+: \d+% \([\d,]+/[\d,]+\)( in [\d.]+ s)?$")

runner = CliRunner()


# ---------------------------------------------------------------------------------------
# Data and helpers
# ---------------------------------------------------------------------------------------


def blob_vectors(n: int = N_ROWS, d: int = DIM, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian blobs: (n, d) float32 vectors and the true class of each row.

    Row i belongs to class ``i % 3``; centres are ~4·√(2d) apart, noise has norm ~√d.
    """
    rng = np.random.default_rng(seed)
    centres = 4.0 * rng.normal(size=(len(CLASSES), d))
    truth = np.arange(n) % len(CLASSES)
    X = centres[truth] + rng.normal(size=(n, d))
    return X.astype(np.float32), truth


def table_rows(truth: np.ndarray, per_class: int = 5) -> list[dict[str, str]]:
    """Rows ``id, text, label``; the first ``per_class`` rows of each class keep their label.

    With ``truth = i % 3`` the labeled rows are data rows 1..3·per_class, in class order
    a, b, c, a, b, c, ... (so the first 'c' is data row 3).
    """
    seen = {c: 0 for c in range(len(CLASSES))}
    rows = []
    for i, t in enumerate(truth):
        t = int(t)
        given = seen[t] < per_class
        seen[t] += given
        rows.append({"id": f"{i:03d}", "text": f"message {i} about {CLASSES[t]}",
                     "label": CLASSES[t] if given else ""})
    return rows


def write_delimited(path: Path, rows: list[dict], delimiter: str = ",", header: list[str] | None = None) -> Path:
    header = header if header is not None else list(rows[0])
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header, delimiter=delimiter)
        w.writeheader()
        w.writerows(rows)
    return path


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


@dataclass
class Work:
    """A folder with a valid input table ``x.csv`` and matching vectors ``v.npy``.

    The embedding cache lives outside ``root`` so that ``snapshot()`` sees only the inputs
    and whatever a command writes.
    """

    root: Path
    cache: Path
    truth: np.ndarray
    X: np.ndarray

    @property
    def table(self) -> Path:
        return self.root / "x.csv"

    @property
    def vectors(self) -> Path:
        return self.root / "v.npy"

    def npy(self, name: str, X: np.ndarray) -> Path:
        np.save(self.root / name, X, allow_pickle=False)
        return self.root / name

    def snapshot(self) -> dict[str, bytes | None]:
        """Every path under ``root`` (dotfiles included) → its bytes, None for folders."""
        return {str(p.relative_to(self.root)): (p.read_bytes() if p.is_file() else None)
                for p in sorted(self.root.rglob("*"))}

    def _run(self, command: list, default_out: str, args, out, vectors):
        argv = [*command, "--out", out if out is not None else self.root / default_out]
        if vectors is True:
            argv += ["--vectors", self.vectors]
        elif vectors:
            argv += ["--vectors", vectors]
        return invoke(*argv, "--cache", self.cache, *args)

    def label(self, *args, input: Path | str | None = None, out: Path | str | None = None, vectors=True):
        """Invoke ``fewlabels label INPUT --out OUT [--vectors v.npy] --cache C ARGS...``."""
        return self._run(["label", input if input is not None else self.table], "out.csv", args, out, vectors)

    def predict(self, model: Path, *args, input: Path | None = None, out: Path | None = None, vectors=True):
        """Invoke ``fewlabels predict MODEL INPUT --out OUT [--vectors v.npy] --cache C ARGS...``."""
        return self._run(["predict", model, input if input is not None else self.table], "pred.csv", args, out,
                         vectors)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _make_work(tmp_path: Path) -> Work:
    root = tmp_path / "work"
    root.mkdir()
    (tmp_path / "cache").mkdir()
    X, truth = blob_vectors()
    write_delimited(root / "x.csv", table_rows(truth))
    np.save(root / "v.npy", X, allow_pickle=False)
    return Work(root, tmp_path / "cache" / "c.sqlite", truth, X)


@pytest.fixture
def work(tmp_path, monkeypatch) -> Work:
    """A work folder; building an encoder (loading a model) fails the test."""

    def no_encoder(*args, **kwargs):
        pytest.fail("an encoder was requested: this command must not load a model")

    monkeypatch.setattr("fewlabels.pipeline.load_encoder", no_encoder)
    return _make_work(tmp_path)


@pytest.fixture
def work_real_encoder(tmp_path) -> Work:
    """A work folder where the real encoder loader runs (for --encoder folder checks)."""
    return _make_work(tmp_path)


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory) -> Path:
    """A model folder from ``label --save-model`` on the 8-D blobs."""
    tmp = tmp_path_factory.mktemp("model")
    w = _make_work(tmp)
    model = tmp / "model"
    res = w.label("--save-model", model, out=tmp / "labeled.csv")
    assert res.exit_code == 0, res.output
    assert (model / "model.json").is_file() and (model / "model.npz").is_file()
    return model


def error_message(result) -> str:
    """Assert a clean user error and return the message after ``error: ``."""
    stderr = ANSI.sub("", result.stderr)
    assert result.exit_code == 2, f"exit {result.exit_code}, exception {result.exception!r}\n{result.output}"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert result.stdout == "", result.stdout
    lines = [ln for ln in stderr.splitlines() if not PROGRESS.match(ln)]  # status lines without a terminal
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0][len("error: "):]


def assert_rejected(work: Work, before: dict, result, *expected: str) -> str:
    """Clean one-line error containing every ``expected`` piece; the folder is untouched."""
    msg = error_message(result)
    for piece in expected:
        assert piece in msg, f"{piece!r} not in message {msg!r}"
    after = work.snapshot()
    assert sorted(after) == sorted(before), f"files changed: {sorted(set(after) ^ set(before))}"
    assert after == before, "an input file changed"
    return msg


# ---------------------------------------------------------------------------------------
# 1-2. Missing or unreadable input
# ---------------------------------------------------------------------------------------


def test_missing_input_file(work):
    before = work.snapshot()
    missing = work.root / "nope.csv"
    assert_rejected(work, before, work.label(input=missing), str(missing), "file not found", "check the path")


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("latin1.csv", b"id,text,label\n1,caf\xe9,a\n2,bar,b\n", ["cannot read as CSV", "UTF-8"]),
        ("broken.jsonl", b'{"text": "a", "label": "x"}\n{"text": oops\n', ["cannot read as JSONL", "valid"]),
        ("broken.parquet", b"PAR1 this is not parquet", ["cannot read as PARQUET", "check the file"]),
    ],
    ids=["invalid-utf8-csv", "invalid-jsonl", "corrupt-parquet"],
)
def test_unreadable_input(work, name, content, expected):
    path = work.root / name
    path.write_bytes(content)
    before = work.snapshot()
    assert_rejected(work, before, work.label(input=path), str(path), *expected)


def test_input_is_a_directory_says_what_to_do(work):
    folder = work.root / "folder.csv"
    folder.mkdir()
    before = work.snapshot()
    msg = assert_rejected(work, before, work.label(input=folder), str(folder))
    assert ";" in msg and re.search(r"\b(give|pass|check|choose)\b", msg.split(";", 1)[1]), msg


def test_invalid_jsonl_names_the_bad_line_one_based(work):
    path = work.root / "broken.jsonl"
    path.write_text('{"text": "a"}\n{"text": "b"}\n{"text": "c"}\n{"text": oops}\n', encoding="utf-8")
    before = work.snapshot()
    msg = assert_rejected(work, before, work.label(input=path), str(path))
    assert re.search(r"\b(row|line) 4\b", msg), msg


# ---------------------------------------------------------------------------------------
# 3. Unknown extension
# ---------------------------------------------------------------------------------------


def test_unknown_input_extension(work):
    path = work.root / "x.xlsx"
    path.write_bytes(work.table.read_bytes())
    before = work.snapshot()
    assert_rejected(work, before, work.label(input=path), str(path), "unknown file extension '.xlsx'",
                    ".csv", ".tsv", ".jsonl", ".parquet")


def test_unknown_out_extension(work):
    out = work.root / "labeled.xlsx"
    before = work.snapshot()
    assert_rejected(work, before, work.label(out=out), str(out), "unknown file extension '.xlsx'",
                    ".csv", ".parquet")


def test_unknown_out_extension_predict(work, trained_model):
    out = work.root / "pred.xlsx"
    before = work.snapshot()
    assert_rejected(work, before, work.predict(trained_model, out=out), str(out), "unknown file extension")


# ---------------------------------------------------------------------------------------
# 4. Missing columns
# ---------------------------------------------------------------------------------------


def test_missing_text_column_fails_before_loading_a_model(work):
    # No --vectors: the texts are needed, and the column check must come before the encoder.
    before = work.snapshot()
    res = work.label("--text-column", "body", vectors=False)
    assert_rejected(work, before, res, str(work.table), "column 'body'", "no such column",
                    "'id', 'text', 'label'", "--text-column")


def test_missing_label_column(work):
    before = work.snapshot()
    res = work.label("--label-column", "nope")
    assert_rejected(work, before, res, str(work.table), "column 'nope'", "no such column", "--label-column")


def test_no_label_column_and_no_classes(work):
    path = work.root / "nolabels.csv"
    write_delimited(path, [{"id": r["id"], "text": r["text"]} for r in table_rows(work.truth)])
    before = work.snapshot()
    assert_rejected(work, before, work.label(input=path), str(path), "no label column", "--classes")


def test_no_label_column_message_does_not_say_column_none(work):
    path = work.root / "nolabels.csv"
    write_delimited(path, [{"id": r["id"], "text": r["text"]} for r in table_rows(work.truth)])
    before = work.snapshot()
    msg = assert_rejected(work, before, work.label(input=path), str(path))
    assert "None" not in msg and "--label-column" in msg, msg


# ---------------------------------------------------------------------------------------
# 5. Empty tables
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["header_only.csv", "no_rows.parquet"])
def test_table_without_data_rows(work, name):
    path = work.root / name
    if name.endswith(".csv"):
        path.write_text("id,text,label\n", encoding="utf-8")
    else:
        pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}), path)
    before = work.snapshot()
    assert_rejected(work, before, work.label(input=path), str(path), "no data rows", "at least one row")


@pytest.mark.parametrize("name, expected", [("empty.csv", "the file is empty"), ("empty.jsonl", "no data rows")])
def test_entirely_empty_file(work, name, expected):
    path = work.root / name
    path.write_bytes(b"")
    before = work.snapshot()
    assert_rejected(work, before, work.label(input=path), str(path), expected, "give a")


# ---------------------------------------------------------------------------------------
# 6. Empty or whitespace texts (no --vectors; must fail before any model is loaded)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, bad_row, bad_text",
    [("empty_text.csv", 3, ""), ("blank_text.csv", 4, "  \t  "), ("null_text.jsonl", 3, None)],
    ids=["empty", "whitespace", "jsonl-null"],
)
def test_empty_or_whitespace_text_names_the_row(work, name, bad_row, bad_text):
    rows = table_rows(work.truth)
    rows[bad_row - 1]["text"] = bad_text
    rows[bad_row + 5]["text"] = "   "  # a second bad row, after the first
    path = work.root / name
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        write_delimited(path, rows)
    before = work.snapshot()
    res = work.label(input=path, vectors=False)
    assert_rejected(work, before, res, f"{path}, column 'text', row {bad_row}:", "empty or missing text",
                    "and 1 more", "fill in the text or remove those rows")


# ---------------------------------------------------------------------------------------
# 7-10. Classes
# ---------------------------------------------------------------------------------------


def test_label_not_in_classes_names_row_and_label(work):
    # Labels a, b, c on data rows 1..15; the first 'c' is data row 3.
    before = work.snapshot()
    res = work.label("--classes", "a,b")
    assert_rejected(work, before, res, f"{work.table}, column 'label', row 3:", "label 'c'",
                    "not one of the classes (a, b)", "fix the label or add the class")


def test_fewer_than_two_classes_in_the_labels(work):
    rows = table_rows(work.truth)
    for r in rows:
        r["label"] = "a" if r["label"] else ""
    path = work.root / "one_class.csv"
    write_delimited(path, rows)
    before = work.snapshot()
    assert_rejected(work, before, work.label(input=path), str(path), "column 'label'",
                    "found 1 distinct label(s)", "need at least two classes", "--classes")


def test_fewer_than_two_classes_option(work):
    before = work.snapshot()
    assert_rejected(work, before, work.label("--classes", "a"), "--classes", "need at least two classes",
                    "got 1 (a)")


def test_fewer_than_two_classes_file(work):
    path = work.root / "classes.txt"
    path.write_text("# only one\na: the a class\n\n", encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, work.label("--classes-file", path), str(path), "need at least two classes")


def test_single_labeled_row_for_a_class_is_a_warning(work):
    # Class 'c' keeps one label (data row 3); a and b keep five each.
    rows = table_rows(work.truth)
    seen_c = 0
    for r in rows:
        if r["label"] == "c":
            seen_c += 1
            if seen_c > 1:
                r["label"] = ""
    path = work.root / "one_c.csv"
    write_delimited(path, rows)
    out, report = work.root / "out.csv", work.root / "report.json"
    res = work.label("--report", report, input=path, out=out)
    assert res.exit_code == 0, res.output
    rep = json.loads(report.read_text(encoding="utf-8"))
    assert rep["class_counts"]["given"] == {"a": 5, "b": 5, "c": 1}
    assert [w for w in rep["warnings"] if "only one given label" in w and "(c)" in w], rep["warnings"]
    assert "only one given label" in ANSI.sub("", res.stderr)
    got = read_csv(out)
    assert got[2]["fewlabels_label"] == "c" and got[2]["fewlabels_source"] == "given"


@pytest.mark.parametrize("how", ["option", "file"])
def test_duplicate_class_names(work, how):
    if how == "option":
        args, expected = ["--classes", "a,b,a"], ["--classes", "class 'a' is named twice", "list each class once"]
    else:
        path = work.root / "classes.txt"
        path.write_text("a\nb: the b class\na: again\nc\n", encoding="utf-8")
        args, expected = ["--classes-file", path], [str(path), "line 3", "class 'a' is named twice",
                                                     "list each class once"]
    before = work.snapshot()
    assert_rejected(work, before, work.label(*args), *expected)


def test_classes_and_classes_file_both_given(work):
    path = work.root / "classes.txt"
    path.write_text("a\nb\nc\n", encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, work.label("--classes", "a,b,c", "--classes-file", path),
                    "give either --classes or --classes-file, not both")


def test_missing_classes_file(work):
    path = work.root / "nope.txt"
    before = work.snapshot()
    assert_rejected(work, before, work.label("--classes-file", path), str(path), "classes file not found",
                    "check the path")


# ---------------------------------------------------------------------------------------
# 11. Outputs that would overwrite the input
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("out", ["x.csv", "./x.csv", "sub/../x.csv", "ABS"])
def test_out_equal_to_input(work, monkeypatch, out):
    monkeypatch.chdir(work.root)
    (work.root / "sub").mkdir()
    out = str(work.table) if out == "ABS" else out
    before = work.snapshot()
    res = work.label(input="x.csv", out=out)
    assert_rejected(work, before, res, "--out is the input file", "choose another path")


@pytest.mark.parametrize("option", ["--report", "--save-model"])
def test_report_or_model_equal_to_input(work, option):
    before = work.snapshot()
    res = work.label(option, work.table)
    assert_rejected(work, before, res, str(work.table), f"{option} is the input file", "choose another path")


def test_predict_out_equal_to_input(work, trained_model):
    before = work.snapshot()
    res = work.predict(trained_model, out=work.table)
    assert_rejected(work, before, res, str(work.table), "--out is the input file", "choose another path")


def test_report_equal_to_out_is_rejected(work):
    out = work.root / "out.csv"
    before = work.snapshot()
    assert_rejected(work, before, work.label("--report", out, out=out), str(out), "--report")


# ---------------------------------------------------------------------------------------
# 12-13. Vectors: shape, dimension, NaN/inf
# ---------------------------------------------------------------------------------------


def test_vectors_row_count_mismatch(work):
    short = work.npy("short.npy", work.X[:-1])
    before = work.snapshot()
    assert_rejected(work, before, work.label(vectors=short), str(short), f"{N_ROWS - 1} vectors for {N_ROWS} rows",
                    str(work.table), "one vector per row")


def test_vectors_row_count_mismatch_predict(work, trained_model):
    long = work.npy("long.npy", np.vstack([work.X, work.X[:2]]))
    before = work.snapshot()
    assert_rejected(work, before, work.predict(trained_model, vectors=long), str(long),
                    f"{N_ROWS + 2} vectors for {N_ROWS} rows", "one vector per row")


def test_vectors_one_dimensional(work):
    flat = work.npy("flat.npy", work.X[:, 0])
    before = work.snapshot()
    assert_rejected(work, before, work.label(vectors=flat), str(flat), "2-D", f"shape ({N_ROWS},)")


@pytest.mark.parametrize("kind", ["garbage", "not-npy", "missing"])
def test_vectors_file_unusable(work, kind):
    if kind == "garbage":
        path = work.root / "garbage.npy"
        path.write_bytes(b"this is not a numpy file")
        expected = ["not a readable .npy array", "numpy.save"]
    elif kind == "not-npy":
        path = work.root / "vectors.csv"
        path.write_text("1,2\n3,4\n", encoding="utf-8")
        expected = ["must be a .npy file", "numpy.save"]
    else:
        path = work.root / "missing.npy"
        expected = ["file not found", "check the path"]
    before = work.snapshot()
    assert_rejected(work, before, work.label(vectors=path), str(path), *expected)


@pytest.mark.parametrize("value, row", [(np.nan, 5), (np.inf, 7), (-np.inf, 30)], ids=["nan", "inf", "-inf"])
def test_non_finite_vectors_name_the_row(work, value, row):
    X = work.X.copy()
    X[row - 1, 3] = value
    path = work.npy("bad.npy", X)
    before = work.snapshot()
    assert_rejected(work, before, work.label(vectors=path), f"{path}, row {row}:", "NaN or infinite",
                    "recompute those vectors or drop those rows")


def test_non_finite_vectors_predict(work, trained_model):
    X = work.X.copy()
    X[[1, 9], 0] = np.nan
    path = work.npy("bad.npy", X)
    before = work.snapshot()
    assert_rejected(work, before, work.predict(trained_model, vectors=path), f"{path}, row 2:",
                    "NaN or infinite", "and 1 more")


def test_predict_vectors_of_wrong_dimension(work, trained_model):
    wide = work.npy("wide.npy", np.hstack([work.X, work.X]))
    before = work.snapshot()
    assert_rejected(work, before, work.predict(trained_model, vectors=wide),
                    f"dimension {2 * DIM}", f"expects {DIM}")


def test_predict_wrong_dimension_names_the_file(work, trained_model):
    wide = work.npy("wide.npy", np.hstack([work.X, work.X]))
    before = work.snapshot()
    assert_rejected(work, before, work.predict(trained_model, vectors=wide), str(wide))


def test_predict_model_folder_not_a_model(work):
    folder = work.root / "not_a_model"
    folder.mkdir()
    before = work.snapshot()
    assert_rejected(work, before, work.predict(folder), str(folder), "not a fewlabels model folder",
                    "--save-model")


# ---------------------------------------------------------------------------------------
# 14. --encoder folders that are not sentence-transformers models
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["empty", "missing"])
def test_encoder_folder_not_a_model(work_real_encoder, kind):
    work = work_real_encoder
    folder = work.root / "encoder"
    if kind == "empty":
        folder.mkdir()
        expected = ["not a sentence-transformers model folder", "modules.json or config.json", "Pass the folder"]
    else:
        expected = ["encoder folder not found", "Pass --encoder"]
    before = work.snapshot()
    assert_rejected(work, before, work.label("--encoder", folder, vectors=False), str(folder), *expected)


def test_encoder_folder_with_junk_config(work_real_encoder):
    # Imports sentence-transformers (a few seconds) but loads no weights: the config is junk.
    work = work_real_encoder
    folder = work.root / "encoder"
    folder.mkdir()
    (folder / "config.json").write_text("{this is not json", encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, work.label("--encoder", folder, vectors=False), str(folder),
                    "could not load as a sentence-transformers model", "Pass the folder")


# ---------------------------------------------------------------------------------------
# 15-17. Clashing columns, unknown method
# ---------------------------------------------------------------------------------------


def test_input_already_has_output_column(work):
    rows = [dict(r, fewlabels_label="x") for r in table_rows(work.truth)]
    path = work.root / "clash.csv"
    write_delimited(path, rows)
    before = work.snapshot()
    assert_rejected(work, before, work.label(input=path), str(path), "already has column(s) fewlabels_label",
                    "rename or drop")


def test_predict_input_already_has_output_column(work, trained_model):
    rows = [dict(r, fewlabels_confidence="0.5") for r in table_rows(work.truth)]
    path = work.root / "clash.csv"
    write_delimited(path, rows)
    before = work.snapshot()
    assert_rejected(work, before, work.predict(trained_model, input=path), str(path),
                    "already has column(s) fewlabels_confidence", "rename or drop")


def test_unknown_method_lists_the_valid_ones(work):
    before = work.snapshot()
    msg = assert_rejected(work, before, work.label("--method", "nosuch"), "unknown method 'nosuch'", "choose one of")
    for name in REGISTRY:
        assert name in msg


def test_missing_required_option_is_a_usage_error(work):
    before = work.snapshot()
    res = invoke("label", work.table)
    assert res.exit_code == 2
    assert "--out" in ANSI.sub("", res.stderr)
    assert work.snapshot() == before


# ---------------------------------------------------------------------------------------
# Bugs found while writing these tests (fixed; kept as regression tests)
# ---------------------------------------------------------------------------------------


def test_path_with_brackets_is_shown_verbatim(work):
    missing = work.root / "data[v2].csv"
    before = work.snapshot()
    assert_rejected(work, before, work.label(input=missing), str(missing), "file not found")


@pytest.mark.parametrize("label", ["[urgent]", "[/x]"])  # rich markup, and a closing tag that could crash it
def test_label_with_brackets_is_shown_verbatim(work, label):
    rows = table_rows(work.truth)
    rows[0]["label"] = label
    path = work.root / "brackets.csv"
    write_delimited(path, rows)
    before = work.snapshot()
    assert_rejected(work, before, work.label("--classes", "a,b,c", input=path),
                    f"{path}, column 'label', row 1:", f"label '{label}'")


def test_out_in_unwritable_place_is_a_clean_error(work):
    out = work.table / "out.csv"  # parent is a regular file
    before = work.snapshot()
    assert_rejected(work, before, work.label(out=out), str(out))


@pytest.mark.parametrize("option", ["--report", "--save-model"])
def test_unwritable_report_or_model_leaves_no_output(work, option):
    target = work.table / "r.json" if option == "--report" else work.table / "model"
    before = work.snapshot()
    assert_rejected(work, before, work.label(option, target), str(target))


def test_outputs_follow_the_umask(work):
    old = os.umask(0o022)
    try:
        out, report = work.root / "out.csv", work.root / "report.json"
        res = work.label("--report", report, out=out)
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert stat.S_IMODE(report.stat().st_mode) == 0o644


# ---------------------------------------------------------------------------------------
# Happy path and formats
# ---------------------------------------------------------------------------------------


def test_label_then_predict(work):
    n = 45  # 15 rows per class, 5 given each
    X, truth = blob_vectors(n=n, seed=1)
    rows = table_rows(truth)
    src, vec = work.root / "in.csv", work.npy("in.npy", X)
    write_delimited(src, rows)
    src_bytes = src.read_bytes()
    out, report, model = work.root / "out.csv", work.root / "report.json", work.root / "model"

    res = work.label("--report", report, "--save-model", model, input=src, out=out, vectors=vec)
    assert res.exit_code == 0, res.output
    assert [ln for ln in ANSI.sub("", res.stderr).splitlines() if not PROGRESS.match(ln)] == []
    assert f"wrote {out}" in " ".join(res.stdout.split())
    assert src.read_bytes() == src_bytes

    got = read_csv(out)
    assert list(got[0]) == ["id", "text", "label", *OUTPUT_COLUMNS]
    assert len(got) == n
    for r, g in zip(rows, got):
        assert {k: g[k] for k in r} == r
        assert 0.0 <= float(g["fewlabels_confidence"]) <= 1.0
        if r["label"]:
            assert g["fewlabels_label"] == r["label"] and g["fewlabels_source"] == "given"
            assert float(g["fewlabels_confidence"]) == 1.0
        else:
            assert g["fewlabels_source"] in REGISTRY
    unl = [i for i, r in enumerate(rows) if not r["label"]]
    acc = np.mean([got[i]["fewlabels_label"] == CLASSES[truth[i]] for i in unl])
    assert acc >= 0.9, acc

    rep = json.loads(report.read_text(encoding="utf-8"))
    assert rep["method"] in REGISTRY
    est = rep["estimated_accuracy"]
    assert 0.0 <= est["low"] <= est["value"] <= est["high"] <= 1.0
    assert est["n_labels"] == 15 and rep["n_given"] == 15 and rep["n_rows"] == n
    assert rep["classes"] == list(CLASSES) and rep["warnings"] == []
    assert (model / "model.json").is_file() and (model / "model.npz").is_file()

    pred = work.root / "pred.csv"
    res = work.predict(model, input=src, out=pred, vectors=vec)
    assert res.exit_code == 0, res.output
    assert f"wrote {pred} ({n} rows)" in " ".join(res.stdout.split())  # rich wraps stdout at 80 columns
    p = read_csv(pred)
    assert list(p[0]) == ["id", "text", "label", "fewlabels_label", "fewlabels_confidence"]
    assert [{k: g[k] for k in rows[0]} for g in p] == rows
    assert all(0.0 <= float(g["fewlabels_confidence"]) <= 1.0 for g in p)
    agree = np.mean([a["fewlabels_label"] == b["fewlabels_label"] for a, b in zip(p, got)])
    assert agree >= 0.9, agree


def _odd_rows(truth) -> list[dict[str, str]]:
    """Values a careless reader would change: zero-padded ids, decimals, quotes, commas, newlines."""
    rows = table_rows(truth)
    for i, r in enumerate(rows):
        r["score"] = f"{i / 4:.2f}"  # "0.00", "0.25", ...
    rows[0]["text"] = 'she said "hi", then left'
    rows[1]["text"] = "two\nlines"
    rows[4]["text"] = "  leading and trailing spaces  "
    return [{"id": r["id"], "score": r["score"], "text": r["text"], "label": r["label"]} for r in rows]


def test_csv_round_trip_keeps_every_value(work):
    rows = _odd_rows(work.truth)
    src = write_delimited(work.root / "odd.csv", rows)
    out = work.root / "out.csv"
    res = work.label(input=src, out=out)
    assert res.exit_code == 0, res.output
    got = read_csv(out)
    assert list(got[0]) == ["id", "score", "text", "label", *OUTPUT_COLUMNS]
    assert [{k: g[k] for k in rows[0]} for g in got] == rows
    assert got[7]["id"] == "007" and got[1]["text"] == "two\nlines"


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_tsv_to_other_formats_keeps_columns_and_values(work, fmt):
    rows = _odd_rows(work.truth)
    src = write_delimited(work.root / "odd.tsv", rows, delimiter="\t")
    out = work.root / f"out.{fmt}"
    res = work.label(input=src, out=out)
    assert res.exit_code == 0, res.output
    if fmt == "jsonl":
        got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    else:
        t = pq.read_table(out)
        assert t.schema.field("id").type == pa.string()
        got = t.to_pylist()
    assert list(got[0]) == ["id", "score", "text", "label", *OUTPUT_COLUMNS]
    assert [{k: g[k] for k in rows[0]} for g in got] == rows
    assert all(isinstance(g["fewlabels_confidence"], float) for g in got)
    assert got[7]["id"] == "007"


# ---------------------------------------------------------------------------------------
# Help
# ---------------------------------------------------------------------------------------

COMMANDS = sorted(get_command(app).commands)


def test_expected_commands_exist():
    assert {"label", "predict", "demo", "methods"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name):
    cmd = get_command(app).commands[name]
    assert cmd.help and cmd.help.strip()
    res = invoke(name, "--help")
    assert res.exit_code == 0, res.output
    text = re.sub(r"[\s│]+", " ", ANSI.sub("", res.stdout))
    first_words = " ".join(cmd.help.split()[:4])
    assert first_words in text
    top = invoke("--help")
    assert top.exit_code == 0 and name in top.stdout


# ---------------------------------------------------------------------------------------
# Rules (--rules, `fewlabels rules`)
# ---------------------------------------------------------------------------------------


def test_label_with_missing_rules_file(work):
    before = work.snapshot()
    missing = work.root / "nope.py"
    assert_rejected(work, before, work.label("--rules", missing), str(missing), "rules file not found")


def test_rule_returning_unknown_class_is_rejected(work):
    rules = work.root / "rules.py"
    rules.write_text("from fewlabels import rule\n\n@rule\ndef loud(text):\n    return 'URGENT'\n",
                     encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, work.label("--rules", rules), "rule 'loud' returned 'URGENT' on row 1",
                    "return a class name or None")
    assert_rejected(work, before, invoke("rules", work.table, "--rules", rules), "rule 'loud'")


def test_rules_command_and_label_with_rules(work):
    rules = work.root / "rules.toml"
    rules.write_text('[a]\nkeywords = ["about a"]\n[b]\nkeywords = ["about b"]\n', encoding="utf-8")
    report = work.root / "lf.json"
    res = invoke("rules", work.table, "--rules", rules, "--report", report)
    assert res.exit_code == 0, res.output
    lf = json.loads(report.read_text())
    assert [r["rule"] for r in lf["rules"]] == ["a:keyword:about a", "b:keyword:about b"]
    assert lf["rules"][0]["accuracy"] == 1.0 and lf["totals"]["rows"] == len(work.truth)
    out, rep = work.root / "out.csv", work.root / "report.json"
    res = work.label("--rules", rules, "--report", rep, out=out)
    assert res.exit_code == 0, res.output
    assert {"majority", "dawid_skene", "fused"} <= set(json.loads(rep.read_text())["candidates"])


def test_rules_report_equal_to_input_is_rejected(work):
    rules = work.root / "rules.toml"
    rules.write_text('[a]\nkeywords = ["about a"]\n', encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, invoke("rules", work.table, "--rules", rules, "--report", work.table),
                    "--report is the input file")


# ---------------------------------------------------------------------------------------
# Rule synthesis (`fewlabels rules --synthesize`)
# ---------------------------------------------------------------------------------------

#: one word per class in every text of the class: the keywords synthesis must find
CLASS_WORDS = {"a": "apples", "b": "bikes", "c": "cats"}


def synthesis_table(work: Work, name: str = "s.csv", labels: bool = True) -> Path:
    """``x.csv``'s rows (same vectors, same given labels) with a class word in each text."""
    rows = [{**r, "text": f"{r['text']} and {CLASS_WORDS[CLASSES[int(t)]]}"}
            for r, t in zip(table_rows(work.truth), work.truth)]
    if not labels:
        rows = [{k: v for k, v in r.items() if k != "label"} for r in rows]
    return write_delimited(work.root / name, rows)


def test_synthesize_writes_rules_that_load_and_label_accepts(work):
    from fewlabels.signals import load_rules

    table, rules, report = synthesis_table(work), work.root / "mined.toml", work.root / "lf.json"
    res = invoke("rules", table, "--synthesize", rules, "--report", report)
    assert res.exit_code == 0, res.output
    assert f"wrote {rules}" in res.stdout and "3 keyword rules mined from 15 given labels" in res.stdout
    loaded = load_rules(rules, classes=list(CLASSES))
    assert [(r.name, r.label) for r in loaded] == [(f"{c}:keyword:{w}", c) for c, w in CLASS_WORDS.items()]
    rep = json.loads(report.read_text())
    assert [r["rule"] for r in rep["rules"]] == [r.name for r in loaded]
    assert all(r["coverage"] == pytest.approx(1 / 3) and r["accuracy"] == 1.0 for r in rep["rules"])
    assert [r["keyword"] for r in rep["synthesis"]["rules"]] == list(CLASS_WORDS.values())
    assert rep["synthesis"]["cv"]["n_labeled"] == 15 and rep["synthesis"]["options"] == {}
    assert not [p for p in work.root.iterdir() if p.name.endswith(".tmp")]

    out, rep_path = work.root / "out.csv", work.root / "report.json"
    res = work.label("--rules", rules, "--report", rep_path, input=table, out=out)
    assert res.exit_code == 0, res.output
    label_report = json.loads(rep_path.read_text())
    assert {"majority", "dawid_skene", "fused"} <= set(label_report["candidates"])
    assert label_report["rules"]["file"] == str(rules)
    assert [r["fewlabels_label"] for r in read_csv(out)] == [CLASSES[t] for t in work.truth]
    # mined from the labels it is now scored on: the report says the rules' CV is optimistic
    assert any("mined from given labels" in w for w in label_report["warnings"])


def test_hand_written_rules_get_no_synthesis_warning(work):
    rules = work.root / "mine.toml"
    rules.write_text('[a]\nkeywords = ["apples"]\n', encoding="utf-8")
    rep_path = work.root / "report.json"
    res = work.label("--rules", rules, "--report", rep_path, input=synthesis_table(work), out=work.root / "o.csv")
    assert res.exit_code == 0, res.output
    assert not any("mined" in w for w in json.loads(rep_path.read_text())["warnings"])


def test_synthesize_options_reach_the_miner(work):
    table, rules = synthesis_table(work), work.root / "mined.toml"
    res = invoke("rules", table, "--synthesize", rules, "--min-support", 6)  # each class word is in 5 labeled texts
    msg = error_message(res)
    assert msg.startswith(f"{table}, column 'label': no keyword passed the thresholds") and "support >= 6" in msg
    assert not rules.exists()


def test_synthesize_refuses_to_overwrite(work):
    table = synthesis_table(work)
    rules = work.root / "mined.toml"
    rules.write_text("# mine, hand-edited\n", encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, invoke("rules", table, "--synthesize", rules),
                    str(rules), "already exists", "--force")
    assert_rejected(work, before, invoke("rules", table, "--synthesize", table, "--force"),
                    "--synthesize is the input file")
    assert_rejected(work, before, invoke("rules", table, "--synthesize", work.root / "mined.txt"), "ending in .toml")
    assert_rejected(work, before, invoke("rules", table, "--synthesize", work.root / "new.toml", "--report", table),
                    "--report is the input file")
    res = invoke("rules", table, "--synthesize", rules, "--force")
    assert res.exit_code == 0, res.output
    assert rules.read_text(encoding="utf-8").startswith("# Keyword rules proposed by fewlabels")


def test_synthesize_without_labels_is_a_clean_error(work):
    unlabeled = synthesis_table(work, "u.csv", labels=False)
    before = work.snapshot()
    rules = work.root / "mined.toml"
    assert_rejected(work, before, invoke("rules", unlabeled, "--synthesize", rules, "--classes", "a,b,c"),
                    f"{unlabeled}: --synthesize mines rules from the given labels", "no label column",
                    "--label-column")
    rows = table_rows(work.truth)
    one_class = write_delimited(work.root / "one.csv", [{**r, "label": r["label"] if r["label"] == "a" else ""}
                                                        for r in rows])
    before = work.snapshot()
    assert_rejected(work, before, invoke("rules", one_class, "--synthesize", rules, "--classes", "a,b,c"),
                    f"{one_class}, column 'label': --synthesize needs given labels of at least two classes",
                    "found 5 labeled row(s) of 1 class(es)")


def test_rules_needs_exactly_one_of_rules_and_synthesize(work):
    rules = work.root / "rules.toml"
    rules.write_text('[a]\nkeywords = ["about a"]\n', encoding="utf-8")
    before = work.snapshot()
    assert_rejected(work, before, invoke("rules", work.table), "give --rules FILE", "--synthesize FILE.toml")
    assert_rejected(work, before, invoke("rules", work.table, "--rules", rules, "--synthesize", work.root / "m.toml"),
                    "not both")
    assert_rejected(work, before, invoke("rules", work.table, "--rules", rules, "--force"), "go with --synthesize")


def test_estimate_line_fits_an_80_column_terminal():
    from fewlabels.cli import _fmt_est

    est = {"value": 0.947, "low": 0.918, "high": 0.98, "n_labels": 1000, "cross_validated": {"value": 0.916}}
    line = f"  estimated accuracy : {_fmt_est(est)}"  # the demo's line, the longest
    assert len(line) <= 80, line
    assert "0.947" in line and "0.918-0.980" in line and "1000 labels" in line and "CV 0.916" in line
