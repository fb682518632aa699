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
- :func:`encode_chunks`: the encoder's cost; each worker loads the encoder once.

Rules in blocks are :func:`fewlabels.signals.blocks.apply_rules_blocks`: the rules are a layer
above the engine, which knows no step by name.
"""

from __future__ import annotations

import copy
import functools
import uuid
from typing import Iterator, Sequence

import numpy as np

from .base import row_blocks


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
    X_block, votes_block = item
    model = _kept(model, token)  # a label model (input_kind "votes") is fitted on the votes, not on X
    return model.predict_proba(votes_block if model.input_kind == "votes" else np.ascontiguousarray(X_block))


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
