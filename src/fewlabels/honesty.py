"""Checks that keep the accuracy estimate honest (issue 22): warnings about the vectors before
labeling, calibration that is kept only when it helps, the given labels' evidence against
the model-based estimate, and classes no given label checks.

Each function takes what :func:`fewlabels.pipeline.label_arrays` already has and returns a
changed value and/or appends warning lines; none refits a model.
"""

from __future__ import annotations

import numpy as np

#: a group of identical vectors this large (share of rows, and rows) is warned about
SAME_VECTOR_SHARE, SAME_VECTOR_ROWS = 0.05, 10
#: warned when this share of rows has its vector shared with another row
DUPLICATE_SHARE = 0.20


def vector_warnings(X, max_rows: int = 200_000, random_state: int = 0) -> list[str]:
    """Warnings about vectors that cannot tell rows apart: many rows sharing one vector
    (e.g. texts the encoder sees as one unknown token, such as emoji only), many duplicated
    vectors, or vectors with (nearly) no variance at all.

    Rows are compared by a random projection rounded to 6 significant digits (identical
    vectors always collide; distinct ones almost never do), on at most ``max_rows`` random
    rows. Cost: O(min(n, max_rows)·d).
    """
    X = np.asarray(X)
    n = X.shape[0]
    if n < 2:
        return []
    rng = np.random.default_rng(random_state)
    S = X if n <= max_rows else X[rng.choice(n, max_rows, replace=False)]
    out = []
    scale = float(np.sqrt(np.mean(np.sum(np.asarray(S, dtype=np.float64) ** 2, axis=1))))
    spread = float(np.sqrt(np.sum(np.var(S, axis=0, dtype=np.float64))))
    if scale == 0 or spread <= 1e-6 * scale:
        return [f"the {n} vectors are (nearly) all the same: they carry no signal to label by; check the text "
                "column and the encoder (or --vectors)"]
    h = np.asarray(S, dtype=np.float64) @ rng.normal(size=S.shape[1])
    key = np.round(h / (scale + 1e-12), 6)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    top = int(counts.max())
    share_top = top / len(S)
    dup = float((counts[inverse] > 1).mean())
    if share_top >= SAME_VECTOR_SHARE and top * n / len(S) >= SAME_VECTOR_ROWS:
        out.append(f"{share_top:.0%} of the rows (about {round(share_top * n)}) share one vector: the encoder "
                   "cannot tell them apart (e.g. texts of only emoji or symbols, or empty texts), so they all get "
                   "one label and one confidence; label them another way or remove them")
    elif dup >= DUPLICATE_SHARE:
        out.append(f"{dup:.0%} of the rows share their vector with another row (duplicated texts?): duplicates "
                   "count several times in the estimate and in cross-validation; consider de-duplicating")
    return out


def keep_calibration_if_it_helps(T: float, ece: dict | None, warn: list[str]) -> tuple[float, dict | None]:
    """T, or 1 (no calibration) when the cross-fitted ECE after temperature scaling is not
    lower than before; ``ece`` gains ``applied`` (bool), ``fitted_temperature`` and a note."""
    if not ece:
        return T, ece
    ece = dict(ece, fitted_temperature=T)
    before, after = ece.get("ece_before"), ece.get("ece_after")
    if before is None or after is None or not np.isfinite(after) or after < before:
        return T, dict(ece, applied=True)
    note = (f"calibration kept off: temperature scaling (T={T:.2f}) would change the cross-fitted calibration "
            f"error from {before:.3f} to {after:.3f}, not lower, so the uncalibrated probabilities are used (T=1)")
    warn.append(note)
    return 1.0, dict(ece, applied=False, note=note)


def check_against_labels(est: dict | None, warn: list[str]) -> dict | None:
    """The headline follows the given labels when they contradict the model-based figure.

    ``est`` is the report's estimate with a ``cross_validated`` part (out-of-fold accuracy
    on the given labels, Wilson interval). When the two 95% intervals do not overlap (the
    model's own interval: the mean confidence's, before :func:`span_estimators` widened it), the
    labels are direct evidence and the model's confidences are not: the cross-validated
    figure and its interval become the headline, the model's figure is kept as
    ``model_based``, and a warning says why.
    """
    cv = (est or {}).get("cross_validated")
    if not est or not cv or est.get("value") is None:
        return est
    own = est.get("estimators") or {}
    low, high = own.get("mean_confidence_low", est["low"]), own.get("mean_confidence_high", est["high"])
    if cv["high"] >= low and cv["low"] <= high:
        return est
    model_based = {key: est[key] for key in ("value", "low", "high", "method") if key in est}
    note = (f"the given labels contradict the model-based estimate: cross-validated accuracy {cv['value']:.3f} "
            f"(95% {cv['low']:.3f}-{cv['high']:.3f}) against {est['value']:.3f} (95% {est['low']:.3f}-"
            f"{est['high']:.3f}) from the model's confidences; the estimate shown follows the labels. Check "
            "that the classes, votes or rules use the same codes and names as the labels")
    warn.append(note)
    return dict(est, value=cv["value"], low=cv["low"], high=cv["high"], model_based=model_based,
                followed="given labels (cross-validated)",
                method=cv["method"] + "; shown instead of the model-based figure, which the labels contradict")


def unlabeled_classes_share(est: dict | None, labels, confidence, y, classes, warn: list[str]) -> dict | None:
    """Widen the estimate for rows put into classes that have no given label.

    No given label can check those rows: their accuracy is anything from 0 to 1. With u the
    share of the scored rows (no given label) in such classes and c their mean confidence,
    the interval becomes [low − u·c, high + u·(1 − c)] and the value counts them at 1/2
    instead of c (value + u·(1/2 − c)): the midpoint of what they could be.
    """
    if not est or est.get("value") is None:
        return est
    y = np.asarray(y)
    k = len(classes)
    counts = np.bincount(y[y >= 0], minlength=k)
    missing = np.flatnonzero(counts == 0)
    rest = y < 0
    if not len(missing) or not rest.any() or not (y >= 0).any():
        return est
    into = rest & np.isin(labels, missing)
    u = float(into.sum() / rest.sum())
    if u == 0:
        return est
    c = float(np.mean(np.asarray(confidence)[into]))
    names = [classes[i] for i in missing]
    out = dict(est, value=float(est["value"] + u * (0.5 - c)), low=float(max(0.0, est["low"] - u * c)),
               high=float(min(1.0, est["high"] + u * (1 - c))),
               unlabeled_classes={"classes": names, "share": u, "mean_confidence": c,
                                  "note": "rows put into classes with no given label: no label checks them, so "
                                          "they count at 1/2 and the interval spans 0 to 1 for them"})
    warn.append(f"{u:.1%} of the labeled rows were put into class(es) with no given label ({', '.join(names[:10])}"
                f"{', ...' if len(names) > 10 else ''}); no label checks them, so the estimate counts them at 1/2 "
                "and its interval is wider. Label a few of them to check")
    return out


def fill_table_name(report: dict, warnings: list[str], table) -> None:
    """Put the input's path into the abstained estimate's next step (the library says TABLE)."""
    est = report.get("estimated_accuracy") or {}
    if est.get("abstained") and "next_step" in est:
        est["next_step"] = est["next_step"].replace("TABLE", str(table))
        warnings[:] = [w.replace("fewlabels audit TABLE", f"fewlabels audit {table}").replace(
            "fewlabels label TABLE", f"fewlabels label {table}") for w in warnings]


def abstain_note(est: dict) -> str:
    """The warning line of an abstained estimate."""
    return (f"no accuracy estimate: {est['reason']}. Bound: {est['low']:.0%}-{est['high']:.0%}. For a verified "
            f"estimate: {est['next_step']}")


def span_estimators(conf_est: dict, P_rest, oof, y_labeled, temperature: float) -> dict:
    """Widen the mean-confidence estimate's interval to the other estimator's figure.

    The bootstrap interval of :func:`~fewlabels.calibrate.confidence_accuracy` covers the
    noise of the fitted temperature, not the choice of estimator. Average thresholded
    confidence (ATC, :func:`~fewlabels.calibrate.thresholded_confidence_accuracy`) reads the
    same confidences another way; where the two disagree, neither is known to be right, so
    the interval spans both (``estimators`` records them). Cost: O((n + m)·k).
    """
    from .calibrate import apply_temperature, thresholded_confidence_accuracy

    atc = thresholded_confidence_accuracy(apply_temperature(P_rest, temperature), apply_temperature(oof, temperature),
                                          y_labeled)
    if not np.isfinite(atc):
        return conf_est
    return dict(conf_est, low=float(min(conf_est["low"], atc)), high=float(max(conf_est["high"], atc)),
                estimators={"mean_confidence": conf_est["value"], "mean_confidence_low": conf_est["low"],
                            "mean_confidence_high": conf_est["high"], "thresholded_confidence": float(atc)})
