"""The row-level steps, run over an engine's fixed blocks of rows (see :mod:`fewlabels.engine`).

Each function takes the engine first and returns what the one-pass code returns, in row
order. Per row, the work is the same as in one pass, so the results are the same: a row's
search, prediction or rule votes never look at another row. (Float results can differ in
the last bits where BLAS groups a block differently from the whole; labels are argmaxes of
such numbers and the tests check they agree.)

Costs, for n rows, d dimensions, k classes or neighbours, B rows per block:

- :func:`predict_proba`: O(n · d · k) work, O(B · d) memory per task plus the model.
- :func:`labeler_blocks`: the labeler's prediction cost; the model is sent once per worker.
- :func:`search_index`: the index's search cost for n queries; the index is sent to each
  worker once (its serialised size in the object store, and one copy per worker process).
- :func:`apply_rules`: as :func:`fewlabels.signals.apply_rules`; each worker loads the rules
  file itself (a ``.py`` file's functions are not shipped: its path must be readable there).
- :func:`encode_chunks`: the encoder's cost; each worker loads the encoder once.
"""

from __future__ import annotations

import copy
import functools
import uuid
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from . import row_blocks


def _in_process(engine) -> bool:
    return getattr(engine, "name", None) == "local"


# ---------------------------------------------------------------------------------------
# prediction
# ---------------------------------------------------------------------------------------

def _predict_block(X_block, *, model):
    return model.predict_proba(X_block)


def predict_proba(engine, model, X) -> np.ndarray:
    """``model.predict_proba(X)`` block by block: (n, k). ``model`` must be inductive (its
    prediction for a row depends on that row only, e.g. :class:`fewlabels.endmodel.EndModel`)."""
    X = np.asarray(X)
    blocks = row_blocks(X.shape[0], engine.block_rows)
    parts = list(engine.map(_predict_block, (X[s:e] for s, e in blocks), shared={"model": model}))
    if not parts:
        return model.predict_proba(X)  # no rows: the model says what an empty answer looks like
    return np.concatenate(parts, axis=0)


#: per worker process: the last shared object deserialised, by token, so that what a fitted
#: model builds on first use (a k-NN index over its pool) is built once per worker
_OBJECT_CACHE: dict[str, object] = {}


def _kept(obj, token):
    if token is None:
        return obj
    if token not in _OBJECT_CACHE:
        _OBJECT_CACHE.clear()
        _OBJECT_CACHE[token] = obj
    return _OBJECT_CACHE[token]


def _labeler_block(item, *, model, name, token=None):
    from ..labelers.registry import labeler_input

    X_block, votes_block = item
    model = _kept(model, token)
    return model.predict_proba(labeler_input(name, np.ascontiguousarray(X_block), {"votes": votes_block}))


def labeler_blocks(engine, model, name: str, X, blocks: Sequence[np.ndarray], votes=None) -> Iterator[np.ndarray]:
    """A fitted labeler's ``predict_proba`` on the rows ``X[rows]`` (and ``votes[rows]`` for a
    label model) for each index array ``rows`` of ``blocks``, in order: the pipeline's
    extension of the method fitted on a core to the rest of the pool
    (:func:`fewlabels.pool_core.extend_to_pool`). The caller's blocks are used as they are, so
    each block's input is the one the one-pass loop gives the model. The model goes to each
    worker once and is kept there for its later blocks (a transductive method's k-NN index
    over its pool is built once per worker)."""
    items = ((X[rows], None if votes is None else votes[rows]) for rows in blocks)
    shared = {"model": model, "name": name}
    if not _in_process(engine):
        shared["token"] = uuid.uuid4().hex
    return engine.map(_labeler_block, items, shared=shared)


# ---------------------------------------------------------------------------------------
# k-NN search against a built index
# ---------------------------------------------------------------------------------------

#: per worker process: the last index deserialised, by token (one at a time bounds memory)
_INDEX_CACHE: dict[str, object] = {}


def _search_block(queries, *, index, k, token=None):
    if token is not None:  # a serialised index: deserialise once per worker process
        import faiss

        if token not in _INDEX_CACHE:
            _INDEX_CACHE.clear()
            _INDEX_CACHE[token] = faiss.deserialize_index(np.array(index, dtype=np.uint8, copy=False))
        index = _INDEX_CACHE[token]
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def search_index(engine, index, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``index.search(queries, k)`` (a built FAISS index) block by block of query rows:
    (similarities or distances, indices), each (n_queries, k).

    Per query, FAISS's flat, IVF and HNSW searches depend only on the query and the index,
    so blocks give the neighbours one pass gives (see the module docstring on last bits)."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    shared: dict = {"k": int(k)}
    if _in_process(engine):
        shared["index"] = index
    else:  # one serialised copy in the object store, deserialised once per worker
        import faiss

        shared.update(index=faiss.serialize_index(index), token=uuid.uuid4().hex)
    blocks = row_blocks(queries.shape[0], engine.block_rows)
    parts = list(engine.map(_search_block, (queries[s:e] for s, e in blocks), shared=shared))
    if not parts:
        return index.search(queries, k)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


# ---------------------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _rules_of(path: str, stamp: tuple):
    from ..signals import load_rules

    return load_rules(path)


def _load_rules_cached(path: str):
    st = Path(path).stat()
    return _rules_of(path, (st.st_mtime_ns, st.st_size))


def _rules_block(item, *, rules_path, classes, strict, chunk_size):
    from ..signals.apply import _apply_chunks, _codes_dtype
    from ..signals.rules import InterruptGuard

    start, texts = item
    rules = _load_rules_cached(rules_path)
    code = {c: i for i, c in enumerate(classes)}
    L = np.full((len(texts), len(rules)), -1, dtype=_codes_dtype(len(classes)))
    seconds = {r.name: 0.0 for r in rules}
    errors: dict[str, dict] = {}
    with InterruptGuard() as guard:
        _apply_chunks(texts, rules, classes, L, code, strict, errors, seconds, chunk_size, None, guard,
                      row_offset=start)
    return L, errors, seconds


def apply_rules(engine, texts: Sequence[str], rules_path, classes: Sequence[str], *, strict: bool = False,
                chunk_size: int = 50_000, progress: Callable[[int, int], None] | None = None):
    """:func:`fewlabels.signals.apply_rules` of the rules file ``rules_path``, block by block:
    the same :class:`~fewlabels.signals.apply.ApplyResult` (L, errors with the first failing
    row of the whole table and counts summed, seconds summed over blocks)."""
    from ..errors import InputError
    from ..signals.apply import finish_votes
    from ..signals.rules import check_rules

    classes = list(classes)
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise InputError(f"classes must be at least two distinct names; got {classes[:20]}")
    rules_path = str(Path(rules_path).resolve())
    rules = _load_rules_cached(rules_path)  # errors in the file show here, before any task
    check_rules(rules, classes)
    n = len(texts)
    blocks = row_blocks(n, engine.block_rows)
    items = ((s, list(texts[s:e])) for s, e in blocks)
    shared = {"rules_path": rules_path, "classes": classes, "strict": strict, "chunk_size": chunk_size}
    Ls, errors, seconds = [], {}, {r.name: 0.0 for r in rules}
    for (s, e), (L, errs, secs) in zip(blocks, engine.map(_rules_block, items, shared=shared)):
        Ls.append(L)
        for name, err in errs.items():  # blocks come in row order: the first is the earliest row
            if name in errors:
                errors[name]["count"] += err["count"]
            else:
                errors[name] = dict(err)
        for name, t in secs.items():
            seconds[name] += t
        if progress is not None:
            progress(e, n)
    L = np.concatenate(Ls) if Ls else np.full((0, len(rules)), -1, dtype=np.int8)
    return finish_votes(L, rules, classes, list(errors.values()), seconds)


# ---------------------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------------------

def _portable(encoder):
    """A copy of ``encoder`` without its loaded model (it loads again where it runs): what is
    sent to each worker is its settings, not a model's weights."""
    enc = copy.copy(encoder)
    for attr in ("_model", "_session"):
        if getattr(enc, attr, None) is not None:
            setattr(enc, attr, None)
    return enc


def _same(obj):
    return obj


def encode_chunks(engine, encoder, chunks: Sequence[Sequence[str]]) -> Iterator[np.ndarray]:
    """``encoder.encode(chunk)`` for each chunk, in order, each worker loading the encoder
    once. The chunks are the caller's (:func:`fewlabels.embed.embed_texts` makes the same ones
    with or without an engine), so each text is encoded in the same batch either way."""
    make = functools.partial(_same, encoder if _in_process(engine) else _portable(encoder))
    return engine.map_stateful(make, "encode", [list(c) for c in chunks])
