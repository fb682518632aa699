"""What the encoder is fine-tuned on (:class:`TrainingSet`): the given labels, class-balanced
pseudo-labels of a teacher weighted by its confidence, and the class anchors; built by
:func:`build_training_set` (see :mod:`fewlabels.embed.finetune` for why each part is there).

Cost: O(n · k) to pick the pseudo-labels, O(t) for t training items.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .finetune_params import FineTuneParams


@dataclass
class TrainingSet:
    """The items one encoder is trained on.

    texts : (m,) training texts
    labels : (m,) int class codes
    weights : (m,) float, 1 for given labels, the calibrated confidence for pseudo-labels
    kind : (m,) "given", "pseudo" or "anchor"
    rows : (m,) pool row of each item (-1 for anchors)
    """

    texts: list[str]
    labels: np.ndarray
    weights: np.ndarray
    kind: np.ndarray
    rows: np.ndarray

    @property
    def given_rows(self) -> np.ndarray:
        """Pool rows whose *given* label this set trains on."""
        return self.rows[self.kind == "given"]

    def digest(self) -> str:
        h = hashlib.sha256()
        for t, c, w, k in zip(self.texts, self.labels.tolist(), np.round(self.weights, 4).tolist(), self.kind):
            h.update(f"{k}\t{c}\t{w}\t".encode())
            h.update(t.encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()[:20]


def pseudo_labels(proba: np.ndarray, candidates: np.ndarray, per_class: int, min_confidence: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class-balanced confident pseudo-labels: (rows, classes, confidences).

    ``proba`` (n, k) are calibrated probabilities of the teacher; ``candidates`` the rows
    that may be pseudo-labeled. For each class, the ``per_class`` rows whose predicted class
    it is, with the highest confidence at or above ``min_confidence``. Cost: O(n·k + n log n).
    """
    if per_class <= 0 or len(candidates) == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0)
    P = proba[candidates]
    pred = P.argmax(axis=1)
    conf = P[np.arange(len(candidates)), pred]
    order = np.lexsort((-conf, pred))  # by class, most confident first
    pred_s, conf_s, rows_s = pred[order], conf[order], candidates[order]
    starts = np.searchsorted(pred_s, pred_s, side="left")
    rank = np.arange(len(pred_s)) - starts
    keep = (rank < per_class) & (conf_s >= min_confidence)
    return rows_s[keep], pred_s[keep], conf_s[keep]


def build_training_set(texts: Sequence[str], y: np.ndarray, anchors: Sequence[Sequence[str]],
                       params: FineTuneParams, teacher_proba: np.ndarray | None = None,
                       exclude: np.ndarray | None = None) -> TrainingSet:
    """Given labels of ``y`` (-1 = none), pseudo-labels from ``teacher_proba`` on unlabeled rows
    not in ``exclude``, and the class ``anchors`` (texts per class).

    ``exclude``: pool rows that must not enter the set in any form (a fold's held-out rows).
    """
    y = np.asarray(y)
    excluded = np.zeros(len(y), dtype=bool)
    if exclude is not None:
        excluded[np.asarray(exclude, dtype=np.int64)] = True
    given = np.flatnonzero((y >= 0) & ~excluded)
    rows = [given]
    labels = [y[given]]
    weights = [np.ones(len(given))]
    kind = [np.full(len(given), "given", dtype=object)]
    if teacher_proba is not None and params.pseudo_per_class > 0:
        cand = np.flatnonzero((y < 0) & ~excluded)
        pr, pc, pw = pseudo_labels(teacher_proba, cand, params.pseudo_per_class, params.pseudo_min_confidence)
        rows.append(pr)
        labels.append(pc)
        weights.append(pw)
        kind.append(np.full(len(pr), "pseudo", dtype=object))
    out_texts = [texts[i] for i in np.concatenate(rows)]
    if params.anchor_weight > 0:
        for c, ts in enumerate(anchors):
            out_texts.extend(ts)
            rows.append(np.full(len(ts), -1))
            labels.append(np.full(len(ts), c))
            weights.append(np.full(len(ts), params.anchor_weight))
            kind.append(np.full(len(ts), "anchor", dtype=object))
    return TrainingSet(out_texts, np.concatenate(labels).astype(np.int64), np.concatenate(weights).astype(float),
                       np.concatenate(kind), np.concatenate(rows).astype(np.int64))
