"""Labeling from supervision on groups of rows, and rejection of rows of no named class.

Array-level entry points beside :func:`fewlabels.pipeline.label_arrays`, returning the same
:class:`~fewlabels.result.LabelResult`:

* :func:`label_proportions` - bags with known class shares (``--proportions``);
* :func:`label_bags` - bags with known label sets (``--bag-label-column``);
* :func:`mark_unknown` - after any of them, rows far from every class become ``unknown``.

Notation: n rows, d dimensions, k classes, B bags.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import minimize_scalar

from .bags import check_bag_sets, check_bags, check_proportions
from .calibrate import apply_temperature
from .endmodel import EndModel
from .errors import InputError, where
from .labelers.mil import BagLabeler, bag_predictions
from .labelers.openset import UNKNOWN, OpenSetDetector
from .labelers.proportions import ProportionLabeler, bag_shares
from .result import LabelResult, given_labels_win
from .validation import check_X, check_y


def _result(P, y, classes, method, report, X, fit_end_model, random_state):
    k = len(classes)
    lab = np.flatnonzero(y >= 0)
    P, labels, confidence, source = given_labels_win(P, y, method)
    end_model = None
    if fit_end_model:
        end_model = EndModel(random_state=random_state).fit(X, labels, sample_weight=confidence, classes=list(classes))
    report.update({
        "method": method,
        "n_rows": int(len(y)),
        "n_given": int(len(lab)),
        "class_counts": {
            "given": {classes[c]: int(v) for c, v in enumerate(np.bincount(y[lab], minlength=k))},
            "labeled": {classes[c]: int(v) for c, v in enumerate(np.bincount(labels, minlength=k))},
        },
        "random_state": random_state,
    })
    report.setdefault("candidates", {})
    report.setdefault("warnings", [])
    report.setdefault("fallback", None)
    return LabelResult(P, labels, confidence, source, method, report, end_model, report["warnings"])


def _share_temperature(S: np.ndarray, bags: np.ndarray, props: np.ndarray) -> float:
    """Temperature maximising the likelihood of the bags' shares under the mean calibrated
    posterior of their rows: Σ_b n_b Σ_c π_bc log mean_{i∈b} p_ic(T)."""
    sizes = np.bincount(bags, minlength=props.shape[0])

    def nll(log_t):
        m = bag_shares(apply_temperature(S, np.exp(log_t)), bags, props.shape[0])
        return -float((sizes[:, None] * props * np.log(np.clip(m, 1e-12, None))).sum())

    return float(np.exp(minimize_scalar(nll, bounds=(np.log(0.05), np.log(20)), method="bounded").x))


def held_out_bags(X, y, bags, props, *, n_folds: int = 5, random_state: int | None = 0, **params) -> dict:
    """Accuracy estimate without instance labels: refit with a fold of bags held out, predict
    their rows with the classifier alone, and compare the predicted shares with the given ones.

    Returns the mean total-variation distance between predicted and given shares (soft:
    mean posterior; hard: histogram of predicted classes), ``1 - hard TV`` (an upper bound
    on instance accuracy: a bag whose predicted histogram is off by TV has at least that
    share of wrong rows), and the mean calibrated confidence on the held-out rows (the
    temperature fitted to the held-out shares), the estimate. Cost: ``n_folds`` fits.
    """
    n_bags = props.shape[0]
    k = props.shape[1]
    rng = np.random.default_rng(random_state)
    fold = rng.permutation(n_bags) % n_folds
    S = np.zeros((len(y), k))
    for f in range(n_folds):
        test_rows = fold[bags] == f
        if not test_rows.any() or test_rows.all():
            continue
        keep = np.flatnonzero(~test_rows)
        old = np.unique(bags[keep])
        remap = np.full(n_bags, -1)
        remap[old] = np.arange(len(old))
        m = ProportionLabeler(bags=remap[bags[keep]], proportions=props[old], n_classes=k,
                              random_state=random_state, **params).fit(X[keep], y[keep])
        S[test_rows] = m.predict_classifier(X[test_rows])
    T = _share_temperature(S, bags, props)
    Sc = apply_temperature(S, T)
    soft = bag_shares(Sc, bags, n_bags)
    hard = bag_shares(np.eye(k)[Sc.argmax(axis=1)], bags, n_bags)
    tv_soft = 0.5 * np.abs(soft - props).sum(axis=1)
    tv_hard = 0.5 * np.abs(hard - props).sum(axis=1)
    conf = Sc.max(axis=1)
    return {
        "value": float(conf.mean()),
        "share_error": float(tv_soft.mean()),
        "hard_share_error": float(tv_hard.mean()),
        "upper_bound": float(1 - tv_hard.mean()),
        "temperature": T,
        "n_folds": n_folds,
        "n_bags": int(n_bags),
        "method": "no instance labels needed: bags held out in folds, their rows predicted by the classifier "
                  "refined on the other bags; value = mean confidence after a temperature fitted so the held-out "
                  "rows' mean posteriors match their bags' given shares; share_error = mean total-variation "
                  "distance between predicted and given shares; upper_bound = 1 - that distance for hard "
                  "labels. The labels written also use each bag's shares, so they are usually more accurate "
                  "than this held-out classifier",
    }


def label_proportions(X, y, classes: Sequence[str], bags, proportions, *, n_folds: int = 5,
                      random_state: int | None = 0, fit_end_model: bool = True, **params):
    """Label every row from its bag's class shares (and any given labels).

    Parameters
    ----------
    X : (n, d) embeddings
    y : (n,) given class codes, -1 for none (none at all is fine)
    classes : k class names
    bags : (n,) bag codes 0..B-1
    proportions : (B, k) class shares of each bag
    n_folds : folds of bags for the accuracy estimate (0: no estimate)
    params : passed to :class:`~fewlabels.labelers.proportions.ProportionLabeler`

    Cost: (1 + n_folds) fits of ProportionLabeler (see its module).
    """
    X = check_X(X)
    k = len(classes)
    y = check_y(y, X.shape[0], k)
    bags = check_bags(bags, X.shape[0])
    props = check_proportions(proportions, int(bags.max()) + 1, k)
    model = ProportionLabeler(bags=bags, proportions=props, n_classes=k, random_state=random_state,
                              **params).fit(X, y)
    report: dict = {"bags": {"kind": "proportions", "n_bags": int(props.shape[0]),
                             "mean_size": float(len(bags) / props.shape[0])}}
    warn = []
    if n_folds and props.shape[0] >= 2:
        report["estimated_accuracy"] = held_out_bags(X, y, bags, props, n_folds=min(n_folds, props.shape[0]),
                                                     random_state=random_state, **params)
    else:
        report["estimated_accuracy"] = None
        warn.append("fewer than two bags: no held-out bags, so no accuracy estimate")
    report["warnings"] = warn
    report["calibration"] = {"note": "labels use the bag shares; confidences are the EM posteriors"}
    return _result(model.transduction_, y, list(classes), "proportions", report, X, fit_end_model, random_state)


def label_bags(X, y, classes: Sequence[str], bags, bag_sets, *, negative: int | None = None,
               random_state: int | None = 0, fit_end_model: bool = True, **params):
    """Label every row from its bag's label set (multiple-instance learning).

    Parameters
    ----------
    bags : (n,) bag codes 0..B-1
    bag_sets : (B, k) bool, the classes each bag's label names
    negative : code of the background class any bag may hold, or None
    params : passed to :class:`~fewlabels.labelers.mil.BagLabeler`

    The report holds each bag's predicted label set (``bag_predictions``) and how many
    bag labels the instance labels reproduce. Cost: one BagLabeler fit.
    """
    X = check_X(X)
    k = len(classes)
    y = check_y(y, X.shape[0], k)
    bags = check_bags(bags, X.shape[0])
    sets = check_bag_sets(bag_sets, int(bags.max()) + 1, k)
    model = BagLabeler(bags=bags, bag_sets=sets, negative=negative, n_classes=k, random_state=random_state,
                       **params).fit(X, y)
    P = model.transduction_
    # bag labels re-derived from the free classifier (no bag constraint): how far it agrees
    free = model.predict_classifier(X)
    pred = bag_predictions(free, bags, sets.shape[0], negative) > 0.5
    agree = float((pred == sets).all(axis=1).mean())
    report = {"bags": {"kind": "multiple-instance", "n_bags": int(sets.shape[0]),
                       "negative_class": None if negative is None else classes[negative],
                       "bag_agreement": agree},
              "estimated_accuracy": None,
              "calibration": {"note": "confidences are the teacher's posteriors restricted to the bag's classes"},
              "warnings": []}
    result = _result(P, y, list(classes), "bags", report, X, fit_end_model, random_state)
    result.report["bags"]["note"] = ("bag_agreement: share of bags whose label the instance classifier, run "
                                     "without the bag constraint, reproduces (a bag holds a class if one row "
                                     "has it with probability > 0.5); it checks, it does not estimate accuracy")
    return result


def mark_unknown(result, X, y, *, unknown=None, oof_proba=None, **params):
    """Mark rows of no named class in ``result`` (from label_arrays): their label code becomes
    ``k`` (the name ``unknown``), their confidence their unknown score's rank.

    ``oof_proba``: calibrated out-of-fold probabilities of the given labels; by default
    taken from ``result.selection`` (cross-validation must have run). Adds
    ``report["unknown"]``; the end model is refitted on the known rows. Returns the
    fitted :class:`~fewlabels.labelers.openset.OpenSetDetector`.

    ``params`` go to the detector; the operating point is one of ``false_reject`` (share of
    the given labels rejected, default 0.02), ``rate`` (share of the unlabeled rows flagged),
    ``precision`` or ``recall`` (estimated, of the flags); ``report["unknown"]["curve"]``
    lists the other points.
    """
    y = np.asarray(y)
    if (y >= 0).sum() < 2:
        raise InputError(f"--unknown needs given labels of the known classes to set its threshold; got "
                         f"{int((y >= 0).sum())}. Label a few rows of each class")
    if oof_proba is None:
        sel = getattr(result, "selection", None)
        if sel is None:
            raise InputError("--unknown needs cross-validated given labels (at least two labeled rows in two "
                             "classes) to set its threshold; label more rows")
        T = result.report["calibration"]["temperature"]
        oof_proba = apply_temperature(sel.scores[result.method].oof_proba, T)
    det = OpenSetDetector(**params).fit(X, y, result.proba, oof_proba, unknown=unknown)
    k = result.proba.shape[1]
    mask = det.unknown_
    result.labels[mask] = k
    result.confidence[mask] = det.scores_[mask]
    result.source[mask] = "unknown"
    counts = result.report["class_counts"]["labeled"]
    for c, name in enumerate(list(counts)):
        counts[name] = int((result.labels == c).sum())
    counts[UNKNOWN] = int(mask.sum())
    result.report["unknown"] = det.report()
    if not det.target_met_:
        result.warnings.append(f"unknown: {det.rule_}; the estimated share of unknown rows is "
                               f"{det.estimated_share_:.1%}; see the report's unknown.curve for reachable points")
    if result.end_model is not None and (~mask).any():
        keep = ~mask
        names = list(counts)[:-1]
        result.end_model = EndModel(random_state=result.report.get("random_state")).fit(
            X[keep], result.labels[keep], sample_weight=result.confidence[keep], classes=names)
    return det


# ---------------------------------------------------------------------------------------
# from tables (called by pipeline.label_table)
# ---------------------------------------------------------------------------------------

def strip_unknown_labels(table, label_column: str | None, path, classes):
    """(table whose label column has ``unknown`` blanked, (n,) bool rows labeled ``unknown``).

    The returned table is only read for labels; the written output keeps the input column."""
    import pyarrow as pa

    if classes is not None and UNKNOWN in classes.names:
        raise InputError(f"--unknown: a class is named {UNKNOWN!r}; rename that class, since --unknown writes "
                         f"{UNKNOWN!r} for rows of no named class")
    col = label_column or ("label" if "label" in table.column_names else None)
    raw = table.column(col).to_pylist() if col is not None and col in table.column_names else []
    mask = np.array([v is not None and str(v).strip() == UNKNOWN for v in raw], dtype=bool)
    n_known = sum(v is not None and str(v).strip() not in ("", UNKNOWN) for v in raw)
    if n_known < 2:
        raise InputError(f"{where(path, col)}--unknown needs given labels of the known classes to set its "
                         f"threshold; found {n_known}. Label a few rows of each class")
    cleaned = pa.array([None if m else v for v, m in zip(raw, mask)], table.schema.field(col).type)
    return table.set_column(table.column_names.index(col), col, cleaned), mask


def label_groups_table(table, path, X, y, classes: Sequence[str], *, bag_column: str, proportions=None,
                       bag_label_column: str | None = None, negative_class: str | None = None,
                       random_state: int | None = 0):
    """Read the bag inputs named by the CLI options and run :func:`label_proportions` or
    :func:`label_bags`."""
    from .bags import read_bag_column, read_bag_labels, read_proportions
    from .errors import ConfigError

    if (proportions is None) == (bag_label_column is None):
        raise ConfigError("--bag-column goes with either --proportions FILE (class shares per bag) or "
                          "--bag-label-column NAME (a label per bag)" + (", not both" if proportions else ""))
    if negative_class is not None and bag_label_column is None:
        raise ConfigError("--negative-class goes with --bag-label-column")
    bag_names, bags = read_bag_column(table, bag_column, path)
    if proportions is not None:
        props = read_proportions(proportions, bag_names, classes)
        result = label_proportions(X, y, classes, bags, props, random_state=random_state)
        result.report["bags"]["proportions_file"] = str(proportions)
    else:
        neg = None
        if negative_class is not None:
            if negative_class not in classes:
                raise ConfigError(f"--negative-class {negative_class!r} is not one of the classes "
                                  f"({', '.join(list(classes)[:20])})")
            neg = list(classes).index(negative_class)
        sets = read_bag_labels(table, bag_column, bag_label_column, path, bags, len(bag_names), classes)
        result = label_bags(X, y, classes, bags, sets, negative=neg, random_state=random_state)
    result.report["bags"]["column"] = bag_column
    return result
