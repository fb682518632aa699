"""Step: check a pool's arrays and say what its labels cannot support.

Cost: O(n d) to check X, O(n) for y and the label counts.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..honesty import vector_warnings
from ..pool import Pool
from ..validation import check_X, check_y


def checked_pool(pool: Pool) -> tuple[Pool, list[str]]:
    """(the pool with X and y checked and classes a list, the warnings on its labels and vectors).

    Raises :class:`~fewlabels.errors.InputError` for bad X, y or votes (naming the row)."""
    X = check_X(pool.X)
    classes = list(pool.classes)
    k = len(classes)
    y = check_y(pool.y, X.shape[0], k)
    warn = label_warnings(y, classes)
    warn.extend(vector_warnings(X))  # before labeling: vectors that cannot tell rows apart
    votes = pool.votes
    if votes is not None:
        votes = np.asarray(votes)
        if votes.ndim != 2 or votes.shape[0] != X.shape[0]:
            raise InputError(f"votes must have shape ({X.shape[0]}, m): one row of rule votes per item")
    return pool.replace(X=X, y=y, classes=classes, votes=votes), warn


def label_warnings(y: np.ndarray, classes: list[str]) -> list[str]:
    """Warnings for classes with no given label (when some row has one) or with only one."""
    warn: list[str] = []
    k = len(classes)
    lab = np.flatnonzero(y >= 0)
    counts = np.bincount(y[lab], minlength=k)
    missing = [classes[c] for c in range(k) if counts[c] == 0]
    single = [classes[c] for c in range(k) if counts[c] == 1]
    if missing and len(lab):
        warn.append(f"{len(missing)} class(es) have no given label ({', '.join(missing[:10])}"
                    f"{', ...' if len(missing) > 10 else ''}); they can only be found from their names")
    if single:
        warn.append(f"{len(single)} class(es) have only one given label ({', '.join(single[:10])}"
                    f"{', ...' if len(single) > 10 else ''}); the accuracy estimate for them is rough")
    return warn


def core_of(pool: Pool, core: np.ndarray | None) -> Pool:
    """The pool's rows ``core`` (every labeled row is in it), or the pool itself when None."""
    if core is None:
        return pool
    return pool.replace(X=pool.X[core], y=pool.y[core], votes=None if pool.votes is None else pool.votes[core])
