"""Zero-shot labels from similarity to class names and descriptions.

Seed: "Learning Transferable Visual Models From Natural Language Supervision" (CLIP):
a class is represented by the embedding of text about it, averaged over several prompt
templates, and items are scored by cosine similarity to each class.

Cost: O(n · k · d) to predict; nothing to learn. Needs ``class_embeddings`` (k, d) made
with the same encoder as X (the pipeline builds them, see :func:`class_prompts`).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..graph import normalize_rows
from .base import BaseLabeler, softmax

TEMPLATES = (
    "{name}",
    "This text is about {name}.",
    "An example of {name}.",
    "A message in the category {name}.",
)


def class_prompts(name: str, description: str | None = None) -> list[str]:
    """Prompt texts for one class; their embeddings are averaged into the class vector."""
    readable = name.replace("_", " ").replace("/", " or ").strip()
    texts = [t.format(name=readable) for t in TEMPLATES]
    if description:
        texts.append(f"{readable}: {description}")
        texts.append(description)
    return texts


class ZeroShotLabeler(BaseLabeler):
    """Cosine similarity to class-text embeddings, softmax with ``scale``.

    Ignores the given labels (use ``prototype`` to combine both).

    Parameters
    ----------
    class_embeddings : array of shape (k, d)
    scale : float, default=20.0
        Logit scale applied to cosine similarities (a temperature of 1/scale).
    """

    name = "zeroshot"
    reads = ("class_embeddings", "n_classes", "random_state")
    rowwise = True
    needs = ("class_embeddings",)
    min_labels = 0

    def __init__(self, class_embeddings=None, scale: float = 20.0, n_classes: int | None = None,
                 random_state: int | None = 0):
        self.class_embeddings = class_embeddings
        self.scale = scale
        self.n_classes = n_classes
        self.random_state = random_state

    def _fit(self, X, y):
        if self.class_embeddings is None:
            raise ConfigError("zeroshot needs class_embeddings: the encoder must embed the class names")
        C = normalize_rows(np.asarray(self.class_embeddings, dtype=np.float32))
        if C.shape != (self.n_classes_, X.shape[1]):
            raise ConfigError(
                f"class_embeddings has shape {C.shape}; expected ({self.n_classes_}, {X.shape[1]}): "
                "one row per class, made by the same encoder as the item vectors"
            )
        self.class_vectors_ = C

    def _predict_proba(self, X):
        return softmax(self.scale * normalize_rows(X) @ self.class_vectors_.T)
