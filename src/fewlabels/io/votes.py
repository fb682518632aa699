"""A label matrix the user brings: a ``.npy`` file, a list column, or WRENCH's JSON layout.

Snorkel and WRENCH users already hold L (n × m ints, -1 = abstain, class codes in the
order of the classes). These readers check it as carefully as the tables are checked:
shape, dtype, whole numbers, the code range, one line naming the file, row and rule.

WRENCH (Zhang et al. 2021, "WRENCH: A Comprehensive Benchmark for Weak Supervision")
stores each split as a JSON object ``{id: {"label": int, "data": {"text": ...},
"weak_labels": [int per labeling function]}}`` with the class names in ``label.json``
beside it (``{"0": name, ...}``). :func:`read_wrench` turns such a file into a table with
columns ``id``, ``text``, ``gold_label`` (WRENCH's ground truth, as text: never used as
given labels unless asked for with ``--label-column gold_label``) and ``weak_labels`` (JSON
text per row, so that the table also writes back as CSV).

Cost: O(n·m) for every reader.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError, where
from .npy import load_npy

#: the column of a WRENCH table that holds the label matrix
WRENCH_VOTES_COLUMN = "weak_labels"


def check_vote_matrix(L, n_rows: int, n_classes: int, *, source: str) -> np.ndarray:
    """``L`` as an int array of shape (n_rows, m), codes in -1..n_classes-1.

    ``source`` names where L came from (a file, or "file, column 'c'") in the messages.
    """
    L = np.asarray(L)
    if L.dtype == object:
        raise InputError(f"{source}: the votes are not a rectangular array of integers; give one list of "
                         "equal length per row (-1 = abstain)")
    if L.dtype.kind == "b" or L.dtype.kind == "c" or L.dtype.kind not in "iuf":
        raise InputError(f"{source}: votes have dtype {L.dtype}; give integer class codes (-1 = abstain)")
    if L.ndim != 2:
        raise InputError(f"{source}: votes have shape {L.shape}; give a 2-D array (n rows × m rules)")
    if L.shape[0] != n_rows:
        raise InputError(f"{source}: {L.shape[0]} rows of votes for {n_rows} rows of the table; give one row of "
                         "votes per table row, in the table's order")
    if L.shape[1] == 0:
        raise InputError(f"{source}: the votes have no rule columns; give at least one")
    if L.dtype.kind == "f":
        bad = ~np.isfinite(L) | (np.mod(np.where(np.isfinite(L), L, 0), 1) != 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputError(f"{source}: row {i + 1}, rule column {j} holds {float(L[i, j]):g}, not a whole number; votes "
                             "are class codes (-1 = abstain)")
    bad = (L < -1) | (L >= n_classes)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(f"{source}: row {i + 1}, rule column {j} holds {L[i, j]:g}, outside -1..{n_classes - 1} "
                         f"(-1 = abstain, 0..{n_classes - 1} = the classes in --classes order)")
    return np.ascontiguousarray(L, dtype=np.int16 if n_classes > 127 else np.int8)


def read_votes(path, n_rows: int, n_classes: int) -> np.ndarray:
    """The label matrix in a ``.npy`` file (n × m ints, -1 = abstain)."""
    L = load_npy(path, not_npy="--votes takes a .npy file (numpy.save of an n × m int array)",
                 save_hint="save the votes with numpy.save from an n × m int array")
    return check_vote_matrix(L, n_rows, n_classes, source=str(path))


def votes_from_column(table, column: str, path, n_classes: int) -> np.ndarray:
    """The label matrix held as one list of ints per row in ``column`` of ``table``."""
    if column not in table.column_names:
        raise InputError(f"{path}: no column {column!r} (--votes-column); the table has "
                         f"{', '.join(map(repr, table.column_names))}")
    cells = table.column(column).to_pylist()
    width = None
    for i, cell in enumerate(cells):
        if isinstance(cell, str):
            try:
                cell = cells[i] = json.loads(cell)
            except ValueError:
                cell = None
        if not isinstance(cell, (list, tuple)):
            raise InputError(f"{where(path, column, i)}votes must be a list of class codes (e.g. [0, -1, 2]); "
                             f"got {cells[i]!r}")
        if width is None:
            width = len(cell)
        elif len(cell) != width:
            raise InputError(f"{where(path, column, i)}{len(cell)} votes where row 1 has {width}; every row needs "
                             "one vote per rule (-1 = abstain)")
        if any(v is None or isinstance(v, bool) or not isinstance(v, (int, float)) for v in cell):
            raise InputError(f"{where(path, column, i)}votes must be integer class codes (-1 = abstain); got "
                             f"{cell!r}")
    return check_vote_matrix(np.array(cells, dtype=np.float64 if cells else np.int64).reshape(len(cells), -1)
                             if cells else np.zeros((0, 0), np.int64),
                             len(cells), n_classes, source=f"{path}, column {column!r}")


def is_wrench(path) -> bool:
    """A ``.json`` file with WRENCH's shape (a plain JSON table is not one)."""
    from .json_tables import json_layout

    path = Path(path)
    return path.suffix.lower() == ".json" and path.is_file() and json_layout(path) == "wrench"


def wrench_classes(path) -> list[str]:
    """Class names from the ``label.json`` beside a WRENCH split, in code order."""
    path = Path(path)
    lj = path.with_name("label.json")
    if not lj.is_file():
        raise InputError(f"{path}: a WRENCH .json input needs its label.json (class id → name) in the same folder; "
                         f"{lj} is missing")
    try:
        raw = json.loads(lj.read_text(encoding="utf-8"))
        names = [str(raw[str(c)]) for c in range(len(raw))]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"{lj}: expected an object {{\"0\": \"name\", \"1\": \"name\", ...}} with ids 0..k-1"
                         ) from None
    if len(set(names)) != len(names) or len(names) < 2:
        raise InputError(f"{lj}: needs at least two distinct class names; got {names}")
    return names


def read_wrench(path):
    """A WRENCH split as a table: ``id``, ``text``, ``gold_label`` (class name or null) and
    ``weak_labels`` (each row's list of ints, as JSON text)."""
    import pyarrow as pa

    path = Path(path)
    classes = wrench_classes(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); WRENCH splits are one JSON object") from None
    if not isinstance(raw, dict) or not raw:
        raise InputError(f"{path}: expected a JSON object {{id: {{\"data\": {{\"text\": ...}}, \"weak_labels\": "
                         "[...], \"label\": int}}, ...}} (WRENCH's layout)")
    ids, texts, gold, votes = [], [], [], []
    for row, (key, item) in enumerate(raw.items()):
        loc = f"{path}, row {row + 1} (id {key!r}): "
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict) or "weak_labels" not in item:
            raise InputError(f"{loc}expected {{\"data\": {{\"text\": ...}}, \"weak_labels\": [...]}}")
        text = item["data"].get("text")
        if not isinstance(text, str):
            raise InputError(f"{loc}data.text is missing or not a string")
        wl = item["weak_labels"]
        if not isinstance(wl, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in wl):
            raise InputError(f"{loc}weak_labels must be a list of integer class codes (-1 = abstain)")
        label = item.get("label")
        if label is not None and not (isinstance(label, int) and 0 <= label < len(classes)):
            raise InputError(f"{loc}label {label!r} is not a class id of label.json (0..{len(classes) - 1})")
        ids.append(str(key))
        texts.append(text)
        gold.append(None if label is None else classes[label])
        votes.append(wl)
    if len({len(v) for v in votes}) > 1:
        i = next(i for i, v in enumerate(votes) if len(v) != len(votes[0]))
        raise InputError(f"{path}, row {i + 1} (id {ids[i]!r}): {len(votes[i])} weak labels where row 1 has "
                         f"{len(votes[0])}; every row needs one per labeling function")
    L = check_vote_matrix(np.array(votes, dtype=np.int64), len(votes), len(classes), source=str(path))
    # the votes as JSON text ("[-1, 0, 2]"), so the table can be written back as CSV as well
    table = pa.table({"id": ids, "text": texts, "gold_label": pa.array(gold, pa.string()),
                      WRENCH_VOTES_COLUMN: pa.array([json.dumps(v) for v in L.tolist()], pa.string())})
    return table, classes
