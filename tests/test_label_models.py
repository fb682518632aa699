"""Label models over a label matrix L: contract, hand-checked cases, and recovery of known
rule accuracies from synthetic L."""

from __future__ import annotations

import numpy as np
import pytest

from fewlabels.errors import ConfigError, InputError, NotFittedError
from fewlabels.labelers import label_models as lm
from fewlabels.labelers.label_models import dawid_skene, generative, matrix
from fewlabels.labelers.label_models import (
    LABEL_MODELS,
    DawidSkeneLabeler,
    MajorityVoteLabeler,
    MetalLabeler,
    WeightedMajorityLabeler,
    check_votes,
    distinct_rows,
    make_label_model,
)
from fewlabels.signals.synthetic import make_votes

NAMES = list(LABEL_MODELS)


@pytest.fixture(scope="module")
def votes3():
    s = make_votes(3000, 6, 3, random_state=1)
    s.L[:20] = -1  # rows where every rule abstains
    return s


# -- contract -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_contract_shapes_rows_determinism_and_abstain_rows_get_the_prior(name, votes3):
    model = LABEL_MODELS[name](n_classes=3).fit(votes3.L)
    assert model.input_kind == "votes" and model.needs == ("votes",) and model.min_labels == 0
    P = model.predict_proba(votes3.L)
    assert P.shape == (3000, 3) and P.dtype == np.float64
    assert np.allclose(P.sum(axis=1), 1) and (P >= 0).all()
    np.testing.assert_allclose(P[:20], np.tile(model.prior_, (20, 1)), rtol=1e-6)
    again = LABEL_MODELS[name](n_classes=3).fit(votes3.L.astype(np.int64)).predict_proba(votes3.L)
    assert np.array_equal(P, again)  # same input, same bytes
    np.testing.assert_array_equal(model.predict(votes3.L), P.argmax(axis=1))
    assert (model.predict(votes3.L)[20:] == votes3.truth[20:]).mean() > 0.8


@pytest.mark.parametrize("name", NAMES)
def test_contract_bad_input_and_unfitted_use(name):
    with pytest.raises(ConfigError, match="needs n_classes"):
        LABEL_MODELS[name]().fit(np.array([[0, 1], [1, -1]]))
    with pytest.raises(InputError, match=r"holds 2 at row 1, rule column 1, outside -1\.\.1"):
        LABEL_MODELS[name](n_classes=2).fit(np.array([[0, 2], [1, -1]]))
    with pytest.raises(InputError, match="shape \\(n, m\\)"):
        LABEL_MODELS[name](n_classes=2).fit(np.array([0, 1]))
    with pytest.raises(InputError, match="integer class codes"):
        LABEL_MODELS[name](n_classes=2).fit(np.array([[0.5, 1]]))
    with pytest.raises(NotFittedError):
        LABEL_MODELS[name](n_classes=2).predict_proba(np.array([[0, 1]]))
    m = LABEL_MODELS[name](n_classes=2).fit(np.array([[0, 1], [1, -1], [1, 1]]))
    with pytest.raises(InputError, match="fitted with 2"):
        m.predict_proba(np.array([[0, 1, 1]]))


@pytest.mark.parametrize("name", NAMES)
def test_contract_given_labels_and_new_rows(name, votes3):
    y = np.full(3000, -1)
    y[:300] = votes3.truth[:300]
    model = LABEL_MODELS[name](n_classes=3).fit(votes3.L, y)
    assert np.allclose(model.prior_, np.bincount(votes3.truth[:300], minlength=3) / 300, atol=0.02)
    P_new = model.predict_proba(votes3.L[-5:])
    np.testing.assert_allclose(P_new, model.predict_proba(votes3.L)[-5:])


def test_make_label_model_lists_the_names():
    assert isinstance(make_label_model("metal", n_classes=2), MetalLabeler)
    with pytest.raises(ConfigError, match="unknown label model 'snorkel'; choose one of: majority, "
                                          "weighted_majority, dawid_skene, metal"):
        make_label_model("snorkel")


# -- hand-checked cases -------------------------------------------------------------------------


def test_majority_vote_hand_case():
    L = np.array([[0, 0, 1], [1, 1, -1], [0, 1, -1], [-1, -1, -1]])
    m = MajorityVoteLabeler(n_classes=2).fit(L)
    # prior: mean vote share of the covered rows, add-one smoothed: (2/3+0+1/2+1, 1/3+1+1/2+1) / 5
    np.testing.assert_allclose(m.prior_, [(2 / 3 + 0.5 + 1) / 5, (1 / 3 + 1 + 0.5 + 1) / 5])
    np.testing.assert_allclose(m.predict_proba(L), [[2 / 3, 1 / 3], [0, 1], [0.5, 0.5], m.prior_])


def test_weighted_majority_trusts_the_accurate_rule():
    # rule 0 always right on the given labels, rules 1 and 2 always wrong: rule 0 outvotes them
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, -1])
    L = np.stack([np.r_[y[:10], 0], np.r_[1 - y[:10], 1], np.r_[1 - y[:10], 1]], axis=1)
    m = WeightedMajorityLabeler(n_classes=2).fit(L, y)
    np.testing.assert_allclose(m.accuracies_, [11 / 12, 0.501, 0.501])  # (10 + 1) / (10 + 2); chance is clipped
    np.testing.assert_allclose(m.weights_[0], np.log(11))
    assert m.predict_proba(L)[-1].argmax() == 0
    # an abstention on an unlabeled row (both -1) is neither a labeled vote nor a right one
    L2 = np.vstack([L, [[-1, -1, -1]] * 20])
    m2 = WeightedMajorityLabeler(n_classes=2).fit(L2, np.r_[y, [-1] * 20])
    np.testing.assert_allclose(m2.accuracies_, m.accuracies_)


def test_dawid_skene_hand_case_one_step():
    """Two rules, given labels on every row: one M-step gives the Laplace-smoothed counts."""
    L = np.array([[0, 0], [0, 1], [1, 1], [1, -1]])
    y = np.array([0, 0, 1, 1])
    m = DawidSkeneLabeler(n_classes=2, max_iter=1).fit(L, y)
    # class 0 rows: rule 0 votes 0, 0; rule 1 votes 0, 1. Counts over (0, 1, abstain) + 1, / (2 + 3)
    np.testing.assert_allclose(m.cond_[0, 0], [3 / 5, 1 / 5, 1 / 5])
    np.testing.assert_allclose(m.cond_[1, 0], [2 / 5, 2 / 5, 1 / 5])
    np.testing.assert_allclose(m.cond_[1, 1], [1 / 5, 2 / 5, 2 / 5])
    np.testing.assert_allclose(m.prior_, [0.5, 0.5])
    # row [0, 1]: P(0) ∝ .5 · 3/5 · 2/5, P(1) ∝ .5 · 1/5 · 2/5 → 3/4
    np.testing.assert_allclose(m.predict_proba(np.array([[0, 1]])), [[0.75, 0.25]])


def test_abstain_evidence_changes_only_what_it_should():
    s = make_votes(20000, 10, 2, polarity="one", class_balance=[0.8, 0.2], coverage=(0.1, 0.4), random_state=2)
    plain = DawidSkeneLabeler(n_classes=2).fit(s.L)
    full = DawidSkeneLabeler(n_classes=2, abstain_evidence=True).fit(s.L)
    np.testing.assert_array_equal(plain.cond_, full.cond_)  # same fit, other prediction
    none = (s.L < 0).all(axis=1)
    assert none.any() and full.predict_proba(s.L)[none][0, 0] > plain.prior_[0]  # silence says "class 0"
    # the full model is right far more often here: silence is informative for one-class rules
    assert (full.predict(s.L) == s.truth).mean() > (plain.predict(s.L) == s.truth).mean() + 0.1


# -- recovery of known accuracies ------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("model", [DawidSkeneLabeler, MetalLabeler])
def test_recovers_rule_accuracies(model, k):
    s = make_votes(20000, 10, k, accuracy=(0.6, 0.9), coverage=(0.3, 0.8), random_state=k)
    m = model(n_classes=k).fit(s.L)
    assert np.abs(m.accuracies_ - s.accuracy).max() < 0.05
    np.testing.assert_allclose(m.prior_, np.full(k, 1 / k), atol=0.02)
    mv = MajorityVoteLabeler(n_classes=k).fit(s.L).predict(s.L)
    assert (m.predict(s.L) == s.truth).mean() >= (mv == s.truth).mean()


@pytest.mark.parametrize("model", [DawidSkeneLabeler, MetalLabeler])
def test_recovers_one_class_rules_and_class_balance(model):
    """Keyword-style rules that vote one class each, on 80/20 classes, no labels."""
    s = make_votes(20000, 10, 2, polarity="one", class_balance=[0.8, 0.2], coverage=(0.1, 0.4), random_state=2)
    m = model(n_classes=2).fit(s.L)
    assert np.abs(m.accuracies_ - s.accuracy).max() < 0.05
    assert abs(m.prior_[1] - 0.2) < 0.02


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("balance", [[0.1, 0.9], [0.9, 0.1]])
def test_no_labels_the_rare_class_is_not_taken_for_the_common_one(balance, seed):
    """Without labels EM can end with the classes renamed (here it did: 0.15 accuracy);
    the renaming that lets the rules vote for their own class is kept."""
    s = make_votes(20000, 10, 2, polarity="one", class_balance=balance, coverage=(0.05, 0.3), random_state=seed)
    covered = (s.L >= 0).any(axis=1)
    for model in (DawidSkeneLabeler, MetalLabeler):
        m = model(n_classes=2).fit(s.L)
        assert np.abs(m.prior_ - balance).max() < 0.05
        assert (m.predict(s.L[covered]) == s.truth[covered]).mean() > 0.7
    assert DawidSkeneLabeler(n_classes=2).fit(s.L).permuted_


@pytest.mark.parametrize("model", [DawidSkeneLabeler, MetalLabeler])
def test_a_dozen_labels_do_not_make_the_model_worse_than_none(model):
    """40 sparse keyword-style rules (like the SMS bench rules): 12 given labels touch only a
    few rules, each on fewer than 3. Such rules start from the majority vote; starting
    every rule from the labels cost 0.05-0.10 accuracy here."""
    s = make_votes(5000, 40, 2, polarity="one", class_balance=[0.85, 0.15], coverage=(0.02, 0.1),
                   accuracy=(0.7, 0.95), random_state=0)
    covered = (s.L >= 0).any(axis=1)
    none = (model(n_classes=2).fit(s.L).predict(s.L)[covered] == s.truth[covered]).mean()
    for seed in range(5):
        y = np.full(5000, -1)
        given = np.random.default_rng(seed).choice(5000, 12, replace=False)
        y[given] = s.truth[given]
        m = model(n_classes=2).fit(s.L, y)
        assert (m.predict(s.L)[covered] == s.truth[covered]).mean() >= none - 0.01
        assert not m.start_from_labels_.all()  # 12 labels: hardly any rule voted on 3 of them


def test_weighted_majority_estimates_accuracies_from_agreement():
    s = make_votes(20000, 10, 2, random_state=5)
    m = WeightedMajorityLabeler(n_classes=2).fit(s.L)
    assert np.abs(m.accuracies_ - s.accuracy).max() < 0.05


def test_given_labels_anchor_the_generative_models():
    s = make_votes(3000, 6, 2, random_state=9)
    y = np.full(3000, -1)
    y[:300] = s.truth[:300]
    m = DawidSkeneLabeler(n_classes=2).fit(s.L, y)
    assert m.converged_ and 1 <= m.n_iter_ < 100 and np.isfinite(m.log_likelihood_)
    np.testing.assert_array_equal(m.predict_proba(s.L[:0]).shape, (0, 2))
    flipped = np.where(s.L < 0, -1, 1 - s.L)  # every rule now mostly wrong
    assert (DawidSkeneLabeler(n_classes=2).fit(flipped).accuracies_ > 0.5).all()  # no labels: can't tell
    for model in (DawidSkeneLabeler, MetalLabeler):  # the labels can
        m = model(n_classes=2).fit(flipped, y)
        assert np.abs(m.accuracies_ - (1 - s.accuracy)).max() < 0.05


def test_metal_class_balance_options(votes3):
    uniform = MetalLabeler(n_classes=3, class_balance="uniform").fit(votes3.L)
    assert np.allclose(uniform.prior_, 1 / 3) and uniform.balance_from_ == "class_balance"
    assert MetalLabeler(n_classes=3).fit(votes3.L).balance_from_ == "dawid_skene"
    y = np.where(np.arange(3000) < 100, votes3.truth, -1)
    assert MetalLabeler(n_classes=3).fit(votes3.L, y).balance_from_ == "dawid_skene"
    given = MetalLabeler(n_classes=3, class_balance=[0.5, 0.3, 0.2]).fit(votes3.L)
    np.testing.assert_allclose(given.prior_, [0.5, 0.3, 0.2])
    with pytest.raises(ConfigError, match="class_balance must be 3 positive shares"):
        MetalLabeler(n_classes=3, class_balance=[0.5, 0.5]).fit(votes3.L)
    with pytest.raises(ConfigError, match="class_balance='balanced'"):
        MetalLabeler(n_classes=3, class_balance="balanced").fit(votes3.L)


def test_metal_moment_sample_is_seeded(votes3):
    a = MetalLabeler(n_classes=3, moment_sample=1000, random_state=1).fit(votes3.L)
    b = MetalLabeler(n_classes=3, moment_sample=1000, random_state=1).fit(votes3.L)
    np.testing.assert_array_equal(a.mu_, b.mu_)
    assert np.abs(a.accuracies_ - votes3.accuracy).max() < 0.1


# -- vectorised internals ---------------------------------------------------------------------------


# Two EM runs that differ only in the order of their float32 sums (merged rows, blocks) do not
# follow bit-identical paths, and a run stopped at ``tol`` may stop an iteration earlier or later
# on another machine (BLAS kernel, thread count). What is machine-independent is the fixed point:
# EM converges linearly at a rate rho, so a run stopped when no parameter moves by more than tol
# is within tol * rho / (1 - rho) of it, and both runs land that close to the same point. So each
# test uses votes that make the fixed point well-conditioned (rules with real accuracy; rho measured
# ~0.89 and ~0.75 from the iterations between tol=1e-4 and 1e-6), converges to tol=1e-6, and compares
# posteriors at a tolerance with a margin over tol * rho / (1 - rho) times their sensitivity to the
# parameters (about 10 here). A merging or blocking bug moves them by 1e-2 or more. With pure-noise
# votes (the likelihood is flat, rho ~ 0.9993) the two runs had differed by 1.15e-5 at tol=1e-4.
EM_TOL = 1e-6


def _voted(n, accuracies, abstain, seed):
    """L (n, m) of two classes: rule j right with probability accuracies[j] when it votes."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    right = rng.random((n, len(accuracies))) < np.asarray(accuracies)
    votes = np.where(right, truth[:, None], 1 - truth[:, None])
    return check_votes(np.where(rng.random(votes.shape) < abstain, -1, votes), 2)


def test_identical_rows_are_merged_exactly(monkeypatch):
    L = _voted(5000, [0.9, 0.85, 0.8, 0.8, 0.75], abstain=0.5, seed=0)
    rows = distinct_rows(L, None, 2)
    assert rows.inverse is not None and len(rows.w) <= 3 ** 5 and rows.w.sum() == 5000
    np.testing.assert_array_equal(rows.L[rows.inverse], L)
    a = DawidSkeneLabeler(n_classes=2, tol=EM_TOL, max_iter=2000).fit(L)
    def unmerged(L, y, k, **kw):
        return matrix._Rows(L, np.full(len(L), -1) if y is None else y, np.ones(len(L)), None, k)

    for module in (generative, dawid_skene):  # every module that merges rows for Dawid-Skene
        monkeypatch.setattr(module, "distinct_rows", unmerged)
    b = DawidSkeneLabeler(n_classes=2, tol=EM_TOL, max_iter=2000).fit(L)
    assert a.converged_ and b.converged_
    # rho ~ 0.89: each run within 1e-6 * 8 of the fixed point, posteriors within ~1e-4; 10x margin
    np.testing.assert_allclose(b.predict_proba(L), a.predict_proba(L), atol=1e-3)


def test_blocks_give_the_same_answer(monkeypatch, votes3):
    a = DawidSkeneLabeler(n_classes=3, tol=EM_TOL, max_iter=2000).fit(votes3.L)
    monkeypatch.setattr(matrix, "_BLOCK_BYTES", 4 * 6 * 3 * 100)  # blocks of 100 rows
    monkeypatch.setattr(matrix, "_CACHE_BYTES", 0)
    b = DawidSkeneLabeler(n_classes=3, tol=EM_TOL, max_iter=2000).fit(votes3.L)
    assert a.converged_ and b.converged_
    # rho ~ 0.75: each run within 1e-6 * 3 of the fixed point, posteriors within ~3e-5; 3x margin
    np.testing.assert_allclose(b.predict_proba(votes3.L), a.predict_proba(votes3.L), atol=1e-4)


# -- degenerate optima (issue 10) ---------------------------------------------------------------


def test_many_sparse_one_class_rules_on_nine_imbalanced_classes_do_not_collapse():
    """60 sparse keyword-style rules, 9 imbalanced classes, no labels: the setting where EM
    poured classes into others (before the guard: Dawid-Skene 0.269 and metal 0.323 on the
    covered rows against majority vote's 0.741, on this very L). Now neither empties a class,
    and both stay at or above majority vote."""
    bal = [0.3, 0.2, 0.12, 0.1, 0.08, 0.07, 0.06, 0.04, 0.03]
    s = make_votes(4000, 60, 9, polarity="one", class_balance=bal, coverage=(0.01, 0.08),
                   accuracy=(0.5, 0.95), random_state=0)
    covered = (s.L >= 0).any(axis=1)
    mv = (MajorityVoteLabeler(n_classes=9).fit(s.L).predict(s.L)[covered] == s.truth[covered]).mean()
    for model in (DawidSkeneLabeler, MetalLabeler):
        m = model(n_classes=9).fit(s.L)
        pred = m.predict(s.L)
        assert lm.emptied_classes(pred, s.L, 9) == []
        assert (pred[covered] == s.truth[covered]).mean() >= mv - 1e-9
        assert m.start_ and len(m.attempts_) >= 2


def test_the_guard_keeps_a_sound_fit_and_reports_its_attempts():
    s = make_votes(5000, 10, 3, random_state=4)
    m = DawidSkeneLabeler(n_classes=3).fit(s.L)
    assert m.fallback_ is None and m.start_ in ("majority", "weighted_majority")
    assert all(a["emptied"] == [] for a in m.attempts_)
    assert m.log_likelihood_ == max(a["score"] for a in m.attempts_)


def test_emptied_classes_hand_case():
    # class 1 is the only vote on rows 2-7; a model that calls them all 0 has emptied it
    L = np.array([[0, -1]] * 2 + [[1, -1]] * 6 + [[0, 1]])
    assert lm.emptied_classes(np.zeros(9, int), L, 2) == [1]
    assert lm.emptied_classes(np.r_[0, 0, 1, 1, 1, 0, 0, 0, 0], L, 2) == []  # 3 of 6 kept: not emptied
    assert lm.emptied_classes(np.zeros(5, int), L[2:7], 2) == [1]
    assert lm.emptied_classes(np.zeros(4, int), L[2:6], 2) == []  # 4 unanimous rows: too few to judge


def test_majority_vote_breaks_ties_at_random_not_toward_class_zero():
    L = np.array([[0, 1]] * 400 + [[2, 1]] * 400)
    pred = MajorityVoteLabeler(n_classes=3, random_state=0).fit(L).predict(L)
    share = np.bincount(pred, minlength=3) / len(L)
    assert 0.4 < share[1] < 0.6  # tied with 0 on half the rows, with 2 on the other half
    assert share[0] > 0.15 and share[2] > 0.15
    again = MajorityVoteLabeler(n_classes=3, random_state=0).fit(L).predict(L)
    np.testing.assert_array_equal(pred, again)
    P = MajorityVoteLabeler(n_classes=3).fit(L).predict_proba(L)
    np.testing.assert_allclose(P[0], [0.5, 0.5, 0], atol=1e-8)  # the nudge is invisible
