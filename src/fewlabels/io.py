"""Reading tables and vectors; writing outputs atomically.

Formats follow the file extension: ``.csv``, ``.tsv``, ``.jsonl`` (or ``.ndjson``),
``.parquet``; a ``.json`` is a JSON array of row objects or JSON lines, or a WRENCH split
when it has WRENCH's shape (:mod:`fewlabels.json_tables`). CSV and TSV columns are read as text (a UTF-8 byte-order mark is dropped
first), so every original value is written back exactly as it was. Row numbers in messages
count data rows from 1 (header excluded).

Labels are text in every format; :func:`read_labels` states the normalisation rules
(whitespace, null spellings, case, numbers).
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
import unicodedata
from collections import Counter
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
    if path.suffix.lower() == ".json" and path.is_file():
        from .json_tables import json_layout, read_json_array

        layout = json_layout(path)
        if layout == "wrench":  # WRENCH's layout (signals/votes.py)
            from .signals.votes import read_wrench

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
#: given with --classes / --classes-file has exactly that name
NULL_LABELS = ("", "nan", "na", "n/a", "null", "none")


def _label_text(v) -> str | None:
    """One label cell as text: None for a missing cell or a float NaN; integral floats as
    integers (1.0 → "1", as pandas writes an integer column with gaps); booleans as
    "true"/"false"; everything else as ``str``."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v != v:  # NaN
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def read_labels(table: pa.Table, column: str, path, *, keep=(), fold_case: bool = False
                ) -> tuple[list[str | None], list[str]]:
    """Given labels of ``column`` as text, None where unlabeled, and notes for the report.

    The rules, the same for CSV, TSV, JSONL and Parquet:

    1. every cell becomes text (numbers as written: an integral float 1.0 is "1", so the
       classes do not change when a table goes through pandas or Parquet; booleans are
       "true"/"false"), Unicode-normalised (NFC) and trimmed of whitespace;
    2. empty cells, missing values (JSON null, Parquet null, float NaN) and the spellings
       ``nan``, ``NA``, ``N/A``, ``null``, ``None`` (any case) are unlabeled, unless a name in
       ``keep`` (the classes given) is spelled exactly so;
    3. labels that differ only by case are kept apart, with a note, or with ``fold_case``
       merged under one spelling: the one in ``keep`` if any, else the most frequent.

    Raises InputError naming the column for cells that are lists or structs.
    """
    require_column(table, column, path, "--label-column")
    col = table.column(column)
    if pa.types.is_nested(col.type) or pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
        raise InputError(f"{where(path, column)}holds {col.type} values, not labels; pass the column of "
                         "class names with --label-column")
    keep = set(keep)
    out: list[str | None] = []
    nulls: Counter = Counter()
    for v in col.to_pylist():
        s = _label_text(v)
        if s is None:
            out.append(None)
            continue
        s = unicodedata.normalize("NFC", s).strip()
        if s.casefold() in NULL_LABELS and s not in keep:
            if s:
                nulls[s] += 1
            out.append(None)
        else:
            out.append(s)
    notes = []
    if nulls:
        spelled = ", ".join(f"{k!r} ({v})" for k, v in sorted(nulls.items()))
        notes.append(f"{where(path, column)}label cells {spelled} were read as unlabeled; name a class so with "
                     "--classes to keep it as a label")
    counts = Counter(v for v in out if v is not None)
    groups: dict[str, list[str]] = {}
    for label in counts:
        groups.setdefault(label.casefold(), []).append(label)
    clashes = {k: sorted(g) for k, g in groups.items() if len(g) > 1}
    if clashes and fold_case:
        canon = {}
        for g in clashes.values():
            named = [x for x in g if x in keep]
            canon.update({x: named[0] if named else max(g, key=lambda x: (counts[x], [-ord(c) for c in x]))
                          for x in g})
        out = [canon.get(v, v) if v is not None else None for v in out]
        merged = "; ".join(f"{', '.join(map(repr, g))} as {canon[g[0]]!r}" for g in clashes.values())
        notes.append(f"{where(path, column)}labels that differ only by case were merged (--fold-case): {merged}")
    elif clashes:
        listed = "; ".join(" and ".join(map(repr, g)) for g in list(clashes.values())[:5])
        notes.append(f"{where(path, column)}labels {listed} differ only by case and are different classes; "
                     "pass --fold-case to merge them")
    return out, notes


def label_column(table: pa.Table, column: str, path) -> list[str | None]:
    """Labels as text, None where unlabeled (see :func:`read_labels` for the rules)."""
    return read_labels(table, column, path)[0]


def check_vector_values(V: np.ndarray, path, column=None) -> np.ndarray:
    """Vectors read from a file: a 2-D array of real numbers (bool, complex, text and
    object arrays are refused with their dtype), finite in float32, no row all zeros.
    Returns float32."""
    V = np.asarray(V)
    if V.dtype == bool:
        raise InputError(f"{where(path, column)}vectors hold booleans (dtype bool), not numbers; save them as "
                         "numbers, e.g. numpy.save(path, array.astype('float32'))")
    if np.issubdtype(V.dtype, np.complexfloating):
        raise InputError(f"{where(path, column)}vectors hold complex numbers (dtype {V.dtype}); give real-valued "
                         "embeddings (fewlabels does not drop the imaginary part for you)")
    if not (np.issubdtype(V.dtype, np.integer) or np.issubdtype(V.dtype, np.floating)):
        raise InputError(f"{where(path, column)}vectors must hold numbers; got dtype {V.dtype}. Save a float "
                         "array of shape (rows, dimensions) with numpy.save")
    if V.ndim != 2:
        raise InputError(f"{where(path, column)}vectors must be a numeric 2-D array (rows × dimensions); "
                         f"got shape {V.shape}")
    if V.shape[0] == 0 or V.shape[1] == 0:
        raise InputError(f"{where(path, column)}vectors are empty (shape {V.shape}); need one row per table row")
    with np.errstate(over="ignore", invalid="ignore"):
        X = V.astype(np.float32, copy=False)  # float32 already: no copy (1.5 GB at 10^6 x 384)
    finite, nonzero = np.empty(len(X), dtype=bool), np.empty(len(X), dtype=bool)
    for s in range(0, len(X), 65_536):  # boolean temporaries of one block, not of all of X
        finite[s:s + 65_536] = np.isfinite(X[s:s + 65_536]).all(axis=1)
        nonzero[s:s + 65_536] = X[s:s + 65_536].any(axis=1)
    bad = np.flatnonzero(~finite)
    if len(bad):
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        big = bool(np.isfinite(V[bad[0]]).all()) if np.issubdtype(V.dtype, np.floating) else True
        what = "a value beyond the float32 range" if big else "NaN or infinite value"
        raise InputError(f"{where(path, column, bad[0])}{what} in vectors{more}; recompute those vectors or "
                         "drop those rows")
    zero = np.flatnonzero(~nonzero)
    if len(zero):
        more = f" (and {len(zero) - 1} more)" if len(zero) > 1 else ""
        raise InputError(f"{where(path, column, zero[0])}vector is all zeros{more}: it has no direction to compare; "
                         "recompute those vectors or drop those rows")
    return X


def load_npy(path, *, not_npy: str, save_hint: str) -> np.ndarray:
    """One array from a ``.npy`` file, never unpickled; InputError naming the file otherwise.

    ``not_npy`` is said when the extension is not .npy, ``save_hint`` how to save the array
    when it cannot be read."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise InputError(f"{path}: {not_npy}")
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the path")
    try:
        V = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy array of numbers; {save_hint}") from exc
    if not isinstance(V, np.ndarray):
        raise InputError(f"{path}: holds several arrays, not one; save it with numpy.save")
    return V


def read_vectors(path) -> np.ndarray:
    """Vectors from a ``.npy`` file (no pickles), checked by :func:`check_vector_values`."""
    V = load_npy(path, not_npy="vectors must be a .npy file (numpy.save) or a list column (--vectors-column)",
                 save_hint="save the vectors with numpy.save(path, array) from a float array of shape "
                           "(rows, dimensions)")
    return check_vector_values(V, path)


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
        V = np.asarray([[np.nan if x is None else x for x in v] for v in values])
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where(path, column)}vectors must hold numbers ({exc})") from exc
    return check_vector_values(V, path, column)


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
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write here ({exc.strerror or exc}); the file was not changed. "
                         "Check its permissions, or choose another path") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(table: pa.Table, path) -> None:
    """Write ``table`` in the format of ``path``'s extension, atomically."""
    table_format(path)
    with atomic_path(path) as tmp:
        write_table_to(table, tmp, path)


def write_table_to(table: pa.Table, tmp, path) -> None:
    """Write ``table`` to ``tmp`` in the format of ``path``'s extension (not atomic)."""
    fmt = table_format(path)
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


def json_text(obj) -> str:
    """``obj`` as indented JSON (numpy values and paths converted)."""
    return json.dumps(obj, indent=2, default=_json_default) + "\n"


def write_json(obj, path) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json_text(obj), encoding="utf-8")


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
