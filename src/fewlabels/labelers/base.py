"""The one interface every labeling method implements.

Notation used across fewlabels: n items, d embedding dimensions, k classes.

* ``X`` : (n, d) float embeddings (rows L2-normalised by the methods that need it).
* ``y`` : (n,) int class codes ``0..k-1``, ``-1`` for unlabeled.
* ``P`` : (n, k) probabilities, rows sum to 1.

``fit(X, y)`` learns from the whole pool (labeled and unlabeled rows) and returns self;
``predict_proba(X)`` returns P; ``predict(X)`` returns ``classes_[argmax P]``. Learned
state ends in ``_``. ``__init__`` only stores parameters.

Transductive methods (label spreading, clustering) compute ``transduction_`` for the pool
during ``fit``; ``predict_proba`` on the same pool returns it, and on new rows extends it
by a similarity-weighted vote of the nearest pool items.
"""

from __future__ import annotations

import inspect
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from ..errors import NotFittedError
from .. import ann
from ..ann import needs_approximate, shared_index
from ..graph import EXACT_LIMIT, normalize_rows
from ..pool import Pool
from ..validation import check_X, check_y, infer_n_classes


#: rows per block when a row-wise labeler predicts many rows (about 200 MB of float64 at d = 384)
PREDICT_BLOCK = 65_536


def softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable; -inf entries get probability 0."""
    Z = np.asarray(Z, dtype=np.float64)
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


class BaseLabeler:
    """Base class: validation, ``classes_``, ``predict``.

    Subclasses implement ``_fit(X, y)`` (X validated float32, y validated int) and
    ``_predict_proba(X)``.
    """

    #: registry name
    name: ClassVar[str] = ""
    #: the :class:`~fewlabels.pool.Pool` fields the constructor takes (same names), e.g.
    #: ("class_embeddings", "graph", "n_classes", "random_state"): :meth:`from_pool` hands it these
    reads: ClassVar[tuple[str, ...]] = ("n_classes", "random_state")
    #: the pool fields the method cannot run without, e.g. ("class_embeddings",); a label
    #: model needs "votes", its X (see ``input_kind``)
    needs: ClassVar[tuple[str, ...]] = ()
    #: smallest number of labeled rows the method can learn from
    min_labels: ClassVar[int] = 1
    #: True when the result is defined on the fitted pool (see TransductiveLabeler)
    transductive: ClassVar[bool] = False
    #: "embeddings" (X is (n, d) vectors) or "votes" (X is a label matrix L, -1 = abstain)
    input_kind: ClassVar[str] = "embeddings"
    #: True when each row's prediction depends on that row alone: ``predict_proba`` then
    #: runs in blocks of :data:`PREDICT_BLOCK` rows, so its float64 temporaries stay
    #: O(block · d) however many rows come in
    rowwise: ClassVar[bool] = False

    n_classes: int | None = None

    @classmethod
    def from_pool(cls, pool: Pool, **params):
        """The method with what it reads from ``pool`` (its ``reads``) and ``params``. O(1)."""
        return cls(**{key: getattr(pool, key) for key in cls.reads}, **params)

    def fit(self, X, y):
        X = check_X(X)
        y = check_y(y, X.shape[0], self.n_classes)
        self.n_classes_ = infer_n_classes(y, self.n_classes)
        self.classes_ = np.arange(self.n_classes_)
        self.n_features_in_ = X.shape[1]
        if self.transductive:
            self._X_fit = X
        self._fit(X, y)
        self.fitted_ = True
        return self

    def _check_fitted(self):
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X, y) first")

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of shape (n_samples, n_classes); rows sum to 1."""
        self._check_fitted()
        X = check_X(X)
        if X.shape[1] != self.n_features_in_:
            from ..errors import InputError

            raise InputError(
                f"X has {X.shape[1]} features but {type(self).__name__} was fitted with {self.n_features_in_}"
            )
        if not self.rowwise or X.shape[0] <= PREDICT_BLOCK:
            return np.asarray(self._predict_proba(X), dtype=np.float64)
        P = np.empty((X.shape[0], self.n_classes_), dtype=np.float64)
        for s in range(0, X.shape[0], PREDICT_BLOCK):
            P[s:s + PREDICT_BLOCK] = self._predict_proba(X[s:s + PREDICT_BLOCK])
        return P

    def predict(self, X) -> np.ndarray:
        """Class codes of shape (n_samples,): ``classes_[argmax predict_proba]``."""
        P = self.predict_proba(X)
        return self.classes_[np.argmax(P, axis=1)]

    # -- scikit-learn's parameter contract (sklearn.base.BaseEstimator) -----------------
    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The constructor's parameter names, sorted (as scikit-learn reads them)."""
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        return sorted(p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's parameters as stored, ``{name: value}``; with ``deep``, also
        ``name__sub`` for every parameter that is itself an estimator. Same contract as
        :meth:`sklearn.base.BaseEstimator.get_params`, so ``sklearn.base.clone``, ``Pipeline``
        and ``GridSearchCV`` work. O(number of parameters)."""
        out = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            out[key] = value
        return out

    def set_params(self, **params):
        """Set constructor parameters (``name`` or ``name__sub`` for a nested estimator);
        returns self. An unknown name is a :class:`~fewlabels.errors.ConfigError` (a ValueError),
        as in :meth:`sklearn.base.BaseEstimator.set_params`."""
        from ..errors import ConfigError

        valid = self.get_params(deep=True)
        nested: dict[str, dict] = {}
        for key, value in params.items():
            key, delim, sub = key.partition("__")
            if key not in valid:
                raise ConfigError(f"invalid parameter {key!r} for {type(self).__name__}; valid parameters: "
                                  f"{', '.join(self._get_param_names())}")
            if delim:
                nested.setdefault(key, {})[sub] = value
            else:
                setattr(self, key, value)
                valid[key] = value
        for key, sub_params in nested.items():
            valid[key].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items() if not hasattr(v, "shape"))
        return f"{type(self).__name__}({params})"

    # -- to implement -------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class TransductiveLabeler(BaseLabeler):
    """A labeler whose result is defined on the pool it was fitted on.

    Subclasses set ``self.transduction_`` (n, k) in ``_fit``. ``predict_proba`` on the
    fitted pool returns it; on other rows it averages the pool rows of the
    ``extend_neighbors`` nearest pool items, weighted by cosine similarity.
    Extension costs O(m · n · d) for m new rows with exact search, and
    O(m · nprobe · √n · d) with the IVF index used when m · n is large (:mod:`fewlabels.ann`,
    its measured recall in :func:`fewlabels.ann.index_info`); the members of an ensemble share one index
    and one search per block of new rows.
    """

    transductive = True
    extend_neighbors: int = 10
    #: recall@k the approximate index is tuned to for the extension. Lower than the graph's
    #: 0.9: the new row's label is a similarity-weighted vote, and at recall 0.8 two of its ten
    #: voters are the next-nearest rows instead of the nearest. On real MiniLM vectors (a
    #: 20,000-row core) 0.9 took nprobe 16-32 and 0.8 takes 8: 2-3x less search time.
    extend_recall: float = 0.8

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        if X.shape == self._X_fit.shape and (X is self._X_fit or np.array_equal(X, self._X_fit)):
            return self.transduction_.copy()
        n_fit = self._X_fit.shape[0]
        k = min(self.extend_neighbors, n_fit)
        approx = needs_approximate(n_fit, X.shape[0], EXACT_LIMIT, max_pairs=ann.EXTEND_EXACT_PAIRS)
        index = shared_index(self._X_fit, exact=not approx, target_recall=self.extend_recall)
        sims, idx = index.search_cached(X, k, normalize_rows)
        w = np.clip(sims, 1e-6, None) * (idx >= 0)
        # P = Σ_j w_ij · transduction_[idx_ij] as a sparse (m × n_fit) product: no (m, k, c) gather
        m = X.shape[0]
        A = sp.csr_matrix((w.ravel().astype(np.float64), np.maximum(idx, 0).ravel(), np.arange(0, m * k + 1, k)),
                          shape=(m, n_fit))
        P = np.asarray(A @ self.transduction_)
        total = P.sum(axis=1, keepdims=True)
        return np.where(total > 0, P / np.maximum(total, 1e-300), 1.0 / P.shape[1])


def labeled_mask(y: np.ndarray) -> np.ndarray:
    return y >= 0


def class_means(X: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean embedding of each class's labeled rows (zeros where a class has none) and counts."""
    m = y >= 0
    counts = np.bincount(y[m], minlength=n_classes).astype(np.float64)
    sums = np.zeros((n_classes, X.shape[1]), dtype=np.float64)
    np.add.at(sums, y[m], X[m])
    means = sums / np.maximum(counts, 1)[:, None]
    return means.astype(np.float32), counts
