"""Reading one array from a ``.npy`` file, never unpickled (vectors, votes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError


def load_npy(path, *, not_npy: str, save_hint: str) -> np.ndarray:
    """One array from a ``.npy`` file, never unpickled; InputError naming the file otherwise.

    ``not_npy`` is said when the extension is not .npy, ``save_hint`` how to save the array
    when it cannot be read."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise InputError(f"{path}: {not_npy}")
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the path")
    try:
        V = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy array of numbers; {save_hint}") from exc
    if not isinstance(V, np.ndarray):
        raise InputError(f"{path}: holds several arrays, not one; save it with numpy.save")
    return V
