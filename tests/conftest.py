"""Shared synthetic data with known truth.

``blobs``: k=3 well-separated Gaussian clusters in d=16, rows L2-normalised, n=300,
5 given labels per class and -1 elsewhere. ``truth`` holds every row's real class and
``class_embeddings`` the normalised true cluster centres, so zero-shot has a correct
class text to compare against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest


@dataclass(frozen=True)
class Blobs:
    X: np.ndarray  # (n, d) float32, unit rows
    y: np.ndarray  # (n,) int64, -1 = unlabeled
    truth: np.ndarray  # (n,) int64, real class of every row
    centres: np.ndarray  # (k, d) float32, unit rows
    classes: tuple[str, ...]

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @property
    def k(self) -> int:
        return self.centres.shape[0]

    @property
    def unlabeled(self) -> np.ndarray:
        return self.y < 0


def make_blobs(n: int = 300, k: int = 3, d: int = 16, per_class: int = 5, noise: float = 0.15,
               seed: int = 0) -> Blobs:
    """Clusters around random unit centres; noise of norm ~noise·√d per row."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    truth = np.repeat(np.arange(k), int(np.ceil(n / k)))[:n]
    rng.shuffle(truth)
    X = centres[truth] + noise * rng.normal(size=(n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.full(n, -1, dtype=np.int64)
    for c in range(k):
        y[rng.choice(np.flatnonzero(truth == c), per_class, replace=False)] = c
    classes = tuple(f"class_{c}" for c in range(k))
    return Blobs(X.astype(np.float32), y, truth.astype(np.int64), centres.astype(np.float32), classes)


@pytest.fixture(scope="session")
def _blobs_session() -> Blobs:
    return make_blobs()


@pytest.fixture
def blobs(_blobs_session) -> Blobs:
    """Fresh copies per test so a test that mutates arrays cannot leak into another."""
    b = _blobs_session
    return Blobs(b.X.copy(), b.y.copy(), b.truth.copy(), b.centres.copy(), b.classes)


@pytest.fixture
def class_embeddings(blobs) -> np.ndarray:
    """The true cluster centres, normalised: (k, d)."""
    return blobs.centres.copy()
