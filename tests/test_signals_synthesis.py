"""Keyword rules mined from a few labeled texts: planted keywords are found, filler is not,
and the proposed rules.toml loads and applies."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabels.errors import InputError
from fewlabels.signals import analyze, apply_rules, load_rules, synthesize_rules

CLASSES = ["chat", "sci/tech", "sports"]
PLANTED = {0: ["lol", "see you"], 1: ["laptop", "software update"], 2: ["goal", "match"]}
FILLER = ["the", "a", "today", "really", "and", "it", "was", "so", "just", "then"]


def corpus(n=600, seed=0):
    """Texts of filler words plus, for most texts, one planted keyword of their class."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, size=n, p=[0.6, 0.2, 0.2])
    texts = []
    for c in truth:
        words = list(rng.choice(FILLER, size=6))
        if rng.random() < 0.8:
            words.insert(int(rng.integers(0, 6)), str(rng.choice(PLANTED[c])))
        texts.append(" ".join(words))
    return texts, truth


def given(truth, n_labels=100, seed=0):
    y = np.full(len(truth), -1)
    idx = np.random.default_rng(seed).choice(len(truth), n_labels, replace=False)
    y[idx] = truth[idx]
    return y


def test_planted_keywords_are_found_and_the_toml_round_trips(tmp_path):
    texts, truth = corpus()
    res = synthesize_rules(texts, given(truth), CLASSES)
    planted_words = {(w, CLASSES[c]) for c, kws in PLANTED.items() for kw in kws for w in kw.split()}
    found = {(r["keyword"], r["class"]) for r in res.rules}
    assert sum(any((w, CLASSES[c]) in found for w in kw.split()) for c, kws in PLANTED.items() for kw in kws) == 6
    assert not {kw for kw, _ in found} & set(FILLER)  # no filler word ...
    assert len(found - planted_words) <= 2  # ... and at most a couple of chance pairs of them (8/8 "chat")
    for r in res.rules:
        assert r["right"] <= r["support"] and r["heldout_right"] <= r["heldout_hits"] and 0 < r["coverage"] < 1
    assert res.cv["n_labeled"] == 100 and res.cv["precision"] > 0.95 and res.cv["coverage"] > 0.7
    assert '["sci/tech"]' in res.toml and "# labeled " in res.toml
    path = tmp_path / "rules.toml"
    path.write_text(res.toml, encoding="utf-8")
    rules = load_rules(path, classes=CLASSES)
    assert [r.name for r in rules] == [f"{r['class']}:keyword:{r['keyword']}" for r in res.rules]
    applied = apply_rules(texts, rules, CLASSES)
    stats = analyze(applied.L, applied.rule_names, CLASSES, truth)["rules"]
    planted_acc = [r["accuracy"] for r in stats if tuple(r["rule"].split(":keyword:")[::-1]) in planted_words]
    assert min(planted_acc) > 0.95


def test_a_word_common_in_the_big_class_is_not_a_rule_for_it():
    texts, truth = corpus()
    texts = [t + " the" if c == 0 or i % 3 == 0 else t for i, (t, c) in enumerate(zip(texts, truth))]
    res = synthesize_rules(texts, given(truth), CLASSES, ngram_range=(1, 1))
    assert "the" not in {r["keyword"] for r in res.rules}  # mostly "chat", but no better than its 60 % share


def test_deterministic_capped_and_no_redundant_phrases():
    texts, truth = corpus()
    a = synthesize_rules(texts, given(truth), CLASSES, max_per_class=1)
    assert a.toml == synthesize_rules(texts, given(truth), CLASSES, max_per_class=1).toml
    assert sorted(r["class"] for r in a.rules) == CLASSES
    keywords = [r["keyword"] for r in synthesize_rules(texts, given(truth), CLASSES).rules]
    assert "software" in keywords and "software update" not in keywords  # the word covers the phrase


def test_bad_input():
    texts, truth = corpus(100)
    with pytest.raises(InputError, match="at least two classes"):
        synthesize_rules(texts, np.where(truth == 0, 0, -1), CLASSES)
    with pytest.raises(InputError, match="one code per text"):
        synthesize_rules(texts, truth[:50], CLASSES)
    with pytest.raises(InputError, match="no keyword passed the thresholds"):
        synthesize_rules(texts, given(truth, 30), CLASSES, min_support=8)
