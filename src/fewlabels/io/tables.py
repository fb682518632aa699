"""Reading tables (csv, tsv, jsonl, parquet, WRENCH json) and their columns.

See :mod:`fewlabels.io` for the formats and how rows are counted in messages.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pyarrow as pa

from ..errors import InputError, where


FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
           ".pq": "parquet"}


def table_format(path) -> str:
    """Format name from the extension, or an InputError listing the supported ones."""
    ext = Path(path).suffix.lower()
    try:
        return FORMATS[ext]
    except KeyError:
        raise InputError(
            f"{path}: unknown file extension {ext or '(none)'!r}; use one of {', '.join(sorted(FORMATS))}"
        ) from None


def read_table(path) -> pa.Table:
    """Read a table; raise InputError naming the file for any problem."""
    path = Path(path)
    if path.suffix.lower() == ".json" and path.is_file():
        from .json_tables import json_layout, read_json_array

        layout = json_layout(path)
        if layout == "wrench":  # WRENCH's layout (io/votes.py)
            from .votes import read_wrench

            return read_wrench(path)[0]
        if layout == "array":
            return read_json_array(path)
    fmt = "jsonl" if path.suffix.lower() == ".json" else table_format(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the path of a {'/'.join(sorted(set(FORMATS)))} file")
    try:
        if fmt in ("csv", "tsv"):
            table = _read_delimited(path, "\t" if fmt == "tsv" else ",")
        elif fmt == "jsonl":
            import pyarrow.json as pj

            _check_utf8(path)  # pyarrow passes invalid UTF-8 in keys through unchecked
            table = pj.read_json(path) if path.stat().st_size else pa.table({})
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
    except InputError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError, csv.Error) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if fmt in ("csv", "tsv") and "Expected" in msg and "columns, got" in msg:
            ragged = _first_ragged_row(path, "\t" if fmt == "tsv" else ",")
            if ragged is not None:
                row, got, want = ragged
                raise InputError(f"{path}, row {row}: {got} fields where the header has {want}; quote fields "
                                 "that hold the delimiter, or fix that row") from exc
        # pyarrow counts JSON rows from 0; fewlabels counts data rows from 1
        msg = re.sub(r"in row (\d+)", lambda m: f"in row {int(m.group(1)) + 1}", msg)
        what = "a Parquet file" if fmt == "parquet" else f"valid UTF-8 {fmt.upper()}"
        raise InputError(f"{path}: cannot read as {fmt.upper()} ({msg}); check the file is {what}") from exc
    if table.num_rows == 0:
        raise InputError(f"{path}: the table has no data rows; give a file with at least one row")
    return table


def _check_utf8(path: Path) -> None:
    """Raise InputError naming the line of the first byte sequence that is not UTF-8."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = line + chunk[:exc.start].count(b"\n")
                raise InputError(f"{path}, line {bad}: not valid UTF-8 ({exc.reason}); save the file as UTF-8") from exc
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}, line {line}: not valid UTF-8 (truncated character); save the file as UTF-8") from exc


def _first_ragged_row(path: Path, delimiter: str) -> tuple[int, int, int] | None:
    """(1-based data row, fields, header fields) of the first row whose field count differs."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = csv.reader(fh, delimiter=delimiter)
            header = next(rows, None) or []
            for i, row in enumerate(rows, 1):
                if row and len(row) != len(header):
                    return i, len(row), len(header)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def _read_delimited(path: Path, delimiter: str) -> pa.Table:
    import pyarrow.csv as pc

    # utf-8-sig: a byte-order mark is not part of the first column's name (pyarrow drops it,
    # so a name with it would miss the read-as-text list below)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh, delimiter=delimiter), None)
    if not header:
        raise InputError(f"{path}: the file is empty; give a table with a header row and data rows")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"{path}: duplicate column name(s) {', '.join(map(repr, dupes))}; rename them")
    table = pc.read_csv(
        path,
        parse_options=pc.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pc.ConvertOptions(
            column_types={h: pa.string() for h in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    not_text = [f.name for f in table.schema if not pa.types.is_string(f.type)]
    if not_text:  # a header the csv module and pyarrow read differently: never guess at types
        raise InputError(f"{path}: could not read column(s) {', '.join(map(repr, not_text))} as text; "
                         "check the header row (plain names, one per column)")
    return table


def require_column(table: pa.Table, column: str, path, option: str) -> None:
    if column not in table.column_names:
        names = table.column_names
        raise InputError(
            f"{where(path, column)}no such column; the table has {', '.join(map(repr, names))}"
            f"{delimiter_hint(table, path)}. Pass the right name with {option}"
        )


def delimiter_hint(table: pa.Table, path) -> str:
    """`` (... seems separated by semicolons ...)`` when a table has one column whose name
    holds another delimiter, else ``""``."""
    names = table.column_names
    if len(names) != 1:
        return ""
    seps = [name for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'"), (",", "commas"))
            if sep in names[0]]
    if not seps:
        return ""
    ext = Path(str(path)).suffix.lower()
    wants = "tabs" if ext == ".tsv" else "commas"
    return (f" (one column whose name holds {seps[0]}: the file seems separated by {seps[0]}, but "
            f"{ext or 'such'} files are read separated by {wants}; save it with {wants}"
            + (", or name it .tsv" if seps[0] == "tabs" else "") + ")")


def text_column(table: pa.Table, column: str, path) -> list[str]:
    """Texts of ``column``; empty, whitespace-only or missing texts are an error naming rows."""
    require_column(table, column, path, "--text-column")
    col = table.column(column)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_null(col.type)
            or (pa.types.is_dictionary(col.type) and pa.types.is_string(col.type.value_type))):
        raise InputError(f"{where(path, column)}holds {col.type} values, not text; pass the column of texts with "
                         "--text-column (or precomputed embeddings with --vectors)")
    values = col.to_pylist()
    bad = [i for i, v in enumerate(values) if not isinstance(v, str) or not v.strip()]
    if bad:
        more = f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else ""
        raise InputError(f"{where(path, column, bad[0])}empty or missing text{more}; "
                         "fill in the text or remove those rows")
    return values


#: label cells read as "no label" (compared after trimming, ignoring case), unless a class
