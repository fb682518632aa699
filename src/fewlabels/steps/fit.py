"""Steps: the chosen method on the pool (or on its core, then the rest in blocks), and the
end model that labels new rows.

Cost: one fit of the chosen method and its predictions on the pool (or the core plus the
blocks of the rest: :func:`fewlabels.pool_core.extend_to_pool`); the end model is a logistic
regression on X, O(n d k) per iteration.
"""

from __future__ import annotations

import numpy as np

from ..endmodel import EndModel
from ..labelers.registry import build_labeler, labeler_input
from ..pool import Pool
from ..pool_core import extend_to_pool, extension_info
from .choose import timer


def fit_chosen(chosen: str, work: Pool, timings: dict):
    """(fitted method, its probabilities (n, k) on ``work.X``): ``chosen`` fitted on the pool's rows."""
    t = timer()
    X_in = labeler_input(chosen, work.X, work)
    model = build_labeler(chosen, work).fit(X_in, work.y)
    P_raw = model.predict_proba(X_in)
    timings["label"] = t()
    return model, P_raw


def extend_to_rest(model, chosen: str, pool: Pool, core: np.ndarray, P_core: np.ndarray, work: Pool, *,
                   progress, engine, timings: dict) -> tuple[np.ndarray, dict]:
    """(probabilities (n, k) on the whole ``pool``, the report's ``core``): the method fitted
    on the core (``work``) labels the other rows in blocks."""
    t = timer()
    P_raw = extend_to_pool(model, chosen, pool.X, core, P_core, work.replace(votes=pool.votes),
                           progress=(lambda d, n: progress("extend", d, n)) if progress else None, engine=engine)
    timings["extend"] = t()
    return P_raw, {"rows": int(len(core)), "pool_rows": int(len(pool.y)), "extension": extension_info(model)}


def fit_end_model(X: np.ndarray, labels: np.ndarray, confidence: np.ndarray, classes, core, random_state,
                  timings: dict) -> EndModel:
    """The classifier on X for new rows, fitted on the labels weighted by their confidence
    (on the core only, when there is one: it carries the method's own labels)."""
    t = timer()
    fit_rows = slice(None) if core is None else core
    end_model = EndModel(random_state=random_state).fit(X[fit_rows], labels[fit_rows],
                                                        sample_weight=confidence[fit_rows], classes=list(classes))
    timings["end_model"] = t()
    return end_model
