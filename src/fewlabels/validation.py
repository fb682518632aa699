"""Input checks shared by every public function.

Each ``check_*`` returns the cleaned array and raises an :class:`~fewlabels.errors.InputError`
or :class:`~fewlabels.errors.ConfigError` naming the bad thing and the expected form.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError, InputError, where


def check_X(X, *, name: str = "X", path=None) -> np.ndarray:
    """Embeddings: 2-D, numeric, finite. Returns a C-contiguous float32 array."""
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where(path)}{name} must be a numeric array of shape (n, d): {exc}") from exc
    if X.ndim != 2:
        raise InputError(f"{where(path)}{name} must have shape (n, d); got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"{where(path)}{name} is empty (shape {X.shape}); need at least one row and one column")
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~np.isfinite(X.sum(axis=1))  # NaN and inf survive a sum; no (n, d) temporary
    if bad.any():  # a sum of finite values can overflow: check those rows value by value
        rows = np.flatnonzero(bad)
        bad[rows] = ~np.isfinite(X[rows]).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
        raise InputError(
            f"{where(path, row=rows[0])}NaN or infinite value in {name}{more}; "
            "recompute those vectors or drop those rows"
        )
    return np.ascontiguousarray(X)


def check_y(y, n_samples: int, n_classes: int | None = None) -> np.ndarray:
    """Labels: int codes in ``0..n_classes-1`` or -1 for unlabeled, length ``n_samples``."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_samples:
        raise InputError(f"y must have shape ({n_samples},) to match X; got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise InputError(f"y must hold integer class codes (-1 = unlabeled); got dtype {y.dtype}")
    y = y.astype(np.int64, copy=False)
    if (y < -1).any():
        raise InputError(f"y holds {int(y.min())}; codes must be -1 (unlabeled) or 0..k-1")
    if n_classes is not None and (y >= n_classes).any():
        raise InputError(f"y holds code {int(y.max())} but there are only {n_classes} classes")
    return y


def infer_n_classes(y: np.ndarray, n_classes: int | None) -> int:
    """``n_classes`` if given, else ``max(y) + 1``; at least 2."""
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if k < 2:
        raise InputError(f"need at least two classes; got {k}")
    return k


def check_proba(P, n_samples: int | None = None, n_classes: int | None = None) -> np.ndarray:
    """Probabilities: (n, k), finite, non-negative, rows summing to 1."""
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2:
        raise InputError(f"P must have shape (n, k); got {P.shape}")
    if n_samples is not None and P.shape[0] != n_samples:
        raise InputError(f"P has {P.shape[0]} rows; expected {n_samples}")
    if n_classes is not None and P.shape[1] != n_classes:
        raise InputError(f"P has {P.shape[1]} columns; expected {n_classes}")
    if not np.isfinite(P).all() or (P < 0).any() or not np.allclose(P.sum(axis=1), 1.0, atol=1e-4):
        raise InputError("P must be finite, non-negative, and each row must sum to 1")
    return P


def check_in_range(name: str, value, low=None, high=None, *, low_open=False) -> None:
    """Raise ConfigError if a numeric parameter is outside ``[low, high]``."""
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(f"{name}={value!r} is out of range; it must be {'>' if low_open else '>='} {low}")
    if high is not None and value > high:
        raise ConfigError(f"{name}={value!r} is out of range; it must be <= {high}")


def check_random_state(random_state, name: str = "--seed") -> None:
    """``random_state`` must be None or an integer in 0..2**32 - 1 (what numpy's generators accept)."""
    if random_state is None:
        return
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise ConfigError(f"{name}={random_state!r}: the seed must be an integer from 0 to {2**32 - 1}")
    if not 0 <= int(random_state) < 2**32:
        raise ConfigError(f"{name}={random_state}: the seed must be from 0 to {2**32 - 1}; choose another")
