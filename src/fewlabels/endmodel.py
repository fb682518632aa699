"""The end model: a classifier on embeddings trained on the pseudo-labels.

A multinomial logistic regression fitted on every row's label, each row weighted by its
calibrated confidence (given labels weigh 1). It generalises to new items without the
pool. Saved as ``model.npz`` (weights) + ``model.json`` (classes, encoder, metadata):
no pickle, so loading a model never runs code.

Cost: O(min(n, max_rows) · d · k) per L-BFGS iteration to fit (above ``max_rows``, 100,000
by default, a random sample of the rows is fitted), O(n · d · k) to predict, in blocks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from .errors import InputError, NotFittedError
from .labelers.base import PREDICT_BLOCK, softmax
from .validation import check_X

FORMAT_VERSION = 1


class EndModel:
    """Weighted logistic regression on (X, pseudo-labels).

    Parameters
    ----------
    C : float, default=10.0
    max_iter : int, default=300
    """

    def __init__(self, C: float = 10.0, max_iter: int = 300, max_rows: int | None = 100_000,
                 random_state: int | None = 0):
        self.C = C
        self.max_iter = max_iter
        self.max_rows = max_rows
        self.random_state = random_state

    def fit(self, X, labels, sample_weight=None, classes=None):
        """``labels``: int codes 0..k-1 for every row; ``classes``: k class names."""
        X = check_X(X)
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (X.shape[0],):
            raise InputError(f"labels must have shape ({X.shape[0]},) to match X; got {labels.shape}")
        k = len(classes) if classes is not None else int(labels.max()) + 1
        self.classes_ = np.asarray(classes if classes is not None else np.arange(k), dtype=object)
        present = np.unique(labels)
        if present.min() < 0 or present.max() >= k:
            raise InputError(f"labels must be codes 0..{k - 1}; got {present.min()}..{present.max()}")
        self.coef_ = np.zeros((k, X.shape[1]), dtype=np.float32)
        self.intercept_ = np.full(k, -np.inf, dtype=np.float64)
        if len(present) == 1:
            self.intercept_[present[0]] = 0.0
        else:
            rows = self._fit_rows(labels)
            lr = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
            lr.fit(X[rows], labels[rows], sample_weight=None if sample_weight is None else
                   np.asarray(sample_weight)[rows])
            coef, intercept = lr.coef_, lr.intercept_
            if len(present) == 2:  # binary: sklearn returns one row
                coef = np.vstack([-coef[0] / 2, coef[0] / 2])
                intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
            self.coef_[present] = coef
            self.intercept_[present] = intercept
        self.n_features_in_ = X.shape[1]
        return self

    def _fit_rows(self, labels: np.ndarray):
        """Every row, or above ``max_rows`` a random sample of ``max_rows`` rows that keeps
        at least one row of each class present (a linear model with d · k weights is
        estimated to well under the label noise from 10^5 rows; L-BFGS on 10^6 rows would
        cost ten times as much and hold a float64 copy of X)."""
        n = len(labels)
        if self.max_rows is None or n <= self.max_rows:
            return slice(None)
        rng = np.random.default_rng(self.random_state)
        pick = np.zeros(n, dtype=bool)
        pick[rng.choice(n, self.max_rows, replace=False)] = True
        _, first = np.unique(labels, return_index=True)
        pick[first] = True
        return np.flatnonzero(pick)

    def predict_proba(self, X) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise NotFittedError("EndModel is not fitted; call fit or EndModel.load(dir)")
        X = check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"vectors have dimension {X.shape[1]} but the model expects {self.n_features_in_}; "
                "use the encoder the model was trained with"
            )
        W = self.coef_.T.astype(np.float64)
        P = np.empty((X.shape[0], len(self.intercept_)), dtype=np.float64)
        for s in range(0, X.shape[0], PREDICT_BLOCK):  # float64 temporaries of one block at a time
            P[s:s + PREDICT_BLOCK] = softmax(X[s:s + PREDICT_BLOCK].astype(np.float64) @ W + self.intercept_)
        return P

    def predict(self, X) -> np.ndarray:
        P = self.predict_proba(X)
        return self.classes_[P.argmax(axis=1)]

    def save(self, directory, metadata: dict | None = None) -> Path:
        """Write ``model.npz`` and ``model.json`` into ``directory`` atomically.

        ``directory`` may be new, empty, or a model folder saved before (replaced as a whole);
        a file or a folder holding anything else is refused (see
        :func:`fewlabels.outputs.check_paths`)."""
        from .outputs import Outputs, check_paths

        if not hasattr(self, "coef_"):
            raise NotFittedError("EndModel is not fitted; call fit before save")
        directory = Path(directory)
        check_paths({}, {"--save-model": directory})
        with Outputs() as outs:
            outs.folder(directory, "--save-model", lambda tmp: self.save_files(tmp, metadata))
        return directory

    def save_files(self, folder, metadata: dict | None = None) -> None:
        """Write ``model.npz`` and ``model.json`` into the existing folder ``folder`` (not
        atomic: :meth:`save` and the pipeline stage a hidden folder and rename it). More
        files may sit beside them in later versions; :meth:`load` reads only these two."""
        folder = Path(folder)
        np.savez(folder / "model.npz", coef=self.coef_, intercept=self.intercept_)
        meta = {"format_version": FORMAT_VERSION, "kind": "fewlabels.EndModel",
                "classes": [str(c) for c in self.classes_], "n_features": int(self.n_features_in_),
                "params": {"C": self.C, "max_iter": self.max_iter}, **(metadata or {})}
        if getattr(self, "encoder_dir_", None) is not None:
            # trained on a fine-tuned encoder's vectors: the encoder travels with it (safetensors + JSON)
            from .embed.saved import copy_encoder

            meta.update(copy_encoder(self.encoder_dir_, folder))
        (folder / "model.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory) -> tuple["EndModel", dict]:
        """Return (model, metadata) from a folder written by :meth:`save`.

        Both files are validated: a one-line :class:`InputError` names the file and the fault
        (unreadable, wrong kind or version, classes or shapes that do not match, non-finite
        weights)."""
        directory = Path(directory)
        meta_path, arr_path = directory / "model.json", directory / "model.npz"
        if not meta_path.is_file() or not arr_path.is_file():
            raise InputError(f"{directory}: not a fewlabels model folder (needs model.json and model.npz); "
                             "make one with `fewlabels label ... --save-model DIR`")
        again = "; save the model again with `fewlabels label ... --save-model DIR`"

        def bad(path, fault):
            return InputError(f"{path}: {fault}{again}")

        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise bad(meta_path, f"unreadable JSON ({str(exc).splitlines()[0] if str(exc) else exc})") from exc
        if not isinstance(meta, dict):
            raise bad(meta_path, f"holds a JSON {type(meta).__name__}, not an object")
        if meta.get("kind") != "fewlabels.EndModel":
            raise bad(meta_path, f"not a fewlabels end model (kind {meta.get('kind')!r})")
        version = meta.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
            raise InputError(f"{meta_path}: format_version {version!r} is not one this fewlabels reads "
                             f"(1..{FORMAT_VERSION}); use the fewlabels version that saved it, or save it again")
        classes = meta.get("classes")
        if (not isinstance(classes, list) or len(classes) < 1 or not all(isinstance(c, str) for c in classes)
                or len(set(classes)) != len(classes)):
            raise bad(meta_path, "'classes' must be a list of distinct class names")
        d = meta.get("n_features")
        if not isinstance(d, int) or isinstance(d, bool) or d < 1:
            raise bad(meta_path, f"'n_features' must be a positive integer; got {d!r}")
        params = meta.get("params", {})
        if not isinstance(params, dict) or not set(params) <= {"C", "max_iter"} or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in params.values()):
            raise bad(meta_path, "'params' must be an object with numeric C and max_iter")
        try:
            with np.load(arr_path, allow_pickle=False) as z:
                missing = [k for k in ("coef", "intercept") if k not in z.files]
                if missing:
                    raise bad(arr_path, f"has no array {missing[0]!r}")
                coef, intercept = np.asarray(z["coef"]), np.asarray(z["intercept"])
        except InputError:
            raise
        except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, EOFError: a damaged file
            raise bad(arr_path, f"unreadable .npz file ({type(exc).__name__}: damaged, or not saved by fewlabels)") from exc
        k = len(classes)
        if coef.dtype.kind != "f" or coef.shape != (k, d):
            raise bad(arr_path, f"weights 'coef' have shape {coef.shape} and dtype {coef.dtype}, but model.json "
                                f"lists {k} classes of {d} features: expected float ({k}, {d})")
        if intercept.dtype.kind != "f" or intercept.shape != (k,):
            raise bad(arr_path, f"'intercept' has shape {intercept.shape} and dtype {intercept.dtype}; expected "
                                f"float ({k},), one per class")
        if not np.isfinite(coef).all():
            raise bad(arr_path, "weights 'coef' hold NaN or infinite values")
        # -inf marks a class the model never predicts (no row had it); NaN or +inf is damage
        if np.isnan(intercept).any() or np.isposinf(intercept).any() or not np.isfinite(intercept).any():
            raise bad(arr_path, "'intercept' holds NaN or +inf, or no finite value")
        model = cls(**params)
        model.coef_, model.intercept_ = coef, intercept
        model.classes_ = np.asarray(classes, dtype=object)
        model.n_features_in_ = d
        return model, meta
