"""Reading embedding vectors: a ``.npy`` file or a list column, checked row by row."""

from __future__ import annotations


import numpy as np
import pyarrow as pa

from ..errors import InputError, where
from .npy import load_npy
from .tables import require_column


def check_vector_values(V: np.ndarray, path, column=None) -> np.ndarray:
    """Vectors read from a file: a 2-D array of real numbers (bool, complex, text and
    object arrays are refused with their dtype), finite in float32, no row all zeros.
    Returns float32."""
    V = np.asarray(V)
    if V.dtype == bool:
        raise InputError(f"{where(path, column)}vectors hold booleans (dtype bool), not numbers; save them as "
                         "numbers, e.g. numpy.save(path, array.astype('float32'))")
    if np.issubdtype(V.dtype, np.complexfloating):
        raise InputError(f"{where(path, column)}vectors hold complex numbers (dtype {V.dtype}); give real-valued "
                         "embeddings (fewlabels does not drop the imaginary part for you)")
    if not (np.issubdtype(V.dtype, np.integer) or np.issubdtype(V.dtype, np.floating)):
        raise InputError(f"{where(path, column)}vectors must hold numbers; got dtype {V.dtype}. Save a float "
                         "array of shape (rows, dimensions) with numpy.save")
    if V.ndim != 2:
        raise InputError(f"{where(path, column)}vectors must be a numeric 2-D array (rows × dimensions); "
                         f"got shape {V.shape}")
    if V.shape[0] == 0 or V.shape[1] == 0:
        raise InputError(f"{where(path, column)}vectors are empty (shape {V.shape}); need one row per table row")
    with np.errstate(over="ignore", invalid="ignore"):
        X = V.astype(np.float32, copy=False)  # float32 already: no copy (1.5 GB at 10^6 x 384)
    finite, nonzero = np.empty(len(X), dtype=bool), np.empty(len(X), dtype=bool)
    for s in range(0, len(X), 65_536):  # boolean temporaries of one block, not of all of X
        finite[s:s + 65_536] = np.isfinite(X[s:s + 65_536]).all(axis=1)
        nonzero[s:s + 65_536] = X[s:s + 65_536].any(axis=1)
    bad = np.flatnonzero(~finite)
    if len(bad):
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        big = bool(np.isfinite(V[bad[0]]).all()) if np.issubdtype(V.dtype, np.floating) else True
        what = "a value beyond the float32 range" if big else "NaN or infinite value"
        raise InputError(f"{where(path, column, bad[0])}{what} in vectors{more}; recompute those vectors or "
                         "drop those rows")
    zero = np.flatnonzero(~nonzero)
    if len(zero):
        more = f" (and {len(zero) - 1} more)" if len(zero) > 1 else ""
        raise InputError(f"{where(path, column, zero[0])}vector is all zeros{more}: it has no direction to compare; "
                         "recompute those vectors or drop those rows")
    return X


def read_vectors(path) -> np.ndarray:
    """Vectors from a ``.npy`` file (no pickles), checked by :func:`check_vector_values`."""
    V = load_npy(path, not_npy="vectors must be a .npy file (numpy.save) or a list column (--vectors-column)",
                 save_hint="save the vectors with numpy.save(path, array) from a float array of shape "
                           "(rows, dimensions)")
    return check_vector_values(V, path)


def vectors_column(table: pa.Table, column: str, path) -> np.ndarray:
    """Vectors stored as a list column (e.g. in Parquet)."""
    require_column(table, column, path, "--vectors-column")
    values = table.column(column).to_pylist()
    lengths = {len(v) if isinstance(v, (list, tuple)) else -1 for v in values}
    if -1 in lengths or len(lengths) != 1:
        first = next(i for i, v in enumerate(values)
                     if not isinstance(v, (list, tuple)) or len(v) != len(values[0] or []))
        raise InputError(f"{where(path, column, first)}every row must hold a list of numbers of the same length")
    try:
        V = np.asarray([[np.nan if x is None else x for x in v] for v in values])
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where(path, column)}vectors must hold numbers ({exc})") from exc
    return check_vector_values(V, path, column)
