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
targets, so an undo restores the label before. Sources: ``review``, ``import``, ``given``,
and ``audit``: labels of a random audit (``fewlabels audit``), which only measure the
labels' accuracy and are never used as given labels.

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
from .row_keys import row_keys, text_key  # noqa: F401 (re-exported: the store's keys)

SOURCES = ("review", "import", "given", "audit")
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


def store_error(path, exc: sqlite3.OperationalError, timeout: float = 10.0) -> InputError:
    """A SQLite operational error (locked, read-only, cannot open) as a user error naming the store."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return InputError(f"{path}: the label store is locked by another process (a `fewlabels review` or import "
                          f"still writing?) for more than {timeout:g} s; nothing was written. Wait for it or stop "
                          "it, then run the command again")
    if "readonly" in text or "read-only" in text:
        return InputError(f"{path}: the label store is read-only ({text}); nothing was written. Make the file and "
                          "its folder writable, or give another --labels-db path")
    return InputError(f"{path}: cannot use the label store ({text}); check the path and its permissions")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class LabelStore:
    """Labels by row key in a SQLite file.

    Parameters
    ----------
    path : the database file
    create : make the file when it is missing (``review`` and ``labels import``); commands
        that only read a store pass False, so a mistyped path is an error, not a new empty store
    timeout : seconds one attempt waits for another process's lock (SQLite's busy timeout)
    retry_delays : seconds to wait before each retry of a locked write or read; after the
        last, :class:`StoreLockedError`
    """

    def __init__(self, path, *, create: bool = True, timeout: float = 10.0,
                 retry_delays: Sequence[float] = (1.0, 3.0)):
        self.path = Path(path)
        self.timeout = float(timeout)
        self.retry_delays = tuple(retry_delays)
        if self.path.is_dir():
            raise InputError(f"{self.path}: --labels-db is a folder; give a file path")
        if not create and not self.path.is_file():
            raise InputError(f"{self.path}: no such label store; check the --labels-db path (`fewlabels review` "
                             "and `fewlabels labels import` create one)")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False,
                                       isolation_level=None)
            self._retry(self._create)
        except sqlite3.OperationalError as exc:
            raise store_error(self.path, exc, self.timeout) from None
        except (sqlite3.DatabaseError, OSError) as exc:
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

    def get_meta(self, name: str) -> str | None:
        """A value recorded with :meth:`set_meta`, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, values: dict[str, str]) -> None:
        """Record ``name → value`` pairs (replacing earlier values) in one transaction."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)",
                                     [(str(k), str(v)) for k, v in values.items()])
        except sqlite3.OperationalError as exc:
            raise store_error(self.path, exc, self.timeout) from None

    def record_loop(self, *, id_column: str | None, classes: Sequence[str]) -> None:
        """Remember how this store's keys are made (``id_column``, None for text hashes) and the
        classes last reviewed, so that later commands key rows and name classes the same way."""
        self.set_meta({"key": f"column:{id_column}" if id_column is not None else "text",
                       "classes": json.dumps(list(classes), ensure_ascii=False)})

    def recorded_id_column(self) -> tuple[bool, str | None]:
        """(recorded?, id column or None for text hashes) as :meth:`record_loop` stored it."""
        v = self.get_meta("key")
        if v is None:
            return False, None
        return True, (v[len("column:"):] if v.startswith("column:") else None)

    def recorded_classes(self) -> list[str]:
        """The classes :meth:`record_loop` stored ([] when none)."""
        try:
            names = json.loads(self.get_meta("classes") or "[]")
        except ValueError:
            return []
        return [str(c) for c in names] if isinstance(names, list) else []

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

    def export_label_studio(self, path, texts: dict[str, str], *, classes: Sequence[str] | None = None,
                            config_path=None, from_name: str = "label", to_name: str = "text") -> tuple[int, list]:
        """Write the current labels as Label Studio tasks (a JSON list; each task's ``data`` holds
        ``text`` and ``fewlabels_key``, its one annotation the label) and, with ``config_path``,
        the labeling config (:func:`label_studio_config`) to import them with.

        ``texts`` maps keys to texts (the table the labels were made on). Labels whose key has no
        text there are left out; when none has one, nothing is written and InputError is raised.
        Returns (tasks written, keys left out)."""
        from ..io import write_json
        from .label_studio import label_studio_config

        cur = self.current()
        missing = [k for k in sorted(cur) if k not in texts]
        if cur and len(missing) == len(cur):
            raise InputError(f"{self.path}: none of its {len(cur)} labels matches a row of the table (store keys like "
                             f"{missing[0]!r}; the table's like {next(iter(texts), None)!r}); give the table the "
                             "labels were made on, with the same --id-column")
        tasks = []
        for k in sorted(cur):
            if k not in texts:
                continue
            tasks.append({"id": len(tasks) + 1, "data": {"text": texts[k], "fewlabels_key": k}, "annotations": [{
                "result": [{"from_name": from_name, "to_name": to_name, "type": "choices",
                            "value": {"choices": [cur[k]["label"]]}}],
                "was_cancelled": False, "created_at": cur[k]["time"]}]})
        names = list(classes or [])
        names += sorted({v["label"] for v in cur.values()} - set(names))
        if config_path is not None:
            from ..outputs import Outputs

            with Outputs() as outs:  # both files, or neither
                outs.json(tasks, path, "--out")
                with outs.file(config_path, "--config-out") as tmp:
                    tmp.write_text(label_studio_config(names, from_name=from_name, to_name=to_name),
                                   encoding="utf-8")
        else:
            write_json(tasks, path)
        return len(tasks), missing

    def import_file(self, path, *, id_field: str | None = None, source: str = "import") -> int:
        """Import labels from a CSV (``key,label`` columns, or an audit file's ``fewlabels_key,label``)
        or a Label Studio JSON export; source ``import`` (or ``audit``: labels that only measure).
        The file is read in full before anything is written. Returns the number of labels recorded."""
        try:
            return self.set_many(read_label_file(path, id_field=id_field), source=source)
        except sqlite3.OperationalError as exc:
            raise store_error(self.path, exc, self.timeout) from None


def read_label_file(path, *, id_field: str | None = None) -> list[tuple[str, str]]:
    """(key, label) pairs from a CSV (``key,label``) or a Label Studio JSON export."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the path")
    if path.suffix.lower() == ".json":
        from .label_studio import read_label_studio

        return read_label_studio(path, id_field=id_field)
    if path.suffix.lower() == ".csv":
        return read_labels_csv(path)
    raise InputError(f"{path}: import reads a .csv (key,label) or a Label Studio .json export")


def read_labels_csv(path) -> list[tuple[str, str]]:
    """(key, label) pairs from a UTF-8 CSV with ``key`` and ``label`` columns (empty label: skipped)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            r = csv.DictReader(fh)
            names = r.fieldnames or []
            kc = "key" if "key" in names else "fewlabels_key"  # an audit file keys its rows so
            if kc not in names or "label" not in names:
                raise InputError(f"{path}: needs columns 'key' and 'label'; found {r.fieldnames}")
            out = []
            for i, row in enumerate(r):
                key, lab = (row[kc] or "").strip(), (row["label"] or "").strip()
                if not key:
                    raise InputError(f"{where(path, kc, i)}empty key; give each labeled row its key")
                if lab:
                    out.append((key, lab))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8"
                         ) from None
    except csv.Error as exc:
        raise InputError(f"{path}: cannot read as CSV ({exc}); check the file") from None
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
