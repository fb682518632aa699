"""Rules and embeddings together (weak-to-strong).

1. The label model turns the rules' votes into P_rules on the rows some rule covers.
2. Those rows, labeled with the label model's answer (given labels win), train the
   embedding method, which then labels the rows no rule covers: the rules' signal reaches
   items they never matched (seeds: AutoWS-Bench-101; "Debate Helps Weak-to-Strong
   Generalization").
3. The two are combined as a product of experts, with the class mix the embedding method
   was trained on traded for the label model's prior on covered rows and for the class mix
   of uncovered rows elsewhere (``prior_shift``, below).

Cost: the embedding method's plus the label model's.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..pool import Pool
from .base import TransductiveLabeler
from .catalog import EMBEDDING_METHODS, LABEL_MODELS, method_class
from .ensemble import MeanEnsembleLabeler
from .stacking import StackedEnsembleLabeler

#: what ``embedding_method`` may name: a method on embeddings, single or an ensemble
EMBEDDING_CHOICES = {**EMBEDDING_METHODS, MeanEnsembleLabeler.name: MeanEnsembleLabeler,
                     StackedEnsembleLabeler.name: StackedEnsembleLabeler}


def saerens_prior(P: np.ndarray, train_prior: np.ndarray, start: np.ndarray, *, given=None,
                  max_iter: int = 100, tol: float = 1e-6) -> tuple[np.ndarray, int]:
    """Class mix of the rows of ``P`` by EM (Saerens et al. 2002).

    ``P`` (u, k) are a classifier's probabilities, learned under class mix ``train_prior``
    (k,). Iterate: reweight each row to the current mix π, P'_i ∝ P_i · π / train_prior;
    π ← mean of P'_i (with ``given`` (k,) counts of rows whose class is known added).
    Starts from ``start``; stops when π moves less than ``tol``. Each share is kept at
    least 1e-4 so a class never vanishes for good. Returns (π, iterations).
    Cost O(iters·u·k).
    """
    k = P.shape[1]
    given = np.zeros(k) if given is None else np.asarray(given, dtype=np.float64)
    n = P.shape[0] + given.sum()
    pi = np.asarray(start, dtype=np.float64)
    if n == 0:
        return pi, 0
    ratio = P / np.asarray(train_prior)[None, :]
    it = 0
    for it in range(1, max_iter + 1):
        Q = ratio * pi
        Q /= Q.sum(axis=1, keepdims=True)
        new = np.maximum((Q.sum(axis=0) + given) / n, 1e-4)
        new /= new.sum()
        delta = np.abs(new - pi).max()
        pi = new
        if delta < tol:
            break
    return pi, it


class FusedLabeler(TransductiveLabeler):
    """Embedding method × rules label model on the rows the rules cover.

    Parameters
    ----------
    votes : (n, m) label matrix of the pool, -1 = abstain
    embedding_method : str, default="logistic"
        A method on embeddings (:data:`EMBEDDING_CHOICES`).
    label_model : str, default="auto"
        "auto": ``dawid_skene`` with three rules or more, else ``majority``. Dawid-Skene keeps
        the best of its restarts that empties no class the rules vote for, else falls back to
        majority vote (label_models.emptied_classes). On WRENCH's rules, 0 labels
        (``bench/wrench.py``, test accuracy, sms: F1 of spam), ``fused`` with each label model:

        ==================  ========  ===========  ======
        label model         trec      youtube      sms
        ==================  ========  ===========  ======
        majority            0.654     0.844        0.566
        weighted_majority   0.608     0.912        0.582
        dawid_skene         0.654     0.852        0.566
        metal               0.464     0.860        0.552
        ==================  ========  ===========  ======

        (``metal`` was the choice before: it passes the emptied-class check on TREC's 68
        rules but puts 70 % of the rows in one class. Majority vote, Snorkel's ``LabelModel``:
        0.614 / 0.560 on trec, 0.808 / 0.840 on youtube, 0.094 / 0.246 on sms.) A label model that
        learns the rules' accuracies from how they agree needs at least three rules to
        tell accuracy from chance (with one rule and 20 labels, ``metal`` read a spam
        rule's votes as ham on one of three seeds of tests/test_fused.py). Measured on the
        bench rules
        (``bench/weak_supervision.py --parts fusion``; pool accuracy of ``fused``):

        ============  ==========  ==========  ============  ===========
        label model   SMS, 0 lab  YT, 0 lab   SMS, 100 lab  YT, 100 lab
        ============  ==========  ==========  ============  ===========
        majority      0.939       0.898       0.974         0.913
        metal         0.976       0.907       0.977         0.926
        ============  ==========  ==========  ============  ===========

        (``weighted_majority`` estimates accuracies from agreement with the one-coin model,
        which one-class keyword rules break: on 400 SMS rows with no label it called nearly
        everything spam.)
    prior_shift : bool, default=True
        Combine the two as Bayes would. The embedding method learned the class mix
        π_train of the rows it was trained on (rule-covered rows are often mostly one
        class, e.g. spam; add-one shares), so P ∝ P_embedding · P_rules / π_train on
        covered rows and P ∝ P_embedding · π_uncovered / π_train on the others, where
        π_uncovered = P(class | no rule fires): the class shares of the given labels on
        rows no rule covers, shrunk toward the label model's prior π with k pseudo-counts
        (π itself without such labels). Rules are written for the cases they recognise,
        so the rows they miss are seldom the rules' class: 98 % of SMS rows no rule covers
        are ham against 87 % overall. With False, the older rule: P_embedding alone off
        the rules, P_embedding · P_rules / π on them. On 100 labels (``--parts fusion``,
        pool accuracy, majority label model): the training-mix correction took SMS spam
        from 0.944 to 0.961 and AG News with synthesized rules from 0.62 to 0.69;
        π_uncovered took SMS from 0.961 to 0.974 and YouTube spam from 0.904 to 0.913.
    uncovered_prior : "labels" or "em", default="labels"
        How π_uncovered is found. "labels": as described under ``prior_shift``. "em": that
        is the start of the EM prior adjustment of Saerens, Latinne & Decaestecker (2002),
        "Adjusting the outputs of a classifier to new a priori probabilities", run on the
        embedding method's outputs over the uncovered rows (:func:`saerens_prior`; given
        labels there count as known rows). Not the default: EM is only right for a
        classifier calibrated under its training mix, and one trained on rule-covered rows
        is not (covered rows differ from the others in more than their class mix). On
        tests/test_fused.py's spam case, with no given label, EM put the uncovered rows at
        90 % spam where 9 % are; with a calibrated classifier it finds a shifted mix to 0.01.
    class_embeddings, graph : passed on to the embedding method

    Attributes
    ----------
    label_model_ : the fitted label model
    n_weak_labels_ : rows labeled by the rules alone for the embedding method
    train_prior_, uncovered_prior_ : (k,), with ``prior_shift``
    """

    name = "fused"
    reads = ("votes", "class_embeddings", "graph", "n_classes", "random_state")
    needs = ("votes",)
    min_labels = 0
    #: "auto" picks the agreement-based label model from this many rules on
    MIN_RULES_FOR_METAL = 3  # (the name is kept for callers; the model is now dawid_skene)

    def __init__(self, votes=None, embedding_method: str = "logistic", label_model: str = "auto",
                 prior_shift: bool = True, uncovered_prior: str = "labels", class_embeddings=None, graph=None,
                 n_classes: int | None = None, random_state: int | None = 0):
        self.votes = votes
        self.prior_shift = prior_shift
        self.uncovered_prior = uncovered_prior
        self.embedding_method = embedding_method
        self.label_model = label_model
        self.class_embeddings = class_embeddings
        self.graph = graph
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        if self.votes is None or np.shape(self.votes)[0] != X.shape[0]:
            raise ConfigError("fused needs votes: the rules' label matrix with one row per item")
        if not isinstance(self.prior_shift, (bool, np.bool_)):
            raise ConfigError(f"prior_shift={self.prior_shift!r}; use True or False")
        if self.uncovered_prior not in ("em", "labels"):
            raise ConfigError(f"uncovered_prior={self.uncovered_prior!r}; use 'em' or 'labels'")
        L = np.asarray(self.votes)
        pool = Pool(n_classes=self.n_classes_, class_embeddings=self.class_embeddings, graph=self.graph,
                    random_state=self.random_state)
        label_model = self.label_model
        if label_model == "auto":
            label_model = "dawid_skene" if L.shape[1] >= self.MIN_RULES_FOR_METAL else "majority"
        lm = self.label_model_ = method_class(label_model, LABEL_MODELS).from_pool(pool).fit(L, y)
        P_lm = lm.predict_proba(L)
        covered = (L >= 0).any(axis=1)
        y_aug = y.copy()
        weak = covered & (y < 0)
        y_aug[weak] = P_lm[weak].argmax(axis=1)
        self.n_weak_labels_ = int(weak.sum())
        P_emb = method_class(self.embedding_method, EMBEDDING_CHOICES).from_pool(pool).fit(X, y_aug).predict_proba(X)
        k = self.n_classes_
        prior = getattr(lm, "prior_", np.full(k, 1.0 / k))
        if self.prior_shift:
            # The embedding method learned the class mix of the rows it was trained on
            # (covered rows are often mostly one class); trade it for the label model's
            # prior on covered rows, for P(class | no rule fires) on the others.
            trained = np.bincount(y_aug[y_aug >= 0], minlength=k) + 1.0
            self.train_prior_ = trained / trained.sum()
            given_uncovered = np.bincount(y[(y >= 0) & ~covered], minlength=k) + k * prior
            self.uncovered_prior_ = given_uncovered / given_uncovered.sum()
            if self.uncovered_prior == "em" and (~covered).any():
                self.uncovered_prior_, self.uncovered_prior_iter_ = saerens_prior(
                    P_emb[~covered & (y < 0)], self.train_prior_, self.uncovered_prior_,
                    given=np.bincount(y[(y >= 0) & ~covered], minlength=k))
            F = P_emb * np.where(covered[:, None], P_lm, self.uncovered_prior_) / self.train_prior_
        else:
            F = P_emb.copy()
            F[covered] = P_emb[covered] * P_lm[covered] / prior
        F /= F.sum(axis=1, keepdims=True)
        self.transduction_ = F
