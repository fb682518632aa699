"""Token counts and the training-step price built on them (embed/token_lengths.py, plan.fit_to_budget)."""

import numpy as np

from fewlabels.embed.finetune import FineTuneParams
from fewlabels.embed.token_lengths import expected_batch_max, mean_tokens, token_counts
from fewlabels.plan import MIN_STEP_SHARE, finetune_seconds, fit_to_budget


def test_token_counts_use_the_encoders_tokenizer():
    # [CLS] what is the capital of france ? [SEP]
    assert token_counts(["What is the capital of France?"]).tolist() == [9.0]
    # digits and abbreviations hold more tokens per character than plain words
    sms, question = token_counts(["U dun say so early hor... U c 2nite?"])[0], token_counts(["Who wrote the book?"])[0]
    assert sms / len("U dun say so early hor... U c 2nite?") > question / len("Who wrote the book?")


def test_token_counts_without_a_tokenizer_count_words(tmp_path):
    counts = token_counts(["one two, three"], encoder_path=tmp_path)  # a folder with no tokenizer.json
    assert counts.tolist() == [1.3 * 4 + 2]


def test_expected_batch_max_matches_draws():
    counts = np.random.default_rng(0).integers(5, 200, 500).astype(float)
    assert np.isclose(expected_batch_max(counts, 1, 1e9), counts.mean())
    draws = np.random.default_rng(1).choice(np.minimum(counts, 190), size=(20_000, 8)).max(axis=1)
    se = draws.std() / np.sqrt(len(draws))  # the Monte Carlo mean's own noise
    assert 0 < se and abs(expected_batch_max(counts, 8, 190) - draws.mean()) < 4 * se
    assert np.isclose(expected_batch_max(np.full(10, 7.0), 32, 128), 7.0)  # the probabilities sum to 1
    assert mean_tokens(np.array([10.0, 300.0]), 256) == 133.0


def test_long_texts_cost_more_and_the_budget_cuts_steps():
    p = FineTuneParams()
    short, long = np.full(2000, 15.0), np.full(2000, 120.0)
    assert finetune_seconds(p, 2000, 100, long) > 2 * finetune_seconds(p, 2000, 100, short)
    fitted, share = fit_to_budget(p, 2000, 100, short, 1e6)
    assert fitted is p and share == 1.0
    planned = finetune_seconds(p, 2000, 100, long)
    budget = 0.8 * planned
    fitted, share = fit_to_budget(p, 2000, 100, long, budget)
    assert MIN_STEP_SHARE <= share < 1 and fitted.steps < p.steps and fitted.fold_steps < p.fold_steps
    assert finetune_seconds(fitted, 2000, 100, long) <= budget
    fitted, share = fit_to_budget(p, 2000, 100, long, 0.2 * planned)
    assert fitted is None and share < MIN_STEP_SHARE
