"""A row's key in the label store: its ``--id-column`` value, or a hash of its text.

Cost: O(n) over the rows.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

from ..errors import InputError, where


def text_key(text: str) -> str:
    """Key of a row without an id column: ``sha1:`` + 16 hex digits of its text's SHA-1."""
    return "sha1:" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def row_keys(table, *, id_column: str | None, texts: Sequence[str] | None, path) -> list[str]:
    """One key per row: the id column's values (must be unique and non-empty) or text hashes
    (rows with the same text share one)."""
    from ..io import require_column

    if id_column is not None:
        require_column(table, id_column, path, "--id-column")
        keys = ["" if v is None else str(v).strip() for v in table.column(id_column).to_pylist()]
        empty = [i for i, k in enumerate(keys) if not k]
        if empty:
            raise InputError(f"{where(path, id_column, empty[0])}empty id; every row needs an id in --id-column")
    else:
        if texts is None:
            raise InputError(f"{path}: the label store keys rows by text hash, but there are no texts; "
                             "pass --id-column NAME")
        keys = [text_key(t) for t in texts]
    if id_column is None:
        return keys  # rows with the same text share a key, and so a label
    seen: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k in seen:
            raise InputError(f"{where(path, id_column, i)}same id {k!r} as row {seen[k] + 1}; the store needs one "
                             "key per row: make --id-column unique, or leave it out to key rows by their text")
        seen[k] = i
    return keys
