"""How the loop's commands agree: the same row keys, the store's labels joined to a table
(loudly when they do not join), the same classes, and ``suggest``'s rows read back by
``review``.

* **Keys.** A row's key is its ``--id-column`` value; without one, the id column the store
  recorded (:meth:`LabelStore.record_loop`); without either, a hash of its text, with a
  warning: such a key changes when the text is edited, and rows with the same text share it.
* **Joining.** When the store holds labels and none of them is a key of the table, the
  command stops and says why (an id-keyed store read without ``--id-column``, or a store of
  another table); when only some do not, a note says how many were not used.
* **Classes.** The classes last reviewed (recorded in the store) join the classes named on
  the command line and those of the labels, so a class named once is never dropped; a label
  from the store that is not a class is blamed on the store, by key.

Cost: O(n) over the table's rows plus O(E) to read a store of E events.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..classes import ClassSpec
from ..errors import InputError
from .store import LabelStore, merge_labels, row_keys, store_error

#: names of columns that look like row ids, for the hint of the text-hash warning
ID_NAMES = ("id", "ID", "Id", "uid", "row_id", "key", "_id", "guid", "uuid")


@dataclass
class StoreJoin:
    """A table's keys and labels, merged with a label store's."""

    keys: list[str]
    texts: list | None
    labels: list  # one label or None per row: the store's where it has one, else the table's
    sources: list  # "given" (the table), the store's source ("review", "import", ...) or None
    conflicts: list
    n_used: int = 0  # rows whose label came from the store
    n_stored: int = 0  # labels in the store
    id_column: str | None = None  # the id column used (None: text hashes)
    store_classes: list = field(default_factory=list)  # classes the store recorded
    notes: list = field(default_factory=list)  # warnings for the user, one line each


def text_hash_note(table, input_path, keys) -> str:
    """The warning for rows keyed by a hash of their text."""
    dup = sum(c - 1 for c in Counter(keys).values() if c > 1)
    repeats = f" ({dup} rows here repeat another row's text)" if dup else ""
    candidates = [c for c in table.column_names if c in ID_NAMES]
    hint = (f"pass --id-column {candidates[0]} (this table has that column)" if candidates
            else "add a column of unique row ids and pass --id-column NAME")
    return (f"{input_path}: rows are keyed by a hash of their text (no --id-column): a stored label is lost when "
            f"its text is edited, and rows with the same text share one label{repeats}; {hint}, the same on "
            "every command (suggest, review, label, labels export)")


def join_store(table, input_path, *, text_column=None, label_column=None, id_column=None, labels_db=None,
               new_store_ok: bool = False) -> StoreJoin:
    """Keys of ``table`` and its labels merged with ``labels_db``'s (see the module docstring).

    ``new_store_ok``: a missing ``labels_db`` is an empty store (``review``, which creates it);
    otherwise it is an error naming the path (a mistyped path must not read as "no labels")."""
    from ..io import label_column as read_labels, text_column as read_texts

    store_classes: list[str] = []
    stored: dict = {}
    recorded = False
    store_id = None
    if labels_db is not None and (Path(labels_db).exists() or not new_store_ok):
        with LabelStore(labels_db, create=False) as store:
            try:
                # audit labels only measure (fewlabels.loop.audit_table): never given labels
                stored = {k: v for k, v in store.current().items() if v["source"] != "audit"}
                recorded, store_id = store.recorded_id_column()
                store_classes = store.recorded_classes()
            except sqlite3.OperationalError as exc:  # locked by a writer, unreadable
                raise store_error(labels_db, exc, store.timeout) from None
    if id_column is None and recorded and store_id is not None and store_id in table.column_names:
        id_column = store_id  # the store's keys are this column's values
    texts = read_texts(table, text_column or "text", input_path) if (
        text_column or "text" in table.column_names) else None
    keys = row_keys(table, id_column=id_column, texts=texts, path=input_path)
    notes = [] if id_column is not None else [text_hash_note(table, input_path, keys)]
    if label_column is None and "label" in table.column_names:
        label_column = "label"
    raw = read_labels(table, label_column, input_path) if label_column else [None] * table.num_rows
    merged, sources, conflicts = merge_labels(raw, keys, stored)
    key_set = set(keys)
    unmatched = [k for k in stored if k not in key_set]
    n_used = sum(1 for k in keys if k in stored)
    if stored and len(unmatched) == len(stored):
        raise InputError(_no_match(labels_db, input_path, stored, keys, id_column, recorded, store_id))
    if unmatched:
        notes.append(f"{labels_db}: {len(unmatched)} of its {len(stored)} labels match no row of {input_path} "
                     f"(first key {sorted(unmatched)[0]!r}) and were not used; were those rows removed, or edited "
                     "while keyed by text?")
    return StoreJoin(keys, texts, merged, sources, conflicts, n_used, len(stored), id_column, store_classes, notes)


def _no_match(labels_db, input_path, stored, keys, id_column, recorded, store_id) -> str:
    example = sorted(stored)[0]
    hashed = all(k.startswith("sha1:") for k in stored)
    if recorded and store_id is not None and store_id != id_column:
        fix = f"the store keys rows by column {store_id!r}: pass --id-column {store_id} (with a table that has it)"
    elif hashed and id_column is not None:
        fix = "the store keys rows by a hash of their text: leave out --id-column"
    elif not hashed and id_column is None:
        fix = "the store keys rows by an id column: pass --id-column NAME, the column its keys come from"
    else:
        fix = "is it the store of another table? Give the table its labels were made on"
    how = f"column {id_column!r}" if id_column is not None else "text hashes"
    return (f"{labels_db}: none of its {len(stored)} labels matches a row of {input_path} (0 of {len(stored)} "
            f"keys; the store's are like {example!r}, the table's ({how}) like {keys[0]!r}); {fix}")


def resolve_classes(spec: ClassSpec | None, join: StoreJoin, labels_db=None) -> ClassSpec | None:
    """The classes of a run: ``spec`` (or the labels' own) joined by the classes the store
    recorded, so that a class reviewed once is never dropped (a note names the ones added to
    ``spec``). None when neither names any (the pipeline then takes the labels')."""
    recorded = list(join.store_classes)
    if not recorded:
        return spec
    if spec is None:
        seen = sorted({v for v in join.labels if v is not None} - set(recorded))
        return ClassSpec(recorded + seen, {})
    extra = [c for c in recorded if c not in spec.names]
    if not extra:
        return spec
    join.notes.append(f"class(es) {', '.join(map(repr, extra))} were reviewed (recorded in {labels_db}) but are not "
                      "in --classes / --classes-file; kept, with a count of 0 unless a row gets them")
    return ClassSpec(list(spec.names) + extra, dict(spec.descriptions))


def check_stored_labels(join: StoreJoin, classes: ClassSpec | None, labels_db, input_path) -> None:
    """A label from the store that is not a class is the store's fault: name the store and the key."""
    if classes is None:
        return
    names = set(classes.names)
    for i, (lab, src) in enumerate(zip(join.labels, join.sources)):
        if lab is not None and src not in (None, "given") and lab not in names:
            raise InputError(f"{labels_db}, key {join.keys[i]!r} (row {i + 1} of {input_path}): the stored label "
                             f"{lab!r} ({src}) is not one of the classes ({', '.join(classes.names[:20])}); add the "
                             "class to --classes / --classes-file, or relabel the row (fewlabels review, or "
                             "fewlabels labels import)")


def read_suggestions(path, keys, input_path) -> list[dict]:
    """Rows of ``fewlabels suggest``'s output (key and reason, best first) that are rows of the
    table with ``keys``; an error when none is (made with another --id-column or table)."""
    from ..io import read_table

    t = read_table(path)
    if "fewlabels_key" not in t.column_names:
        raise InputError(f"{path}: no column 'fewlabels_key'; give the file `fewlabels suggest --out` wrote")
    got = ["" if k is None else str(k) for k in t.column("fewlabels_key").to_pylist()]
    reasons = (t.column("fewlabels_reason").to_pylist() if "fewlabels_reason" in t.column_names
               else [None] * len(got))
    where = {k: i for i, k in enumerate(keys)}
    rows = [{"key": k, "index": where[k], "reason": r or "suggested"} for k, r in zip(got, reasons) if k in where]
    if not rows:
        raise InputError(f"{path}: none of its {len(got)} rows is a row of {input_path} (keys like {got[0]!r}; the "
                         f"table's like {keys[0]!r}); run suggest and review on the same table with the same "
                         "--id-column")
    if len(rows) < len(got):
        missing = next(k for k in got if k not in where)
        raise InputError(f"{path}: {len(got) - len(rows)} of its {len(got)} rows are not rows of {input_path} "
                         f"(first key {missing!r}); run suggest again on this table")
    return rows


def recorded_id_column(labels_db) -> str | None:
    """The id column a store recorded (None: none recorded, text hashes, or no store yet)."""
    if labels_db is None or not Path(labels_db).is_file():
        return None
    with LabelStore(labels_db, create=False) as store:
        return store.recorded_id_column()[1]
