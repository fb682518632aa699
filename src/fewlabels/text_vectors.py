"""Vectors of groups of texts: the mean embedding of a class's prompts (:func:`embed_classes`),
or of any groups of texts (:func:`mean_text_vectors`), in one encoder call.

Cost: the encoder's cost for all the texts, plus O(t · d) for t texts.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .ann import normalize_rows
from .embed import embed_texts
from .labelers.zeroshot import class_prompts


def embed_classes(names: Sequence[str], descriptions: dict | None, encoder, cache=None) -> np.ndarray:
    """One unit vector per class: the mean embedding of its prompts (see ``class_prompts``)."""
    from .labelers.zeroshot import class_prompts

    descriptions = descriptions or {}
    return mean_text_vectors([class_prompts(n, descriptions.get(n)) for n in names], encoder, cache)


def mean_text_vectors(groups: Sequence[Sequence[str]], encoder, cache=None) -> np.ndarray:
    """(len(groups), d): the unit-normalised mean embedding of each group of texts, one
    encoder call for all of them."""
    from .embed import embed_texts
    from .graph import normalize_rows

    V = embed_texts([t for texts in groups for t in texts], encoder, cache)
    out, start = [], 0
    for texts in groups:
        out.append(V[start:start + len(texts)].mean(axis=0))
        start += len(texts)
    return normalize_rows(np.stack(out))
