"""How many tokens the encoder sees per text: what a forward pass over it costs.

A transformer's time per text grows with its tokens, not its characters: an SMS of 80
characters full of digits and abbreviations is 26 word pieces on average, a TREC question of
50 characters 13. Training pads each batch to its longest text, so a step costs the batch's
*maximum* length; embedding sorts texts by length before batching, so it costs about the mean.
:mod:`fewlabels.plan` prices both from the counts here.

Cost: tokenizing a sample of at most ``sample`` texts with the encoder's fast tokenizer
(about 0.1 s for 2,000 short texts); O(sample · length).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

#: texts tokenized to describe a table (evenly spaced); the counts' distribution is what matters
SAMPLE = 2000
_WORDS = re.compile(r"\w+|[^\w\s]")


@lru_cache(maxsize=4)
def _tokenizer(folder: str | None):
    """The fast tokenizer of an encoder folder (the packaged one by default), or None."""
    try:
        from tokenizers import Tokenizer

        if folder is None:
            from . import default_model_path

            folder = str(default_model_path())
        path = Path(folder) / "tokenizer.json"
        if not path.is_file():
            return None
        tok = Tokenizer.from_file(str(path))
        tok.no_padding()
        tok.no_truncation()
        return tok
    except Exception:  # noqa: BLE001 - no tokenizer: the word count below stands in
        return None


def token_counts(texts: Sequence[str], *, sample: int = SAMPLE, encoder_path=None) -> np.ndarray:
    """Tokens per text (special tokens included) of an evenly spaced sample of ``texts``.

    Uses the encoder's own tokenizer (``tokenizer.json`` in its folder; the packaged
    all-MiniLM-L6-v2 by default). Without one, words and punctuation marks times 1.3 stand
    in (word pieces split rare words), plus the two special tokens.
    """
    if not len(texts):
        return np.zeros(0)
    step = max(1, len(texts) // sample)
    picked = [str(t) for t in list(texts)[::step]]
    tok = _tokenizer(None if encoder_path is None else str(encoder_path))
    if tok is not None:
        return np.array([len(e.ids) for e in tok.encode_batch(picked)], dtype=float)
    return np.array([1.3 * len(_WORDS.findall(t)) + 2 for t in picked], dtype=float)


def expected_batch_max(counts: np.ndarray, batch: int, cap: float) -> float:
    """Expected longest text (tokens, cut at ``cap``) of a batch of ``batch`` texts drawn at random.

    With the counts sorted, l_(1) <= ... <= l_(n), the largest of ``batch`` draws is l_(i)
    with probability (i/n)^batch - ((i-1)/n)^batch. Cost: O(n log n).
    """
    counts = np.sort(np.minimum(np.asarray(counts, dtype=float), cap))
    n = len(counts)
    if n == 0:
        return 0.0
    F = np.arange(1, n + 1) / n
    return float(np.sum(counts * (F ** batch - (F - 1 / n) ** batch)))


def mean_tokens(counts: np.ndarray, cap: float) -> float:
    """Mean tokens per text, each cut at ``cap`` (what embedding in sorted batches costs)."""
    counts = np.asarray(counts, dtype=float)
    return float(np.minimum(counts, cap).mean()) if len(counts) else 0.0
