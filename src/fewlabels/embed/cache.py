"""The on-disk cache of embeddings: a SQLite database keyed by (encoder id, SHA-256 of the
text), and where fewlabels keeps its caches (:func:`cache_location`). See :mod:`fewlabels.embed`.

Cost: a cached text costs one indexed SQLite lookup; writing a batch, one transaction.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def cache_location(env_var: str, name: str) -> Path:
    """``$env_var`` if set, else ``name`` under fewlabels' cache folder
    (``$XDG_CACHE_HOME/fewlabels``, default ``~/.cache/fewlabels``)."""
    env = os.environ.get(env_var)
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fewlabels" / name


def default_cache_path() -> Path:
    """``$FEWLABELS_CACHE`` or ``~/.cache/fewlabels/embeddings.sqlite``."""
    return cache_location("FEWLABELS_CACHE", "embeddings.sqlite")


_CACHE_COLUMNS = {"encoder", "text_hash", "dim", "vector"}


class EmbeddingCache:
    """SQLite store of vectors keyed by (encoder id, text hash).

    The database is opened on first use, so a run that embeds nothing (``--vectors``)
    never touches it. Before fewlabels writes to an existing file it checks that the file is
    a fewlabels cache; a folder, a damaged or foreign database, or one that cannot be
    written is an :class:`~fewlabels.errors.InputError` naming the path, and the file is
    left as it was.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        self._ready = False

    def _error(self, what: str, exc: BaseException | None = None) -> InputError:
        detail = f" ({exc})" if exc is not None and str(exc) else ""
        return InputError(f"{self.path}: the embedding cache (--cache) {what}{detail}")

    def _open(self) -> None:
        """Create the cache, or check that an existing file is one; once per object."""
        if self._ready:
            return
        if self.path.is_dir():
            raise self._error("is a folder; give the path of a file, e.g. "
                              f"{self.path / 'embeddings.sqlite'}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error("cannot be created there; give another path with --cache", exc) from exc
        existed = self.path.is_file() and self.path.stat().st_size > 0
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as con:
                if existed:  # read before writing anything: a foreign file stays untouched
                    tables = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                    if "embeddings" not in tables and tables:
                        raise self._error("is an SQLite database of something else (it has no 'embeddings' "
                                          "table); give another path with --cache")
                    if "embeddings" in tables:
                        cols = {r[1] for r in con.execute("PRAGMA table_info(embeddings)")}
                        if cols != _CACHE_COLUMNS:
                            raise self._error("has an 'embeddings' table that is not fewlabels'; give another "
                                              "path with --cache")
                with con:
                    con.execute("PRAGMA journal_mode=WAL")
                    con.execute(
                        "CREATE TABLE IF NOT EXISTS embeddings ("
                        " encoder TEXT NOT NULL, text_hash BLOB NOT NULL, dim INTEGER NOT NULL,"
                        " vector BLOB NOT NULL, PRIMARY KEY (encoder, text_hash))"
                    )
        except sqlite3.DatabaseError as exc:
            raise self._sqlite_error(exc) from exc
        self._ready = True

    def _sqlite_error(self, exc: sqlite3.Error) -> InputError:
        msg = str(exc).lower()
        if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
            return self._error("is not a readable SQLite database (damaged, or another kind of file); delete it "
                               "to start a new cache, or give another path with --cache", exc)
        if "readonly" in msg or "read-only" in msg or "unable to open" in msg or "permission" in msg:
            return self._error("cannot be opened for writing; make it (and its folder) writable, or give "
                               "another path with --cache", exc)
        if "locked" in msg or "busy" in msg:
            return self._error("is locked by another process; wait for it, or give another path with --cache", exc)
        return self._error("cannot be used; give another path with --cache", exc)

    def _connect(self) -> sqlite3.Connection:
        self._open()
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        return con

    def get(self, encoder_id: str, hashes: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        try:
            with closing(self._connect()) as con:
                con.execute("CREATE TEMP TABLE want (h BLOB PRIMARY KEY)")
                con.executemany("INSERT OR IGNORE INTO want VALUES (?)", ((h,) for h in hashes))
                rows = con.execute(
                    "SELECT e.text_hash, e.vector FROM embeddings e JOIN want w ON e.text_hash = w.h"
                    " WHERE e.encoder = ?",
                    (encoder_id,),
                )
                for h, blob in rows:
                    found[h] = np.frombuffer(blob, dtype=np.float32)
        except sqlite3.DatabaseError as exc:
            raise self._sqlite_error(exc) from exc
        return found

    def put(self, encoder_id: str, hashes: Sequence[bytes], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        try:
            with closing(self._connect()) as con, con:
                con.executemany(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
                    ((encoder_id, h, vectors.shape[1], v.tobytes()) for h, v in zip(hashes, vectors)),
                )
        except sqlite3.DatabaseError as exc:
            raise self._sqlite_error(exc) from exc
