"""Steps: which methods are tried, the k-NN graph they share, the cross-validated choice
and its temperature (graph, select, calibrate).

Cost: the selection dominates: candidates x folds fits on the labeled rows plus their
predictions on the pool (:func:`fewlabels.select.select_labeler`); the graph is one k-NN
search, O(n^2 d) exact or less with the IVF index (:func:`fewlabels.graph.knn_graph`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..calibrate import cross_fitted_ece, fit_temperature
from ..errors import ConfigError, InputError
from ..graph import knn_graph
from ..honesty import keep_calibration_if_it_helps
from ..labelers.registry import accepts, available, get_labeler_class
from ..pool import Pool
from ..select import Selection, select_labeler

#: candidates tried by ``method="auto"``, in order of preference on ties
AUTO_CANDIDATES = ("logistic", "prototype", "spreading", "clustering", "selftraining", "zeroshot", "ensemble")

#: added to the candidates when rules give a label matrix: rules alone, and rules with embeddings
RULE_CANDIDATES = ("majority", "dawid_skene", "fused")

#: kept by "auto" unless another candidate beats it by more than one standard error: averaging
#: methods that err differently is the safer bet when a hundred labels cannot tell them apart
PREFERRED = "ensemble"
#: (With rules, ``fused``, rules and embeddings, is a candidate like the others: it must win on
#: the folds. It used to be preferred (kept unless beaten by more than one SE): on WRENCH's
#: rules with 100 labels (bench/wrench.py, 3 seeds each of trec, youtube, sms) that kept it in
#: 3 to 5 of the 9 runs, and it lost to the embeddings-only choice in all but one, by 0.07 to
#: 0.31 on test (it won once, by 0.004); its out-of-fold accuracy was within one SE of the
#: ensemble's each time. With 0 labels, where nothing can be cross-validated, ``fused`` is
#: still what is used.)


def timer() -> Callable[[], float]:
    """A clock started now: calling it gives the seconds since, to the millisecond."""
    t0 = time.perf_counter()
    return lambda: round(time.perf_counter() - t0, 3)


@dataclass
class Plan:
    """What the choice will be made among.

    ``names``: the methods to run; ``chosen``: the method when nothing can be
    cross-validated (else None: the selection chooses); ``fallback``: the report's note on a
    choice made with too few labels; ``can_cross_validate``: at least two labels of two classes.
    """

    names: list[str]
    chosen: str | None
    fallback: str | None
    can_cross_validate: bool


def candidate_names(method: str, candidates, work: Pool) -> list[str]:
    """The methods to run on ``work``, the unavailable ones left out (refused for a forced ``method``)."""
    votes = work.votes
    if method == "auto":
        names = list(candidates or (AUTO_CANDIDATES + (RULE_CANDIDATES if votes is not None else ())))
    else:
        cls = get_labeler_class(method)
        # an ensemble is scored from its members' out-of-fold outputs, so they run too
        members = getattr(cls, "stacked_members", None) or getattr(cls, "default_members", None) or ()
        names = [*members, method]
    for name in names:
        get_labeler_class(name)
    unavailable = [n for n in names if not available(n, work)]
    if method != "auto" and unavailable:
        need = ", ".join(get_labeler_class(method).needs)
        raise ConfigError(f"method {method!r} needs {need}: give an encoder (not only --vectors) so class "
                          "names can be embedded")
    return [n for n in names if n not in unavailable]


def plan_choice(work: Pool, method: str, names: list[str]) -> Plan:
    """The :class:`Plan`: with too few labels to cross-validate, the one method that works
    without them (refused, with what to do, when there is none)."""
    y, k, votes = work.y, work.n_classes, work.votes
    lab = np.flatnonzero(y >= 0)
    counts = np.bincount(y[lab], minlength=k)
    missing = [c for c in range(k) if counts[c] == 0]
    can_cross_validate = len(lab) >= 2 and len(np.unique(y[lab])) >= 2
    if can_cross_validate:
        fallback = None
        if counts[counts > 0].mean() < 2 or missing:
            fallback = ("fewer than 2 given labels per class on average, or classes without labels: "
                        "methods were compared with folds that hide whole classes, so the estimate is rough")
        return Plan(names, None, fallback, True)
    # Too few labels to cross-validate: use what works without labels.
    if method != "auto":
        if len(lab) < get_labeler_class(method).min_labels:
            raise InputError(f"method {method!r} needs at least {get_labeler_class(method).min_labels} "
                             f"given labels; got {len(lab)}. Label more rows or use zeroshot")
        chosen = method
    elif votes is not None:
        chosen = "fused"  # rules label what they cover; embeddings carry it to the rest
    elif available("zeroshot", work):
        # class-balanced self-training from zero-shot (or one-class) starting scores
        chosen = "selftraining"
    else:
        raise InputError(
            f"only {len(lab)} given label(s) in {len(np.unique(y[lab]))} class(es), and no class names "
            "can be embedded: label at least two rows of two classes, or give an encoder for zero-shot")
    fallback = (f"{len(lab)} given label(s): too few to cross-validate, so '{chosen}' was used without "
                + ("a cross-validated accuracy estimate (the one shown is model-based, from how the rules "
                   "agree: unverified)" if votes is not None and not len(lab) else "an accuracy estimate")
                + " and its confidence is not calibrated")
    return Plan([chosen], chosen, fallback, False)


def shared_graph(X: np.ndarray, names: list[str], n_neighbors: int, *, engine, timings: dict, info: dict):
    """One k-NN graph over X, shared by the methods and the folds, when a method reads one
    (else None). ``info`` receives how it was searched."""
    if not any(accepts(n, "graph") for n in names):
        return None
    t = timer()
    graph = knn_graph(X, n_neighbors, engine=engine, info=info)
    timings["graph"] = t()
    return graph


def select_and_calibrate(work: Pool, plan: Plan, opts, *, progress, timings: dict,
                         warn: list[str]) -> tuple[Selection, str, float, float, np.ndarray | None]:
    """(selection, chosen, temperature T, cross-fitted ECE, weights): the methods compared on
    the folds (a forced method is kept, with no optimism to remove), then the temperature
    fitted on the chosen one's out-of-fold probabilities, kept only where it lowers the ECE.
    ``weights``: the mixing weights of a stacked ensemble that was chosen, else None."""
    t = timer()
    selection = select_labeler(work.X, work.y, plan.names, work, n_splits=opts.n_splits,
                               random_state=opts.random_state,
                               prefer=(PREFERRED,),
                               progress=(lambda d, n: progress("select", d, n)) if progress else None)
    if opts.method != "auto":  # forced: no choice was made, so there is no optimism to remove
        selection.best = opts.method
        selection.corrected_accuracy = selection.scores[opts.method].accuracy
    chosen = selection.best
    weights = selection.weights.get(chosen)
    timings["select"] = t()
    t = timer()
    oof = selection.scores[chosen].oof_proba
    T = fit_temperature(oof, selection.y_labeled)
    ece = cross_fitted_ece(oof, selection.y_labeled, selection.fold_of)
    T, ece = keep_calibration_if_it_helps(T, ece, warn)  # T = 1 when scaling does not lower the ECE
    timings["calibrate"] = t()
    return selection, chosen, T, ece, weights
