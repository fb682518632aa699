"""``FewLabelsClassifier``: fewlabels as a scikit-learn estimator.

It fits on texts (embedded with the packaged encoder, or ``encoder``) or on vectors, with
``y`` holding -1 or None for unlabeled rows, as :mod:`sklearn.semi_supervised` does. ``fit``
runs :func:`fewlabels.pipeline.label_arrays` (methods compared by cross-validation on the
given labels, calibrated, an accuracy estimate) on the whole pool; ``predict`` applies the
end model (a weighted logistic regression on the pool's labels) to new rows.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .errors import InputError
from .pool_core import CORE_SIZE

#: scikit-learn checks (``sklearn.utils.estimator_checks``) that cannot apply, and why; pass
#: it as ``expected_failed_checks`` to ``check_estimator`` / ``parametrize_with_checks``
EXPECTED_FAILED_CHECKS = {
    "check_classifiers_classes": (
        "it fits on the labels [-1, 1]; -1 marks an unlabeled row here, as in sklearn.semi_supervised (which "
        "scikit-learn exempts from this case by name), so the class -1 cannot be learned"),
}


def _texts(X):
    """X as a list of str when it holds texts (a 1-D sequence of str), else None."""
    if isinstance(X, str):
        raise InputError("X is one string; give a list of texts (one per row) or an array of vectors")
    dtype = getattr(X, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "O") in "biufc":
        return None  # a numeric array: vectors
    if hasattr(X, "to_numpy") and getattr(X, "ndim", 2) == 1:  # a pandas Series
        X = X.to_numpy()
    if not isinstance(X, (list, tuple, np.ndarray)):
        return None
    arr = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
    if arr.ndim != 1 or not len(arr):
        return None
    is_text = [isinstance(v, str) for v in arr]
    if not any(is_text):
        return None
    if not all(is_text):
        i = is_text.index(False)
        raise InputError(f"X, row {i}: {arr[i]!r} is not a text; give one text per row (no None/NaN) or an array "
                         "of vectors")
    return [str(v) for v in arr]


class FewLabelsClassifier(ClassifierMixin, BaseEstimator):
    """Label a pool from a few labels; predict new rows. A scikit-learn estimator.

    Parameters
    ----------
    method : str, default="auto"
        "auto" (chosen by cross-validation on the given labels) or a name from
        ``fewlabels methods``.
    candidates : tuple of str, optional
        The methods "auto" compares (default: :data:`fewlabels.pipeline.AUTO_CANDIDATES`).
    n_splits : int, default=5
        Cross-validation folds over the given labels.
    n_neighbors : int, default=10
        Neighbours of the k-NN graph of the graph-based methods.
    random_state : int or None, default=0
    classes : array-like, optional
        The class values (default: those in ``y``). With texts, classes with no label can
        still be found from their names (zero-shot).
    encoder : str or Path, optional
        Sentence-transformers folder for texts (default: the packaged all-MiniLM-L6-v2).
        Unused when X is vectors.
    finetune : {"auto", "off", "on", "always"}, default="auto"
        With texts: the fine-tuned encoder as one more candidate, as ``fewlabels label
        --finetune`` (see :mod:`fewlabels.finetuned`). Unused with vectors.
    time_budget : float, default=300
        Seconds fine-tuning may take in "auto".
    cache : str or Path, optional
        Embedding cache (SQLite) for texts; default: none (texts are embedded in memory).
    core_size : int or None, default=20,000
        See :func:`fewlabels.pipeline.label_arrays`.

    Attributes
    ----------
    classes_ : (k,) the class values, sorted (or as given in ``classes``)
    transduction_ : (n,) the label of every training row, as class values (given labels kept)
    label_distributions_ : (n, k) calibrated probabilities of the training rows
    estimated_accuracy_ : float or None
        Estimated accuracy of ``transduction_`` on the rows without a given label (the
        report's ``estimated_accuracy``; its interval and method are in ``report_``).
    method_ : the method chosen
    report_ : dict, the JSON-ready report (candidates, calibration, class counts, warnings)
    result_ : the :class:`~fewlabels.pipeline.LabelResult`
    n_features_in_ : int, the vector dimension (only when fitted on vectors)
    feature_names_in_ : column names, when fitted on a DataFrame of vectors

    Notes
    -----
    ``predict``/``predict_proba`` use the end model, a logistic regression fitted on every
    training row's label weighted by its confidence: on the training rows they may differ
    from ``transduction_``, which is the chosen method's own output. ``score`` is the
    accuracy on the rows of ``y`` that are labeled (-1/None rows are left out), so
    ``GridSearchCV`` works with partly labeled ``y``.

    It passes ``sklearn.utils.estimator_checks.check_estimator`` except the checks in
    :data:`EXPECTED_FAILED_CHECKS` (``check_classifiers_classes``: its labels [-1, 1] use
    -1, the unlabeled marker here, as a class).

    Cost: ``fit`` is :func:`~fewlabels.pipeline.label_arrays`'s cost (candidates x folds
    fits on n rows; with texts, plus embedding O(n · L), the bulk on a first run);
    ``predict_proba`` is O(m · d · k) for m rows (plus embedding m texts).
    """

    def __init__(self, method="auto", *, candidates=None, n_splits=5, n_neighbors=10, random_state=0, classes=None,
                 encoder=None, finetune="auto", time_budget=300.0, cache=None, core_size=CORE_SIZE):
        self.method = method
        self.candidates = candidates
        self.n_splits = n_splits
        self.n_neighbors = n_neighbors
        self.random_state = random_state
        self.classes = classes
        self.encoder = encoder
        self.finetune = finetune
        self.time_budget = time_budget
        self.cache = cache
        self.core_size = core_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # 1-D texts as well as 2-D vectors
        return tags

    # -- fit ----------------------------------------------------------------------------
    def fit(self, X, y):
        """Label every row of X from the labeled rows of y; fit the end model.

        Parameters
        ----------
        X : (n,) texts, or (n, d) vectors
        y : (n,) class values (str or int), -1 or None where unlabeled

        Returns
        -------
        self
        """
        from .options import LabelOptions
        from .pipeline import label_arrays
        from .pool import Pool

        texts = _texts(X)
        if texts is None:
            V = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1)
            encoder, cache = None, None
        else:
            for attr in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(attr, None)
            encoder, cache = self._encoder(None), self._cache()
            V = self._embed(texts, encoder, cache)
        y_codes, classes = self._encode_y(y, V.shape[0])
        names = [str(c) for c in classes]
        C = None
        if encoder is not None:
            from .pipeline import embed_classes

            C = embed_classes(names, None, encoder, cache)
        options = LabelOptions.of(method=self.method, candidates=self.candidates, n_splits=self.n_splits,
                                  n_neighbors=self.n_neighbors, random_state=self.random_state, core_size=self.core_size)
        result = label_arrays(Pool(X=V, y=y_codes, classes=names, class_embeddings=C), options)
        self.encoder_dir_ = None
        if texts is not None and self.finetune != "off":
            result = self._finetune(result, V, y_codes, names, texts, C, encoder, cache)
        self.classes_ = classes
        self.transduction_ = classes[result.labels]
        self.label_distributions_ = result.proba
        est = result.report.get("estimated_accuracy")
        self.estimated_accuracy_ = None if not est else float(est["value"])
        self.method_ = result.method
        self.report_ = result.report
        self.result_ = result
        self.end_model_ = result.end_model
        self.fitted_on_texts_ = texts is not None
        return self

    def _finetune(self, result, V, y_codes, names, texts, C, encoder, cache):
        from .classes import ClassSpec
        from .finetuned import maybe_finetune

        result = maybe_finetune(result, V, y_codes, ClassSpec(names, {}), texts, class_embeddings=C,
                                mode=self.finetune, time_budget=self.time_budget, encoder=encoder, cache=cache,
                                method=self.method, random_state=self.random_state)
        self.encoder_dir_ = getattr(result.end_model, "encoder_dir_", None)
        return result

    def _encode_y(self, y, n: int):
        """(int codes with -1 for unlabeled, classes_) from y's values."""
        y = column_or_1d(np.asarray(y, dtype=object) if isinstance(y, (list, tuple)) else y, warn=True)
        if y.shape[0] != n:
            raise InputError(f"y has {y.shape[0]} values for {n} rows of X; give one label (or -1/None) per row")
        if y.dtype.kind == "f":
            if np.isnan(y).any():
                raise InputError("Input y contains NaN. Mark unlabeled rows with -1 or None")
            if np.isinf(y).any():
                raise InputError("Input y contains infinity or a value too large for dtype('float64').")
        unlabeled = np.array([v is None or (isinstance(v, (int, float, np.integer, np.floating))
                                            and not isinstance(v, bool) and v == -1) for v in y], dtype=bool)
        given = y[~unlabeled]
        if self.classes is not None:
            classes = np.asarray(list(self.classes))
            unknown = sorted({str(v) for v in given} - {str(c) for c in classes})
            if unknown:
                raise InputError(f"y holds {unknown[:5]}, not in classes={list(classes)[:20]}; add the class or fix "
                                 "the label")
        else:
            if len(given):
                check_classification_targets(given.astype(given.dtype) if given.dtype != object
                                             else np.asarray(given.tolist()))
            classes = np.unique(np.asarray(given.tolist())) if len(given) else np.asarray([])
        if len(classes) < 2 and self.classes is None:
            raise InputError(f"y has labels of {len(classes)} class(es); need at least two classes (or name them "
                             "with classes=... and give texts, for zero-shot)")
        code = {str(c): i for i, c in enumerate(classes)}
        codes = np.full(n, -1, dtype=np.int64)
        codes[~unlabeled] = [code[str(v)] for v in given]
        return codes, classes

    # -- predict ------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """(m, k) probabilities of the classes ``classes_`` for new rows (the end model)."""
        check_is_fitted(self, "end_model_")
        if self.fitted_on_texts_:
            texts = _texts(X)
            if texts is None:
                raise InputError("this classifier was fitted on texts; give texts (one per row) to predict")
            V = self._embed(texts, self._encoder(self.encoder_dir_), self._cache())
        else:
            V = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self.end_model_.predict_proba(V)

    def predict(self, X) -> np.ndarray:
        """(m,) class values: ``classes_[argmax predict_proba(X)]``."""
        P = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(P, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy of ``predict(X)`` on the labeled rows of ``y`` (-1/None rows left out)."""
        from sklearn.metrics import accuracy_score

        y = np.asarray(y, dtype=object) if isinstance(y, (list, tuple)) else np.asarray(y)
        keep = np.array([not (v is None or (isinstance(v, (int, float, np.integer, np.floating))
                                             and not isinstance(v, bool) and v == -1)) for v in y.ravel()])
        if not keep.any():
            raise InputError("y has no labeled row to score against; give labels, not only -1/None")
        rows = np.flatnonzero(keep)
        Xk = [X[i] for i in rows] if isinstance(X, (list, tuple)) else (
            X.iloc[rows] if hasattr(X, "iloc") else X[rows])
        sw = None if sample_weight is None else np.asarray(sample_weight)[rows]
        return float(accuracy_score(y.ravel()[rows].tolist(), self.predict(Xk).tolist(), sample_weight=sw))

    # -- texts --------------------------------------------------------------------------
    def _encoder(self, path):
        from .pipeline import load_encoder

        return load_encoder(path if path is not None else self.encoder)

    def _cache(self):
        if self.cache is None:
            return None
        from .embed import EmbeddingCache

        return EmbeddingCache(self.cache)

    @staticmethod
    def _embed(texts, encoder, cache) -> np.ndarray:
        from .embed import embed_texts

        return embed_texts(texts, encoder, cache)
