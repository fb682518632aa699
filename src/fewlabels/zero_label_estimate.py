"""How good labels from rules probably are when no given label can check them.

With rules and no given labels there is nothing to cross-validate against. What the label
matrix L still says is how the rules agree with one another; from that a model-based
estimate can be made. It is **unverified by labels**: it holds only as far as the model's
assumptions do (rules that err independently, given the class), and the report says so.

N rows, m rules, k classes.

1. Covered rows (some rule votes). The one-coin model (``weighted_majority``: EM on how the
   rules agree, each rule's accuracy with a Beta(0.7·s, 0.3·s) prior, Snorkel's
   ``prec_init``) gives each row the posterior of its most likely class; their mean,
   a_cov, is the expected accuracy of the rules' labels there.
2. Rows no rule covers get their label from an embedding classifier trained on the rules'
   labels. Its accuracy is estimated from how often, cross-fitted, it agrees with the rules'
   labels on covered rows (g): with the rules right with probability a_cov and the
   classifier's disagreements right 1/(k−1) of the time when the rules are wrong,
   a_unc = g·a_cov + (1 − g)(1 − a_cov)/(k − 1).
3. estimate = coverage·a_cov + (1 − coverage)·a_unc.

The interval: each rule's accuracy is drawn from its Beta posterior (agreement counts plus
the prior), the covered rows' posteriors recomputed, and the 2.5 and 97.5 percentiles of
the estimate over ``n_draws`` draws are reported. It covers the uncertainty of the rule
accuracies, not a violated model.

Measured (``bench/wrench.py``, 0 labels, pool = train + test): see BENCHMARKS.md.

Cost: the one-coin fit O(iters·N·m·k), two logistic fits on the covered rows, and
O(n_draws·s·m·k) for the interval on a sample of at most ``sample`` covered rows.
"""

from __future__ import annotations

import numpy as np

from .labelers.label_models import WeightedMajorityLabeler, vote_counts

METHOD = ("model-based, unverified by labels: the rules' expected accuracy under the one-coin model fitted to "
          "how they agree, extended to rows no rule covers by the cross-fitted agreement of an embedding "
          "classifier with the rules' labels; 95% interval over the rules' accuracy posteriors")


def _softmax(S):
    S = S - S.max(axis=1, keepdims=True)
    E = np.exp(S)
    return E / E.sum(axis=1, keepdims=True)


def rules_accuracy_estimate(X, L, n_classes: int, *, random_state: int | None = 0, n_draws: int = 200,
                            sample: int = 20_000) -> dict:
    """Estimated accuracy of rule-based labels over all rows, with no given label.

    Parameters
    ----------
    X : (N, d) embeddings
    L : (N, m) label matrix, -1 = abstain
    n_classes : k

    Returns
    -------
    dict with ``value``, ``low``, ``high``, ``covered_accuracy``, ``uncovered_accuracy``,
    ``coverage``, ``agreement`` and ``method`` (says it is unverified).
    """
    from sklearn.linear_model import LogisticRegression

    k = int(n_classes)
    L = np.asarray(L)
    rng = np.random.default_rng(random_state)
    covered = (L >= 0).any(axis=1)
    coverage = float(covered.mean())
    y = np.full(L.shape[0], -1)
    wm = WeightedMajorityLabeler(n_classes=k, random_state=random_state).fit(L, y)
    idx = np.flatnonzero(covered)
    P_cov = wm.predict_proba(L[idx]) if len(idx) else np.zeros((0, k))  # once: a_cov and the rules' labels
    some = rng.choice(len(idx), sample, replace=False) if len(idx) > sample else slice(None)
    Lc = L[idx][some]
    a_cov = float(P_cov[some].max(axis=1).mean()) if len(Lc) else float("nan")

    # agreement of a cross-fitted embedding classifier with the rules' labels on covered rows
    g = float("nan")
    rule_labels = P_cov.argmax(axis=1)
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

    def combine(a):
        if coverage == 1 or not np.isfinite(g):
            return a if coverage > 0 else float("nan")
        a_unc = g * a + (1 - g) * (1 - a) / (k - 1)
        return coverage * a + (1 - coverage) * a_unc

    value = combine(a_cov)
    a_unc = None if coverage == 1 or not np.isfinite(g) else g * a_cov + (1 - g) * (1 - a_cov) / (k - 1)
    # interval: rule accuracies from their Beta posteriors (agreement counts + the prior)
    draws = []
    if len(Lc):
        agree_n, used = wm._agreement(L, y, wm.weights_)
        s0, a0 = wm.prior_strength, wm.prior_accuracy
        alpha = agree_n + a0 * s0
        beta = np.maximum(used - agree_n, 0) + (1 - a0) * s0
        fixed = wm.from_labels_
        vp = np.log(wm.vote_prior_)
        for _ in range(n_draws):
            a = np.where(fixed, wm.accuracies_, rng.beta(alpha, beta))
            w = wm._weights(a)
            draws.append(combine(float(_softmax(vote_counts(Lc, k, w) + vp).max(axis=1).mean())))
    low, high = (float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))) if draws else (0.0, 1.0)
    return {"value": value, "low": min(low, value), "high": max(high, value), "covered_accuracy": a_cov,
            "uncovered_accuracy": a_unc,
            "coverage": coverage, "agreement": None if not np.isfinite(g) else g, "n_labels": 0,
            "verified_by_labels": False, "method": METHOD}
