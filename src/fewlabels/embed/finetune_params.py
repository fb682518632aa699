"""The settings of a fine-tuning run (:class:`FineTuneParams`): steps, batch shape, learning
rate, pseudo-labels and anchors; checked when made. See :mod:`fewlabels.embed.finetune`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


#: "auto" fine-tunes only with at least this many given labels (fewer leave too little to
#: train on and score) ...
MIN_AUTO_LABELS = 20
#: ... and only when the frozen estimate is at most this (else there is no room to gain)
ROOM = 0.97


@dataclass(frozen=True)
class FineTuneParams:
    """Settings of one fine-tuning run (all part of the cache key).

    steps : optimizer steps of the final encoder (trained on every given label)
    fold_steps : optimizer steps of each fold's encoder (the honest estimate; fewer is fine)
    batch_classes, per_class : a batch holds up to ``batch_classes`` classes × ``per_class`` items
    lr : AdamW learning rate of the encoder (linear warm-up over 10% of steps, then linear decay)
    max_seq_length : tokens kept per text while training and embedding
    pseudo_per_class : most confident pseudo-labeled rows kept per class (0 = no pseudo-labels)
    pseudo_min_confidence : a pseudo-label needs at least this calibrated confidence
    anchor_weight : weight of the class-name / description texts (0 = no anchors)
    max_pairs : cap on the pairs the loss sees in total (steps are cut to fit it)
    sub_pool : unlabeled rows re-embedded per fold for the methods' transduction
    n_splits : folds of the given labels for the fine-tuned candidates (one encoder each);
        fewer than the frozen selection's 5, as each fold costs an encoder

    Defaults: 3 folds and 2,000 sub-pool rows, as measured in BENCHMARKS.md section 8. Two
    folds and 1,000 rows (tried on 2026-12-04, section 14) saved about 20-40 s of a 2,000-row
    run, but each fold encoder then sees half the labels, and the estimate built on them was
    5.6 (trec) and 14 (emotion) points pessimistic on seed 1: the learning curve's label gain
    does not make up for an encoder trained on half the labels.
    """

    steps: int = 120
    fold_steps: int = 40
    batch_classes: int = 8
    per_class: int = 4
    lr: float = 3e-5
    max_seq_length: int = 128
    pseudo_per_class: int = 16
    pseudo_min_confidence: float = 0.5
    anchor_weight: float = 1.0
    max_pairs: int = 200_000
    sub_pool: int = 2000
    n_splits: int = 3

    def __post_init__(self):
        for name in ("steps", "fold_steps", "batch_classes", "per_class", "max_seq_length", "max_pairs", "sub_pool",
                     "n_splits"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < (0 if name in ("steps", "fold_steps") else 1):
                raise ConfigError(f"fine-tuning parameter {name} must be a positive integer; got {v!r}")
        if self.n_splits < 2:
            raise ConfigError(f"fine-tuning parameter n_splits must be at least 2; got {self.n_splits}")
        if self.per_class < 2:
            raise ConfigError(f"fine-tuning parameter per_class must be at least 2 (a batch needs same-class "
                              f"pairs); got {self.per_class}")
        if not self.lr > 0:
            raise ConfigError(f"fine-tuning parameter lr must be > 0; got {self.lr!r}")
        if self.pseudo_per_class < 0 or self.anchor_weight < 0:
            raise ConfigError("fine-tuning parameters pseudo_per_class and anchor_weight must be >= 0")

    def batch_size(self) -> int:
        return self.batch_classes * self.per_class

    def capped_steps(self, steps: int) -> int:
        """``steps`` cut so that steps × pairs per batch stays within ``max_pairs``."""
        b = self.batch_size()
        return int(min(steps, max(1, self.max_pairs // max(1, b * (b - 1) // 2))))
