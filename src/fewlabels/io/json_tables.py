"""``.json`` inputs: a JSON array of row objects, JSON lines, or a WRENCH split, told apart by
their first bytes, so that a plain JSON table is never asked for WRENCH's label.json.

Cost: :func:`json_layout` reads at most 64 KiB; :func:`read_json_array` O(size of the file).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pyarrow as pa

from ..errors import InputError

#: the start of a WRENCH split: an object whose first value is an object with WRENCH's fields
_WRENCH_START = re.compile(r'^\ufeff?\s*\{\s*"(?:[^"\\]|\\.)*"\s*:\s*\{\s*"(?:data|label|weak_labels)"\s*:')


def json_layout(path) -> str:
    """How a ``.json`` file holds its rows, from its first bytes: ``"wrench"`` (WRENCH's
    ``{id: {"label", "data", "weak_labels"}}``), ``"array"`` (a JSON array of row objects) or
    ``"lines"`` (JSON lines, one row object per line). Cost: reads at most 64 KiB."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16).decode("utf-8", errors="replace")
    if _WRENCH_START.match(head):
        return "wrench"
    return "array" if head.lstrip("\ufeff \t\r\n").startswith("[") else "lines"


def read_json_array(path: Path) -> pa.Table:
    """A JSON array of row objects as a table, typed as JSON lines are (pyarrow's reader)."""
    import pyarrow.json as pj

    try:
        rows = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 ({exc.reason}); save the file as UTF-8") from None
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); give a JSON array of row objects, or JSON lines") from None
    bad = next((i for i, r in enumerate(rows) if not isinstance(r, dict)), None)
    if bad is not None:
        raise InputError(f"{path}, row {bad + 1}: a JSON table is an array of row objects ({{\"text\": ..., "
                         f"\"label\": ...}}); got {type(rows[bad]).__name__}")
    if not rows:
        raise InputError(f"{path}: the table has no data rows; give a file with at least one row")
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode("utf-8")
    try:
        return pj.read_json(io.BytesIO(data))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        msg = re.sub(r"in row (\d+)", lambda m: f"in row {int(m.group(1)) + 1}", str(exc).splitlines()[0])
        raise InputError(f"{path}: cannot read as a table ({msg}); give each column one type of value") from None
