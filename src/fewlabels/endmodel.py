"""The end model: a classifier on embeddings trained on the pseudo-labels.

A multinomial logistic regression fitted on every row's label, each row weighted by its
calibrated confidence (given labels weigh 1). It generalises to new items without the
pool. Saved as ``model.npz`` (weights) + ``model.json`` (classes, encoder, metadata):
no pickle, so loading a model never runs code.

Cost: O(n · d · k) per L-BFGS iteration to fit, O(n · d · k) to predict.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from .errors import InputError, NotFittedError
from .labelers.base import softmax
from .validation import check_X

FORMAT_VERSION = 1


class EndModel:
    """Weighted logistic regression on (X, pseudo-labels).

    Parameters
    ----------
    C : float, default=10.0
    max_iter : int, default=300
    """

    def __init__(self, C: float = 10.0, max_iter: int = 300, random_state: int | None = 0):
        self.C = C
        self.max_iter = max_iter
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
            lr = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
            lr.fit(X, labels, sample_weight=sample_weight)
            coef, intercept = lr.coef_, lr.intercept_
            if len(present) == 2:  # binary: sklearn returns one row
                coef = np.vstack([-coef[0] / 2, coef[0] / 2])
                intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
            self.coef_[present] = coef
            self.intercept_[present] = intercept
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise NotFittedError("EndModel is not fitted; call fit or EndModel.load(dir)")
        X = check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise InputError(
                f"vectors have dimension {X.shape[1]} but the model expects {self.n_features_in_}; "
                "use the encoder the model was trained with"
            )
        return softmax(X.astype(np.float64) @ self.coef_.T.astype(np.float64) + self.intercept_)

    def predict(self, X) -> np.ndarray:
        P = self.predict_proba(X)
        return self.classes_[P.argmax(axis=1)]

    def save(self, directory, metadata: dict | None = None) -> Path:
        """Write ``model.npz`` and ``model.json`` into ``directory`` atomically."""
        if not hasattr(self, "coef_"):
            raise NotFittedError("EndModel is not fitted; call fit before save")
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)
        try:
            np.savez(tmp / "model.npz", coef=self.coef_, intercept=self.intercept_)
            meta = {"format_version": FORMAT_VERSION, "kind": "fewlabels.EndModel",
                    "classes": [str(c) for c in self.classes_], "n_features": int(self.n_features_in_),
                    "params": {"C": self.C, "max_iter": self.max_iter}, **(metadata or {})}
            if getattr(self, "encoder_dir_", None) is not None:
                # trained on a fine-tuned encoder's vectors: the encoder travels with it (safetensors + JSON)
                from .finetuned import copy_encoder

                meta.update(copy_encoder(self.encoder_dir_, tmp))
            (tmp / "model.json").write_text(json.dumps(meta, indent=2))
            if directory.exists():
                old = directory.with_name(f".{directory.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(directory, old)
                os.replace(tmp, directory)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return directory

    @classmethod
    def load(cls, directory) -> tuple["EndModel", dict]:
        """Return (model, metadata) from a folder written by :meth:`save`."""
        directory = Path(directory)
        meta_path, arr_path = directory / "model.json", directory / "model.npz"
        if not meta_path.is_file() or not arr_path.is_file():
            raise InputError(f"{directory}: not a fewlabels model folder (needs model.json and model.npz); "
                             "make one with `fewlabels label ... --save-model DIR`")
        try:
            meta = json.loads(meta_path.read_text())
            with np.load(arr_path, allow_pickle=False) as z:
                coef, intercept = z["coef"], z["intercept"]
        except (ValueError, KeyError, OSError) as exc:
            raise InputError(f"{directory}: model files are unreadable ({exc}); save the model again") from exc
        if meta.get("kind") != "fewlabels.EndModel":
            raise InputError(f"{meta_path}: not a fewlabels end model")
        model = cls(**meta.get("params", {}))
        model.coef_, model.intercept_ = coef, intercept
        model.classes_ = np.asarray(meta["classes"], dtype=object)
        model.n_features_in_ = int(meta["n_features"])
        return model, meta
