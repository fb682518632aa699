"""The single methods by name: the ones not made of other methods.

The mean and stacked ensembles and the fusion of rules with embeddings build their members
from here, by name; :mod:`.registry` adds those combined methods on top. Keeping the single
methods apart is what lets a combined method name its members without importing the
registry that lists it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError
from .base import BaseLabeler
from .cache_model import CacheModelLabeler
from .clustering import LaplacianClusteringLabeler
from .label_models import LABEL_MODELS
from .logistic import LogisticLabeler
from .prototype import PrototypeLabeler
from .self_training import SelfTrainingLabeler
from .spreading import LabelSpreadingLabeler
from .zeroshot import ZeroShotLabeler

#: the single methods on embeddings, in the registry's order
EMBEDDING_METHODS: dict[str, type[BaseLabeler]] = {
    cls.name: cls
    for cls in (
        LogisticLabeler,
        ZeroShotLabeler,
        PrototypeLabeler,
        LabelSpreadingLabeler,
        LaplacianClusteringLabeler,
        SelfTrainingLabeler,
        CacheModelLabeler,
    )
}

__all__ = ["EMBEDDING_METHODS", "LABEL_MODELS", "method_class"]


def method_class(name: str, methods: Mapping[str, type[BaseLabeler]]) -> type[BaseLabeler]:
    """The class of method ``name`` among ``methods``; an unknown name raises ConfigError
    listing the ones there are."""
    try:
        return methods[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; choose one of: {', '.join(methods)}") from None
