"""Writing outputs atomically (tables, JSON) and comparing paths; nothing is written in place."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import InputError
from .tables import table_format


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
