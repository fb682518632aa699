"""The pool: what the rows are, in one typed object.

A labeling method is fitted on ``(X, y)`` (or ``(L, y)`` for a label model) and may read more
about the same rows: the class names' embeddings, the rules' votes, the k-NN graph, the bags.
All of that travels in one frozen :class:`Pool`. Each method says which fields it reads
(``reads`` on its class, :class:`fewlabels.labelers.base.BaseLabeler`) and which of them it
cannot run without (``needs``); :meth:`BaseLabeler.from_pool` builds it with exactly those.
A reader sees what a method may use from its class, without running anything.

Notation: n rows, d dimensions, k classes, m rules, b bags. Every field is optional (None):
a caller fills what it has, and a method that needs a missing field is not run.

Cost: building a pool copies nothing (fields hold references); O(1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Pool:
    """What the rows are, for the methods that label them.

    Attributes
    ----------
    X : (n, d) float embeddings, or None
    y : (n,) int class codes, -1 for unlabeled, or None
    classes : the k class names, or None
    n_classes : k; taken from ``classes`` when left out
    class_embeddings : (k, d) unit vectors of the class names (zero-shot, prototypes)
    votes : (n, m) the rules' label matrix L, class codes, -1 = abstain
    graph : (n, n) sparse k-NN similarity graph over X (graph methods share one)
    texts : n texts, or None
    bags : (n,) int bag of each row (supervision on groups of rows)
    proportions : (b, k) class shares of each bag
    bag_sets : (b, k) bool, the classes each bag holds
    random_state : seed of every random choice a method makes
    weights : mixing weights the selection step learned for a stacked ensemble
    """

    X: np.ndarray | None = None
    y: np.ndarray | None = None
    classes: Sequence[str] | None = None
    n_classes: int | None = None
    class_embeddings: np.ndarray | None = None
    votes: np.ndarray | None = None
    graph: Any = None
    texts: Sequence[str] | None = None
    bags: np.ndarray | None = None
    proportions: np.ndarray | None = None
    bag_sets: np.ndarray | None = None
    random_state: int | None = 0
    weights: np.ndarray | None = None

    def __post_init__(self):
        if self.n_classes is None and self.classes is not None:
            object.__setattr__(self, "n_classes", len(self.classes))

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Pool:
        """A pool from a mapping of field names (keys that are no field are left out)."""
        return cls(**{key: value for key, value in context.items() if key in POOL_FIELDS})

    def has(self, field: str) -> bool:
        """Whether ``field`` holds something (is not None)."""
        return getattr(self, field) is not None

    def replace(self, **changes) -> Pool:
        """A copy with ``changes``; the pool itself never changes."""
        return replace(self, **changes)


#: the names of the pool's fields, in order
POOL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Pool))
