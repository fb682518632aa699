"""Reading tables and vectors; writing outputs atomically.

Formats follow the file extension: ``.csv``, ``.tsv``, ``.jsonl`` (or ``.ndjson``),
``.parquet``. CSV and TSV columns are read as text, so every original value is written
back exactly as it was. Row numbers in messages count data rows from 1 (header excluded).
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa

from .errors import InputError, where

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
    fmt = table_format(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the path of a {'/'.join(sorted(set(FORMATS)))} file")
    try:
        if fmt in ("csv", "tsv"):
            table = _read_delimited(path, "\t" if fmt == "tsv" else ",")
        elif fmt == "jsonl":
            import pyarrow.json as pj

            table = pj.read_json(path) if path.stat().st_size else pa.table({})
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
    except InputError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError, csv.Error) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # pyarrow counts JSON rows from 0; fewlabels counts data rows from 1
        msg = re.sub(r"in row (\d+)", lambda m: f"in row {int(m.group(1)) + 1}", msg)
        what = "a Parquet file" if fmt == "parquet" else f"valid UTF-8 {fmt.upper()}"
        raise InputError(f"{path}: cannot read as {fmt.upper()} ({msg}); check the file is {what}") from exc
    if table.num_rows == 0:
        raise InputError(f"{path}: the table has no data rows; give a file with at least one row")
    return table


def _read_delimited(path: Path, delimiter: str) -> pa.Table:
    import pyarrow.csv as pc

    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh, delimiter=delimiter), None)
    if not header:
        raise InputError(f"{path}: the file is empty; give a table with a header row and data rows")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(f"{path}: duplicate column name(s) {', '.join(map(repr, dupes))}; rename them")
    return pc.read_csv(
        path,
        parse_options=pc.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pc.ConvertOptions(
            column_types={h: pa.string() for h in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def require_column(table: pa.Table, column: str, path, option: str) -> None:
    if column not in table.column_names:
        raise InputError(
            f"{where(path, column)}no such column; the table has {', '.join(map(repr, table.column_names))}. "
            f"Pass the right name with {option}"
        )


def text_column(table: pa.Table, column: str, path) -> list[str]:
    """Texts of ``column``; empty, whitespace-only or missing texts are an error naming rows."""
    require_column(table, column, path, "--text-column")
    values = table.column(column).to_pylist()
    bad = [i for i, v in enumerate(values) if not isinstance(v, str) or not v.strip()]
    if bad:
        more = f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else ""
        raise InputError(f"{where(path, column, bad[0])}empty or missing text{more}; "
                         "fill in the text or remove those rows")
    return values


def label_column(table: pa.Table, column: str, path) -> list[str | None]:
    """Labels as stripped strings, None where empty or missing (unlabeled)."""
    require_column(table, column, path, "--label-column")
    out = []
    for v in table.column(column).to_pylist():
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        else:
            s = str(v).strip()
            out.append(s or None)
    return out


def read_vectors(path) -> np.ndarray:
    """Vectors from a ``.npy`` file (no pickles)."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise InputError(f"{path}: vectors must be a .npy file (numpy.save) or a list column (--vectors-column)")
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the path")
    try:
        V = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable .npy array of numbers; save the vectors with "
                         "numpy.save(path, array) from a float array of shape (rows, dimensions)") from exc
    if V.ndim != 2 or not np.issubdtype(V.dtype, np.number):
        raise InputError(f"{path}: vectors must be a numeric 2-D array (rows × dimensions); got shape {V.shape}")
    return V


def vectors_column(table: pa.Table, column: str, path) -> np.ndarray:
    """Vectors stored as a list column (e.g. in Parquet)."""
    require_column(table, column, path, "--vectors-column")
    values = table.column(column).to_pylist()
    lengths = {len(v) if isinstance(v, (list, tuple)) else -1 for v in values}
    if -1 in lengths or len(lengths) != 1:
        first = next(i for i, v in enumerate(values)
                     if not isinstance(v, (list, tuple)) or len(v) != len(values[0] or []))
        raise InputError(f"{where(path, column, first)}every row must hold a list of numbers of the same length")
    try:
        return np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where(path, column)}vectors must hold numbers ({exc})") from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path, option: str) -> None:
    """Raise InputError unless ``path`` can be created: its nearest existing ancestor must be
    a writable folder, and ``path`` itself must not be a folder."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: {option} is a folder; give a file path")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise InputError(f"{path}: cannot write {option} there ({parent} is not a writable folder); "
                         "choose another path")


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On any error the temporary file is removed and ``path`` is left as it was. The file
    gets the usual permissions (0666 less the umask).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write here ({exc.strerror or exc}); choose another path") from exc
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(table: pa.Table, path) -> None:
    """Write ``table`` in the format of ``path``'s extension, atomically."""
    fmt = table_format(path)
    with atomic_path(path) as tmp:
        if fmt in ("csv", "tsv"):
            import pyarrow.csv as pc

            pc.write_csv(table, tmp, write_options=pc.WriteOptions(delimiter="\t" if fmt == "tsv" else ","))
        elif fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as fh:
                for row in table.to_pylist():
                    fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        else:
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)


def write_json(obj, path) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, default=_json_default) + "\n", encoding="utf-8")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def same_file(a, b) -> bool:
    a, b = Path(a), Path(b)
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.exists() and os.path.samefile(a, b))
    except OSError:
        return False
