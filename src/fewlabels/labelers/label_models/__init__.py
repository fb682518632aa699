"""Label models: labelers whose input is the rules' votes.

Notation: n rows, m rules, k classes. ``X`` is the label matrix L of shape (n, m) with
class codes 0..k-1 and -1 where a rule abstains; ``y`` of shape (n,) holds given labels
(-1 = unlabeled) and ``P`` of shape (n, k) the result. The models see only L and y, never
texts or embeddings (Snorkel's layering), and need ``n_classes`` because the rules may
not vote for every class.

=====================  ===========================================================  ==================
name                   model                                                        fit cost
=====================  ===========================================================  ==================
``majority``           share of the votes per class                                 O(n·m·k)
``weighted_majority``  votes weighted by each rule's log-odds of being right        O(iters·n·m·k)
``dawid_skene``        Dawid & Skene (1979) EM, a confusion matrix per rule         O(iters·n·m·k²)
``metal``              Snorkel MeTaL (Ratner et al. 2019): moments of L              O(n·m²·k²) once (*)
=====================  ===========================================================  ==================

Without labels, EM and the moment fit over many sparse one-class rules have degenerate
optima (a class absorbs others). ``dawid_skene`` and ``metal`` therefore fit from more than
one start and keep the best fit that empties no class the rules vote for
(:func:`emptied_classes`), or fall back to majority vote (``fallback_``, ``attempts_``).
Majority-vote ties are broken at random, seeded (:func:`break_ties`), never toward class 0.

(*) on at most ``moment_sample`` rows (250 000 by default), plus a Dawid-Skene fit on a
sample for the class balance.

The two generative models share one parameterisation, the class prior π (k,) and, for
each rule j, ``cond_[j, c, l] = P(rule j's outcome is l | true class c)`` over the k
classes plus abstain (l = k). Rows are predicted from the votes cast only, as Snorkel
does: ``log P(c | row) = log π_c + Σ_{j votes} log cond_[j, c, L_j] + const``, so a row
where every rule abstains gets the prior π. Every model gives such rows its ``prior_``.

Vectorisation: the votes of a block of rows become a one-hot matrix of shape
(b, m·k), abstain = all zeros, so a posterior is one matrix product with an (m·k, k)
table of log-probabilities and EM's sufficient statistics are one product with the
posteriors; there is no Python loop over rows. Rows with identical votes (and given
label) are merged first when that shrinks the work, which is common for real rules
(most rows get zero to three votes). Memory: O(n·k + m·k²) beyond L and one block of
the one-hot matrix (≤ 32 MB), O(m²·k²) for ``metal``'s moment matrix.

Files: one per model (``majority``, ``weighted_majority``, ``dawid_skene``, ``metal``), and
what they share: :mod:`.base` (fit/predict over L, validation, the label prior),
:mod:`.generative` (the π / ``cond_`` parameterisation of the two generative models and
their guard against degenerate optima) and :mod:`.matrix` (checking L, one-hot blocks,
merging identical rows, vote counts, tie-breaking, the emptied-class check).
"""

from __future__ import annotations

from ...errors import ConfigError
from ..base import BaseLabeler
from .base import _VoteModel
from .dawid_skene import DawidSkeneLabeler
from .generative import _GenerativeLabeler
from .majority import MajorityVoteLabeler
from .matrix import (MIN_LABELED_VOTES_TO_START, MIN_LABELS_TO_START, MIN_UNANIMOUS_KEPT, MIN_UNANIMOUS_ROWS,
                     _Rows, break_ties, check_votes, distinct_rows, emptied_classes, unanimous_rows, vote_counts)
from .metal import MetalLabeler
from .weighted_majority import WeightedMajorityLabeler

#: label models by name (X is L, not embeddings)
LABEL_MODELS: dict[str, type[BaseLabeler]] = {
    cls.name: cls for cls in (MajorityVoteLabeler, WeightedMajorityLabeler, DawidSkeneLabeler, MetalLabeler)
}


def make_label_model(name: str, **params) -> BaseLabeler:
    """Label model ``name`` with ``params``; an unknown name raises ConfigError listing the names."""
    try:
        cls = LABEL_MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown label model {name!r}; choose one of: {', '.join(LABEL_MODELS)}") from None
    return cls(**params)
