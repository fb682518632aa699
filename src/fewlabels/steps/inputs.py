"""Step: read the table, its classes and its given labels (load).

Cost: reading the table, then O(n) over the label column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..classes import ClassSpec
from ..errors import InputError, where
from ..options import InputOptions
from .write import OUTPUT_COLUMNS


@dataclass
class TableRows:
    """What the table says about its rows.

    ``table``: the pyarrow table as read; ``classes``: a :class:`~fewlabels.classes.ClassSpec`;
    ``votes_column``: the label-matrix column (a WRENCH split's weak labels, or the user's);
    ``label_column`` and ``y`` (n,) codes with -1 for unlabeled; ``texts`` (or None when the
    vectors come from elsewhere and there is no text column); ``unknown_rows``: rows given as
    examples of no named class (or None); ``notes``: what reading the labels found, for the user.
    """

    table: object
    classes: ClassSpec
    votes_column: str | None
    label_column: str | None
    y: np.ndarray
    texts: list | None
    unknown_rows: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


def read_rows(input_path, inp: InputOptions, *, strip: Callable | None = None) -> TableRows:
    """The table's rows (:class:`TableRows`). ``strip(table, classes)`` (for ``--unknown``)
    returns (the table whose labels are read, the rows labeled as no named class)."""
    from ..io import text_column as read_texts

    notes: list[str] = []
    table, classes, votes_column = read_input(input_path, inp.classes, inp.votes, inp.votes_column, inp.rules)
    clash = [c for c in OUTPUT_COLUMNS if c in table.column_names]
    if clash:
        raise InputError(f"{input_path}: already has column(s) {', '.join(clash)}; rename or drop them first")
    labels_from, unknown_rows = table, None
    if strip is not None:  # rows labeled 'unknown' are given examples of no named class
        labels_from, unknown_rows = strip(table, classes)
    label_column, y, classes = given_labels(labels_from, input_path, inp.label_column, classes, inp.given,
                                            fold_case=inp.fold_case, notes=notes)
    texts = None
    if (inp.text_column is not None or (inp.vectors is None and inp.vectors_column is None)
            or "text" in table.column_names):
        texts = read_texts(table, inp.text_column or "text", input_path)
    return TableRows(table, classes, votes_column, label_column, y, texts, unknown_rows, notes)


def given_labels(table, input_path, label_column: str | None, classes: ClassSpec | None, given=None, *,
                  fold_case: bool = False, notes: list | None = None):
    """(label column used, y codes with -1 for unlabeled, classes) from a table.

    Classes come from ``classes`` or, when not given, from the labels seen. ``given`` (one
    label or None per row) replaces the label column's values when not None. Labels are
    normalised as :func:`fewlabels.io.read_labels` says (``fold_case`` merges labels that
    differ only by case); its notes are appended to ``notes``."""
    from ..io import read_labels

    if label_column is None and "label" in table.column_names:
        label_column = "label"
    raw = [None] * table.num_rows
    if label_column:
        raw, label_notes = read_labels(table, label_column, input_path, keep=classes.names if classes else (),
                                       fold_case=fold_case)
        if notes is not None:
            notes.extend(label_notes)
    if given is not None:
        raw = list(given)
    if classes is None:
        if label_column is None and given is None:
            from ..io import delimiter_hint

            raise InputError(f"{input_path}: no label column (no column 'label'; the table has "
                             f"{', '.join(map(repr, table.column_names))}{delimiter_hint(table, input_path)}) and "
                             "no classes named. Pass --label-column NAME, or name the classes with --classes / "
                             "--classes-file")
        seen = sorted({v for v in raw if v is not None})
        if len(seen) < 2:
            raise InputError(f"{input_path}, column {label_column!r}: found {len(seen)} distinct label(s) "
                             f"{seen}; need at least two classes. Label rows of another class, or name the "
                             "classes with --classes / --classes-file")
        classes = ClassSpec(seen, {})
    code = {c: i for i, c in enumerate(classes.names)}
    y = np.full(table.num_rows, -1, dtype=np.int64)
    for i, v in enumerate(raw):
        if v is None:
            continue
        if v not in code:
            twin = [c for c in classes.names if c.casefold() == v.casefold()]
            hint = (f"; it differs only by case from class {twin[0]!r}: fix the label or pass --fold-case"
                    if twin else "; fix the label or add the class")
            raise InputError(f"{where(input_path, label_column, i)}label {v!r} is not one of the classes "
                             f"({', '.join(classes.names[:20])}){hint}")
        y[i] = code[v]
    return label_column, y, classes


def read_input(input_path, classes, votes, votes_column, rules):
    """(table, classes, votes column) of the input: a table, or a WRENCH ``.json`` split
    (:func:`fewlabels.io.votes.read_wrench`), whose classes come from its label.json and
    whose ``weak_labels`` are the votes unless rules or other votes are given."""
    from ..io import read_table
    from ..io.votes import WRENCH_VOTES_COLUMN, is_wrench, read_wrench

    if not is_wrench(input_path):
        return read_table(input_path), classes, votes_column
    table, names = read_wrench(input_path)  # (read_table reads it too, for callers that need no classes)
    if classes is None:
        classes = ClassSpec(names, {})
    elif list(classes.names) != names:
        raise InputError(f"{input_path}: its label.json names the classes {names}; --classes must list the same "
                         "names in the same order (the weak labels are codes into that list), or be left out")
    if votes is None and votes_column is None and rules is None:
        votes_column = WRENCH_VOTES_COLUMN
    return table, classes, votes_column
