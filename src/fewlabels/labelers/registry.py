"""Names of the labeling methods, read by the CLI, the selection step, the benchmark and
the contract tests. Adding a method = one file in this folder + one line here."""

from __future__ import annotations

import inspect

from ..errors import ConfigError
from .base import BaseLabeler
from .cache_model import CacheModelLabeler
from .clustering import LaplacianClusteringLabeler
from .ensemble import MeanEnsembleLabeler
from .fused import FusedLabeler
from .label_models import LABEL_MODELS
from .logistic import LogisticLabeler
from .mil import BagLabeler
from .proportions import ProportionLabeler
from .prototype import PrototypeLabeler
from .self_training import SelfTrainingLabeler
from .stacking import StackedEnsembleLabeler
from .spreading import LabelSpreadingLabeler
from .zeroshot import ZeroShotLabeler

REGISTRY: dict[str, type[BaseLabeler]] = {
    cls.name: cls
    for cls in (
        LogisticLabeler,
        ZeroShotLabeler,
        PrototypeLabeler,
        LabelSpreadingLabeler,
        LaplacianClusteringLabeler,
        SelfTrainingLabeler,
        CacheModelLabeler,
        MeanEnsembleLabeler,
        StackedEnsembleLabeler,
    )
}

#: methods that use the rules' label matrix L (``votes``): label models, whose X is L, and
#: the fusion of rules with embeddings
VOTE_REGISTRY: dict[str, type[BaseLabeler]] = {**LABEL_MODELS, FusedLabeler.name: FusedLabeler}

#: methods that learn from supervision on bags of rows instead of row labels: the bags' class
#: shares (label proportions) or their label sets (multiple-instance); run by :mod:`fewlabels.groups`
GROUP_REGISTRY: dict[str, type[BaseLabeler]] = {ProportionLabeler.name: ProportionLabeler, BagLabeler.name: BagLabeler}

#: context keys the pipeline may hand to a method's constructor
CONTEXT_KEYS = ("class_embeddings", "graph", "n_classes", "random_state", "weights", "votes")


def get_labeler_class(name: str) -> type[BaseLabeler]:
    try:
        return REGISTRY[name] if name in REGISTRY else VOTE_REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; choose one of: {', '.join([*REGISTRY, *VOTE_REGISTRY])}"
                          ) from None


def accepts(name: str, key: str) -> bool:
    """Whether method ``name``'s constructor takes parameter ``key`` (e.g. "graph")."""
    return key in inspect.signature(get_labeler_class(name).__init__).parameters


def make_labeler(name: str, **context) -> BaseLabeler:
    """Build labeler ``name``, passing it the context keys its constructor accepts."""
    cls = get_labeler_class(name)
    return cls(**{k: v for k, v in context.items() if k in CONTEXT_KEYS and accepts(name, k)})


def available(name: str, context: dict) -> bool:
    """Whether the pipeline context holds what method ``name`` needs."""
    return all(context.get(key) is not None for key in get_labeler_class(name).needs)


def labeler_input(name: str, X, context: dict):
    """What method ``name`` is fitted on: the label matrix for label models, else X."""
    return context["votes"] if get_labeler_class(name).input_kind == "votes" else X
