"""Property test of the table reader (issue 11): for random CSV, TSV, JSONL and Parquet
contents and encodings, ``read_table`` either raises a clear :class:`InputError` or returns
every original cell unchanged, and writing the table back and reading it again keeps every
cell too.

Cells are text (CSV/TSV are read as text; JSONL and Parquet cells are strings here), with
any Unicode, quotes, delimiters and line breaks; files are UTF-8 with or without a
byte-order mark. ``max_examples`` is modest so the suite stays fast, and the examples are
the same on every run and machine (derandomized) so the suite cannot fail by chance; to
explore, run with ``FEWLABELS_FUZZ_EXAMPLES=2000`` (random examples, that many per test).
"""

from __future__ import annotations

import csv
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fewlabels.errors import InputError  # noqa: E402
from fewlabels.io import read_table, write_table  # noqa: E402

_EXPLORE = int(os.environ.get("FEWLABELS_FUZZ_EXAMPLES", "0"))
FUZZ = dict(deadline=None, database=None, derandomize=not _EXPLORE,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# any character but NUL and lone surrogates (which no UTF-8 file can hold)
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
cell = st.text(CHARS, max_size=12)
name = st.text(CHARS, min_size=1, max_size=8)


@st.composite
def tables(draw):
    names = draw(st.lists(name, min_size=1, max_size=4, unique=True))
    n = draw(st.integers(1, 5))
    rows = [[draw(cell) for _ in names] for _ in range(n)]
    return names, rows


def _write(path, fmt, names, rows, encoding):
    if fmt in ("csv", "tsv"):
        with open(path, "w", newline="", encoding=encoding, errors="replace") as fh:
            w = csv.writer(fh, delimiter="\t" if fmt == "tsv" else ",")
            w.writerow(names)
            w.writerows(rows)
    elif fmt == "jsonl":
        with open(path, "w", encoding=encoding, errors="replace") as fh:
            for r in rows:
                fh.write(json.dumps(dict(zip(names, r)), ensure_ascii=False) + "\n")
    else:
        pq.write_table(pa.table({k: pa.array([r[i] for r in rows], pa.string()) for i, k in enumerate(names)}), path)


def _cells(table: pa.Table):
    return table.column_names, [list(r.values()) for r in table.to_pylist()]


def _meant(path, fmt, names, rows, encoding):
    """The cells a reader of UTF-8 must return: the original ones when the file is UTF-8
    (with or without a byte-order mark) or its bytes happen to be (ASCII text); None when the
    bytes are not UTF-8 (then only a clear error is right)."""
    if fmt == "parquet" or encoding in ("utf-8", "utf-8-sig"):
        return names, rows
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None
    if all(c.isascii() for c in "".join(names) + "".join("".join(r) for r in rows)):
        return names, rows
    return "mojibake"  # e.g. Latin-1 bytes that spell other text in UTF-8: nothing can tell


@settings(max_examples=_EXPLORE or 100, **FUZZ)
@given(data=tables(), fmt=st.sampled_from(["csv", "tsv", "jsonl", "parquet"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
def test_table_reader_keeps_every_cell_or_says_why(tmp_path, data, fmt, encoding):
    names, rows = data
    path = tmp_path / f"t.{fmt}"
    _write(path, fmt, names, rows, encoding)
    meant = _meant(path, fmt, names, rows, encoding)
    try:
        table = read_table(path)
    except InputError as exc:  # a clear error: one line that names the file
        msg = str(exc)
        hypothesis.event(f"error: {msg.split(': ', 1)[1][:40]}")
        assert msg.startswith(str(path)) and "\n" not in msg.strip(), msg
        assert meant is None or meant == "mojibake" or encoding not in ("utf-8", "utf-8-sig"), msg
        return
    hypothesis.event(f"round trip ({encoding})")
    assert meant is not None, f"{encoding} bytes that are not UTF-8 were read without an error"
    if meant == "mojibake":
        return
    assert _cells(table) == meant
    out = tmp_path / f"out.{fmt}"
    write_table(table, out)
    assert _cells(read_table(out)) == meant


@settings(max_examples=_EXPLORE or 60, **FUZZ)
@given(content=st.binary(max_size=200), fmt=st.sampled_from(["csv", "tsv", "jsonl", "parquet"]))
def test_table_reader_on_arbitrary_bytes_reads_or_says_why(tmp_path, content, fmt):
    path = tmp_path / f"t.{fmt}"
    path.write_bytes(content)
    try:
        table = read_table(path)
    except InputError as exc:
        hypothesis.event("error")
        assert str(exc).startswith(str(path)), str(exc)
        return
    hypothesis.event("read")
    assert table.num_rows >= 1
