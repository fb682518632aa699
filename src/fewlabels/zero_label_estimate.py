"""How good labels from rules probably are when no given label can check them.

With rules and no given labels there is nothing to cross-validate against. What the label
matrix L still says is how the rules agree with one another; from that a model-based
estimate can be made. It is **unverified by labels**: it holds only as far as the model's
assumptions do (rules that err independently, given the class), and the report says so.

N rows, m rules, k classes.

1. Covered rows (some rule votes). A label model fitted to how the rules agree gives each
   row a posterior over the classes; the mean posterior of the row's *output* label (the
   chosen method's, which need not be the label model's own) is a_cov, their expected
   accuracy there. The label model is Dawid-Skene (a confusion matrix per rule, so a rule
   can be precise on one class and loose on another, as one-class keyword rules are) when
   its guarded fit stands, else the one-coin model (``weighted_majority``: one accuracy
   per rule with a Beta(0.7·s, 0.3·s) prior, Snorkel's ``prec_init``). The one-coin model
   alone underestimated the rules' labels by 0.07-0.13 on YouTube spam rules: a rule that
   votes only "ham" is right 57-81% of the time, and one accuracy per rule cannot say that
   its silence means something else.
2. Rows no rule covers get their label from an embedding classifier trained on the rules'
   labels. Its accuracy is estimated from how often, cross-fitted, it agrees with the rules'
   labels on covered rows (g): with the rules right with probability a (the posterior's
   mean maximum) and the classifier's disagreements right 1/(k−1) of the time when the
   rules are wrong, a_unc = g·a + (1 − g)(1 − a)/(k − 1).
3. estimate = coverage·a_cov + (1 − coverage)·a_unc.

The interval: the rules' parameters are drawn from their posteriors given the (expected)
counts (Beta per accuracy for the one-coin model, Dirichlet per confusion-matrix row for
Dawid-Skene), the covered rows' posteriors recomputed, and the 2.5 and 97.5 percentiles
of the estimate over ``n_draws`` draws taken; when Dawid-Skene is used, the interval is
widened to include the one-coin model's estimate (``other_model_value``). It covers the
uncertainty of the parameters and the choice between the two models, not rules that err
together (their dependence is what no unlabeled statistic checks).

When agreement cannot identify the rules' accuracies (:func:`identifiability`: too few rows
with two votes, one-class rules that hardly ever conflict, Dawid-Skene fell back), no value
is given: the estimate abstains with the bound [0, 1], the reason, and the audit command that
turns it into a verified estimate (:func:`abstained_estimate`). Issue 22's ten one-class
keyword rules said 0.206 for labels 0.893 right; such rules now abstain.

Measured (``bench/wrench.py``, 0 labels, pool = train + test): see BENCHMARKS.md §9;
``bench/estimate.py`` for the estimate against the truth across settings.

Cost: the two label-model fits, O(iters·N·m·k²), two logistic fits on the covered rows,
and O(n_draws·s·m·k²) for the interval on a sample of at most ``sample`` covered rows.
"""

from __future__ import annotations

import copy

import numpy as np

from .labelers.label_models import DawidSkeneLabeler, WeightedMajorityLabeler, vote_counts

METHOD = ("model-based, unverified by labels: the labels' expected accuracy under a label model fitted to how "
          "the rules agree (Dawid-Skene, or the one-coin model when it cannot be fitted soundly), extended to "
          "rows no rule covers by the cross-fitted agreement of an embedding classifier with the rules' labels; "
          "95% interval over the rules' parameter posteriors and the two label models")


def _softmax(S):
    S = S - S.max(axis=1, keepdims=True)
    E = np.exp(S)
    return E / E.sum(axis=1, keepdims=True)


def rules_accuracy_estimate(X, L, n_classes: int, *, labels=None, random_state: int | None = 0,
                            n_draws: int = 200, sample: int = 20_000) -> dict:
    """Estimated accuracy of rule-based labels over all rows, with no given label.

    Parameters
    ----------
    X : (N, d) embeddings
    L : (N, m) label matrix, -1 = abstain
    n_classes : k
    labels : (N,) int codes, optional
        The labels whose accuracy is estimated (the chosen method's). Default: the label
        model's own most likely class.

    Returns
    -------
    dict with ``value``, ``low``, ``high``, ``covered_accuracy``, ``uncovered_accuracy``,
    ``coverage``, ``agreement``, ``model`` (the label model whose posterior was used) and
    ``method`` (says it is unverified).
    """
    from sklearn.linear_model import LogisticRegression

    k = int(n_classes)
    L = np.asarray(L)
    rng = np.random.default_rng(random_state)
    covered = (L >= 0).any(axis=1)
    coverage = float(covered.mean())
    y = np.full(L.shape[0], -1)
    model = _posterior_model(L, y, k, random_state)
    idx = np.flatnonzero(covered)
    P_cov = model.predict_proba(L[idx]) if len(idx) else np.zeros((0, k))  # once: a_cov and the rules' labels
    rule_labels = P_cov.argmax(axis=1)
    target = rule_labels if labels is None else np.asarray(labels)[idx]
    some = rng.choice(len(idx), sample, replace=False) if len(idx) > sample else slice(None)
    Lc, tc = L[idx][some], target[some]

    def of_target(P):  # (expected accuracy of the target labels, of the rules' own labels)
        return float(P[np.arange(len(tc)), tc].mean()), float(P.max(axis=1).mean())

    a_cov, a_rules = of_target(P_cov[some]) if len(Lc) else (float("nan"), float("nan"))

    # agreement of a cross-fitted embedding classifier with the rules' labels on covered rows
    g = float("nan")
    if len(idx) >= 20 and len(np.unique(rule_labels)) >= 2 and coverage < 1:
        fold = rng.integers(0, 2, len(idx))
        agree = []
        for f in (0, 1):
            tr, te = idx[fold != f], idx[fold == f]
            if len(np.unique(rule_labels[fold != f])) < 2 or not len(te):
                continue
            clf = LogisticRegression(max_iter=300).fit(X[tr], rule_labels[fold != f])
            agree.append(float((clf.predict(X[te]) == rule_labels[fold == f]).mean()))
        g = float(np.mean(agree)) if agree else float("nan")

    def uncovered(a_r):  # the classifier trained on rule labels of accuracy a_r, agreeing with them g
        return g * a_r + (1 - g) * (1 - a_r) / (k - 1)

    def combine(a, a_r):
        if coverage == 1 or not np.isfinite(g):
            return a if coverage > 0 else float("nan")
        return coverage * a + (1 - coverage) * uncovered(a_r)

    value = combine(a_cov, a_rules)
    a_unc = None if coverage == 1 or not np.isfinite(g) else uncovered(a_rules)
    other = None  # the one-coin model's estimate too, when Dawid-Skene was used: the interval spans both
    if isinstance(model, DawidSkeneLabeler) and len(Lc):
        one_coin = WeightedMajorityLabeler(n_classes=k, random_state=random_state).fit(L, y)
        other = combine(*of_target(one_coin.predict_proba(Lc)))
    checks = identifiability(L, k, fell_back=not isinstance(model, DawidSkeneLabeler), value=value, other=other)
    if checks["reason"] is not None:
        return abstained_estimate(checks, coverage, model=model.name, value_if_trusted=value, other_value=other)
    draws = [combine(*of_target(P)) for P in _posterior_draws(model, L, y, Lc, k, n_draws, rng)] if len(Lc) else []
    low, high = (float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))) if draws else (0.0, 1.0)
    if other is not None:
        low, high = min(low, other), max(high, other)
    return {"value": value, "low": min(low, value), "high": max(high, value), "covered_accuracy": a_cov,
            "uncovered_accuracy": a_unc, "model": model.name, "other_model_value": other,
            "coverage": coverage, "agreement": None if not np.isfinite(g) else g, "n_labels": 0,
            "verified_by_labels": False, "abstained": False, "identifiability": checks, "method": METHOD}


#: below these, the rules' agreement is too thin to identify their accuracies (see :func:`identifiability`)
MIN_MULTI_ROWS, MIN_MULTI_SHARE = 30, 0.05
MIN_CONFLICT_ROWS, MIN_CONFLICT_SHARE = 20, 0.02
#: the command that turns an abstained estimate into a verified one (TABLE: the input)
AUDIT_COMMAND = ("fewlabels audit TABLE --n 50 --out audit.csv  # label the rows in audit.csv, then: "
                 "fewlabels label TABLE ... --audit audit.csv")


def identifiability(L, k: int, *, fell_back: bool = False, value=None, other=None) -> dict:
    """Can the rules' agreement identify their accuracies? The checks, and the first that fails.

    Without labels, a rule's accuracy shows only where it votes beside other rules: where
    they agree (rows with two or more votes) and, for rules that each vote one class, where
    rules of different classes vote on the same row (a conflict: one of them is wrong). Two
    one-class rules of the same class always agree when they both fire, whatever their
    accuracy, so conflicts are the only evidence of error. The estimate is refused
    (``reason`` set) when

    * fewer than ``MIN_MULTI_ROWS`` rows, or ``MIN_MULTI_SHARE`` of the covered rows, have two or more votes;
    * every rule votes one class and fewer than ``MIN_CONFLICT_ROWS`` rows, or
      ``MIN_CONFLICT_SHARE`` of the covered rows, hold votes for two classes;
    * Dawid-Skene fell back (``fell_back``: its fit emptied a class the rules vote for), so no
      class-dependent model of the rules stands.

    The gap between the two label models' estimates (``value``, ``other``) is recorded as
    ``model_spread``; it is not a reason to abstain (the one-coin model is wrong for one-class
    rules by construction, see the module's notes) but the interval spans both.

    Cost: O(N·m).
    """
    L = np.asarray(L)
    votes = L >= 0
    n_votes = votes.sum(axis=1)
    covered = int((n_votes > 0).sum())
    multi = int((n_votes >= 2).sum())
    lo = np.where(votes, L, k).min(axis=1)
    hi = np.where(votes, L, -1).max(axis=1)
    conflict = int(((n_votes >= 2) & (lo != hi)).sum())
    one_class = all(len(np.unique(L[votes[:, j], j])) <= 1 for j in range(L.shape[1]))
    spread = None if value is None or other is None else float(abs(value - other))
    out = {"covered_rows": covered, "rows_with_two_votes": multi, "rows_with_conflict": conflict,
           "one_class_rules": bool(one_class), "label_model_fell_back": bool(fell_back), "model_spread": spread,
           "reason": None}
    if covered == 0:
        out["reason"] = "no rule votes on any row"
    elif multi < max(MIN_MULTI_ROWS, MIN_MULTI_SHARE * covered):
        out["reason"] = (f"only {multi} of {covered} covered rows have two or more votes: too little agreement "
                         "to tell how often the rules are right")
    elif one_class and conflict < max(MIN_CONFLICT_ROWS, MIN_CONFLICT_SHARE * covered):
        out["reason"] = (f"every rule votes one class and only {conflict} of {covered} covered rows hold votes "
                         "for two classes: rules of one class agree whatever their accuracy, so nothing shows "
                         "how often they are wrong")
    elif fell_back:
        out["reason"] = ("the class-dependent label model (Dawid-Skene) could not be fitted soundly (it emptied "
                         "a class the rules vote for) and fell back: no model of the rules stands")
    return out


def abstained_estimate(checks: dict, coverage: float, *, model: str | None = None, value_if_trusted=None,
                       other_value=None) -> dict:
    """The estimate that is not given: no value, the bound [0, 1] and why.

    With no label and rules whose accuracies agreement cannot identify, any accuracy from 0
    to 1 fits the votes equally well (relabel the classes the rules vote for and the same
    votes are explained), so no narrower bound holds without assumptions the data cannot
    check. The model's figure is kept as ``unverified_model_value`` for reference only."""
    return {"value": None, "low": 0.0, "high": 1.0, "abstained": True, "reason": checks["reason"],
            "bound": "any accuracy from 0 to 1 fits these votes: without labels nothing narrows it",
            "next_step": AUDIT_COMMAND, "model": model, "unverified_model_value": value_if_trusted,
            "other_model_value": other_value, "coverage": coverage, "n_labels": 0,
            "verified_by_labels": False, "identifiability": checks, "method": METHOD}


def _posterior_model(L, y, k: int, random_state):
    """Dawid-Skene (a confusion matrix per rule: class-dependent accuracy; abstention is
    modelled in the fit, and the posterior comes from the votes cast, as ``dawid_skene``
    predicts) when its guarded fit stands; the one-coin model when it fell back to
    majority vote, whose vote shares are not a posterior."""
    ds = DawidSkeneLabeler(n_classes=k, random_state=random_state).fit(L, y)
    if ds.fallback_ is None:
        return ds
    return WeightedMajorityLabeler(n_classes=k, random_state=random_state).fit(L, y)


def _posterior_draws(model, L, y, Lc, k: int, n_draws: int, rng):
    """Posteriors of the rows Lc under ``n_draws`` draws of the model's rule parameters from
    their posteriors given the (expected) counts: Beta per rule accuracy for the one-coin
    model, Dirichlet per confusion-matrix row for Dawid-Skene."""
    if isinstance(model, WeightedMajorityLabeler):
        agree_n, used = model.agreement(L, y, model.weights_)
        s0, a0 = model.prior_strength, model.prior_accuracy
        alpha = agree_n + a0 * s0
        beta = np.maximum(used - agree_n, 0) + (1 - a0) * s0
        vp = np.log(model.vote_prior_)
        for _ in range(n_draws):
            a = np.where(model.from_labels_, model.accuracies_, rng.beta(alpha, beta))
            yield _softmax(vote_counts(Lc, k, model._weights(a)) + vp)
        return
    # Dawid-Skene: cond_[j, c] = (counts + α) / (N_c + (k + 1)α), so the Dirichlet's
    # concentration is cond_[j, c] · (N_c + (k + 1)α), N_c ≈ π_c · N
    conc = model.cond_ * (model.prior_ * L.shape[0] + (k + 1) * model.smoothing)[None, :, None]
    draw = copy.copy(model)
    for _ in range(n_draws):
        G = rng.gamma(np.maximum(conc, 1e-6))
        draw.cond_ = G / G.sum(axis=2, keepdims=True)
        yield draw.predict_proba(Lc)
