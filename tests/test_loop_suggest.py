"""suggest: cold start covers the clusters with typical rows; with labels, classes and
clusters with no label come first; never near-duplicates; deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_blobs
from fewlabels.errors import ConfigError, InputError
from fewlabels.loop.suggest import current_proba, suggest, typicality


def test_cold_start_picks_one_typical_row_per_true_cluster(blobs):
    s = suggest(blobs.X, n=3, n_clusters=3)
    assert len(s.index) == 3 and set(s.kind) == {"typical"}
    assert sorted(blobs.truth[s.index].tolist()) == [0, 1, 2]  # one row of each blob
    typ = typicality(blobs.X)
    for i in s.index:  # each is among the most typical rows of its blob
        members = np.flatnonzero(blobs.truth == blobs.truth[i])
        assert typ[i] >= np.quantile(typ[members], 0.9)
    assert all("no label" in r for r in s.reason)


def test_deterministic_under_seed(blobs):
    a = suggest(blobs.X, n=10, random_state=3)
    b = suggest(blobs.X, n=10, random_state=3)
    assert a.index.tolist() == b.index.tolist() and a.reason == b.reason


def test_with_labels_a_class_without_label_comes_first(blobs, class_embeddings):
    y = blobs.y.copy()
    y[y == 2] = -1  # class 2 has no label now
    P = current_proba(blobs.X, y, 3, class_embeddings)
    s = suggest(blobs.X, y, P, n=4, classes=blobs.classes, class_embeddings=class_embeddings)
    assert s.kind[0] == "missing_class" and "class_2" in s.reason[0]
    assert blobs.truth[s.index[0]] == 2
    assert not (y[s.index] >= 0).any()  # never a labeled row


def test_with_labels_fills_with_uncertain_rows_one_per_cluster():
    b = make_blobs(n=300, k=3, noise=0.35, seed=1)
    P = current_proba(b.X, b.y, 3)
    s = suggest(b.X, b.y, P, n=12, n_clusters=15 + 12)
    assert len(s.index) == 12 and len(set(s.index.tolist())) == 12
    assert set(s.kind) <= {"missing_class", "cluster", "uncertain", "typical"}
    unc = [i for i, k in zip(s.index, s.kind) if k == "uncertain"]
    if unc:  # uncertain picks are less confident than the pool's median row
        assert np.median(P[unc].max(axis=1)) <= np.median(P.max(axis=1))


def test_no_near_duplicates_in_a_batch():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 8))
    X = np.repeat(base, 5, axis=0) + 1e-4 * rng.normal(size=(200, 8))  # every row has 4 near-copies
    s = suggest(X, n=30, n_clusters=30)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Xn[s.index] @ Xn[s.index].T
    np.fill_diagonal(S, 0)
    assert S.max() < 0.95
    assert len(set((s.index // 5).tolist())) == len(s.index)


def test_never_suggests_near_copies_of_labeled_rows():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(30, 8))
    X = np.repeat(base, 2, axis=0)
    y = np.full(60, -1)
    y[::2][:10] = np.arange(10) % 2
    s = suggest(X, y, n=10)
    assert not np.isin(s.index // 2, np.flatnonzero(y >= 0) // 2).any()


def test_bad_input_is_named(blobs):
    with pytest.raises(ConfigError, match="n=0"):
        suggest(blobs.X, n=0)
    with pytest.raises(InputError, match="proba has shape"):
        suggest(blobs.X, blobs.y, np.ones((5, 3)) / 3)


def test_asks_for_no_more_than_the_unlabeled_rows():
    b = make_blobs(n=30, k=3, per_class=8)
    s = suggest(b.X, b.y, n=50)
    assert 0 < len(s.index) <= (b.y < 0).sum()
    assert not (b.y[s.index] >= 0).any()


def test_balanced_uncertainty_takes_the_class_furthest_below_its_share():
    """Labels 10/10/1 on three equal classes; the most uncertain rows are all guessed class 0.
    Plain margin sampling takes those; the balanced step takes the under-labeled class 2."""
    b = make_blobs(n=300, k=3, noise=0.1, seed=2)
    y = np.full(300, -1)
    for c, m in ((0, 10), (1, 10), (2, 1)):
        y[np.flatnonzero(b.truth == c)[:m]] = c
    rng = np.random.default_rng(0)
    P = np.zeros((300, 3))
    P[np.arange(300), b.truth] = 0.9
    zero = b.truth == 0
    P[zero] = [0.50, 0.25, 0.25]  # class-0 rows: guessed 0 at 0.5 (the most uncertain)
    two = b.truth == 2
    P[two] = [0.05, 0.25, 0.70]  # class-2 rows: guessed 2, less uncertain
    P[b.truth == 1] = [0.05, 0.9, 0.05]
    P = P * rng.uniform(0.95, 1.05, P.shape)
    P /= P.sum(axis=1, keepdims=True)
    kw = dict(n=6, cluster_share=0.0, classes=b.classes, random_state=0)
    plain = suggest(b.X, y, P, balance=False, **kw)
    balanced = suggest(b.X, y, P, **kw)
    assert set(plain.kind) == set(balanced.kind) == {"uncertain"}
    assert (b.truth[plain.index] == 0).all()  # the uncertain rows are class 0's
    # estimated shares (mean of P over unlabeled rows) about .20/.47/.33 of 27 labels: 5.4/12.6/9
    # against 10/10/1 given: class 2 is furthest below for all 6 picks
    assert (b.truth[balanced.index] == 2).all()
