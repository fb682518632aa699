"""The core of a large pool: where selection and the transductive methods run.

Cross-validating seven candidates over five folds on a million rows would refit every
method 35 times on the whole pool, and a k-NN graph over a million rows does not fit in
minutes on a laptop. Above ``core_size`` rows, fewlabels therefore works on a **core**:
every labeled row plus a uniform random sample of the unlabeled rows, ``core_size`` rows
in all. The candidates are compared, calibrated and fitted on the core (graph methods on
the core's k-NN graph), and the fitted method then labels the remaining rows in blocks:
row-wise methods (logistic regression, prototypes, self-training, zero-shot) apply as
they would on the full pool, and transductive ones (spreading, clustering) extend to each
new row by a similarity-weighted vote of its nearest core rows (an IVF index with
measured recall, :mod:`fewlabels.ann`).

The labeled rows are all in the core, so the out-of-fold accuracies, the choice and the
calibration see exactly the labels they would see on the full pool; a uniform sample keeps
the core's unlabeled rows distributed like the pool's. Selection cost is then constant in n;
what grows with n is one pass of the chosen method over the remaining rows.

Cost: O(n) to draw the core; extension O((n − core_size) · (d · k + nprobe · √core_size · d))
time, O(block · (d + k)) memory beyond the (n, k) result.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .labelers.registry import as_pool, labeler_input
from .options import CORE_SIZE as _CORE_SIZE
from .pool import Pool
from .validation import check_in_range

#: rows above which the pipeline works on a core: the full choice on 20,000 rows takes about 30 s on 2 cores
#: (defined with the run's settings, :mod:`fewlabels.options`)
CORE_SIZE = _CORE_SIZE
#: rows labeled per block when the fitted method extends to the rest of the pool
EXTEND_BLOCK = 65_536


def core_rows(y: np.ndarray, core_size: int | None, random_state: int | None = 0) -> np.ndarray | None:
    """Sorted row indices of the core (every labeled row plus random unlabeled ones), or
    None when the pool has at most ``core_size`` rows (or ``core_size`` is None)."""
    if core_size is not None:
        check_in_range("core_size", core_size, 2)
    n = len(y)
    if core_size is None or n <= core_size:
        return None
    lab = np.flatnonzero(y >= 0)
    unl = np.flatnonzero(y < 0)
    take = max(core_size - len(lab), 0)
    rng = np.random.default_rng(random_state)
    sample = unl[np.sort(rng.choice(len(unl), min(take, len(unl)), replace=False))]
    return np.union1d(lab, sample)


def extend_to_pool(model, name: str, X: np.ndarray, core: np.ndarray, P_core: np.ndarray, context: Pool | dict,
                   progress: Callable[[int, int], None] | None = None, engine=None) -> np.ndarray:
    """(n, k) probabilities for the whole pool: ``P_core`` on the core rows, and the fitted
    ``model``'s ``predict_proba`` on the other rows, block by block (``context``, a
    :class:`~fewlabels.pool.Pool` or a dict of its fields: its ``votes`` must be the full
    pool's for methods fitted on them). With an ``engine``
    (:mod:`fewlabels.engine`) the same blocks run on its workers."""
    n = X.shape[0]
    P = np.empty((n, P_core.shape[1]), dtype=np.float64)
    P[core] = P_core
    rest = np.setdiff1d(np.arange(n), core, assume_unique=True)
    blocks = [rest[s:s + EXTEND_BLOCK] for s in range(0, len(rest), EXTEND_BLOCK)]
    context = as_pool(context)
    votes = context.votes
    if engine is not None:
        from .engine.ops import labeler_blocks

        parts = labeler_blocks(engine, model, name, X, blocks, votes=votes)
    else:
        parts = (model.predict_proba(labeler_input(name, np.ascontiguousarray(X[rows]),
                                                   context.replace(votes=None if votes is None else votes[rows])))
                 for rows in blocks)
    done = 0
    for rows, P_block in zip(blocks, parts):
        P[rows] = P_block
        done += len(rows)
        if progress:
            progress(done, len(rest))
    return P


def extension_info(model) -> dict | None:
    """How the transductive part of ``model`` (or of its members) reached the new rows."""
    from .ann import index_info

    for est in [model, *getattr(model, "estimators_", [])]:
        if getattr(est, "transductive", False):
            info = index_info(est._X_fit)
            if info is not None:
                return dict(info)
    return None
