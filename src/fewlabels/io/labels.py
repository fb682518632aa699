"""Reading given labels from a table column: the normalisation rules of :func:`read_labels`."""

from __future__ import annotations

import unicodedata
from collections import Counter

import pyarrow as pa

from ..errors import InputError, where
from .tables import require_column


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
