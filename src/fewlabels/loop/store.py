"""The label store: one SQLite file of labels by row key, never the input table.

A row's key is the value of an id column (``--id-column``) or ``sha1:`` + the first 16 hex
digits of the SHA-1 of its text. The store is an append-only log of events ``(key, label,
source, time, kind, target)``; nothing is ever deleted or changed. Kinds:

* ``label``: a row's label (a NULL label removes it);
* ``confirmed``: a reviewer kept the row's label after it was flagged as a suspect; later
  runs do not flag that label again;
* ``skip``: a reviewer skipped the row;
* ``undo``: undoes the event ``target`` (its label column holds the label the row has after
  the undo, for reading the log).

A row's current label is derived from the log: its latest ``label`` event that no ``undo``
targets, so an undo restores the label before. Sources: ``review``, ``import``, ``given``.

Every write is its own transaction, committed at once: closing the review tab or killing
the process loses no answer. A write that finds the file locked by another process waits
(SQLite's busy timeout), retries with backoff, then raises :class:`StoreLockedError`: an
answer is either in the store or refused, never lost silently.

Files in and out: a CSV (``key,label,source,time``) and Label Studio's JSON export (a list
of tasks with ``data`` and ``annotations[].result[].value.choices``).

Cost: a write O(log E) for E events; :meth:`LabelStore.current`, :meth:`~LabelStore.confirmed`,
:meth:`~LabelStore.skipped` and :meth:`~LabelStore.undo` O(E).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import InputError, where

SOURCES = ("review", "import", "given")
KINDS = ("label", "confirmed", "skip", "undo")


class StoreLockedError(InputError):
    """The label store stayed locked by another process through every retry; nothing was written."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    label TEXT,
    source TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_key ON events(key, seq);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
"""
#: columns added after the first release (stores made before get them on open, old rows are labels)
_ADDED_COLUMNS = (("kind", "TEXT NOT NULL DEFAULT 'label'"), ("target", "INTEGER"))
#: the live events: not undo events, and not the target of one
_LIVE = "kind != 'undo' AND seq NOT IN (SELECT target FROM events WHERE kind = 'undo' AND target IS NOT NULL)"


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


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class LabelStore:
    """Labels by row key in a SQLite file (created when missing).

    Parameters
    ----------
    path : the database file
    timeout : seconds one attempt waits for another process's lock (SQLite's busy timeout)
    retry_delays : seconds to wait before each retry of a locked write or read; after the
        last, :class:`StoreLockedError`
    """

    def __init__(self, path, *, timeout: float = 10.0, retry_delays: Sequence[float] = (1.0, 3.0)):
        self.path = Path(path)
        self.retry_delays = tuple(retry_delays)
        self.timeout = float(timeout)
        if self.path.is_dir():
            raise InputError(f"{self.path}: --labels-db is a folder; give a file path")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False, isolation_level=None)
            self._retry(self._create)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a fewlabels label store ({exc}); give another --labels-db "
                             "path") from None

    def _create(self) -> None:
        self._db.executescript(_SCHEMA)
        have = {r[1] for r in self._db.execute("PRAGMA table_info(events)")}
        for name, decl in _ADDED_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE events ADD COLUMN {name} {decl}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _retry(self, fn):
        """``fn()``, retried after each of ``retry_delays`` while the file is locked by another
        process; then :class:`StoreLockedError`. Any other database error is raised as is."""
        start = time.monotonic()
        for delay in (*self.retry_delays, None):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                msg = str(exc).lower()
                if "locked" not in msg and "busy" not in msg:
                    raise
                if delay is None:
                    raise StoreLockedError(
                        f"{self.path}: the label store is locked by another process (waited "
                        f"{time.monotonic() - start:.0f} s, {len(self.retry_delays) + 1} tries); nothing was "
                        "written: close the program holding it and try again") from None
                time.sleep(delay)

    def _write(self, rows: Iterable[tuple]) -> int:
        """Append events ``(key, label, source[, kind[, target]])`` in one transaction."""
        at = _now()
        full = []
        for r in rows:
            key, lab, src, kind, target = tuple(r) + ("label", None)[len(r) - 3:]
            if src not in SOURCES:
                raise InputError(f"label source {src!r} must be one of {', '.join(SOURCES)}")
            full.append((key, lab, src, at, kind, target))

        def txn():
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT INTO events(key, label, source, at, kind, target) "
                                     "VALUES (?, ?, ?, ?, ?, ?)", full)
        self._retry(txn)
        return len(full)

    def _read(self, sql: str, params=()) -> list:
        return self._retry(lambda: self._db.execute(sql, params).fetchall())

    def set(self, key: str, label: str, source: str = "review") -> None:
        """Record ``label`` for ``key`` (committed before returning)."""
        self._write([(str(key), str(label), source)])

    def set_many(self, items: Iterable[tuple[str, str]], source: str = "import") -> int:
        """Record many (key, label) pairs in one transaction; returns how many."""
        return self._write((str(k), str(v), source) for k, v in items)

    def remove(self, key: str, source: str = "review") -> None:
        """Remove ``key``'s label (an event with no label)."""
        self._write([(str(key), None, source)])

    def confirm(self, key: str, label: str, source: str = "review") -> None:
        """Record that a reviewer kept ``label`` for ``key`` (a ``confirmed`` event)."""
        self._write([(str(key), str(label), source, "confirmed")])

    def skip(self, key: str, source: str = "review") -> None:
        """Record that a reviewer skipped ``key`` (a ``skip`` event; the label is unchanged)."""
        self._write([(str(key), None, source, "skip")])

    def last_seq(self) -> int:
        """Number of the latest event (0 for an empty store)."""
        return int(self._read("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])

    def undo(self, source: str = "review") -> str | None:
        """Undo the latest live event from ``source`` (a label, confirmation or skip) by
        appending an ``undo`` event: the key gets back the label it had before. Returns the
        key, or None when there is nothing to undo."""
        row = self._read(f"SELECT seq, key, kind FROM events WHERE source = ? AND {_LIVE} "
                         "ORDER BY seq DESC LIMIT 1", (source,))
        if not row:
            return None
        seq, key, kind = row[0]
        before = self._read(f"SELECT label FROM events WHERE key = ? AND kind = 'label' AND seq != ? AND {_LIVE} "
                            "ORDER BY seq DESC LIMIT 1", (key, seq))
        self._write([(key, before[0][0] if before else None, source, "undo", seq)])
        return key

    def current(self) -> dict[str, dict]:
        """Current label of every key that has one: key → {label, source, time}."""
        rows = self._read(
            "SELECT e.key, e.label, e.source, e.at FROM events e JOIN "
            f"(SELECT key, MAX(seq) AS seq FROM events WHERE kind = 'label' AND {_LIVE} GROUP BY key) last "
            "ON e.seq = last.seq")
        return {k: {"label": lab, "source": src, "time": at} for k, lab, src, at in rows if lab is not None}

    def confirmed(self) -> dict[str, str]:
        """key → the label a reviewer confirmed last (not undone). A confirmation holds for
        that label only: compare it with the row's current label."""
        rows = self._read(f"SELECT key, label FROM events WHERE kind = 'confirmed' AND {_LIVE} ORDER BY seq")
        return {k: lab for k, lab in rows}

    def skipped(self, since: int = 0) -> set[str]:
        """Keys skipped (not undone) in events after number ``since``."""
        rows = self._read(f"SELECT DISTINCT key FROM events WHERE kind = 'skip' AND seq > ? AND {_LIVE}", (since,))
        return {k for (k,) in rows}

    def history(self) -> list[dict]:
        """Every event, oldest first."""
        rows = self._read("SELECT seq, key, label, source, at, kind, target FROM events ORDER BY seq")
        return [{"seq": s, "key": k, "label": lab, "source": src, "time": at, "kind": kind, "target": t}
                for s, k, lab, src, at, kind, t in rows]

    # ------------------------------------------------------------------ files in and out

    def export_csv(self, path) -> int:
        """Write the current labels as CSV ``key,label,source,time`` (atomically)."""
        from ..io import atomic_path

        cur = self.current()
        with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["key", "label", "source", "time"])
            for k in sorted(cur):
                w.writerow([k, cur[k]["label"], cur[k]["source"], cur[k]["time"]])
        return len(cur)

    def export_label_studio(self, path, texts: dict[str, str] | None = None, *, from_name: str = "label",
                            to_name: str = "text") -> int:
        """Write the current labels as a Label Studio JSON export (one task per key; its
        ``data`` holds ``fewlabels_key`` and, when known, ``text``)."""
        from ..io import write_json

        cur = self.current()
        tasks = []
        for i, k in enumerate(sorted(cur), start=1):
            data = {"fewlabels_key": k}
            if texts and k in texts:
                data["text"] = texts[k]
            tasks.append({"id": i, "data": data, "annotations": [{
                "result": [{"from_name": from_name, "to_name": to_name, "type": "choices",
                            "value": {"choices": [cur[k]["label"]]}}],
                "was_cancelled": False, "created_at": cur[k]["time"]}]})
        write_json(tasks, path)
        return len(tasks)

    def import_file(self, path, *, id_field: str | None = None) -> int:
        """Import labels from a CSV (``key,label`` columns) or a Label Studio JSON export; source
        ``import``. Returns the number of labels recorded."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: file not found; check the path")
        if path.suffix.lower() == ".json":
            items = read_label_studio(path, id_field=id_field)
        elif path.suffix.lower() == ".csv":
            items = read_labels_csv(path)
        else:
            raise InputError(f"{path}: import reads a .csv (key,label) or a Label Studio .json export")
        return self.set_many(items, source="import")


def read_labels_csv(path) -> list[tuple[str, str]]:
    """(key, label) pairs from a CSV with ``key`` and ``label`` columns (empty label: skipped)."""
    with open(path, newline="", encoding="utf-8") as fh:
        r = csv.DictReader(fh)
        if not r.fieldnames or "key" not in r.fieldnames or "label" not in r.fieldnames:
            raise InputError(f"{path}: needs columns 'key' and 'label'; found {r.fieldnames}")
        out = []
        for i, row in enumerate(r):
            key, lab = (row["key"] or "").strip(), (row["label"] or "").strip()
            if not key:
                raise InputError(f"{where(path, 'key', i)}empty key; give each labeled row its key")
            if lab:
                out.append((key, lab))
    return out


def read_label_studio(path, *, id_field: str | None = None) -> list[tuple[str, str]]:
    """(key, label) pairs from a Label Studio JSON export.

    A task's key is ``data.fewlabels_key``, else ``data[id_field]``, else the text hash of
    ``data.text``. Its label is the first choice of its latest annotation that was not
    cancelled; tasks without one are skipped."""
    try:
        tasks = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc}); give a Label Studio JSON export") from None
    if not isinstance(tasks, list):
        raise InputError(f"{path}: a Label Studio export is a JSON list of tasks; got {type(tasks).__name__}")
    out = []
    for i, task in enumerate(tasks):
        data = task.get("data", {}) if isinstance(task, dict) else {}
        if "fewlabels_key" in data:
            key = str(data["fewlabels_key"])
        elif id_field and id_field in data:
            key = str(data[id_field])
        elif isinstance(data.get("text"), str):
            key = text_key(data["text"])
        else:
            raise InputError(f"{path}: task {i + 1} has no data.fewlabels_key, no data.text"
                             + (f" and no data.{id_field}" if id_field else "") + "; cannot tell which row it is")
        label = None
        for ann in reversed(task.get("annotations") or []):
            if ann.get("was_cancelled"):
                continue
            for res in ann.get("result") or []:
                choices = (res.get("value") or {}).get("choices")
                if choices:
                    label = str(choices[0])
                    break
            if label:
                break
        if label:
            out.append((key, label))
    return out


def merge_labels(given: Sequence[str | None], keys: Sequence[str], stored: dict[str, dict]):
    """Merge a table's given labels with the store's: the store wins (it is the newer, reviewed
    answer). Returns (labels per row, source per row, conflicts: [{row, key, given, stored}])."""
    labels, sources, conflicts = list(given), ["given" if g is not None else None for g in given], []
    for i, k in enumerate(keys):
        s = stored.get(k)
        if s is None:
            continue
        if given[i] is not None and given[i] != s["label"]:
            conflicts.append({"row": i + 1, "key": k, "given": given[i], "stored": s["label"],
                              "stored_source": s["source"]})
        labels[i] = s["label"]
        sources[i] = s["source"]
    return labels, sources, conflicts
