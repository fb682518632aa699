"""Step: item vectors and class vectors (embed).

Cost: encoding each text not in the cache (the encoder's cost per text, in blocks on an
engine); reading a ``.npy`` or a list column is O(n d).
"""

from __future__ import annotations

from ..errors import ConfigError, InputError
from ..options import InputOptions
from ..text_vectors import embed_classes
from ..validation import check_X
from .inputs import TableRows


def needs_encoder(inp: InputOptions) -> bool:
    """Whether the run loads an encoder: no vectors given, or an encoder named."""
    return (inp.vectors is None and inp.vectors_column is None) or inp.encoder_path is not None


def embed_rows(rows: TableRows, input_path, inp: InputOptions, encoder, cache, *, progress, engine):
    """(X (n, d), the class vectors C (k, d) or None without an encoder)."""
    X = pool_vectors(rows.table, input_path, texts=rows.texts, vectors=inp.vectors, vectors_column=inp.vectors_column,
                     encoder=encoder, cache=cache, progress=progress, engine=engine)
    C = embed_classes(rows.classes.names, rows.classes.descriptions, encoder, cache) if encoder is not None else None
    if C is not None and C.shape[1] != X.shape[1]:
        raise InputError(f"{inp.vectors or input_path}: vectors have dimension {X.shape[1]} but the encoder makes "
                         f"{C.shape[1]}; use the encoder that made the vectors, or drop --encoder")
    return X, C


def pool_vectors(table, path, *, texts, vectors, vectors_column, encoder, cache, progress, engine=None):
    """Item vectors: from a .npy file, a list column, or the encoder (cached)."""
    from ..embed import embed_texts
    from ..io import read_vectors
    from ..io import vectors_column as read_vectors_column

    if vectors is not None and vectors_column is not None:
        raise ConfigError("give either --vectors or --vectors-column, not both")
    if vectors is not None:
        X = read_vectors(vectors)
        if X.shape[0] != table.num_rows:
            raise InputError(f"{vectors}: {X.shape[0]} vectors for {table.num_rows} rows of {path}; "
                             "give one vector per row, in the table's order")
        return check_X(X, name="vectors", path=vectors)
    if vectors_column is not None:
        return check_X(read_vectors_column(table, vectors_column, path), name="vectors", path=path)
    cb = (lambda done, total: progress("embed", done, total)) if progress else None
    return embed_texts(texts, encoder, cache, progress=cb, engine=engine)
