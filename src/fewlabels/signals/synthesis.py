"""Propose keyword rules from a few labeled texts (Snuba / AutoWS-Bench-101 style).

From the labeled texts, every word and n-gram (scikit-learn ``CountVectorizer``) that
appears in at least ``min_support`` of them and mostly in one class becomes a candidate
rule "keyword → that class". Candidates are checked out of sample: in k-fold
cross-validation over the labeled texts, candidates mined on the training folds are
scored on the held-out fold, and a keyword is kept only if its held-out votes were
right often enough. The result is a ``rules.toml`` text with each keyword's numbers in a
comment, for the user to review and edit.

Precision of a keyword for its class c: among labeled texts containing it, the share of
class c, add-one smoothed ((right + 1) / (support + 2)). A class that most texts belong
to makes any word look precise for it, and among hundreds of words some are pure by
chance, so a keyword must also be significant: a binomial test against the class's
share among the labels, at a false discovery rate ``fdr`` over the words tried.

Cost: O(total characters of the labeled texts · max n-gram length) to count n-grams,
O(n_splits · labeled · vocabulary) to score, O(pool sample · characters) per kept keyword
to measure coverage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..select import make_folds
from .apply import apply_rules
from .rules import Rule


@dataclass
class SynthesisResult:
    """Proposed rules.

    Attributes
    ----------
    toml : str
        A rules file (load it with :func:`~fewlabels.signals.load_rules`); each keyword
        carries its numbers in a comment.
    rules : list of dict
        One per kept keyword: ``keyword``, ``class``, ``support`` and ``right`` (labeled
        texts containing it, and of its class), ``precision`` (smoothed), ``heldout_hits``
        and ``heldout_right`` (summed over the folds that selected it), ``coverage`` (share
        of the pool it fires on, from at most ``max_pool`` texts).
    cv : dict
        Out-of-sample quality of the mining step: ``precision`` and ``coverage`` on the
        held-out folds of the candidates mined on the training folds (before the held-out
        filter, so not inflated by it), ``n_labeled``, ``n_splits``.
    """

    toml: str
    rules: list[dict]
    cv: dict


def _class_counts(X, y: np.ndarray, k: int) -> np.ndarray:
    """(k, V) number of texts of each class containing each term; X binary (rows, V)."""
    return np.vstack([np.asarray(X[y == c].sum(axis=0)).ravel() for c in range(k)])


def _mine(counts: np.ndarray, base: np.ndarray, min_support: int, min_precision: float, fdr: float):
    """Candidate terms and their class: (term indices, classes, smoothed precision)."""
    from scipy.stats import binom

    support = counts.sum(axis=0)
    best = counts.argmax(axis=0)
    right = counts[best, np.arange(counts.shape[1])]
    precision = (right + 1) / (support + 2)
    tested = np.flatnonzero(support >= min_support)
    # chance that a word unrelated to the classes lands this often in class `best`: a word seen
    # in 8 texts, all "ham", proves little when 60 % of the texts are "ham"; among hundreds of
    # words tried, keep a false discovery rate of at most `fdr` (Benjamini-Hochberg)
    p_value = binom.sf(right[tested] - 1, support[tested], base[best[tested]])
    order = np.argsort(p_value, kind="stable")
    below = np.flatnonzero(p_value[order] <= fdr * np.arange(1, len(order) + 1) / max(len(order), 1))
    significant = np.zeros(counts.shape[1], bool)
    significant[tested[order[:below[-1] + 1]] if len(below) else []] = True
    idx = np.flatnonzero(significant & (precision >= min_precision))
    return idx, best[idx], precision[idx]


def _contains(words: list[str], part: list[str]) -> bool:
    """Whether ``part`` is a run of consecutive words of ``words``."""
    return any(words[i:i + len(part)] == part for i in range(len(words) - len(part) + 1))


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)


def synthesize_rules(texts: Sequence[str], y, classes: Sequence[str], *, ngram_range: tuple[int, int] = (1, 2),
                     min_support: int = 3, min_precision: float = 0.8, fdr: float = 0.2,
                     min_heldout_precision: float = 0.7, max_per_class: int = 15, n_splits: int = 5,
                     max_pool: int = 20_000, random_state: int | None = 0) -> SynthesisResult:
    """Keyword rules mined from the labeled texts, checked by cross-validation.

    Parameters
    ----------
    texts : sequence of str, length n (the whole pool; the unlabeled texts only serve to
        measure each keyword's coverage)
    y : array of shape (n,), int class codes, -1 = unlabeled
    classes : sequence of str, length k
    ngram_range : (min, max) words per keyword
    min_support : int, default=3
        Labeled texts a keyword must appear in (in the training folds, when scoring).
    min_precision : float, default=0.8
        Smoothed precision a keyword needs for its class.
    fdr : float, default=0.2
        False discovery rate allowed among the words kept (Benjamini-Hochberg on the
        binomial tail: how likely a word unrelated to the classes is this concentrated in
        its class, given the class's share among the labels).
    min_heldout_precision : float, default=0.7
        Share of right votes on the held-out folds a keyword needs to be kept (it must also
        have voted there at least once).
    max_per_class : int, default=15
    n_splits : int, default=5
    max_pool : int, default=20_000
        Texts of the pool (evenly spaced) on which coverage is measured.
    random_state : int, default=0
        Seeds the folds.

    Returns
    -------
    SynthesisResult

    Raises
    ------
    InputError
        ``texts`` and ``y`` differ in length, fewer than two classes are labeled, or no
        keyword passes the thresholds (the message names them).
    """
    from sklearn.feature_extraction.text import CountVectorizer

    y = np.asarray(y)
    k = len(classes)
    if y.shape != (len(texts),):
        raise InputError(f"y must have one code per text: shape ({len(texts)},); got {y.shape}")
    if len(y) and (y.min() < -1 or y.max() >= k):
        raise InputError(f"y holds codes outside -1..{k - 1} (-1 = unlabeled)")
    labeled = np.flatnonzero(y >= 0)
    yl = y[labeled]
    if len(np.unique(yl)) < 2:
        raise InputError(f"rule synthesis needs labeled texts of at least two classes; got {len(labeled)} labeled "
                         f"text(s) of {len(np.unique(yl))} class(es)")
    docs = ["" if texts[i] is None else texts[i] for i in labeled]
    vec = CountVectorizer(lowercase=True, binary=True, ngram_range=ngram_range, token_pattern=r"(?u)\b\w\w+\b",
                          min_df=min(min_support, len(docs)), dtype=np.int32)
    try:
        X = vec.fit_transform(docs).tocsr()
    except ValueError:  # no term reaches min_df
        raise InputError(f"no word appears in {min_support} labeled texts; label more texts or lower min_support") \
            from None
    vocab = vec.get_feature_names_out()
    base = np.bincount(yl, minlength=k) / len(yl)
    folds = make_folds(y, n_splits, random_state)
    hits, right = np.zeros(len(vocab)), np.zeros(len(vocab))
    cv_votes = cv_right = cv_covered = 0
    for f in np.unique(folds):
        train, test = folds != f, folds == f
        idx, cls, _ = _mine(_class_counts(X[train], yl[train], k), base, min_support, min_precision, fdr)
        Xt = X[test][:, idx]
        test_counts = _class_counts(Xt, yl[test], k)
        hits[idx] += test_counts.sum(axis=0)
        right[idx] += test_counts[cls, np.arange(len(idx))]
        cv_votes += int(test_counts.sum())
        cv_right += int(test_counts[cls, np.arange(len(idx))].sum())
        cv_covered += int((np.asarray(Xt.sum(axis=1)).ravel() > 0).sum())
    idx, cls, precision = _mine(_class_counts(X, yl, k), base, min_support, min_precision, fdr)
    counts = _class_counts(X, yl, k)
    keep = (hits[idx] >= 1) & (right[idx] >= min_heldout_precision * hits[idx])
    chosen: dict[int, list[int]] = {c: [] for c in range(k)}
    order = np.lexsort((vocab[idx], -counts.sum(axis=0)[idx], -right[idx]))  # most held-out right first
    for o in order:
        if not keep[o]:
            continue
        c, words = int(cls[o]), vocab[idx[o]].split()
        if any(_contains(words, vocab[idx[p]].split()) for p in chosen[c]):
            continue  # a shorter keyword of the same class already fires wherever this one does
        wider = [p for p in chosen[c] if _contains(vocab[idx[p]].split(), words)]
        if wider:  # this one fires wherever those do, and more: it takes the first one's place
            chosen[c] = [o if p == wider[0] else p for p in chosen[c] if p == wider[0] or p not in wider]
        elif len(chosen[c]) < max_per_class:
            chosen[c].append(o)
    picked = [o for c in range(k) for o in chosen[c]]
    if not picked:
        raise InputError(f"no keyword passed the thresholds on {len(labeled)} labeled texts (support >= {min_support}, "
                         f"precision >= {min_precision}, false discovery rate {fdr}, held-out precision >= "
                         f"{min_heldout_precision}); label more texts or relax them")
    rules_objs = [Rule(f"k{o}", label=classes[int(cls[o])], keywords=(str(vocab[idx[o]]),)) for o in picked]
    pool = np.linspace(0, len(texts) - 1, min(len(texts), max_pool)).astype(np.int64)
    sample = [texts[i] for i in pool]
    coverage = (apply_rules(sample, rules_objs, list(classes)).L >= 0).mean(axis=0) if len(sample) else \
        np.zeros(len(picked))
    records = []
    for o, cov in zip(picked, coverage):
        t = idx[o]
        records.append({"keyword": str(vocab[t]), "class": classes[int(cls[o])], "support": int(counts[:, t].sum()),
                        "right": int(counts[cls[o], t]), "precision": float(precision[o]),
                        "heldout_hits": int(hits[t]), "heldout_right": int(right[t]), "coverage": float(cov)})
    cv = {"n_labeled": len(labeled), "n_splits": len(np.unique(folds)),
          "precision": cv_right / cv_votes if cv_votes else None, "coverage": cv_covered / len(labeled)}
    return SynthesisResult(_render(records, classes, cv), records, cv)


#: first words of every rules file written by :func:`synthesize_rules`
HEADER = "# Keyword rules proposed by fewlabels from"


def is_synthesized(path) -> bool:
    """True when the rules file at ``path`` starts with the header ``synthesize_rules`` writes."""
    from pathlib import Path

    try:
        with Path(path).open(encoding="utf-8") as f:
            return f.readline().startswith(HEADER)
    except (OSError, UnicodeDecodeError):
        return False


def _render(records: list[dict], classes: Sequence[str], cv: dict) -> str:
    prec = "-" if cv["precision"] is None else f"{cv['precision']:.2f}"
    lines = [
        f"{HEADER} {cv['n_labeled']} labeled texts.",
        "# A keyword fires when it appears as a whole word (any case) and votes its table's class.",
        "# After each keyword: labeled texts containing it (of its class / all), the same on held-out",
        f"# folds ({cv['n_splits']}-fold cross-validation), and the share of all texts it fires on.",
        f"# Mined this way, held-out votes were right {prec} of the time and covered {cv['coverage']:.0%} of",
        "# held-out texts. Review: delete coincidences (names, numbers), add keywords you know.",
    ]
    for c in classes:
        mine = [r for r in records if r["class"] == c]
        lines.append("")
        if not mine:
            lines.append(f"# [{_toml_key(c)}]: no keyword passed the thresholds")
            continue
        lines += [f"[{_toml_key(c)}]", "keywords = ["]
        for r in mine:
            lines.append(f"    {json.dumps(r['keyword'], ensure_ascii=False)},  # labeled {r['right']}/{r['support']}, "
                         f"held-out {r['heldout_right']}/{r['heldout_hits']}, fires on {r['coverage']:.1%}")
        lines.append("]")
    return "\n".join(lines) + "\n"
