"""The JSON report of a labeling run: the method chosen, the accuracy estimate and its
interval, the candidates' scores, calibration, class counts, timings (:func:`build_report`).

Cost: O(n + k) beyond what the caller computed.
"""

from __future__ import annotations

import numpy as np

from .._version import __version__
from ..select import wilson_interval


def build_report(classes, y, labels, chosen, selection, T, ece, fallback, warn, timings, random_state, n,
                 conf_est=None):
    k = len(classes)
    lab = y >= 0
    est = None
    candidates = {}
    if selection is not None:
        s = selection.scores[chosen]
        cv = selection.corrected_accuracy
        low, high = wilson_interval(cv * s.n, s.n)
        cross_validated = {"value": cv, "low": low, "high": high, "uncorrected": s.accuracy,
                           "method": "out-of-fold accuracy on the given labels, corrected for the optimism of "
                                     "picking the best method (bootstrap, BBC-CV); Wilson 95% interval"}
        if conf_est is not None:
            est = {"value": conf_est["value"], "low": conf_est["low"], "high": conf_est["high"], "n_labels": s.n,
                   "method": conf_est.get("method", "mean calibrated confidence of the labels on the rows without a "
                                          "given label (temperature fitted on out-of-fold predictions); 95% "
                                          "bootstrap interval over the given labels"),
                   "cross_validated": cross_validated,
                   **{key: conf_est[key] for key in ("estimators",) if key in conf_est}}
        else:
            est = {**cross_validated, "n_labels": s.n}
        candidates = {name: sc.as_dict() for name, sc in selection.scores.items()}
    elif conf_est is not None:  # no label to check against: the model-based estimate, named as such
        est = conf_est
    return {
        "fewlabels_version": __version__,
        "method": chosen,
        "estimated_accuracy": est,
        "candidates": candidates,
        "calibration": {"temperature": T, **(ece or {}), "measured": "cross-fitted over the folds"}
        if ece else {"temperature": T, "note": "not calibrated: too few labels"},
        "fallback": fallback,
        "warnings": warn,
        "n_rows": int(n),
        "n_given": int(lab.sum()),
        "class_counts": {
            "given": {classes[c]: int(v) for c, v in enumerate(np.bincount(y[lab], minlength=k))},
            "labeled": {classes[c]: int(v) for c, v in enumerate(np.bincount(labels, minlength=k))},
        },
        "random_state": random_state,
        "timings_s": timings,
    }
