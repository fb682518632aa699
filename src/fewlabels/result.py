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
    labels : (n,) int codes into ``classes`` (``label_names``: the names)
    confidence : (n,) calibrated probability of ``labels``
    source : (n,) str, "given" or the method's name
    method : chosen method
    report : JSON-ready dict
    end_model : EndModel or None
    warnings : list of str
    classes : the k class names, or None (then read from ``report``)
    label_names : (n,) object array, the class name of each row's label (a property)

    ``repr(result)`` and, in a notebook, ``result._repr_html_()`` show a summary: the method,
    the estimate with its interval, the labels per class and the first rows; never the arrays.
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
    #: the k class names ``labels`` are codes into (None: read from the report)
    classes: list | None = None

    @property
    def label_names(self) -> np.ndarray:
        """(n,) the class name of each row's label (``labels`` holds their int codes)."""
        from .result_view import label_names

        return label_names(self)

    def __repr__(self) -> str:  # a few lines, never the arrays (see fewlabels.result_view)
        from .result_view import text

        return text(self)

    def _repr_html_(self) -> str:
        from .result_view import to_html

        return to_html(self)


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
