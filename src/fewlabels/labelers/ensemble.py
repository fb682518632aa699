"""Mean ensemble of other labelers.

Averaging the probabilities of methods that err differently (a supervised classifier, a
prototype rule, graph diffusion, transductive clustering, self-training) is rarely much worse than the
best member and often better; the selection step compares it with the single methods on
the same folds. Members are fixed in advance (not chosen on the folds), so its
out-of-fold score stays an honest estimate.

Cost: the sum of the members' costs.
"""

from __future__ import annotations

import numpy as np

from ..pool import Pool
from .base import BaseLabeler
from .catalog import EMBEDDING_METHODS, method_class

DEFAULT_MEMBERS = ("logistic", "prototype", "spreading", "clustering", "selftraining")


class MeanEnsembleLabeler(BaseLabeler):
    """Average of the members' ``predict_proba``.

    Parameters
    ----------
    members : tuple of names of single methods on embeddings (:mod:`.catalog`)
    class_embeddings, graph : passed on to the members that take them
    """

    name = "ensemble"
    reads = ("class_embeddings", "graph", "n_classes", "random_state")
    min_labels = 1
    #: the selection step averages these members' out-of-fold outputs instead of refitting
    default_members = DEFAULT_MEMBERS

    def __init__(self, members: tuple[str, ...] = DEFAULT_MEMBERS, class_embeddings=None, graph=None,
                 n_classes: int | None = None, random_state: int | None = 0):
        self.members = members
        self.class_embeddings = class_embeddings
        self.graph = graph
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        pool = Pool(class_embeddings=self.class_embeddings, graph=self.graph, n_classes=self.n_classes_,
                    random_state=self.random_state)
        self.estimators_ = [method_class(name, EMBEDDING_METHODS).from_pool(pool).fit(X, y) for name in self.members]

    def _predict_proba(self, X):
        return np.mean([est.predict_proba(X) for est in self.estimators_], axis=0)
