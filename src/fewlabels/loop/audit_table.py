"""The audit on files: draw the rows to audit (``fewlabels audit``), read the filled audit file
or the store's ``audit`` labels, and turn them into the report's verified estimate
(``fewlabels label --audit``). The statistics are in :mod:`fewlabels.audit`.

Audit labels only measure: they never enter ``y``, so no step (selection, calibration,
fine-tuning, end model) can train on them. Every check on them runs before an output is
written, and a failed check writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, where
from .store import LabelStore

#: column of row keys in the audit file
KEY_COLUMN = "fewlabels_key"


@dataclass
class AuditLabels:
    """Audit answers: ``labels[key] = (label, where)``, where it names the file and row or
    the store; ``n_blank``: audit rows left without a label (skipped)."""

    labels: dict = field(default_factory=dict)
    n_blank: int = 0
    files: list = field(default_factory=list)


def read_audit_file(path, label_column: str | None = None, into: AuditLabels | None = None) -> AuditLabels:
    """The filled audit file's labels by key (blank labels skipped and counted).

    Raises InputError (naming the file, column and row) for a missing file or column, a key
    given twice, or a file with no label filled in."""
    from ..io import read_labels, read_table, require_column

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: --audit file not found; write it with `fewlabels audit TABLE --n 50 --out "
                         f"{path.name}`, fill the labels, then pass it here")
    column = label_column or "label"
    table = read_table(path)
    require_column(table, KEY_COLUMN, path, "--audit (a file written by `fewlabels audit`)")
    require_column(table, column, path, "--label-column")
    keys = ["" if k is None else str(k).strip() for k in table.column(KEY_COLUMN).to_pylist()]
    labels, _ = read_labels(table, column, path)
    out = into if into is not None else AuditLabels()
    out.files.append(str(path))
    first: dict = {}
    filled = 0
    for i, (k, lab) in enumerate(zip(keys, labels)):
        if not k:
            raise InputError(f"{where(path, KEY_COLUMN, i)}empty key; keep the {KEY_COLUMN} column as "
                             "`fewlabels audit` wrote it")
        if k in first:
            raise InputError(f"{where(path, KEY_COLUMN, i)}key {k!r} is also in row {first[k] + 1}; each row may "
                             "be audited once: delete one of the two rows")
        first[k] = i
        if lab is None:
            out.n_blank += 1
        else:
            filled += 1
            out.labels[k] = (lab, f"{where(path, column, i)[:-2]}")
    if not filled:
        raise InputError(f"{path}: no label filled in column {column!r} ({table.num_rows} audit rows); write each "
                         "row's true class there (leave out only rows you cannot judge), then run again")
    return out


def read_audit_files(audit_path, labels_db, label_column=None) -> AuditLabels:
    """The audit answers of the ``--audit`` file (if any) and of the store (source ``audit``)."""
    out = AuditLabels()
    if audit_path is not None:
        read_audit_file(audit_path, label_column, into=out)
    return store_audit_labels(labels_db, into=out)


def store_audit_labels(labels_db, into: AuditLabels | None = None) -> AuditLabels:
    """The label store's current labels with source ``audit``."""
    out = into if into is not None else AuditLabels()
    if labels_db is None or not Path(labels_db).is_file():
        return out
    with LabelStore(labels_db) as store:
        cur = store.current()
    for k, v in cur.items():
        if v["source"] != "audit":
            continue
        if k in out.labels and out.labels[k][0] != v["label"]:
            raise InputError(f"{out.labels[k][1]}: label {out.labels[k][0]!r}, but the label store {labels_db} "
                             f"has audit label {v['label']!r} for the same row (key {k!r}); make them agree")
        out.labels.setdefault(k, (v["label"], f"label store {labels_db}, key {k!r}"))
    return out


def match_audit(audit: AuditLabels, keys, given, input_path) -> tuple[np.ndarray, list, list]:
    """(row indices, labels, where) of the audit answers in the table.

    ``given``: the table's given labels (merged with the store's training labels), None where
    a row has none. A file's key that is no row of the table, or an audited row that has a
    given label, is an error; a store's audit label for another table's row is ignored."""
    row_of: dict = {}
    for i, k in enumerate(keys):
        if given[i] is None:
            row_of.setdefault(k, i)
    has_given = {k: i for i, k in enumerate(keys) if given[i] is not None}
    rows, labels, places = [], [], []
    for k, (lab, place) in audit.labels.items():
        if k in has_given:
            raise InputError(f"{place}: key {k!r} is row {has_given[k] + 1} of {input_path}, which has a given "
                             "label; an audit checks rows without one. Delete that audit row (or the row's "
                             "given label)")
        if k not in row_of:
            if not place.startswith("label store"):
                raise InputError(f"{place}: key {k!r} is no row of {input_path}; the audit file must come from "
                                 f"`fewlabels audit` on this table, with the same --id-column")
            continue
        rows.append(row_of[k])
        labels.append(lab)
        places.append(place)
    order = np.argsort(rows, kind="stable")
    return (np.asarray(rows, dtype=np.int64)[order], [labels[j] for j in order], [places[j] for j in order])


def apply_audit(result, y, audit: AuditLabels, matched, names) -> dict:
    """Replace ``result.report["estimated_accuracy"]`` by the audit's verified estimate.

    The model-based estimate is kept under ``model_based``. ``names``: the class names of the
    output codes. Raises InputError for an audit label that is no class. Returns the estimate."""
    from ..audit import verified_estimate

    rows, labels, places = matched
    known = set(names)
    for lab, place in zip(labels, places):
        if lab not in known:
            raise InputError(f"{place}: audit label {lab!r} is not one of the classes ({', '.join(names[:20])}); "
                             "fix the label")
    if not len(rows):
        raise InputError("no audit label matches a row of the table without a given label; label the rows of "
                         "the audit file written by `fewlabels audit` for this table")
    unl = np.flatnonzero(np.asarray(y) < 0)
    out_names = np.asarray(names, dtype=object)[result.labels[rows]]
    correct = np.array([a == b for a, b in zip(out_names, labels)])
    est = verified_estimate(result.confidence[unl], correct, result.confidence[rows])
    est["model_based"] = result.report.get("estimated_accuracy")
    est["sources"] = audit.files + (["label store"] if any(p.startswith("label store") for p in places) else [])
    result.report["estimated_accuracy"] = est
    if audit.n_blank:
        result.warnings.append(f"{audit.n_blank} audit row(s) have no label and were left out of the verified "
                               "estimate; rows skipped because they were hard make it optimistic")
    return est
