"""Steps: the accuracy estimate on the rows without a label, and the report's honest figures.

Cost: the estimators bootstrap the out-of-fold probabilities of the labeled rows, O(B l k)
for l labeled rows, plus O(n k) over the unlabeled rows; with rules and no label, the
model-based estimate (:mod:`fewlabels.zero_label_estimate`) fits on the votes, O(n m).
"""

from __future__ import annotations

import numpy as np

from ..calibrate import confidence_accuracy
from ..honesty import abstain_note, check_against_labels, span_estimators, unlabeled_classes_share
from ..report.summary import build_report
from .choose import timer


def estimate_accuracy(P_raw: np.ndarray, y: np.ndarray, X: np.ndarray, votes, k: int, selection, chosen: str,
                      T: float, random_state, *, warn: list[str], timings: dict):
    """The estimated accuracy on the rows left to label (a dict), or None: from the chosen
    method's out-of-fold probabilities, its interval spanning the estimators; with rules and
    no label, model-based only (it may abstain, with a note in ``warn``)."""
    if selection is not None and (y < 0).any():  # rows left to estimate on
        t = timer()
        oof, y_lab = selection.scores[chosen].oof_proba, selection.y_labeled
        conf_est = confidence_accuracy(P_raw[y < 0], oof, y_lab, temperature=T, random_state=random_state)
        conf_est = span_estimators(conf_est, P_raw[y < 0], oof, y_lab,
                                   T)  # the interval spans the estimators, not only the temperature's noise
        timings["estimate"] = t()
        return conf_est
    if selection is None and votes is not None and not (y >= 0).any():  # rules and no label: model-based only
        from ..zero_label_estimate import rules_accuracy_estimate

        t = timer()
        conf_est = rules_accuracy_estimate(X, votes, k, labels=P_raw.argmax(axis=1), random_state=random_state)
        if conf_est.get("abstained"):
            warn.append(abstain_note(conf_est))
        timings["estimate"] = t()
        return conf_est
    return None


def arrays_report(classes, y, labels, confidence, chosen, selection, T, ece, fallback, warn, timings, random_state,
                  conf_est) -> dict:
    """The report of :func:`fewlabels.pipeline.label_arrays` (:func:`fewlabels.report.summary.build_report`),
    its estimate checked against the labels' evidence and widened for classes without labels."""
    report = build_report(classes, y, labels, chosen, selection, T, ece, fallback, warn, timings,
                          random_state, len(y), conf_est)
    est = check_against_labels(report["estimated_accuracy"], warn)  # the labels' evidence wins
    report["estimated_accuracy"] = unlabeled_classes_share(est, labels, confidence, y, classes, warn)
    return report
