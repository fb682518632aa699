"""Names of the labeling methods, read by the CLI, the selection step, the benchmark and
the contract tests. Adding a method = one file in this folder + one line here (or in
:mod:`.catalog`, for a single method on embeddings).

A method is built from a :class:`~fewlabels.pool.Pool` with what its class says it reads
(``reads``): :func:`build_labeler`. :func:`make_labeler` takes the same fields as keywords.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..pool import Pool
from .base import BaseLabeler
from .catalog import EMBEDDING_METHODS, LABEL_MODELS
from .ensemble import MeanEnsembleLabeler
from .fused import FusedLabeler
from .mil import BagLabeler
from .proportions import ProportionLabeler
from .stacking import StackedEnsembleLabeler

#: methods on embeddings: the single ones, then the ensembles of them
REGISTRY: dict[str, type[BaseLabeler]] = {
    **EMBEDDING_METHODS,
    MeanEnsembleLabeler.name: MeanEnsembleLabeler,
    StackedEnsembleLabeler.name: StackedEnsembleLabeler,
}

#: methods that use the rules' label matrix L (``votes``): label models, whose X is L, and
#: the fusion of rules with embeddings
VOTE_REGISTRY: dict[str, type[BaseLabeler]] = {**LABEL_MODELS, FusedLabeler.name: FusedLabeler}

#: methods that learn from supervision on bags of rows instead of row labels: the bags' class
#: shares (label proportions) or their label sets (multiple-instance); run by :mod:`fewlabels.groups`
GROUP_REGISTRY: dict[str, type[BaseLabeler]] = {ProportionLabeler.name: ProportionLabeler, BagLabeler.name: BagLabeler}

def get_labeler_class(name: str) -> type[BaseLabeler]:
    try:
        return REGISTRY[name] if name in REGISTRY else VOTE_REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; choose one of: {', '.join([*REGISTRY, *VOTE_REGISTRY])}"
                          ) from None


def build_labeler(name: str, pool: Pool, **params) -> BaseLabeler:
    """Method ``name`` built with the pool fields its class reads, and ``params``."""
    return get_labeler_class(name).from_pool(pool, **params)


def as_pool(context: Pool | dict) -> Pool:
    """``context`` as a :class:`Pool` (a dict of pool fields becomes one)."""
    return context if isinstance(context, Pool) else Pool.from_context(context)


def make_labeler(name: str, **context) -> BaseLabeler:
    """Method ``name`` built from pool fields given as keywords (see :func:`build_labeler`);
    keywords that are no pool field are left out."""
    return build_labeler(name, Pool.from_context(context))


def accepts(name: str, key: str) -> bool:
    """Whether method ``name`` reads pool field ``key`` (e.g. "graph")."""
    return key in get_labeler_class(name).reads


def available(name: str, context: Pool | dict) -> bool:
    """Whether the pool (or a dict of its fields) holds what method ``name`` needs."""
    pool = as_pool(context)
    return all(pool.has(key) for key in get_labeler_class(name).needs)


def labeler_input(name: str, X, context: Pool | dict):
    """What method ``name`` is fitted on: the label matrix for label models, else X."""
    return as_pool(context).votes if get_labeler_class(name).input_kind == "votes" else X
