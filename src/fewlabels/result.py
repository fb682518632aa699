"""What a labeling run returns (:class:`LabelResult`), and the rule every method's result
goes through: a given label wins over what a method says (:func:`given_labels_win`).

Cost: :func:`given_labels_win` is O(n · k).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .endmodel import EndModel


@dataclass
class LabelResult:
    """What :func:`label_arrays` returns.

    Attributes
    ----------
    proba : (n, k) calibrated probabilities of the chosen method (given rows: one-hot)
    labels : (n,) int codes
    confidence : (n,) calibrated probability of ``labels``
    source : (n,) str, "given" or the method's name
    method : chosen method
    report : JSON-ready dict
    end_model : EndModel or None
    """

    proba: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray
    source: np.ndarray
    method: str
    report: dict
    end_model: EndModel | None = None
    warnings: list[str] = field(default_factory=list)
    #: the cross-validated selection (out-of-fold probabilities per candidate), None without it
    selection: object = None


def given_labels_win(P: np.ndarray, y: np.ndarray, method: str):
    """(P, labels, confidence, source) of a method's (n, k) probabilities, with every given
    label (y >= 0) kept as it is: its row of P one-hot, its source "given". P is copied."""
    lab = np.flatnonzero(y >= 0)
    P = np.array(P, dtype=np.float64)
    labels = P.argmax(axis=1)
    labels[lab] = y[lab]
    P[lab] = np.eye(P.shape[1])[y[lab]]
    confidence = P[np.arange(len(labels)), labels]
    source = np.full(len(labels), method, dtype=object)
    source[lab] = "given"
    return P, labels, confidence, source
